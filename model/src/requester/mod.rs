//! Requesters: the standard (VShadow-like) sequence with retry policies, and scripted requesters
//! that call the API in any order.
//!
//! Both are sans-IO state machines: the simulation asks [`RequesterLogic::next_action`] for the
//! next action and feeds back every reply, finished asynchronous operation, finished shadow
//! read and expired deadline.
//!
//! The standard sequence (rule S27, VShadow's): InitializeForBackup, SetContext (if not
//! `VSS_CTX_BACKUP`), SetBackupState (component mode, `VSS_BT_FULL`), GatherWriterMetadata,
//! AddComponent for every component whose files lie on the volumes it adds, StartSnapshotSet,
//! AddToSnapshotSet per volume, PrepareForBackup + GatherWriterStatus, DoSnapshotSet +
//! GatherWriterStatus, read each shadow, SetBackupSucceeded, BackupComplete,
//! GatherWriterStatus, Release. In writer-less contexts it skips AddComponent, PrepareForBackup
//! and BackupComplete (rule 24). After a failed call it calls AbortBackup once a set
//! was started (rule S12), skips BackupComplete and releases; a [`Policy`] may then retry.

mod flaw;
mod scripted;
mod standard;

pub use flaw::{Flaw, STANDARD};
pub use scripted::{ScriptStep, ScriptedRequester};
pub use standard::{Policy, StandardRequester, WriterFailurePolicy};

use crate::api::{ApiCall, ApiCallKind, ReplyData};
use crate::ids::{SnapshotId, VolumeId};
use crate::time::{Duration, Instant};
use crate::vss::Hresult;

/// What the requester does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Call the API. GUIDs in the call (`new_id`) are drawn by the simulation.
    Call(ApiCall),
    /// Read a shadow copy of `volume` in full and verify it.
    ReadShadow {
        /// The original volume.
        volume: VolumeId,
        /// The shadow.
        snapshot: SnapshotId,
        /// Copy in the background: the requester acts again at once, and hears `ReadDone`
        /// when the copy ends (a flawed requester's copy thread).
        background: bool,
    },
    /// Copy the live volume instead of a shadow copy (only a flawed requester does).
    ReadLive {
        /// The volume.
        volume: VolumeId,
    },
    /// Do nothing for this long, then ask again.
    Sleep(Duration),
    /// Create a new `IVssBackupComponents` object (the last one was released).
    NewObject,
    /// The requester process goes away without releasing (rule 27).
    GoAway,
    /// Wait for the outstanding asynchronous operation or read.
    Wait,
    /// Nothing more to do: the object has been released.
    Done,
}

/// What the requester hears back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// A call returned.
    Reply {
        /// The call.
        call: ApiCallKind,
        /// Its return value.
        result: Hresult,
        /// Data returned.
        data: ReplyData,
    },
    /// An asynchronous operation finished (`Wait` returned; `QueryStatus` gives `result`).
    AsyncDone {
        /// The call that started it.
        call: ApiCallKind,
        /// `QueryStatus`'s answer.
        result: Hresult,
        /// Data returned.
        data: ReplyData,
    },
    /// A shadow read finished; `complete` is false if any range failed.
    ReadDone {
        /// The volume read.
        volume: VolumeId,
        /// Whether every range was read and verified.
        complete: bool,
    },
    /// A sleep ended.
    Woke,
    /// The requester's deadline for the whole backup passed.
    Deadline,
}

/// A requester of either kind, as the simulation drives it.
#[derive(Clone, Debug)]
pub enum RequesterLogic {
    /// The standard sequence.
    Standard(StandardRequester),
    /// A script.
    Scripted(ScriptedRequester),
}

impl RequesterLogic {
    /// The next action, asked at virtual time `now` (every input on a role's edge carries it;
    /// the scripted requesters count in steps and answers and do not need it, a requester run
    /// by outside code does).
    pub fn next_action(&mut self, _now: Instant) -> Action {
        match self {
            RequesterLogic::Standard(r) => r.next_action(),
            RequesterLogic::Scripted(r) => r.next_action(),
        }
    }

    /// Feeds back what happened at virtual time `now`.
    pub fn feed(&mut self, _now: Instant, feedback: Feedback) {
        match self {
            RequesterLogic::Standard(r) => r.feed(feedback),
            RequesterLogic::Scripted(r) => r.feed(feedback),
        }
    }

    /// Whether the requester has nothing more to do.
    pub fn is_done(&self) -> bool {
        match self {
            RequesterLogic::Standard(r) => r.is_done(),
            RequesterLogic::Scripted(r) => r.is_done(),
        }
    }

    /// The standard requester's verdict: `Some(S_OK)` when its last attempt completed, the
    /// first failure it met, `VSS_S_ASYNC_CANCELLED` when it abandoned the backup on its own
    /// (deadline) before any failure; `None` for a script (judged from its calls) or while
    /// undecided.
    pub fn verdict(&self) -> Option<Hresult> {
        match self {
            RequesterLogic::Standard(r) => Some(r.verdict()?),
            RequesterLogic::Scripted(_) => None,
        }
    }

    /// Whether the requester ran its backup to the end (the standard sequence only).
    pub fn completed(&self) -> bool {
        matches!(self, RequesterLogic::Standard(r) if r.completed())
    }
}
