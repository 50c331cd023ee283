//! `vss-sim fuzz --exhaustive K [FILE]`: every fault plan of at most K injected faults on a
//! small machine, each run once with every oracle on.
//!
//! **The faults.** One fault is a target and what it does there, with no session or call limit
//! (`sessions`/`times` absent: every session, every call). The list, in the order plans number
//! them:
//!
//! 1. each writer, in the file's order; for each, each writer event in `WriterEvent` order but
//!    the restore events (nothing sends them): Identify, PrepareForBackup, PrepareForSnapshot,
//!    Freeze, Thaw, PostSnapshot, Abort, BackupComplete, BackupShutdown; for each event: fail
//!    with each writer failure code (`VSS_E_WRITERERROR_*`, in `Hresult` order: the codes the
//!    scenario format accepts at every event; at Identify it accepts any code, and these are the
//!    ones a writer sets), hang, then answer late: past the writer response limit, and for
//!    Freeze first past the writer's freeze window (each delay is its limit plus [`SLOW_MARGIN`];
//!    shortest first, one delay when two limits are equal);
//! 2. the system provider, then each `[[provider]]` in the file's order; for each, each call in
//!    `ProviderCall` order; for each call: fail with each failure code a provider may return
//!    (rule S16's list, in `Hresult` order) and with `E_FAIL`, which stands for every other code
//!    (the service turns all of them into `VSS_E_UNEXPECTED_PROVIDER_ERROR` when the answer
//!    arrives, rule 16, so one is enough), hang, and for `CommitSnapshots`, the call inside the
//!    flush-and-hold, answer past the hold (rule 13).
//!
//! **The plans.** Plan 0 is the empty plan (the machine as it is); plans `1..=n` are the `n`
//! faults alone, in the order above; then every pair `(i, j)` with `i < j`, in lexicographic
//! order, except the pairs whose two faults share a target (one writer's event, or one
//! provider's call): there the first entry wins and the second never fires, so the pair is the
//! single fault again. [`Space::count`] gives the number without building the plans.
//!
//! **A plan's scenario** is the file with the plan's faults appended to its writers' and
//! providers' fault lists (after any the file has), its `[expect]` dropped (the search judges
//! the oracles, not the file's expectations), and healed (rule 31): the file's `[run] heal_at`
//! if it has one, else [`default_heal_at`], late enough that each fault has acted in each
//! backup before it stops; every hang then ends at the heal. It runs once with the scenario's
//! seed, trace off. `--requester NAME` runs the file's standard requesters as that mutant.
//!
//! Plans run on `--jobs` threads; each is deterministic on its own and the tally is a sum (and
//! the lowest failing plan a minimum), so results do not depend on `--jobs`. The wall clock is
//! read only for the progress line and `plans_per_sec`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use model::requester::{Flaw, STANDARD};
use model::time::{Duration, Instant};
use model::vss::{Hresult, ProviderCall, WriterEvent};
use model::writer::FaultAction;
use serde::Serialize;

use super::shrink::COMMIT;
use crate::out;
use crate::scenario::{Expect, FaultRef, Heal, Scenario, WriterFaultSpec, parse};
use crate::trace::Trace;
use crate::world::World;

/// The most faults a plan may hold: the number of plans grows as the square of the machine's
/// faults, and beyond two it no longer fits a run of minutes.
pub const MAX_K: u32 = 2;

/// The built-in small machine (`sim/src/fuzz/small_machine.toml`), searched when no FILE is
/// given.
pub const SMALL_MACHINE: &str = include_str!("small_machine.toml");

/// The most plans one search runs: at about a thousand plans a second, half an hour.
pub const MAX_PLANS: u64 = 2_000_000;

/// How far past its limit a late answer comes.
pub const SLOW_MARGIN: Duration = Duration::from_secs(1);

/// `[run] settle_within` given with a heal the search chooses: five minutes (rule 31).
const SETTLE_WITHIN: Duration = Duration::from_secs(300);

/// The built-in small machine, parsed.
pub fn small_machine() -> Scenario {
    parse("<built-in small machine>", "small-machine", SMALL_MACHINE)
        .expect("the built-in small machine parses")
}

/// Where a fault acts: one writer's event or one provider's call. Two faults on one target are
/// one fault: the first entry wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// Writer `.0` (index into the scenario's writers) at an event.
    Writer(usize, WriterEvent),
    /// A provider (`None`: the system provider; else an index into `[[provider]]`) at a call.
    Provider(Option<usize>, ProviderCall),
}

/// The fault space of one machine: the scenario every plan starts from and the faults.
#[derive(Clone, Debug)]
pub struct Space {
    base: Scenario,
    atoms: Vec<(Target, FaultAction)>,
    /// Whether the search chose the heal (the scenario had no `[run] heal_at`).
    pub heal_chosen: bool,
}

/// The writer failure codes, in `Hresult` order.
fn writer_codes() -> impl Iterator<Item = Hresult> {
    Hresult::ALL
        .iter()
        .copied()
        .filter(|h| h.is_writer_failure())
}

/// The provider failure codes: rule S16's list, then `E_FAIL` for every code outside it.
fn provider_codes() -> impl Iterator<Item = Hresult> {
    Hresult::ALL
        .iter()
        .copied()
        .filter(|h| h.is_provider_allowed() && !h.is_success())
        .chain(std::iter::once(Hresult::Fail))
}

/// The writer events a fault targets: every one but the restore events.
fn writer_events() -> impl Iterator<Item = WriterEvent> {
    WriterEvent::ALL
        .iter()
        .copied()
        .filter(|e| !matches!(e, WriterEvent::PreRestore | WriterEvent::PostRestore))
}

/// When a scenario without `[run] heal_at` heals: its latest requester start plus four times
/// the longest late answer of the search (the writer response limit, a freeze window or the
/// hold, plus [`SLOW_MARGIN`]), so that each of two faults has its time in each of two
/// backups (a first attempt and a retry or a second requester) before it stops.
pub fn default_heal_at(s: &Scenario) -> Duration {
    let latest = s
        .requesters
        .iter()
        .map(|r| r.start)
        .max()
        .unwrap_or(Duration::ZERO);
    let windows = s
        .writers
        .iter()
        .map(|w| w.freeze_timeout.unwrap_or(s.profile.freeze_timeout_default));
    let longest = windows
        .chain([
            s.profile.writer_response_timeout,
            s.profile.flush_and_hold_timeout,
        ])
        .max()
        .unwrap_or(Duration::ZERO);
    Duration::from_us(latest.as_us() + 4 * (longest.as_us() + SLOW_MARGIN.as_us()))
}

impl Space {
    /// The fault space of `s`, its standard requesters run as `flaw`'s mutant (`None`: as they
    /// are). An error says why the scenario cannot be searched.
    pub fn new(s: &Scenario, flaw: Option<Flaw>) -> Result<Space, String> {
        let mut base = s.clone();
        base.expect = Expect::default();
        if let Some(flaw) = flaw {
            let mut any = false;
            for r in base.requesters.iter_mut().filter(|r| r.script.is_none()) {
                r.flaw = Some(flaw);
                any = true;
            }
            if !any {
                return Err(format!(
                    "--requester {}: the scenario has no standard requester (only scripts) to \
                     run as that mutant",
                    flaw.name()
                ));
            }
        }
        let heal_chosen = base.heal.is_none();
        if heal_chosen {
            let heal = Heal {
                at: default_heal_at(&base),
                settle_within: SETTLE_WITHIN,
            };
            // The run must be able to reach the end of the settle phase.
            let end = Duration::from_us(heal.at.as_us() + heal.settle_within.as_us());
            if base.max_virtual_time <= end {
                base.max_virtual_time = Duration::from_us(end.as_us() + 60_000_000);
            }
            base.heal = Some(heal);
        }
        // The healed scenario must still be one the format accepts (its replay is parsed).
        base.check()
            .map_err(|e| format!("the scenario, healed for the search, is refused: {e}"))?;
        let mut atoms = Vec::new();
        let response = base.profile.writer_response_timeout;
        for (w, spec) in base.writers.iter().enumerate() {
            let window = spec
                .freeze_timeout
                .unwrap_or(base.profile.freeze_timeout_default);
            for event in writer_events() {
                let t = Target::Writer(w, event);
                atoms.extend(writer_codes().map(|c| (t, FaultAction::Fail(c))));
                atoms.push((t, FaultAction::Hang));
                let mut limits = vec![response];
                if event == WriterEvent::Freeze {
                    limits.push(window);
                }
                limits.sort_unstable();
                limits.dedup();
                atoms.extend(
                    limits
                        .into_iter()
                        .map(|l| (t, FaultAction::Delay(l + SLOW_MARGIN))),
                );
            }
        }
        let hold = base.profile.flush_and_hold_timeout;
        let providers = std::iter::once(None).chain((0..base.providers.len()).map(Some));
        for p in providers {
            for &call in ProviderCall::ALL {
                let t = Target::Provider(p, call);
                atoms.extend(provider_codes().map(|c| (t, FaultAction::Fail(c))));
                atoms.push((t, FaultAction::Hang));
                if call == ProviderCall::CommitSnapshots {
                    atoms.push((t, FaultAction::Delay(hold + SLOW_MARGIN)));
                }
            }
        }
        Ok(Space {
            base,
            atoms,
            heal_chosen,
        })
    }

    /// The scenario every plan starts from (the empty plan's): healed, `[expect]` dropped, the
    /// requesters as the search runs them.
    pub fn base(&self) -> &Scenario {
        &self.base
    }

    /// The single faults, in plan order.
    pub fn faults(&self) -> Vec<FaultRef> {
        (0..self.atoms.len()).map(|i| self.fault_ref(i)).collect()
    }

    /// How many single faults there are: (on writers, on providers).
    pub fn fault_counts(&self) -> (usize, usize) {
        let w = self
            .atoms
            .iter()
            .filter(|(t, _)| matches!(t, Target::Writer(..)))
            .count();
        (w, self.atoms.len() - w)
    }

    /// Fault `i` as [`FaultRef`] spells it.
    fn fault_ref(&self, i: usize) -> FaultRef {
        let (t, action) = self.atoms[i];
        match t {
            Target::Writer(w, event) => FaultRef::Writer {
                writer: self.base.writers[w].name.clone(),
                event,
                action,
                sessions: None,
            },
            Target::Provider(p, call) => FaultRef::Provider {
                provider: p.map(|p| self.base.providers[p].name.clone()),
                call,
                action,
                times: None,
            },
        }
    }

    /// The number of plans of at most `k` faults (`k` above [`MAX_K`] counts as `MAX_K`),
    /// counted, not built: 1, plus `n` single faults, plus the `n(n-1)/2` pairs less those on
    /// one target.
    pub fn count(&self, k: u32) -> u64 {
        let n = self.atoms.len() as u64;
        let mut total = 1;
        if k >= 1 {
            total += n;
        }
        if k >= 2 {
            let mut same = 0;
            let mut i = 0;
            // Faults on one target are adjacent in the list.
            while i < self.atoms.len() {
                let m = self.atoms[i..]
                    .iter()
                    .take_while(|(t, _)| *t == self.atoms[i].0)
                    .count() as u64;
                same += m * (m - 1) / 2;
                i += m as usize;
            }
            total += n * n.saturating_sub(1) / 2 - same;
        }
        total
    }

    /// Every plan of at most `k` faults, in plan order: each a list of indices into
    /// [`Space::faults`].
    pub fn plans(&self, k: u32) -> Vec<Vec<usize>> {
        let n = self.atoms.len();
        let mut plans = vec![Vec::new()];
        if k >= 1 {
            plans.extend((0..n).map(|i| vec![i]));
        }
        if k >= 2 {
            for i in 0..n {
                for j in i + 1..n {
                    if self.atoms[i].0 != self.atoms[j].0 {
                        plans.push(vec![i, j]);
                    }
                }
            }
        }
        plans
    }

    /// The scenario of a plan: the base with the plan's faults appended.
    pub fn scenario(&self, plan: &[usize]) -> Scenario {
        let mut s = self.base.clone();
        for &i in plan {
            let (t, action) = self.atoms[i];
            match t {
                Target::Writer(w, event) => s.writers[w].faults.push(WriterFaultSpec {
                    event,
                    action,
                    sessions: None,
                }),
                Target::Provider(p, call) => {
                    let fault = model::provider::ProviderFault {
                        call,
                        action,
                        times: None,
                    };
                    match p {
                        None => s.system_provider_faults.push(fault),
                        Some(p) => s.providers[p].faults.push(fault),
                    }
                }
            }
        }
        s
    }

    /// Runs plan number `number` (its faults `plan`).
    pub fn run(&self, number: u64, plan: &[usize]) -> PlanResult {
        let j = super::judge(&self.scenario(plan));
        let mut findings: Vec<&'static str> = Vec::new();
        for f in j.findings {
            if !findings.contains(&f) {
                findings.push(f);
            }
        }
        PlanResult {
            plan: number,
            violations: j.violations,
            findings,
            events: j.events,
            situations: j.situations,
        }
    }
}

/// What one plan did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanResult {
    /// The plan number.
    pub plan: u64,
    /// The oracles that fired, each once, in the order they first fired.
    pub violations: Vec<&'static str>,
    /// The findings made, each once.
    pub findings: Vec<&'static str>,
    /// Events the run dispatched.
    pub events: u64,
    /// The situations it reached ([`crate::situation`]), as bits.
    pub situations: u64,
}

/// A search's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Plans run.
    pub plans: u64,
    /// Each oracle that fired → the plans it fired in.
    pub violations: BTreeMap<String, u64>,
    /// Each finding → the plans that made it.
    pub findings: BTreeMap<String, u64>,
    /// Events of all plans.
    pub events: u64,
    /// The lowest failing plan, with the first oracle that fired in it.
    pub first_failure: Option<(u64, &'static str)>,
    /// Plans that reached each situation, indexed like [`crate::situation::name`] (empty
    /// before the first plan).
    pub coverage: Vec<u64>,
}

impl Tally {
    fn add(&mut self, r: &PlanResult) {
        self.plans += 1;
        self.coverage.resize(crate::situation::COUNT, 0);
        for (i, n) in self.coverage.iter_mut().enumerate() {
            *n += (r.situations >> i) & 1;
        }
        self.events += r.events;
        for v in &r.violations {
            *self.violations.entry((*v).to_string()).or_default() += 1;
        }
        for f in &r.findings {
            *self.findings.entry((*f).to_string()).or_default() += 1;
        }
        if let Some(first) = r.violations.first()
            && self.first_failure.is_none_or(|(p, _)| r.plan < p)
        {
            self.first_failure = Some((r.plan, first));
        }
    }
}

/// Runs every plan of `plans` (plan `i` is number `i`) on `jobs` threads, calling `progress`
/// with the tally so far (from the calling thread). The tally does not depend on `jobs`.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // determinism-ok: plans run in parallel; each is deterministic on its own and the tally is a sum.
pub fn run_all(
    space: &Space,
    plans: &[Vec<usize>],
    jobs: usize,
    mut progress: impl FnMut(&Tally),
) -> Tally {
    let jobs = jobs.max(1).min(plans.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<PlanResult>();
    let mut tally = Tally::default();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(plan) = plans.get(i) else { break };
                    if tx.send(space.run(i as u64, plan)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for r in rx {
            tally.add(&r);
            progress(&tally);
        }
    });
    tally
}

/// A failing plan, as a scenario that replays it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The plan number.
    pub plan: u64,
    /// The oracle that fired first.
    pub oracle: &'static str,
    /// The plan's faults.
    pub faults: Vec<FaultRef>,
    /// The plan's scenario (its `seed` is the run's).
    pub scenario: Scenario,
    /// What the oracle said, and when.
    pub detail: String,
    /// When it fired.
    pub at: Instant,
}

impl Failure {
    /// Plan `number` of `plans` in which `oracle` fired.
    pub fn new(space: &Space, plans: &[Vec<usize>], number: u64, oracle: &'static str) -> Self {
        let plan = &plans[usize::try_from(number).expect("a plan number fits usize")];
        let mut scenario = space.scenario(plan);
        scenario.name = format!("{}-plan-{number}", scenario.name);
        let mut w = World::new(&scenario, scenario.seed, Trace::off());
        w.run();
        let (detail, at) = w
            .violations()
            .iter()
            .find(|v| v.name == oracle)
            .map_or((String::new(), w.now()), |v| (v.detail.clone(), v.at));
        Failure {
            plan: number,
            oracle,
            faults: plan.iter().map(|&i| space.fault_ref(i)).collect(),
            scenario,
            detail,
            at,
        }
    }

    /// Its file under `out`: `exhaustive-NAME-REQUESTER-plan-N-ORACLE.toml`.
    pub fn path(&self, out: &Path, name: &str, requester: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        out.join(format!(
            "exhaustive-{safe}-{requester}-plan-{}-{}.toml",
            self.plan, self.oracle
        ))
    }

    /// The faults as text, `none` for the empty plan.
    fn faults_text(&self) -> String {
        if self.faults.is_empty() {
            "none".to_string()
        } else {
            let shown: Vec<String> = self.faults.iter().map(ToString::to_string).collect();
            shown.join("; ")
        }
    }

    /// The scenario's text: a header saying what fired and with which faults, then its
    /// canonical form (no `[expect]`, so the replay fails on the violation).
    pub fn text(&self, k: u32, requester: &str) -> String {
        let mut t = format!(
            "# Found by `vss-sim fuzz --exhaustive {k}` (plan {}, requester {requester}, commit \
             {COMMIT}): {} fires.\n# {}\n# Faults: {}.\n",
            self.plan,
            self.oracle,
            self.detail.replace('\n', " "),
            self.faults_text()
        );
        t.push_str(&self.scenario.to_toml());
        t
    }

    /// The command that replays it.
    pub fn replay(&self, path: &Path) -> String {
        format!(
            "vss-sim run {} --seed {}",
            path.display(),
            self.scenario.seed
        )
    }
}

/// `fuzz --exhaustive K --json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ExhaustiveJson {
    /// K: the most faults a plan holds.
    pub k: u32,
    /// Plans run.
    pub plans: u64,
    /// The machine's single faults (plans `1..=single_faults` are them alone).
    pub single_faults: usize,
    /// The requester under test.
    pub requester: String,
    /// Events of all plans.
    pub events: u64,
    /// Each oracle that fired → the plans it fired in; `{}` when none.
    pub violations: BTreeMap<String, u64>,
    /// Each finding → the plans that made it; `{}` when none.
    pub findings: BTreeMap<String, u64>,
    /// Plans per second of wall time.
    pub plans_per_sec: f64,
    /// The lowest failing plan: `null` when none failed.
    pub first_failure: Option<FailureJson>,
    /// Each situation ([`crate::situation`]) → the plans that reached it, `0` included.
    pub coverage: BTreeMap<String, u64>,
}

/// `first_failure`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FailureJson {
    /// The plan number.
    pub plan: u64,
    /// The oracle that fired first.
    pub oracle: String,
    /// The scenario written.
    pub scenario_path: String,
    /// The seed to replay it with.
    pub seed: u64,
    /// The plan's faults, as `FaultRef` prints them.
    pub faults: Vec<String>,
}

/// The command line of `vss-sim fuzz --exhaustive K [FILE]`.
#[derive(Clone, Debug, Default)]
pub struct Args {
    /// K.
    pub k: u32,
    /// FILE (`None`: the built-in small machine).
    pub file: Option<PathBuf>,
    /// The requester under test (`None`: as the scenario says).
    pub flaw: Option<Flaw>,
    /// Worker threads.
    pub jobs: usize,
    /// Where the failing plan's scenario goes.
    pub out: PathBuf,
    /// `--json`.
    pub json: bool,
}

fn bad(msg: &str) -> ExitCode {
    out::stderr_line(format_args!("vss-sim fuzz --exhaustive: {msg}"));
    ExitCode::from(2)
}

/// The scenario FILE names, or the small machine.
fn load(file: Option<&Path>) -> Result<Scenario, String> {
    let Some(path) = file else {
        return Ok(small_machine());
    };
    crate::scenario::load_file(path)
}

/// `N/M plans, R plans/s, V failing, ETA Ts`.
fn progress(t: &Tally, total: u64, secs: f64) -> String {
    let rate = t.plans as f64 / secs.max(1e-9);
    let eta = total.saturating_sub(t.plans) as f64 / rate.max(1e-9);
    let failing: u64 = t.violations.values().sum();
    format!(
        "{}/{total} plans, {rate:.0} plans/s, {failing} violations, ETA {eta:.0}s  ",
        t.plans
    )
}

/// Runs `vss-sim fuzz --exhaustive K [FILE]`.
pub fn main(a: &Args) -> ExitCode {
    if a.k > MAX_K {
        return bad(&format!(
            "K = {} is more than {MAX_K}: the plans grow as the K-th power of the machine's \
             faults; give --exhaustive 0, 1 or 2 (or use the swarm search, `vss-sim fuzz \
             --cases N`)",
            a.k
        ));
    }
    if a.jobs == 0 {
        return bad("--jobs must be at least 1");
    }
    let scenario = match load(a.file.as_deref()) {
        Ok(s) => s,
        Err(e) => return bad(&e),
    };
    let space = match Space::new(&scenario, a.flaw) {
        Ok(s) => s,
        Err(e) => return bad(&e),
    };
    let count = space.count(a.k);
    if count > MAX_PLANS {
        return bad(&format!(
            "{count} plans of at most {} faults ({} single faults) is more than {MAX_PLANS}; \
             give a smaller K or a smaller machine, or use the swarm search (`vss-sim fuzz \
             --cases N`)",
            a.k,
            space.faults().len()
        ));
    }
    let plans = space.plans(a.k);
    let total = plans.len() as u64;
    let mut shown = super::cli::Progress::start(total);
    let tally = run_all(&space, &plans, a.jobs, |t| {
        shown.update(t.plans, |secs| progress(t, total, secs));
    });
    finish(a, &space, &plans, &tally, shown.secs())
}

fn finish(a: &Args, space: &Space, plans: &[Vec<usize>], t: &Tally, secs: f64) -> ExitCode {
    let requester = a.flaw.map_or(STANDARD, Flaw::name);
    let name = space.base().name.clone();
    let mut report = String::new();
    let failure = match t.first_failure {
        None => None,
        Some((plan, oracle)) => {
            let f = Failure::new(space, plans, plan, oracle);
            let path = f.path(&a.out, &name, requester);
            let written = std::fs::create_dir_all(&a.out)
                .map_err(|e| format!("cannot create {}: {e}", a.out.display()))
                .and_then(|()| out::write_file(&path, f.text(a.k, requester).as_bytes(), None));
            if let Err(e) = written {
                return bad(&e);
            }
            report = format!(
                "first failure: plan {plan}: {oracle}\n  {}\n  at virtual time {}\n  faults: \
                 {}\n  commit: {COMMIT}\n  scenario: {}\nreplay: {}\n",
                f.detail,
                f.at,
                f.faults_text(),
                path.display(),
                f.replay(&path)
            );
            Some(FailureJson {
                plan,
                oracle: oracle.to_string(),
                scenario_path: path.display().to_string(),
                seed: f.scenario.seed,
                faults: f.faults.iter().map(ToString::to_string).collect(),
            })
        }
    };
    let failed = failure.is_some();
    let rate = t.plans as f64 / secs.max(1e-9);
    let text = if a.json {
        let j = ExhaustiveJson {
            k: a.k,
            plans: t.plans,
            single_faults: space.faults().len(),
            requester: requester.to_string(),
            events: t.events,
            violations: t.violations.clone(),
            findings: t.findings.clone(),
            plans_per_sec: (rate * 10.0).round() / 10.0,
            first_failure: failure,
            coverage: crate::situation::names()
                .zip(t.coverage.iter().copied().chain(std::iter::repeat(0)))
                .collect(),
        };
        if !report.is_empty() {
            out::stderr(format_args!("{report}"));
        }
        let mut s = serde_json::to_string(&j).expect("the result always serialises");
        s.push('\n');
        s
    } else {
        let (w, p) = space.fault_counts();
        let heal = space.base().heal.map_or(Duration::ZERO, |h| h.at);
        let mut s = format!(
            "{} plans of at most {} faults over {name} ({} faults: {w} on writers, {p} on \
             providers; healed at {}{}) with the {requester} requester, seed {}: {rate:.0} \
             plans/s, {:.0} events per plan\n",
            t.plans,
            a.k,
            w + p,
            crate::units::format_duration(heal),
            if space.heal_chosen {
                ", chosen by the search"
            } else {
                ""
            },
            space.base().seed,
            t.events as f64 / t.plans.max(1) as f64
        );
        s.push_str(&super::cli::verdict_text(
            &t.violations,
            "plans",
            &t.findings,
            Some("plans"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counting_agrees_with_the_enumeration() {
        let space = Space::new(&small_machine(), None).unwrap();
        for k in 0..=MAX_K {
            assert_eq!(space.count(k), space.plans(k).len() as u64, "k = {k}");
        }
    }

    #[test]
    fn no_pair_shares_a_target() {
        let space = Space::new(&small_machine(), None).unwrap();
        for p in space.plans(2).iter().filter(|p| p.len() == 2) {
            assert_ne!(space.atoms[p[0]].0, space.atoms[p[1]].0);
            assert!(p[0] < p[1]);
        }
    }

    #[test]
    fn every_single_fault_builds_a_scenario_the_format_accepts() {
        let space = Space::new(&small_machine(), None).unwrap();
        for (i, f) in space.faults().iter().enumerate() {
            let s = space.scenario(&[i]);
            assert_eq!(s.faults(), vec![f.clone()], "{f}");
            let back = s.check().unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(back, s, "{f}");
        }
    }
}
