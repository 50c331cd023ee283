//! `freeze_window`: each writer is thawed within its freeze window (`dwTimeoutFreeze`) counted
//! from its own Freeze, or its freeze timeout fires at exactly the window plus 1 µs; no writer
//! stays frozen past its window (rules 7, 13b).

use model::machine::Machine;
use model::time::{Duration, Instant};
use model::vss::WriterEvent;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "freeze_window",
        description: "each writer is thawed within its freeze window or times out at its end",
        rule: "7",
    },
    sees: FactKind::set(&[
        FactKind::WriterEvent,
        FactKind::FreezeTimedOut,
        FactKind::Ending,
    ]),
    build,
};

fn build(setup: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(FreezeWindow {
        frozen_at: vec![None; setup.machine.writers.len()],
    })
}

struct FreezeWindow {
    /// When each writer received Freeze, until Thaw or Abort.
    frozen_at: Vec<Option<Instant>>,
}

/// A writer's name and freeze window.
fn window(machine: &Machine, w: usize) -> (&str, Duration) {
    let info = &machine.writers[w];
    (&info.name, info.freeze_timeout)
}

impl Oracle for FreezeWindow {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        match fact {
            Fact::WriterEvent { writer, event } => {
                let w = writer.idx();
                match event {
                    WriterEvent::Freeze => self.frozen_at[w] = Some(now),
                    WriterEvent::Thaw => {
                        if let Some(at) = self.frozen_at[w].take() {
                            let (name, limit) = window(machine, w);
                            let used = now - at;
                            if used > limit {
                                out.push(found(
                                    now,
                                    format!(
                                        "{name} was thawed {used} after Freeze, past its {limit} window"
                                    ),
                                ));
                            }
                        }
                    }
                    WriterEvent::Abort => self.frozen_at[w] = None,
                    _ => {}
                }
            }
            Fact::FreezeTimedOut { writer } => {
                // Judged on the timer's own firing, not on the state it leaves: a writer may
                // fail its Freeze with VSS_E_WRITERERROR_TIMEOUT itself, at any time.
                let w = writer.idx();
                let (name, limit) = window(machine, w);
                // Rule 13b: the timer fires exactly at limit + 1 µs.
                if let Some(at) = self.frozen_at[w].take()
                    && now != at.deadline_after(limit)
                {
                    out.push(found(
                        now,
                        format!(
                            "{name}'s freeze timeout fired {} after Freeze, not at {limit} + 1us",
                            now - at
                        ),
                    ));
                }
            }
            Fact::Ending { .. } => {
                for (w, at) in self.frozen_at.iter().enumerate() {
                    let (name, limit) = window(machine, w);
                    if let Some(at) = at
                        && now > at.deadline_after(limit)
                    {
                        out.push(found(
                            now,
                            format!("{name} stayed frozen past its {limit} window with no timeout"),
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

    const WINDOW: u64 = 60_000_000;

    fn event(event: WriterEvent) -> Fact {
        Fact::WriterEvent { writer: W, event }
    }

    #[test]
    fn a_thaw_past_the_window_is_reported_and_one_at_its_end_is_not() {
        let late = vec![
            (0, event(WriterEvent::Freeze)),
            (WINDOW + 1, event(WriterEvent::Thaw)),
        ];
        assert_eq!(judge("freeze_window", late).len(), 1);
        let edge = vec![
            (0, event(WriterEvent::Freeze)),
            (WINDOW, event(WriterEvent::Thaw)),
        ];
        assert!(judge("freeze_window", edge).is_empty());
    }

    #[test]
    fn a_timeout_off_its_instant_or_none_at_all_is_reported() {
        let timeout = Fact::FreezeTimedOut { writer: W };
        let early = vec![(0, event(WriterEvent::Freeze)), (10, timeout.clone())];
        assert_eq!(judge("freeze_window", early).len(), 1);
        let exact = vec![(0, event(WriterEvent::Freeze)), (WINDOW + 1, timeout)];
        assert!(judge("freeze_window", exact).is_empty());
        let ending = Fact::Ending {
            reason: EndReason::TimeLimit,
        };
        let stuck = vec![(0, event(WriterEvent::Freeze)), (WINDOW + 5, ending)];
        assert_eq!(judge("freeze_window", stuck).len(), 1);
    }

    #[test]
    fn a_writer_failing_its_freeze_with_the_timeout_code_is_no_timer_firing() {
        // The writer's own answer, 10 ms after Freeze, with a documented failure code: the
        // window's timer did not fire, and the writer is aborted at once.
        let failed = Fact::StateChanged {
            writer: W,
            event: WriterEvent::Freeze,
            prev: WriterState::WaitingForFreeze,
            next: WriterState::FailedAtFreeze,
            last_error: Hresult::WriterErrorTimeout,
            rule: "S6",
        };
        let facts = vec![
            (0, event(WriterEvent::Freeze)),
            (10_000, failed),
            (10_000, event(WriterEvent::Abort)),
            (
                WINDOW + 5,
                Fact::Ending {
                    reason: EndReason::Finished,
                },
            ),
        ];
        assert!(judge("freeze_window", facts).is_empty());
    }
}
