//! `stalled`: a run ends because every requester released and the service is idle, never by a
//! limit (the coordinator never waits forever, rule 11).

use model::machine::Machine;
use model::time::Instant;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{EndReason, Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "stalled",
        description: "the run ends with every requester released, not at a time or step limit",
        rule: "11",
    },
    sees: FactKind::set(&[FactKind::Ending]),
    build,
};

fn build(setup: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(Stalled {
        max_time: setup.max_time,
        max_steps: setup.max_steps,
    })
}

struct Stalled {
    max_time: Instant,
    max_steps: u64,
}

impl Oracle for Stalled {
    fn observe(&mut self, _: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        let Fact::Ending { reason } = fact else {
            return;
        };
        let detail = match reason {
            EndReason::Finished | EndReason::GuestError => return,
            EndReason::TimeLimit => format!(
                "the run reached max_virtual_time {} before every requester finished",
                self.max_time
            ),
            EndReason::StepLimit => {
                format!("the run used its step budget of {} events", self.max_steps)
            }
            EndReason::QueueEmpty => "no event left while requesters were still waiting".into(),
        };
        out.push(found(now, detail));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::judge;
    use crate::fact::{EndReason, Fact};

    #[test]
    fn a_run_cut_by_a_limit_is_stalled() {
        for reason in [
            EndReason::TimeLimit,
            EndReason::StepLimit,
            EndReason::QueueEmpty,
        ] {
            assert_eq!(
                judge("stalled", vec![(1, Fact::Ending { reason })]).len(),
                1
            );
        }
        let done = Fact::Ending {
            reason: EndReason::Finished,
        };
        assert!(judge("stalled", vec![(1, done)]).is_empty());
    }
}
