//! `one_creation_at_a_time`: the machine creates one snapshot set at a time (rules 20, S22).
//!
//! A creation is in progress from the moment the service accepts its `DoSnapshotSet` (the
//! call's `S_OK` answer) until that set's end phase (`finished`, or the failure code rule 14's
//! clean-up reports, whether the set failed, was cancelled, aborted or its requester left).
//! The oracle reports a `DoSnapshotSet` accepted while another set's creation is in progress,
//! and a `StartSnapshotSet` of another requester accepted in that time (rule 20: it is refused
//! with `VSS_E_SNAPSHOT_SET_IN_PROGRESS`). Which set a `DoSnapshotSet` creates is the caller's
//! last accepted `StartSnapshotSet`.

use model::api::ApiCallKind;
use model::ids::{RequesterId, SnapshotSetId};
use model::machine::Machine;
use model::time::Instant;
use model::vss::Hresult;

use super::{Entry, Oracle, OracleInfo, SetOwners, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "one_creation_at_a_time",
        description: "no snapshot-set creation starts while another is in progress",
        rule: "20, S22",
    },
    sees: FactKind::set(SetOwners::SEES) | FactKind::set(&[FactKind::Phase]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(OneCreationAtATime::default())
}

#[derive(Default)]
struct OneCreationAtATime {
    sets: SetOwners,
    /// The creations in progress (more than one only once a violation was reported), with
    /// their requesters, in the order they began.
    running: Vec<(SnapshotSetId, RequesterId)>,
}

impl Oracle for OneCreationAtATime {
    fn observe(&mut self, _: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        self.sets.observe(fact);
        match fact {
            Fact::Answered {
                requester,
                call,
                result: Hresult::Ok,
            } => {
                let r = *requester;
                let others = |running: &[(SnapshotSetId, RequesterId)]| {
                    running
                        .iter()
                        .find(|(_, owner)| *owner != r)
                        .map(|(set, _)| *set)
                };
                match call {
                    ApiCallKind::DoSnapshotSet => {
                        let Some(set) = self.sets.set_of(r) else {
                            return;
                        };
                        if let Some(other) = self.running.iter().find(|(s, _)| *s != set) {
                            out.push(found(
                                now,
                                format!(
                                    "the creation of set {set} began while set {}'s was in progress",
                                    other.0
                                ),
                            ));
                        }
                        self.running.push((set, r));
                    }
                    ApiCallKind::StartSnapshotSet => {
                        if let (Some(other), Some(set)) =
                            (others(&self.running), self.sets.set_of(r))
                        {
                            out.push(found(
                                now,
                                format!(
                                    "StartSnapshotSet of set {set} was accepted while set {other}'s creation was in progress"
                                ),
                            ));
                        }
                    }
                    _ => {}
                }
            }
            Fact::Phase { set_id, .. } => self.running.retain(|(s, _)| s != set_id),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{answered, judge, phase, start_set};
    use crate::fact::Fact;
    use model::api::ApiCallKind;
    use model::vss::Hresult;

    const NAME: &str = "one_creation_at_a_time";

    fn do_snapshot_set(r: u16) -> Fact {
        answered(r, ApiCallKind::DoSnapshotSet, Hresult::Ok)
    }

    fn at(facts: Vec<Fact>) -> Vec<(u64, Fact)> {
        facts
            .into_iter()
            .enumerate()
            .map(|(t, f)| (t as u64, f))
            .collect()
    }

    #[test]
    fn a_second_creation_during_the_first_is_reported() {
        let mut facts = Vec::new();
        facts.extend(start_set(0, 1));
        facts.push(do_snapshot_set(0));
        facts.extend(start_set(1, 2));
        facts.push(do_snapshot_set(1));
        let v = judge(NAME, at(facts));
        // The accepted StartSnapshotSet and the second DoSnapshotSet.
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn creations_one_after_the_other_and_refused_starts_are_not() {
        let mut facts = Vec::new();
        facts.extend(start_set(0, 1));
        facts.push(do_snapshot_set(0));
        // Refused, as rule 20 says.
        facts.push(start_set(1, 2)[0].clone());
        facts.push(answered(
            1,
            ApiCallKind::StartSnapshotSet,
            Hresult::SnapshotSetInProgress,
        ));
        facts.push(phase(1, "VSS_E_HOLD_WRITES_TIMEOUT"));
        facts.extend(start_set(1, 2));
        facts.push(do_snapshot_set(1));
        facts.push(phase(2, "finished"));
        let v = judge(NAME, at(facts));
        assert!(v.is_empty(), "{v:?}");
    }
}
