//! `held_writes_preserved`: writes held by flush-and-hold are released in their original order
//! and none is lost (rule 14).

use model::machine::Machine;
use model::time::Instant;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "held_writes_preserved",
        description: "held writes are released in their original order and none is lost",
        rule: "14",
    },
    sees: FactKind::set(&[FactKind::Release]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(HeldWritesPreserved)
}

struct HeldWritesPreserved;

impl Oracle for HeldWritesPreserved {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        let Fact::Release {
            released,
            counts,
            queued,
            ..
        } = fact
        else {
            return;
        };
        for v in &released.out_of_order {
            out.push(found(
                now,
                format!(
                    "held writes on {} released out of order",
                    machine.volumes[v.idx()].name
                ),
            ));
        }
        if *queued != counts.held || counts.issued != counts.accepted + counts.failed + counts.held
        {
            out.push(found(now, "a held write was lost".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{C, judge};
    use crate::fact::Fact;
    use model::volume::store::{Released, WriteCounts};

    fn release(out_of_order: bool, lost: bool) -> Fact {
        Fact::Release {
            volumes: vec![C].into(),
            released: Released {
                n: 2,
                out_of_order: if out_of_order { vec![C] } else { vec![] },
                ..Default::default()
            },
            counts: WriteCounts {
                issued: 10,
                accepted: if lost { 9 } else { 10 },
                failed: 0,
                held: 0,
            },
            queued: 0,
        }
    }

    #[test]
    fn held_writes_out_of_order_or_lost_are_reported() {
        assert_eq!(
            judge("held_writes_preserved", vec![(1, release(true, false))]).len(),
            1
        );
        assert_eq!(
            judge("held_writes_preserved", vec![(1, release(false, true))]).len(),
            1
        );
        assert!(judge("held_writes_preserved", vec![(1, release(false, false))]).is_empty());
    }
}
