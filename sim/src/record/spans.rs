//! Facts as trace records (schema 2): role instances with their `role_seq`, and spans.
//!
//! Spans, each a `begin` and an `end` record sharing a `span_id`:
//! - an API call, from `call` to its `reply` (synchronous) or to its `async_done` (an
//!   asynchronous call whose `IVssAsync` was returned; its `reply` is then a record inside it);
//! - inside `DoSnapshotSet`, its stages (`stage`: PrepareForSnapshot, EndPrepareSnapshots,
//!   Freeze and Thaw per application level, PreCommitSnapshots, CommitSnapshots, …), the hold
//!   window (`hold` to `release`) and each writer's freeze window (`freeze_window`);
//! - a writer event, from `event` (its delivery) to `answer`, or to the instant the service gives
//!   up on the handler (a `span_end` record with the failure);
//! - a provider call, from `provider_call` to `provider_answer` (`AbortSnapshots`, never
//!   answered, ends at once);
//! - a shadow read, `read_shadow`, with one `read` record per range inside.
//!
//! A record's `parent_id` is the span it happened in: the current stage for a creation's events
//! and calls, the writer's running handler for its state changes, otherwise the API call most
//! recently begun and still open (the call whose handling raised it), or `null`. A span still
//! open when the run ends gets an end record at the last instant with `VSS_S_ASYNC_PENDING`.

use std::collections::BTreeMap;

use model::api::{ApiCall, ShadowStatus, WriterStatus};
use model::ids::{ProviderId, RequesterId, VolumeId, WriterId};
use model::machine::Machine;
use model::time::{Duration, Instant};
use model::vss::{Hresult, ProviderCall, WriterEvent};

mod data;

use super::names::Names;
use super::{DeletedBy, Fact};
use crate::trace::{Record, WriterStatusRecord};

/// The status a `GatherWriterStatus` returned for each writer, as records (`None` when empty).
fn status_list(n: &Names<'_>, writers: &[WriterStatus]) -> Option<Vec<WriterStatusRecord>> {
    (!writers.is_empty()).then(|| {
        writers
            .iter()
            .map(|s| WriterStatusRecord {
                name: n.machine.writers[s.writer.idx()].name.clone(),
                state: s.state.name(),
                last_error: s.last_error.name(),
            })
            .collect()
    })
}

/// A role instance: kind, name, `role_seq`.
#[derive(Clone, Debug)]
struct Who {
    role: &'static str,
    instance: String,
    seq: u32,
}

/// A span not yet ended.
#[derive(Clone, Debug)]
struct Open {
    who: Who,
    /// The kind of its end record.
    end_kind: &'static str,
    parent: Option<u64>,
    name: Option<&'static str>,
    began: Instant,
}

/// A DoSnapshotSet stage: its name and, for Freeze and Thaw, the application level.
type StageKey = (&'static str, Option<&'static str>);

/// Last sampled values of one volume's counters.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    /// Values as last emitted: held writes, diff-area bytes, writes accepted.
    emitted: [u64; 3],
    /// Values now.
    now: [u64; 3],
    /// When they were last emitted (`None`: never).
    at: Option<Instant>,
}

const COUNTER_NAMES: [&str; 3] = ["held_writes", "diff_area_bytes", "writes_accepted"];

/// Counters are sampled at most this often.
const COUNTER_PERIOD: Duration = Duration::from_ms(1);

/// Builds the records of each fact, keeping the open spans.
pub(super) struct Tracer {
    next_span: u64,
    /// `role_seq` of the first requester, writer, provider and volume.
    seq_base: [u32; 4],
    open: BTreeMap<u64, Open>,
    /// Per requester: its open API call span.
    calls: Vec<Option<(u64, ApiCallName)>>,
    /// Per requester: the span of its asynchronous operation still running (the call that
    /// returned an `IVssAsync`), until the operation's end reaches the requester. A Cancel,
    /// AbortBackup or Release can be made meanwhile.
    ops: Vec<Option<u64>>,
    /// Open API call spans, most recently begun last.
    causes: Vec<u64>,
    /// The open `DoSnapshotSet` call span (one creation at a time, rule 20).
    creation: Option<u64>,
    stage: Option<(StageKey, u64)>,
    /// Per writer: its running handlers (event, span).
    handlers: Vec<Vec<(WriterEvent, u64)>>,
    /// Per writer: the handler that answered last (its state change follows the answer).
    answered: Vec<Option<(WriterEvent, u64)>>,
    /// Per writer: its open freeze window.
    freeze: Vec<Option<u64>>,
    /// Per provider: its outstanding calls.
    provider_calls: Vec<Vec<(ProviderCall, u64)>>,
    hold: Option<u64>,
    /// Per requester: its shadow read span.
    reads: Vec<Option<u64>>,
    counters: Vec<Counters>,
}

type ApiCallName = &'static str;

impl Tracer {
    pub(super) fn new(machine: &Machine, n_requesters: usize) -> Tracer {
        let r0 = 2u32;
        let w0 = r0 + n_requesters as u32;
        let p0 = w0 + machine.writers.len() as u32;
        let v0 = p0 + machine.providers.len() as u32;
        Tracer {
            next_span: 1,
            seq_base: [r0, w0, p0, v0],
            open: BTreeMap::new(),
            calls: vec![None; n_requesters],
            ops: vec![None; n_requesters],
            causes: Vec::new(),
            creation: None,
            stage: None,
            handlers: vec![Vec::new(); machine.writers.len()],
            answered: vec![None; machine.writers.len()],
            freeze: vec![None; machine.writers.len()],
            provider_calls: vec![Vec::new(); machine.providers.len()],
            hold: None,
            reads: vec![None; n_requesters],
            counters: vec![Counters::default(); machine.volumes.len()],
        }
    }

    fn sim() -> Who {
        Who {
            role: "sim",
            instance: "sim".into(),
            seq: 0,
        }
    }
    fn coordinator() -> Who {
        Who {
            role: "coordinator",
            instance: "coordinator".into(),
            seq: 1,
        }
    }
    fn requester(&self, n: &Names<'_>, r: RequesterId) -> Who {
        Who {
            role: "requester",
            instance: n.requesters[r.idx()].clone(),
            seq: self.seq_base[0] + r.idx() as u32,
        }
    }
    fn writer(&self, n: &Names<'_>, w: WriterId) -> Who {
        Who {
            role: "writer",
            instance: n.machine.writers[w.idx()].name.clone(),
            seq: self.seq_base[1] + w.idx() as u32,
        }
    }
    fn provider(&self, n: &Names<'_>, p: ProviderId) -> Who {
        Who {
            role: "provider",
            instance: n.machine.providers[p.idx()].name.clone(),
            seq: self.seq_base[2] + p.idx() as u32,
        }
    }
    fn volume(&self, n: &Names<'_>, v: VolumeId) -> Who {
        Who {
            role: "volume",
            instance: n.volume(v),
            seq: self.seq_base[3] + v.idx() as u32,
        }
    }

    /// The `instance` records that declare every role instance and its `role_seq`, in
    /// `role_seq` order: sim, coordinator, requesters, writers (with `instance_id`, `class_id`
    /// and the freeze window `dwTimeoutFreeze` in `us`), providers (their type in `detail`),
    /// volumes.
    pub(super) fn declare(&self, n: &Names<'_>, out: &mut Vec<Record>) {
        let at = Instant::ZERO;
        out.push(Tracer::rec(at, "instance", &Tracer::sim()));
        out.push(Tracer::rec(at, "instance", &Tracer::coordinator()));
        for r in 0..n.requesters.len() {
            let id = RequesterId(u16::try_from(r).expect("requester index fits the id"));
            out.push(Tracer::rec(at, "instance", &self.requester(n, id)));
        }
        for (i, w) in n.machine.writers.iter().enumerate() {
            let id = WriterId(u16::try_from(i).expect("writer index fits the id"));
            let mut r = Tracer::rec(at, "instance", &self.writer(n, id));
            r.instance_id = Some(w.instance_id.to_string());
            r.class_id = Some(w.class_id.to_string());
            r.us = Some(w.freeze_timeout.as_us());
            out.push(r);
        }
        for (i, p) in n.machine.providers.iter().enumerate() {
            let id = ProviderId(u16::try_from(i).expect("provider index fits the id"));
            let mut r = Tracer::rec(at, "instance", &self.provider(n, id));
            r.detail = Some(p.kind.name().to_string());
            out.push(r);
        }
        for v in 0..n.machine.volumes.len() {
            let id = VolumeId(u16::try_from(v).expect("volume index fits the id"));
            let mut r = Tracer::rec(at, "instance", &self.volume(n, id));
            r.volume = Some(n.volume(id));
            out.push(r);
        }
    }

    /// A record of `who` at `now`, not a span.
    fn rec(now: Instant, kind: &'static str, who: &Who) -> Record {
        Record {
            t_us: now.as_us(),
            kind,
            role: who.role,
            instance: who.instance.clone(),
            role_seq: who.seq,
            ..Default::default()
        }
    }

    /// Begins a span; returns its id and its begin record.
    fn begin(
        &mut self,
        now: Instant,
        kind: &'static str,
        end_kind: &'static str,
        who: Who,
        parent: Option<u64>,
        name: Option<&'static str>,
    ) -> (u64, Record) {
        let id = self.next_span;
        self.next_span += 1;
        let mut r = Tracer::rec(now, kind, &who);
        r.span = Some("begin");
        r.span_id = Some(id);
        r.parent_id = Some(parent);
        r.name = name;
        self.open.insert(
            id,
            Open {
                who,
                end_kind,
                parent,
                name,
                began: now,
            },
        );
        (id, r)
    }

    /// Ends span `id` (if open) with its end record, as `kind` (or its own end kind).
    fn end(&mut self, now: Instant, id: u64, kind: Option<&'static str>) -> Option<Record> {
        let o = self.open.remove(&id)?;
        self.causes.retain(|c| *c != id);
        let mut r = Tracer::rec(now, kind.unwrap_or(o.end_kind), &o.who);
        r.span = Some("end");
        r.span_id = Some(id);
        r.parent_id = Some(o.parent);
        r.name = o.name;
        r.us = Some((now - o.began).as_us());
        Some(r)
    }

    /// The API call most recently begun and still open.
    fn cause(&self) -> Option<u64> {
        self.causes.last().copied()
    }

    /// The span a creation's event or call of stage `key` belongs to: a new stage span when the
    /// stage changes (its records go to `out`), the current stage otherwise; outside a creation,
    /// the cause.
    fn in_stage(
        &mut self,
        now: Instant,
        key: Option<StageKey>,
        out: &mut Vec<Record>,
    ) -> Option<u64> {
        let Some(creation) = self.creation else {
            return self.cause();
        };
        let Some(key) = key else {
            return self.stage.map(|(_, id)| id).or(Some(creation));
        };
        if let Some((current, id)) = self.stage {
            if current == key {
                return Some(id);
            }
            out.extend(self.end(now, id, None));
        }
        let (id, mut r) = self.begin(
            now,
            "stage",
            "stage",
            Tracer::coordinator(),
            Some(creation),
            Some(key.0),
        );
        r.detail = key.1.map(str::to_string);
        out.push(r);
        self.stage = Some((key, id));
        Some(id)
    }

    fn end_stage(&mut self, now: Instant, out: &mut Vec<Record>) {
        if let Some((_, id)) = self.stage.take() {
            out.extend(self.end(now, id, None));
        }
    }

    /// Ends writer `w`'s oldest running handler of `event` (any event when `None`).
    fn end_handler(
        &mut self,
        now: Instant,
        w: WriterId,
        event: Option<WriterEvent>,
        kind: Option<&'static str>,
    ) -> Option<Record> {
        let list = &mut self.handlers[w.idx()];
        let i = list
            .iter()
            .position(|(e, _)| event.is_none_or(|x| x == *e))?;
        let (e, id) = list.remove(i);
        self.answered[w.idx()] = Some((e, id));
        self.end(now, id, kind)
    }

    /// The records of one fact.
    pub(super) fn records(
        &mut self,
        n: &Names<'_>,
        now: Instant,
        fact: &Fact,
        out: &mut Vec<Record>,
    ) {
        match fact {
            Fact::Call { requester, call } => {
                let who = self.requester(n, *requester);
                let (id, mut r) = self.begin(now, "call", "reply", who, None, Some(call.name()));
                r.detail = n.describe_args(call);
                if let ApiCall::SetBackupSucceeded { succeeded, .. } = call {
                    r.succeeded = Some(*succeeded);
                }
                out.push(r);
                self.calls[requester.idx()] = Some((id, call.name()));
                self.causes.push(id);
                if matches!(call, ApiCall::DoSnapshotSet) {
                    self.creation = Some(id);
                }
            }
            Fact::Reply {
                requester,
                call,
                result,
            } => {
                let Some((id, name)) = self.calls[requester.idx()] else {
                    return;
                };
                if name != call.name() {
                    // The reply to a call the requester gave up on (its deadline): its span
                    // stays open, the call in flight is another.
                    return;
                }
                self.calls[requester.idx()] = None;
                if call.is_async() && result.is_success() {
                    // The IVssAsync: the call's span goes on until the operation ends.
                    let mut r = Tracer::rec(now, "reply", &self.requester(n, *requester));
                    r.parent_id = Some(Some(id));
                    r.name = Some(call.name());
                    r.result = Some(result.name());
                    out.push(r);
                    self.ops[requester.idx()] = Some(id);
                    return;
                }
                if self.creation == Some(id) {
                    self.end_stage(now, out);
                    self.creation = None;
                }
                if let Some(mut r) = self.end(now, id, Some("reply")) {
                    r.result = Some(result.name());
                    out.push(r);
                }
            }
            Fact::Answered {
                requester,
                call,
                result,
            } => {
                // The service's return, one API latency before the requester sees it.
                let mut r = Tracer::rec(now, "returned", &self.requester(n, *requester));
                r.parent_id = Some(self.calls[requester.idx()].map(|c| c.0));
                r.name = Some(call.name());
                r.result = Some(result.name());
                out.push(r);
            }
            Fact::AsyncAnswered {
                requester,
                result,
                writers,
            } => {
                // The operation's end at the service: what QueryStatus gives from now on.
                let mut r = Tracer::rec(now, "async_status", &self.requester(n, *requester));
                let i = requester.idx();
                r.parent_id = Some(self.ops[i].or(self.calls[i].map(|c| c.0)));
                r.result = Some(result.name());
                r.writers = status_list(n, writers);
                out.push(r);
            }
            Fact::AsyncDone {
                requester,
                call: _,
                result,
                writers,
            } => {
                let Some(id) = self.ops[requester.idx()].take() else {
                    return;
                };
                if self.creation == Some(id) {
                    self.end_stage(now, out);
                    self.creation = None;
                }
                if let Some(mut r) = self.end(now, id, Some("async_done")) {
                    r.result = Some(result.name());
                    r.writers = status_list(n, writers);
                    out.push(r);
                }
            }
            Fact::Deadline { requester } => {
                let mut r = Tracer::rec(now, "deadline", &self.requester(n, *requester));
                let i = requester.idx();
                r.parent_id = Some(self.calls[i].map(|c| c.0).or(self.ops[i]));
                r.detail = Some("the requester's deadline passed".into());
                out.push(r);
            }
            Fact::NewObject { requester } => {
                let mut r = Tracer::rec(now, "new_object", &self.requester(n, *requester));
                r.name = Some("CreateVssBackupComponents");
                out.push(r);
            }
            Fact::GoAway { requester } => {
                let mut r = Tracer::rec(now, "go_away", &self.requester(n, *requester));
                r.rule = Some("27");
                out.push(r);
            }
            Fact::WriterEvent { writer, event } => {
                let key = match event {
                    WriterEvent::PrepareForSnapshot => Some(("PrepareForSnapshot", None)),
                    WriterEvent::Freeze => {
                        Some(("Freeze", Some(n.machine.writers[writer.idx()].level.name())))
                    }
                    WriterEvent::Thaw => {
                        Some(("Thaw", Some(n.machine.writers[writer.idx()].level.name())))
                    }
                    WriterEvent::PostSnapshot => Some(("PostSnapshot", None)),
                    _ => None,
                };
                let parent = if key.is_some() {
                    self.in_stage(now, key, out)
                } else {
                    self.creation
                        .filter(|_| matches!(event, WriterEvent::Abort))
                        .and(self.in_stage(now, None, out))
                        .or(self.cause())
                };
                let who = self.writer(n, *writer);
                let instance_id = n.machine.writers[writer.idx()].instance_id.to_string();
                match event {
                    WriterEvent::Thaw | WriterEvent::Abort => {
                        if let Some(id) = self.freeze[writer.idx()].take()
                            && let Some(mut r) = self.end(now, id, None)
                        {
                            r.detail = Some(format!("{} delivered", event.name()));
                            out.push(r);
                        }
                    }
                    _ => {}
                }
                if *event == WriterEvent::Freeze {
                    let (id, r) = self.begin(
                        now,
                        "freeze_window",
                        "freeze_window",
                        who.clone(),
                        self.creation,
                        Some("dwTimeoutFreeze"),
                    );
                    out.push(r);
                    self.freeze[writer.idx()] = Some(id);
                }
                let (id, mut r) =
                    self.begin(now, "event", "answer", who, parent, Some(event.name()));
                r.instance_id = Some(instance_id);
                out.push(r);
                self.handlers[writer.idx()].push((*event, id));
            }
            Fact::WriterAnswer { of, result } => match of {
                Some((w, e)) => {
                    let r = self.end_handler(now, *w, Some(*e), Some("answer"));
                    let mut r = r.unwrap_or_else(|| {
                        let mut r = Tracer::rec(now, "answer", &self.writer(n, *w));
                        r.name = Some(e.name());
                        r
                    });
                    r.result = Some(result.name());
                    out.push(r);
                }
                None => {
                    let who = Who {
                        role: "writer",
                        instance: "(unknown)".into(),
                        seq: 0,
                    };
                    let mut r = Tracer::rec(now, "answer", &who);
                    r.result = Some(result.name());
                    out.push(r);
                }
            },
            Fact::StateChanged {
                writer,
                event,
                prev,
                next,
                last_error,
                rule,
            } => {
                let w = writer.idx();
                let parent = self.handlers[w]
                    .iter()
                    .find(|(e, _)| e == event)
                    .or(self.answered[w].as_ref().filter(|(e, _)| e == event))
                    .map(|(_, id)| *id)
                    .or(self.cause());
                let mut r = Tracer::rec(now, "state", &self.writer(n, *writer));
                r.parent_id = Some(parent);
                r.name = Some(event.name());
                r.prev = Some(prev.name());
                r.next = Some(next.name());
                r.last_error = Some(last_error.name());
                r.rule = (!rule.is_empty()).then_some(*rule);
                out.push(r);
                // The service gave up on a handler (rule 11): its span ends now.
                if *last_error == Hresult::WriterNotResponding
                    && let Some(mut r) =
                        self.end_handler(now, *writer, Some(*event), Some("span_end"))
                {
                    r.result = Some(last_error.name());
                    r.detail = Some("the service gave up on the handler".into());
                    out.push(r);
                }
            }
            Fact::FreezeTimedOut { writer } => {
                // Rule 7: the window's timer fired; a Freeze handler still running is given up
                // on, and the window span ends.
                let timeout = Hresult::WriterErrorTimeout;
                if let Some(mut r) =
                    self.end_handler(now, *writer, Some(WriterEvent::Freeze), Some("span_end"))
                {
                    r.result = Some(timeout.name());
                    r.detail = Some("the service gave up on the handler".into());
                    out.push(r);
                }
                if let Some(id) = self.freeze[writer.idx()].take()
                    && let Some(mut r) = self.end(now, id, None)
                {
                    r.result = Some(timeout.name());
                    r.detail = Some("the window ended".into());
                    out.push(r);
                }
            }
            Fact::LateAnswer => {
                let mut r = Tracer::rec(now, "late_answer", &Tracer::coordinator());
                r.rule = Some("11");
                out.push(r);
            }
            Fact::ProviderCall {
                provider,
                call,
                set_id,
                volumes,
            } => {
                let key = match call {
                    ProviderCall::BeginPrepareSnapshot | ProviderCall::AbortSnapshots => None,
                    other => Some((other.name(), None)),
                };
                let parent = if key.is_some() {
                    self.in_stage(now, key, out)
                } else if self.creation.is_some() {
                    self.in_stage(now, None, out)
                } else {
                    self.cause()
                };
                let who = self.provider(n, *provider);
                let (id, mut r) = self.begin(
                    now,
                    "provider_call",
                    "provider_answer",
                    who,
                    parent,
                    Some(call.name()),
                );
                r.set_id = Some(set_id.to_string());
                r.volume = Some(n.volume_list(volumes));
                out.push(r);
                if *call == ProviderCall::AbortSnapshots {
                    // Not answered: the call is over once made.
                    out.extend(self.end(now, id, None));
                } else {
                    self.provider_calls[provider.idx()].push((*call, id));
                }
            }
            Fact::ProviderAnswer { of, result } => {
                let ended = of.and_then(|(p, c)| {
                    let list = &mut self.provider_calls[p.idx()];
                    let i = list.iter().position(|(x, _)| *x == c)?;
                    let (_, id) = list.remove(i);
                    Some(id)
                });
                let r = match (ended, of) {
                    (Some(id), _) => self.end(now, id, None),
                    (None, Some((p, c))) => {
                        let mut r = Tracer::rec(now, "provider_answer", &self.provider(n, *p));
                        r.name = Some(c.name());
                        Some(r)
                    }
                    (None, None) => None,
                };
                if let Some(mut r) = r {
                    r.result = Some(result.name());
                    out.push(r);
                }
            }
            Fact::Hold { volumes } => {
                let parent = self.creation.or(self.cause());
                let (id, mut r) = self.begin(
                    now,
                    "hold",
                    "release",
                    Tracer::coordinator(),
                    parent,
                    Some("FlushAndHoldWrites"),
                );
                r.volume = Some(n.volume_list(volumes));
                r.rule = Some("13");
                out.push(r);
                self.hold = Some(id);
            }
            Fact::Flushed => {
                let mut r = Tracer::rec(now, "flushed", &Tracer::coordinator());
                r.parent_id = Some(self.hold);
                out.push(r);
            }
            Fact::Release {
                volumes, released, ..
            } => {
                let r = match self.hold.take() {
                    Some(id) => self.end(now, id, None),
                    None => Some(Tracer::rec(now, "release", &Tracer::coordinator())),
                };
                if let Some(mut r) = r {
                    r.name = Some("ReleaseWrites");
                    r.volume = Some(n.volume_list(volumes));
                    r.n = Some(released.n);
                    r.us = Some(released.longest.as_us());
                    r.detail = Some(released.max_added.as_us().to_string());
                    r.rule = Some("14");
                    out.push(r);
                }
            }
            Fact::ProtectionFault { volume } => {
                let mut r = Tracer::rec(now, "protection_fault", &self.volume(n, *volume));
                r.name = Some("VSS_PROTECTION_FAULT_DIFF_AREA_FULL");
                r.volume = Some(n.volume(*volume));
                r.rule = Some("17");
                out.push(r);
            }
            Fact::ShadowCreated {
                set_id,
                snapshot,
                volume,
                provider,
                context,
                created,
            } => {
                let mut r = Tracer::rec(now, "shadow_created", &self.volume(n, *volume));
                r.parent_id = Some(self.in_stage(now, None, out));
                r.set_id = Some(set_id.to_string());
                r.snapshot_id = Some(snapshot.to_string());
                r.volume = Some(n.volume(*volume));
                r.n = Some(created.n_written);
                r.detail = Some(created.method.name().to_string());
                r.provider = Some(n.machine.providers[provider.idx()].name.clone());
                r.context = Some(context.name());
                r.status = Some(ShadowStatus::Exists.name());
                out.push(r);
            }
            Fact::ShadowDeleted {
                snapshot,
                volume,
                by,
            } => {
                let mut r = Tracer::rec(now, "shadow_deleted", &self.volume(n, *volume));
                r.parent_id = Some(self.cause());
                r.snapshot_id = Some(snapshot.to_string());
                r.volume = Some(n.volume(*volume));
                let (rule, detail, status) = match by {
                    DeletedBy::Service(status) => (None, status.name().to_string(), *status),
                    DeletedBy::DiffAreaFull => (
                        Some("17"),
                        "diff area full, oldest first".to_string(),
                        ShadowStatus::DiffAreaFull,
                    ),
                };
                r.rule = rule;
                r.detail = Some(detail);
                r.status = Some(status.name());
                out.push(r);
            }
            Fact::LiveRead { .. } => self.live_read(n, now, fact, out),
            Fact::ReadStarted {
                requester,
                volume,
                snapshot,
                n: blocks,
            } => {
                let who = self.requester(n, *requester);
                let (id, mut r) = self.begin(
                    now,
                    "read_shadow",
                    "read_shadow",
                    who,
                    None,
                    Some("ReadShadow"),
                );
                r.volume = Some(n.volume(*volume));
                r.snapshot_id = Some(snapshot.to_string());
                r.n = Some(*blocks);
                out.push(r);
                self.reads[requester.idx()] = Some(id);
            }
            Fact::Read {
                requester,
                volume,
                snapshot,
                first,
                last,
                n: blocks,
                result,
            } => {
                let mut r = Tracer::rec(now, "read", &self.requester(n, *requester));
                r.parent_id = Some(self.reads[requester.idx()]);
                r.name = Some("ReadShadow");
                r.result = Some(result.name());
                r.volume = Some(n.volume(*volume));
                r.snapshot_id = Some(snapshot.to_string());
                r.n = Some(*blocks);
                r.first_block = Some(*first);
                r.last_block = Some(*last);
                out.push(r);
            }
            Fact::ReadEnded {
                requester, result, ..
            } => {
                if let Some(id) = self.reads[requester.idx()].take()
                    && let Some(mut r) = self.end(now, id, None)
                {
                    r.result = Some(result.name());
                    out.push(r);
                }
            }
            Fact::Phase {
                set_id,
                phase,
                rule,
            } => {
                let mut r = Tracer::rec(now, "phase", &Tracer::coordinator());
                r.parent_id = Some(self.creation.or(self.cause()));
                r.set_id = Some(set_id.to_string());
                r.detail = Some(phase.to_string());
                r.rule = Some(rule);
                out.push(r);
                if *phase != "finished" {
                    // The creation failed: the provider calls it still waited for are given up.
                    for p in 0..self.provider_calls.len() {
                        for (_, id) in std::mem::take(&mut self.provider_calls[p]) {
                            if let Some(mut r) = self.end(now, id, Some("span_end")) {
                                r.result = Some(phase);
                                r.detail = Some("the creation ended without this answer".into());
                                out.push(r);
                            }
                        }
                    }
                }
            }
            Fact::AppImage { .. } => self.app_image(n, now, fact, out),
            Fact::RequesterResult {
                requester, result, ..
            } => {
                let mut r = Tracer::rec(now, "result", &self.requester(n, *requester));
                r.result = Some(result.name());
                out.push(r);
            }
            Fact::End {
                reason,
                events,
                writes,
            } => {
                // Spans still open end at the last instant, pending.
                for id in self.open.keys().copied().collect::<Vec<_>>() {
                    if let Some(mut r) = self.end(now, id, Some("span_end")) {
                        r.result = Some(Hresult::AsyncPending.name());
                        out.push(r);
                    }
                }
                self.flush_counters(n, now, out);
                let mut r = Tracer::rec(now, "end", &Tracer::sim());
                r.detail = Some(format!("{reason:?}"));
                r.events = Some(*events);
                r.writes_issued = Some(writes.issued);
                r.writes_failed = Some(writes.failed);
                out.push(r);
            }
            Fact::Healed { answered } => out.push(Tracer::healed(now, *answered)),
            Fact::ShadowsVerified(_)
            | Fact::Settled { .. }
            | Fact::SettleDue { .. }
            | Fact::Ending { .. }
            | Fact::SnapshotState { .. } => {}
        }
    }

    /// A violation record.
    pub(super) fn violation(now: Instant, name: &'static str, detail: &str) -> Record {
        let mut r = Tracer::rec(now, "violation", &Tracer::sim());
        r.name = Some(name);
        r.detail = Some(detail.to_string());
        r
    }

    /// Volume `v`'s counters are now `values` (held writes, diff-area bytes, writes accepted):
    /// emits those that changed, at most once per virtual millisecond per volume.
    pub(super) fn sample(
        &mut self,
        n: &Names<'_>,
        now: Instant,
        v: VolumeId,
        values: [u64; 3],
        out: &mut Vec<Record>,
    ) {
        let c = &mut self.counters[v.idx()];
        c.now = values;
        if c.now == c.emitted || c.at.is_some_and(|at| now < at + COUNTER_PERIOD) {
            return;
        }
        self.emit_counters(n, now, v, out);
    }

    fn emit_counters(&mut self, n: &Names<'_>, now: Instant, v: VolumeId, out: &mut Vec<Record>) {
        let who = self.volume(n, v);
        let c = &mut self.counters[v.idx()];
        for (name, (value, emitted)) in COUNTER_NAMES.iter().zip(c.now.iter().zip(&c.emitted)) {
            if value != emitted {
                let mut r = Tracer::rec(now, "counter", &who);
                r.name = Some(name);
                r.volume = Some(who.instance.clone());
                r.n = Some(*value);
                out.push(r);
            }
        }
        c.emitted = c.now;
        c.at = Some(now);
    }

    /// At the end: the last values of every counter that changed since it was last emitted.
    fn flush_counters(&mut self, n: &Names<'_>, now: Instant, out: &mut Vec<Record>) {
        for v in 0..self.counters.len() {
            if self.counters[v].now != self.counters[v].emitted {
                let id = VolumeId(u16::try_from(v).expect("volume index fits the id"));
                self.emit_counters(n, now, id, out);
            }
        }
    }
}
