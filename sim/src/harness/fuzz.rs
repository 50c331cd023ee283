//! Fault search over your own code: the fuzzer's machines (`sim::strategy::swarm`: faulty
//! writers and providers, applications, a second requester, bounded diff areas, a process that
//! goes away, healing), each run with your roles plugged in, the first failing case shrunk the
//! way `vss-sim fuzz` shrinks one, and written as a scenario that replays it.

use std::path::{Path, PathBuf};

use proptest::strategy::ValueTree;

use super::{Outcome, Simulation};
use crate::fuzz::shrink::minimize;
use crate::fuzz::{case_name, case_tree};
use crate::guest::GuestError;
use crate::scenario::Scenario;

/// A search: how many cases, from which seed (case `i` is drawn from the seed and `i` alone,
/// as `vss-sim fuzz` draws it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fuzz {
    /// Cases to run.
    pub cases: u64,
    /// The campaign's seed.
    pub seed: u64,
}

/// The smallest failing case a search found.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The case that failed first.
    pub case: u64,
    /// The shrunk scenario (its machine; your roles are plugged in again to replay it). Its
    /// `seed` is the run's.
    pub scenario: Scenario,
    /// What failed: the oracles that fired, or the guest error.
    pub reason: String,
    /// Runs the shrinking took.
    pub runs: u32,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "case {} failed: {}\nshrunk in {} runs to this machine (replay: \
             Simulation::from_scenario(failure.scenario) with the same roles, or save it with \
             Failure::write and load it with Simulation::from_file):\n{}",
            self.case,
            self.reason,
            self.runs,
            self.scenario.to_toml()
        )
    }
}

impl Failure {
    /// Writes the shrunk scenario into `dir` as `<scenario name>.toml` (atomically: a temporary
    /// file renamed); the path.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.toml", self.scenario.name));
        let tmp = dir.join(format!(".{}.toml.tmp", self.scenario.name));
        std::fs::write(&tmp, self.scenario.to_toml())?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }
}

/// Why one run failed, if it did: its violations, or its guest error.
fn failed(run: Result<Outcome, GuestError>) -> Option<String> {
    match run {
        Ok(out) if out.violations.is_empty() => None,
        Ok(out) => {
            let mut names: Vec<&str> = Vec::new();
            for v in &out.violations {
                if !names.contains(&v.name) {
                    names.push(v.name);
                }
            }
            let first = &out.violations[0];
            Some(format!(
                "{} ({} at {}: {})",
                names.join(", "),
                first.name,
                first.at,
                first.detail
            ))
        }
        Err(e) => Some(e.to_string()),
    }
}

impl Fuzz {
    /// `cases` cases from `seed`.
    pub fn new(cases: u64, seed: u64) -> Fuzz {
        Fuzz { cases, seed }
    }

    /// Runs every case with your roles: `roles` is given each drawn machine as a
    /// [`Simulation`] and plugs them in (its standard requester is called `backup`, a second
    /// one `backup2`, its writers `Writer0`…; take one over by its name). A case fails when an
    /// oracle fires or guest code fails. Returns the cases run, or the first failure shrunk.
    pub fn run(&self, roles: impl Fn(Simulation) -> Simulation) -> Result<u64, Box<Failure>> {
        let run = |s: &Scenario| {
            failed(
                roles(Simulation::from_scenario(s.clone()))
                    .record(false)
                    .run(),
            )
        };
        for case in 0..self.cases {
            let tree = case_tree(self.seed, case);
            let name = case_name(case);
            let drawn = tree.current().build(&name, None);
            let Some(_) = run(&drawn) else {
                continue;
            };
            let (scenario, runs) = minimize(tree, |p| p.build(&name, None), |s| run(s).is_some());
            let reason = run(&scenario).unwrap_or_else(|| "(no longer fails)".into());
            return Err(Box::new(Failure {
                case,
                scenario,
                reason,
                runs,
            }));
        }
        Ok(self.cases)
    }
}
