//! `failed_set_shadow_left`: no shadow of a snapshot set whose creation failed or was aborted
//! survives (rules 14, 16).

use model::ids::SnapshotSetId;
use model::machine::Machine;
use model::time::Instant;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "failed_set_shadow_left",
        description: "no shadow of a failed or aborted snapshot set survives",
        rule: "14",
    },
    sees: FactKind::set(&[FactKind::Phase, FactKind::ShadowsVerified]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(FailedSetShadowLeft::default())
}

#[derive(Default)]
struct FailedSetShadowLeft {
    /// Sets whose creation failed or was aborted, in the order they ended.
    failed: Vec<SnapshotSetId>,
}

impl Oracle for FailedSetShadowLeft {
    fn observe(&mut self, _: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        match fact {
            Fact::Phase { set_id, phase, .. } if *phase != "finished" => self.failed.push(*set_id),
            Fact::ShadowsVerified(live) => {
                for (s, _) in live {
                    if self.failed.contains(&s.set_id) {
                        out.push(found(
                            now,
                            format!("shadow {} of failed set {} still exists", s.id, s.set_id),
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
    use model::volume::store::{CopyMethod, ShadowInfo};

    #[test]
    fn a_shadow_of_a_failed_set_left_behind_is_reported() {
        let shadow = ShadowInfo {
            id: Guid(7),
            set_id: Guid(9),
            volume: C,
            device: 1,
            method: CopyMethod::CopyOnWrite,
        };
        let failed = Fact::Phase {
            set_id: Guid(9),
            phase: "VSS_E_HOLD_WRITES_TIMEOUT",
            rule: "14",
        };
        let v = judge(
            "failed_set_shadow_left",
            vec![
                (1, failed),
                (2, Fact::ShadowsVerified(vec![(shadow, true)])),
            ],
        );
        assert_eq!(v.len(), 1, "{v:?}");
        let ok = Fact::Phase {
            set_id: Guid(9),
            phase: "finished",
            rule: "2",
        };
        let v = judge(
            "failed_set_shadow_left",
            vec![(1, ok), (2, Fact::ShadowsVerified(vec![(shadow, true)]))],
        );
        assert!(v.is_empty(), "{v:?}");
    }
}
