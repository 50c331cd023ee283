//! The writer state graph: every legal `VSS_WRITER_STATE` change, labelled with every event
//! that causes it. The simulation checks each state change of a run against it (invariant
//! `writer_state_graph`) and `vss-sim graph writer` prints it as DOT.
//!
//! Sources: rules S3-S9 (the state each event leads to) and rules 5-11 and 14.

use petgraph::graph::{DiGraph, NodeIndex};

use crate::vss::{WriterEvent, WriterState};

/// States a writer can be in during a backup (restore states come with the restore work).
pub const STATES: [WriterState; 13] = [
    WriterState::Stable,
    WriterState::WaitingForFreeze,
    WriterState::WaitingForThaw,
    WriterState::WaitingForPostSnapshot,
    WriterState::WaitingForBackupComplete,
    WriterState::FailedAtIdentify,
    WriterState::FailedAtPrepareBackup,
    WriterState::FailedAtPrepareSnapshot,
    WriterState::FailedAtFreeze,
    WriterState::FailedAtThaw,
    WriterState::FailedAtPostSnapshot,
    WriterState::FailedAtBackupComplete,
    WriterState::FailedAtBackupshutdown,
];

/// The graph, with a dense lookup table for the per-step check.
#[derive(Clone, Debug)]
pub struct WriterStateGraph {
    /// One edge per pair of distinct states, weighted with every event that takes it, in
    /// [`WriterEvent::ALL`] order.
    graph: DiGraph<WriterState, Vec<WriterEvent>>,
    nodes: Vec<(WriterState, NodeIndex)>,
    /// `legal[event][prev][next]`, indices by `code()`.
    legal: Vec<[[bool; 17]; 17]>,
}

impl Default for WriterStateGraph {
    fn default() -> Self {
        Self::new()
    }
}

impl WriterStateGraph {
    /// Builds the graph of the default profile.
    pub fn new() -> WriterStateGraph {
        use WriterEvent as E;
        use WriterState as S;
        let mut edges: Vec<(S, E, S)> = vec![
            (S::Stable, E::PrepareForSnapshot, S::WaitingForFreeze),
            (S::WaitingForFreeze, E::Freeze, S::WaitingForThaw),
            (S::WaitingForThaw, E::Thaw, S::WaitingForPostSnapshot),
            (
                S::WaitingForPostSnapshot,
                E::PostSnapshot,
                S::WaitingForBackupComplete,
            ),
            (S::WaitingForBackupComplete, E::BackupComplete, S::Stable),
            // Handler failures and timeouts (rules 5, 6, 8, 11).
            (S::Stable, E::PrepareForBackup, S::FailedAtPrepareBackup),
            (S::Stable, E::PrepareForSnapshot, S::FailedAtPrepareSnapshot),
            (S::WaitingForFreeze, E::Freeze, S::FailedAtFreeze),
            // Rule 7: the freeze window ends before Thaw (answered Freeze or still inside it).
            (S::WaitingForThaw, E::Freeze, S::FailedAtFreeze),
            (S::WaitingForThaw, E::Thaw, S::FailedAtThaw),
            (
                S::WaitingForPostSnapshot,
                E::PostSnapshot,
                S::FailedAtPostSnapshot,
            ),
            (
                S::WaitingForBackupComplete,
                E::BackupComplete,
                S::FailedAtBackupComplete,
            ),
            // Rule 14 (and 16): aborted creation returns the writer to STABLE.
            (S::WaitingForFreeze, E::Abort, S::Stable),
            (S::WaitingForThaw, E::Abort, S::Stable),
            (S::WaitingForPostSnapshot, E::Abort, S::Stable),
        ];
        for s in STATES {
            // Rule 9: PrepareForBackup of a new session resets any state.
            edges.push((s, E::PrepareForBackup, S::Stable));
            // Identify can arrive at any time (rule S2); a failure shows as FAILED_AT_IDENTIFY.
            edges.push((s, E::Identify, S::FailedAtIdentify));
            edges.push((s, E::BackupShutdown, S::FailedAtBackupshutdown));
            // Rule 11: a last error may change without a state change (Abort not responding).
            for e in WriterEvent::ALL {
                edges.push((s, *e, s));
            }
        }
        // KB 915331's race (profile knob): the timer fires after Thaw was delivered.
        edges.push((S::WaitingForPostSnapshot, E::Freeze, S::FailedAtFreeze));

        let mut graph = DiGraph::new();
        let nodes: Vec<(S, NodeIndex)> = STATES.iter().map(|s| (*s, graph.add_node(*s))).collect();
        let node = |s: S| {
            nodes
                .iter()
                .find(|(n, _)| *n == s)
                .map(|(_, i)| *i)
                .expect("state node")
        };
        let mut legal = vec![[[false; 17]; 17]; WriterEvent::ALL.len()];
        for (a, e, b) in edges {
            legal[e.code() as usize][a.code() as usize][b.code() as usize] = true;
            if a != b {
                let (na, nb) = (node(a), node(b));
                match graph.find_edge(na, nb) {
                    Some(edge) => {
                        let events: &mut Vec<WriterEvent> = &mut graph[edge];
                        if !events.contains(&e) {
                            events.push(e);
                            events.sort_by_key(|ev| ev.code());
                        }
                    }
                    None => {
                        graph.add_edge(na, nb, vec![e]);
                    }
                }
            }
        }
        WriterStateGraph {
            graph,
            nodes,
            legal,
        }
    }

    /// The graph, built once per process and shared read-only by every run.
    pub fn shared() -> &'static WriterStateGraph {
        static GRAPH: std::sync::OnceLock<WriterStateGraph> = std::sync::OnceLock::new();
        GRAPH.get_or_init(WriterStateGraph::new)
    }

    /// Whether `event` may move a writer from `prev` to `next`.
    pub fn is_legal(&self, prev: WriterState, event: WriterEvent, next: WriterState) -> bool {
        let (e, p, n) = (
            event.code() as usize,
            prev.code() as usize,
            next.code() as usize,
        );
        e < self.legal.len() && p < 17 && n < 17 && self.legal[e][p][n]
    }

    /// The graph as Graphviz DOT, states named as VSS spells them. An edge taken by several
    /// events is labelled with all of them, one per line, in [`WriterEvent::ALL`] order.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph writer_state {\n  rankdir=LR;\n");
        for (state, idx) in &self.nodes {
            s.push_str(&format!(
                "  n{} [label=\"{}\"];\n",
                idx.index(),
                state.name()
            ));
        }
        for e in self.graph.edge_indices() {
            let (a, b) = self.graph.edge_endpoints(e).expect("edge");
            let label: Vec<&str> = self.graph[e].iter().map(|ev| ev.name()).collect();
            s.push_str(&format!(
                "  n{} -> n{} [label=\"{}\"];\n",
                a.index(),
                b.index(),
                label.join("\\n")
            ));
        }
        s.push_str("}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_is_legal_and_shortcuts_are_not() {
        let g = WriterStateGraph::new();
        assert!(g.is_legal(
            WriterState::Stable,
            WriterEvent::PrepareForSnapshot,
            WriterState::WaitingForFreeze
        ));
        assert!(g.is_legal(
            WriterState::WaitingForThaw,
            WriterEvent::Freeze,
            WriterState::FailedAtFreeze
        ));
        assert!(!g.is_legal(
            WriterState::Stable,
            WriterEvent::Freeze,
            WriterState::WaitingForThaw
        ));
        assert!(!g.is_legal(
            WriterState::Stable,
            WriterEvent::Thaw,
            WriterState::WaitingForPostSnapshot
        ));
        assert!(g.to_dot().contains("VSS_WS_WAITING_FOR_FREEZE"));
    }

    /// The DOT label of the edge `from -> to`.
    fn dot_label(dot: &str, from: WriterState, to: WriterState) -> String {
        let id = |s: WriterState| {
            let want = format!("[label=\"{}\"];", s.name());
            dot.lines()
                .find(|l| l.trim_start().starts_with('n') && l.ends_with(&want))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_else(|| panic!("no node {} in:\n{dot}", s.name()))
                .to_string()
        };
        let prefix = format!("{} -> {} [label=\"", id(from), id(to));
        let line = dot
            .lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no edge {prefix} in:\n{dot}"));
        line[prefix.len()..].trim_end_matches("\"];").to_string()
    }

    #[test]
    fn an_edge_taken_by_several_events_shows_them_all() {
        let dot = WriterStateGraph::new().to_dot();
        // BackupComplete ends a backup; PrepareForBackup of the next session resets (rule 9).
        assert_eq!(
            dot_label(
                &dot,
                WriterState::WaitingForBackupComplete,
                WriterState::Stable
            ),
            "OnPrepareBackup\\nOnBackupComplete"
        );
        assert_eq!(
            dot_label(
                &dot,
                WriterState::WaitingForThaw,
                WriterState::FailedAtFreeze
            ),
            "OnFreeze"
        );
        // Every event of the graph's edge list shows on its edge.
        let g = WriterStateGraph::new();
        for e in g.graph.edge_indices() {
            let (a, b) = g.graph.edge_endpoints(e).expect("edge");
            let label = dot_label(&dot, g.graph[a], g.graph[b]);
            let names: Vec<&str> = g.graph[e].iter().map(|ev| ev.name()).collect();
            assert_eq!(label, names.join("\\n"));
        }
    }
}
