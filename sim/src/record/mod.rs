//! Where the run's facts ([`crate::fact`]) go. The world notes each fact once; the
//! [`Recorder`] turns it into trace records (when the trace is on), feeds it to every oracle,
//! and keeps the run's accounting (the `calls` list, flush-and-hold figures, freeze
//! window use). So the trace, the violations and the report can never disagree about what
//! happened.

mod names;
mod spans;

pub use crate::fact::{DeletedBy, EndReason, Fact};

use model::api::ApiCall;
use model::ids::VolumeId;
use model::machine::Machine;
use model::time::{Duration, Instant};
use model::vss::{Hresult, WriterEvent};

use crate::oracle::{Oracles, Violation};
use crate::trace::{Record, Trace, WriterStatusRecord};

use names::Names;
use spans::Tracer;

/// One entry of the run's `calls` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Requester index.
    pub requester: usize,
    /// Call name as Microsoft spells it (or `ReadShadow`).
    pub call: &'static str,
    /// The call's own return.
    pub result: Option<Hresult>,
    /// What `QueryStatus` gave, for asynchronous calls.
    pub async_result: Option<Hresult>,
    /// Virtual time of the call.
    pub at: Instant,
    /// For `ReadShadow`: volume, first block, last block, blocks read.
    pub read: Option<(String, u64, u64, u64)>,
    /// For `SetBackupSucceeded`: the value passed.
    pub succeeded: Option<bool>,
    /// For `GatherWriterStatus`: the status it returned for each writer.
    pub writers: Option<Vec<WriterStatusRecord>>,
}

/// Figures about flush-and-hold, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HoldStats {
    /// Holds started.
    pub holds: u64,
    /// Longest hold.
    pub longest: Duration,
    /// Writes queued by holds.
    pub writes_delayed: u64,
    /// Largest latency a held write gained.
    pub max_added_latency: Duration,
}

/// Freeze window use of one writer, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreezeUse {
    /// Longest time from Freeze to Thaw (or to the end of the window).
    pub longest: Duration,
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
    tracer: Tracer,
    records: Vec<Record>,
    requesters: Vec<String>,
    oracles: Oracles,
    violations: Vec<Violation>,
    found: Vec<Violation>,
    calls: Vec<CallRecord>,
    pending: Vec<Pending>,
    hold: HoldStats,
    freeze_at: Vec<Option<Instant>>,
    freeze_use: Vec<FreezeUse>,
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
        let n_writers = machine.writers.len();
        let n_requesters = requesters.len();
        trace.header(header.0, header.1);
        let tracer = Tracer::new(machine, n_requesters);
        if trace.enabled() {
            let names = Names {
                machine,
                requesters: &requesters,
            };
            let mut records = Vec::new();
            tracer.declare(&names, &mut records);
            for r in records {
                trace.push(r);
            }
        }
        Recorder {
            trace,
            tracer,
            records: Vec::new(),
            requesters,
            oracles,
            violations: Vec::new(),
            found: Vec::new(),
            calls: Vec::new(),
            pending: vec![Pending::default(); n_requesters],
            hold: HoldStats::default(),
            freeze_at: vec![None; n_writers],
            freeze_use: vec![FreezeUse::default(); n_writers],
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
    /// Flush-and-hold figures.
    pub fn hold_stats(&self) -> &HoldStats {
        &self.hold
    }
    /// Freeze window use per writer.
    pub fn freeze_use(&self) -> &[FreezeUse] {
        &self.freeze_use
    }
    /// The name of requester `r`.
    pub fn requester_name(&self, r: usize) -> String {
        self.requesters.get(r).cloned().unwrap_or_default()
    }

    /// Records one fact at `now` on `machine`.
    pub fn note(&mut self, machine: &Machine, now: Instant, fact: Fact) {
        self.account(machine, now, &fact);
        if self.trace.enabled() {
            let names = Names {
                machine,
                requesters: &self.requesters,
            };
            let mut records = std::mem::take(&mut self.records);
            self.tracer.records(&names, now, &fact, &mut records);
            for r in records.drain(..) {
                self.trace.push(r);
            }
            self.records = records;
        }
        self.oracles.observe(machine, now, &fact, &mut self.found);
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
        if !self.trace.enabled() {
            return;
        }
        let names = Names {
            machine,
            requesters: &self.requesters,
        };
        let mut records = std::mem::take(&mut self.records);
        self.tracer.sample(&names, now, v, values, &mut records);
        for r in records.drain(..) {
            self.trace.push(r);
        }
        self.records = records;
    }

    /// The run's accounting, kept from the facts.
    fn account(&mut self, machine: &Machine, now: Instant, fact: &Fact) {
        match fact {
            Fact::Call { requester, call } => {
                let succeeded = match call {
                    ApiCall::SetBackupSucceeded { succeeded, .. } => Some(*succeeded),
                    _ => None,
                };
                self.calls.push(CallRecord {
                    requester: requester.idx(),
                    call: call.name(),
                    result: None,
                    async_result: None,
                    at: now,
                    read: None,
                    succeeded,
                    writers: None,
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
                    if result.is_success() && ApiCall::is_async_name(call) {
                        // This call's IVssAsync: its QueryStatus result goes to this entry.
                        p.async_call = Some(i);
                    }
                }
            }
            Fact::AsyncAnswered {
                requester,
                result,
                writers,
            } => {
                if let Some(i) = self.pending[requester.idx()].async_call.take() {
                    self.calls[i].async_result = Some(*result);
                    if !writers.is_empty() {
                        self.calls[i].writers = Some(
                            writers
                                .iter()
                                .map(|s| WriterStatusRecord {
                                    name: machine.writers[s.writer.idx()].name.clone(),
                                    state: s.state.name(),
                                    last_error: s.last_error.name(),
                                })
                                .collect(),
                        );
                    }
                }
            }
            Fact::GoAway { requester } => self.pending[requester.idx()].outstanding = None,
            Fact::Read {
                requester,
                volume,
                first,
                last,
                n,
                result,
                ..
            } => self.calls.push(CallRecord {
                requester: requester.idx(),
                call: "ReadShadow",
                result: Some(*result),
                async_result: None,
                at: now,
                read: Some((
                    machine.volumes[volume.idx()].name.clone(),
                    *first,
                    *last,
                    *n,
                )),
                succeeded: None,
                writers: None,
            }),
            Fact::WriterEvent { writer, event } => match event {
                WriterEvent::Freeze => self.freeze_at[writer.idx()] = Some(now),
                WriterEvent::Thaw | WriterEvent::Abort => {
                    if let Some(at) = self.freeze_at[writer.idx()].take() {
                        let u = &mut self.freeze_use[writer.idx()];
                        u.longest = u.longest.max(now - at);
                    }
                }
                _ => {}
            },
            Fact::Hold { .. } => self.hold.holds += 1,
            Fact::Release { released, .. } => {
                self.hold.longest = self.hold.longest.max(released.longest);
                self.hold.max_added_latency = self.hold.max_added_latency.max(released.max_added);
                self.hold.writes_delayed += released.n;
            }
            _ => {}
        }
    }
}
