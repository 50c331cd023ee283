//! The run's one stream of facts: what happened, typed, in order. The world notes each fact
//! once; the [`Recorder`] turns it into a trace record (when the trace is on), feeds it to every
//! oracle, and keeps the run's accounting (the `calls` list, flush-and-hold figures, freeze
//! window use). So the trace, the violations and the report can never disagree about what
//! happened.

use model::api::{ApiCall, ApiCallKind, ProviderArg, ShadowStatus};
use model::ids::{ProviderId, RequesterId, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use model::machine::Machine;
use model::time::{Duration, Instant};
use model::volume::store::{Created, Released, ShadowInfo, WriteCounts};
use model::vss::{Hresult, ProviderCall, WriterEvent, WriterState};

use crate::oracle::{Oracles, Violation};
use crate::trace::{Record, Trace};

/// Why the run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Every requester released and the service is idle.
    Finished,
    /// `[run] max_virtual_time` reached.
    TimeLimit,
    /// The step budget ran out.
    StepLimit,
    /// Nothing left to do but requesters did not finish.
    QueueEmpty,
}

/// Why a shadow copy went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletedBy {
    /// The coordinator deleted it, with this status.
    Service(ShadowStatus),
    /// The diff area filled (rule 17).
    DiffAreaFull,
}

/// One thing that happened in a run.
#[derive(Clone, Debug)]
pub enum Fact {
    /// A requester called the API.
    Call {
        /// The caller.
        requester: RequesterId,
        /// The call, with its arguments.
        call: ApiCall,
    },
    /// The coordinator answered a call (the requester sees it one API latency later).
    Answered {
        /// The caller.
        requester: RequesterId,
        /// The call (printed by its name).
        call: ApiCallKind,
        /// Its return.
        result: Hresult,
    },
    /// The coordinator finished an asynchronous operation.
    AsyncAnswered {
        /// The caller.
        requester: RequesterId,
        /// What `QueryStatus` gives.
        result: Hresult,
    },
    /// A reply reached the requester.
    Reply {
        /// The caller.
        requester: RequesterId,
        /// The call (printed by its name).
        call: ApiCallKind,
        /// Its return.
        result: Hresult,
    },
    /// The end of an asynchronous operation reached the requester.
    AsyncDone {
        /// The caller.
        requester: RequesterId,
        /// The call (printed by its name).
        call: ApiCallKind,
        /// What `QueryStatus` gives.
        result: Hresult,
    },
    /// The requester's own deadline passed.
    Deadline {
        /// The requester.
        requester: RequesterId,
    },
    /// `CreateVssBackupComponents`.
    NewObject {
        /// The requester.
        requester: RequesterId,
    },
    /// The requester process went away (rule 27).
    GoAway {
        /// The requester.
        requester: RequesterId,
    },
    /// An event was delivered to a writer.
    WriterEvent {
        /// The writer.
        writer: WriterId,
        /// The event.
        event: WriterEvent,
    },
    /// A writer's handler answered (`None`: an answer to an event the service no longer waits
    /// for).
    WriterAnswer {
        /// The writer and event answered.
        of: Option<(WriterId, WriterEvent)>,
        /// The answer.
        result: Hresult,
    },
    /// A writer's state or last error changed.
    StateChanged {
        /// The writer.
        writer: WriterId,
        /// The event that caused it.
        event: WriterEvent,
        /// Previous state.
        prev: WriterState,
        /// New state.
        next: WriterState,
        /// Last error after the change.
        last_error: Hresult,
        /// The rule applied.
        rule: &'static str,
    },
    /// A writer answered too late; ignored.
    LateAnswer,
    /// A provider was called.
    ProviderCall {
        /// The provider.
        provider: ProviderId,
        /// The call.
        call: ProviderCall,
        /// The set.
        set_id: SnapshotSetId,
        /// The volumes it handles.
        volumes: Vec<VolumeId>,
    },
    /// A provider call returned.
    ProviderAnswer {
        /// The provider and call answered.
        of: Option<(ProviderId, ProviderCall)>,
        /// The answer.
        result: Hresult,
    },
    /// Flush-and-hold began: the snapshot instant (rule 13).
    Hold {
        /// The volumes held.
        volumes: Vec<VolumeId>,
    },
    /// The writes in flight at the hold drained.
    Flushed,
    /// Held writes were released (rule 14).
    Release {
        /// The volumes released.
        volumes: Vec<VolumeId>,
        /// What the release did.
        released: Released,
        /// The write accounting after it.
        counts: WriteCounts,
        /// Writes still queued on any volume after it.
        queued: u64,
    },
    /// A volume was marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL` (rule 17).
    ProtectionFault {
        /// The volume.
        volume: VolumeId,
    },
    /// A shadow copy was created.
    ShadowCreated {
        /// Its set.
        set_id: SnapshotSetId,
        /// The shadow.
        snapshot: SnapshotId,
        /// The original volume.
        volume: VolumeId,
        /// What the store did.
        created: Created,
    },
    /// A shadow copy was deleted.
    ShadowDeleted {
        /// The shadow.
        snapshot: SnapshotId,
        /// The original volume.
        volume: VolumeId,
        /// Why.
        by: DeletedBy,
    },
    /// A requester read one range of a shadow.
    Read {
        /// The reader.
        requester: RequesterId,
        /// The original volume.
        volume: VolumeId,
        /// The shadow.
        snapshot: SnapshotId,
        /// First and last block of the range.
        first: u64,
        /// Last block of the range.
        last: u64,
        /// Blocks in the range.
        n: u64,
        /// `S_OK`, or `VSS_E_OBJECT_NOT_FOUND` for a shadow deleted under the reader.
        result: Hresult,
    },
    /// A requester finished reading a whole shadow.
    ReadBack {
        /// The original volume.
        volume: VolumeId,
        /// The shadow.
        snapshot: SnapshotId,
        /// Whether what it read is the image of the shadow's instant.
        matches: bool,
    },
    /// A `DoSnapshotSet` phase: the hold began or ended, or the set finished or failed.
    Phase {
        /// The set.
        set_id: SnapshotSetId,
        /// The phase name.
        phase: &'static str,
        /// The rule applied.
        rule: &'static str,
    },
    /// At the end of the run: every live shadow, and whether it reads back its instant.
    ShadowsVerified(Vec<(ShadowInfo, bool)>),
    /// The run is ending (oracles judge what is still open).
    Ending {
        /// Why.
        reason: EndReason,
    },
    /// The run ended.
    End {
        /// Why.
        reason: EndReason,
    },
}

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

/// The names people see, by role instance: the machine's (writers, volumes, providers) and the
/// requesters'.
struct Names<'a> {
    machine: &'a Machine,
    requesters: &'a [String],
}

impl Names<'_> {
    fn requester(&self, r: RequesterId) -> String {
        format!("requester:{}", self.requesters[r.idx()])
    }
    fn writer(&self, w: WriterId) -> String {
        format!("writer:{}", self.machine.writers[w.idx()].name)
    }
    fn provider(&self, p: ProviderId) -> String {
        format!("provider:{}", self.machine.providers[p.idx()].name)
    }
    fn volume(&self, v: VolumeId) -> String {
        self.machine.volumes[v.idx()].name.clone()
    }
    fn volume_list(&self, volumes: &[VolumeId]) -> String {
        volumes
            .iter()
            .map(|v| self.machine.volumes[v.idx()].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The arguments of a call worth showing a person, in VSS terms.
    fn describe_args(&self, call: &ApiCall) -> Option<String> {
        let m = self.machine;
        match call {
            ApiCall::SetContext(c) => Some(c.name().to_string()),
            ApiCall::AddComponent(Some(c)) | ApiCall::SetBackupSucceeded { component: c, .. } => {
                let w = &m.writers[c.writer.idx()];
                let comp = &w.components[c.idx as usize];
                let mut d = format!("{}: {}", w.name, comp.name);
                if let ApiCall::SetBackupSucceeded { succeeded, .. } = call {
                    d.push_str(if *succeeded { ", true" } else { ", false" });
                }
                Some(d)
            }
            ApiCall::AddComponent(None) => Some("(unknown component)".into()),
            ApiCall::AddToSnapshotSet {
                volume, provider, ..
            } => {
                let v = volume
                    .map(|v| m.volumes[v.idx()].name.clone())
                    .unwrap_or("(unknown volume)".into());
                let p = match provider {
                    ProviderArg::Any => "GUID_NULL".to_string(),
                    ProviderArg::Registered(p) => m.providers[p.idx()].name.clone(),
                    ProviderArg::Unregistered(g) => g.to_string(),
                };
                Some(format!("{v}, {p}"))
            }
            _ => None,
        }
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
    /// A recorder for a machine of `n_writers` writers and these requesters.
    pub fn new(
        trace: Trace,
        n_writers: usize,
        requesters: Vec<String>,
        oracles: Oracles,
    ) -> Recorder {
        let n_requesters = requesters.len();
        Recorder {
            trace,
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
            if let Some(rec) = record(&names, now, &fact) {
                self.trace.push(rec);
            }
        }
        self.oracles.observe(machine, now, &fact, &mut self.found);
        if !self.found.is_empty() {
            for v in std::mem::take(&mut self.found) {
                if self.trace.enabled() {
                    self.trace.push(Record {
                        t_us: v.at.as_us(),
                        kind: "violation",
                        role: "sim".into(),
                        name: Some(v.name),
                        detail: Some(v.detail.clone()),
                        ..Default::default()
                    });
                }
                self.violations.push(v);
            }
        }
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
            Fact::AsyncAnswered { requester, result } => {
                if let Some(i) = self.pending[requester.idx()].async_call.take() {
                    self.calls[i].async_result = Some(*result);
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

/// The trace record of a fact, if it has one.
fn record(n: &Names<'_>, now: Instant, fact: &Fact) -> Option<Record> {
    let t_us = now.as_us();
    let rec = match fact {
        Fact::Call { requester, call } => Record {
            t_us,
            kind: "call",
            role: n.requester(*requester),
            name: Some(call.name()),
            detail: n.describe_args(call),
            ..Default::default()
        },
        Fact::Reply {
            requester,
            call,
            result,
        } => Record {
            t_us,
            kind: "reply",
            role: n.requester(*requester),
            name: Some(call.name()),
            result: Some(result.name()),
            ..Default::default()
        },
        Fact::AsyncDone {
            requester,
            call,
            result,
        } => Record {
            t_us,
            kind: "async_done",
            role: n.requester(*requester),
            name: Some(call.name()),
            result: Some(result.name()),
            ..Default::default()
        },
        Fact::Deadline { requester } => Record {
            t_us,
            kind: "deadline",
            role: n.requester(*requester),
            detail: Some("the requester's deadline passed".into()),
            ..Default::default()
        },
        Fact::NewObject { requester } => Record {
            t_us,
            kind: "new_object",
            role: n.requester(*requester),
            name: Some("CreateVssBackupComponents"),
            ..Default::default()
        },
        Fact::GoAway { requester } => Record {
            t_us,
            kind: "go_away",
            role: n.requester(*requester),
            rule: Some("27"),
            ..Default::default()
        },
        Fact::WriterEvent { writer, event } => Record {
            t_us,
            kind: "event",
            role: n.writer(*writer),
            name: Some(event.name()),
            ..Default::default()
        },
        Fact::WriterAnswer { of, result } => Record {
            t_us,
            kind: "answer",
            role: of.map_or("writer:?".to_string(), |(w, _)| n.writer(w)),
            name: of.map(|(_, e)| e.name()),
            result: Some(result.name()),
            ..Default::default()
        },
        Fact::StateChanged {
            writer,
            event,
            prev,
            next,
            last_error,
            rule,
        } => Record {
            t_us,
            kind: "state",
            role: n.writer(*writer),
            name: Some(event.name()),
            prev: Some(prev.name()),
            next: Some(next.name()),
            last_error: Some(last_error.name()),
            rule: (!rule.is_empty()).then_some(*rule),
            ..Default::default()
        },
        Fact::LateAnswer => Record {
            t_us,
            kind: "late_answer",
            role: "coordinator".into(),
            rule: Some("11"),
            ..Default::default()
        },
        Fact::ProviderCall {
            provider,
            call,
            set_id,
            volumes,
        } => Record {
            t_us,
            kind: "provider_call",
            role: n.provider(*provider),
            name: Some(call.name()),
            set_id: Some(set_id.to_string()),
            volume: Some(n.volume_list(volumes)),
            ..Default::default()
        },
        Fact::ProviderAnswer { of, result } => Record {
            t_us,
            kind: "provider_answer",
            role: of.map_or("provider:?".to_string(), |(p, _)| n.provider(p)),
            name: of.map(|(_, c)| c.name()),
            result: Some(result.name()),
            ..Default::default()
        },
        Fact::Hold { volumes } => Record {
            t_us,
            kind: "hold",
            role: "coordinator".into(),
            name: Some("FlushAndHoldWrites"),
            volume: Some(n.volume_list(volumes)),
            rule: Some("13"),
            ..Default::default()
        },
        Fact::Flushed => Record {
            t_us,
            kind: "flushed",
            role: "coordinator".into(),
            ..Default::default()
        },
        Fact::Release {
            volumes, released, ..
        } => Record {
            t_us,
            kind: "release",
            role: "coordinator".into(),
            name: Some("ReleaseWrites"),
            volume: Some(n.volume_list(volumes)),
            n: Some(released.n),
            us: Some(released.longest.as_us()),
            detail: Some(released.max_added.as_us().to_string()),
            rule: Some("14"),
            ..Default::default()
        },
        Fact::ProtectionFault { volume } => {
            let vol = n.volume(*volume);
            Record {
                t_us,
                kind: "protection_fault",
                role: format!("volume:{vol}"),
                name: Some("VSS_PROTECTION_FAULT_DIFF_AREA_FULL"),
                volume: Some(vol),
                rule: Some("17"),
                ..Default::default()
            }
        }
        Fact::ShadowCreated {
            set_id,
            snapshot,
            volume,
            created,
        } => {
            let vol = n.volume(*volume);
            Record {
                t_us,
                kind: "shadow_created",
                role: format!("volume:{vol}"),
                set_id: Some(set_id.to_string()),
                snapshot_id: Some(snapshot.to_string()),
                volume: Some(vol),
                n: Some(created.n_written),
                detail: Some(created.method.name().to_string()),
                ..Default::default()
            }
        }
        Fact::ShadowDeleted {
            snapshot,
            volume,
            by,
        } => {
            let vol = n.volume(*volume);
            let (rule, detail) = match by {
                DeletedBy::Service(status) => (None, status.name().to_string()),
                DeletedBy::DiffAreaFull => (Some("17"), "diff area full, oldest first".to_string()),
            };
            Record {
                t_us,
                kind: "shadow_deleted",
                role: format!("volume:{vol}"),
                snapshot_id: Some(snapshot.to_string()),
                volume: Some(vol),
                rule,
                detail: Some(detail),
                ..Default::default()
            }
        }
        Fact::Read {
            requester,
            volume,
            snapshot,
            n: blocks,
            result,
            ..
        } => Record {
            t_us,
            kind: "read",
            role: n.requester(*requester),
            name: Some("ReadShadow"),
            result: Some(result.name()),
            volume: Some(n.volume(*volume)),
            snapshot_id: Some(snapshot.to_string()),
            n: Some(*blocks),
            ..Default::default()
        },
        Fact::Phase {
            set_id,
            phase,
            rule,
        } => Record {
            t_us,
            kind: "phase",
            role: "coordinator".into(),
            set_id: Some(set_id.to_string()),
            detail: Some(phase.to_string()),
            rule: Some(rule),
            ..Default::default()
        },
        Fact::End { reason } => Record {
            t_us,
            kind: "end",
            role: "sim".into(),
            detail: Some(format!("{reason:?}")),
            ..Default::default()
        },
        Fact::Answered { .. }
        | Fact::AsyncAnswered { .. }
        | Fact::ReadBack { .. }
        | Fact::ShadowsVerified(_)
        | Fact::Ending { .. } => return None,
    };
    Some(rec)
}
