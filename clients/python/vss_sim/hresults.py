"""Every HRESULT the simulator can show, by name and value.

Generated from model/src/vss/hresult.rs (the Rust source is the reference): keep the two
in step when a code is added there.
"""

# (name, value, Rust variant) in the order of the Rust enum.
HRESULTS = (
    ("S_OK", 0x00000000, "Ok"),
    ("S_FALSE", 0x00000001, "False"),
    ("E_NOTIMPL", 0x80004001, "NotImpl"),
    ("E_ABORT", 0x80004004, "Abort"),
    ("E_FAIL", 0x80004005, "Fail"),
    ("E_UNEXPECTED", 0x8000FFFF, "Unexpected"),
    ("E_ACCESSDENIED", 0x80070005, "AccessDenied"),
    ("E_OUTOFMEMORY", 0x8007000E, "OutOfMemory"),
    ("E_INVALIDARG", 0x80070057, "InvalidArg"),
    ("VSS_E_BAD_STATE", 0x80042301, "BadState"),
    ("VSS_E_UNEXPECTED", 0x80042302, "VssUnexpected"),
    ("VSS_E_PROVIDER_ALREADY_REGISTERED", 0x80042303, "ProviderAlreadyRegistered"),
    ("VSS_E_PROVIDER_NOT_REGISTERED", 0x80042304, "ProviderNotRegistered"),
    ("VSS_E_PROVIDER_VETO", 0x80042306, "ProviderVeto"),
    ("VSS_E_PROVIDER_IN_USE", 0x80042307, "ProviderInUse"),
    ("VSS_E_OBJECT_NOT_FOUND", 0x80042308, "ObjectNotFound"),
    ("VSS_S_ASYNC_PENDING", 0x00042309, "AsyncPending"),
    ("VSS_S_ASYNC_FINISHED", 0x0004230A, "AsyncFinished"),
    ("VSS_S_ASYNC_CANCELLED", 0x0004230B, "AsyncCancelled"),
    ("VSS_E_VOLUME_NOT_SUPPORTED", 0x8004230C, "VolumeNotSupported"),
    ("VSS_E_OBJECT_ALREADY_EXISTS", 0x8004230D, "ObjectAlreadyExists"),
    ("VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER", 0x8004230E, "VolumeNotSupportedByProvider"),
    ("VSS_E_UNEXPECTED_PROVIDER_ERROR", 0x8004230F, "UnexpectedProviderError"),
    ("VSS_E_CORRUPT_XML_DOCUMENT", 0x80042310, "CorruptXmlDocument"),
    ("VSS_E_INVALID_XML_DOCUMENT", 0x80042311, "InvalidXmlDocument"),
    ("VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED", 0x80042312, "MaximumNumberOfVolumesReached"),
    ("VSS_E_FLUSH_WRITES_TIMEOUT", 0x80042313, "FlushWritesTimeout"),
    ("VSS_E_HOLD_WRITES_TIMEOUT", 0x80042314, "HoldWritesTimeout"),
    ("VSS_E_UNEXPECTED_WRITER_ERROR", 0x80042315, "UnexpectedWriterError"),
    ("VSS_E_SNAPSHOT_SET_IN_PROGRESS", 0x80042316, "SnapshotSetInProgress"),
    ("VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED", 0x80042317, "MaximumNumberOfSnapshotsReached"),
    ("VSS_E_WRITER_INFRASTRUCTURE", 0x80042318, "WriterInfrastructure"),
    ("VSS_E_WRITER_NOT_RESPONDING", 0x80042319, "WriterNotResponding"),
    ("VSS_E_WRITER_ALREADY_SUBSCRIBED", 0x8004231A, "WriterAlreadySubscribed"),
    ("VSS_E_UNSUPPORTED_CONTEXT", 0x8004231B, "UnsupportedContext"),
    ("VSS_E_VOLUME_IN_USE", 0x8004231D, "VolumeInUse"),
    ("VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED", 0x8004231E, "MaximumDiffAreaAssociationsReached"),
    ("VSS_E_INSUFFICIENT_STORAGE", 0x8004231F, "InsufficientStorage"),
    ("VSS_E_NO_SNAPSHOTS_IMPORTED", 0x80042320, "NoSnapshotsImported"),
    ("VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED", 0x00042321, "SomeSnapshotsNotImported"),
    ("VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED", 0x80042321, "SomeSnapshotsNotImportedError"),
    ("VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED", 0x80042322, "MaximumNumberOfRemoteMachinesReached"),
    ("VSS_E_REMOTE_SERVER_UNAVAILABLE", 0x80042323, "RemoteServerUnavailable"),
    ("VSS_E_REMOTE_SERVER_UNSUPPORTED", 0x80042324, "RemoteServerUnsupported"),
    ("VSS_E_REVERT_IN_PROGRESS", 0x80042325, "RevertInProgress"),
    ("VSS_E_REVERT_VOLUME_LOST", 0x80042326, "RevertVolumeLost"),
    ("VSS_E_REBOOT_REQUIRED", 0x80042327, "RebootRequired"),
    ("VSS_E_TRANSACTION_FREEZE_TIMEOUT", 0x80042328, "TransactionFreezeTimeout"),
    ("VSS_E_TRANSACTION_THAW_TIMEOUT", 0x80042329, "TransactionThawTimeout"),
    ("VSS_E_UNSELECTED_VOLUME", 0x8004232A, "UnselectedVolume"),
    ("VSS_E_SNAPSHOT_NOT_IN_SET", 0x8004232B, "SnapshotNotInSet"),
    ("VSS_E_NESTED_VOLUME_LIMIT", 0x8004232C, "NestedVolumeLimit"),
    ("VSS_E_VOLUME_NOT_LOCAL", 0x8004232D, "VolumeNotLocal"),
    ("VSS_E_CLUSTER_TIMEOUT", 0x8004232E, "ClusterTimeout"),
    ("VSS_E_NOT_SUPPORTED", 0x8004232F, "NotSupported"),
    ("VSS_E_WRITERERROR_PARTIAL_FAILURE", 0x80042336, "WriterErrorPartialFailure"),
    ("VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT", 0x800423F0, "WriterErrorInconsistentSnapshot"),
    ("VSS_E_WRITERERROR_OUTOFRESOURCES", 0x800423F1, "WriterErrorOutOfResources"),
    ("VSS_E_WRITERERROR_TIMEOUT", 0x800423F2, "WriterErrorTimeout"),
    ("VSS_E_WRITERERROR_RETRYABLE", 0x800423F3, "WriterErrorRetryable"),
    ("VSS_E_WRITERERROR_NONRETRYABLE", 0x800423F4, "WriterErrorNonRetryable"),
    ("VSS_E_WRITERERROR_RECOVERY_FAILED", 0x800423F5, "WriterErrorRecoveryFailed"),
    ("VSS_E_BREAK_REVERT_ID_FAILED", 0x800423F6, "BreakRevertIdFailed"),
    ("VSS_E_LEGACY_PROVIDER", 0x800423F7, "LegacyProvider"),
    ("VSS_E_MISSING_DISK", 0x800423F8, "MissingDisk"),
    ("VSS_E_MISSING_HIDDEN_VOLUME", 0x800423F9, "MissingHiddenVolume"),
    ("VSS_E_MISSING_VOLUME", 0x800423FA, "MissingVolume"),
    ("VSS_E_AUTORECOVERY_FAILED", 0x800423FB, "AutoRecoveryFailed"),
    ("VSS_E_DYNAMIC_DISK_ERROR", 0x800423FC, "DynamicDiskError"),
    ("VSS_E_NONTRANSPORTABLE_BCD", 0x800423FD, "NonTransportableBcd"),
    ("VSS_E_CANNOT_REVERT_DISKID", 0x800423FE, "CannotRevertDiskId"),
    ("VSS_E_RESYNC_IN_PROGRESS", 0x800423FF, "ResyncInProgress"),
    ("VSS_E_CLUSTER_ERROR", 0x80042400, "ClusterError"),
    ("VSS_E_WRITER_STATUS_NOT_AVAILABLE", 0x80042409, "WriterStatusNotAvailable"),
    ("VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK", 0x80042411, "CriticalVolumeOnInvalidDisk"),
    ("VSS_E_FSS_TIMEOUT", 0x80042417, "FssTimeout"),
)

#: name -> value, e.g. ``CODES["VSS_E_BAD_STATE"] == 0x80042301``.
CODES = {name: code for name, code, _ in HRESULTS}
#: value -> name.
NAMES = {code: name for name, code, _ in HRESULTS}


def is_success(name):
    """Whether the HRESULT called ``name`` is a success code (high bit clear)."""
    return not (CODES[name] & 0x80000000)
