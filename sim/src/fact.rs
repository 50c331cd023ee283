//! The facts of a run: what happened, typed, in order (a call, a writer event and its answer, a
//! state change, a hold, a shadow, …). The world notes each fact once; the recorder
//! ([`crate::record`]) turns it into trace records and the accounting, and the oracles
//! ([`crate::oracle`]) judge it. This module depends on the model only, so both can read it.

use model::api::{ApiCall, ApiCallKind, ShadowStatus, Volumes, WriterStatus};
use model::app::{AppKind, TornUnit};
use model::ids::{ProviderId, RequesterId, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use model::volume::store::{Created, Released, ShadowInfo, WriteCounts};
use model::vss::{Hresult, ProviderCall, SnapshotContext, SnapshotState, WriterEvent, WriterState};

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
    /// Guest code could not go on (`World::guest_error` says why); the run stopped where it
    /// was, with no end records.
    GuestError,
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
        /// `GatherWriterStatus`: the status it returned for each writer (else empty).
        writers: Vec<WriterStatus>,
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
        /// `GatherWriterStatus`: the status it returned for each writer (else empty).
        writers: Vec<WriterStatus>,
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
    /// A writer's freeze window ended before its Thaw: the window's own timer fired (rule 7).
    FreezeTimedOut {
        /// The writer.
        writer: WriterId,
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
        volumes: Volumes,
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
        volumes: Volumes,
    },
    /// The writes in flight at the hold drained.
    Flushed,
    /// Held writes were released (rule 14).
    Release {
        /// The volumes released.
        volumes: Volumes,
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
        /// The provider that made it.
        provider: ProviderId,
        /// Its context.
        context: SnapshotContext,
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
    /// A (flawed) requester copied a live volume instead of a shadow copy.
    LiveRead {
        /// The reader.
        requester: RequesterId,
        /// The volume.
        volume: VolumeId,
        /// Blocks it copied.
        n: u64,
    },
    /// A requester began reading a whole shadow.
    ReadStarted {
        /// The reader.
        requester: RequesterId,
        /// The original volume.
        volume: VolumeId,
        /// The shadow.
        snapshot: SnapshotId,
        /// Blocks to read.
        n: u64,
    },
    /// A requester finished reading a shadow, or stopped because it was deleted.
    ReadEnded {
        /// The reader.
        requester: RequesterId,
        /// The original volume.
        volume: VolumeId,
        /// The shadow.
        snapshot: SnapshotId,
        /// `S_OK`, or `VSS_E_OBJECT_NOT_FOUND`.
        result: Hresult,
        /// For a read to the end: whether what it read is the image of the shadow's instant.
        matches: Option<bool>,
    },
    /// A shadow copy of a set moved to another `VSS_SNAPSHOT_STATE` (rule S29). No trace
    /// record: only the oracles read it.
    SnapshotState {
        /// Its set.
        set_id: SnapshotSetId,
        /// The shadow copy.
        snapshot: SnapshotId,
        /// The original volume.
        volume: VolumeId,
        /// Its new state.
        state: SnapshotState,
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
    /// A set's shadow copies now hold every volume of a writer's application: whether its
    /// image there is consistent (rules S5, 33). Noted once per set and application.
    AppImage {
        /// The set.
        set_id: SnapshotSetId,
        /// The application (its workload's name).
        app: String,
        /// The writer it belongs to.
        writer: WriterId,
        /// Its kind.
        kind: AppKind,
        /// Whether its writer had frozen it at the hold (then it cannot be torn).
        frozen: bool,
        /// The unit the image cut, when that leaves it torn; `None`: consistent.
        torn: Option<TornUnit>,
    },
    /// At the end of the run: every live shadow, and whether it reads back its instant.
    ShadowsVerified(Vec<(ShadowInfo, bool)>),
    /// At the end of the run: a requester's result by the rule of `run --json`'s `result`.
    RequesterResult {
        /// The requester.
        requester: RequesterId,
        /// Its result.
        result: Hresult,
        /// Whether the requester reported it itself (the standard sequence, flawed or not);
        /// a script's result is judged from its calls.
        reported: bool,
    },
    /// At the end of the run, before `Ending`: who still holds the creation lock
    /// (StartSnapshotSet to the end of DoSnapshotSet, AbortBackup or Release; rule 20), and the
    /// volumes whose diff area is in use with no shadow copy left on them.
    Settled {
        /// The requester holding it, if any.
        creation_lock: Option<RequesterId>,
        /// Volumes without a shadow copy whose diff area still holds bytes, with the bytes.
        diff_leaks: Vec<(VolumeId, u64)>,
    },
    /// `[run] heal_at` (rule 31): faults stop; `answered` handler and provider calls that were
    /// stuck answer `S_OK` now.
    Healed {
        /// How many stuck calls were answered.
        answered: u32,
    },
    /// `heal_at + settle_within` came and the run had not ended (rule 31): what was still open.
    SettleDue {
        /// Requesters neither finished nor gone.
        waiting: Vec<RequesterId>,
        /// The requester holding the creation lock, if any.
        creation_lock: Option<RequesterId>,
        /// Whether the service still had work in progress (a creation, an outstanding event
        /// or call).
        service_busy: bool,
    },
    /// The run is ending (oracles judge what is still open).
    Ending {
        /// Why.
        reason: EndReason,
    },
    /// The run ended.
    End {
        /// Why.
        reason: EndReason,
        /// Events the loop dispatched.
        events: u64,
        /// The workloads' write accounting.
        writes: WriteCounts,
    },
}

/// The kind of a [`Fact`], without its data: what an oracle declares it looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum FactKind {
    /// [`Fact::Call`].
    Call,
    /// [`Fact::Answered`].
    Answered,
    /// [`Fact::AsyncAnswered`].
    AsyncAnswered,
    /// [`Fact::Reply`].
    Reply,
    /// [`Fact::AsyncDone`].
    AsyncDone,
    /// [`Fact::Deadline`].
    Deadline,
    /// [`Fact::NewObject`].
    NewObject,
    /// [`Fact::GoAway`].
    GoAway,
    /// [`Fact::WriterEvent`].
    WriterEvent,
    /// [`Fact::WriterAnswer`].
    WriterAnswer,
    /// [`Fact::StateChanged`].
    StateChanged,
    /// [`Fact::FreezeTimedOut`].
    FreezeTimedOut,
    /// [`Fact::LateAnswer`].
    LateAnswer,
    /// [`Fact::ProviderCall`].
    ProviderCall,
    /// [`Fact::ProviderAnswer`].
    ProviderAnswer,
    /// [`Fact::Hold`].
    Hold,
    /// [`Fact::Flushed`].
    Flushed,
    /// [`Fact::Release`].
    Release,
    /// [`Fact::ProtectionFault`].
    ProtectionFault,
    /// [`Fact::ShadowCreated`].
    ShadowCreated,
    /// [`Fact::ShadowDeleted`].
    ShadowDeleted,
    /// [`Fact::Read`].
    Read,
    /// [`Fact::LiveRead`].
    LiveRead,
    /// [`Fact::ReadStarted`].
    ReadStarted,
    /// [`Fact::ReadEnded`].
    ReadEnded,
    /// [`Fact::SnapshotState`].
    SnapshotState,
    /// [`Fact::Phase`].
    Phase,
    /// [`Fact::AppImage`].
    AppImage,
    /// [`Fact::ShadowsVerified`].
    ShadowsVerified,
    /// [`Fact::RequesterResult`].
    RequesterResult,
    /// [`Fact::Settled`].
    Settled,
    /// [`Fact::Healed`].
    Healed,
    /// [`Fact::SettleDue`].
    SettleDue,
    /// [`Fact::Ending`].
    Ending,
    /// [`Fact::End`].
    End,
}

// Every kind has a bit in a `u64`.
const _: () = assert!((FactKind::End as u8) < 64);

impl FactKind {
    /// This kind's bit in a set of kinds.
    pub const fn bit(self) -> u64 {
        1 << self as u8
    }

    /// The set of `kinds`, as bits.
    pub const fn set(kinds: &[FactKind]) -> u64 {
        let mut bits = 0;
        let mut i = 0;
        while i < kinds.len() {
            bits |= kinds[i].bit();
            i += 1;
        }
        bits
    }
}

impl Fact {
    /// The fact's kind.
    pub fn kind(&self) -> FactKind {
        match self {
            Fact::Call { .. } => FactKind::Call,
            Fact::Answered { .. } => FactKind::Answered,
            Fact::AsyncAnswered { .. } => FactKind::AsyncAnswered,
            Fact::Reply { .. } => FactKind::Reply,
            Fact::AsyncDone { .. } => FactKind::AsyncDone,
            Fact::Deadline { .. } => FactKind::Deadline,
            Fact::NewObject { .. } => FactKind::NewObject,
            Fact::GoAway { .. } => FactKind::GoAway,
            Fact::WriterEvent { .. } => FactKind::WriterEvent,
            Fact::WriterAnswer { .. } => FactKind::WriterAnswer,
            Fact::StateChanged { .. } => FactKind::StateChanged,
            Fact::FreezeTimedOut { .. } => FactKind::FreezeTimedOut,
            Fact::LateAnswer => FactKind::LateAnswer,
            Fact::ProviderCall { .. } => FactKind::ProviderCall,
            Fact::ProviderAnswer { .. } => FactKind::ProviderAnswer,
            Fact::Hold { .. } => FactKind::Hold,
            Fact::Flushed => FactKind::Flushed,
            Fact::Release { .. } => FactKind::Release,
            Fact::ProtectionFault { .. } => FactKind::ProtectionFault,
            Fact::ShadowCreated { .. } => FactKind::ShadowCreated,
            Fact::ShadowDeleted { .. } => FactKind::ShadowDeleted,
            Fact::Read { .. } => FactKind::Read,
            Fact::LiveRead { .. } => FactKind::LiveRead,
            Fact::ReadStarted { .. } => FactKind::ReadStarted,
            Fact::ReadEnded { .. } => FactKind::ReadEnded,
            Fact::SnapshotState { .. } => FactKind::SnapshotState,
            Fact::Phase { .. } => FactKind::Phase,
            Fact::AppImage { .. } => FactKind::AppImage,
            Fact::ShadowsVerified(_) => FactKind::ShadowsVerified,
            Fact::RequesterResult { .. } => FactKind::RequesterResult,
            Fact::Settled { .. } => FactKind::Settled,
            Fact::Healed { .. } => FactKind::Healed,
            Fact::SettleDue { .. } => FactKind::SettleDue,
            Fact::Ending { .. } => FactKind::Ending,
            Fact::End { .. } => FactKind::End,
        }
    }
}
