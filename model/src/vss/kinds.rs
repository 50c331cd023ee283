//! Backup, usage, source and component types, application levels, snapshot states, provider
//! types, protection levels and faults, object types.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use super::{UnknownName, deserialize_name};

vss_enum! {
    /// The kind of backup a requester announces with `SetBackupState`.
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_backup_type>.
    pub enum BackupType: "VSS_BACKUP_TYPE", alias {
        /// Application error.
        Undefined = 0 => "VSS_BT_UNDEFINED",
        /// Everything; updates backup history; the default.
        Full = 1 => "VSS_BT_FULL",
        /// Changes since the last full or incremental backup.
        Incremental = 2 => "VSS_BT_INCREMENTAL",
        /// Changes since the last full backup.
        Differential = 3 => "VSS_BT_DIFFERENTIAL",
        /// Only log files.
        Log = 4 => "VSS_BT_LOG",
        /// Like full, but backup history is untouched.
        Copy = 5 => "VSS_BT_COPY",
        /// None of the above.
        Other = 6 => "VSS_BT_OTHER",
    }
}

vss_enum! {
    /// What a writer's data is used for.
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vswriter/ne-vswriter-vss_usage_type>.
    pub enum UsageType: "VSS_USAGE_TYPE", alias {
        /// Application error.
        Undefined = 0 => "VSS_UT_UNDEFINED",
        /// Needed for a bootable system state.
        BootableSystemState = 1 => "VSS_UT_BOOTABLESYSTEMSTATE",
        /// A system service.
        SystemService = 2 => "VSS_UT_SYSTEMSERVICE",
        /// User data.
        UserData = 3 => "VSS_UT_USERDATA",
        /// Anything else.
        Other = 4 => "VSS_UT_OTHER",
    }
}

vss_enum! {
    /// The kind of data store a writer manages.
    ///
    /// Source:
    /// <https://learn.microsoft.com/windows/win32/api/vswriter/ne-vswriter-vss_source_type>.
    pub enum SourceType: "VSS_SOURCE_TYPE", alias {
        /// Application error.
        Undefined = 0 => "VSS_ST_UNDEFINED",
        /// A transacted database.
        TransactedDb = 1 => "VSS_ST_TRANSACTEDDB",
        /// A non-transacted database.
        NonTransactedDb = 2 => "VSS_ST_NONTRANSACTEDDB",
        /// Anything else.
        Other = 3 => "VSS_ST_OTHER",
    }
}

vss_enum! {
    /// The kind of a writer component.
    ///
    /// Source:
    /// <https://learn.microsoft.com/windows/win32/api/vswriter/ne-vswriter-vss_component_type>.
    pub enum ComponentType: "VSS_COMPONENT_TYPE", alias {
        /// Application error.
        Undefined = 0 => "VSS_CT_UNDEFINED",
        /// A database component (database and log files).
        Database = 1 => "VSS_CT_DATABASE",
        /// A file-group component.
        FileGroup = 2 => "VSS_CT_FILEGROUP",
    }
}

vss_enum! {
    /// A writer's application level, which orders Freeze (and, by rule 2, Thaw).
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_application_level>.
    pub enum ApplicationLevel: "VSS_APPLICATION_LEVEL", alias {
        /// Application error.
        Unknown = 0 => "VSS_APP_UNKNOWN",
        /// Frozen last.
        System = 1 => "VSS_APP_SYSTEM",
        /// Frozen second (e.g. the database under an application).
        BackEnd = 2 => "VSS_APP_BACK_END",
        /// Frozen first; the default in `CVssWriter::Initialize`.
        FrontEnd = 3 => "VSS_APP_FRONT_END",
        /// Undocumented (resource-manager level).
        SystemRm = 4 => "VSS_APP_SYSTEM_RM",
        /// "Determined automatically"; reserved. The header value is -1.
        Auto = 0xFFFF_FFFF => "VSS_APP_AUTO",
    }
}

impl ApplicationLevel {
    /// Freeze order, lowest first: `FRONT_END` 0, `BACK_END` 1, `SYSTEM` 2 (rule S5).
    /// Our choices where Microsoft is silent: `SYSTEM_RM` 3 (after `SYSTEM`); `UNKNOWN` and
    /// `AUTO` 0, treated as `FRONT_END`, the default level of `CVssWriter::Initialize`.
    /// Thaw runs in the reverse order (rule 2).
    pub const fn freeze_rank(self) -> u8 {
        match self {
            Self::FrontEnd | Self::Unknown | Self::Auto => 0,
            Self::BackEnd => 1,
            Self::System => 2,
            Self::SystemRm => 3,
        }
    }
}

vss_enum! {
    /// The state of one shadow copy (`VSS_SNAPSHOT_PROP.m_eStatus`).
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_snapshot_state>.
    pub enum SnapshotState: "VSS_SNAPSHOT_STATE", alias {
        /// Unknown.
        Unknown = 0 => "VSS_SS_UNKNOWN",
        /// Being prepared (`BeginPrepareSnapshot` done).
        Preparing = 1 => "VSS_SS_PREPARING",
        /// `EndPrepareSnapshots` in progress.
        ProcessingPrepare = 2 => "VSS_SS_PROCESSING_PREPARE",
        /// Prepared.
        Prepared = 3 => "VSS_SS_PREPARED",
        /// `PreCommitSnapshots` in progress.
        ProcessingPrecommit = 4 => "VSS_SS_PROCESSING_PRECOMMIT",
        /// Pre-committed.
        Precommitted = 5 => "VSS_SS_PRECOMMITTED",
        /// `CommitSnapshots` in progress.
        ProcessingCommit = 6 => "VSS_SS_PROCESSING_COMMIT",
        /// Committed.
        Committed = 7 => "VSS_SS_COMMITTED",
        /// `PostCommitSnapshots` in progress.
        ProcessingPostcommit = 8 => "VSS_SS_PROCESSING_POSTCOMMIT",
        /// `PreFinalCommitSnapshots` in progress.
        ProcessingPrefinalcommit = 9 => "VSS_SS_PROCESSING_PREFINALCOMMIT",
        /// Pre-final-committed.
        Prefinalcommitted = 10 => "VSS_SS_PREFINALCOMMITTED",
        /// `PostFinalCommitSnapshots` in progress.
        ProcessingPostfinalcommit = 11 => "VSS_SS_PROCESSING_POSTFINALCOMMIT",
        /// Created and usable.
        Created = 12 => "VSS_SS_CREATED",
        /// Creation aborted.
        Aborted = 13 => "VSS_SS_ABORTED",
        /// Deleted.
        Deleted = 14 => "VSS_SS_DELETED",
        /// Post-committed.
        Postcommitted = 15 => "VSS_SS_POSTCOMMITTED",
        /// Reserved sentinel.
        Count = 16 => "VSS_SS_COUNT",
    }
}

vss_enum! {
    /// The kind of a shadow-copy provider.
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_provider_type>.
    pub enum ProviderType: "VSS_PROVIDER_TYPE", alias {
        /// Unknown.
        Unknown = 0 => "VSS_PROV_UNKNOWN",
        /// The built-in Microsoft Software Shadow Copy provider (copy-on-write).
        System = 1 => "VSS_PROV_SYSTEM",
        /// A software provider (user-mode DLL plus filter driver).
        Software = 2 => "VSS_PROV_SOFTWARE",
        /// A hardware provider (whole LUNs).
        Hardware = 3 => "VSS_PROV_HARDWARE",
        /// The file-share (SMB) provider.
        FileShare = 4 => "VSS_PROV_FILESHARE",
    }
}

vss_enum! {
    /// What wins when a diff area fills: the original volume or the shadows.
    ///
    /// Source:
    /// <https://learn.microsoft.com/windows/win32/api/vsmgmt/ne-vsmgmt-vss_protection_level>.
    pub enum ProtectionLevel: "VSS_PROTECTION_LEVEL", alias {
        /// Original-volume I/O wins: shadows are deleted, oldest first (default).
        OriginalVolume = 0 => "VSS_PROTECTION_LEVEL_ORIGINAL_VOLUME",
        /// Shadows win: writes to the original volume fail.
        Snapshot = 1 => "VSS_PROTECTION_LEVEL_SNAPSHOT",
    }
}

vss_enum! {
    /// Why a volume in shadow-copy protection mode is faulted.
    ///
    /// Source:
    /// <https://learn.microsoft.com/windows/win32/api/vsmgmt/ne-vsmgmt-vss_protection_fault>.
    pub enum ProtectionFault: "VSS_PROTECTION_FAULT", alias {
        /// No fault.
        None = 0 => "VSS_PROTECTION_FAULT_NONE",
        /// The diff area is missing.
        DiffAreaMissing = 1 => "VSS_PROTECTION_FAULT_DIFF_AREA_MISSING",
        /// I/O failure while bringing the volume online.
        IoFailureDuringOnline = 2 => "VSS_PROTECTION_FAULT_IO_FAILURE_DURING_ONLINE",
        /// Metadata corruption.
        MetaDataCorruption = 3 => "VSS_PROTECTION_FAULT_META_DATA_CORRUPTION",
        /// Memory allocation failure.
        MemoryAllocationFailure = 4 => "VSS_PROTECTION_FAULT_MEMORY_ALLOCATION_FAILURE",
        /// Mapped-memory failure.
        MappedMemoryFailure = 5 => "VSS_PROTECTION_FAULT_MAPPED_MEMORY_FAILURE",
        /// Copy-on-write read failure.
        CowReadFailure = 6 => "VSS_PROTECTION_FAULT_COW_READ_FAILURE",
        /// Copy-on-write write failure.
        CowWriteFailure = 7 => "VSS_PROTECTION_FAULT_COW_WRITE_FAILURE",
        /// The diff area is full.
        DiffAreaFull = 8 => "VSS_PROTECTION_FAULT_DIFF_AREA_FULL",
        /// The diff area could not grow fast enough.
        GrowTooSlow = 9 => "VSS_PROTECTION_FAULT_GROW_TOO_SLOW",
        /// The diff area could not grow.
        GrowFailed = 10 => "VSS_PROTECTION_FAULT_GROW_FAILED",
        /// All shadow copies were destroyed.
        DestroyAllSnapshots = 11 => "VSS_PROTECTION_FAULT_DESTROY_ALL_SNAPSHOTS",
        /// File-system failure.
        FileSystemFailure = 12 => "VSS_PROTECTION_FAULT_FILE_SYSTEM_FAILURE",
        /// I/O failure.
        IoFailure = 13 => "VSS_PROTECTION_FAULT_IO_FAILURE",
        /// The diff area was removed.
        DiffAreaRemoved = 14 => "VSS_PROTECTION_FAULT_DIFF_AREA_REMOVED",
        /// Something outside VSS wrote to the diff area.
        ExternalWriterToDiffArea = 15 => "VSS_PROTECTION_FAULT_EXTERNAL_WRITER_TO_DIFF_AREA",
        /// Mounted while the cluster was offline.
        MountDuringClusterOffline = 16 => "VSS_PROTECTION_FAULT_MOUNT_DURING_CLUSTER_OFFLINE",
    }
}

vss_enum! {
    /// The kind of object an administrative call targets (e.g. `DeleteSnapshots`).
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_object_type>.
    pub enum ObjectType: "VSS_OBJECT_TYPE", alias {
        /// Unknown.
        Unknown = 0 => "VSS_OBJECT_UNKNOWN",
        /// No particular type.
        None = 1 => "VSS_OBJECT_NONE",
        /// A shadow-copy set.
        SnapshotSet = 2 => "VSS_OBJECT_SNAPSHOT_SET",
        /// A single shadow copy.
        Snapshot = 3 => "VSS_OBJECT_SNAPSHOT",
        /// A provider.
        Provider = 4 => "VSS_OBJECT_PROVIDER",
    }
}
