//! `vss-sim fuzz`: a swarm search of fault space with every oracle on.
//!
//! Case `i` of a campaign with seed `S` draws its [`Plan`] from a ChaCha
//! stream seeded by `(S, i)` alone, so a case is the same whichever shard or worker runs it and
//! whatever ran before it. Each case runs once, trace off; its violations and findings are
//! counted. The lowest failing case is shrunk ([`shrink`]) and written as a scenario that
//! replays it. The campaign reads the wall clock only for its progress line and `cases_per_sec`
//! (nothing it reads feeds back into a case).

pub mod cli;
pub mod exhaustive;
pub mod shrink;

use std::collections::BTreeMap;
use std::path::PathBuf;

use model::requester::Flaw;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;

use crate::situation;
use crate::strategy::{Plan, swarm};
use crate::trace::Trace;
use crate::world::World;

/// What a campaign runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cases in the whole campaign (all shards together).
    pub cases: u64,
    /// The campaign's seed.
    pub seed: u64,
    /// The requester under test (`None`: the correct standard requester).
    pub flaw: Option<Flaw>,
    /// Worker threads.
    pub jobs: usize,
    /// This shard, 1-based, of how many: it runs the cases `i` with `i % n == k - 1`.
    pub shard: (u64, u64),
    /// Where a failing case's minimal scenario goes.
    pub out: PathBuf,
}

/// What one case did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseResult {
    /// The case number.
    pub case: u64,
    /// The oracles that fired, each once, in the order they first fired.
    pub violations: Vec<&'static str>,
    /// The findings made, with repeats.
    pub findings: Vec<&'static str>,
    /// Events the run dispatched.
    pub events: u64,
    /// The situations it reached ([`crate::situation`]), as bits.
    pub situations: u64,
}

/// The plan of case `case` of a campaign seeded `seed`, with its shrinking state.
pub fn case_tree(seed: u64, case: u64) -> impl ValueTree<Value = Plan> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&case.to_le_bytes());
    bytes[16..].copy_from_slice(b"vss-sim fuzz\0\0\0\0");
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    swarm()
        .new_tree(&mut runner)
        .expect("the swarm strategy always draws a plan")
}

/// Runs `plan` with `flaw`'s requester; what it found.
pub fn run_plan(plan: &Plan, case: u64, flaw: Option<Flaw>) -> CaseResult {
    let s = plan.build(&case_name(case), flaw);
    let j = judge(&s);
    CaseResult {
        case,
        violations: j.violations,
        findings: j.findings,
        events: j.events,
        situations: j.situations,
    }
}

/// What one run of a search found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    /// The oracles that fired, each once, in the order they first fired.
    pub violations: Vec<&'static str>,
    /// The findings made, with repeats, in the order they were made.
    pub findings: Vec<&'static str>,
    /// Events the run dispatched.
    pub events: u64,
    /// The situations it reached ([`crate::situation`]), as bits.
    pub situations: u64,
}

/// Runs `s` once with its own seed as a search does: trace off, every oracle on, situations
/// watched.
pub fn judge(s: &crate::scenario::Scenario) -> Judged {
    let mut world = World::new(s, s.seed, Trace::off());
    world.watch_situations();
    world.run();
    let mut violations: Vec<&'static str> = Vec::new();
    for v in world.violations() {
        if !violations.contains(&v.name) {
            violations.push(v.name);
        }
    }
    Judged {
        violations,
        findings: world.findings().iter().map(|f| f.name).collect(),
        events: world.steps(),
        situations: world.situations(),
    }
}

/// The scenario name of case `case`.
pub fn case_name(case: u64) -> String {
    format!("fuzz-case-{case}")
}

/// A campaign's totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Cases run.
    pub cases: u64,
    /// Cases in which each oracle fired.
    pub violations: BTreeMap<String, u64>,
    /// Findings of each name.
    pub findings: BTreeMap<String, u64>,
    /// Events of all cases.
    pub events: u64,
    /// The lowest failing case, with the first oracle that fired in it.
    pub first_failure: Option<(u64, &'static str)>,
    /// Cases that reached each situation, indexed like [`crate::situation::name`].
    pub coverage: [u64; situation::COUNT],
}

impl Default for Totals {
    fn default() -> Totals {
        Totals {
            cases: 0,
            violations: BTreeMap::new(),
            findings: BTreeMap::new(),
            events: 0,
            first_failure: None,
            coverage: [0; situation::COUNT],
        }
    }
}

impl Totals {
    fn add(&mut self, r: &CaseResult) {
        self.cases += 1;
        self.events += r.events;
        for v in &r.violations {
            *self.violations.entry((*v).to_string()).or_default() += 1;
        }
        for f in &r.findings {
            *self.findings.entry((*f).to_string()).or_default() += 1;
        }
        if let Some(first) = r.violations.first()
            && self.first_failure.is_none_or(|(c, _)| r.case < c)
        {
            self.first_failure = Some((r.case, first));
        }
        for (i, n) in self.coverage.iter_mut().enumerate() {
            *n += (r.situations >> i) & 1;
        }
    }

    /// Each situation's name → the cases that reached it (every situation, reached or not).
    pub fn coverage_map(&self) -> BTreeMap<String, u64> {
        situation::names().zip(self.coverage).collect()
    }
}

/// The cases of this shard, in order.
pub fn shard_cases(o: &Options) -> impl Iterator<Item = u64> + Clone {
    let (k, n) = o.shard;
    (0..o.cases).filter(move |i| i % n == k - 1)
}

/// Runs every case of the shard on `jobs` workers, calling `progress` with the totals so far
/// (from the calling thread). The totals do not depend on `jobs`.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // determinism-ok: cases run in parallel; each is deterministic on its own and the totals are a sum.
pub fn run_cases(o: &Options, mut progress: impl FnMut(&Totals)) -> Totals {
    let cases: Vec<u64> = shard_cases(o).collect();
    let jobs = o.jobs.max(1).min(cases.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<CaseResult>();
    let mut totals = Totals::default();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, cases) = (&next, &cases);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&case) = cases.get(i) else { break };
                    let plan = case_tree(o.seed, case).current();
                    if tx.send(run_plan(&plan, case, o.flaw)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for r in rx {
            totals.add(&r);
            progress(&totals);
        }
    });
    totals
}

/// A case whose two runs differed: the first trace line where they part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The case number.
    pub case: u64,
    /// The 1-based trace line where the runs part.
    pub line: usize,
    /// That line in the first run and in the second (empty past the end).
    pub first: String,
    /// The second run's line.
    pub second: String,
}

/// The JSONL trace of `plan`'s run.
fn trace_bytes(plan: &Plan, case: u64, flaw: Option<Flaw>) -> Vec<u8> {
    let s = plan.build(&case_name(case), flaw);
    let mut world = World::new(&s, s.seed, Trace::on(true, false));
    world.run();
    world.rec.trace.finish().1.unwrap_or_default()
}

/// Runs each of `sample` cases of the shard twice (each time from a fresh draw of its plan)
/// and compares the traces byte for byte: the number of cases checked, or the first
/// difference.
pub fn check_determinism(o: &Options, sample: u64) -> Result<u64, Mismatch> {
    let mut n = 0;
    for case in shard_cases(o).take(usize::try_from(sample).unwrap_or(usize::MAX)) {
        let a = trace_bytes(&case_tree(o.seed, case).current(), case, o.flaw);
        let b = trace_bytes(&case_tree(o.seed, case).current(), case, o.flaw);
        if a != b {
            let (la, lb): (Vec<&[u8]>, Vec<&[u8]>) = (
                a.split(|c| *c == b'\n').collect(),
                b.split(|c| *c == b'\n').collect(),
            );
            let i = (0..la.len().max(lb.len()))
                .find(|i| la.get(*i) != lb.get(*i))
                .unwrap_or(0);
            let text = |l: Option<&&[u8]>| {
                l.map_or(String::new(), |l| String::from_utf8_lossy(l).into_owned())
            };
            return Err(Mismatch {
                case,
                line: i + 1,
                first: text(la.get(i)),
                second: text(lb.get(i)),
            });
        }
        n += 1;
    }
    Ok(n)
}

/// `fuzz --json`.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct FuzzJson {
    /// Cases run.
    pub cases: u64,
    /// Events of all cases (what `fuzz merge` sums to recompute `events_per_case`).
    #[serde(default)]
    pub events: u64,
    /// Each oracle that fired → the cases it fired in; `{}` when none.
    pub violations: BTreeMap<String, u64>,
    /// Each finding → how many were made.
    pub findings: BTreeMap<String, u64>,
    /// Cases per second of wall time (generation, run and judgement).
    pub cases_per_sec: f64,
    /// Mean events per case.
    pub events_per_case: f64,
    /// The lowest failing case, shrunk: `null` when none failed.
    pub first_failure: Option<FailureJson>,
    /// Each situation ([`crate::situation`]) → the cases that reached it; every situation is
    /// listed, `0` for one never reached.
    #[serde(default)]
    pub coverage: BTreeMap<String, u64>,
}

/// `first_failure`.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FailureJson {
    /// The case number.
    pub case: u64,
    /// The oracle that fired.
    pub oracle: String,
    /// The minimal scenario written.
    pub scenario_path: String,
    /// The seed to replay it with.
    pub seed: u64,
}

/// Combines the `--json` results of the shards of one campaign into the result of the whole:
/// cases, events, violations and findings summed, the lowest failing case kept, and the rates
/// recomputed (`cases_per_sec` as the shards' sum: they run side by side).
pub fn merge(parts: &[FuzzJson]) -> FuzzJson {
    let mut m = FuzzJson {
        cases: 0,
        events: 0,
        violations: BTreeMap::new(),
        findings: BTreeMap::new(),
        cases_per_sec: 0.0,
        events_per_case: 0.0,
        first_failure: None,
        coverage: BTreeMap::new(),
    };
    for p in parts {
        m.cases += p.cases;
        m.events += p.events;
        m.cases_per_sec += p.cases_per_sec;
        for (k, v) in &p.violations {
            *m.violations.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &p.findings {
            *m.findings.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &p.coverage {
            *m.coverage.entry(k.clone()).or_default() += v;
        }
        if let Some(f) = &p.first_failure
            && m.first_failure.as_ref().is_none_or(|g| f.case < g.case)
        {
            m.first_failure = Some(f.clone());
        }
    }
    m.cases_per_sec = (m.cases_per_sec * 10.0).round() / 10.0;
    m.events_per_case = if m.cases == 0 {
        0.0
    } else {
        (m.events as f64 / m.cases as f64 * 10.0).round() / 10.0
    };
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_is_the_same_whoever_draws_it() {
        let a = case_tree(7, 3).current();
        let _ = case_tree(7, 2).current();
        assert_eq!(case_tree(7, 3).current(), a);
        assert_ne!(case_tree(7, 4).current(), a);
        assert_ne!(case_tree(8, 3).current(), a);
    }

    #[test]
    fn a_sample_of_cases_replays_byte_for_byte() {
        let o = Options {
            cases: 20,
            seed: 3,
            flaw: None,
            jobs: 1,
            shard: (1, 1),
            out: PathBuf::new(),
        };
        assert_eq!(check_determinism(&o, 20), Ok(20));
    }

    #[test]
    fn shards_partition_the_cases() {
        let o = |k| Options {
            cases: 10,
            seed: 0,
            flaw: None,
            jobs: 1,
            shard: (k, 3),
            out: PathBuf::new(),
        };
        let mut all: Vec<u64> = (1..=3)
            .flat_map(|k| shard_cases(&o(k)).collect::<Vec<_>>())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
