//! A requester's session: its `IVssBackupComponents` object, the order its calls must come in
//! (`VSS_E_BAD_STATE`, rules S1, 21, 22, 24), its asynchronous operation, and how it ends
//! (AbortBackup, Cancel, Release: rules 22, 25, 27).

use crate::api::{
    ApiCall, ApiCallKind, ComponentRef, Output, ReplyData, ShadowStatus, Timer, WriterStatus,
};
use crate::ids::{Guid, ProviderId, RequesterId, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use crate::time::Instant;
use crate::vss::{Hresult, SnapshotContext, SnapshotState, WriterEvent};

use smallvec::SmallVec;

use super::tokens::TokenSet;
use super::{Coordinator, reply};

/// The writers one event goes to: inline up to 16, so a broadcast on a machine of a few writers
/// allocates nothing.
pub(super) type Targets = SmallVec<[WriterId; 16]>;

/// One writer as one session sees it.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Seat {
    /// Left out of the session's later events (failed, rules 5-8; or not responding).
    pub(super) out: bool,
    /// Did not answer in time (rule 11): left out of every later event, BackupShutdown too.
    pub(super) not_responding: bool,
    /// Received OnAbort in this session (an Abort is sent once, rule 14).
    pub(super) aborted: bool,
    /// Thaw was delivered in this session's creation.
    pub(super) thawed: bool,
    /// Its PostSnapshot completed: it gets no OnAbort any more (rules 16, S10).
    pub(super) post_snapshot_done: bool,
}

/// One volume of a snapshot set.
#[derive(Clone, Copy, Debug)]
pub(super) struct SetVolume {
    pub(super) volume: VolumeId,
    pub(super) snapshot: SnapshotId,
    pub(super) provider: ProviderId,
    /// Its shadow copy's `VSS_SNAPSHOT_STATE` (rule S29).
    pub(super) state: SnapshotState,
}

/// A snapshot set as its requester builds it.
#[derive(Clone, Debug)]
pub(super) struct SnapshotSet {
    pub(super) id: SnapshotSetId,
    pub(super) volumes: Vec<SetVolume>,
    /// `AddToSnapshotSet` calls waiting for `BeginPrepareSnapshot`.
    pub(super) adds_pending: u32,
}

/// The requester's outstanding (or last) asynchronous operation.
#[derive(Clone, Debug)]
pub(super) struct AsyncOp {
    pub(super) call: ApiCallKind,
    pub(super) token: u64,
    /// `None` while pending.
    pub(super) result: Option<Hresult>,
    /// Writer event tokens the operation waits for.
    pub(super) waiting: TokenSet,
}

/// Where a session's object is in rule S1's sequence. Each step is reached by one call and
/// never left except forwards; `Aborted` and `Released` end the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Created; only `InitializeForBackup` is accepted.
    Uninitialized,
    /// `InitializeForBackup` returned: the set and the components are being chosen.
    Initialized,
    /// `PrepareForBackup` was called (writer contexts only, rule 24).
    Prepared,
    /// `DoSnapshotSet` was called; `result` is its outcome once it has ended.
    Snapshotting {
        /// What `QueryStatus` gives for `DoSnapshotSet`, once over.
        result: Option<Hresult>,
    },
    /// `BackupComplete` was called.
    Completed,
    /// `AbortBackup` did its work (rule 22): nothing of the backup goes on.
    Aborted,
    /// The object was released (or its process went away, rule 27): every call is refused.
    Released,
}

/// Where the session's `GatherWriterMetadata` is. Kept apart from [`Phase`]: in a writer-less
/// context (rule 24) it may come before or after the set is made, so it is no step of the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Metadata {
    /// Not asked for.
    NotAsked,
    /// Asked for; the operation has not finished (or was cancelled, which leaves it here).
    Gathering,
    /// The writers' metadata is in.
    Gathered,
}

/// The writer classes a session's events go to (rule 38), as `DisableWriterClasses` and
/// `EnableWriterClasses` leave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ClassFilter {
    /// Neither was called: every class.
    All,
    /// Every class but these.
    AllBut(Vec<Guid>),
    /// These classes only.
    Only(Vec<Guid>),
}

impl ClassFilter {
    /// Whether a writer of `class` gets the session's events.
    pub(super) fn allows(&self, class: Guid) -> bool {
        match self {
            ClassFilter::All => true,
            ClassFilter::AllBut(off) => !off.contains(&class),
            ClassFilter::Only(on) => on.contains(&class),
        }
    }

    /// `DisableWriterClasses(classes)`: added to the disabled ones, or taken off the enabled
    /// ones.
    fn disable(&mut self, classes: &[Guid]) {
        match self {
            ClassFilter::All => *self = ClassFilter::AllBut(classes.to_vec()),
            ClassFilter::AllBut(off) => off.extend_from_slice(classes),
            ClassFilter::Only(on) => on.retain(|c| !classes.contains(c)),
        }
    }

    /// `EnableWriterClasses(classes)`: the first call enables only these (cancelling earlier
    /// disables); later ones add to them.
    fn enable(&mut self, classes: &[Guid]) {
        match self {
            ClassFilter::All | ClassFilter::AllBut(_) => {
                *self = ClassFilter::Only(classes.to_vec())
            }
            ClassFilter::Only(on) => on.extend_from_slice(classes),
        }
    }
}

/// One requester's `IVssBackupComponents` object.
#[derive(Clone, Debug)]
pub(super) struct Session {
    /// Where the object is in rule S1's sequence.
    pub(super) phase: Phase,
    /// The context (`VSS_CTX_BACKUP` until SetContext).
    pub(super) context: SnapshotContext,
    /// SetContext was called (it may be called once).
    pub(super) context_set: bool,
    /// SetBackupState's `bSelectComponents`, once called.
    pub(super) select_components: Option<bool>,
    /// Where GatherWriterMetadata is.
    pub(super) metadata: Metadata,
    /// Which writer classes get this session's events (rule 38).
    pub(super) classes: ClassFilter,
    /// Writers that answered this session's Identify; sorted once the metadata is gathered.
    pub(super) identified: Vec<WriterId>,
    /// The components the requester added, per writer, in the order added.
    pub(super) selected: Vec<Vec<u16>>,
    /// Writers that received PrepareForBackup (or, writer-less, none).
    pub(super) participants: Vec<WriterId>,
    /// Writers left out of later events of this session (failed or not responding).
    pub(super) seats: Vec<Seat>,
    pub(super) generation: u32,
    pub(super) set: Option<SnapshotSet>,
    pub(super) op: Option<AsyncOp>,
}

impl Session {
    pub(super) fn new(n_writers: usize, generation: u32) -> Session {
        Session {
            phase: Phase::Uninitialized,
            context: SnapshotContext::Backup,
            context_set: false,
            select_components: None,
            metadata: Metadata::NotAsked,
            classes: ClassFilter::All,
            identified: Vec::new(),
            selected: vec![Vec::new(); n_writers],
            participants: Vec::new(),
            seats: vec![Seat::default(); n_writers],
            generation,
            set: None,
            op: None,
        }
    }

    /// Whether the writers' metadata is in.
    pub(super) fn metadata_done(&self) -> bool {
        self.metadata == Metadata::Gathered
    }

    /// Whether the object is released.
    pub(super) fn released(&self) -> bool {
        self.phase == Phase::Released
    }

    /// Whether AbortBackup ended the backup.
    pub(super) fn aborted(&self) -> bool {
        self.phase == Phase::Aborted
    }

    /// Whether the sequence has gone past PrepareForBackup: in a writer context every step
    /// after it; in a writer-less one never, as PrepareForBackup is refused there (rule 24)
    /// and `DoSnapshotSet` follows `Initialized` directly.
    fn past_prepare(&self) -> bool {
        match self.phase {
            Phase::Prepared | Phase::Completed => true,
            Phase::Snapshotting { .. } => self.context.has_writers(),
            _ => false,
        }
    }

    /// Whether DoSnapshotSet finished successfully and BackupComplete has not been called:
    /// when SetBackupSucceeded and BackupComplete are accepted (rule S1).
    fn snapshots_done(&self) -> bool {
        self.phase
            == Phase::Snapshotting {
                result: Some(Hresult::AsyncFinished),
            }
    }
}

impl Coordinator {
    pub(super) fn on_call(
        &mut self,
        now: Instant,
        r: RequesterId,
        call: ApiCall,
        out: &mut Vec<Output>,
    ) {
        let name = call.kind();
        let s = &self.sessions[r.idx()];
        // Every call on a released object, and every call but Initialize on an uninitialised one,
        // is out of sequence (rule 21); AbortBackup on an uninitialised object too
        // (rule 22).
        if s.released() || (s.phase == Phase::Uninitialized && call != ApiCall::InitializeForBackup)
        {
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
                let result = if s.phase == Phase::Uninitialized {
                    s.phase = Phase::Initialized;
                    Hresult::Ok
                } else {
                    Hresult::BadState
                };
                reply(out, r, name, result, ReplyData::None)
            }
            ApiCall::SetContext(ctx) => {
                let s = &mut self.sessions[r.idx()];
                let result = if ctx == SnapshotContext::All {
                    Hresult::InvalidArg
                } else if s.context_set || s.metadata != Metadata::NotAsked || s.set.is_some() {
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
                let result = if s.past_prepare() || s.aborted() {
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
                if !s.metadata_done() || s.aborted() {
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
                let result = if !s.snapshots_done() {
                    Hresult::BadState
                } else if !s
                    .selected
                    .get(component.writer.idx())
                    .is_some_and(|v| v.contains(&component.idx))
                {
                    Hresult::ObjectNotFound
                } else {
                    Hresult::Ok
                };
                reply(out, r, name, result, ReplyData::None)
            }
            ApiCall::BackupComplete => self.call_backup_complete(now, r, out),
            ApiCall::AbortBackup => self.call_abort_backup(now, r, out),
            ApiCall::Cancel => self.call_cancel(now, r, out),
            ApiCall::Release => self.call_release(now, r, out),
            ApiCall::IsVolumeSupported { provider, volume } => {
                self.call_is_volume_supported(r, provider, volume, out)
            }
            ApiCall::GetSnapshotProperties(id) => self.call_get_snapshot_properties(r, id, out),
            ApiCall::Query => self.call_query(r, out),
            ApiCall::DeleteSnapshots { source, object, .. } => {
                self.call_delete_snapshots(r, source, object, out)
            }
            ApiCall::DisableWriterClasses(ref classes)
            | ApiCall::EnableWriterClasses(ref classes) => {
                let s = &mut self.sessions[r.idx()];
                // Rule 38: only before GatherWriterMetadata.
                let result = if s.metadata != Metadata::NotAsked || s.aborted() {
                    Hresult::BadState
                } else {
                    if matches!(call, ApiCall::DisableWriterClasses(_)) {
                        s.classes.disable(classes);
                    } else {
                        s.classes.enable(classes);
                    }
                    Hresult::Ok
                };
                reply(out, r, name, result, ReplyData::None)
            }
        }
    }

    /// Starts requester `r`'s asynchronous operation `call` (its `IVssAsync`) and returns its
    /// token. The caller replies to the call.
    pub(super) fn start_op(&mut self, r: RequesterId, call: ApiCallKind) -> u64 {
        let token = self.token();
        // The previous operation's token set is reused, emptied.
        let mut waiting = self.sessions[r.idx()]
            .op
            .take()
            .map(|op| op.waiting)
            .unwrap_or_default();
        waiting.clear();
        self.sessions[r.idx()].op = Some(AsyncOp {
            call,
            token,
            result: None,
            waiting,
        });
        token
    }

    pub(super) fn call_gather_metadata(
        &mut self,
        now: Instant,
        r: RequesterId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::GatherWriterMetadata;
        let s = &self.sessions[r.idx()];
        if s.metadata != Metadata::NotAsked || s.aborted() {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        self.sessions[r.idx()].metadata = Metadata::Gathering;
        self.start_op(r, name);
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        // Identify goes to every writer subscribed on the machine whose class the session has
        // not disabled (rule 38); the others, never identified, get no later event.
        let classes = &self.sessions[r.idx()].classes;
        let all: Vec<WriterId> = (0..self.writers.len())
            .filter(|&i| classes.allows(self.machine.writers[i].class_id))
            .map(WriterId::from_index)
            .collect();
        self.op_broadcast(now, r, WriterEvent::Identify, &all, out);
    }

    pub(super) fn call_add_component(
        &mut self,
        r: RequesterId,
        c: Option<ComponentRef>,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::AddComponent;
        let s = &self.sessions[r.idx()];
        // Rule 21: accepted until PrepareForBackup; rule 24: never in writer-less contexts.
        let result =
            if !s.metadata_done() || s.past_prepare() || s.aborted() || !s.context.has_writers() {
                Hresult::BadState
            } else {
                match c {
                    Some(c)
                        if s.identified.binary_search(&c.writer).is_ok()
                            && (c.idx as usize)
                                < self.machine.writers[c.writer.idx()].components.len() =>
                    {
                        if s.selected[c.writer.idx()].contains(&c.idx) {
                            Hresult::ObjectAlreadyExists
                        } else {
                            self.sessions[r.idx()].selected[c.writer.idx()].push(c.idx);
                            Hresult::Ok
                        }
                    }
                    _ => Hresult::ObjectNotFound,
                }
            };
        reply(out, r, name, result, ReplyData::None)
    }

    pub(super) fn call_start_set(
        &mut self,
        r: RequesterId,
        new_id: SnapshotSetId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::StartSnapshotSet;
        let s = &self.sessions[r.idx()];
        if s.set.is_some() || s.aborted() {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        // Writer contexts need the writers' metadata first (rule S1).
        if s.context.has_writers() && !s.metadata_done() {
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

    pub(super) fn call_prepare_for_backup(
        &mut self,
        now: Instant,
        r: RequesterId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::PrepareForBackup;
        let s = &self.sessions[r.idx()];
        // SetBackupState is mandatory before PrepareForBackup; StartSnapshotSet precedes it
        // (rule S1); never in writer-less contexts (rule 24).
        if s.phase != Phase::Initialized
            || !s.metadata_done()
            || s.select_components.is_none()
            || s.set.is_none()
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
            .filter(|w| !component_mode || !s.selected[w.idx()].is_empty())
            .collect();
        let s = &mut self.sessions[r.idx()];
        s.phase = Phase::Prepared;
        s.participants = participants.clone();
        self.start_op(r, name);
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        self.op_broadcast(now, r, WriterEvent::PrepareForBackup, &participants, out);
    }

    pub(super) fn call_backup_complete(
        &mut self,
        now: Instant,
        r: RequesterId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::BackupComplete;
        let s = &self.sessions[r.idx()];
        // Rule S1: not after a failed DoSnapshotSet; rule 24: not writer-less.
        if !s.snapshots_done() || !s.context.has_writers() {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        let targets = self.session_targets(r);
        self.sessions[r.idx()].phase = Phase::Completed;
        self.start_op(r, name);
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        self.op_broadcast(now, r, WriterEvent::BackupComplete, &targets, out);
    }

    pub(super) fn call_abort_backup(
        &mut self,
        now: Instant,
        r: RequesterId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::AbortBackup;
        let s = &self.sessions[r.idx()];
        // Rule 22: legal from StartSnapshotSet until BackupComplete; a no-op elsewhere.
        if s.set.is_none() || matches!(s.phase, Phase::Completed | Phase::Aborted) {
            return reply(out, r, name, Hresult::Ok, ReplyData::None);
        }
        self.sessions[r.idx()].phase = Phase::Aborted;
        if self.creation.as_ref().is_some_and(|c| c.requester == r) {
            // Rules 20 and 22: AbortBackup ends the creation (rule 14's clean-up).
            self.fail_creation(now, Hresult::AsyncCancelled, "22", out);
        }
        self.drop_pending_adds(r, out);
        if self.creation_owner == Some(r) {
            self.creation_owner = None;
        }
        // Rule S29: a set dropped before its shadow copies were created leaves them aborted.
        self.set_snapshots_to(r, None, SnapshotState::Aborted, out);
        // Every writer of the session still taking part gets OnAbort (rule S12),
        // once (rule 14), and not after its PostSnapshot (rules 16, S10).
        let mut targets = self.session_targets(r);
        targets.retain(|w| {
            let seat = self.sessions[r.idx()].seats[w.idx()];
            !seat.aborted && !seat.post_snapshot_done
        });
        self.broadcast(now, r, WriterEvent::Abort, &targets, None, out);
        self.delete_set_shadows(r, ShadowStatus::Deleted, out);
        reply(out, r, name, Hresult::Ok, ReplyData::None)
    }

    pub(super) fn call_cancel(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
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

    pub(super) fn call_release(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        // Rule 27: BackupShutdown to every writer of the session, abort a creation in
        // progress, delete the auto-release shadows. The object is gone first: nothing it
        // started reports back to it any more.
        self.sessions[r.idx()].phase = Phase::Released;
        if self.creation.as_ref().is_some_and(|c| c.requester == r) {
            self.fail_creation(now, Hresult::AsyncCancelled, "27", out);
        }
        self.drop_pending_adds(r, out);
        if self.creation_owner == Some(r) {
            self.creation_owner = None;
        }
        // Rule S29: a set dropped before its shadow copies were created leaves them aborted.
        self.set_snapshots_to(r, None, SnapshotState::Aborted, out);
        if let Some(op) = self.sessions[r.idx()].op.as_mut() {
            // An operation still running ends with its object.
            op.waiting.clear();
            op.result.get_or_insert(Hresult::AsyncCancelled);
        }
        // Failed writers get BackupShutdown too (rule 5); only writers that stopped answering
        // are left out (rule 11).
        let s = &self.sessions[r.idx()];
        let targets: Targets = s
            .identified
            .iter()
            .copied()
            .filter(|w| !s.seats[w.idx()].not_responding)
            .collect();
        self.broadcast(now, r, WriterEvent::BackupShutdown, &targets, None, out);
        if self.sessions[r.idx()].context.is_auto_release() {
            self.delete_set_shadows(r, ShadowStatus::Released, out);
        }
        reply(out, r, ApiCallKind::Release, Hresult::Ok, ReplyData::None)
    }

    /// Writers of a session that still take part: participants not left out.
    pub(super) fn session_targets(&self, r: RequesterId) -> Targets {
        let s = &self.sessions[r.idx()];
        s.participants
            .iter()
            .copied()
            .filter(|w| !s.seats[w.idx()].out)
            .collect()
    }

    pub(super) fn op_maybe_finish(&mut self, _now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        let s = &self.sessions[r.idx()];
        let Some(op) = s.op.as_ref() else { return };
        if op.result.is_some() || !op.waiting.is_empty() || s.released() {
            return;
        }
        let data = match op.call {
            ApiCallKind::GatherWriterMetadata => {
                let mut ids = s.identified.clone();
                ids.sort();
                self.sessions[r.idx()].identified = ids.clone();
                self.sessions[r.idx()].metadata = Metadata::Gathered;
                ReplyData::WriterMetadata(ids)
            }
            _ => ReplyData::None,
        };
        // Writer failures in these operations are seen only through GatherWriterStatus
        // (rules 6, 8): the operation itself finishes.
        self.op_finish(r, Hresult::AsyncFinished, data, out);
    }

    pub(super) fn op_finish(
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
        if let (ApiCallKind::DoSnapshotSet, Phase::Snapshotting { result: r }) =
            (call, &mut s.phase)
        {
            *r = Some(result);
        }
        if s.released() {
            return;
        }
        out.push(Output::AsyncDone {
            requester: r,
            call,
            result,
            data,
        });
    }

    pub(super) fn writer_status_list(&self, r: RequesterId) -> Vec<WriterStatus> {
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

    /// An asynchronous operation that needs no writer (`GatherWriterStatus`) finishes.
    pub(super) fn async_finish_due(
        &mut self,
        requester: RequesterId,
        token: u64,
        out: &mut Vec<Output>,
    ) {
        let s = &self.sessions[requester.idx()];
        let Some(op) = s.op.as_ref() else { return };
        if op.token != token || op.result.is_some() {
            return;
        }
        let data = ReplyData::WriterStatus(self.writer_status_list(requester));
        self.op_finish(requester, Hresult::AsyncFinished, data, out);
    }
}
