//! `settles`: the liveness half of a fault search (rule 31). A scenario that heals
//! (`[run] heal_at`) must have ended by `heal_at + settle_within`: every requester finished or
//! gone, the service idle (every set committed or aborted, no event or call outstanding). And
//! any run that ends `Finished` leaves no diff-area space in use on a volume with no shadow
//! copy left (rules 17, 18: the space belongs to the shadows).
//!
//! The other conditions of a settled machine have oracles of their own, judged at the same
//! end: every frozen writer thawed or given up on (`freeze_ends`), the creation lock free
//! (`creation_lock_freed`), the run ended by its requesters and not by a limit (`stalled`).

use model::ids::{RequesterId, VolumeId};
use model::machine::Machine;
use model::time::Instant;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{EndReason, Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "settles",
        description: "a healed machine has ended within settle_within of heal_at, and a finished \
                      run leaves no diff area in use without a shadow copy",
        rule: "31, 17",
    },
    sees: FactKind::set(&[FactKind::SettleDue, FactKind::Settled, FactKind::Ending]),
    build,
};

fn build(setup: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(Settles {
        heal: setup.heal,
        leaks: Vec::new(),
    })
}

struct Settles {
    /// `heal_at` and the instant the run must have settled by.
    heal: Option<(Instant, Instant)>,
    /// What the run's end found leaked (`Fact::Settled`).
    leaks: Vec<(VolumeId, u64)>,
}

fn requesters(list: &[RequesterId]) -> String {
    let names: Vec<String> = list.iter().map(|r| r.idx().to_string()).collect();
    names.join(", ")
}

impl Oracle for Settles {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        match fact {
            Fact::SettleDue {
                waiting,
                creation_lock,
                service_busy,
            } => {
                let mut open = Vec::new();
                if !waiting.is_empty() {
                    open.push(format!("requester {} still waiting", requesters(waiting)));
                }
                if let Some(r) = creation_lock {
                    open.push(format!("requester {} holds the creation lock", r.idx()));
                }
                if *service_busy {
                    open.push("the service still has a creation, event or call in progress".into());
                }
                if open.is_empty() {
                    open.push("the run had not ended".into());
                }
                let healed = self
                    .heal
                    .map(|(at, _)| format!(" (healed at {at})"))
                    .unwrap_or_default();
                out.push(found(
                    now,
                    format!(
                        "the machine had not settled by {now}{healed}: {}",
                        open.join("; ")
                    ),
                ));
            }
            Fact::Settled { diff_leaks, .. } => self.leaks.clone_from(diff_leaks),
            Fact::Ending {
                reason: EndReason::Finished,
            } => {
                for (v, bytes) in &self.leaks {
                    out.push(found(
                        now,
                        format!(
                            "volume {} has no shadow copy left and {bytes} bytes of diff area in \
                             use",
                            machine.volumes[v.idx()].name
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

    #[test]
    fn a_machine_still_busy_when_it_should_have_settled_is_caught() {
        let v = judge(
            "settles",
            vec![(
                90_000_000,
                Fact::SettleDue {
                    waiting: vec![RequesterId(1)],
                    creation_lock: Some(RequesterId(1)),
                    service_busy: true,
                },
            )],
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("requester 1 still waiting"), "{v:?}");
        assert!(v[0].detail.contains("creation lock"), "{v:?}");
    }

    #[test]
    fn diff_area_left_in_use_without_a_shadow_is_caught_at_a_finished_end() {
        let settled = |leaks: Vec<(VolumeId, u64)>| Fact::Settled {
            creation_lock: None,
            diff_leaks: leaks,
        };
        let end = |reason| Fact::Ending { reason };
        let v = judge(
            "settles",
            vec![
                (5, settled(vec![(VolumeId(0), 4096)])),
                (5, end(EndReason::Finished)),
            ],
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("4096 bytes"), "{v:?}");
        assert!(
            judge(
                "settles",
                vec![(5, settled(Vec::new())), (5, end(EndReason::Finished))]
            )
            .is_empty()
        );
    }
}
