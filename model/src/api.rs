//! The messages on the coordinator's edges: requester calls in, replies and events out.
//!
//! The coordinator talks to requesters, writers, providers and volumes only through these
//! values (ARCHITECTURE.md, invariant 2), so a scripted requester, a user's async requester or a
//! socket client can sit behind the same edge (rule 32).

use std::sync::Arc;

use crate::ids::{Guid, ProviderId, RequesterId, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use crate::time::Instant;
use crate::vss::{
    BackupType, Hresult, ObjectType, ProviderCall, SnapshotContext, SnapshotState, WriterEvent,
    WriterState,
};

/// A list of volumes shared by the messages of one snapshot set: a creation computes it once
/// and every provider call, hold and release that names it copies a pointer, not the list.
pub type Volumes = Arc<[VolumeId]>;

/// Which provider a requester names in `AddToSnapshotSet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderArg {
    /// `GUID_NULL`: let the service choose (rule 4).
    Any,
    /// A registered provider.
    Registered(ProviderId),
    /// A provider id that is not registered on the machine.
    Unregistered(Guid),
}

/// A component named by a requester: a writer instance and the component's index in its
/// metadata. `None` where the requester named something the machine does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComponentRef {
    /// The writer instance that declared the component.
    pub writer: WriterId,
    /// Index of the component in the writer's metadata.
    pub idx: u16,
}

/// One `IVssBackupComponents` (or `IVssAsync`) call made by a requester.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiCall {
    /// `InitializeForBackup(NULL)`.
    InitializeForBackup,
    /// `SetContext(lContext)`.
    SetContext(SnapshotContext),
    /// `SetBackupState(bSelectComponents, bBootableSystemState, backupType,
    /// bPartialFileSupport)`.
    SetBackupState {
        /// Component mode.
        select_components: bool,
        /// `bBootableSystemState`: recorded, changes nothing (rule 37).
        bootable_system_state: bool,
        /// The backup type.
        backup_type: BackupType,
        /// `bPartialFileSupport`: recorded, changes nothing (rule 37).
        partial_file_support: bool,
    },
    /// `IsVolumeSupported(ProviderId or GUID_NULL, volume)` (rule 34); `volume` is `None` for
    /// a volume the machine does not have.
    IsVolumeSupported {
        /// The provider named, or `GUID_NULL` (any provider).
        provider: ProviderArg,
        /// The volume, if it exists.
        volume: Option<VolumeId>,
    },
    /// `GetSnapshotProperties(SnapshotId)` (rule 35).
    GetSnapshotProperties(SnapshotId),
    /// `Query(GUID_NULL, VSS_OBJECT_NONE, VSS_OBJECT_SNAPSHOT)`: every shadow copy of the
    /// object's context (rule 35).
    Query,
    /// `DeleteSnapshots(SourceObjectId, eSourceObjectType, bForceDelete)` (rule 36).
    DeleteSnapshots {
        /// A shadow copy's id or a set's id.
        source: Guid,
        /// `VSS_OBJECT_SNAPSHOT` or `VSS_OBJECT_SNAPSHOT_SET`; any other is `E_INVALIDARG`.
        object: ObjectType,
        /// `bForceDelete`: recorded, changes nothing (rule 36).
        force: bool,
    },
    /// `DisableWriterClasses(rgWriterClassId)` (rule 38): writers of these classes get no
    /// event of this object's session.
    DisableWriterClasses(Vec<Guid>),
    /// `EnableWriterClasses(rgWriterClassId)` (rule 38): only writers of the enabled classes
    /// get events of this object's session.
    EnableWriterClasses(Vec<Guid>),
    /// `GatherWriterMetadata` (asynchronous).
    GatherWriterMetadata,
    /// `AddComponent`; `None` names a component the machine does not have.
    AddComponent(Option<ComponentRef>),
    /// `StartSnapshotSet`; the new set's id is drawn by the simulation and passed in.
    StartSnapshotSet {
        /// The id the service gives the new set.
        new_id: SnapshotSetId,
    },
    /// `AddToSnapshotSet`; `volume` is `None` for a volume the machine does not have.
    AddToSnapshotSet {
        /// The volume, if it exists.
        volume: Option<VolumeId>,
        /// The provider named, or `GUID_NULL`.
        provider: ProviderArg,
        /// The id the service gives the new shadow copy.
        new_id: SnapshotId,
    },
    /// `PrepareForBackup` (asynchronous).
    PrepareForBackup,
    /// `DoSnapshotSet` (asynchronous).
    DoSnapshotSet,
    /// `GatherWriterStatus` (asynchronous).
    GatherWriterStatus,
    /// `SetBackupSucceeded` for one explicitly included component.
    SetBackupSucceeded {
        /// The component.
        component: ComponentRef,
        /// Whether its backup succeeded.
        succeeded: bool,
    },
    /// `BackupComplete` (asynchronous).
    BackupComplete,
    /// `AbortBackup`.
    AbortBackup,
    /// `IVssAsync::Cancel` on the requester's outstanding asynchronous operation.
    Cancel,
    /// Releasing the `IVssBackupComponents` object (or the requester process going away).
    Release,
}

impl ApiCall {
    /// Which call this is, without its arguments.
    pub fn kind(&self) -> ApiCallKind {
        match self {
            ApiCall::InitializeForBackup => ApiCallKind::InitializeForBackup,
            ApiCall::SetContext(_) => ApiCallKind::SetContext,
            ApiCall::SetBackupState { .. } => ApiCallKind::SetBackupState,
            ApiCall::GatherWriterMetadata => ApiCallKind::GatherWriterMetadata,
            ApiCall::AddComponent(_) => ApiCallKind::AddComponent,
            ApiCall::StartSnapshotSet { .. } => ApiCallKind::StartSnapshotSet,
            ApiCall::AddToSnapshotSet { .. } => ApiCallKind::AddToSnapshotSet,
            ApiCall::PrepareForBackup => ApiCallKind::PrepareForBackup,
            ApiCall::DoSnapshotSet => ApiCallKind::DoSnapshotSet,
            ApiCall::GatherWriterStatus => ApiCallKind::GatherWriterStatus,
            ApiCall::SetBackupSucceeded { .. } => ApiCallKind::SetBackupSucceeded,
            ApiCall::BackupComplete => ApiCallKind::BackupComplete,
            ApiCall::AbortBackup => ApiCallKind::AbortBackup,
            ApiCall::Cancel => ApiCallKind::Cancel,
            ApiCall::Release => ApiCallKind::Release,
            ApiCall::IsVolumeSupported { .. } => ApiCallKind::IsVolumeSupported,
            ApiCall::GetSnapshotProperties(_) => ApiCallKind::GetSnapshotProperties,
            ApiCall::Query => ApiCallKind::Query,
            ApiCall::DeleteSnapshots { .. } => ApiCallKind::DeleteSnapshots,
            ApiCall::DisableWriterClasses(_) => ApiCallKind::DisableWriterClasses,
            ApiCall::EnableWriterClasses(_) => ApiCallKind::EnableWriterClasses,
        }
    }

    /// The call's name as Microsoft spells it.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Whether the call returns an `IVssAsync` whose result is read with `QueryStatus`.
    pub fn is_async(&self) -> bool {
        self.kind().is_async()
    }

    /// Whether the call named `name` (Microsoft's spelling, as a report prints it) is
    /// asynchronous. For the edges only, where calls are already names; inside, use
    /// [`ApiCallKind::is_async`].
    pub fn is_async_name(name: &str) -> bool {
        ApiCallKind::from_name(name).is_some_and(ApiCallKind::is_async)
    }
}

/// Which `IVssBackupComponents` (or `IVssAsync`) call, without its arguments: one variant per
/// [`ApiCall`]. The model matches on this; Microsoft's spelling ([`ApiCallKind::name`]) is
/// for the edges (trace, report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiCallKind {
    /// `IVssBackupComponents::InitializeForBackup`.
    InitializeForBackup,
    /// `IVssBackupComponents::SetContext`.
    SetContext,
    /// `IVssBackupComponents::SetBackupState`.
    SetBackupState,
    /// `IVssBackupComponents::GatherWriterMetadata` (asynchronous).
    GatherWriterMetadata,
    /// `IVssBackupComponents::AddComponent`.
    AddComponent,
    /// `IVssBackupComponents::StartSnapshotSet`.
    StartSnapshotSet,
    /// `IVssBackupComponents::AddToSnapshotSet`.
    AddToSnapshotSet,
    /// `IVssBackupComponents::PrepareForBackup` (asynchronous).
    PrepareForBackup,
    /// `IVssBackupComponents::DoSnapshotSet` (asynchronous).
    DoSnapshotSet,
    /// `IVssBackupComponents::GatherWriterStatus` (asynchronous).
    GatherWriterStatus,
    /// `IVssBackupComponents::SetBackupSucceeded`.
    SetBackupSucceeded,
    /// `IVssBackupComponents::BackupComplete` (asynchronous).
    BackupComplete,
    /// `IVssBackupComponents::AbortBackup`.
    AbortBackup,
    /// `IVssAsync::Cancel` on the outstanding asynchronous operation.
    #[doc(alias = "IVssAsync_Cancel")]
    Cancel,
    /// `IUnknown::Release` of the `IVssBackupComponents` object (or the process going away).
    #[doc(alias = "IUnknown_Release")]
    Release,
    /// `IVssBackupComponents::IsVolumeSupported`.
    IsVolumeSupported,
    /// `IVssBackupComponents::GetSnapshotProperties`.
    GetSnapshotProperties,
    /// `IVssBackupComponents::Query`.
    Query,
    /// `IVssBackupComponents::DeleteSnapshots`.
    DeleteSnapshots,
    /// `IVssBackupComponents::DisableWriterClasses`.
    DisableWriterClasses,
    /// `IVssBackupComponents::EnableWriterClasses`.
    EnableWriterClasses,
}

impl ApiCallKind {
    /// Every call, in the order of rule S1's sequence, then the clean-up calls, then the
    /// calls added later (queries, deletion, the writer-class filter).
    pub const ALL: [ApiCallKind; 21] = [
        ApiCallKind::InitializeForBackup,
        ApiCallKind::SetContext,
        ApiCallKind::SetBackupState,
        ApiCallKind::GatherWriterMetadata,
        ApiCallKind::AddComponent,
        ApiCallKind::StartSnapshotSet,
        ApiCallKind::AddToSnapshotSet,
        ApiCallKind::PrepareForBackup,
        ApiCallKind::DoSnapshotSet,
        ApiCallKind::GatherWriterStatus,
        ApiCallKind::SetBackupSucceeded,
        ApiCallKind::BackupComplete,
        ApiCallKind::AbortBackup,
        ApiCallKind::Cancel,
        ApiCallKind::Release,
        ApiCallKind::IsVolumeSupported,
        ApiCallKind::GetSnapshotProperties,
        ApiCallKind::Query,
        ApiCallKind::DeleteSnapshots,
        ApiCallKind::DisableWriterClasses,
        ApiCallKind::EnableWriterClasses,
    ];

    /// The call's name as Microsoft spells it.
    pub fn name(self) -> &'static str {
        match self {
            ApiCallKind::InitializeForBackup => "InitializeForBackup",
            ApiCallKind::SetContext => "SetContext",
            ApiCallKind::SetBackupState => "SetBackupState",
            ApiCallKind::GatherWriterMetadata => "GatherWriterMetadata",
            ApiCallKind::AddComponent => "AddComponent",
            ApiCallKind::StartSnapshotSet => "StartSnapshotSet",
            ApiCallKind::AddToSnapshotSet => "AddToSnapshotSet",
            ApiCallKind::PrepareForBackup => "PrepareForBackup",
            ApiCallKind::DoSnapshotSet => "DoSnapshotSet",
            ApiCallKind::GatherWriterStatus => "GatherWriterStatus",
            ApiCallKind::SetBackupSucceeded => "SetBackupSucceeded",
            ApiCallKind::BackupComplete => "BackupComplete",
            ApiCallKind::AbortBackup => "AbortBackup",
            ApiCallKind::Cancel => "Cancel",
            ApiCallKind::Release => "Release",
            ApiCallKind::IsVolumeSupported => "IsVolumeSupported",
            ApiCallKind::GetSnapshotProperties => "GetSnapshotProperties",
            ApiCallKind::Query => "Query",
            ApiCallKind::DeleteSnapshots => "DeleteSnapshots",
            ApiCallKind::DisableWriterClasses => "DisableWriterClasses",
            ApiCallKind::EnableWriterClasses => "EnableWriterClasses",
        }
    }

    /// The call Microsoft spells `name`, if any.
    pub fn from_name(name: &str) -> Option<ApiCallKind> {
        ApiCallKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the call returns an `IVssAsync` whose result is read with `QueryStatus`.
    pub fn is_async(self) -> bool {
        matches!(
            self,
            ApiCallKind::GatherWriterMetadata
                | ApiCallKind::PrepareForBackup
                | ApiCallKind::DoSnapshotSet
                | ApiCallKind::GatherWriterStatus
                | ApiCallKind::BackupComplete
        )
    }

    /// Whether the call ends a backup: `IVssAsync::Cancel`, `AbortBackup`, `Release`. A
    /// requester past its deadline waits for these, and gives up on any other call.
    pub fn is_clean_up(self) -> bool {
        matches!(
            self,
            ApiCallKind::Cancel | ApiCallKind::AbortBackup | ApiCallKind::Release
        )
    }
}

/// What the service reports for one writer in `GetWriterStatus` / `GetWriterMetadata`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterStatus {
    /// The writer instance.
    pub writer: WriterId,
    /// `VSS_WRITER_STATE`.
    pub state: WriterState,
    /// The writer's failure code (`phResultFailure`).
    pub last_error: Hresult,
}

/// Data a reply or a finished asynchronous operation carries back to the requester.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ReplyData {
    /// Nothing beyond the HRESULT.
    #[default]
    None,
    /// `StartSnapshotSet`'s set id.
    SnapshotSet(SnapshotSetId),
    /// `AddToSnapshotSet`'s shadow id.
    Snapshot(SnapshotId),
    /// `GatherWriterMetadata`: the writers that answered Identify, in subscription order (ascending id).
    WriterMetadata(Vec<WriterId>),
    /// `GatherWriterStatus`: one entry per writer of the session.
    WriterStatus(Vec<WriterStatus>),
    /// `IsVolumeSupported`'s `pbSupportedByThisProvider`.
    Supported(bool),
    /// `GetSnapshotProperties` (one entry) or `Query` (every shadow copy of the context, in
    /// creation order).
    SnapshotProps(Vec<SnapshotProp>),
    /// `DeleteSnapshots`: how many shadow copies it deleted, and the first it did not
    /// (`GUID_NULL` when none was left).
    Deleted {
        /// `plDeletedSnapshots`.
        count: u32,
        /// `pNondeletedSnapshotID`.
        first_not_deleted: SnapshotId,
    },
}

/// `VSS_SNAPSHOT_PROP`: one shadow copy as `GetSnapshotProperties` and `Query` describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotProp {
    /// `m_SnapshotId`.
    pub id: SnapshotId,
    /// `m_SnapshotSetId`.
    pub set_id: SnapshotSetId,
    /// `m_lSnapshotsCount`: how many shadow copies its set made.
    pub set_count: u32,
    /// `m_pwszOriginalVolumeName`.
    pub volume: VolumeId,
    /// `m_ProviderId` (the provider's index on the machine).
    pub provider: ProviderId,
    /// The context its set was made in.
    pub context: SnapshotContext,
    /// `m_lSnapshotAttributes`: the context's bits, plus `VSS_VOLSNAP_ATTR_DIFFERENTIAL` for
    /// the system provider's copy-on-write shadows.
    pub attributes: u32,
    /// `m_tsCreationTimestamp`, as the virtual time of its `CommitSnapshots`.
    pub created_at: Instant,
    /// `N` of `m_pwszSnapshotDeviceObject`, `\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN`:
    /// shadow copies are numbered from 1 in the order the machine made them.
    pub device: u32,
    /// `m_eStatus`.
    pub state: SnapshotState,
}

impl SnapshotProp {
    /// `m_pwszSnapshotDeviceObject`: the shadow copy's device, without a trailing backslash.
    pub fn device_object(&self) -> String {
        format!(
            "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{}",
            self.device
        )
    }
}

/// The status of a shadow copy as the run's report shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShadowStatus {
    /// Still present at the end of the run.
    Exists,
    /// Deleted when its requester released (auto-release).
    Released,
    /// Deleted by a requester or administrator.
    Deleted,
    /// Its snapshot set failed or was aborted.
    Aborted,
    /// Deleted because the diff area filled (rule 17).
    DiffAreaFull,
    /// Recycled as the oldest client-accessible shadow (rule 18).
    Recycled,
}

impl ShadowStatus {
    /// The spelling of `snapshots[].status` in `run --json`.
    pub fn name(self) -> &'static str {
        match self {
            ShadowStatus::Exists => "exists",
            ShadowStatus::Released => "released",
            ShadowStatus::Deleted => "deleted",
            ShadowStatus::Aborted => "aborted",
            ShadowStatus::DiffAreaFull => "diff_area_full",
            ShadowStatus::Recycled => "recycled",
        }
    }
}

/// A coordinator timer. Each carries the token that was current when it was set; a timer whose
/// token is no longer current is stale and ignored (timers are never cancelled in the queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A writer's answer to a non-Freeze event is due (rule 11), counted from the event's
    /// delivery (rule 30).
    WriterResponse {
        /// The outstanding event's token.
        token: u64,
    },
    /// A writer's freeze window has ended (rule 7).
    FreezeWindow {
        /// The writer.
        writer: WriterId,
        /// The Freeze delivery's token.
        token: u64,
    },
    /// The flush-and-hold window has ended (rules 13, 13b).
    HoldWindow {
        /// The hold's token.
        token: u64,
    },
    /// An asynchronous operation that needs no writer finishes (e.g. `GatherWriterStatus`).
    AsyncFinish {
        /// The requester.
        requester: RequesterId,
        /// The operation's token.
        token: u64,
    },
}

/// Inputs to the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A requester calls the API.
    Call {
        /// The caller.
        requester: RequesterId,
        /// The call.
        call: ApiCall,
    },
    /// A writer's handler returned.
    WriterAnswer {
        /// The token of the event it answers.
        token: u64,
        /// `S_OK` or the failure the writer set.
        result: Hresult,
    },
    /// A provider call returned.
    ProviderAnswer {
        /// The token of the call it answers.
        token: u64,
        /// The provider's HRESULT, before translation (rule 16).
        result: Hresult,
    },
    /// Every volume of the hold has drained its in-flight writes and flushed.
    FlushDone {
        /// The hold's token.
        token: u64,
    },
    /// A timer fired.
    Timer(Timer),
    /// The volume deleted a shadow copy to make room in its diff area (rule 17).
    ShadowDeleted {
        /// The shadow.
        snapshot: SnapshotId,
    },
    /// The requester creates a new `IVssBackupComponents` object (`CreateVssBackupComponents`);
    /// an object it had not released goes away first (rule 27).
    NewObject {
        /// The requester.
        requester: RequesterId,
    },
}

/// Effects and notes the coordinator emits. The simulation executes effects and records notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A synchronous call returned (or an asynchronous call returned its `IVssAsync`).
    Reply {
        /// The caller.
        requester: RequesterId,
        /// The call.
        call: ApiCallKind,
        /// The call's own return value.
        result: Hresult,
        /// Data returned.
        data: ReplyData,
    },
    /// An asynchronous operation ended; `result` is what `QueryStatus` gives.
    AsyncDone {
        /// The caller.
        requester: RequesterId,
        /// The call that started the operation.
        call: ApiCallKind,
        /// `VSS_S_ASYNC_FINISHED`, `VSS_S_ASYNC_CANCELLED` or the failure.
        result: Hresult,
        /// Data returned.
        data: ReplyData,
    },
    /// Deliver an event to a writer; it answers with [`Input::WriterAnswer`] and `token`.
    /// Emitted when the writer is handed the event: at once if it is free, else when its
    /// running handler returns or is given up on (one handler at a time, rule 30).
    WriterEvent {
        /// The writer.
        writer: WriterId,
        /// The event.
        event: WriterEvent,
        /// Token to answer with.
        token: u64,
        /// For PrepareForSnapshot: the volumes in the set (a writer checks them, rule 5b);
        /// empty for every other event.
        set_volumes: Volumes,
        /// For PrepareForSnapshot: the writer's explicitly included components.
        selected: Vec<u16>,
    },
    /// Call a provider; it answers with [`Input::ProviderAnswer`] and `token`.
    ProviderCall {
        /// The provider.
        provider: ProviderId,
        /// The call.
        call: ProviderCall,
        /// The set.
        set_id: SnapshotSetId,
        /// The volumes of the set this provider handles (one for `BeginPrepareSnapshot`).
        volumes: Volumes,
        /// Token to answer with; `AbortSnapshots` is not answered.
        token: u64,
    },
    /// Schedule a timer.
    SetTimer {
        /// When it fires.
        at: Instant,
        /// What it is.
        timer: Timer,
    },
    /// Start flush-and-hold on these volumes (the snapshot instant, rule 13).
    FlushAndHold {
        /// The volumes.
        volumes: Volumes,
        /// Answer with [`Input::FlushDone`] and this token.
        token: u64,
    },
    /// Release held writes on these volumes, in their original order (rule 14).
    ReleaseWrites {
        /// The volumes.
        volumes: Volumes,
    },
    /// A provider committed a shadow copy of `volume`: its image is the hold instant.
    CreateShadow {
        /// The shadow.
        snapshot: SnapshotId,
        /// Its set.
        set_id: SnapshotSetId,
        /// The original volume.
        volume: VolumeId,
        /// The provider that made it.
        provider: ProviderId,
        /// The set's context.
        context: SnapshotContext,
    },
    /// Remove a shadow copy.
    DeleteShadow {
        /// The shadow.
        snapshot: SnapshotId,
        /// Why, as the report shows it.
        status: ShadowStatus,
    },
    /// A writer's state or last error changed (for the trace and the state-graph check).
    WriterStateChanged {
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
        /// The rule behind the change, an id of `docs/rules.md`: a decision (`"7"`, `"14"`)
        /// or, for an ordinary transition, the Microsoft-documented rule (`"S3"` …). Never
        /// empty.
        rule: &'static str,
    },
    /// A writer's freeze window ended before Thaw was delivered (rule 7): the service gives up
    /// on the writer, which is failed at freeze with `VSS_E_WRITERERROR_TIMEOUT` (the
    /// [`Output::WriterStateChanged`] just before says so) and aborted. Emitted only by the
    /// window's own timer, never for a writer that returned that code itself.
    FreezeTimedOut {
        /// The writer.
        writer: WriterId,
    },
    /// A writer answered too late (its handler was given up on: it frees nothing, rule 30), or
    /// answered an event whose answer no longer counts; ignored.
    LateAnswerIgnored {
        /// The token answered.
        token: u64,
    },
    /// A shadow copy of a set moved to another `VSS_SNAPSHOT_STATE` (rule S29), for the
    /// state-graph check.
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
    /// The hold began (snapshot instant) or ended, for the trace.
    Phase {
        /// The set.
        set_id: SnapshotSetId,
        /// `DoSnapshotSet` phase name.
        phase: &'static str,
        /// The rule applied, an id of `docs/rules.md`.
        rule: &'static str,
    },
}
