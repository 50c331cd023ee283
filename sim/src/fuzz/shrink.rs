//! Shrinking a failing case to the few things that matter, and writing it as a scenario that
//! replays it.
//!
//! Two passes, each keeping a change only while the same oracle still fires: first proptest's
//! own shrinking of the plan (fewer volumes, writers, workloads and faults; smaller numbers),
//! then delta debugging over the built scenario's injected faults
//! ([`Scenario::faults`](crate::scenario::Scenario::faults)), removing one at a time.

use std::path::{Path, PathBuf};

use model::requester::Flaw;
use model::time::Instant;
use proptest::strategy::ValueTree;
use serde::Serialize;

use super::{case_name, case_tree};
use crate::scenario::Scenario;
use crate::trace::Trace;
use crate::world::World;

/// Most plan runs one shrink may take.
const MAX_SHRINK_RUNS: u32 = 4_096;

/// The commit this binary was built from (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("VSS_SIM_COMMIT");

/// A failing case at its smallest.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The case number.
    pub case: u64,
    /// The oracle that fires.
    pub oracle: &'static str,
    /// The minimal scenario (its `seed` is the run's).
    pub scenario: Scenario,
    /// Injected faults of the case as drawn, and of the minimal scenario.
    pub faults: (usize, usize),
    /// When the oracle first fires in the minimal scenario, and at which event.
    pub at: Instant,
    /// The event number (steps dispatched) when it fired.
    pub event: u64,
    /// What the oracle said.
    pub detail: String,
    /// Runs the shrinking took.
    pub runs: u32,
}

/// Whether `s` makes `oracle` fire.
fn fires(s: &Scenario, oracle: &str) -> bool {
    let mut w = World::new(s, s.seed, Trace::off());
    w.run();
    w.violations().iter().any(|v| v.name == oracle)
}

/// Shrinks case `case` of the campaign seeded `seed`, in which `oracle` fired with `flaw`'s
/// requester.
pub fn shrink(seed: u64, case: u64, oracle: &'static str, flaw: Option<Flaw>) -> Shrunk {
    let tree = case_tree(seed, case);
    let drawn = tree.current().build(&case_name(case), flaw);
    let before = drawn.faults().len();
    let (s, runs) = minimize(
        tree,
        |p| p.build(&case_name(case), flaw),
        |s| fires(s, oracle),
    );
    let (at, event, detail) = locate(&s, oracle);
    let after = s.faults().len();
    Shrunk {
        case,
        oracle,
        scenario: s,
        faults: (before, after),
        at,
        event,
        detail,
        runs,
    }
}

/// Shrinks the plan of `tree` (whose current plan fails) to a smallest failing scenario: first
/// proptest's simplify/complicate loop over the plan, then delta debugging over the built
/// scenario's faults, keeping each change only while `fails` still holds. `build` makes a
/// plan's scenario. Returns the scenario and the runs it took.
pub fn minimize(
    mut tree: impl ValueTree<Value = crate::strategy::Plan>,
    build: impl Fn(&crate::strategy::Plan) -> Scenario,
    mut fails: impl FnMut(&Scenario) -> bool,
) -> (Scenario, u32) {
    // proptest's loop: simplify while it still fails, complicate when it stops failing.
    let mut best = tree.current();
    let mut runs = 0;
    if tree.simplify() {
        while runs < MAX_SHRINK_RUNS {
            runs += 1;
            let current = tree.current();
            if fails(&build(&current)) {
                best = current;
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
    }
    let mut s = build(&best);
    // Delta debugging over the faults: drop each one the failure does not need.
    'again: loop {
        for f in s.faults() {
            let t = s.without_fault(&f);
            runs += 1;
            if fails(&t) {
                s = t;
                continue 'again;
            }
        }
        break;
    }
    (s, runs)
}

/// Steps `s` until `oracle` fires: when, at which event, and what it said.
fn locate(s: &Scenario, oracle: &str) -> (Instant, u64, String) {
    let mut w = World::new(s, s.seed, Trace::off());
    loop {
        let ended = w.step().is_some();
        if let Some(v) = w.violations().iter().find(|v| v.name == oracle) {
            return (v.at, w.steps(), v.detail.clone());
        }
        if ended {
            return (w.now(), w.steps(), String::new());
        }
    }
}

/// The JSON written beside a minimal scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ShrunkJson {
    /// The oracle that fires.
    pub oracle: String,
    /// What it said.
    pub detail: String,
    /// Virtual time it fired at, in µs.
    pub t_us: u64,
    /// The event number it fired at.
    pub event: u64,
    /// The command that replays it.
    pub replay: String,
    /// The commit of the binary that found it.
    pub commit: String,
    /// The campaign's seed and the case number.
    pub campaign_seed: u64,
    /// The case number.
    pub case: u64,
    /// The requester under test.
    pub requester: String,
    /// Injected faults of the case as drawn.
    pub faults_before: usize,
    /// Injected faults of the minimal scenario.
    pub faults_after: usize,
    /// The faults that remain, as text.
    pub faults: Vec<String>,
}

impl Shrunk {
    /// The path of the minimal scenario under `out`.
    pub fn path(&self, out: &Path) -> PathBuf {
        out.join(format!("{}-{}.toml", case_name(self.case), self.oracle))
    }

    /// The command that replays it.
    pub fn replay(&self, path: &Path) -> String {
        format!(
            "vss-sim run {} --seed {}",
            path.display(),
            self.scenario.seed
        )
    }

    /// The scenario's text: a header saying where it comes from, then its canonical form
    /// (its `[expect]` is empty, so the replay fails on the violation).
    pub fn text(&self, campaign_seed: u64) -> String {
        let mut t = format!(
            "# Found by `vss-sim fuzz --seed {campaign_seed}` (case {}, commit {COMMIT}): \
             {} fires.\n# {}\n# Shrunk from {} injected faults to {}.\n",
            self.case,
            self.oracle,
            self.detail.replace('\n', " "),
            self.faults.0,
            self.faults.1
        );
        t.push_str(&self.scenario.to_toml());
        t
    }

    /// The JSON beside it.
    pub fn json(&self, path: &Path, campaign_seed: u64, requester: &str) -> ShrunkJson {
        ShrunkJson {
            oracle: self.oracle.to_string(),
            detail: self.detail.clone(),
            t_us: self.at.as_us(),
            event: self.event,
            replay: self.replay(path),
            commit: COMMIT.to_string(),
            campaign_seed,
            case: self.case,
            requester: requester.to_string(),
            faults_before: self.faults.0,
            faults_after: self.faults.1,
            faults: self
                .scenario
                .faults()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// The report block for people.
    pub fn report(&self, path: &Path) -> String {
        format!(
            "violation: {}\n  {}\n  at virtual time {}, event {}\n  faults: {} drawn, {} after \
             shrinking ({} runs)\n  commit: {COMMIT}\n  scenario: {}\nreplay: {}\n",
            self.oracle,
            self.detail,
            self.at,
            self.event,
            self.faults.0,
            self.faults.1,
            self.runs,
            path.display(),
            self.replay(path)
        )
    }
}
