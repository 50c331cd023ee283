//! `one_creation_at_a_time`: the machine creates one snapshot set at a time (rules 20, S22).
//!
//! Rule 20's slot: a requester holds it from the moment the service accepts its
//! `StartSnapshotSet` (the call's `S_OK` answer) until that set's creation is over (its end
//! phase: `finished`, or the code rule 14's clean-up reports), or until the requester gives the
//! set up (`AbortBackup`, rule 22) or its object goes (`Release`, its process going away, a new
//! object; rule 27). The oracle reports another requester's `StartSnapshotSet` accepted while
//! the slot is held (rule 20: it is refused with `VSS_E_SNAPSHOT_SET_IN_PROGRESS`), and a
//! `DoSnapshotSet` accepted while another set's creation is in progress (from its accepted
//! `DoSnapshotSet` to its end phase). Which set a `DoSnapshotSet` creates is the caller's last
//! accepted `StartSnapshotSet`.

use model::api::{ApiCall, ApiCallKind};
use model::ids::{RequesterId, SnapshotSetId};
use model::machine::Machine;
use model::time::Instant;
use model::vss::Hresult;

use super::{Entry, Oracle, OracleInfo, SetOwners, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "one_creation_at_a_time",
        description: "no snapshot set is started or created while another holds the creation slot",
        rule: "20, S22",
    },
    sees: FactKind::set(SetOwners::SEES)
        | FactKind::set(&[FactKind::GoAway, FactKind::NewObject, FactKind::Phase]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(OneCreationAtATime::default())
}

#[derive(Default)]
struct OneCreationAtATime {
    sets: SetOwners,
    /// Who holds the slot, with the set it started.
    slot: Option<(RequesterId, SnapshotSetId)>,
    /// The creations in progress (more than one only once a violation was reported), in the
    /// order they began.
    running: super::Few<SnapshotSetId>,
}

impl OneCreationAtATime {
    /// `r` gave its set up: the slot is free if it held it.
    fn leave(&mut self, r: RequesterId) {
        if self.slot.is_some_and(|(holder, _)| holder == r) {
            self.slot = None;
        }
    }
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
                let Some(set) = self.sets.set_of(r) else {
                    return;
                };
                match call {
                    ApiCallKind::StartSnapshotSet => {
                        if let Some((holder, held)) = self.slot
                            && holder != r
                        {
                            out.push(found(
                                now,
                                format!(
                                    "StartSnapshotSet of set {set} was accepted while set {held} held the creation slot"
                                ),
                            ));
                        }
                        self.slot = Some((r, set));
                    }
                    ApiCallKind::DoSnapshotSet => {
                        if let Some(other) = self.running.iter().find(|s| **s != set) {
                            out.push(found(
                                now,
                                format!(
                                    "the creation of set {set} began while set {other}'s was in progress"
                                ),
                            ));
                        }
                        self.running.push(set);
                    }
                    ApiCallKind::AbortBackup => self.leave(r),
                    _ => {}
                }
            }
            Fact::Call {
                requester,
                call: ApiCall::Release,
            }
            | Fact::GoAway { requester }
            | Fact::NewObject { requester } => self.leave(*requester),
            Fact::Phase { set_id, .. } => {
                self.running.retain(|s| s != set_id);
                if self.slot.is_some_and(|(_, held)| held == *set_id) {
                    self.slot = None;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{answered, call, judge, phase, start_set};
    use crate::fact::Fact;
    use model::api::{ApiCall, ApiCallKind};
    use model::ids::RequesterId;
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
    fn a_start_while_another_set_holds_the_slot_is_reported_and_one_after_it_is_given_up_is_not() {
        // Requester 0 started a set and has not called DoSnapshotSet yet.
        let mut facts = Vec::new();
        facts.extend(start_set(0, 1));
        facts.extend(start_set(1, 2));
        assert_eq!(judge(NAME, at(facts)).len(), 1);
        for give_up in [
            answered(0, ApiCallKind::AbortBackup, Hresult::Ok),
            call(0, ApiCall::Release),
            Fact::GoAway {
                requester: RequesterId(0),
            },
        ] {
            let mut facts = Vec::new();
            facts.extend(start_set(0, 1));
            facts.push(give_up);
            facts.extend(start_set(1, 2));
            let v = judge(NAME, at(facts));
            assert!(v.is_empty(), "{v:?}");
        }
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
