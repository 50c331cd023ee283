//! `backup_from_shadow`: a requester that reports its backup good (the standard sequence's own
//! verdict `S_OK`) copied nothing from a live volume, and read every volume it added to its set
//! in full from a shadow copy of that set — unless it told the writers that volume's data was
//! not backed up, by a `SetBackupSucceeded(false)` for a component on it (rules S1, 13).
//!
//! A live volume changes while it is copied, so its copy is no point-in-time image at all; a
//! set that was never committed, or a shadow copy deleted mid-copy, leaves a partial one.
//! Judged at the end of the run on the requester's last object; a script's result is the
//! run's judgement of its calls, not a report, and is not judged here.

use model::api::{ApiCall, ApiCallKind};
use model::ids::{RequesterId, VolumeId};
use model::machine::Machine;
use model::time::Instant;
use model::vss::Hresult;

use super::{BackupReads, Entry, Few, Oracle, OracleInfo, Setup, VecMap, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "backup_from_shadow",
        description: "a backup reported good read each of its volumes in full from a shadow \
                      copy of its set, none from a live volume",
        rule: "S1, 13",
    },
    sees: FactKind::set(BackupReads::SEES)
        | FactKind::set(&[
            FactKind::NewObject,
            FactKind::LiveRead,
            FactKind::RequesterResult,
        ]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(BackupFromShadow::default())
}

/// One requester's current object, as far as its backup goes.
#[derive(Default)]
struct Object {
    /// The call in flight and the volume it named.
    asked: Option<(ApiCallKind, Option<VolumeId>)>,
    /// Volumes `AddToSnapshotSet` added (returned `S_OK`) to the object's current set.
    added: Few<VolumeId>,
    /// Live volumes copied.
    live: Few<VolumeId>,
    /// The component a `SetBackupSucceeded(false)` in flight names.
    marking_failed: Option<(model::ids::WriterId, u16)>,
    /// Components marked not backed up (the call returned `S_OK`).
    marked_failed: Few<(model::ids::WriterId, u16)>,
}

#[derive(Default)]
struct BackupFromShadow {
    /// Each requester's set and what it read of it.
    reads: BackupReads,
    objects: VecMap<RequesterId, Object>,
}

impl BackupFromShadow {
    fn judge(&self, machine: &Machine, r: RequesterId, o: &Object) -> Option<String> {
        let name = |v: &VolumeId| {
            machine
                .volumes
                .get(v.idx())
                .map_or("?", |x| x.name.as_str())
        };
        if let Some(v) = o.live.first() {
            return Some(format!(
                "the backup was reported good, but {} was copied from the live volume",
                name(v)
            ));
        }
        let set = self.reads.set_of(r)?;
        for v in &o.added {
            let read = self.reads.read_from_its_set(r, *v);
            let excused = o.marked_failed.iter().any(|(w, c)| {
                machine
                    .writers
                    .get(w.idx())
                    .and_then(|x| x.components.get(usize::from(*c)))
                    .is_some_and(|comp| comp.volumes.contains(v))
            });
            if !read && !excused {
                return Some(format!(
                    "the backup was reported good, but {} was not read in full from a shadow \
                     copy of set {set}",
                    name(v)
                ));
            }
        }
        None
    }
}

impl Oracle for BackupFromShadow {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        self.reads.observe(fact);
        match fact {
            Fact::NewObject { requester } => {
                self.objects.remove(requester);
            }
            Fact::Call { requester, call } => {
                let o = self.objects.entry_or_default(*requester);
                o.marking_failed = match call {
                    ApiCall::SetBackupSucceeded {
                        component,
                        succeeded: false,
                    } => Some((component.writer, component.idx)),
                    _ => None,
                };
                o.asked = Some(match call {
                    ApiCall::AddToSnapshotSet { volume, .. } => (call.kind(), *volume),
                    other => (other.kind(), None),
                });
            }
            Fact::Answered {
                requester,
                call,
                result,
            } => {
                let o = self.objects.entry_or_default(*requester);
                let asked = o.asked.take();
                if *result != Hresult::Ok {
                    return;
                }
                match (call, asked) {
                    (ApiCallKind::StartSnapshotSet, _) => {
                        o.added.clear();
                        o.marked_failed.clear();
                    }
                    (ApiCallKind::AddToSnapshotSet, Some((_, Some(v)))) => o.added.push(v),
                    (ApiCallKind::SetBackupSucceeded, _) => {
                        if let Some(c) = o.marking_failed.take() {
                            o.marked_failed.push(c);
                        }
                    }
                    _ => {}
                }
            }
            Fact::LiveRead {
                requester, volume, ..
            } => self.objects.entry_or_default(*requester).live.push(*volume),
            Fact::RequesterResult {
                requester,
                result: Hresult::Ok,
                reported: true,
            } => {
                if let Some(why) = self
                    .objects
                    .get(requester)
                    .and_then(|o| self.judge(machine, *requester, o))
                {
                    out.push(found(now, why));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{C, created, judge};
    use super::*;
    use model::api::ProviderArg;
    use model::ids::Guid;
    use model::vss::SnapshotContext;

    const R: RequesterId = RequesterId(0);

    /// A set started, `C:` added and its shadow made.
    fn backup() -> Vec<(u64, Fact)> {
        let answered = |call| Fact::Answered {
            requester: R,
            call,
            result: Hresult::Ok,
        };
        vec![
            (
                1,
                Fact::Call {
                    requester: R,
                    call: ApiCall::StartSnapshotSet { new_id: Guid(7) },
                },
            ),
            (1, answered(ApiCallKind::StartSnapshotSet)),
            (
                2,
                Fact::Call {
                    requester: R,
                    call: ApiCall::AddToSnapshotSet {
                        volume: Some(C),
                        provider: ProviderArg::Any,
                        new_id: Guid(8),
                    },
                },
            ),
            (2, answered(ApiCallKind::AddToSnapshotSet)),
            (3, created(7, 8, SnapshotContext::Backup)),
        ]
    }

    fn read_in_full() -> (u64, Fact) {
        (
            4,
            Fact::ReadEnded {
                requester: R,
                volume: C,
                snapshot: Guid(8),
                result: Hresult::Ok,
                matches: Some(true),
            },
        )
    }

    fn reported(result: Hresult, reported: bool) -> (u64, Fact) {
        (
            9,
            Fact::RequesterResult {
                requester: R,
                result,
                reported,
            },
        )
    }

    #[test]
    fn a_good_backup_read_from_its_shadow_is_fine() {
        let mut f = backup();
        f.push(read_in_full());
        f.push(reported(Hresult::Ok, true));
        assert!(judge("backup_from_shadow", f).is_empty());
    }

    #[test]
    fn a_good_report_without_a_full_read_is_caught() {
        let mut f = backup();
        f.push(reported(Hresult::Ok, true));
        let v = judge("backup_from_shadow", f);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("not read in full"), "{}", v[0].detail);
    }

    #[test]
    fn a_copy_of_the_live_volume_is_caught() {
        let mut f = backup();
        f.push((
            5,
            Fact::LiveRead {
                requester: R,
                volume: C,
                n: 10,
            },
        ));
        f.push(reported(Hresult::Ok, true));
        let v = judge("backup_from_shadow", f);
        assert!(v[0].detail.contains("live volume"), "{v:?}");
    }

    #[test]
    fn a_failed_backup_and_a_scripts_result_are_not_judged() {
        let mut f = backup();
        f.push(reported(Hresult::ProviderVeto, true));
        assert!(judge("backup_from_shadow", f).is_empty());
        let mut f = backup();
        f.push(reported(Hresult::Ok, false));
        assert!(judge("backup_from_shadow", f).is_empty());
    }
}
