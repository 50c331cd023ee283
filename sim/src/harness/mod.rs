//! The test harness: build a world from a scenario (a file, TOML text, or a [`Scenario`] made
//! in code), plug in your requesters and writers, run it with a seed, and get the typed result,
//! the trace and the oracles' verdicts.
//!
//! ```no_run
//! use sim::api::{BackupType, Requester, VssError};
//! use sim::harness::Simulation;
//!
//! async fn my_backup(me: Requester) -> Result<(), VssError> {
//!     let mut bc = me.create_backup_components();
//!     bc.initialize_for_backup().await?;
//!     bc.set_backup_state(false, false, BackupType::Full, false).await?;
//!     bc.gather_writer_metadata().await?.finish().await?;
//!     bc.start_snapshot_set().await?;
//!     let volume = me.volume("C:\\").expect("the machine has C:");
//!     let shadow = bc.add_to_snapshot_set(volume, None).await?;
//!     bc.prepare_for_backup().await?.finish().await?;
//!     bc.do_snapshot_set().await?.finish().await?;
//!     bc.read_shadow(shadow, volume).await?;
//!     bc.backup_complete().await?.finish().await?;
//!     Ok(())
//! }
//!
//! let outcome = Simulation::from_file("scenarios/machine.toml")
//!     .unwrap()
//!     .seed(7)
//!     .requester("my-backup", my_backup)
//!     .run()
//!     .unwrap();
//! sim::assert_no_violations!(outcome);
//! ```

mod fuzz;

pub use fuzz::{Failure, Fuzz};

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use model::ids::{RequesterId, WriterId};
use model::machine::Machine;
use model::requester::Policy;
use model::time::Duration;
use model::vss::{Hresult, SnapshotContext, VssError};

use crate::api::{Metadata, Registration, Requester, Writer, run_writer};
use crate::guest::mailbox::{Mailbox, Out};
use crate::guest::{GuestError, GuestStats, Host, Runtime};
use crate::oracle::Violation;
use crate::record::Finding;
use crate::run::{Builder, Report};
use crate::scenario::{ComponentSpec, RequesterSpec, Scenario, WriterSpec};
use crate::trace::Trace;
use crate::world::{EndReason, World};

type RequesterFn =
    Box<dyn FnOnce(Requester) -> Pin<Box<dyn Future<Output = Result<(), VssError>>>>>;

/// A writer of any type, as the harness keeps it until the run.
trait AnyWriter {
    /// `OnIdentify` at subscription.
    fn identify(&mut self, rt: &Runtime, md: &mut Metadata) -> bool;
    /// Starts its event loop on the guest runtime.
    fn start(
        self: Box<Self>,
        rt: &Runtime,
        mail: &Rc<RefCell<Mailbox>>,
        id: WriterId,
        first: Metadata,
        machine: Rc<Machine>,
    );
}

struct Held<W>(W);

impl<W: Writer> AnyWriter for Held<W> {
    fn identify(&mut self, rt: &Runtime, md: &mut Metadata) -> bool {
        rt.block_on(self.0.on_identify(md))
    }

    fn start(
        self: Box<Self>,
        rt: &Runtime,
        mail: &Rc<RefCell<Mailbox>>,
        id: WriterId,
        first: Metadata,
        machine: Rc<Machine>,
    ) {
        rt.spawn(mail, run_writer(self.0, id, first, mail.clone(), machine));
    }
}

/// A simulation with your code in it: a scenario's machine, its scripted roles, and the
/// requesters and writers you plug in. See the module documentation for an example.
pub struct Simulation {
    scenario: Scenario,
    seed: u64,
    record: bool,
    requesters: Vec<(String, RequesterFn)>,
    writers: Vec<(Registration, Box<dyn AnyWriter>)>,
}

impl Simulation {
    /// The machine (and any scripted roles) of the scenario file at `path`. The file may
    /// declare no requester: your code supplies the roles. Its `[expect]` is not judged; assert
    /// on the [`Outcome`] instead.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Simulation, String> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let src = std::fs::read_to_string(path)
            .map_err(|e| format!("{shown}: cannot read the scenario: {e}; check the path"))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario");
        Simulation::from_toml(&shown, stem, &src).map_err(|e| e.to_string())
    }

    /// The machine of scenario text `src`; `file` names it in errors, `stem` is its default name.
    pub fn from_toml(
        file: &str,
        stem: &str,
        src: &str,
    ) -> Result<Simulation, crate::scenario::ScenarioError> {
        crate::scenario::parse_machine(file, stem, src).map(Simulation::from_scenario)
    }

    /// A scenario built in code.
    pub fn from_scenario(scenario: Scenario) -> Simulation {
        Simulation {
            seed: scenario.seed,
            record: true,
            scenario,
            requesters: Vec::new(),
            writers: Vec::new(),
        }
    }

    /// Runs with `seed` (the scenario's own seed otherwise): identities, workloads and every
    /// random draw come from it.
    pub fn seed(mut self, seed: u64) -> Simulation {
        self.seed = seed;
        self
    }

    /// Whether to keep the trace and build the report (on by default). Off, the run keeps
    /// only what a search needs (violations, findings, each requester's result, the counts)
    /// and is several times faster; [`Outcome::report`] then panics.
    pub fn record(mut self, on: bool) -> Simulation {
        self.record = on;
        self
    }

    /// The scenario as it stands (before your roles are added).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Adds a requester called `name` run by `code`: an async function given the
    /// [`Requester`], returning its verdict (`Ok` for a good backup; the oracles then check
    /// that it read its shadow copies in full). A requester of the scenario with this name is
    /// taken over; otherwise a new one is added, backing up in `VSS_CTX_BACKUP`, starting at
    /// virtual time zero. Several requesters may run at once.
    pub fn requester<F, Fut>(mut self, name: &str, code: F) -> Simulation
    where
        F: FnOnce(Requester) -> Fut + 'static,
        Fut: Future<Output = Result<(), VssError>> + 'static,
    {
        self.requesters
            .push((name.to_string(), Box::new(move |r| Box::pin(code(r)))));
        self
    }

    /// Adds a writer registered as `registration`, run by `writer`: its metadata is what its
    /// `on_identify` describes. A writer of the scenario with the same name is taken over (a
    /// workload of the scenario with `writer = "NAME"` is then its application); if its
    /// `on_identify` describes no component, it keeps the components the scenario declares.
    pub fn writer<W: Writer>(mut self, registration: Registration, writer: W) -> Simulation {
        self.writers.push((registration, Box::new(Held(writer))));
        self
    }

    /// Runs the simulation to its end. `Err` only when guest code could not go on (it panicked,
    /// or kept running without letting virtual time move); everything VSS does, failures
    /// included, is in the [`Outcome`].
    pub fn run(self) -> Result<Outcome, GuestError> {
        let Simulation {
            mut scenario,
            seed,
            record,
            requesters,
            writers,
        } = self;
        for (i, (name, _)) in requesters.iter().enumerate() {
            if requesters[..i].iter().any(|(n, _)| n == name) {
                return Err(GuestError::Setup(format!(
                    "two requesters are called {name:?}; give each its own name"
                )));
            }
        }
        for (i, (reg, _)) in writers.iter().enumerate() {
            if writers[..i].iter().any(|(r, _)| r.name == reg.name) {
                return Err(GuestError::Setup(format!(
                    "two writers are registered as {:?}; give each its own name",
                    reg.name
                )));
            }
        }
        let mail = Rc::new(RefCell::new(Mailbox::default()));
        let mut rt = Runtime::new();
        let volume_names: Vec<String> = scenario.volumes.iter().map(|v| v.name.clone()).collect();
        // Subscription: each writer describes itself once, before the run starts.
        let mut guest_writers = Vec::new();
        for (reg, mut w) in writers {
            let mut md = Metadata {
                volume_names: volume_names.clone(),
                ..Metadata::default()
            };
            w.identify(&rt, &mut md);
            if let Some(msg) = mail.borrow_mut().panicked.take() {
                return Err(GuestError::Panicked(msg));
            }
            if let Some(v) = &md.unknown {
                return Err(GuestError::Setup(format!(
                    "writer {:?} put a component on volume {v:?}, which the machine does not \
                     have; the machine's volumes are {}",
                    reg.name,
                    volume_names.join(", ")
                )));
            }
            let idx = bind_writer(&mut scenario, &reg, &md);
            guest_writers.push((idx, w, md));
        }
        // Virtual time zero is after every subscription.
        let host = Host::new(mail.clone(), rt.now());
        let mut guest_reqs = Vec::new();
        for (name, code) in requesters {
            guest_reqs.push((bind_requester(&mut scenario, &name), name, code));
        }
        let scenario = scenario
            .check()
            .map_err(|e| GuestError::Setup(e.to_string()))?;
        let trace = if record {
            Trace::on(true, true)
        } else {
            Trace::off()
        };
        let mut world = World::new(&scenario, seed, trace);
        let machine = Rc::new(world.coordinator().machine().clone());
        let req_idx: Vec<usize> = guest_reqs.iter().map(|(i, ..)| *i).collect();
        let writer_idx: Vec<usize> = guest_writers.iter().map(|(i, ..)| *i).collect();
        world.host_guests(host, &req_idx, &writer_idx);
        for (idx, w, md) in guest_writers {
            w.start(&rt, &mail, WriterId::from_index(idx), md, machine.clone());
        }
        for (idx, name, code) in guest_reqs {
            let id = RequesterId::from_index(idx);
            let me = Requester {
                id,
                name,
                mail: mail.clone(),
                machine: machine.clone(),
                gate: Rc::new(tokio::sync::Mutex::new(())),
            };
            let done = mail.clone();
            rt.spawn(&mail, async move {
                let verdict = match code(me).await {
                    Ok(()) => Hresult::Ok,
                    Err(e) => e.into(),
                };
                done.borrow_mut().act(Out::Done {
                    requester: id,
                    verdict,
                });
            });
        }
        let end = rt.run(|cx, local, fence| world.poll_with_guest(cx, local, fence));
        if let Some(e) = world.guest_error() {
            return Err(e.clone());
        }
        let report = record.then(|| {
            let mut builder = Builder::new(&scenario.name, seed);
            world.rec.trace.take_records(|r| builder.observe(&r));
            builder
        });
        let (digest, bytes, _) = world.rec.trace.finish();
        let report = report.map(|b| b.finish(digest.unwrap_or_default()));
        Ok(Outcome {
            seed,
            end,
            violations: world.violations().to_vec(),
            findings: world.findings().to_vec(),
            results: scenario
                .requesters
                .iter()
                .enumerate()
                .map(|(i, r)| (r.name.clone(), world.requester_result(i)))
                .collect(),
            virtual_time: world.now(),
            trace: bytes.unwrap_or_default(),
            stats: world.guest_stats(),
            steps: world.steps(),
            report,
        })
    }
}

/// The scenario's writer called `reg.name`, its registration and components replaced by what
/// the code says, or a new one; its index.
pub(crate) fn bind_writer(scenario: &mut Scenario, reg: &Registration, md: &Metadata) -> usize {
    let components = md
        .components
        .iter()
        .map(|(name, path, vols)| ComponentSpec {
            name: name.clone(),
            logical_path: path.clone(),
            volumes: vols.iter().map(|v| v.idx()).collect(),
        })
        .collect();
    let idx = match scenario.writers.iter().position(|w| w.name == reg.name) {
        Some(i) => i,
        None => {
            scenario.writers.push(WriterSpec {
                name: reg.name.clone(),
                class_id: None,
                level: reg.level,
                usage: reg.usage,
                freeze_timeout: None,
                checks_volume_set: None,
                latency: Vec::new(),
                components: Vec::new(),
                faults: Vec::new(),
            });
            scenario.writers.len() - 1
        }
    };
    let w = &mut scenario.writers[idx];
    w.level = reg.level;
    w.usage = reg.usage;
    w.freeze_timeout = reg.timeout_freeze;
    // A writer of the scenario whose code describes no component keeps those the scenario
    // declares: the machine supplies the metadata, the code the behaviour.
    if !md.components.is_empty() {
        w.components = components;
    }
    // Its behaviour is the code's: no scripted latency or fault applies.
    w.latency.clear();
    w.faults.clear();
    idx
}

/// The scenario's requester called `name` (its script or standard sequence replaced by the
/// code), or a new one; its index.
fn bind_requester(scenario: &mut Scenario, name: &str) -> usize {
    if let Some(i) = scenario.requesters.iter().position(|r| r.name == name) {
        let r = &mut scenario.requesters[i];
        r.script = None;
        r.script_names.clear();
        r.flaw = None;
        if r.volumes.is_empty() {
            r.volumes = (0..scenario.volumes.len()).collect();
        }
        return i;
    }
    scenario.requesters.push(RequesterSpec {
        name: name.to_string(),
        context: SnapshotContext::Backup,
        volumes: (0..scenario.volumes.len()).collect(),
        start: Duration::ZERO,
        read_bandwidth: 200_000_000,
        go_away_at: None,
        repeat: 0,
        policy: Policy::default(),
        script: None,
        script_names: Vec::new(),
        flaw: None,
    });
    scenario.requesters.len() - 1
}

/// A finished simulation: how it ended, what the oracles found, the trace, the report.
#[derive(Debug)]
pub struct Outcome {
    /// The seed it ran with (replay with [`Simulation::seed`]).
    pub seed: u64,
    /// Why it stopped.
    pub end: EndReason,
    /// Invariants that did not hold (`vss-sim oracles` lists them).
    pub violations: Vec<Violation>,
    /// Findings (rule 33): application images torn in a crash-consistent shadow copy.
    pub findings: Vec<Finding>,
    /// Each requester's result by the rule of `run --json` (`S_OK` for a completed backup,
    /// else its first failure), in declaration order.
    pub results: Vec<(String, Hresult)>,
    /// Virtual time at the end.
    pub virtual_time: model::time::Instant,
    /// The JSONL trace (schema 2), byte-identical for one scenario, seed and code; empty when
    /// not recorded.
    pub trace: Vec<u8>,
    /// The guest runtime's counts.
    pub stats: GuestStats,
    /// Events the loop dispatched.
    pub steps: u64,
    /// The `run --json` report: every call, writer, shadow copy and requester result (`None`
    /// when not recorded).
    pub report: Option<Report>,
}

impl Outcome {
    /// The result of requester `name` by the rule of `run --json` (`S_OK` for a completed
    /// backup, else its first failure), or `None` if there is no such requester.
    pub fn result(&self, name: &str) -> Option<Hresult> {
        self.results
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| *h)
    }

    /// The `run --json` report.
    ///
    /// # Panics
    ///
    /// If the run was not recorded ([`Simulation::record`]`(false)`).
    pub fn report(&self) -> &Report {
        self.report
            .as_ref()
            .expect("the run was recorded (Simulation::record(false) keeps no report)")
    }

    /// The trace as text, one JSON record per line.
    pub fn trace_text(&self) -> String {
        String::from_utf8_lossy(&self.trace).into_owned()
    }

    /// Every violation, one per line, with what a replay needs.
    pub fn violation_text(&self) -> String {
        let mut s = String::new();
        for v in &self.violations {
            s.push_str(&format!("  {} at {}: {}\n", v.name, v.at, v.detail));
        }
        s.push_str(&format!(
            "replay: run again with Simulation::seed({:#x})",
            self.seed
        ));
        s
    }
}

/// Panics, listing the violations and the seed to replay with, if the [`Outcome`] has any.
#[macro_export]
macro_rules! assert_no_violations {
    ($outcome:expr) => {{
        let outcome: &$crate::harness::Outcome = &$outcome;
        if !outcome.violations.is_empty() {
            panic!(
                "{} invariant(s) did not hold:\n{}",
                outcome.violations.len(),
                outcome.violation_text()
            );
        }
    }};
}
