//! Where the run's facts ([`crate::fact`]) go. The world notes each fact once; the
//! [`Recorder`] turns it into trace records (when the trace is on), feeds it to every oracle,
//! and keeps the `calls` list the world judges each requester's result by at the end. The
//! `run --json` report is folded from the trace records (`report::json::Builder`), so the
//! trace, the violations and the report can never disagree about what happened.

mod names;
mod spans;

pub use crate::fact::{DeletedBy, EndReason, Fact};

use model::api::ApiCallKind;
use model::app::{AppKind, TornUnit};
use model::ids::{SnapshotSetId, VolumeId};
use model::machine::Machine;
use model::time::Instant;
use model::vss::Hresult;

use crate::oracle::{Oracles, Violation};
use crate::trace::{Record, Trace};

use names::Names;
use spans::Tracer;

/// One entry of the run's `calls` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Requester index.
    pub requester: usize,
    /// The call; `None` for one range of a shadow read (`ReadShadow`).
    pub call: Option<ApiCallKind>,
    /// The call's own return.
    pub result: Option<Hresult>,
    /// What `QueryStatus` gave, for asynchronous calls.
    pub async_result: Option<Hresult>,
}

/// Something worth knowing that is not a violation (rule 33): a writer's application caught
/// torn in a crash-consistent shadow copy. It never changes an exit code by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// `torn_transaction` or `mixed_file_generation`.
    pub name: &'static str,
    /// The application (its workload's name).
    pub application: String,
    /// The set whose shadow copies hold the torn image.
    pub set_id: SnapshotSetId,
    /// What was torn, for people.
    pub detail: String,
    /// When the set's image of the application was complete.
    pub at: Instant,
}

/// What a torn image of `app` holds, for people.
pub fn torn_detail(app: &str, kind: AppKind, t: TornUnit) -> String {
    match kind {
        AppKind::Database { log_records, .. } => format!(
            "{app}: transaction {} is torn: its commit record is in the shadow copies but only \
             {} of its {} data pages",
            t.unit,
            t.written - log_records - 1,
            t.of - log_records - 1
        ),
        AppKind::FileRewrite { file_blocks, files } => format!(
            "{app}: generation {} is half renamed: {} of its {} files are new, the others old",
            t.unit,
            t.written / (file_blocks + 1),
            files
        ),
    }
}

/// The per-requester bookkeeping of the `calls` list.
#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    /// The `calls` entry awaiting its reply.
    outstanding: Option<usize>,
    /// The `calls` entry of the asynchronous operation in flight.
    async_call: Option<usize>,
}

/// Where facts go: the trace, the oracles, the accounting.
pub struct Recorder {
    /// The trace sink.
    pub trace: Trace,
    /// Builds the trace records; none when the trace is off.
    tracer: Option<Tracer>,
    records: Vec<Record>,
    requesters: Vec<String>,
    oracles: Oracles,
    violations: Vec<Violation>,
    findings: Vec<Finding>,
    found: Vec<Violation>,
    calls: Vec<CallRecord>,
    pending: Vec<Pending>,
    /// The instant of the fact being noted.
    now: Instant,
    /// The situations reached, when watched (a fault search's coverage).
    pub situations: Option<crate::situation::Situations>,
}

impl Recorder {
    /// A recorder for `machine` and these requesters; the trace begins with its header, naming
    /// the scenario and the seed.
    pub fn new(
        mut trace: Trace,
        header: (&str, u64),
        machine: &Machine,
        requesters: Vec<String>,
        oracles: Oracles,
    ) -> Recorder {
        let n_requesters = requesters.len();
        trace.header(header.0, header.1);
        let tracer = trace.enabled().then(|| {
            let tracer = Tracer::new(machine, n_requesters);
            let names = Names {
                machine,
                requesters: &requesters,
            };
            let mut records = Vec::new();
            tracer.declare(&names, &mut records);
            for r in records {
                trace.push(r);
            }
            tracer
        });
        Recorder {
            trace,
            tracer,
            records: Vec::new(),
            requesters,
            oracles,
            violations: Vec::new(),
            findings: Vec::new(),
            found: Vec::new(),
            calls: Vec::new(),
            pending: vec![Pending::default(); n_requesters],
            now: Instant::ZERO,
            situations: None,
        }
    }

    /// Every API call in order.
    pub fn calls(&self) -> &[CallRecord] {
        &self.calls
    }
    /// Invariants that did not hold.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
    /// Findings (rule 33), in the order they were made.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
    /// The name of requester `r`.
    pub fn requester_name(&self, r: usize) -> String {
        self.requesters.get(r).cloned().unwrap_or_default()
    }

    /// Records one fact at `now` on `machine`.
    pub fn note(&mut self, machine: &Machine, now: Instant, fact: Fact) {
        self.now = now;
        self.account(&fact);
        if let Some(tracer) = self.tracer.as_mut() {
            let names = Names {
                machine,
                requesters: &self.requesters,
            };
            let mut records = std::mem::take(&mut self.records);
            tracer.records(&names, now, &fact, &mut records);
            for r in records.drain(..) {
                self.trace.push(r);
            }
            self.records = records;
        }
        self.oracles.observe(machine, now, &fact, &mut self.found);
        if let Some(s) = self.situations.as_mut() {
            s.observe(&fact);
        }
        if !self.found.is_empty() {
            for v in std::mem::take(&mut self.found) {
                if self.trace.enabled() {
                    self.trace.push(Tracer::violation(v.at, v.name, &v.detail));
                }
                self.violations.push(v);
            }
        }
    }

    /// Samples volume `v`'s counters (held writes, diff-area bytes, writes accepted) for the
    /// trace; a no-op when the trace is off.
    #[inline]
    pub fn sample(&mut self, machine: &Machine, now: Instant, v: VolumeId, values: [u64; 3]) {
        let Some(tracer) = self.tracer.as_mut() else {
            return;
        };
        let names = Names {
            machine,
            requesters: &self.requesters,
        };
        let mut records = std::mem::take(&mut self.records);
        tracer.sample(&names, now, v, values, &mut records);
        for r in records.drain(..) {
            self.trace.push(r);
        }
        self.records = records;
    }

    /// The run's accounting, kept from the facts.
    fn account(&mut self, fact: &Fact) {
        match fact {
            Fact::AppImage {
                set_id,
                app,
                kind,
                torn: Some(t),
                ..
            } => self.findings.push(Finding {
                name: kind.finding(),
                application: app.clone(),
                set_id: *set_id,
                detail: torn_detail(app, *kind, *t),
                at: self.now,
            }),
            Fact::Call { requester, call } => {
                self.calls.push(CallRecord {
                    requester: requester.idx(),
                    call: Some(call.kind()),
                    result: None,
                    async_result: None,
                });
                self.pending[requester.idx()].outstanding = Some(self.calls.len() - 1);
            }
            Fact::Answered {
                requester,
                call,
                result,
            } => {
                let p = &mut self.pending[requester.idx()];
                if let Some(i) = p.outstanding.take() {
                    self.calls[i].result = Some(*result);
                    if result.is_success() && call.is_async() {
                        // This call's IVssAsync: its QueryStatus result goes to this entry.
                        p.async_call = Some(i);
                    }
                }
            }
            Fact::AsyncAnswered {
                requester, result, ..
            } => {
                // What it returned for each writer goes to the trace (`async_status`).
                if let Some(i) = self.pending[requester.idx()].async_call.take() {
                    self.calls[i].async_result = Some(*result);
                }
            }
            Fact::GoAway { requester } => self.pending[requester.idx()].outstanding = None,
            Fact::Read {
                requester, result, ..
            } => self.calls.push(CallRecord {
                requester: requester.idx(),
                call: None,
                result: Some(*result),
                async_result: None,
            }),
            _ => {}
        }
    }
}
