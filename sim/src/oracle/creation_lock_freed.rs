//! `creation_lock_freed`: a run that finished leaves the machine's one creation lock free —
//! no requester still holds it from a StartSnapshotSet whose DoSnapshotSet never ended and
//! that it neither aborted nor released (rules 20, 27).
//!
//! A requester that keeps its object after a failure starves every other backup of the
//! machine with `VSS_E_SNAPSHOT_SET_IN_PROGRESS`. A run stopped on a limit is `stalled`'s to
//! judge.

use model::machine::Machine;
use model::time::Instant;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{EndReason, Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "creation_lock_freed",
        description: "a finished run leaves the creation lock free: no requester holds a set \
                      it never aborted or released",
        rule: "20, 27",
    },
    sees: FactKind::set(&[FactKind::Settled, FactKind::Ending]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(CreationLockFreed { held: None })
}

struct CreationLockFreed {
    /// Who held the lock when the run settled.
    held: Option<model::ids::RequesterId>,
}

impl Oracle for CreationLockFreed {
    fn observe(&mut self, _: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        match fact {
            Fact::Settled { creation_lock, .. } => self.held = *creation_lock,
            Fact::Ending {
                reason: EndReason::Finished,
            } => {
                if let Some(r) = self.held {
                    out.push(found(
                        now,
                        format!(
                            "requester {} still holds the creation lock: its set was never \
                             aborted or released",
                            r.idx()
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::judge;
    use super::*;
    use model::ids::RequesterId;

    fn end(lock: Option<RequesterId>, reason: EndReason) -> Vec<(u64, Fact)> {
        vec![
            (
                1,
                Fact::Settled {
                    creation_lock: lock,
                    diff_leaks: Vec::new(),
                },
            ),
            (1, Fact::Ending { reason }),
        ]
    }

    #[test]
    fn a_lock_held_at_the_end_of_a_finished_run_is_caught() {
        let v = judge(
            "creation_lock_freed",
            end(Some(RequesterId(0)), EndReason::Finished),
        );
        assert_eq!(v.len(), 1, "{v:?}");
    }

    #[test]
    fn a_free_lock_or_a_run_stopped_on_a_limit_is_not_judged() {
        assert!(judge("creation_lock_freed", end(None, EndReason::Finished)).is_empty());
        assert!(
            judge(
                "creation_lock_freed",
                end(Some(RequesterId(0)), EndReason::TimeLimit)
            )
            .is_empty()
        );
    }
}
