//! The VSS service (coordinator) as a sans-IO state machine.
//!
//! It holds one backup session per requester (the `IVssBackupComponents` object and its
//! `VSS_E_BAD_STATE` rules), the service-wide writer status, the one snapshot-set creation the
//! machine allows at a time (rule 20), and the shadow copies it has made. It never
//! reads a clock: every input carries `now`, and every effect (writer event, provider call,
//! flush-and-hold, timer) is appended to the caller's outbox as an [`Output`].
//!
//! Reading order: [`Coordinator::handle`] dispatches; `call_*` are the API calls;
//! `Coordinator::creation_step` walks `DoSnapshotSet` through rule 2's order;
//! `fail_creation` is rule 14's clean-up.

use crate::api::{
    ApiCall, ApiCallKind, ComponentRef, Input, Output, ProviderArg, ReplyData, ShadowStatus, Timer,
    WriterStatus,
};
use crate::ids::{ProviderId, RequesterId, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use crate::machine::Machine;
use crate::profile::Profile;
use crate::time::Instant;
use crate::vss::{Hresult, ProviderCall, ProviderType, SnapshotContext, WriterEvent, WriterState};

/// Number of freeze ranks (`ApplicationLevel::freeze_rank` is below this).
const FREEZE_RANKS: u8 = 4;

/// The service-wide status of one writer (what `vssadmin list writers` shows).
#[derive(Clone, Debug)]
struct WriterRec {
    state: WriterState,
    last_error: Hresult,
    /// The current freeze window: the token of the Freeze delivery and whether Thaw was sent.
    freeze: Option<FreezeWindow>,
    /// The backup session (requester slot and object generation) the writer is taking part
    /// in: the last to send it PrepareForBackup. Events of any other session cannot change
    /// its state (only Identify, which is service-wide).
    owner: Option<(RequesterId, u32)>,
}

/// One writer as one session sees it.
#[derive(Clone, Copy, Debug, Default)]
struct Seat {
    /// Left out of the session's later events (failed, rules 5-8; or not responding).
    out: bool,
    /// Did not answer in time (rule 11): left out of every later event, BackupShutdown too.
    not_responding: bool,
    /// Received OnAbort in this session (an Abort is sent once, rule 14).
    aborted: bool,
    /// Thaw was delivered in this session's creation.
    thawed: bool,
    /// Its PostSnapshot completed: it gets no OnAbort any more (rules 16, S10).
    post_snapshot_done: bool,
}

#[derive(Clone, Copy, Debug)]
struct FreezeWindow {
    token: u64,
    thaw_delivered: bool,
    /// The session whose creation froze the writer.
    requester: RequesterId,
    generation: u32,
}

/// An event delivered to a writer and not yet answered.
#[derive(Clone, Copy, Debug)]
struct PendingEvent {
    token: u64,
    writer: WriterId,
    event: WriterEvent,
    requester: RequesterId,
    /// The object generation that sent it (a retry creates a new object in the same slot).
    generation: u32,
}

/// A provider call not yet answered.
#[derive(Clone, Copy, Debug)]
struct PendingCall {
    token: u64,
    provider: ProviderId,
    call: ProviderCall,
    requester: RequesterId,
    /// For `BeginPrepareSnapshot`: the volume being added and its new shadow id.
    add: Option<(VolumeId, SnapshotId)>,
}

/// One volume of a snapshot set.
#[derive(Clone, Copy, Debug)]
struct SetVolume {
    volume: VolumeId,
    snapshot: SnapshotId,
    provider: ProviderId,
}

/// A snapshot set as its requester builds it.
#[derive(Clone, Debug)]
struct SnapshotSet {
    id: SnapshotSetId,
    volumes: Vec<SetVolume>,
    /// `AddToSnapshotSet` calls waiting for `BeginPrepareSnapshot`.
    adds_pending: u32,
}

/// The requester's outstanding (or last) asynchronous operation.
#[derive(Clone, Debug)]
struct AsyncOp {
    call: ApiCallKind,
    token: u64,
    /// `None` while pending.
    result: Option<Hresult>,
    /// Writer event tokens the operation waits for.
    waiting: Vec<u64>,
}

/// One requester's `IVssBackupComponents` object.
#[derive(Clone, Debug)]
struct Session {
    initialized: bool,
    context: SnapshotContext,
    context_set: bool,
    select_components: Option<bool>,
    metadata_called: bool,
    metadata_done: bool,
    /// Writers that answered this session's Identify.
    identified: Vec<WriterId>,
    components: Vec<ComponentRef>,
    /// Writers that received PrepareForBackup (or, writer-less, none).
    participants: Vec<WriterId>,
    /// Writers left out of later events of this session (failed or not responding).
    seats: Vec<Seat>,
    generation: u32,
    set: Option<SnapshotSet>,
    prepared: bool,
    do_called: bool,
    do_result: Option<Hresult>,
    succeeded_marked: bool,
    complete_called: bool,
    aborted: bool,
    released: bool,
    op: Option<AsyncOp>,
}

impl Session {
    fn new(n_writers: usize, generation: u32) -> Session {
        Session {
            initialized: false,
            context: SnapshotContext::Backup,
            context_set: false,
            select_components: None,
            metadata_called: false,
            metadata_done: false,
            identified: Vec::new(),
            components: Vec::new(),
            participants: Vec::new(),
            seats: vec![Seat::default(); n_writers],
            generation,
            set: None,
            prepared: false,
            do_called: false,
            do_result: None,
            succeeded_marked: false,
            complete_called: false,
            aborted: false,
            released: false,
            op: None,
        }
    }
}

/// `DoSnapshotSet`'s phases, in rule 2's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Start,
    PrepareForSnapshot,
    EndPrepareSnapshots,
    Freeze(u8),
    PreCommitSnapshots,
    FlushAndHold,
    CommitSnapshots,
    PostCommitSnapshots,
    Thaw(u8),
    PreFinalCommitSnapshots,
    PostSnapshot,
    PostFinalCommitSnapshots,
}

#[derive(Clone, Copy, Debug)]
struct Hold {
    token: u64,
    flushed: bool,
    /// When the hold timer fires (10 s + 1 µs after the hold began, rule 13b).
    deadline: Instant,
}

/// The one snapshot-set creation in progress (rule 20).
#[derive(Clone, Debug)]
struct Creation {
    requester: RequesterId,
    set_id: SnapshotSetId,
    stage: Stage,
    /// Writer-event and provider-call tokens the current stage waits for.
    waiting: Vec<u64>,
    hold: Option<Hold>,
    released: bool,
    /// Providers of the set with the volumes each handles, in provider order.
    providers: Vec<(ProviderId, Vec<VolumeId>)>,
    with_writers: bool,
}

/// A shadow copy the service made.
#[derive(Clone, Debug)]
pub struct ShadowRecord {
    /// Shadow id.
    pub id: SnapshotId,
    /// Set id.
    pub set_id: SnapshotSetId,
    /// Original volume.
    pub volume: VolumeId,
    /// Provider that made it.
    pub provider: ProviderId,
    /// Context of its set.
    pub context: SnapshotContext,
    /// The requester that made it.
    pub requester: RequesterId,
    /// Current status.
    pub status: ShadowStatus,
    /// When `CommitSnapshots` made it.
    pub created_at: Instant,
}

/// The VSS service of one simulated machine.
#[derive(Debug)]
pub struct Coordinator {
    profile: Profile,
    machine: Machine,
    writers: Vec<WriterRec>,
    sessions: Vec<Session>,
    pending_events: Vec<PendingEvent>,
    pending_calls: Vec<PendingCall>,
    /// Who holds the machine's one creation slot (StartSnapshotSet .. DoSnapshotSet's end).
    creation_owner: Option<RequesterId>,
    creation: Option<Creation>,
    shadows: Vec<ShadowRecord>,
    next_token: u64,
}

impl Coordinator {
    /// A service with every writer `VSS_WS_STABLE` / `S_OK` and `n_requesters` fresh objects.
    pub fn new(profile: Profile, machine: Machine, n_requesters: usize) -> Coordinator {
        let writers = machine
            .writers
            .iter()
            .map(|_| WriterRec {
                state: WriterState::Stable,
                last_error: Hresult::Ok,
                freeze: None,
                owner: None,
            })
            .collect();
        let n_writers = machine.writers.len();
        let sessions = (0..n_requesters)
            .map(|_| Session::new(n_writers, 0))
            .collect();
        Coordinator {
            profile,
            machine,
            writers,
            sessions,
            pending_events: Vec::new(),
            pending_calls: Vec::new(),
            creation_owner: None,
            creation: None,
            shadows: Vec::new(),
            next_token: 1,
        }
    }

    /// The machine description.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Service-wide writer status: `(state, last_error)` of every writer, in subscription order.
    pub fn writer_status(&self, writer: WriterId) -> (WriterState, Hresult) {
        let rec = &self.writers[writer.idx()];
        (rec.state, rec.last_error)
    }

    /// Every shadow copy made so far, in creation order.
    pub fn shadows(&self) -> &[ShadowRecord] {
        &self.shadows
    }

    /// Whether nothing is in flight: no creation, no unanswered writer event or provider call,
    /// no pending asynchronous operation.
    pub fn is_idle(&self) -> bool {
        self.creation.is_none()
            && self.pending_events.is_empty()
            && self
                .pending_calls
                .iter()
                .all(|c| c.call == ProviderCall::AbortSnapshots)
            && self
                .sessions
                .iter()
                .all(|s| s.op.as_ref().is_none_or(|op| op.result.is_some()))
    }

    /// The context of requester `r`'s current object (`VSS_CTX_BACKUP` until SetContext).
    pub fn session_context(&self, r: RequesterId) -> SnapshotContext {
        self.sessions[r.idx()].context
    }

    /// The writer and event an outstanding token belongs to.
    pub fn pending_event(&self, token: u64) -> Option<(WriterId, WriterEvent)> {
        self.pending_events
            .iter()
            .find(|p| p.token == token)
            .map(|p| (p.writer, p.event))
    }

    /// The provider and call an outstanding token belongs to.
    pub fn pending_call(&self, token: u64) -> Option<(ProviderId, ProviderCall)> {
        self.pending_calls
            .iter()
            .find(|p| p.token == token)
            .map(|p| (p.provider, p.call))
    }

    /// Whether a requester has released its object.
    pub fn is_released(&self, requester: RequesterId) -> bool {
        self.sessions[requester.idx()].released
    }

    /// Whether a flush-and-hold is in force (between the hold request and the release).
    pub fn hold_active(&self) -> bool {
        self.creation
            .as_ref()
            .is_some_and(|c| c.hold.is_some() && !c.released)
    }

    /// Feeds one input; effects are appended to `out` in the order they happen.
    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Call { requester, call } => self.on_call(now, requester, call, out),
            Input::WriterAnswer { token, result } => self.on_writer_answer(now, token, result, out),
            Input::ProviderAnswer { token, result } => {
                self.on_provider_answer(now, token, result, out)
            }
            Input::FlushDone { token } => self.on_flush_done(now, token, out),
            Input::Timer(timer) => self.on_timer(now, timer, out),
            Input::NewObject { requester } => self.new_object(now, requester, out),
            Input::ShadowDeleted { snapshot } => {
                if let Some(s) = self.shadows.iter_mut().find(|s| s.id == snapshot) {
                    s.status = ShadowStatus::DiffAreaFull;
                }
            }
        }
    }

    fn new_object(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        if !self.sessions[r.idx()].released {
            self.call_release(now, r, out);
        }
        let generation = self.sessions[r.idx()].generation + 1;
        self.sessions[r.idx()] = Session::new(self.writers.len(), generation);
    }

    fn token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    // ---------------------------------------------------------------------------------------
    // Requester calls
    // ---------------------------------------------------------------------------------------

    fn on_call(&mut self, now: Instant, r: RequesterId, call: ApiCall, out: &mut Vec<Output>) {
        let name = call.kind();
        let s = &self.sessions[r.idx()];
        // Every call on a released object, and every call but Initialize on an uninitialised one,
        // is out of sequence (rule 21); AbortBackup on an uninitialised object too
        // (rule 22).
        if s.released || (!s.initialized && call != ApiCall::InitializeForBackup) {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        // An asynchronous call while another is still running is out of sequence.
        let op_pending = s.op.as_ref().is_some_and(|op| op.result.is_none());
        if op_pending && call.is_async() {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        match call {
            ApiCall::InitializeForBackup => {
                let s = &mut self.sessions[r.idx()];
                let result = if s.initialized {
                    Hresult::BadState
                } else {
                    Hresult::Ok
                };
                s.initialized = true;
                reply(out, r, name, result, ReplyData::None)
            }
            ApiCall::SetContext(ctx) => {
                let s = &mut self.sessions[r.idx()];
                let result = if ctx == SnapshotContext::All {
                    Hresult::InvalidArg
                } else if s.context_set || s.metadata_called || s.set.is_some() {
                    Hresult::BadState
                } else {
                    s.context = ctx;
                    s.context_set = true;
                    Hresult::Ok
                };
                reply(out, r, name, result, ReplyData::None)
            }
            ApiCall::SetBackupState {
                select_components, ..
            } => {
                let s = &mut self.sessions[r.idx()];
                let result = if s.prepared || s.aborted {
                    Hresult::BadState
                } else {
                    s.select_components = Some(select_components);
                    Hresult::Ok
                };
                reply(out, r, name, result, ReplyData::None)
            }
            ApiCall::GatherWriterMetadata => self.call_gather_metadata(now, r, out),
            ApiCall::AddComponent(c) => self.call_add_component(r, c, out),
            ApiCall::StartSnapshotSet { new_id } => self.call_start_set(r, new_id, out),
            ApiCall::AddToSnapshotSet {
                volume,
                provider,
                new_id,
            } => self.call_add_to_set(now, r, volume, provider, new_id, out),
            ApiCall::PrepareForBackup => self.call_prepare_for_backup(now, r, out),
            ApiCall::DoSnapshotSet => self.call_do_snapshot_set(now, r, out),
            ApiCall::GatherWriterStatus => {
                let s = &self.sessions[r.idx()];
                if !s.metadata_done || s.aborted {
                    return reply(out, r, name, Hresult::BadState, ReplyData::None);
                }
                let token = self.start_op(r, name);
                reply(out, r, name, Hresult::Ok, ReplyData::None);
                // Rule 26: no event is sent; the status is read when the operation finishes.
                out.push(Output::SetTimer {
                    at: now + self.profile.api_call_latency,
                    timer: Timer::AsyncFinish {
                        requester: r,
                        token,
                    },
                });
            }
            ApiCall::SetBackupSucceeded { component, .. } => {
                let s = &self.sessions[r.idx()];
                let result = if s.do_result != Some(Hresult::AsyncFinished)
                    || s.complete_called
                    || s.aborted
                {
                    Hresult::BadState
                } else if !s.components.contains(&component) {
                    Hresult::ObjectNotFound
                } else {
                    self.sessions[r.idx()].succeeded_marked = true;
                    Hresult::Ok
                };
                reply(out, r, name, result, ReplyData::None)
            }
            ApiCall::BackupComplete => self.call_backup_complete(now, r, out),
            ApiCall::AbortBackup => self.call_abort_backup(now, r, out),
            ApiCall::Cancel => self.call_cancel(now, r, out),
            ApiCall::Release => self.call_release(now, r, out),
        }
    }

    /// Starts requester `r`'s asynchronous operation `call` (its `IVssAsync`) and returns its
    /// token. The caller replies to the call.
    fn start_op(&mut self, r: RequesterId, call: ApiCallKind) -> u64 {
        let token = self.token();
        self.sessions[r.idx()].op = Some(AsyncOp {
            call,
            token,
            result: None,
            waiting: Vec::new(),
        });
        token
    }

    /// Sends `event` to `targets` as part of `r`'s operation, which finishes when every writer
    /// has answered or timed out.
    fn op_broadcast(
        &mut self,
        now: Instant,
        r: RequesterId,
        event: WriterEvent,
        targets: &[WriterId],
        out: &mut Vec<Output>,
    ) {
        let tokens = self.broadcast(now, r, event, targets, out);
        self.op_wait(r, tokens);
        self.op_maybe_finish(now, r, out);
    }

    fn call_gather_metadata(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let name = ApiCallKind::GatherWriterMetadata;
        let s = &self.sessions[r.idx()];
        if s.metadata_called || s.aborted {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        self.sessions[r.idx()].metadata_called = true;
        self.start_op(r, name);
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        // Identify goes to every writer subscribed on the machine.
        let all: Vec<WriterId> = (0..self.writers.len())
            .map(|i| WriterId(i as u16))
            .collect();
        self.op_broadcast(now, r, WriterEvent::Identify, &all, out);
    }

    fn call_add_component(
        &mut self,
        r: RequesterId,
        c: Option<ComponentRef>,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::AddComponent;
        let s = &self.sessions[r.idx()];
        // Rule 21: accepted until PrepareForBackup; rule 24: never in writer-less contexts.
        let result = if !s.metadata_done || s.prepared || s.aborted || !s.context.has_writers() {
            Hresult::BadState
        } else {
            match c {
                Some(c)
                    if s.identified.contains(&c.writer)
                        && (c.idx as usize)
                            < self.machine.writers[c.writer.idx()].components.len() =>
                {
                    if s.components.contains(&c) {
                        Hresult::ObjectAlreadyExists
                    } else {
                        self.sessions[r.idx()].components.push(c);
                        Hresult::Ok
                    }
                }
                _ => Hresult::ObjectNotFound,
            }
        };
        reply(out, r, name, result, ReplyData::None)
    }

    fn call_start_set(&mut self, r: RequesterId, new_id: SnapshotSetId, out: &mut Vec<Output>) {
        let name = ApiCallKind::StartSnapshotSet;
        let s = &self.sessions[r.idx()];
        if s.set.is_some() || s.aborted {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        // Writer contexts need the writers' metadata first (rule S1).
        if s.context.has_writers() && !s.metadata_done {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        // Rule 20: one creation at a time on the whole machine.
        if self.creation_owner.is_some() {
            return reply(
                out,
                r,
                name,
                Hresult::SnapshotSetInProgress,
                ReplyData::None,
            );
        }
        self.creation_owner = Some(r);
        self.sessions[r.idx()].set = Some(SnapshotSet {
            id: new_id,
            volumes: Vec::new(),
            adds_pending: 0,
        });
        reply(out, r, name, Hresult::Ok, ReplyData::SnapshotSet(new_id))
    }

    fn call_add_to_set(
        &mut self,
        now: Instant,
        r: RequesterId,
        volume: Option<VolumeId>,
        provider: ProviderArg,
        new_id: SnapshotId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::AddToSnapshotSet;
        let s = &self.sessions[r.idx()];
        let Some(set) = s.set.as_ref() else {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        };
        if s.do_called || s.aborted {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        let Some(volume) = volume else {
            return reply(out, r, name, Hresult::ObjectNotFound, ReplyData::None);
        };
        let in_set = set.volumes.len() as u32 + set.adds_pending;
        if in_set >= self.profile.volumes_per_set_max {
            return reply(
                out,
                r,
                name,
                Hresult::MaximumNumberOfVolumesReached,
                ReplyData::None,
            );
        }
        if set.volumes.iter().any(|v| v.volume == volume) {
            return reply(out, r, name, Hresult::ObjectAlreadyExists, ReplyData::None);
        }
        let context = s.context;
        let chosen = match provider {
            ProviderArg::Unregistered(_) => Err(Hresult::ProviderNotRegistered),
            ProviderArg::Registered(p) => {
                if self.machine.providers[p.idx()].supports(volume, context) {
                    Ok(p)
                } else {
                    // Rule 19.
                    Err(Hresult::VolumeNotSupportedByProvider)
                }
            }
            ProviderArg::Any => self.select_provider(volume, context),
        };
        let provider = match chosen {
            Ok(p) => p,
            Err(code) => return reply(out, r, name, code, ReplyData::None),
        };
        // Rule 18: per-volume shadow limit; client-accessible shadows recycle instead.
        let existing = self
            .shadows
            .iter()
            .filter(|sh| sh.volume == volume && sh.status == ShadowStatus::Exists)
            .count() as u32;
        let system = self.machine.providers[provider.idx()].kind == ProviderType::System;
        if system
            && !context.is_client_accessible()
            && existing >= self.profile.shadows_per_volume_max
        {
            return reply(
                out,
                r,
                name,
                Hresult::MaximumNumberOfSnapshotsReached,
                ReplyData::None,
            );
        }
        // Rule 1: BeginPrepareSnapshot is sent now, once per volume; the call returns when the
        // provider answers.
        let set_id = set.id;
        if let Some(set) = self.sessions[r.idx()].set.as_mut() {
            set.adds_pending += 1;
        }
        let token = self.token();
        self.pending_calls.push(PendingCall {
            token,
            provider,
            call: ProviderCall::BeginPrepareSnapshot,
            requester: r,
            add: Some((volume, new_id)),
        });
        let _ = now;
        out.push(Output::ProviderCall {
            provider,
            call: ProviderCall::BeginPrepareSnapshot,
            set_id,
            volumes: vec![volume],
            token,
        });
    }

    /// Rule 4: hardware beats software beats system; declaration order within a kind.
    fn select_provider(
        &self,
        volume: VolumeId,
        context: SnapshotContext,
    ) -> Result<ProviderId, Hresult> {
        for kind in [
            ProviderType::Hardware,
            ProviderType::Software,
            ProviderType::System,
        ] {
            for (i, p) in self.machine.providers.iter().enumerate() {
                if p.kind == kind && p.supports(volume, context) {
                    return Ok(ProviderId(i as u16));
                }
            }
        }
        // Rule 19.
        Err(Hresult::VolumeNotSupported)
    }

    fn call_prepare_for_backup(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let name = ApiCallKind::PrepareForBackup;
        let s = &self.sessions[r.idx()];
        // SetBackupState is mandatory before PrepareForBackup; StartSnapshotSet precedes it
        // (rule S1); never in writer-less contexts (rule 24).
        if s.prepared
            || s.aborted
            || !s.metadata_done
            || s.select_components.is_none()
            || s.set.is_none()
            || s.do_called
            || !s.context.has_writers()
        {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        let component_mode = s.select_components == Some(true);
        // Component mode: writers with an explicitly included component; otherwise every writer
        // that answered Identify (rule 23).
        let participants: Vec<WriterId> = s
            .identified
            .iter()
            .copied()
            .filter(|w| !component_mode || s.components.iter().any(|c| c.writer == *w))
            .collect();
        let s = &mut self.sessions[r.idx()];
        s.prepared = true;
        s.participants = participants.clone();
        self.start_op(r, name);
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        self.op_broadcast(now, r, WriterEvent::PrepareForBackup, &participants, out);
    }

    fn call_do_snapshot_set(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let name = ApiCallKind::DoSnapshotSet;
        let s = &self.sessions[r.idx()];
        let with_writers = s.context.has_writers();
        let bad = match &s.set {
            None => true,
            Some(set) => set.adds_pending > 0,
        } || s.do_called
            || s.aborted
            || (with_writers && (!s.metadata_done || !s.prepared));
        if bad {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        let set = s.set.as_ref().expect("checked above");
        let set_id = set.id;
        let mut providers: Vec<(ProviderId, Vec<VolumeId>)> = Vec::new();
        for v in &set.volumes {
            match providers.iter_mut().find(|(p, _)| *p == v.provider) {
                Some((_, vols)) => vols.push(v.volume),
                None => providers.push((v.provider, vec![v.volume])),
            }
        }
        providers.sort_by_key(|(p, _)| *p);
        self.sessions[r.idx()].do_called = true;
        self.start_op(r, name);
        self.creation = Some(Creation {
            requester: r,
            set_id,
            stage: Stage::Start,
            waiting: Vec::new(),
            hold: None,
            released: false,
            providers,
            with_writers,
        });
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        self.creation_step(now, out);
    }

    fn call_backup_complete(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let name = ApiCallKind::BackupComplete;
        let s = &self.sessions[r.idx()];
        // Rule S1: not after a failed DoSnapshotSet; rule 24: not writer-less.
        if s.do_result != Some(Hresult::AsyncFinished)
            || s.complete_called
            || s.aborted
            || !s.context.has_writers()
        {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        let targets = self.session_targets(r);
        self.sessions[r.idx()].complete_called = true;
        self.start_op(r, name);
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        self.op_broadcast(now, r, WriterEvent::BackupComplete, &targets, out);
    }

    fn call_abort_backup(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let name = ApiCallKind::AbortBackup;
        let s = &self.sessions[r.idx()];
        // Rule 22: legal from StartSnapshotSet until BackupComplete; a no-op elsewhere.
        if s.set.is_none() || s.complete_called || s.aborted {
            return reply(out, r, name, Hresult::Ok, ReplyData::None);
        }
        self.sessions[r.idx()].aborted = true;
        if self.creation.as_ref().is_some_and(|c| c.requester == r) {
            // Rules 20 and 22: AbortBackup ends the creation (rule 14's clean-up).
            self.fail_creation(now, Hresult::AsyncCancelled, "22", out);
        }
        if self.creation_owner == Some(r) {
            self.creation_owner = None;
        }
        // Every writer of the session still taking part gets OnAbort (rule S12),
        // once (rule 14), and not after its PostSnapshot (rules 16, S10).
        let targets: Vec<WriterId> = self
            .session_targets(r)
            .into_iter()
            .filter(|w| {
                let seat = self.sessions[r.idx()].seats[w.idx()];
                !seat.aborted && !seat.post_snapshot_done
            })
            .collect();
        self.broadcast(now, r, WriterEvent::Abort, &targets, out);
        self.delete_set_shadows(r, ShadowStatus::Deleted, out);
        reply(out, r, name, Hresult::Ok, ReplyData::None)
    }

    fn call_cancel(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let name = ApiCallKind::Cancel;
        let Some(op) = self.sessions[r.idx()].op.clone() else {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        };
        // Rule S13: Cancel on an ended operation reports how it ended.
        if let Some(result) = op.result {
            let answer = match result {
                Hresult::AsyncCancelled => Hresult::AsyncCancelled,
                r if r.is_success() => Hresult::AsyncFinished,
                r => r,
            };
            return reply(out, r, name, answer, ReplyData::None);
        }
        if op.call == ApiCallKind::DoSnapshotSet {
            // Rule 25: before the release the creation is aborted; after it, nothing changes.
            if self
                .creation
                .as_ref()
                .is_some_and(|c| c.requester == r && !c.released)
            {
                self.fail_creation(now, Hresult::AsyncCancelled, "25", out);
            }
            return reply(out, r, name, Hresult::Ok, ReplyData::None);
        }
        self.op_finish(r, Hresult::AsyncCancelled, ReplyData::None, out);
        reply(out, r, name, Hresult::Ok, ReplyData::None)
    }

    fn call_release(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        // Rule 27: BackupShutdown to every writer of the session, abort a creation in
        // progress, delete the auto-release shadows. The object is gone first: nothing it
        // started reports back to it any more.
        self.sessions[r.idx()].released = true;
        if self.creation.as_ref().is_some_and(|c| c.requester == r) {
            self.fail_creation(now, Hresult::AsyncCancelled, "27", out);
        }
        if self.creation_owner == Some(r) {
            self.creation_owner = None;
        }
        if let Some(op) = self.sessions[r.idx()].op.as_mut() {
            // An operation still running ends with its object.
            op.waiting.clear();
            op.result.get_or_insert(Hresult::AsyncCancelled);
        }
        // Failed writers get BackupShutdown too (rule 5); only writers that stopped answering
        // are left out (rule 11).
        let s = &self.sessions[r.idx()];
        let targets: Vec<WriterId> = s
            .identified
            .iter()
            .copied()
            .filter(|w| !s.seats[w.idx()].not_responding)
            .collect();
        self.broadcast(now, r, WriterEvent::BackupShutdown, &targets, out);
        if self.sessions[r.idx()].context.is_auto_release() {
            self.delete_set_shadows(r, ShadowStatus::Released, out);
        }
        reply(out, r, ApiCallKind::Release, Hresult::Ok, ReplyData::None)
    }

    /// Writers of a session that still take part: participants not left out.
    fn session_targets(&self, r: RequesterId) -> Vec<WriterId> {
        let s = &self.sessions[r.idx()];
        s.participants
            .iter()
            .copied()
            .filter(|w| !s.seats[w.idx()].out)
            .collect()
    }

    fn delete_set_shadows(&mut self, r: RequesterId, status: ShadowStatus, out: &mut Vec<Output>) {
        let Some(set_id) = self.sessions[r.idx()].set.as_ref().map(|s| s.id) else {
            return;
        };
        for sh in self.shadows.iter_mut() {
            if sh.set_id == set_id && sh.status == ShadowStatus::Exists {
                sh.status = status;
                out.push(Output::DeleteShadow {
                    snapshot: sh.id,
                    status,
                });
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Writer events
    // ---------------------------------------------------------------------------------------

    /// Delivers `event` to `writers` at once (rule 3) and returns the tokens to wait for.
    fn broadcast(
        &mut self,
        now: Instant,
        r: RequesterId,
        event: WriterEvent,
        writers: &[WriterId],
        out: &mut Vec<Output>,
    ) -> Vec<u64> {
        let mut tokens = Vec::with_capacity(writers.len());
        for &w in writers {
            tokens.push(self.deliver(now, r, w, event, out));
        }
        tokens
    }

    fn deliver(
        &mut self,
        now: Instant,
        r: RequesterId,
        w: WriterId,
        event: WriterEvent,
        out: &mut Vec<Output>,
    ) -> u64 {
        let token = self.token();
        match event {
            // Rule 9: state and last error are reset when a writer receives PrepareForBackup of
            // a new backup session.
            WriterEvent::PrepareForBackup => {
                self.sessions[r.idx()].seats[w.idx()] = Seat::default();
                self.writers[w.idx()].owner = Some((r, self.sessions[r.idx()].generation));
                self.set_writer(w, event, WriterState::Stable, Hresult::Ok, "9", out);
            }
            WriterEvent::Abort => self.sessions[r.idx()].seats[w.idx()].aborted = true,
            WriterEvent::Freeze => {
                let generation = self.sessions[r.idx()].generation;
                self.writers[w.idx()].freeze = Some(FreezeWindow {
                    token,
                    thaw_delivered: false,
                    requester: r,
                    generation,
                });
                let limit = self.machine.writers[w.idx()].freeze_timeout;
                out.push(Output::SetTimer {
                    at: now.deadline_after(limit),
                    timer: Timer::FreezeWindow { writer: w, token },
                });
            }
            WriterEvent::Thaw => {
                self.sessions[r.idx()].seats[w.idx()].thawed = true;
                if let Some(f) = self.writers[w.idx()].freeze.as_mut() {
                    f.thaw_delivered = true;
                }
            }
            _ => {}
        }
        if event != WriterEvent::Freeze {
            // Rule 11: every other event has a response limit.
            out.push(Output::SetTimer {
                at: now.deadline_after(self.profile.writer_response_timeout),
                timer: Timer::WriterResponse { token },
            });
        }
        let (set_volumes, selected) = if event == WriterEvent::PrepareForSnapshot {
            let s = &self.sessions[r.idx()];
            let vols = s
                .set
                .as_ref()
                .map(|set| set.volumes.iter().map(|v| v.volume).collect());
            let sel = s
                .components
                .iter()
                .filter(|c| c.writer == w)
                .map(|c| c.idx)
                .collect();
            (vols.unwrap_or_default(), sel)
        } else {
            (Vec::new(), Vec::new())
        };
        let generation = self.sessions[r.idx()].generation;
        self.pending_events.push(PendingEvent {
            token,
            writer: w,
            event,
            requester: r,
            generation,
        });
        out.push(Output::WriterEvent {
            writer: w,
            event,
            token,
            set_volumes,
            selected,
        });
        token
    }

    /// Sets a writer's state and last error; `rule` is the id of the `docs/rules.md` rule behind
    /// the change (never empty: an ordinary transition cites its `S` rule).
    fn set_writer(
        &mut self,
        w: WriterId,
        event: WriterEvent,
        next: WriterState,
        last_error: Hresult,
        rule: &'static str,
        out: &mut Vec<Output>,
    ) {
        let rec = &mut self.writers[w.idx()];
        let prev = rec.state;
        if prev == next && rec.last_error == last_error {
            return;
        }
        rec.state = next;
        rec.last_error = last_error;
        out.push(Output::WriterStateChanged {
            writer: w,
            event,
            prev,
            next,
            last_error,
            rule,
        });
    }

    fn on_writer_answer(
        &mut self,
        now: Instant,
        token: u64,
        result: Hresult,
        out: &mut Vec<Output>,
    ) {
        let Some(pos) = self.pending_events.iter().position(|p| p.token == token) else {
            out.push(Output::LateAnswerIgnored { token });
            return;
        };
        let p = self.pending_events.remove(pos);
        let w = p.writer;
        // An answer to an object since replaced (a retry's new object) changes nothing.
        if p.generation != self.sessions[p.requester.idx()].generation {
            out.push(Output::LateAnswerIgnored { token });
            return;
        }
        // A writer left out of the session (failed, timed out) is not heard from again,
        // except its answers to Abort and BackupShutdown.
        let seat = self.sessions[p.requester.idx()].seats[w.idx()];
        if seat.out && !matches!(p.event, WriterEvent::Abort | WriterEvent::BackupShutdown) {
            out.push(Output::LateAnswerIgnored { token });
            self.resolved(now, p.requester, token, out);
            return;
        }
        if result.is_success() {
            if p.event == WriterEvent::PostSnapshot {
                self.sessions[p.requester.idx()].seats[w.idx()].post_snapshot_done = true;
            }
            let next = match p.event {
                WriterEvent::Identify => {
                    let s = &mut self.sessions[p.requester.idx()];
                    if !s.metadata_done && !s.identified.contains(&w) {
                        s.identified.push(w);
                    }
                    None
                }
                // The state each event leads to, and the rule that says so (rules S3-S8).
                WriterEvent::PrepareForBackup => Some((WriterState::Stable, "S3")),
                WriterEvent::PrepareForSnapshot => Some((WriterState::WaitingForFreeze, "S4")),
                WriterEvent::Freeze => Some((WriterState::WaitingForThaw, "S5")),
                WriterEvent::Thaw => Some((WriterState::WaitingForPostSnapshot, "S6")),
                WriterEvent::PostSnapshot => Some((WriterState::WaitingForBackupComplete, "S7")),
                WriterEvent::BackupComplete => Some((WriterState::Stable, "S8")),
                _ => None,
            };
            if let (Some((next, rule)), true) = (next, self.owns(p)) {
                let last_error = self.writers[w.idx()].last_error;
                self.set_writer(w, p.event, next, last_error, rule, out);
            }
        } else {
            // The rule is picked by the event in `writer_failed`.
            self.writer_failed(now, p, result, "", out);
        }
        self.resolved(now, p.requester, token, out);
    }

    /// A writer failed an event (its own failure or a timeout): `FAILED_AT_<event>` and left out
    /// of the session's later events (rules 5, 6, 8, 10, 11, S9). An empty `rule` means the
    /// writer's own failure, whose rule follows from the event.
    fn writer_failed(
        &mut self,
        now: Instant,
        p: PendingEvent,
        code: Hresult,
        rule: &'static str,
        out: &mut Vec<Output>,
    ) {
        let w = p.writer;
        let seat = &mut self.sessions[p.requester.idx()].seats[w.idx()];
        if p.event != WriterEvent::Identify {
            seat.out = true;
        }
        let not_responding = code == Hresult::WriterNotResponding;
        seat.not_responding |= not_responding;
        let already_aborted = seat.aborted;
        if !self.owns(p) {
            // The writer is taking part in another session's backup: this session's failure
            // does not overwrite the state that backup sees.
            return;
        }
        match p.event.failed_state() {
            Some(state) => {
                let rule = if !rule.is_empty() {
                    rule
                } else {
                    match p.event {
                        WriterEvent::Identify => "10",
                        WriterEvent::PrepareForSnapshot => "5",
                        WriterEvent::Freeze | WriterEvent::Thaw => "6",
                        WriterEvent::PostSnapshot | WriterEvent::BackupComplete => "8",
                        // PrepareForBackup, BackupShutdown, restore events: the documented
                        // FAILED_AT state of the event (rule S9).
                        _ => "S9",
                    }
                };
                self.set_writer(w, p.event, state, code, rule, out);
            }
            None => {
                // Abort has no failed state: the state stays, the last error records it
                // (rule 11 when it did not answer; rule S9's failure code otherwise).
                let state = self.writers[w.idx()].state;
                let rule = if rule.is_empty() { "S9" } else { rule };
                self.set_writer(w, p.event, state, code, rule, out);
            }
        }
        // Rule 6: a writer that fails Freeze or Thaw receives OnAbort; one that stopped
        // answering is left out of every later event instead (rule 11).
        if matches!(p.event, WriterEvent::Freeze | WriterEvent::Thaw) {
            self.writers[w.idx()].freeze = None;
            if !not_responding && !already_aborted {
                self.deliver(now, p.requester, w, WriterEvent::Abort, out);
            }
        }
    }

    /// Whether the session that sent event `p` may change the writer's state: Identify is
    /// service-wide; any other event only from the session whose backup the writer is in.
    fn owns(&self, p: PendingEvent) -> bool {
        p.event == WriterEvent::Identify
            || p.event == WriterEvent::PrepareForBackup
            || self.writers[p.writer.idx()].owner == Some((p.requester, p.generation))
    }

    /// A token the requester's operation or the creation waited for is resolved.
    fn resolved(&mut self, now: Instant, r: RequesterId, token: u64, out: &mut Vec<Output>) {
        if let Some(c) = self.creation.as_mut() {
            if let Some(i) = c.waiting.iter().position(|t| *t == token) {
                c.waiting.remove(i);
                self.creation_step(now, out);
                return;
            }
        }
        let s = &mut self.sessions[r.idx()];
        if let Some(op) = s.op.as_mut() {
            if let Some(i) = op.waiting.iter().position(|t| *t == token) {
                op.waiting.remove(i);
                self.op_maybe_finish(now, r, out);
            }
        }
    }

    fn op_wait(&mut self, r: RequesterId, tokens: Vec<u64>) {
        if let Some(op) = self.sessions[r.idx()].op.as_mut() {
            op.waiting.extend(tokens);
        }
    }

    fn op_maybe_finish(&mut self, _now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let s = &self.sessions[r.idx()];
        let Some(op) = s.op.as_ref() else { return };
        if op.result.is_some() || !op.waiting.is_empty() || s.released {
            return;
        }
        let data = match op.call {
            ApiCallKind::GatherWriterMetadata => {
                let mut ids = s.identified.clone();
                ids.sort();
                self.sessions[r.idx()].identified = ids.clone();
                self.sessions[r.idx()].metadata_done = true;
                ReplyData::WriterMetadata(ids)
            }
            _ => ReplyData::None,
        };
        // Writer failures in these operations are seen only through GatherWriterStatus
        // (rules 6, 8): the operation itself finishes.
        self.op_finish(r, Hresult::AsyncFinished, data, out);
    }

    fn op_finish(
        &mut self,
        r: RequesterId,
        result: Hresult,
        data: ReplyData,
        out: &mut Vec<Output>,
    ) {
        let s = &mut self.sessions[r.idx()];
        let Some(op) = s.op.as_mut() else { return };
        if op.result.is_some() {
            return;
        }
        op.result = Some(result);
        op.waiting.clear();
        let call = op.call;
        if call == ApiCallKind::DoSnapshotSet {
            s.do_result = Some(result);
        }
        if s.released {
            return;
        }
        out.push(Output::AsyncDone {
            requester: r,
            call,
            result,
            data,
        });
    }

    fn writer_status_list(&self, r: RequesterId) -> Vec<WriterStatus> {
        // Writers that failed Identify are absent from the requester's list (rule 10).
        self.sessions[r.idx()]
            .identified
            .iter()
            .map(|&w| {
                let rec = &self.writers[w.idx()];
                WriterStatus {
                    writer: w,
                    state: rec.state,
                    last_error: rec.last_error,
                }
            })
            .collect()
    }

    // ---------------------------------------------------------------------------------------
    // Timers
    // ---------------------------------------------------------------------------------------

    fn on_timer(&mut self, now: Instant, timer: Timer, out: &mut Vec<Output>) {
        match timer {
            Timer::WriterResponse { token } => {
                let Some(pos) = self.pending_events.iter().position(|p| p.token == token) else {
                    return;
                };
                let p = self.pending_events.remove(pos);
                if p.generation != self.sessions[p.requester.idx()].generation {
                    // The object that sent it has been replaced: nobody waits for it.
                    return;
                }
                // Rule 11: not answered in time: VSS_E_WRITER_NOT_RESPONDING.
                self.writer_failed(now, p, Hresult::WriterNotResponding, "11", out);
                self.resolved(now, p.requester, token, out);
            }
            Timer::FreezeWindow { writer, token } => {
                let rec = &self.writers[writer.idx()];
                let Some(f) = rec.freeze else { return };
                if f.token != token || (f.thaw_delivered && !self.profile.kb915331_race) {
                    return;
                }
                let r = f.requester;
                if f.generation != self.sessions[r.idx()].generation {
                    return;
                }
                // KB 915331's race (profile knob) fires only while the same creation runs.
                if f.thaw_delivered && self.creation.as_ref().is_none_or(|c| c.requester != r) {
                    return;
                }
                // Rule 7: the window ended before Thaw was delivered: OnAbort, FAILED_AT_FREEZE
                // with VSS_E_WRITERERROR_TIMEOUT; the later Thaw is not delivered.
                self.writers[writer.idx()].freeze = None;
                // Any answer still outstanding from this writer in this creation is void.
                let stale: Vec<u64> = self
                    .pending_events
                    .iter()
                    .filter(|p| {
                        p.writer == writer
                            && matches!(p.event, WriterEvent::Freeze | WriterEvent::Thaw)
                    })
                    .map(|p| p.token)
                    .collect();
                self.pending_events.retain(|p| !stale.contains(&p.token));
                self.set_writer(
                    writer,
                    WriterEvent::Freeze,
                    WriterState::FailedAtFreeze,
                    Hresult::WriterErrorTimeout,
                    "7",
                    out,
                );
                self.sessions[r.idx()].seats[writer.idx()].out = true;
                if !self.sessions[r.idx()].seats[writer.idx()].aborted {
                    self.deliver(now, r, writer, WriterEvent::Abort, out);
                }
                for t in stale {
                    self.resolved(now, r, t, out);
                }
            }
            Timer::HoldWindow { token } => {
                let Some(c) = self.creation.as_ref() else {
                    return;
                };
                let Some(hold) = c.hold else { return };
                if hold.token != token || c.released {
                    return;
                }
                // Rules 13, 13b: the hold lasted 10 s + 1 µs.
                let code = if hold.flushed {
                    Hresult::HoldWritesTimeout
                } else {
                    Hresult::FlushWritesTimeout
                };
                self.fail_creation(now, code, "13", out);
            }
            Timer::AsyncFinish { requester, token } => {
                let s = &self.sessions[requester.idx()];
                let Some(op) = s.op.as_ref() else { return };
                if op.token != token || op.result.is_some() {
                    return;
                }
                let data = ReplyData::WriterStatus(self.writer_status_list(requester));
                self.op_finish(requester, Hresult::AsyncFinished, data, out);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Providers and the creation
    // ---------------------------------------------------------------------------------------

    fn on_provider_answer(
        &mut self,
        now: Instant,
        token: u64,
        result: Hresult,
        out: &mut Vec<Output>,
    ) {
        let Some(pos) = self.pending_calls.iter().position(|p| p.token == token) else {
            return;
        };
        let p = self.pending_calls.remove(pos);
        if p.call == ProviderCall::AbortSnapshots {
            return;
        }
        // Rule 16: codes outside the allowed list reach the requester as
        // VSS_E_UNEXPECTED_PROVIDER_ERROR.
        let code = result.translate_provider();
        if p.call == ProviderCall::BeginPrepareSnapshot {
            let r = p.requester;
            let (volume, snapshot) = p.add.expect("BeginPrepareSnapshot carries its volume");
            let s = &mut self.sessions[r.idx()];
            let Some(set) = s.set.as_mut() else { return };
            set.adds_pending = set.adds_pending.saturating_sub(1);
            if s.released || s.aborted {
                return;
            }
            if code.is_success() {
                set.volumes.push(SetVolume {
                    volume,
                    snapshot,
                    provider: p.provider,
                });
                reply(
                    out,
                    r,
                    ApiCallKind::AddToSnapshotSet,
                    Hresult::Ok,
                    ReplyData::Snapshot(snapshot),
                );
            } else {
                reply(out, r, ApiCallKind::AddToSnapshotSet, code, ReplyData::None);
            }
            return;
        }
        let Some(c) = self.creation.as_mut() else {
            return;
        };
        let Some(i) = c.waiting.iter().position(|t| *t == token) else {
            return;
        };
        // Rule 13b: inside the hold, an answer at the timer's instant is late.
        if c.hold.is_some_and(|h| !c.released && now >= h.deadline) {
            return;
        }
        c.waiting.remove(i);
        if !code.is_success() {
            self.fail_creation(now, code, "16", out);
            return;
        }
        if p.call == ProviderCall::CommitSnapshots {
            // The provider made the shadows of its volumes: their image is the hold instant.
            let r = c.requester;
            let set_id = c.set_id;
            let context = self.sessions[r.idx()].context;
            let vols: Vec<SetVolume> = self.sessions[r.idx()]
                .set
                .as_ref()
                .map(|s| {
                    s.volumes
                        .iter()
                        .copied()
                        .filter(|v| v.provider == p.provider)
                        .collect()
                })
                .unwrap_or_default();
            for v in vols {
                self.shadow_created(now, r, set_id, v, context, out);
            }
        }
        self.creation_step(now, out);
    }

    fn shadow_created(
        &mut self,
        now: Instant,
        r: RequesterId,
        set_id: SnapshotSetId,
        v: SetVolume,
        context: SnapshotContext,
        out: &mut Vec<Output>,
    ) {
        // Rule 18: client-accessible shadows past MaxShadowCopies recycle the oldest.
        if context.is_client_accessible() {
            let existing: Vec<usize> = (0..self.shadows.len())
                .filter(|&i| {
                    let sh = &self.shadows[i];
                    sh.volume == v.volume
                        && sh.status == ShadowStatus::Exists
                        && sh.context.is_client_accessible()
                })
                .collect();
            if existing.len() as u32 >= self.profile.client_accessible_shadows_max {
                let oldest = existing[0];
                self.shadows[oldest].status = ShadowStatus::Recycled;
                out.push(Output::DeleteShadow {
                    snapshot: self.shadows[oldest].id,
                    status: ShadowStatus::Recycled,
                });
            }
        }
        self.shadows.push(ShadowRecord {
            id: v.snapshot,
            set_id,
            volume: v.volume,
            provider: v.provider,
            context,
            requester: r,
            status: ShadowStatus::Exists,
            created_at: now,
        });
        out.push(Output::CreateShadow {
            snapshot: v.snapshot,
            set_id,
            volume: v.volume,
            provider: v.provider,
            context,
        });
    }

    fn on_flush_done(&mut self, now: Instant, token: u64, out: &mut Vec<Output>) {
        let Some(c) = self.creation.as_mut() else {
            return;
        };
        let Some(hold) = c.hold.as_mut() else { return };
        if hold.token != token || c.released || c.stage != Stage::FlushAndHold {
            return;
        }
        // Rule 13b: a flush that ends at the timer's instant (10 s + 1 µs) is late; the hold
        // timer due at this same instant fails the creation.
        if now >= hold.deadline {
            return;
        }
        hold.flushed = true;
        self.creation_step(now, out);
    }

    /// Advances `DoSnapshotSet` through rule 2's order while the current stage has
    /// nothing left to wait for.
    fn creation_step(&mut self, now: Instant, out: &mut Vec<Output>) {
        loop {
            let Some(c) = self.creation.as_ref() else {
                return;
            };
            if !c.waiting.is_empty() {
                return;
            }
            if c.stage == Stage::FlushAndHold && !c.hold.is_some_and(|h| h.flushed) {
                return;
            }
            let r = c.requester;
            let with_writers = c.with_writers;
            let next = match c.stage {
                Stage::Start => Stage::PrepareForSnapshot,
                Stage::PrepareForSnapshot => Stage::EndPrepareSnapshots,
                Stage::EndPrepareSnapshots => Stage::Freeze(0),
                Stage::Freeze(n) if n + 1 < FREEZE_RANKS => Stage::Freeze(n + 1),
                Stage::Freeze(_) => Stage::PreCommitSnapshots,
                Stage::PreCommitSnapshots => Stage::FlushAndHold,
                Stage::FlushAndHold => Stage::CommitSnapshots,
                Stage::CommitSnapshots => Stage::PostCommitSnapshots,
                Stage::PostCommitSnapshots => Stage::Thaw(FREEZE_RANKS - 1),
                Stage::Thaw(0) => Stage::PreFinalCommitSnapshots,
                Stage::Thaw(n) => Stage::Thaw(n - 1),
                Stage::PreFinalCommitSnapshots => Stage::PostSnapshot,
                Stage::PostSnapshot => Stage::PostFinalCommitSnapshots,
                Stage::PostFinalCommitSnapshots => {
                    self.finish_creation(out);
                    return;
                }
            };
            if next == Stage::PostCommitSnapshots {
                // All commits are in: release the held writes in their original order.
                self.release_hold(out);
            }
            let waiting = match next {
                Stage::PrepareForSnapshot if with_writers => {
                    let targets = self.session_targets(r);
                    self.broadcast(now, r, WriterEvent::PrepareForSnapshot, &targets, out)
                }
                Stage::Freeze(rank) if with_writers => {
                    let targets: Vec<WriterId> = self
                        .session_targets(r)
                        .into_iter()
                        .filter(|w| self.machine.writers[w.idx()].level.freeze_rank() == rank)
                        .collect();
                    self.broadcast(now, r, WriterEvent::Freeze, &targets, out)
                }
                Stage::Thaw(rank) if with_writers => {
                    // Only writers whose freeze window is still open get Thaw (rule 7).
                    let targets: Vec<WriterId> = self
                        .session_targets(r)
                        .into_iter()
                        .filter(|w| {
                            self.machine.writers[w.idx()].level.freeze_rank() == rank
                                && self.writers[w.idx()].freeze.is_some()
                        })
                        .collect();
                    self.broadcast(now, r, WriterEvent::Thaw, &targets, out)
                }
                Stage::PostSnapshot if with_writers => {
                    let targets = self.session_targets(r);
                    self.broadcast(now, r, WriterEvent::PostSnapshot, &targets, out)
                }
                Stage::EndPrepareSnapshots => {
                    self.call_providers(r, ProviderCall::EndPrepareSnapshots, out)
                }
                Stage::PreCommitSnapshots => {
                    self.call_providers(r, ProviderCall::PreCommitSnapshots, out)
                }
                Stage::CommitSnapshots => {
                    self.call_providers(r, ProviderCall::CommitSnapshots, out)
                }
                Stage::PostCommitSnapshots => {
                    self.call_providers(r, ProviderCall::PostCommitSnapshots, out)
                }
                Stage::PreFinalCommitSnapshots => {
                    self.call_providers(r, ProviderCall::PreFinalCommitSnapshots, out)
                }
                Stage::PostFinalCommitSnapshots => {
                    self.call_providers(r, ProviderCall::PostFinalCommitSnapshots, out)
                }
                Stage::FlushAndHold => {
                    self.start_hold(now, out);
                    Vec::new()
                }
                _ => Vec::new(),
            };
            let c = self.creation.as_mut().expect("creation in progress");
            c.stage = next;
            c.waiting = waiting;
        }
    }

    fn call_providers(
        &mut self,
        r: RequesterId,
        call: ProviderCall,
        out: &mut Vec<Output>,
    ) -> Vec<u64> {
        let c = self.creation.as_ref().expect("creation in progress");
        let set_id = c.set_id;
        let providers = c.providers.clone();
        let mut tokens = Vec::with_capacity(providers.len());
        for (provider, volumes) in providers {
            let token = self.token();
            self.pending_calls.push(PendingCall {
                token,
                provider,
                call,
                requester: r,
                add: None,
            });
            out.push(Output::ProviderCall {
                provider,
                call,
                set_id,
                volumes,
                token,
            });
            tokens.push(token);
        }
        tokens
    }

    fn set_volumes(&self) -> Vec<VolumeId> {
        let Some(c) = self.creation.as_ref() else {
            return Vec::new();
        };
        let mut vols: Vec<VolumeId> = c
            .providers
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        vols.sort();
        vols
    }

    fn start_hold(&mut self, now: Instant, out: &mut Vec<Output>) {
        let token = self.token();
        let volumes = self.set_volumes();
        let c = self.creation.as_mut().expect("creation in progress");
        let deadline = now.deadline_after(self.profile.flush_and_hold_timeout);
        c.hold = Some(Hold {
            token,
            flushed: false,
            deadline,
        });
        out.push(Output::FlushAndHold { volumes, token });
        // Rule 13b: a release exactly 10 s after the hold began is in time.
        out.push(Output::SetTimer {
            at: now.deadline_after(self.profile.flush_and_hold_timeout),
            timer: Timer::HoldWindow { token },
        });
    }

    fn release_hold(&mut self, out: &mut Vec<Output>) {
        let volumes = self.set_volumes();
        let c = self.creation.as_mut().expect("creation in progress");
        if c.hold.is_some() && !c.released {
            c.released = true;
            out.push(Output::ReleaseWrites { volumes });
        }
    }

    fn finish_creation(&mut self, out: &mut Vec<Output>) {
        let c = self.creation.take().expect("creation in progress");
        if self.creation_owner == Some(c.requester) {
            self.creation_owner = None;
        }
        // Every freeze window of this creation is over.
        for rec in self.writers.iter_mut() {
            if rec.freeze.is_some_and(|f| f.requester == c.requester) {
                rec.freeze = None;
            }
        }
        out.push(Output::Phase {
            set_id: c.set_id,
            phase: "finished",
            rule: "2",
        });
        self.op_finish(c.requester, Hresult::AsyncFinished, ReplyData::None, out);
    }

    /// Rule 14's clean-up (also rules 16, 25, 27): release held writes in order,
    /// `AbortSnapshots` to the providers, `OnAbort` to writers between PrepareForSnapshot and
    /// Thaw (they return to `STABLE` / `S_OK`), no shadow of the set survives, and the
    /// operation ends with `code`. Returns the writers that were sent `OnAbort`.
    fn fail_creation(
        &mut self,
        now: Instant,
        code: Hresult,
        rule: &'static str,
        out: &mut Vec<Output>,
    ) -> Vec<WriterId> {
        let Some(c) = self.creation.take() else {
            return Vec::new();
        };
        let r = c.requester;
        out.push(Output::Phase {
            set_id: c.set_id,
            phase: code.name(),
            rule,
        });
        if c.hold.is_some() && !c.released {
            let mut volumes: Vec<VolumeId> = c
                .providers
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            volumes.sort();
            out.push(Output::ReleaseWrites { volumes });
        }
        // Providers hear AbortSnapshots only for a set whose DoSnapshotSet was called (rule 14).
        for (provider, volumes) in &c.providers {
            let token = self.token();
            self.pending_calls.push(PendingCall {
                token,
                provider: *provider,
                call: ProviderCall::AbortSnapshots,
                requester: r,
                add: None,
            });
            out.push(Output::ProviderCall {
                provider: *provider,
                call: ProviderCall::AbortSnapshots,
                set_id: c.set_id,
                volumes: volumes.clone(),
                token,
            });
        }
        // Answers still outstanding for this creation are void.
        // A Thaw already delivered still completes: that writer gets no Abort (rule 14).
        let waiting = c.waiting.clone();
        self.pending_events
            .retain(|p| !waiting.contains(&p.token) || p.event == WriterEvent::Thaw);
        self.pending_calls.retain(|p| !waiting.contains(&p.token));
        let mut aborted = Vec::new();
        if c.with_writers {
            let after_post_snapshot = matches!(
                c.stage,
                Stage::PreFinalCommitSnapshots
                    | Stage::PostSnapshot
                    | Stage::PostFinalCommitSnapshots
            );
            for w in self.session_targets(r) {
                let state = self.writers[w.idx()].state;
                let seat = self.sessions[r.idx()].seats[w.idx()];
                // Rule 14: writers that completed PrepareForSnapshot and have received neither
                // Thaw nor an Abort; rule 16: after PreFinalCommitSnapshots fails, also those
                // waiting for PostSnapshot.
                let waiting_state = (matches!(
                    state,
                    WriterState::WaitingForFreeze | WriterState::WaitingForThaw
                ) && !seat.thawed)
                    || (after_post_snapshot
                        && state == WriterState::WaitingForPostSnapshot
                        && c.stage != Stage::PostFinalCommitSnapshots);
                if waiting_state && !seat.aborted {
                    self.writers[w.idx()].freeze = None;
                    self.set_writer(
                        w,
                        WriterEvent::Abort,
                        WriterState::Stable,
                        Hresult::Ok,
                        "14",
                        out,
                    );
                    self.deliver(now, r, w, WriterEvent::Abort, out);
                    aborted.push(w);
                }
            }
        }
        let set_id = c.set_id;
        for sh in self.shadows.iter_mut() {
            if sh.set_id == set_id && sh.status == ShadowStatus::Exists {
                sh.status = ShadowStatus::Aborted;
                out.push(Output::DeleteShadow {
                    snapshot: sh.id,
                    status: ShadowStatus::Aborted,
                });
            }
        }
        if self.creation_owner == Some(r) {
            self.creation_owner = None;
        }
        self.op_finish(r, code, ReplyData::None, out);
        aborted
    }
}

fn reply(
    out: &mut Vec<Output>,
    requester: RequesterId,
    call: ApiCallKind,
    result: Hresult,
    data: ReplyData,
) {
    out.push(Output::Reply {
        requester,
        call,
        result,
        data,
    });
}
