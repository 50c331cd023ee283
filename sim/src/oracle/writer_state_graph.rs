//! `writer_state_graph`: every writer state change is an edge of the writer state graph
//! (`vss-sim graph writer`).

use model::graph::WriterStateGraph;
use model::machine::Machine;
use model::time::Instant;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "writer_state_graph",
        description: "every writer state change is an edge of the writer state graph",
        rule: "S3, S4, S5, S6, S7, S8, S9",
    },
    sees: FactKind::set(&[FactKind::StateChanged]),
    build,
};

fn build(_: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(WriterStateGraphOracle {
        graph: WriterStateGraph::shared(),
    })
}

struct WriterStateGraphOracle {
    graph: &'static WriterStateGraph,
}

impl Oracle for WriterStateGraphOracle {
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        if let Fact::StateChanged {
            writer,
            event,
            prev,
            next,
            ..
        } = fact
            && !self.graph.is_legal(*prev, *event, *next)
        {
            out.push(found(
                now,
                format!(
                    "{}: {} -> {} on {} is not in the writer state graph",
                    machine.writers[writer.idx()].name,
                    prev.name(),
                    next.name(),
                    event.name()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{W, judge};
    use crate::fact::Fact;
    use model::vss::{Hresult, WriterEvent, WriterState};

    #[test]
    fn an_illegal_writer_transition_is_reported() {
        let change = |prev, next| Fact::StateChanged {
            writer: W,
            event: WriterEvent::Thaw,
            prev,
            next,
            last_error: Hresult::Ok,
            rule: "6",
        };
        let bad = change(WriterState::Stable, WriterState::WaitingForBackupComplete);
        assert_eq!(judge("writer_state_graph", vec![(1, bad)]).len(), 1);
        let ok = change(
            WriterState::WaitingForThaw,
            WriterState::WaitingForPostSnapshot,
        );
        assert!(judge("writer_state_graph", vec![(1, ok)]).is_empty());
    }
}
