//! `freeze_ends`: every Freeze a writer received is ended before the run is over
//! (rules S6, 7, 11).
//!
//! After Freeze a writer receives Thaw or Abort (rule S6). The service may also give up on
//! it: its freeze window ends (rule 7: the window's timer fires, the writer is failed at
//! freeze; the Abort that follows may still wait behind a handler that hangs, rule 30), or it
//! is marked `VSS_E_WRITER_NOT_RESPONDING` (rule 11: it is sent nothing more, so neither Thaw
//! nor Abort comes). Any of these four ends the freeze. Judged when the run ends `Finished`
//! (every requester done, the service idle) or `QueueEmpty` (nothing left that could still end
//! it): a writer frozen then was forgotten. A run cut short by its time or step limit is not
//! judged here (a freeze open past its window is `freeze_window`'s finding).

use model::machine::Machine;
use model::time::Instant;
use model::vss::{Hresult, WriterEvent};

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{EndReason, Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "freeze_ends",
        description: "every frozen writer gets Thaw or Abort, times out or is given up on, by the end",
        rule: "S6, 7, 11",
    },
    sees: FactKind::set(&[
        FactKind::WriterEvent,
        FactKind::FreezeTimedOut,
        FactKind::StateChanged,
        FactKind::Ending,
    ]),
    build,
};

fn build(setup: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(FreezeEnds {
        frozen_at: vec![None; setup.machine.writers.len()],
    })
}

struct FreezeEnds {
    /// When each writer received the Freeze not ended yet.
    frozen_at: Vec<Option<Instant>>,
}

impl Oracle for FreezeEnds {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        match fact {
            Fact::WriterEvent { writer, event } => match event {
                WriterEvent::Freeze => self.frozen_at[writer.idx()] = Some(now),
                WriterEvent::Thaw | WriterEvent::Abort => self.frozen_at[writer.idx()] = None,
                _ => {}
            },
            Fact::FreezeTimedOut { writer } => self.frozen_at[writer.idx()] = None,
            Fact::StateChanged {
                writer,
                last_error: Hresult::WriterNotResponding,
                ..
            } => self.frozen_at[writer.idx()] = None,
            Fact::Ending {
                reason: EndReason::Finished | EndReason::QueueEmpty,
            } => {
                for (w, at) in self.frozen_at.iter().enumerate() {
                    if let Some(at) = at {
                        out.push(found(
                            now,
                            format!(
                                "{} received Freeze at {at} and the run ended with no Thaw, Abort or timeout",
                                machine.writers[w].name
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{W, judge};
    use crate::fact::{EndReason, Fact};
    use model::vss::{Hresult, WriterEvent, WriterState};

    const NAME: &str = "freeze_ends";

    fn event(event: WriterEvent) -> Fact {
        Fact::WriterEvent { writer: W, event }
    }

    fn ending(reason: EndReason) -> Fact {
        Fact::Ending { reason }
    }

    #[test]
    fn a_freeze_never_ended_is_reported() {
        let facts = vec![
            (0, event(WriterEvent::Freeze)),
            (5, ending(EndReason::Finished)),
        ];
        assert_eq!(judge(NAME, facts).len(), 1);
        let facts = vec![
            (0, event(WriterEvent::Freeze)),
            (5, ending(EndReason::QueueEmpty)),
        ];
        assert_eq!(judge(NAME, facts).len(), 1);
        // A second session's Freeze is a new one to end.
        let facts = vec![
            (0, event(WriterEvent::Freeze)),
            (1, event(WriterEvent::Thaw)),
            (2, event(WriterEvent::Freeze)),
            (5, ending(EndReason::Finished)),
        ];
        assert_eq!(judge(NAME, facts).len(), 1);
    }

    #[test]
    fn every_documented_end_of_a_freeze_and_a_cut_run_raise_nothing() {
        for end in [
            event(WriterEvent::Thaw),
            event(WriterEvent::Abort),
            Fact::FreezeTimedOut { writer: W },
            Fact::StateChanged {
                writer: W,
                event: WriterEvent::Abort,
                prev: WriterState::WaitingForThaw,
                next: WriterState::WaitingForThaw,
                last_error: Hresult::WriterNotResponding,
                rule: "11",
            },
        ] {
            let facts = vec![
                (0, event(WriterEvent::Freeze)),
                (1, end),
                (5, ending(EndReason::Finished)),
            ];
            let v = judge(NAME, facts);
            assert!(v.is_empty(), "{v:?}");
        }
        let cut = vec![
            (0, event(WriterEvent::Freeze)),
            (5, ending(EndReason::TimeLimit)),
        ];
        assert!(judge(NAME, cut).is_empty());
    }
}
