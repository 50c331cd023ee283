//! `snapshot_state_graph`: every shadow copy's `VSS_SNAPSHOT_STATE` moves along the graph of
//! rule S29.
//!
//! A shadow copy starts `VSS_SS_UNKNOWN` (not seen yet) and goes one step at a time along
//! `PREPARING` → `PROCESSING_PREPARE` → `PREPARED` → `PROCESSING_PRECOMMIT` → `PRECOMMITTED` →
//! `PROCESSING_COMMIT` → `COMMITTED` → `PROCESSING_POSTCOMMIT` → `POSTCOMMITTED` →
//! `PROCESSING_PREFINALCOMMIT` → `PREFINALCOMMITTED` → `PROCESSING_POSTFINALCOMMIT` →
//! `CREATED` (the provider calls of rule 2, in order, each a processing state while the call
//! runs and a done state once it answered); it becomes `ABORTED` from any state from
//! `PREPARING` until before `CREATED` (its creation failed or was dropped, rule 14), and
//! `DELETED` from any state from `COMMITTED` on (it exists from its `CommitSnapshots`;
//! rules 17, 18, 22, 27). `ABORTED` and `DELETED` are final. The states come from
//! [`Fact::SnapshotState`], which the coordinator notes as each change happens. When the run
//! ends `Finished` (every requester done, the service idle) every shadow copy is `CREATED`,
//! `ABORTED` or `DELETED`: none is left half made.

use model::ids::SnapshotId;
use model::machine::Machine;
use model::time::Instant;
use model::vss::SnapshotState;

use super::{Entry, Oracle, OracleInfo, Setup, VecMap, Violation, found};
use crate::fact::{EndReason, Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "snapshot_state_graph",
        description: "every shadow copy's VSS_SNAPSHOT_STATE moves along the documented graph",
        rule: "S29, 2, 14",
    },
    sees: FactKind::set(&[FactKind::SnapshotState, FactKind::Ending]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(SnapshotStateGraph::default())
}

/// The way to `CREATED`, from the state before any (rules S29, 2).
const CHAIN: [SnapshotState; 14] = [
    SnapshotState::Unknown,
    SnapshotState::Preparing,
    SnapshotState::ProcessingPrepare,
    SnapshotState::Prepared,
    SnapshotState::ProcessingPrecommit,
    SnapshotState::Precommitted,
    SnapshotState::ProcessingCommit,
    SnapshotState::Committed,
    SnapshotState::ProcessingPostcommit,
    SnapshotState::Postcommitted,
    SnapshotState::ProcessingPrefinalcommit,
    SnapshotState::Prefinalcommitted,
    SnapshotState::ProcessingPostfinalcommit,
    SnapshotState::Created,
];

/// Where `state` is on [`CHAIN`].
fn step(state: SnapshotState) -> Option<usize> {
    CHAIN.iter().position(|s| *s == state)
}

/// Whether `prev` → `next` is an edge of the graph.
pub(crate) fn is_legal(prev: SnapshotState, next: SnapshotState) -> bool {
    let Some(from) = step(prev) else {
        // ABORTED, DELETED (final) and the values no shadow copy takes.
        return false;
    };
    let preparing = 1;
    let committed = step(SnapshotState::Committed).expect("on the chain");
    let created = CHAIN.len() - 1;
    match next {
        SnapshotState::Aborted => (preparing..created).contains(&from),
        SnapshotState::Deleted => (committed..=created).contains(&from),
        _ => step(next) == Some(from + 1),
    }
}

#[derive(Default)]
struct SnapshotStateGraph {
    /// Each shadow copy's last state.
    state: VecMap<SnapshotId, SnapshotState>,
}

impl Oracle for SnapshotStateGraph {
    fn observe(&mut self, _: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        if let Fact::Ending {
            reason: EndReason::Finished,
        } = fact
        {
            for (snapshot, state) in self.state.iter() {
                if !matches!(
                    state,
                    SnapshotState::Created | SnapshotState::Aborted | SnapshotState::Deleted
                ) {
                    out.push(found(
                        now,
                        format!(
                            "shadow {snapshot} is left {} at the end of a finished run",
                            state.name()
                        ),
                    ));
                }
            }
            return;
        }
        if let Fact::SnapshotState {
            set_id,
            snapshot,
            state: next,
            ..
        } = fact
        {
            let prev = self
                .state
                .insert(*snapshot, *next)
                .unwrap_or(SnapshotState::Unknown);
            if !is_legal(prev, *next) {
                out.push(found(
                    now,
                    format!(
                        "shadow {snapshot} of set {set_id}: {} -> {} is not in the snapshot state graph",
                        prev.name(),
                        next.name()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{C, judge};
    use super::{CHAIN, is_legal};
    use crate::fact::{EndReason, Fact};
    use model::ids::Guid;
    use model::vss::SnapshotState;

    const NAME: &str = "snapshot_state_graph";

    fn to(id: u128, state: SnapshotState) -> Fact {
        Fact::SnapshotState {
            set_id: Guid(1),
            snapshot: Guid(id),
            volume: C,
            state,
        }
    }

    #[test]
    fn the_whole_way_to_created_then_deleted_raises_nothing() {
        let mut facts: Vec<(u64, Fact)> = CHAIN[1..]
            .iter()
            .enumerate()
            .map(|(t, s)| (t as u64, to(7, *s)))
            .collect();
        facts.push((20, to(7, SnapshotState::Deleted)));
        // Another shadow aborted while being prepared.
        facts.push((21, to(8, SnapshotState::Preparing)));
        facts.push((22, to(8, SnapshotState::ProcessingPrepare)));
        facts.push((23, to(8, SnapshotState::Aborted)));
        let v = judge(NAME, facts);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn a_skipped_step_a_step_back_and_a_move_after_the_end_are_reported() {
        let skipped = vec![
            (0, to(7, SnapshotState::Preparing)),
            (1, to(7, SnapshotState::ProcessingPrecommit)),
        ];
        assert_eq!(judge(NAME, skipped).len(), 1);
        let first_not_preparing = vec![(0, to(7, SnapshotState::ProcessingCommit))];
        assert_eq!(judge(NAME, first_not_preparing).len(), 1);
        let after_abort = vec![
            (0, to(7, SnapshotState::Preparing)),
            (1, to(7, SnapshotState::Aborted)),
            (2, to(7, SnapshotState::ProcessingPrepare)),
        ];
        assert_eq!(judge(NAME, after_abort).len(), 1);
    }

    #[test]
    fn a_shadow_copy_left_half_made_when_the_run_finishes_is_reported() {
        let ending = |reason| Fact::Ending { reason };
        let half = vec![
            (0, to(7, SnapshotState::Preparing)),
            (1, to(7, SnapshotState::ProcessingPrepare)),
            (2, ending(EndReason::Finished)),
        ];
        assert_eq!(judge(NAME, half).len(), 1);
        // A run cut by its limits may stop anywhere.
        let cut = vec![
            (0, to(7, SnapshotState::Preparing)),
            (1, ending(EndReason::TimeLimit)),
        ];
        assert!(judge(NAME, cut).is_empty());
        let done = vec![
            (0, to(7, SnapshotState::Preparing)),
            (1, to(7, SnapshotState::Aborted)),
            (2, ending(EndReason::Finished)),
        ];
        assert!(judge(NAME, done).is_empty());
    }

    #[test]
    fn aborted_and_deleted_come_only_from_their_states() {
        assert!(!is_legal(SnapshotState::Unknown, SnapshotState::Aborted));
        assert!(is_legal(
            SnapshotState::ProcessingPostfinalcommit,
            SnapshotState::Aborted
        ));
        assert!(!is_legal(SnapshotState::Created, SnapshotState::Aborted));
        assert!(!is_legal(
            SnapshotState::Precommitted,
            SnapshotState::Deleted
        ));
        assert!(is_legal(SnapshotState::Committed, SnapshotState::Deleted));
        assert!(!is_legal(SnapshotState::Deleted, SnapshotState::Deleted));
        assert!(!is_legal(SnapshotState::Aborted, SnapshotState::Aborted));
    }
}
