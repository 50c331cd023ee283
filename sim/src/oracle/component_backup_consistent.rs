//! `component_backup_consistent`, the backup-logic oracle: a component a requester marks
//! `SetBackupSucceeded(true)` was read in full from a shadow copy of the requester's own set
//! on each of the component's volumes, and its writer's application data in that set is
//! consistent (rules S1, S5, 33).
//!
//! A requester that ignores a failed writer, reads a set that was never committed, or loses
//! its shadow copy mid-read and still reports the component backed up is caught here: the
//! backup it reports as good would restore a torn database or a partial copy.

use model::api::ApiCall;
use model::api::ApiCallKind;
use model::app::TornUnit;
use model::ids::{RequesterId, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use model::machine::Machine;
use model::time::Instant;
use model::vss::Hresult;

use super::{Entry, Few, Oracle, OracleInfo, Setup, VecMap, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "component_backup_consistent",
        description: "a component marked backed up was read in full from its set's shadows, \
                      with its writer's data consistent",
        rule: "S1, S5, 33",
    },
    sees: FactKind::set(&[
        FactKind::Call,
        FactKind::Answered,
        FactKind::NewObject,
        FactKind::ShadowCreated,
        FactKind::ReadEnded,
        FactKind::AppImage,
    ]),
    build,
};

fn build(setup: &Setup<'_>) -> Box<dyn Oracle> {
    let _ = setup;
    Box::new(ComponentBackup::default())
}

/// One requester's backup as the oracle follows it.
#[derive(Default)]
struct Session {
    /// The set `StartSnapshotSet` was called for, until it answers.
    asked: Option<SnapshotSetId>,
    /// The object's set (`StartSnapshotSet` returned `S_OK`).
    set: Option<SnapshotSetId>,
    /// Shadow copies this requester read to the end (whatever their set).
    read_in_full: Few<SnapshotId>,
    /// The component a `SetBackupSucceeded(true)` call names, until it returns: it is marked
    /// only when the call returns `S_OK`.
    marking: Option<(WriterId, u16)>,
}

#[derive(Default)]
struct ComponentBackup {
    sessions: VecMap<RequesterId, Session>,
    /// Every shadow copy made: its set and volume.
    shadows: VecMap<SnapshotId, (SnapshotSetId, VolumeId)>,
    /// Applications torn in a set's image, by set and writer.
    torn: VecMap<(SnapshotSetId, WriterId), Vec<(String, TornUnit)>>,
}

impl ComponentBackup {
    fn session(&mut self, r: RequesterId) -> &mut Session {
        self.sessions.entry_or_default(r)
    }

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
        let s = self.sessions.get(&r);
        let Some(set) = s.and_then(|s| s.set) else {
            return Some(format!(
                "{} was marked backed up with no snapshot set started",
                what()
            ));
        };
        let read = s.map_or(&[][..], |s| &s.read_in_full[..]);
        for v in &comp.volumes {
            let from_set = read.iter().any(|snap| {
                self.shadows
                    .get(snap)
                    .is_some_and(|(sset, vol)| *sset == set && vol == v)
            });
            if !from_set {
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
        match fact {
            Fact::NewObject { requester } => {
                self.sessions.remove(requester);
            }
            Fact::Call { requester, call } => match call {
                ApiCall::StartSnapshotSet { new_id } => {
                    self.session(*requester).asked = Some(*new_id);
                }
                ApiCall::SetBackupSucceeded {
                    component: c,
                    succeeded,
                } => {
                    self.session(*requester).marking = succeeded.then_some((c.writer, c.idx));
                }
                _ => {}
            },
            Fact::Answered {
                requester,
                call: ApiCallKind::SetBackupSucceeded,
                result,
            } => {
                let marked = self.session(*requester).marking.take();
                if let (Some((writer, idx)), Hresult::Ok) = (marked, result)
                    && let Some(why) = self.judge(machine, *requester, writer, idx)
                {
                    out.push(found(now, why));
                }
            }
            Fact::Answered {
                requester,
                call: ApiCallKind::StartSnapshotSet,
                result,
            } => {
                let s = self.session(*requester);
                let asked = s.asked.take();
                if *result == Hresult::Ok {
                    s.set = asked;
                    s.read_in_full.clear();
                }
            }
            Fact::ShadowCreated {
                set_id,
                snapshot,
                volume,
                ..
            } => {
                self.shadows.insert(*snapshot, (*set_id, *volume));
            }
            // Read to the end: its image was compared with its instant.
            Fact::ReadEnded {
                requester,
                snapshot,
                result: Hresult::Ok,
                matches: Some(_),
                ..
            } => self.session(*requester).read_in_full.push(*snapshot),
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
    use super::super::testing::{C, W, judge};
    use super::*;
    use model::api::ComponentRef;
    use model::app::AppKind;
    use model::ids::Guid;
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
            (
                3,
                Fact::ShadowCreated {
                    set_id: SET,
                    snapshot: SNAP,
                    volume: C,
                    provider: model::ids::ProviderId(0),
                    context: SnapshotContext::Backup,
                    created: model::volume::store::Created {
                        method: model::volume::store::CopyMethod::CopyOnWrite,
                        instant_kept: true,
                        n_written: 0,
                        device: 1,
                    },
                },
            ),
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
