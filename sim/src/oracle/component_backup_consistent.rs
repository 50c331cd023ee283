//! `component_backup_consistent`, the backup-logic oracle: a component a requester marks
//! `SetBackupSucceeded(true)` was read in full from a shadow copy of the requester's own set
//! on each of the component's volumes, and its writer's application data in that set is
//! consistent (rules S1, S5, 33).
//!
//! A requester that ignores a failed writer, reads a set that was never committed, or loses
//! its shadow copy mid-read and still reports the component backed up is caught here: the
//! backup it reports as good would restore a torn database or a partial copy.

use model::api::{ApiCall, ApiCallKind};
use model::app::TornUnit;
use model::ids::{RequesterId, SnapshotSetId, WriterId};
use model::machine::Machine;
use model::time::Instant;
use model::vss::Hresult;

use super::{BackupReads, Entry, Oracle, OracleInfo, Setup, VecMap, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "component_backup_consistent",
        description: "a component marked backed up was read in full from its set's shadows, \
                      with its writer's data consistent",
        rule: "S1, S5, 33",
    },
    sees: FactKind::set(BackupReads::SEES) | FactKind::set(&[FactKind::AppImage]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(ComponentBackup::default())
}

#[derive(Default)]
struct ComponentBackup {
    /// Each requester's set and what it read of it.
    reads: BackupReads,
    /// The component a requester's `SetBackupSucceeded(true)` names, until the call returns:
    /// it is marked only when the call returns `S_OK`.
    marking: VecMap<RequesterId, (WriterId, u16)>,
    /// Applications torn in a set's image, by set and writer.
    torn: VecMap<(SnapshotSetId, WriterId), Vec<(String, TornUnit)>>,
}

impl ComponentBackup {
    /// Why marking `component` of `writer` backed up is wrong, if it is.
    fn judge(
        &self,
        machine: &Machine,
        r: RequesterId,
        writer: WriterId,
        idx: u16,
    ) -> Option<String> {
        let info = machine.writers.get(writer.idx())?;
        let comp = info.components.get(usize::from(idx))?;
        // Named only when something is wrong: the common case formats nothing.
        let what = || format!("component {} of {}", comp.name, info.name);
        let Some(set) = self.reads.set_of(r) else {
            return Some(format!(
                "{} was marked backed up with no snapshot set started",
                what()
            ));
        };
        for v in &comp.volumes {
            if !self.reads.read_from_its_set(r, *v) {
                let name = machine
                    .volumes
                    .get(v.idx())
                    .map_or("?", |x| x.name.as_str());
                return Some(format!(
                    "{} was marked backed up, but {name} was not read in full from a shadow \
                     copy of set {set}",
                    what()
                ));
            }
        }
        if let Some(apps) = self.torn.get(&(set, writer)) {
            let (app, t) = &apps[0];
            return Some(format!(
                "{} was marked backed up, but {app}'s image in set {set} is torn (unit {} cut \
                 after {} of its {} writes)",
                what(),
                t.unit,
                t.written,
                t.of
            ));
        }
        None
    }
}

impl Oracle for ComponentBackup {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        self.reads.observe(fact);
        match fact {
            Fact::Call {
                requester,
                call:
                    ApiCall::SetBackupSucceeded {
                        component: c,
                        succeeded,
                    },
            } => {
                if *succeeded {
                    self.marking.insert(*requester, (c.writer, c.idx));
                } else {
                    self.marking.remove(requester);
                }
            }
            Fact::Answered {
                requester,
                call: ApiCallKind::SetBackupSucceeded,
                result,
            } => {
                let marked = self.marking.remove(requester);
                if let (Some((writer, idx)), Hresult::Ok) = (marked, result)
                    && let Some(why) = self.judge(machine, *requester, writer, idx)
                {
                    out.push(found(now, why));
                }
            }
            Fact::AppImage {
                set_id,
                app,
                writer,
                torn: Some(t),
                ..
            } => self
                .torn
                .entry_or_default((*set_id, *writer))
                .push((app.clone(), *t)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{C, W, created, judge};
    use super::*;
    use model::api::ComponentRef;
    use model::app::AppKind;
    use model::ids::{Guid, SnapshotId};
    use model::vss::SnapshotContext;

    const R: RequesterId = RequesterId(0);
    const SET: SnapshotSetId = Guid(7);
    const SNAP: SnapshotId = Guid(8);

    fn start() -> Vec<(u64, Fact)> {
        vec![
            (
                1,
                Fact::Call {
                    requester: R,
                    call: ApiCall::StartSnapshotSet { new_id: Guid(7) },
                },
            ),
            (
                2,
                Fact::Answered {
                    requester: R,
                    call: ApiCallKind::StartSnapshotSet,
                    result: Hresult::Ok,
                },
            ),
            (3, created(SET.0, SNAP.0, SnapshotContext::Backup)),
        ]
    }

    fn read(result: Hresult) -> (u64, Fact) {
        (
            4,
            Fact::ReadEnded {
                requester: R,
                volume: C,
                snapshot: SNAP,
                result,
                matches: (result == Hresult::Ok).then_some(true),
            },
        )
    }

    /// `SetBackupSucceeded(true)` called and returning `result`.
    fn marked(result: Hresult) -> [(u64, Fact); 2] {
        [
            (
                5,
                Fact::Call {
                    requester: R,
                    call: ApiCall::SetBackupSucceeded {
                        component: ComponentRef { writer: W, idx: 0 },
                        succeeded: true,
                    },
                },
            ),
            (
                6,
                Fact::Answered {
                    requester: R,
                    call: ApiCallKind::SetBackupSucceeded,
                    result,
                },
            ),
        ]
    }

    fn succeeded() -> [(u64, Fact); 2] {
        marked(Hresult::Ok)
    }

    fn torn() -> (u64, Fact) {
        (
            3,
            Fact::AppImage {
                set_id: SET,
                app: "db".into(),
                writer: W,
                kind: AppKind::DATABASE,
                frozen: false,
                torn: Some(TornUnit {
                    unit: 3,
                    written: 4,
                    of: 6,
                }),
            },
        )
    }

    #[test]
    fn a_component_read_in_full_from_a_consistent_set_is_fine() {
        let mut facts = start();
        facts.push(read(Hresult::Ok));
        facts.extend(succeeded());
        assert!(judge("component_backup_consistent", facts).is_empty());
    }

    #[test]
    fn a_component_whose_shadow_was_not_read_in_full_is_caught() {
        let mut facts = start();
        facts.push(read(Hresult::ObjectNotFound));
        facts.extend(succeeded());
        let v = judge("component_backup_consistent", facts);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("not read in full"), "{}", v[0].detail);
    }

    #[test]
    fn a_component_whose_application_is_torn_in_the_set_is_caught() {
        let mut facts = start();
        facts.push(torn());
        facts.push(read(Hresult::Ok));
        facts.extend(succeeded());
        let v = judge("component_backup_consistent", facts);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("torn"), "{}", v[0].detail);
    }

    #[test]
    fn a_shadow_of_another_set_does_not_count() {
        let mut facts = start();
        facts.push(read(Hresult::Ok));
        // A new object and a new set: the read of the old set's shadow is not this backup's.
        facts.push((
            4,
            Fact::Call {
                requester: R,
                call: ApiCall::StartSnapshotSet { new_id: Guid(9) },
            },
        ));
        facts.push((
            4,
            Fact::Answered {
                requester: R,
                call: ApiCallKind::StartSnapshotSet,
                result: Hresult::Ok,
            },
        ));
        facts.extend(succeeded());
        assert_eq!(judge("component_backup_consistent", facts).len(), 1);
    }

    #[test]
    fn a_mark_the_service_refused_is_not_judged() {
        let mut facts = start();
        facts.extend(marked(Hresult::BadState));
        assert!(judge("component_backup_consistent", facts).is_empty());
    }

    #[test]
    fn marking_a_component_failed_is_never_judged() {
        let mut facts = start();
        facts.push((
            5,
            Fact::Call {
                requester: R,
                call: ApiCall::SetBackupSucceeded {
                    component: ComponentRef { writer: W, idx: 0 },
                    succeeded: false,
                },
            },
        ));
        assert!(judge("component_backup_consistent", facts).is_empty());
    }
}
