//! `shadows_after_release`: a requester's release removes its auto-release shadow copies and
//! nothing else (rules 27, S21); every other removal has a rule behind it (rules 14, 16, 17,
//! 18, 22).
//!
//! A requester's object is released by its `Release` call, by its process going away
//! (rule 27) or by its making a new object (`CreateVssBackupComponents` again); the sets
//! released are those it started so far (the new object starts new sets). Checked:
//!
//! - when the service answers a requester's `Release`, no shadow copy of a set that requester
//!   started with an auto-release context (rule S21: no `NO_AUTO_RELEASE` bit) is left, and
//!   none is created for such a set afterwards;
//! - a shadow removed *as released* is an auto-release one whose requester is releasing; a
//!   shadow kept across the release (`NO_AUTO_RELEASE`, "persistent" here) is removed only by
//!   its set failing or being aborted during creation (rule 14's clean-up, used by rules 16,
//!   25 and 27: status `aborted`, after that set's failed end phase), by the diff area
//!   (rule 17), by recycling a client-accessible shadow (rule 18), or by the requester's own
//!   `AbortBackup` (rule 22: status `deleted`, the explicit delete);
//! - at the end of the run every such kept shadow that no fact removed is still in the store.

use std::collections::BTreeSet;

use model::api::{ApiCall, ApiCallKind, ShadowStatus};
use model::ids::{RequesterId, SnapshotId, SnapshotSetId};
use model::machine::Machine;
use model::time::Instant;
use model::vss::SnapshotContext;

use super::{Entry, Oracle, OracleInfo, SetOwners, Setup, Violation, found};
use crate::fact::{DeletedBy, Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "shadows_after_release",
        description: "a release removes its auto-release shadows and only those; other removals have a rule",
        rule: "27, S21, 14, 17, 18, 22",
    },
    sees: FactKind::set(SetOwners::SEES)
        | FactKind::set(&[
            FactKind::GoAway,
            FactKind::NewObject,
            FactKind::Phase,
            FactKind::ShadowCreated,
            FactKind::ShadowDeleted,
            FactKind::ShadowsVerified,
        ]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(ShadowsAfterRelease::default())
}

struct Shadow {
    id: SnapshotId,
    set_id: SnapshotSetId,
    context: SnapshotContext,
    live: bool,
    /// Reported as outliving its release already (once is enough).
    reported: bool,
}

#[derive(Default)]
struct ShadowsAfterRelease {
    sets: SetOwners,
    /// Sets whose requester released the object that started them, in id order.
    released: BTreeSet<SnapshotSetId>,
    /// Sets whose creation ended with a failure phase.
    failed: super::Few<SnapshotSetId>,
    /// Every shadow created, in creation order.
    shadows: super::Few<Shadow>,
}

impl ShadowsAfterRelease {
    fn owner_released(&self, set: SnapshotSetId) -> bool {
        self.released.contains(&set)
    }

    /// `r`'s object is released: every set it started so far.
    fn release(&mut self, r: RequesterId) {
        self.released.extend(self.sets.sets_of(r));
    }
}

/// What the removal of a shadow of `context` with `status` needs (`None`: allowed as it is).
enum Needs {
    Nothing,
    Released,
    Failed,
    Wrong(&'static str),
}

fn needs(context: SnapshotContext, status: ShadowStatus) -> Needs {
    match status {
        ShadowStatus::Released if context.is_auto_release() => Needs::Released,
        ShadowStatus::Released => Needs::Wrong("was removed by its requester's release"),
        ShadowStatus::Aborted => Needs::Failed,
        ShadowStatus::Recycled if !context.is_client_accessible() => {
            Needs::Wrong("was recycled, but is not client-accessible (rule 18)")
        }
        ShadowStatus::Exists => Needs::Wrong("was removed with status exists"),
        ShadowStatus::Recycled | ShadowStatus::Deleted | ShadowStatus::DiffAreaFull => {
            Needs::Nothing
        }
    }
}

impl Oracle for ShadowsAfterRelease {
    fn observe(&mut self, _: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        self.sets.observe(fact);
        match fact {
            Fact::Call {
                requester,
                call: ApiCall::Release,
            }
            | Fact::GoAway { requester }
            | Fact::NewObject { requester } => self.release(*requester),
            Fact::Answered {
                requester,
                call: ApiCallKind::Release,
                ..
            } => {
                for s in self.shadows.iter_mut() {
                    if s.live
                        && !s.reported
                        && s.context.is_auto_release()
                        && self.released.contains(&s.set_id)
                        && self.sets.owner_of(s.set_id) == Some(*requester)
                    {
                        s.reported = true;
                        out.push(found(
                            now,
                            format!(
                                "auto-release shadow {} of set {} outlived its requester's release",
                                s.id, s.set_id
                            ),
                        ));
                    }
                }
            }
            Fact::Phase { set_id, phase, .. } if *phase != "finished" => self.failed.push(*set_id),
            Fact::ShadowCreated {
                set_id,
                snapshot,
                context,
                ..
            } => {
                if context.is_auto_release() && self.owner_released(*set_id) {
                    out.push(found(
                        now,
                        format!(
                            "auto-release shadow {snapshot} of set {set_id} was created after its requester's release"
                        ),
                    ));
                }
                self.shadows.push(Shadow {
                    id: *snapshot,
                    set_id: *set_id,
                    context: *context,
                    live: true,
                    reported: false,
                });
            }
            Fact::ShadowDeleted { snapshot, by, .. } => {
                let Some(i) = self.shadows.iter().position(|s| s.id == *snapshot) else {
                    return;
                };
                self.shadows[i].live = false;
                let s = &self.shadows[i];
                let DeletedBy::Service(status) = by else {
                    // Rule 17.
                    return;
                };
                let wrong = match needs(s.context, *status) {
                    Needs::Nothing => None,
                    Needs::Released if self.owner_released(s.set_id) => None,
                    Needs::Released => {
                        Some("was removed as released before its requester released")
                    }
                    Needs::Failed if self.failed.contains(&s.set_id) => None,
                    Needs::Failed => Some("was removed as aborted, but its set did not fail"),
                    Needs::Wrong(why) => Some(why),
                };
                if let Some(why) = wrong {
                    out.push(found(
                        now,
                        format!("shadow {} of set {} {why}", s.id, s.set_id),
                    ));
                }
            }
            Fact::ShadowsVerified(live) => {
                for s in &self.shadows {
                    if s.live
                        && !s.context.is_auto_release()
                        && !live.iter().any(|(info, _)| info.id == s.id)
                    {
                        out.push(found(
                            now,
                            format!(
                                "persistent shadow {} of set {} is gone with no removal",
                                s.id, s.set_id
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
    use super::super::testing::{C, answered, call, created, judge, phase, start_set};
    use crate::fact::{DeletedBy, Fact};
    use model::api::{ApiCall, ApiCallKind, ShadowStatus};
    use model::ids::Guid;
    use model::volume::store::{CopyMethod, ShadowInfo};
    use model::vss::{Hresult, SnapshotContext};

    const NAME: &str = "shadows_after_release";

    fn deleted(id: u128, status: ShadowStatus) -> Fact {
        Fact::ShadowDeleted {
            snapshot: Guid(id),
            volume: C,
            by: DeletedBy::Service(status),
        }
    }

    fn release(r: u16) -> [Fact; 2] {
        [
            call(r, ApiCall::Release),
            answered(r, ApiCallKind::Release, Hresult::Ok),
        ]
    }

    fn verified(ids: &[u128]) -> Fact {
        Fact::ShadowsVerified(
            ids.iter()
                .map(|&id| {
                    let info = ShadowInfo {
                        id: Guid(id),
                        set_id: Guid(1),
                        volume: C,
                        device: 1,
                        method: CopyMethod::CopyOnWrite,
                    };
                    (info, true)
                })
                .collect(),
        )
    }

    fn at(facts: Vec<Fact>) -> Vec<(u64, Fact)> {
        facts
            .into_iter()
            .enumerate()
            .map(|(t, f)| (t as u64, f))
            .collect()
    }

    #[test]
    fn an_auto_release_shadow_left_after_release_is_reported() {
        let mut facts = Vec::new();
        facts.extend(start_set(0, 1));
        facts.push(created(1, 7, SnapshotContext::Backup));
        facts.push(phase(1, "finished"));
        facts.extend(release(0));
        let v = judge(NAME, at(facts));
        assert_eq!(v.len(), 1, "{v:?}");
    }

    #[test]
    fn a_requester_that_went_away_is_released_and_a_new_object_starts_afresh() {
        let mut facts = Vec::new();
        facts.extend(start_set(0, 1));
        facts.push(created(1, 7, SnapshotContext::Backup));
        facts.push(phase(1, "finished"));
        // The process dies: the service sees the release without a call of its own.
        facts.push(Fact::GoAway {
            requester: model::ids::RequesterId(0),
        });
        facts.push(deleted(7, ShadowStatus::Released));
        facts.push(answered(0, ApiCallKind::Release, Hresult::Ok));
        // Its next object makes a set of its own, kept until that object is released, here by
        // a third object.
        facts.extend(start_set(0, 2));
        facts.push(created(2, 8, SnapshotContext::Backup));
        facts.push(phase(2, "finished"));
        facts.push(Fact::NewObject {
            requester: model::ids::RequesterId(0),
        });
        facts.push(deleted(8, ShadowStatus::Released));
        facts.push(answered(0, ApiCallKind::Release, Hresult::Ok));
        let v = judge(NAME, at(facts.clone()));
        assert!(v.is_empty(), "{v:?}");
        // Without the removal, the release is reported, once.
        facts.remove(5);
        assert_eq!(judge(NAME, at(facts)).len(), 1);
    }

    #[test]
    fn a_persistent_shadow_removed_by_release_or_vanished_is_reported() {
        let mut facts = Vec::new();
        facts.extend(start_set(0, 1));
        facts.push(created(1, 7, SnapshotContext::AppRollback));
        facts.push(created(1, 8, SnapshotContext::AppRollback));
        facts.push(phase(1, "finished"));
        facts.push(call(0, ApiCall::Release));
        facts.push(deleted(7, ShadowStatus::Released));
        facts.push(answered(0, ApiCallKind::Release, Hresult::Ok));
        // 8 was never removed, but the store no longer has it.
        facts.push(verified(&[]));
        let v = judge(NAME, at(facts));
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn removals_without_their_rule_are_reported() {
        let mut facts = Vec::new();
        facts.extend(start_set(0, 1));
        facts.push(created(1, 7, SnapshotContext::Backup));
        facts.push(created(1, 8, SnapshotContext::AppRollback));
        facts.push(phase(1, "finished"));
        // Released before any release; aborted though its set finished; recycled though
        // not client-accessible.
        facts.push(deleted(7, ShadowStatus::Released));
        facts.push(deleted(8, ShadowStatus::Aborted));
        let v = judge(NAME, at(facts.clone()));
        assert_eq!(v.len(), 2, "{v:?}");
        facts.truncate(facts.len() - 2);
        facts.push(deleted(8, ShadowStatus::Recycled));
        assert_eq!(judge(NAME, at(facts)).len(), 1);
    }

    #[test]
    fn a_correct_run_raises_nothing() {
        let mut facts = Vec::new();
        // A failed set's shadow removed by rule 14's clean-up.
        facts.extend(start_set(0, 1));
        facts.push(created(1, 6, SnapshotContext::Backup));
        facts.push(phase(1, "VSS_E_HOLD_WRITES_TIMEOUT"));
        facts.push(deleted(6, ShadowStatus::Aborted));
        facts.extend(release(0));
        // An auto-release shadow removed by its release, a persistent one kept, another
        // removed by the diff area.
        facts.extend(start_set(1, 2));
        facts.push(created(2, 7, SnapshotContext::Backup));
        facts.push(created(2, 8, SnapshotContext::NasRollback));
        facts.push(created(2, 9, SnapshotContext::NasRollback));
        facts.push(phase(2, "finished"));
        facts.push(Fact::ShadowDeleted {
            snapshot: Guid(9),
            volume: C,
            by: DeletedBy::DiffAreaFull,
        });
        facts.push(call(1, ApiCall::Release));
        facts.push(deleted(7, ShadowStatus::Released));
        facts.push(answered(1, ApiCallKind::Release, Hresult::Ok));
        facts.push(verified(&[8]));
        let v = judge(NAME, at(facts));
        assert!(v.is_empty(), "{v:?}");
    }
}
