//! Writer states (`VSS_WRITER_STATE`) and the events a writer handles.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use super::{UnknownName, deserialize_name};

vss_enum! {
    /// A writer's state as reported by `GetWriterStatus`.
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_writer_state>.
    pub enum WriterState: "VSS_WRITER_STATE", alias {
        /// State unknown; indicates a writer error.
        Unknown = 0 => "VSS_WS_UNKNOWN",
        /// Finished processing the current events and ready.
        Stable = 1 => "VSS_WS_STABLE",
        /// Waiting for Freeze.
        WaitingForFreeze = 2 => "VSS_WS_WAITING_FOR_FREEZE",
        /// Waiting for Thaw.
        WaitingForThaw = 3 => "VSS_WS_WAITING_FOR_THAW",
        /// Waiting for PostSnapshot.
        WaitingForPostSnapshot = 4 => "VSS_WS_WAITING_FOR_POST_SNAPSHOT",
        /// Waiting for the requester to finish the backup.
        WaitingForBackupComplete = 5 => "VSS_WS_WAITING_FOR_BACKUP_COMPLETE",
        /// Failed during Identify.
        FailedAtIdentify = 6 => "VSS_WS_FAILED_AT_IDENTIFY",
        /// Failed during PrepareForBackup.
        FailedAtPrepareBackup = 7 => "VSS_WS_FAILED_AT_PREPARE_BACKUP",
        /// Failed during PrepareForSnapshot.
        FailedAtPrepareSnapshot = 8 => "VSS_WS_FAILED_AT_PREPARE_SNAPSHOT",
        /// Failed during Freeze, or its freeze window expired.
        FailedAtFreeze = 9 => "VSS_WS_FAILED_AT_FREEZE",
        /// Failed during Thaw.
        FailedAtThaw = 10 => "VSS_WS_FAILED_AT_THAW",
        /// Failed during PostSnapshot.
        FailedAtPostSnapshot = 11 => "VSS_WS_FAILED_AT_POST_SNAPSHOT",
        /// Failed during BackupComplete (the shadow copy exists).
        FailedAtBackupComplete = 12 => "VSS_WS_FAILED_AT_BACKUP_COMPLETE",
        /// Failed during PreRestore.
        FailedAtPreRestore = 13 => "VSS_WS_FAILED_AT_PRE_RESTORE",
        /// Failed during PostRestore.
        FailedAtPostRestore = 14 => "VSS_WS_FAILED_AT_POST_RESTORE",
        /// Failed while the backup application shut down.
        FailedAtBackupshutdown = 15 => "VSS_WS_FAILED_AT_BACKUPSHUTDOWN",
        /// Reserved sentinel; never reported.
        Count = 16 => "VSS_WS_COUNT",
    }
}

impl WriterState {
    /// Whether this is one of the `VSS_WS_FAILED_AT_*` states (6..=15).
    pub const fn is_failed(self) -> bool {
        matches!(self.code(), 6..=15)
    }

    /// The label `vssadmin list writers` prints after `State: [N]` (rule 29).
    /// `VSS_WS_COUNT` is never reported; it gets `Unknown` (our choice).
    pub const fn vssadmin_label(self) -> &'static str {
        match self {
            Self::Unknown | Self::Count => "Unknown",
            Self::Stable => "Stable",
            Self::WaitingForFreeze => "Waiting for freeze",
            Self::WaitingForThaw => "Waiting for thaw",
            Self::WaitingForPostSnapshot => "Waiting for post snapshot",
            Self::WaitingForBackupComplete => "Waiting for completion",
            Self::FailedAtIdentify
            | Self::FailedAtPrepareBackup
            | Self::FailedAtPrepareSnapshot
            | Self::FailedAtFreeze
            | Self::FailedAtThaw
            | Self::FailedAtPostSnapshot
            | Self::FailedAtBackupComplete
            | Self::FailedAtPreRestore
            | Self::FailedAtPostRestore
            | Self::FailedAtBackupshutdown => "Failed",
        }
    }

    /// The text after `State: ` in `vssadmin list writers`, e.g. `[9] Failed` (rule 29).
    pub fn vssadmin_state(self) -> String {
        format!("[{}] {}", self.code(), self.vssadmin_label())
    }
}

vss_enum! {
    /// An event VSS delivers to writers. Not a header enum: `name()` is the `CVssWriter` handler
    /// Microsoft documents for it and `code()` is the declaration ordinal.
    ///
    /// `from_name` / `FromStr` / serde accept both the handler name (`"OnFreeze"`) and the bare
    /// event name (`"Freeze"`, `"PrepareForSnapshot"`, `"BackupShutdown"`); `Display` and
    /// serialization always print the handler name.
    ///
    /// Sources: rules S2-S11,
    /// <https://learn.microsoft.com/windows/win32/api/vswriter/nl-vswriter-cvsswriter>.
    pub enum WriterEvent: "writer event", alias {
        /// Identify: the writer describes itself in its metadata document.
        Identify = 0 => "OnIdentify" | "Identify",
        /// PrepareForBackup: the requester has chosen components.
        PrepareForBackup = 1 => "OnPrepareBackup" | "PrepareForBackup",
        /// PrepareForSnapshot: the set's volumes are known.
        PrepareForSnapshot = 2 => "OnPrepareSnapshot" | "PrepareForSnapshot",
        /// Freeze: the writer stops writing.
        Freeze = 3 => "OnFreeze" | "Freeze",
        /// Thaw: the writer may write again.
        Thaw = 4 => "OnThaw" | "Thaw",
        /// PostSnapshot: the shadow copies exist.
        PostSnapshot = 5 => "OnPostSnapshot" | "PostSnapshot",
        /// Abort: the writer undoes work for this backup.
        Abort = 6 => "OnAbort" | "Abort",
        /// BackupComplete: the requester finished the backup.
        BackupComplete = 7 => "OnBackupComplete" | "BackupComplete",
        /// BackupShutdown: the requester's session ended (release or crash).
        BackupShutdown = 8 => "OnBackupShutdown" | "BackupShutdown",
        /// PreRestore: a restore is about to start.
        PreRestore = 9 => "OnPreRestore" | "PreRestore",
        /// PostRestore: the restore finished.
        PostRestore = 10 => "OnPostRestore" | "PostRestore",
    }
}

impl WriterEvent {
    /// The bare event name, e.g. `"Freeze"` (the variant name).
    pub const fn event_name(self) -> &'static str {
        match self {
            Self::Identify => "Identify",
            Self::PrepareForBackup => "PrepareForBackup",
            Self::PrepareForSnapshot => "PrepareForSnapshot",
            Self::Freeze => "Freeze",
            Self::Thaw => "Thaw",
            Self::PostSnapshot => "PostSnapshot",
            Self::Abort => "Abort",
            Self::BackupComplete => "BackupComplete",
            Self::BackupShutdown => "BackupShutdown",
            Self::PreRestore => "PreRestore",
            Self::PostRestore => "PostRestore",
        }
    }

    /// The `VSS_WS_FAILED_AT_*` state a writer enters when it fails this event
    /// (rule S9). Abort has no failed state.
    pub const fn failed_state(self) -> Option<WriterState> {
        match self {
            Self::Identify => Some(WriterState::FailedAtIdentify),
            Self::PrepareForBackup => Some(WriterState::FailedAtPrepareBackup),
            Self::PrepareForSnapshot => Some(WriterState::FailedAtPrepareSnapshot),
            Self::Freeze => Some(WriterState::FailedAtFreeze),
            Self::Thaw => Some(WriterState::FailedAtThaw),
            Self::PostSnapshot => Some(WriterState::FailedAtPostSnapshot),
            Self::BackupComplete => Some(WriterState::FailedAtBackupComplete),
            Self::BackupShutdown => Some(WriterState::FailedAtBackupshutdown),
            Self::PreRestore => Some(WriterState::FailedAtPreRestore),
            Self::PostRestore => Some(WriterState::FailedAtPostRestore),
            Self::Abort => None,
        }
    }
}
