//! The `vss-sim fuzz` command: options in, a progress line on standard error, the result on
//! standard output, the minimal scenario of the lowest failing case under `--out`.
//!
//! Exit codes: 0 no oracle fired; 1 one did (the replay command is printed); 2 bad input.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use model::requester::{Flaw, STANDARD};

use super::shrink::shrink;
use super::{FailureJson, FuzzJson, Options, Totals, run_cases};
use crate::out;

/// The command line of `vss-sim fuzz`, as the CLI parsed it.
#[derive(Clone, Debug, Default)]
pub struct Args {
    /// `--cases` (default 1000).
    pub cases: Option<u64>,
    /// `--seed` (default 0).
    pub seed: Option<u64>,
    /// `--requester` (default `standard`).
    pub requester: Option<String>,
    /// `--jobs` (default 1).
    pub jobs: Option<usize>,
    /// `--shard K/N`.
    pub shard: Option<String>,
    /// `--shards N`: this shard is `JOB_COMPLETION_INDEX + 1` of N.
    pub shards: Option<u64>,
    /// `--out` (default `./vss-sim-failures/`).
    pub out: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
    /// `--list-requesters`.
    pub list_requesters: bool,
    /// `--check-determinism`: run a sample of the cases twice and compare their traces.
    pub check_determinism: bool,
    /// `--exhaustive K`: every plan of at most K faults instead of generated cases.
    pub exhaustive: Option<u32>,
    /// FILE: the machine `--exhaustive` searches (the built-in small machine when absent).
    pub file: Option<PathBuf>,
}

/// Cases `--check-determinism` runs twice (at most; fewer when the shard has fewer).
pub const DETERMINISM_SAMPLE: u64 = 200;

/// The requesters `--list-requesters` prints: the standard one, then the mutants.
pub fn requester_names() -> Vec<&'static str> {
    std::iter::once(STANDARD)
        .chain(Flaw::ALL.map(Flaw::name))
        .collect()
}

fn bad(msg: String) -> ExitCode {
    out::stderr_line(format_args!("vss-sim fuzz: {msg}"));
    ExitCode::from(2)
}

/// `K/N` with 1 ≤ K ≤ N.
fn parse_shard(s: &str) -> Option<(u64, u64)> {
    let (k, n) = s.split_once('/')?;
    let (k, n) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
    (k >= 1 && k <= n).then_some((k, n))
}

fn options(a: &Args) -> Result<Options, String> {
    let flaw = match a.requester.as_deref() {
        None | Some(STANDARD) => None,
        Some(name) => Some(Flaw::from_name(name).ok_or_else(|| {
            format!(
                "unknown requester `{name}`; `vss-sim fuzz --list-requesters` lists them: {}",
                requester_names().join(", ")
            )
        })?),
    };
    let shard = match (&a.shard, a.shards) {
        (Some(_), Some(_)) => return Err("give --shard K/N or --shards N, not both".into()),
        (Some(s), None) => parse_shard(s).ok_or_else(|| {
            format!("--shard `{s}`: expected K/N with 1 <= K <= N, for example --shard 2/4")
        })?,
        (None, Some(n)) => {
            let i = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                "--shards N takes this shard from JOB_COMPLETION_INDEX (0-based), which is not \
                 set; give --shard K/N instead"
                    .to_string()
            })?;
            let i: u64 = i.trim().parse().map_err(|_| {
                format!(
                    "JOB_COMPLETION_INDEX `{i}` is not a number from 0 to {}",
                    n.max(1) - 1
                )
            })?;
            if n == 0 || i >= n {
                return Err(format!(
                    "JOB_COMPLETION_INDEX {i} is not below --shards {n} (it is 0-based)"
                ));
            }
            (i + 1, n)
        }
        (None, None) => (1, 1),
    };
    let jobs = a.jobs.unwrap_or(1);
    if jobs == 0 {
        return Err("--jobs must be at least 1".into());
    }
    Ok(Options {
        cases: a.cases.unwrap_or(1_000),
        seed: a.seed.unwrap_or(0),
        flaw,
        jobs,
        shard,
        out: a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("vss-sim-failures")),
    })
}

/// Runs `vss-sim fuzz`.
pub fn main(a: &Args) -> ExitCode {
    if a.list_requesters {
        let text: String = requester_names().iter().map(|n| format!("{n}\n")).collect();
        return match out::stdout("fuzz", text.as_bytes()) {
            Ok(_) => ExitCode::SUCCESS,
            Err(failed) => failed,
        };
    }
    if a.exhaustive.is_some() || a.file.is_some() {
        return exhaustive_main(a);
    }
    let o = match options(a) {
        Ok(o) => o,
        Err(e) => return bad(e),
    };
    if a.check_determinism {
        let (text, code) = match super::check_determinism(&o, DETERMINISM_SAMPLE) {
            Ok(n) => (
                format!("determinism: {n} cases run twice, every trace identical\n"),
                ExitCode::SUCCESS,
            ),
            Err(m) => (
                format!(
                    "determinism: case {} differs at trace line {}:\n  first:  {}\n  second: \
                     {}\n",
                    m.case, m.line, m.first, m.second
                ),
                ExitCode::from(1),
            ),
        };
        return match out::stdout("fuzz", text.as_bytes()) {
            Ok(_) => code,
            Err(failed) => failed,
        };
    }
    let total = super::shard_cases(&o).count() as u64;
    let mut shown = Progress::start(total);
    let totals = run_cases(&o, |t| {
        shown.update(t.cases, |secs| progress(t, total, secs));
    });
    finish(&o, &totals, shown.secs(), a.json)
}

/// A campaign's progress line on standard error: one line updated in place on a terminal (at
/// most ten times a second), a plain line every 1 000 items otherwise, and always the last.
/// The wall clock it reads feeds nothing but that line and the rate in the result.
#[allow(clippy::disallowed_types)] // determinism-ok: the progress line and the rate read the wall clock; no case does.
pub(super) struct Progress {
    total: u64,
    terminal: bool,
    t0: std::time::Instant,
    last: f64,
}

#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // determinism-ok: the progress line and the rate read the wall clock; no case does.
impl Progress {
    /// Starts the clock for `total` items.
    pub(super) fn start(total: u64) -> Progress {
        Progress {
            total,
            terminal: std::io::stderr().is_terminal(),
            t0: std::time::Instant::now(), // determinism-ok: the progress line and the rate only
            last: 0.0,
        }
    }

    /// `done` items are done; `line` says so given the seconds so far.
    pub(super) fn update(&mut self, done: u64, line: impl FnOnce(f64) -> String) {
        let secs = self.secs();
        let finished = done == self.total;
        if self.terminal && (secs - self.last >= 0.1 || finished) {
            self.last = secs;
            out::stderr(format_args!("\r{}", line(secs)));
            if finished {
                out::stderr(format_args!("\n"));
            }
        } else if !self.terminal && (done % 1_000 == 0 || finished) {
            out::stderr_line(format_args!("{}", line(secs)));
        }
    }

    /// Seconds since the start.
    pub(super) fn secs(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }
}

/// `N/M cases, R cases/s, V violations, ETA Ts`.
fn progress(t: &Totals, total: u64, secs: f64) -> String {
    let rate = t.cases as f64 / secs.max(1e-9);
    let eta = total.saturating_sub(t.cases) as f64 / rate.max(1e-9);
    let violations: u64 = t.violations.values().sum();
    format!(
        "{}/{total} cases, {rate:.0} cases/s, {violations} violations, ETA {eta:.0}s  ",
        t.cases
    )
}

/// A search's verdict lines: each oracle that fired and in how many `items` (cases, plans),
/// the findings (made `xN` times, or `in N` items when `findings_per` names them), then the
/// coverage.
pub(super) fn verdict_text(
    violations: &std::collections::BTreeMap<String, u64>,
    items: &str,
    findings: &std::collections::BTreeMap<String, u64>,
    findings_per: Option<&str>,
    coverage: &[u64],
) -> String {
    let mut s = String::new();
    if violations.is_empty() {
        s.push_str("violations: none\n");
    }
    for (name, n) in violations {
        s.push_str(&format!("violations: {name} in {n} {items}\n"));
    }
    for (name, n) in findings {
        let times = findings_per.map_or(format!("x{n}"), |per| format!("in {n} {per}"));
        s.push_str(&format!(
            "findings (not violations, rule 33): {name} {times}\n"
        ));
    }
    s.push_str(&coverage_text(coverage));
    s
}

/// `coverage: R of N situations reached`, then the names of those never reached; `counts` is
/// indexed like [`crate::situation::name`] (a missing entry counts as never reached).
fn coverage_text(counts: &[u64]) -> String {
    let never: Vec<String> = crate::situation::names()
        .enumerate()
        .filter(|(i, _)| counts.get(*i).is_none_or(|n| *n == 0))
        .map(|(_, name)| name)
        .collect();
    let n = crate::situation::COUNT;
    let mut s = format!("coverage: {} of {n} situations reached\n", n - never.len());
    for name in never {
        s.push_str(&format!("  never reached: {name}\n"));
    }
    s
}

fn finish(o: &Options, t: &Totals, secs: f64, json: bool) -> ExitCode {
    let requester = o.flaw.map_or(STANDARD, Flaw::name);
    let mut report = String::new();
    let failure = match t.first_failure {
        None => None,
        Some((case, oracle)) => {
            let s = shrink(o.seed, case, oracle, o.flaw);
            let path = s.path(&o.out);
            let written = std::fs::create_dir_all(&o.out)
                .map_err(|e| format!("cannot create {}: {e}", o.out.display()))
                .and_then(|()| out::write_file(&path, s.text(o.seed).as_bytes(), None))
                .and_then(|()| {
                    let mut j = serde_json::to_string_pretty(&s.json(&path, o.seed, requester))
                        .expect("the report always serialises");
                    j.push('\n');
                    out::write_file(&path.with_extension("json"), j.as_bytes(), None)
                });
            if let Err(e) = written {
                return bad(e);
            }
            report = s.report(&path);
            Some(FailureJson {
                case,
                oracle: oracle.to_string(),
                scenario_path: path.display().to_string(),
                seed: s.scenario.seed,
            })
        }
    };
    let failed = failure.is_some();
    let text = if json {
        let j = FuzzJson {
            cases: t.cases,
            events: t.events,
            violations: t.violations.clone(),
            findings: t.findings.clone(),
            cases_per_sec: (t.cases as f64 / secs.max(1e-9) * 10.0).round() / 10.0,
            events_per_case: if t.cases == 0 {
                0.0
            } else {
                (t.events as f64 / t.cases as f64 * 10.0).round() / 10.0
            },
            first_failure: failure,
            coverage: t.coverage_map(),
        };
        if !report.is_empty() {
            out::stderr(format_args!("{report}"));
        }
        let mut s = serde_json::to_string(&j).expect("the result always serialises");
        s.push('\n');
        s
    } else {
        let mut s = format!(
            "{} cases with the {requester} requester, seed {}, shard {}/{}: {:.0} cases/s, {:.0} \
             events per case\n",
            t.cases,
            o.seed,
            o.shard.0,
            o.shard.1,
            t.cases as f64 / secs.max(1e-9),
            t.events as f64 / t.cases.max(1) as f64
        );
        s.push_str(&verdict_text(
            &t.violations,
            "cases",
            &t.findings,
            None,
            &t.coverage,
        ));
        s.push_str(&report);
        s
    };
    match out::stdout("fuzz", text.as_bytes()) {
        Err(e) => e,
        Ok(_) if failed => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
    }
}

/// `vss-sim fuzz --exhaustive K [FILE]`: refuses the options of a swarm campaign, which do not
/// apply, then runs [`super::exhaustive::main`].
fn exhaustive_main(a: &Args) -> ExitCode {
    let Some(k) = a.exhaustive else {
        return bad(format!(
            "a scenario FILE ({}) is searched only with --exhaustive K; a swarm campaign \
             generates its own machines",
            a.file
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display()
        ));
    };
    let refused = [
        (a.cases.is_some(), "--cases (every plan runs once)"),
        (
            a.seed.is_some(),
            "--seed (each plan runs with the scenario's seed)",
        ),
        (a.shard.is_some(), "--shard (the search is not sharded)"),
        (a.shards.is_some(), "--shards (the search is not sharded)"),
        (
            a.check_determinism,
            "--check-determinism (it reruns generated cases)",
        ),
    ];
    for (given, what) in refused {
        if given {
            return bad(format!("--exhaustive does not take {what}"));
        }
    }
    let flaw = match a.requester.as_deref() {
        None | Some(STANDARD) => None,
        Some(name) => match Flaw::from_name(name) {
            Some(f) => Some(f),
            None => {
                return bad(format!(
                    "unknown requester `{name}`; `vss-sim fuzz --list-requesters` lists them: {}",
                    requester_names().join(", ")
                ));
            }
        },
    };
    super::exhaustive::main(&super::exhaustive::Args {
        k,
        file: a.file.clone(),
        flaw,
        jobs: a.jobs.unwrap_or(1),
        out: a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("vss-sim-failures")),
        json: a.json,
    })
}

/// `vss-sim fuzz merge PATH…`: reads each shard's `--json` result (a file, or every `.json`
/// file directly in a directory, in name order) and prints the whole campaign's. Exit 1 when a
/// shard found a violation, 0 otherwise, 2 on a file that cannot be read or is not a result.
pub fn merge_main(paths: &[PathBuf]) -> ExitCode {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(d) => d
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|x| x == "json"))
                    .collect(),
                Err(e) => return bad(format!("merge: cannot read {}: {e}", p.display())),
            };
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return bad(
            "merge: no shard result given; pass the JSON files (or their directory) \
                    that `vss-sim fuzz --shard K/N --json` printed"
                .into(),
        );
    }
    let mut parts = Vec::new();
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => return bad(format!("merge: cannot read {}: {e}", f.display())),
        };
        match serde_json::from_str::<FuzzJson>(&text) {
            Ok(j) => parts.push(j),
            Err(e) => {
                return bad(format!(
                    "merge: {}: not a `vss-sim fuzz --json` result ({e})",
                    f.display()
                ));
            }
        }
    }
    let m = super::merge(&parts);
    let failed = !m.violations.is_empty();
    let mut s = serde_json::to_string(&m).expect("the result always serialises");
    s.push('\n');
    match out::stdout("fuzz merge", s.as_bytes()) {
        Err(e) => e,
        Ok(_) if failed => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_k_of_n() {
        assert_eq!(parse_shard("2/4"), Some((2, 4)));
        assert_eq!(parse_shard("0/4"), None);
        assert_eq!(parse_shard("5/4"), None);
        assert_eq!(parse_shard("x"), None);
    }

    #[test]
    fn the_standard_requester_is_listed_first() {
        let names = requester_names();
        assert_eq!(names[0], "standard");
        assert_eq!(names.len(), 1 + Flaw::ALL.len());
    }
}
