//! The VSS vocabulary: every enumeration the simulator shows, spelled as Microsoft's headers spell it.
//!
//! Each enum is defined through `vss_enum!` (below), so all of them offer the same surface:
//! `KIND`, `ALL`, `NAMES`, `ACCEPTED`, `name()`, `code()`, `from_name()`, `from_code()`,
//! `Display` (the VSS spelling), `FromStr` (error [`UnknownName`]) and serde as the name string.
//! Variant names are the Rust casing of the C constant with its prefix dropped; each variant
//! carries a `#[doc(alias)]` with the C spelling where that differs from the variant name.
//!
//! Names and numbers are Microsoft's (each type names its SDK reference page; the rules of
//! `docs/rules.md` cite the rest); the labels printed by the vssadmin view come from rules 29 and
//! 29c.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// A string that names no value of a VSS enumeration (returned by `FromStr` and `from_name`
/// callers that want an error, and reported through serde's custom error when deserializing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// The enumeration that was being parsed, e.g. `VSS_WRITER_STATE`.
    pub kind: &'static str,
    /// The string that was given.
    pub given: String,
    /// Every spelling the enumeration accepts, in declaration order.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} \"{}\"; expected one of ",
            self.kind, self.given
        )?;
        for (i, name) in self.expected.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownName {}

/// Deserializes any VSS enum from its name string, routing the [`UnknownName`] message to serde.
fn deserialize_name<'de, D, T>(deserializer: D, kind: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = UnknownName>,
{
    struct NameVisitor<T> {
        kind: &'static str,
        marker: PhantomData<T>,
    }

    impl<T: FromStr<Err = UnknownName>> Visitor<'_> for NameVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a {} name string", self.kind)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }

    deserializer.deserialize_str(NameVisitor {
        kind,
        marker: PhantomData,
    })
}

/// Defines a plain `Copy` enum of the VSS vocabulary with its uniform surface (see module doc).
///
/// ```text
/// vss_enum! {
///     /// doc
///     pub enum Name: "KIND", alias {          // `alias`: add #[doc(alias = "C_NAME")] per variant
///         /// doc
///         Variant = 0x1 => "C_NAME" | "ALSO_ACCEPTED",
///     }
/// }
/// ```
///
/// Write `plain` instead of `alias` where the VSS spelling equals the variant name (rustdoc
/// rejects an alias identical to the item's name). Names after `|` are accepted by `from_name`
/// and `FromStr` but never printed.
macro_rules! vss_enum {
    (
        $(#[$meta:meta])*
        pub enum $Name:ident : $kind:literal, alias {
            $(
                $(#[$vmeta:meta])*
                $Variant:ident = $code:literal => $cname:literal $(| $alt:literal)*,
            )+
        }
    ) => {
        vss_enum! {
            @impl
            $(#[$meta])*
            pub enum $Name : $kind {
                $(
                    $(#[$vmeta])*
                    #[doc(alias = $cname)]
                    $Variant = $code => $cname $(| $alt)*,
                )+
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $Name:ident : $kind:literal, plain {
            $(
                $(#[$vmeta:meta])*
                $Variant:ident = $code:literal => $cname:literal $(| $alt:literal)*,
            )+
        }
    ) => {
        vss_enum! {
            @impl
            $(#[$meta])*
            pub enum $Name : $kind {
                $(
                    $(#[$vmeta])*
                    $Variant = $code => $cname $(| $alt)*,
                )+
            }
        }
    };
    (
        @impl
        $(#[$meta:meta])*
        pub enum $Name:ident : $kind:literal {
            $(
                $(#[$vmeta:meta])*
                $Variant:ident = $code:literal => $cname:literal $(| $alt:literal)*,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $Name {
            $(
                $(#[$vmeta])*
                $Variant,
            )+
        }

        impl $Name {
            /// The enumeration's name as it appears in error messages.
            pub const KIND: &'static str = $kind;
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$Variant),+];
            /// Every value's VSS spelling, in declaration order (parallel to `ALL`).
            pub const NAMES: &'static [&'static str] = &[$($cname),+];
            /// Every spelling `from_name` accepts, in declaration order.
            pub const ACCEPTED: &'static [&'static str] = &[$($cname $(, $alt)*),+];

            /// The exact VSS spelling of this value.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$Variant => $cname,)+
                }
            }

            /// The numeric value from the Windows SDK header.
            pub const fn code(self) -> u32 {
                match self {
                    $(Self::$Variant => $code,)+
                }
            }

            /// The value spelled `s` (exact, case-sensitive match on an `ACCEPTED` spelling).
            pub fn from_name(s: &str) -> Option<Self> {
                match s {
                    $($cname $(| $alt)* => Some(Self::$Variant),)+
                    _ => None,
                }
            }

            /// The value whose numeric code is `c`.
            pub fn from_code(c: u32) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.code() == c)
            }
        }

        impl fmt::Display for $Name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $Name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                Self::from_name(s).ok_or_else(|| UnknownName {
                    kind: Self::KIND,
                    given: s.to_owned(),
                    expected: Self::ACCEPTED,
                })
            }
        }

        impl Serialize for $Name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $Name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_name(deserializer, Self::KIND)
            }
        }
    };
}

vss_enum! {
    /// Every HRESULT the simulator can show: the generic COM codes, the VSS codes of
    /// The VSS codes (without the ASR range) and the writer failure codes (rule S9).
    ///
    /// Sources: the return values of each `IVssBackupComponents` method page (rule S23), rule
    /// S16 for providers; numbers from `vsserror.h` and `winerror.h`.
    pub enum Hresult: "HRESULT", alias {
        /// The call succeeded.
        Ok = 0x0000_0000 => "S_OK",
        /// Success with a "false" answer (`CVssWriter::Initialize` in safe mode / setup).
        False = 0x0000_0001 => "S_FALSE",
        /// Not implemented.
        NotImpl = 0x8000_4001 => "E_NOTIMPL",
        /// Operation aborted.
        Abort = 0x8000_4004 => "E_ABORT",
        /// Unspecified failure.
        Fail = 0x8000_4005 => "E_FAIL",
        /// Catastrophic failure (before Windows 7 / 2008 R2 VSS returned this).
        Unexpected = 0x8000_FFFF => "E_UNEXPECTED",
        /// Caller lacks backup privilege or is not an administrator.
        AccessDenied = 0x8007_0005 => "E_ACCESSDENIED",
        /// Out of memory or resources.
        OutOfMemory = 0x8007_000E => "E_OUTOFMEMORY",
        /// A parameter is invalid.
        InvalidArg = 0x8007_0057 => "E_INVALIDARG",
        /// Object not initialised, wrong phase, or wrong call order.
        BadState = 0x8004_2301 => "VSS_E_BAD_STATE",
        /// A logged internal VSS error.
        VssUnexpected = 0x8004_2302 => "VSS_E_UNEXPECTED",
        /// The provider is already registered.
        ProviderAlreadyRegistered = 0x8004_2303 => "VSS_E_PROVIDER_ALREADY_REGISTERED",
        /// No provider with this id is registered.
        ProviderNotRegistered = 0x8004_2304 => "VSS_E_PROVIDER_NOT_REGISTERED",
        /// A provider-specific failure, already logged by the provider.
        ProviderVeto = 0x8004_2306 => "VSS_E_PROVIDER_VETO",
        /// The provider is in use and cannot be unregistered.
        ProviderInUse = 0x8004_2307 => "VSS_E_PROVIDER_IN_USE",
        /// The named object (volume, shadow, set, writer, association) does not exist.
        ObjectNotFound = 0x8004_2308 => "VSS_E_OBJECT_NOT_FOUND",
        /// `IVssAsync::QueryStatus`: the operation is still running.
        AsyncPending = 0x0004_2309 => "VSS_S_ASYNC_PENDING",
        /// `IVssAsync::QueryStatus` / `Cancel`: the operation completed successfully.
        AsyncFinished = 0x0004_230A => "VSS_S_ASYNC_FINISHED",
        /// `IVssAsync::QueryStatus` / `Cancel`: the operation was cancelled.
        AsyncCancelled = 0x0004_230B => "VSS_S_ASYNC_CANCELLED",
        /// No provider supports the volume (or the requested method attribute).
        VolumeNotSupported = 0x8004_230C => "VSS_E_VOLUME_NOT_SUPPORTED",
        /// The object already exists (duplicate component, existing diff-area association).
        ObjectAlreadyExists = 0x8004_230D => "VSS_E_OBJECT_ALREADY_EXISTS",
        /// The explicitly named provider does not support the volume.
        VolumeNotSupportedByProvider = 0x8004_230E => "VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER",
        /// VSS's translation of a provider HRESULT outside the allowed list (rule S16).
        UnexpectedProviderError = 0x8004_230F => "VSS_E_UNEXPECTED_PROVIDER_ERROR",
        /// The XML document is corrupt (deprecated).
        CorruptXmlDocument = 0x8004_2310 => "VSS_E_CORRUPT_XML_DOCUMENT",
        /// The XML document is malformed or fails the schema.
        InvalidXmlDocument = 0x8004_2311 => "VSS_E_INVALID_XML_DOCUMENT",
        /// The set already holds the maximum number of volumes (64).
        MaximumNumberOfVolumesReached = 0x8004_2312 => "VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED",
        /// File-system writes could not be flushed in time.
        FlushWritesTimeout = 0x8004_2313 => "VSS_E_FLUSH_WRITES_TIMEOUT",
        /// Writes could not be held for the whole commit (10 s flush-and-hold window).
        HoldWritesTimeout = 0x8004_2314 => "VSS_E_HOLD_WRITES_TIMEOUT",
        /// Events could not be delivered to writers (`BackupComplete`).
        UnexpectedWriterError = 0x8004_2315 => "VSS_E_UNEXPECTED_WRITER_ERROR",
        /// Another snapshot-set creation is in progress.
        SnapshotSetInProgress = 0x8004_2316 => "VSS_E_SNAPSHOT_SET_IN_PROGRESS",
        /// The volume is already in the maximum number of shadow sets.
        MaximumNumberOfSnapshotsReached = 0x8004_2317 => "VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED",
        /// Event system or VSS service problem while gathering writer data.
        WriterInfrastructure = 0x8004_2318 => "VSS_E_WRITER_INFRASTRUCTURE",
        /// Set by VSS: the writer did not answer (terminated or stuck).
        WriterNotResponding = 0x8004_2319 => "VSS_E_WRITER_NOT_RESPONDING",
        /// `CVssWriter::Subscribe` was called a second time.
        WriterAlreadySubscribed = 0x8004_231A => "VSS_E_WRITER_ALREADY_SUBSCRIBED",
        /// The context is not supported (by the provider, or for revert).
        UnsupportedContext = 0x8004_231B => "VSS_E_UNSUPPORTED_CONTEXT",
        /// The volume is in use (diff area in use, or cannot be locked for revert).
        VolumeInUse = 0x8004_231D => "VSS_E_VOLUME_IN_USE",
        /// The maximum number of diff-area associations is reached.
        MaximumDiffAreaAssociationsReached = 0x8004_231E => "VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED",
        /// Not enough storage for the shadow copy.
        InsufficientStorage = 0x8004_231F => "VSS_E_INSUFFICIENT_STORAGE",
        /// `ImportSnapshots` imported no shadow copy.
        NoSnapshotsImported = 0x8004_2320 => "VSS_E_NO_SNAPSHOTS_IMPORTED",
        /// `ImportSnapshots` succeeded for only some shadow copies (success code).
        SomeSnapshotsNotImported = 0x0004_2321 => "VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED",
        /// `ImportSnapshots` failed for some shadow copies (error code).
        SomeSnapshotsNotImportedError = 0x8004_2321 => "VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED",
        /// Too many remote machines in a file-share shadow set.
        MaximumNumberOfRemoteMachinesReached =
            0x8004_2322 => "VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED",
        /// The remote file server is unavailable.
        RemoteServerUnavailable = 0x8004_2323 => "VSS_E_REMOTE_SERVER_UNAVAILABLE",
        /// The remote file server does not support file-share shadows.
        RemoteServerUnsupported = 0x8004_2324 => "VSS_E_REMOTE_SERVER_UNSUPPORTED",
        /// A revert is already in progress.
        RevertInProgress = 0x8004_2325 => "VSS_E_REVERT_IN_PROGRESS",
        /// The volume was lost during revert.
        RevertVolumeLost = 0x8004_2326 => "VSS_E_REVERT_VOLUME_LOST",
        /// The provider needs a restart.
        RebootRequired = 0x8004_2327 => "VSS_E_REBOOT_REQUIRED",
        /// The KTM/DTC freeze failed.
        TransactionFreezeTimeout = 0x8004_2328 => "VSS_E_TRANSACTION_FREEZE_TIMEOUT",
        /// Too long between KTM/DTC freeze and thaw.
        TransactionThawTimeout = 0x8004_2329 => "VSS_E_TRANSACTION_THAW_TIMEOUT",
        /// A LUN resync would overwrite an unselected volume.
        UnselectedVolume = 0x8004_232A => "VSS_E_UNSELECTED_VOLUME",
        /// The shadow id is not in the document's set.
        SnapshotNotInSet = 0x8004_232B => "VSS_E_SNAPSHOT_NOT_IN_SET",
        /// VHD inside VHD, or a VHD volume together with its host volume.
        NestedVolumeLimit = 0x8004_232C => "VSS_E_NESTED_VOLUME_LIMIT",
        /// The volume is not mounted locally.
        VolumeNotLocal = 0x8004_232D => "VSS_E_VOLUME_NOT_LOCAL",
        /// CSV preparation timed out.
        ClusterTimeout = 0x8004_232E => "VSS_E_CLUSTER_TIMEOUT",
        /// The operation is not supported.
        NotSupported = 0x8004_232F => "VSS_E_NOT_SUPPORTED",
        /// Writer failure: one or more component-level errors (`SetWriterFailureEx`).
        WriterErrorPartialFailure = 0x8004_2336 => "VSS_E_WRITERERROR_PARTIAL_FAILURE",
        /// Writer failure: the set holds only part of the volumes the writer needs.
        WriterErrorInconsistentSnapshot = 0x8004_23F0 => "VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT",
        /// Writer failure: memory or resource allocation failed.
        WriterErrorOutOfResources = 0x8004_23F1 => "VSS_E_WRITERERROR_OUTOFRESOURCES",
        /// Writer failure: the freeze-to-thaw interval exceeded the writer's freeze timeout.
        WriterErrorTimeout = 0x8004_23F2 => "VSS_E_WRITERERROR_TIMEOUT",
        /// Writer failure: transient; retrying the whole operation will probably succeed.
        WriterErrorRetryable = 0x8004_23F3 => "VSS_E_WRITERERROR_RETRYABLE",
        /// Writer failure: likely to recur; do not retry this writer with VSS.
        WriterErrorNonRetryable = 0x8004_23F4 => "VSS_E_WRITERERROR_NONRETRYABLE",
        /// Writer failure: auto-recovery of the shadow volume failed.
        WriterErrorRecoveryFailed = 0x8004_23F5 => "VSS_E_WRITERERROR_RECOVERY_FAILED",
        /// The disk identity could not be reverted (`BreakSnapshotSetEx`).
        BreakRevertIdFailed = 0x8004_23F6 => "VSS_E_BREAK_REVERT_ID_FAILED",
        /// The operation needs a non-legacy hardware provider.
        LegacyProvider = 0x8004_23F7 => "VSS_E_LEGACY_PROVIDER",
        /// An expected disk did not arrive.
        MissingDisk = 0x8004_23F8 => "VSS_E_MISSING_DISK",
        /// An expected hidden volume did not arrive.
        MissingHiddenVolume = 0x8004_23F9 => "VSS_E_MISSING_HIDDEN_VOLUME",
        /// An expected volume did not arrive.
        MissingVolume = 0x8004_23FA => "VSS_E_MISSING_VOLUME",
        /// Auto-recovery of the shadow copy failed.
        AutoRecoveryFailed = 0x8004_23FB => "VSS_E_AUTORECOVERY_FAILED",
        /// A dynamic-disk error occurred.
        DynamicDiskError = 0x8004_23FC => "VSS_E_DYNAMIC_DISK_ERROR",
        /// The backup components document is not from a transportable set.
        NonTransportableBcd = 0x8004_23FD => "VSS_E_NONTRANSPORTABLE_BCD",
        /// The disk id cannot be reverted.
        CannotRevertDiskId = 0x8004_23FE => "VSS_E_CANNOT_REVERT_DISKID",
        /// A LUN resync is in progress.
        ResyncInProgress = 0x8004_23FF => "VSS_E_RESYNC_IN_PROGRESS",
        /// A cluster error occurred.
        ClusterError = 0x8004_2400 => "VSS_E_CLUSTER_ERROR",
        /// Set by VSS: the writer ran out of backup/restore session slots.
        WriterStatusNotAvailable = 0x8004_2409 => "VSS_E_WRITER_STATUS_NOT_AVAILABLE",
        /// A critical volume is on an invalid disk (next to the ASR range).
        CriticalVolumeOnInvalidDisk = 0x8004_2411 => "VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK",
        /// A file-share shadow operation timed out.
        FssTimeout = 0x8004_2417 => "VSS_E_FSS_TIMEOUT",
    }
}

impl Hresult {
    /// Whether this is a success code (high bit clear), e.g. `S_FALSE`, `VSS_S_ASYNC_FINISHED`.
    pub const fn is_success(self) -> bool {
        self.code() & 0x8000_0000 == 0
    }

    /// The code as `0x` and eight uppercase hex digits, e.g. `0x800423F2`.
    pub fn hex(self) -> String {
        format!("0x{:08X}", self.code())
    }

    /// Whether a writer may report this code through `SetWriterFailure(Ex)`: the seven
    /// `VSS_E_WRITERERROR_*` codes (rule S9). `VSS_E_WRITER_NOT_RESPONDING` and
    /// `VSS_E_WRITER_STATUS_NOT_AVAILABLE` are set by VSS itself and are not included.
    pub const fn is_writer_failure(self) -> bool {
        matches!(
            self,
            Self::WriterErrorInconsistentSnapshot
                | Self::WriterErrorOutOfResources
                | Self::WriterErrorTimeout
                | Self::WriterErrorRetryable
                | Self::WriterErrorNonRetryable
                | Self::WriterErrorRecoveryFailed
                | Self::WriterErrorPartialFailure
        )
    }

    /// Whether a provider may legally return this code (rule S16, `S_OK` included).
    pub const fn is_provider_allowed(self) -> bool {
        matches!(
            self,
            Self::Ok
                | Self::OutOfMemory
                | Self::InvalidArg
                | Self::AccessDenied
                | Self::BadState
                | Self::ObjectNotFound
                | Self::InsufficientStorage
                | Self::VolumeNotSupported
                | Self::VolumeNotSupportedByProvider
                | Self::MaximumNumberOfSnapshotsReached
                | Self::ProviderVeto
                | Self::CannotRevertDiskId
        )
    }

    /// What the requester sees when a provider returns `self` (rule 16): an allowed
    /// code passes through, anything else becomes `VSS_E_UNEXPECTED_PROVIDER_ERROR`.
    /// (VSS does not apply this to `AbortSnapshots` / `OnUnload`; callers decide when to call it.)
    pub const fn translate_provider(self) -> Hresult {
        if self.is_provider_allowed() {
            self
        } else {
            Self::UnexpectedProviderError
        }
    }

    /// The `Last error:` label of `vssadmin list writers` (rule 29).
    pub const fn vssadmin_last_error(self) -> &'static str {
        match self {
            Self::Ok => "No error",
            Self::WriterErrorInconsistentSnapshot => "Inconsistent shadow copy",
            Self::WriterErrorOutOfResources => "Out of resources",
            Self::WriterErrorTimeout => "Timed out",
            Self::WriterErrorRetryable => "Retryable error",
            Self::WriterErrorNonRetryable => "Non-retryable error",
            Self::WriterNotResponding => "Not responding",
            _ => "Unexpected error",
        }
    }
}

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

vss_enum! {
    /// A call VSS makes on a provider during shadow-copy creation, in the order of rule 2.
    /// Not a header enum: `name()` is the method name and `code()` the ordinal.
    ///
    /// Sources: rule S19,
    /// <https://learn.microsoft.com/windows/win32/api/vsprov/nn-vsprov-ivssprovidercreatesnapshotset>.
    pub enum ProviderCall: "provider call", plain {
        /// `BeginPrepareSnapshot` (sent at `AddToSnapshotSet`, once per volume).
        BeginPrepareSnapshot = 0 => "BeginPrepareSnapshot",
        /// `EndPrepareSnapshots`: finish preparing every shadow of the set.
        EndPrepareSnapshots = 1 => "EndPrepareSnapshots",
        /// `PreCommitSnapshots`: last step before writes are held.
        PreCommitSnapshots = 2 => "PreCommitSnapshots",
        /// `CommitSnapshots`: take the shadows while writes are held.
        CommitSnapshots = 3 => "CommitSnapshots",
        /// `PostCommitSnapshots`: writes have been released.
        PostCommitSnapshots = 4 => "PostCommitSnapshots",
        /// `PreFinalCommitSnapshots`: after Thaw, before PostSnapshot.
        PreFinalCommitSnapshots = 5 => "PreFinalCommitSnapshots",
        /// `PostFinalCommitSnapshots`: after PostSnapshot.
        PostFinalCommitSnapshots = 6 => "PostFinalCommitSnapshots",
        /// `AbortSnapshots`: discard the set.
        AbortSnapshots = 7 => "AbortSnapshots",
    }
}

vss_enum! {
    /// A shadow-copy context: each value is an OR of [`attr`] bits (except `VSS_CTX_ALL`).
    ///
    /// Source: <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_snapshot_context>.
    pub enum SnapshotContext: "VSS_SNAPSHOT_CONTEXT", alias {
        /// Default: auto-release, non-persistent, with writers.
        Backup = 0x0000_0000 => "VSS_CTX_BACKUP",
        /// Auto-release, without writers.
        FileShareBackup = 0x0000_0010 => "VSS_CTX_FILE_SHARE_BACKUP",
        /// Persistent, no auto-release, without writers (NAS shares, data volumes).
        NasRollback = 0x0000_0019 => "VSS_CTX_NAS_ROLLBACK",
        /// Persistent, no auto-release, with writers (rollback, data mining).
        AppRollback = 0x0000_0009 => "VSS_CTX_APP_ROLLBACK",
        /// Shadow Copies for Shared Folders: persistent, client-accessible, without writers.
        ClientAccessible = 0x0000_001D => "VSS_CTX_CLIENT_ACCESSIBLE",
        /// Persistent, client-accessible, with writers.
        ClientAccessibleWriters = 0x0000_000D => "VSS_CTX_CLIENT_ACCESSIBLE_WRITERS",
        /// Every context; only for administrative calls (query, delete, break, expose).
        All = 0xFFFF_FFFF => "VSS_CTX_ALL",
    }
}

impl SnapshotContext {
    /// The context's attribute bits ([`attr`]); equal to `code()`. `VSS_CTX_ALL` gives `0xFFFFFFFF`.
    pub const fn attributes(self) -> u32 {
        self.code()
    }

    /// Whether `bit` is set, treating `VSS_CTX_ALL` (a query filter, not a creation context)
    /// as having no properties.
    const fn has(self, bit: u32) -> bool {
        !matches!(self, Self::All) && self.attributes() & bit != 0
    }

    /// Whether shadows of this context survive release and reboot. `false` for `VSS_CTX_ALL`.
    pub const fn is_persistent(self) -> bool {
        self.has(attr::PERSISTENT)
    }

    /// Whether shadows are deleted when the requester ends (no `NO_AUTO_RELEASE` bit).
    /// `false` for `VSS_CTX_ALL`.
    pub const fn is_auto_release(self) -> bool {
        !matches!(self, Self::All) && !self.has(attr::NO_AUTO_RELEASE)
    }

    /// Whether writers take part (no `NO_WRITERS` bit). `false` for `VSS_CTX_ALL`.
    pub const fn has_writers(self) -> bool {
        !matches!(self, Self::All) && !self.has(attr::NO_WRITERS)
    }

    /// Whether the context has the `CLIENT_ACCESSIBLE` bit. `false` for `VSS_CTX_ALL`.
    pub const fn is_client_accessible(self) -> bool {
        self.has(attr::CLIENT_ACCESSIBLE)
    }

    /// The `Type:` label of `vssadmin list shadows` (rule 29c; our layout).
    pub const fn vssadmin_type(self) -> &'static str {
        match self {
            Self::Backup => "Backup",
            Self::FileShareBackup => "FileShareBackup",
            Self::NasRollback => "DataVolumeRollback",
            Self::AppRollback => "ApplicationRollback",
            Self::ClientAccessible => "ClientAccessible",
            Self::ClientAccessibleWriters => "ClientAccessibleWriters",
            Self::All => "All",
        }
    }
}

/// `VSS_VOLUME_SNAPSHOT_ATTRIBUTES` bits (rule S21,
/// <https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_volume_snapshot_attributes>).
pub mod attr {
    /// Survives reboot and release.
    #[doc(alias = "VSS_VOLSNAP_ATTR_PERSISTENT")]
    pub const PERSISTENT: u32 = 0x0000_0001;
    /// Read-only at once; no writer/TxF auto-recovery.
    #[doc(alias = "VSS_VOLSNAP_ATTR_NO_AUTORECOVERY")]
    pub const NO_AUTORECOVERY: u32 = 0x0000_0002;
    /// Shadow Copies for Shared Folders type; not exposable.
    #[doc(alias = "VSS_VOLSNAP_ATTR_CLIENT_ACCESSIBLE")]
    pub const CLIENT_ACCESSIBLE: u32 = 0x0000_0004;
    /// Not deleted when the requester ends; only `DeleteSnapshots` removes it.
    #[doc(alias = "VSS_VOLSNAP_ATTR_NO_AUTO_RELEASE")]
    pub const NO_AUTO_RELEASE: u32 = 0x0000_0008;
    /// Created without writers.
    #[doc(alias = "VSS_VOLSNAP_ATTR_NO_WRITERS")]
    pub const NO_WRITERS: u32 = 0x0000_0010;
    /// To be moved to another host; not surfaced locally.
    #[doc(alias = "VSS_VOLSNAP_ATTR_TRANSPORTABLE")]
    pub const TRANSPORTABLE: u32 = 0x0000_0020;
    /// Not currently exposed.
    #[doc(alias = "VSS_VOLSNAP_ATTR_NOT_SURFACED")]
    pub const NOT_SURFACED: u32 = 0x0000_0040;
    /// Skip KTM/DTC integration.
    #[doc(alias = "VSS_VOLSNAP_ATTR_NOT_TRANSACTED")]
    pub const NOT_TRANSACTED: u32 = 0x0000_0080;
    /// Created by a hardware provider; cannot be set.
    #[doc(alias = "VSS_VOLSNAP_ATTR_HARDWARE_ASSISTED")]
    pub const HARDWARE_ASSISTED: u32 = 0x0001_0000;
    /// Copy-on-write / differential; exclusive with `PLEX`.
    #[doc(alias = "VSS_VOLSNAP_ATTR_DIFFERENTIAL")]
    pub const DIFFERENTIAL: u32 = 0x0002_0000;
    /// Split mirror / clone; exclusive with `DIFFERENTIAL`.
    #[doc(alias = "VSS_VOLSNAP_ATTR_PLEX")]
    pub const PLEX: u32 = 0x0004_0000;
    /// Brought in by `ImportSnapshots`.
    #[doc(alias = "VSS_VOLSNAP_ATTR_IMPORTED")]
    pub const IMPORTED: u32 = 0x0008_0000;
    /// Exposed as a drive letter or mount folder.
    #[doc(alias = "VSS_VOLSNAP_ATTR_EXPOSED_LOCALLY")]
    pub const EXPOSED_LOCALLY: u32 = 0x0010_0000;
    /// Exposed as a file share.
    #[doc(alias = "VSS_VOLSNAP_ATTR_EXPOSED_REMOTELY")]
    pub const EXPOSED_REMOTELY: u32 = 0x0020_0000;
    /// Writers must auto-recover components in PostSnapshot.
    #[doc(alias = "VSS_VOLSNAP_ATTR_AUTORECOVER")]
    pub const AUTORECOVER: u32 = 0x0040_0000;
    /// Auto-recover because the shadow is for rollback / data mining.
    #[doc(alias = "VSS_VOLSNAP_ATTR_ROLLBACK_RECOVERY")]
    pub const ROLLBACK_RECOVERY: u32 = 0x0080_0000;
    /// Reserved (system).
    #[doc(alias = "VSS_VOLSNAP_ATTR_DELAYED_POSTSNAPSHOT")]
    pub const DELAYED_POSTSNAPSHOT: u32 = 0x0100_0000;
    /// Enforce TxF recovery during creation.
    #[doc(alias = "VSS_VOLSNAP_ATTR_TXF_RECOVERY")]
    pub const TXF_RECOVERY: u32 = 0x0200_0000;
    /// File-share shadow (no description in the docs).
    #[doc(alias = "VSS_VOLSNAP_ATTR_FILE_SHARE")]
    pub const FILE_SHARE: u32 = 0x0400_0000;

    /// Every attribute bit with its VSS spelling, in bit order.
    pub const ALL: &[(u32, &str)] = &[
        (PERSISTENT, "VSS_VOLSNAP_ATTR_PERSISTENT"),
        (NO_AUTORECOVERY, "VSS_VOLSNAP_ATTR_NO_AUTORECOVERY"),
        (CLIENT_ACCESSIBLE, "VSS_VOLSNAP_ATTR_CLIENT_ACCESSIBLE"),
        (NO_AUTO_RELEASE, "VSS_VOLSNAP_ATTR_NO_AUTO_RELEASE"),
        (NO_WRITERS, "VSS_VOLSNAP_ATTR_NO_WRITERS"),
        (TRANSPORTABLE, "VSS_VOLSNAP_ATTR_TRANSPORTABLE"),
        (NOT_SURFACED, "VSS_VOLSNAP_ATTR_NOT_SURFACED"),
        (NOT_TRANSACTED, "VSS_VOLSNAP_ATTR_NOT_TRANSACTED"),
        (HARDWARE_ASSISTED, "VSS_VOLSNAP_ATTR_HARDWARE_ASSISTED"),
        (DIFFERENTIAL, "VSS_VOLSNAP_ATTR_DIFFERENTIAL"),
        (PLEX, "VSS_VOLSNAP_ATTR_PLEX"),
        (IMPORTED, "VSS_VOLSNAP_ATTR_IMPORTED"),
        (EXPOSED_LOCALLY, "VSS_VOLSNAP_ATTR_EXPOSED_LOCALLY"),
        (EXPOSED_REMOTELY, "VSS_VOLSNAP_ATTR_EXPOSED_REMOTELY"),
        (AUTORECOVER, "VSS_VOLSNAP_ATTR_AUTORECOVER"),
        (ROLLBACK_RECOVERY, "VSS_VOLSNAP_ATTR_ROLLBACK_RECOVERY"),
        (
            DELAYED_POSTSNAPSHOT,
            "VSS_VOLSNAP_ATTR_DELAYED_POSTSNAPSHOT",
        ),
        (TXF_RECOVERY, "VSS_VOLSNAP_ATTR_TXF_RECOVERY"),
        (FILE_SHARE, "VSS_VOLSNAP_ATTR_FILE_SHARE"),
    ];

    /// The bits vssadmin prints, in bit order, with their labels (rule 29c).
    const VSSADMIN_LABELS: &[(u32, &str)] = &[
        (PERSISTENT, "Persistent"),
        (CLIENT_ACCESSIBLE, "Client-accessible"),
        (NO_AUTO_RELEASE, "No auto release"),
        (NO_WRITERS, "No writers"),
        (DIFFERENTIAL, "Differential"),
    ];

    /// The VSS spelling of a single attribute bit.
    pub fn name(bit: u32) -> Option<&'static str> {
        ALL.iter().find(|&&(b, _)| b == bit).map(|&(_, n)| n)
    }

    /// The bit spelled `name` (exact VSS spelling).
    pub fn from_name(name: &str) -> Option<u32> {
        ALL.iter().find(|&&(_, n)| n == name).map(|&(b, _)| b)
    }

    /// The `Attributes:` value of `vssadmin list shadows` (rule 29c; our layout):
    /// the labels of the set bits among Persistent (0x1), Client-accessible (0x4),
    /// No auto release (0x8), No writers (0x10) and Differential (0x20000), in bit order,
    /// joined by `", "`. Every other bit is not printed; no bit printed gives `""`.
    pub fn vssadmin_attributes(bits: u32) -> String {
        let mut out = String::new();
        for &(bit, label) in VSSADMIN_LABELS {
            if bits & bit != 0 {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(label);
            }
        }
        out
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the uniform surface of one enum: round trips, uniqueness, Display/FromStr.
    macro_rules! check_enum {
        ($T:ty) => {{
            let all = <$T>::ALL;
            assert!(!all.is_empty());
            assert_eq!(all.len(), <$T>::NAMES.len());
            for (i, &v) in all.iter().enumerate() {
                assert_eq!(v.name(), <$T>::NAMES[i]);
                assert_eq!(<$T>::from_name(v.name()), Some(v), "{}", v.name());
                assert_eq!(<$T>::from_code(v.code()), Some(v), "{}", v.name());
                assert_eq!(v.to_string(), v.name());
                assert_eq!(v.name().parse::<$T>(), Ok(v));
                for &w in &all[i + 1..] {
                    assert_ne!(v.name(), w.name(), "duplicate name in {}", <$T>::KIND);
                    assert_ne!(v.code(), w.code(), "duplicate code in {}", <$T>::KIND);
                }
            }
            let err = "NOT_A_NAME".parse::<$T>().unwrap_err();
            assert_eq!(err.kind, <$T>::KIND);
            assert!(err.to_string().ends_with(&<$T>::ACCEPTED.join(", ")));
        }};
    }

    #[test]
    fn every_enum_round_trips() {
        check_enum!(Hresult);
        check_enum!(WriterState);
        check_enum!(WriterEvent);
        check_enum!(ProviderCall);
        check_enum!(SnapshotContext);
        check_enum!(BackupType);
        check_enum!(UsageType);
        check_enum!(SourceType);
        check_enum!(ComponentType);
        check_enum!(ApplicationLevel);
        check_enum!(SnapshotState);
        check_enum!(ProviderType);
        check_enum!(ProtectionLevel);
        check_enum!(ProtectionFault);
        check_enum!(ObjectType);
    }

    #[test]
    fn hresult_values() {
        assert_eq!(Hresult::WriterErrorTimeout.hex(), "0x800423F2");
        assert_eq!(Hresult::BadState.code(), 0x8004_2301);
        assert_eq!(Hresult::BadState.hex(), "0x80042301");
        assert_eq!(Hresult::AsyncFinished.code(), 0x0004_230A);
        assert_eq!(Hresult::AsyncFinished.hex(), "0x0004230A");
        assert_eq!(Hresult::Ok.hex(), "0x00000000");
        assert_eq!(Hresult::Fail.code(), 0x8000_4005);
        assert_eq!(Hresult::Unexpected.code(), 0x8000_FFFF);
        assert_eq!(Hresult::VssUnexpected.code(), 0x8004_2302);
        assert_eq!(Hresult::WriterErrorPartialFailure.code(), 0x8004_2336);
        assert_eq!(Hresult::WriterStatusNotAvailable.code(), 0x8004_2409);
        assert_eq!(
            Hresult::from_name("VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED"),
            Some(Hresult::SomeSnapshotsNotImported)
        );
        assert_eq!(
            Hresult::from_code(0x8004_2321),
            Some(Hresult::SomeSnapshotsNotImportedError)
        );
        assert_eq!(Hresult::from_code(0x8004_2305), None);
    }

    #[test]
    fn hresult_classes() {
        assert!(Hresult::Ok.is_success());
        assert!(Hresult::False.is_success());
        assert!(Hresult::AsyncPending.is_success());
        assert!(Hresult::SomeSnapshotsNotImported.is_success());
        assert!(!Hresult::Fail.is_success());
        assert!(!Hresult::SomeSnapshotsNotImportedError.is_success());

        let writer: Vec<_> = Hresult::ALL
            .iter()
            .filter(|h| h.is_writer_failure())
            .collect();
        assert_eq!(writer.len(), 7);
        assert!(!Hresult::WriterNotResponding.is_writer_failure());

        let allowed = Hresult::ALL
            .iter()
            .filter(|h| h.is_provider_allowed())
            .count();
        assert_eq!(allowed, 12);
        assert_eq!(
            Hresult::Fail.translate_provider(),
            Hresult::UnexpectedProviderError
        );
        assert_eq!(
            Hresult::False.translate_provider(),
            Hresult::UnexpectedProviderError
        );
        assert_eq!(
            Hresult::ProviderVeto.translate_provider(),
            Hresult::ProviderVeto
        );
        assert_eq!(Hresult::Ok.translate_provider(), Hresult::Ok);
        for h in Hresult::ALL {
            assert!(h.translate_provider().is_provider_allowed() || !h.is_provider_allowed());
        }
    }

    #[test]
    fn vssadmin_last_error_labels() {
        assert_eq!(Hresult::Ok.vssadmin_last_error(), "No error");
        assert_eq!(
            Hresult::WriterErrorInconsistentSnapshot.vssadmin_last_error(),
            "Inconsistent shadow copy"
        );
        assert_eq!(
            Hresult::WriterErrorOutOfResources.vssadmin_last_error(),
            "Out of resources"
        );
        assert_eq!(
            Hresult::WriterErrorTimeout.vssadmin_last_error(),
            "Timed out"
        );
        assert_eq!(
            Hresult::WriterErrorRetryable.vssadmin_last_error(),
            "Retryable error"
        );
        assert_eq!(
            Hresult::WriterErrorNonRetryable.vssadmin_last_error(),
            "Non-retryable error"
        );
        assert_eq!(
            Hresult::WriterNotResponding.vssadmin_last_error(),
            "Not responding"
        );
        assert_eq!(
            Hresult::WriterErrorRecoveryFailed.vssadmin_last_error(),
            "Unexpected error"
        );
        assert_eq!(Hresult::Fail.vssadmin_last_error(), "Unexpected error");
    }

    #[test]
    fn writer_states() {
        assert_eq!(WriterState::FailedAtFreeze.code(), 9);
        assert_eq!(WriterState::Count.code(), 16);
        let failed: Vec<u32> = WriterState::ALL
            .iter()
            .filter(|s| s.is_failed())
            .map(|s| s.code())
            .collect();
        assert_eq!(failed, (6..=15).collect::<Vec<_>>());
        assert_eq!(WriterState::Unknown.vssadmin_label(), "Unknown");
        assert_eq!(WriterState::Stable.vssadmin_label(), "Stable");
        assert_eq!(
            WriterState::WaitingForFreeze.vssadmin_label(),
            "Waiting for freeze"
        );
        assert_eq!(
            WriterState::WaitingForThaw.vssadmin_label(),
            "Waiting for thaw"
        );
        assert_eq!(
            WriterState::WaitingForPostSnapshot.vssadmin_label(),
            "Waiting for post snapshot"
        );
        assert_eq!(
            WriterState::WaitingForBackupComplete.vssadmin_label(),
            "Waiting for completion"
        );
        for s in WriterState::ALL {
            assert_eq!(s.is_failed(), s.vssadmin_label() == "Failed");
        }
        assert_eq!(
            WriterState::FailedAtPostSnapshot.vssadmin_state(),
            "[11] Failed"
        );
    }

    #[test]
    fn writer_events() {
        assert_eq!(WriterEvent::PrepareForBackup.name(), "OnPrepareBackup");
        assert_eq!(WriterEvent::from_name("Freeze"), Some(WriterEvent::Freeze));
        assert_eq!(
            WriterEvent::from_name("OnFreeze"),
            Some(WriterEvent::Freeze)
        );
        assert_eq!(
            "PrepareForSnapshot".parse(),
            Ok(WriterEvent::PrepareForSnapshot)
        );
        assert_eq!(
            WriterEvent::from_name("BackupShutdown"),
            Some(WriterEvent::BackupShutdown)
        );
        assert_eq!(WriterEvent::from_name("freeze"), None);
        for e in WriterEvent::ALL {
            assert_eq!(WriterEvent::from_name(e.event_name()), Some(*e));
            assert_eq!(format!("{e:?}"), e.event_name());
            assert_eq!(e.failed_state().is_none(), *e == WriterEvent::Abort);
        }
        assert_eq!(
            WriterEvent::Freeze.failed_state(),
            Some(WriterState::FailedAtFreeze)
        );
        assert_eq!(
            WriterEvent::BackupShutdown.failed_state(),
            Some(WriterState::FailedAtBackupshutdown)
        );
        let failed: Vec<_> = WriterEvent::ALL
            .iter()
            .filter_map(|e| e.failed_state())
            .collect();
        assert_eq!(failed.len(), 10);
        assert!(failed.iter().all(|s| s.is_failed()));
    }

    #[test]
    fn provider_calls() {
        for c in ProviderCall::ALL {
            assert_eq!(format!("{c:?}"), c.name());
        }
    }

    #[test]
    fn contexts() {
        use SnapshotContext as C;
        assert_eq!(C::NasRollback.attributes(), 0x19);
        assert_eq!(C::All.code(), 0xFFFF_FFFF);
        let props = |c: C| {
            (
                c.is_persistent(),
                c.is_auto_release(),
                c.has_writers(),
                c.is_client_accessible(),
            )
        };
        assert_eq!(props(C::Backup), (false, true, true, false));
        assert_eq!(props(C::FileShareBackup), (false, true, false, false));
        assert_eq!(props(C::NasRollback), (true, false, false, false));
        assert_eq!(props(C::AppRollback), (true, false, true, false));
        assert_eq!(props(C::ClientAccessible), (true, false, false, true));
        assert_eq!(props(C::ClientAccessibleWriters), (true, false, true, true));
        assert_eq!(props(C::All), (false, false, false, false));
        assert_eq!(C::NasRollback.vssadmin_type(), "DataVolumeRollback");
        assert_eq!(C::AppRollback.vssadmin_type(), "ApplicationRollback");
        assert_eq!(C::All.vssadmin_type(), "All");
    }

    #[test]
    fn attributes() {
        assert_eq!(
            attr::vssadmin_attributes(SnapshotContext::ClientAccessible.attributes()),
            "Persistent, Client-accessible, No auto release, No writers"
        );
        assert_eq!(
            attr::vssadmin_attributes(attr::DIFFERENTIAL | attr::NOT_SURFACED),
            "Differential"
        );
        assert_eq!(attr::vssadmin_attributes(0), "");
        assert_eq!(attr::name(attr::PLEX), Some("VSS_VOLSNAP_ATTR_PLEX"));
        assert_eq!(attr::name(0x3), None);
        let mut prev = 0;
        for &(bit, name) in attr::ALL {
            assert_eq!(bit.count_ones(), 1);
            assert!(bit > prev);
            prev = bit;
            assert_eq!(attr::from_name(name), Some(bit));
        }
        // Every context value is an OR of attribute bits.
        let known = attr::ALL.iter().fold(0, |acc, &(b, _)| acc | b);
        for c in SnapshotContext::ALL {
            if *c != SnapshotContext::All {
                assert_eq!(c.attributes() & !known, 0);
            }
        }
    }

    #[test]
    fn application_levels() {
        use ApplicationLevel as L;
        assert_eq!(L::Auto.code(), 0xFFFF_FFFF);
        assert_eq!(L::from_code(u32::MAX), Some(L::Auto));
        assert!(L::FrontEnd.freeze_rank() < L::BackEnd.freeze_rank());
        assert!(L::BackEnd.freeze_rank() < L::System.freeze_rank());
        assert!(L::System.freeze_rank() < L::SystemRm.freeze_rank());
        assert_eq!(L::Unknown.freeze_rank(), L::FrontEnd.freeze_rank());
    }

    #[test]
    fn unknown_name_message() {
        let err = "VSS_WS_FOO".parse::<WriterState>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(
            "unknown VSS_WRITER_STATE \"VSS_WS_FOO\"; expected one of VSS_WS_UNKNOWN, VSS_WS_STABLE, "
        ));
        assert!(msg.ends_with("VSS_WS_FAILED_AT_BACKUPSHUTDOWN, VSS_WS_COUNT"));
        assert_eq!(err.given, "VSS_WS_FOO");
    }

    #[test]
    fn other_spot_values() {
        assert_eq!(BackupType::Copy.code(), 5);
        assert_eq!(
            UsageType::from_code(1),
            Some(UsageType::BootableSystemState)
        );
        assert_eq!(SourceType::NonTransactedDb.name(), "VSS_ST_NONTRANSACTEDDB");
        assert_eq!(ComponentType::FileGroup.code(), 2);
        assert_eq!(SnapshotState::Created.code(), 12);
        assert_eq!(SnapshotState::Postcommitted.code(), 15);
        assert_eq!(ProviderType::FileShare.name(), "VSS_PROV_FILESHARE");
        assert_eq!(ProtectionLevel::Snapshot.code(), 1);
        assert_eq!(ProtectionFault::DiffAreaFull.code(), 8);
        assert_eq!(ObjectType::SnapshotSet.code(), 2);
    }
}
