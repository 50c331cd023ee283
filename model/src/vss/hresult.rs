//! HRESULTs: the VSS codes (`VSS_E_*`, `VSS_S_*`) and the COM ones VSS returns.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use super::{UnknownName, deserialize_name};

/// Defines [`Hresult`] (every code, through `vss_enum!`) and [`VssError`] (its failure codes,
/// the ones tagged `err`) from one list, so the two can never disagree.
macro_rules! hresults {
    (
        $(#[$meta:meta])*
        pub enum Hresult: $kind:literal { $($list:tt)* }
    ) => {
        hresults!(@munch [$(#[$meta])*] $kind [] [] $($list)*);
    };
    (@munch [$($meta:tt)*] $kind:literal [$($all:tt)*] [$($err:tt)*]
        $(#[$vmeta:meta])* ok $V:ident = $code:literal => $cname:literal, $($rest:tt)*
    ) => {
        hresults!(@munch [$($meta)*] $kind
            [$($all)* $(#[$vmeta])* $V = $code => $cname,]
            [$($err)*]
            $($rest)*);
    };
    (@munch [$($meta:tt)*] $kind:literal [$($all:tt)*] [$($err:tt)*]
        $(#[$vmeta:meta])* err $V:ident = $code:literal => $cname:literal, $($rest:tt)*
    ) => {
        hresults!(@munch [$($meta)*] $kind
            [$($all)* $(#[$vmeta])* $V = $code => $cname,]
            [$($err)* $(#[$vmeta])* $V = $code => $cname,]
            $($rest)*);
    };
    (@munch [$($meta:tt)*] $kind:literal [$($all:tt)*]
        [$($(#[$emeta:meta])* $E:ident = $ecode:literal => $ecname:literal,)*]
    ) => {
        vss_enum! {
            $($meta)*
            pub enum Hresult: $kind, alias { $($all)* }
        }

        /// A failed HRESULT as a Rust error: every failure code of [`Hresult`] (high bit set),
        /// with the same names and numbers. What the requester API and the writer trait
        /// return or report instead of a bare HRESULT; `VssError::BadState` is
        /// `VSS_E_BAD_STATE`, `0x80042301` ([`VssError::name`], [`VssError::code`]).
        ///
        /// Converts both ways with [`Hresult`]: `Hresult::from(e)` always, and
        /// `VssError::try_from(h)` for a failure code (a success code is given back as the
        /// error). `Display` prints the VSS name and the hex code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum VssError {
            $(
                $(#[$emeta])*
                #[doc(alias = $ecname)]
                $E,
            )*
        }

        impl VssError {
            /// Every failure, in the order of [`Hresult::ALL`].
            pub const ALL: &'static [VssError] = &[$(VssError::$E),*];

            /// The same code as an [`Hresult`].
            pub const fn hresult(self) -> Hresult {
                match self {
                    $(VssError::$E => Hresult::$E,)*
                }
            }

            /// The failure `h` is, or `None` for a success code.
            pub const fn from_hresult(h: Hresult) -> Option<VssError> {
                match h {
                    $(Hresult::$E => Some(VssError::$E),)*
                    _ => None,
                }
            }
        }
    };
}

hresults! {
    /// Every HRESULT the simulator can show: the generic COM codes, the VSS codes of
    /// The VSS codes (without the ASR range) and the writer failure codes (rule S9).
    ///
    /// Sources: the return values of each `IVssBackupComponents` method page (rule S23), rule
    /// S16 for providers; numbers from `vsserror.h` and `winerror.h`.
    pub enum Hresult: "HRESULT" {
        /// The call succeeded.
        ok Ok = 0x0000_0000 => "S_OK",
        /// Success with a "false" answer (`CVssWriter::Initialize` in safe mode / setup).
        ok False = 0x0000_0001 => "S_FALSE",
        /// Not implemented.
        err NotImpl = 0x8000_4001 => "E_NOTIMPL",
        /// Operation aborted.
        err Abort = 0x8000_4004 => "E_ABORT",
        /// Unspecified failure.
        err Fail = 0x8000_4005 => "E_FAIL",
        /// Catastrophic failure (before Windows 7 / 2008 R2 VSS returned this).
        err Unexpected = 0x8000_FFFF => "E_UNEXPECTED",
        /// Caller lacks backup privilege or is not an administrator.
        err AccessDenied = 0x8007_0005 => "E_ACCESSDENIED",
        /// Out of memory or resources.
        err OutOfMemory = 0x8007_000E => "E_OUTOFMEMORY",
        /// A parameter is invalid.
        err InvalidArg = 0x8007_0057 => "E_INVALIDARG",
        /// Object not initialised, wrong phase, or wrong call order.
        err BadState = 0x8004_2301 => "VSS_E_BAD_STATE",
        /// A logged internal VSS error.
        err VssUnexpected = 0x8004_2302 => "VSS_E_UNEXPECTED",
        /// The provider is already registered.
        err ProviderAlreadyRegistered = 0x8004_2303 => "VSS_E_PROVIDER_ALREADY_REGISTERED",
        /// No provider with this id is registered.
        err ProviderNotRegistered = 0x8004_2304 => "VSS_E_PROVIDER_NOT_REGISTERED",
        /// A provider-specific failure, already logged by the provider.
        err ProviderVeto = 0x8004_2306 => "VSS_E_PROVIDER_VETO",
        /// The provider is in use and cannot be unregistered.
        err ProviderInUse = 0x8004_2307 => "VSS_E_PROVIDER_IN_USE",
        /// The named object (volume, shadow, set, writer, association) does not exist.
        err ObjectNotFound = 0x8004_2308 => "VSS_E_OBJECT_NOT_FOUND",
        /// `IVssAsync::QueryStatus`: the operation is still running.
        ok AsyncPending = 0x0004_2309 => "VSS_S_ASYNC_PENDING",
        /// `IVssAsync::QueryStatus` / `Cancel`: the operation completed successfully.
        ok AsyncFinished = 0x0004_230A => "VSS_S_ASYNC_FINISHED",
        /// `IVssAsync::QueryStatus` / `Cancel`: the operation was cancelled.
        ok AsyncCancelled = 0x0004_230B => "VSS_S_ASYNC_CANCELLED",
        /// No provider supports the volume (or the requested method attribute).
        err VolumeNotSupported = 0x8004_230C => "VSS_E_VOLUME_NOT_SUPPORTED",
        /// The object already exists (duplicate component, existing diff-area association).
        err ObjectAlreadyExists = 0x8004_230D => "VSS_E_OBJECT_ALREADY_EXISTS",
        /// The explicitly named provider does not support the volume.
        err VolumeNotSupportedByProvider = 0x8004_230E => "VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER",
        /// VSS's translation of a provider HRESULT outside the allowed list (rule S16).
        err UnexpectedProviderError = 0x8004_230F => "VSS_E_UNEXPECTED_PROVIDER_ERROR",
        /// The XML document is corrupt (deprecated).
        err CorruptXmlDocument = 0x8004_2310 => "VSS_E_CORRUPT_XML_DOCUMENT",
        /// The XML document is malformed or fails the schema.
        err InvalidXmlDocument = 0x8004_2311 => "VSS_E_INVALID_XML_DOCUMENT",
        /// The set already holds the maximum number of volumes (64).
        err MaximumNumberOfVolumesReached = 0x8004_2312 => "VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED",
        /// File-system writes could not be flushed in time.
        err FlushWritesTimeout = 0x8004_2313 => "VSS_E_FLUSH_WRITES_TIMEOUT",
        /// Writes could not be held for the whole commit (10 s flush-and-hold window).
        err HoldWritesTimeout = 0x8004_2314 => "VSS_E_HOLD_WRITES_TIMEOUT",
        /// Events could not be delivered to writers (`BackupComplete`).
        err UnexpectedWriterError = 0x8004_2315 => "VSS_E_UNEXPECTED_WRITER_ERROR",
        /// Another snapshot-set creation is in progress.
        err SnapshotSetInProgress = 0x8004_2316 => "VSS_E_SNAPSHOT_SET_IN_PROGRESS",
        /// The volume is already in the maximum number of shadow sets.
        err MaximumNumberOfSnapshotsReached = 0x8004_2317 => "VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED",
        /// Event system or VSS service problem while gathering writer data.
        err WriterInfrastructure = 0x8004_2318 => "VSS_E_WRITER_INFRASTRUCTURE",
        /// Set by VSS: the writer did not answer (terminated or stuck).
        err WriterNotResponding = 0x8004_2319 => "VSS_E_WRITER_NOT_RESPONDING",
        /// `CVssWriter::Subscribe` was called a second time.
        err WriterAlreadySubscribed = 0x8004_231A => "VSS_E_WRITER_ALREADY_SUBSCRIBED",
        /// The context is not supported (by the provider, or for revert).
        err UnsupportedContext = 0x8004_231B => "VSS_E_UNSUPPORTED_CONTEXT",
        /// The volume is in use (diff area in use, or cannot be locked for revert).
        err VolumeInUse = 0x8004_231D => "VSS_E_VOLUME_IN_USE",
        /// The maximum number of diff-area associations is reached.
        err MaximumDiffAreaAssociationsReached = 0x8004_231E => "VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED",
        /// Not enough storage for the shadow copy.
        err InsufficientStorage = 0x8004_231F => "VSS_E_INSUFFICIENT_STORAGE",
        /// `ImportSnapshots` imported no shadow copy.
        err NoSnapshotsImported = 0x8004_2320 => "VSS_E_NO_SNAPSHOTS_IMPORTED",
        /// `ImportSnapshots` succeeded for only some shadow copies (success code).
        ok SomeSnapshotsNotImported = 0x0004_2321 => "VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED",
        /// `ImportSnapshots` failed for some shadow copies (error code).
        err SomeSnapshotsNotImportedError = 0x8004_2321 => "VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED",
        /// Too many remote machines in a file-share shadow set.
        err MaximumNumberOfRemoteMachinesReached =
            0x8004_2322 => "VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED",
        /// The remote file server is unavailable.
        err RemoteServerUnavailable = 0x8004_2323 => "VSS_E_REMOTE_SERVER_UNAVAILABLE",
        /// The remote file server does not support file-share shadows.
        err RemoteServerUnsupported = 0x8004_2324 => "VSS_E_REMOTE_SERVER_UNSUPPORTED",
        /// A revert is already in progress.
        err RevertInProgress = 0x8004_2325 => "VSS_E_REVERT_IN_PROGRESS",
        /// The volume was lost during revert.
        err RevertVolumeLost = 0x8004_2326 => "VSS_E_REVERT_VOLUME_LOST",
        /// The provider needs a restart.
        err RebootRequired = 0x8004_2327 => "VSS_E_REBOOT_REQUIRED",
        /// The KTM/DTC freeze failed.
        err TransactionFreezeTimeout = 0x8004_2328 => "VSS_E_TRANSACTION_FREEZE_TIMEOUT",
        /// Too long between KTM/DTC freeze and thaw.
        err TransactionThawTimeout = 0x8004_2329 => "VSS_E_TRANSACTION_THAW_TIMEOUT",
        /// A LUN resync would overwrite an unselected volume.
        err UnselectedVolume = 0x8004_232A => "VSS_E_UNSELECTED_VOLUME",
        /// The shadow id is not in the document's set.
        err SnapshotNotInSet = 0x8004_232B => "VSS_E_SNAPSHOT_NOT_IN_SET",
        /// VHD inside VHD, or a VHD volume together with its host volume.
        err NestedVolumeLimit = 0x8004_232C => "VSS_E_NESTED_VOLUME_LIMIT",
        /// The volume is not mounted locally.
        err VolumeNotLocal = 0x8004_232D => "VSS_E_VOLUME_NOT_LOCAL",
        /// CSV preparation timed out.
        err ClusterTimeout = 0x8004_232E => "VSS_E_CLUSTER_TIMEOUT",
        /// The operation is not supported.
        err NotSupported = 0x8004_232F => "VSS_E_NOT_SUPPORTED",
        /// Writer failure: one or more component-level errors (`SetWriterFailureEx`).
        err WriterErrorPartialFailure = 0x8004_2336 => "VSS_E_WRITERERROR_PARTIAL_FAILURE",
        /// Writer failure: the set holds only part of the volumes the writer needs.
        err WriterErrorInconsistentSnapshot = 0x8004_23F0 => "VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT",
        /// Writer failure: memory or resource allocation failed.
        err WriterErrorOutOfResources = 0x8004_23F1 => "VSS_E_WRITERERROR_OUTOFRESOURCES",
        /// Writer failure: the freeze-to-thaw interval exceeded the writer's freeze timeout.
        err WriterErrorTimeout = 0x8004_23F2 => "VSS_E_WRITERERROR_TIMEOUT",
        /// Writer failure: transient; retrying the whole operation will probably succeed.
        err WriterErrorRetryable = 0x8004_23F3 => "VSS_E_WRITERERROR_RETRYABLE",
        /// Writer failure: likely to recur; do not retry this writer with VSS.
        err WriterErrorNonRetryable = 0x8004_23F4 => "VSS_E_WRITERERROR_NONRETRYABLE",
        /// Writer failure: auto-recovery of the shadow volume failed.
        err WriterErrorRecoveryFailed = 0x8004_23F5 => "VSS_E_WRITERERROR_RECOVERY_FAILED",
        /// The disk identity could not be reverted (`BreakSnapshotSetEx`).
        err BreakRevertIdFailed = 0x8004_23F6 => "VSS_E_BREAK_REVERT_ID_FAILED",
        /// The operation needs a non-legacy hardware provider.
        err LegacyProvider = 0x8004_23F7 => "VSS_E_LEGACY_PROVIDER",
        /// An expected disk did not arrive.
        err MissingDisk = 0x8004_23F8 => "VSS_E_MISSING_DISK",
        /// An expected hidden volume did not arrive.
        err MissingHiddenVolume = 0x8004_23F9 => "VSS_E_MISSING_HIDDEN_VOLUME",
        /// An expected volume did not arrive.
        err MissingVolume = 0x8004_23FA => "VSS_E_MISSING_VOLUME",
        /// Auto-recovery of the shadow copy failed.
        err AutoRecoveryFailed = 0x8004_23FB => "VSS_E_AUTORECOVERY_FAILED",
        /// A dynamic-disk error occurred.
        err DynamicDiskError = 0x8004_23FC => "VSS_E_DYNAMIC_DISK_ERROR",
        /// The backup components document is not from a transportable set.
        err NonTransportableBcd = 0x8004_23FD => "VSS_E_NONTRANSPORTABLE_BCD",
        /// The disk id cannot be reverted.
        err CannotRevertDiskId = 0x8004_23FE => "VSS_E_CANNOT_REVERT_DISKID",
        /// A LUN resync is in progress.
        err ResyncInProgress = 0x8004_23FF => "VSS_E_RESYNC_IN_PROGRESS",
        /// A cluster error occurred.
        err ClusterError = 0x8004_2400 => "VSS_E_CLUSTER_ERROR",
        /// Set by VSS: the writer ran out of backup/restore session slots.
        err WriterStatusNotAvailable = 0x8004_2409 => "VSS_E_WRITER_STATUS_NOT_AVAILABLE",
        /// A critical volume is on an invalid disk (next to the ASR range).
        err CriticalVolumeOnInvalidDisk = 0x8004_2411 => "VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK",
        /// A file-share shadow operation timed out.
        err FssTimeout = 0x8004_2417 => "VSS_E_FSS_TIMEOUT",
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

impl VssError {
    /// The VSS spelling, e.g. `VSS_E_BAD_STATE`.
    pub const fn name(self) -> &'static str {
        self.hresult().name()
    }

    /// The HRESULT's value, e.g. `0x80042301`.
    pub const fn code(self) -> u32 {
        self.hresult().code()
    }

    /// The failure whose VSS spelling is `name`.
    pub fn from_name(name: &str) -> Option<VssError> {
        Hresult::from_name(name).and_then(VssError::from_hresult)
    }

    /// The failure whose HRESULT value is `code`.
    pub fn from_code(code: u32) -> Option<VssError> {
        Hresult::from_code(code).and_then(VssError::from_hresult)
    }

    /// `Ok(())` for a success code, else the failure: how a call's HRESULT becomes a
    /// `Result`.
    pub const fn check(h: Hresult) -> Result<(), VssError> {
        match VssError::from_hresult(h) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl From<VssError> for Hresult {
    fn from(e: VssError) -> Hresult {
        e.hresult()
    }
}

impl TryFrom<Hresult> for VssError {
    /// A success code is no error; it is given back.
    type Error = Hresult;

    fn try_from(h: Hresult) -> Result<VssError, Hresult> {
        VssError::from_hresult(h).ok_or(h)
    }
}

impl fmt::Display for VssError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.hresult().hex())
    }
}

impl std::error::Error for VssError {}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn vss_error_is_every_failure_code_and_nothing_else() {
        let failures: Vec<Hresult> = Hresult::ALL
            .iter()
            .copied()
            .filter(|h| !h.is_success())
            .collect();
        let errors: Vec<Hresult> = VssError::ALL.iter().map(|e| e.hresult()).collect();
        assert_eq!(errors, failures);
        for h in Hresult::ALL {
            assert_eq!(VssError::from_hresult(*h).is_none(), h.is_success(), "{h}");
        }
    }

    #[test]
    fn names_numbers_and_conversions_agree() {
        assert_eq!(VssError::BadState.name(), "VSS_E_BAD_STATE");
        assert_eq!(VssError::BadState.code(), 0x8004_2301);
        assert_eq!(Hresult::from(VssError::BadState), Hresult::BadState);
        assert_eq!(
            VssError::try_from(Hresult::BadState),
            Ok(VssError::BadState)
        );
        assert_eq!(VssError::try_from(Hresult::Ok), Err(Hresult::Ok));
        assert_eq!(
            VssError::from_name("VSS_E_WRITERERROR_TIMEOUT"),
            Some(VssError::WriterErrorTimeout)
        );
        assert_eq!(
            VssError::from_code(0x8004_2316),
            Some(VssError::SnapshotSetInProgress)
        );
        assert_eq!(VssError::from_name("S_OK"), None);
        assert_eq!(VssError::check(Hresult::AsyncFinished), Ok(()));
        assert_eq!(VssError::check(Hresult::Fail), Err(VssError::Fail));
        assert_eq!(
            VssError::BadState.to_string(),
            "VSS_E_BAD_STATE (0x80042301)"
        );
    }
}
