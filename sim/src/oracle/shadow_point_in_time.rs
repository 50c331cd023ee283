//! `shadow_point_in_time`: a shadow copy holds exactly the writes its volume accepted before the
//! hold request, at commit, when a requester reads it back, and at the end of the run (rule 13).

use model::machine::Machine;
use model::time::Instant;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "shadow_point_in_time",
        description: "a shadow holds exactly the writes accepted before its hold request",
        rule: "13",
    },
    sees: FactKind::set(&[
        FactKind::ShadowCreated,
        FactKind::ReadEnded,
        FactKind::ShadowsVerified,
    ]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(ShadowPointInTime)
}

struct ShadowPointInTime;

impl Oracle for ShadowPointInTime {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        let name = |v: model::ids::VolumeId| machine.volumes[v.idx()].name.clone();
        match fact {
            Fact::ShadowCreated {
                volume, created, ..
            } if !created.instant_kept => out.push(found(
                now,
                format!(
                    "shadow of {} committed with writes accepted after the hold request",
                    name(*volume)
                ),
            )),
            Fact::ReadEnded {
                volume,
                matches: Some(false),
                ..
            } => out.push(found(
                now,
                format!(
                    "the shadow of {} does not read back the image of its hold instant",
                    name(*volume)
                ),
            )),
            Fact::ShadowsVerified(live) => {
                for (s, ok) in live {
                    if !ok {
                        out.push(found(
                            now,
                            format!(
                                "shadow {} of {} no longer holds the image of its hold instant",
                                s.id,
                                name(s.volume)
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
    use super::super::testing::{C, judge};
    use crate::fact::Fact;
    use model::ids::Guid;
    use model::volume::store::{CopyMethod, Created, ShadowInfo};

    #[test]
    fn a_write_accepted_after_the_instant_a_bad_read_back_and_a_changed_shadow_are_reported() {
        let created = Fact::ShadowCreated {
            set_id: Guid(1),
            snapshot: Guid(2),
            volume: C,
            provider: model::ids::ProviderId(0),
            context: model::vss::SnapshotContext::Backup,
            created: Created {
                method: CopyMethod::CopyOnWrite,
                instant_kept: false,
                n_written: 3,
                device: 1,
            },
        };
        let read = Fact::ReadEnded {
            requester: model::ids::RequesterId(0),
            volume: C,
            snapshot: Guid(2),
            result: model::vss::Hresult::Ok,
            matches: Some(false),
        };
        let shadow = ShadowInfo {
            id: Guid(2),
            set_id: Guid(1),
            volume: C,
            device: 1,
            method: CopyMethod::SplitMirror,
        };
        let end = Fact::ShadowsVerified(vec![(shadow, false), (shadow, true)]);
        let v = judge(
            "shadow_point_in_time",
            vec![(1, created), (2, read), (3, end)],
        );
        assert_eq!(v.len(), 3, "{v:?}");
        let fine = Fact::ReadEnded {
            requester: model::ids::RequesterId(0),
            volume: C,
            snapshot: Guid(2),
            result: model::vss::Hresult::Ok,
            matches: Some(true),
        };
        assert!(judge("shadow_point_in_time", vec![(1, fine)]).is_empty());
    }
}
