//! Upper bounds on everything a scenario declares, each with its reason (TigerBeetle style:
//! every collection has a named limit, checked once at the file's edge, so nothing behind it
//! ever meets a size it was not built for).
//!
//! A scenario past a limit is refused with exit 2, naming the key, the line of the first entry
//! past the limit, and the limit. The bounds admit every real machine, with headroom, and keep
//! every index within the 16-bit ids of [`model::ids`]. VSS's own limits (64 volumes in a set,
//! 512 shadows per volume, …) are not here: they are [`model::profile::Profile`] knobs, results
//! of the calls a run makes, never validation errors. `README.md` ("Scenario limits") lists
//! them.

/// `[[volume]]` tables. A large file server has hundreds of volumes and mount points; 4 096
/// leaves room for the largest. A volume's index becomes a 16-bit [`model::ids::VolumeId`].
pub const MAX_VOLUMES: usize = 4096;

/// A volume's `size`: 64 TiB, Microsoft's documented maximum size of a volume VSS shadows.
pub const MAX_VOLUME_BYTES: u64 = 64 << 40;

/// `[[writer]]` tables. A machine has a few dozen writers (the inbox ones plus one per
/// application instance); 4 096 leaves room for a host with a thousand SQL Server or Hyper-V
/// instances. An index becomes a 16-bit [`model::ids::WriterId`].
pub const MAX_WRITERS: usize = 4096;

/// `[[writer.component]]` tables of one writer: 32 767 is SQL Server's maximum number of
/// databases per instance, and its writer reports one component per database. A component's
/// index is a 16-bit `ComponentRef::idx`.
pub const MAX_COMPONENTS_PER_WRITER: usize = 32_767;

/// Components of all writers together: eight SQL Server instances at their maximum. Bounds the
/// writer metadata every `GatherWriterMetadata` hands out.
pub const MAX_COMPONENTS: usize = 8 * MAX_COMPONENTS_PER_WRITER;

/// `[[provider]]` tables (besides the system provider). Windows machines register a handful
/// (the system provider, a storage array's hardware provider, a backup product's software
/// provider). Index 0 of [`model::ids::ProviderId`] is the system provider, so an extra
/// provider's id is its index plus one.
pub const MAX_PROVIDERS: usize = 256;

/// `[[requester]]` tables: backup programs running on one machine. A 16-bit
/// [`model::ids::RequesterId`]; 1 024 is far more than the service serves at once (it runs one
/// creation at a time, rule 20).
pub const MAX_REQUESTERS: usize = 1024;

/// `[[workload]]` tables: applications writing to the volumes. The kernel keeps one slot per
/// workload and looks at all of them when the earliest one changes.
pub const MAX_WORKLOADS: usize = 1024;

/// Volume names in one `volumes` list (of a component, a workload, a requester or a provider):
/// one per declared volume.
pub const MAX_VOLUME_REFS: usize = MAX_VOLUMES;

/// Steps of one requester's `script`. A script is a hand-written call sequence; the standard
/// sequence with 64 volumes and every component of the largest writer is far shorter.
pub const MAX_SCRIPT_STEPS: usize = 4096;

/// Fault tables of one role (`[[writer.fault]]`, `[[provider.fault]]`,
/// `[[system_provider.fault]]`): a fault per event or call and per session is a few dozen.
pub const MAX_FAULTS: usize = 256;

/// Codes in one `[requester.policy] retry_on`: more than every HRESULT the simulator knows.
pub const MAX_RETRY_ON: usize = 256;

/// Entries of `[expect] calls`: one per call a scenario checks.
pub const MAX_EXPECT_CALLS: usize = 4096;

/// Entries of `[expect] violations`: one per oracle is all there are (a repeat says nothing).
pub const MAX_EXPECT_VIOLATIONS: usize = 256;

/// A scenario file's size: 32 MiB. The largest machine the limits below describe, written out
/// plainly (eight SQL Server instances of 32 767 databases, a thousand writers, 4 096
/// volumes), is about 20 MB; real scenarios are a few kilobytes.
pub const MAX_SCENARIO_BYTES: usize = 32 << 20;

/// Every duration of a scenario (and `--at`): 2^62 µs, about 146 000 years, checked where
/// durations are parsed ([`crate::units::parse_duration`]).
pub use crate::units::MAX_DURATION_US;

/// The fewest kernel steps one backup of the standard sequence takes: the answers to its
/// eleven calls (`InitializeForBackup` to `Release`) and the provider's answers of its
/// creation, counted low (31 are measured for one volume and no writer). `repeat` is checked
/// against `[run] max_steps` with it: a series that cannot fit the step budget is refused
/// instead of running until the budget runs out.
pub const MIN_STEPS_PER_BACKUP: u64 = 16;

// Every index of a collection fits its 16-bit id.
const _: () = {
    assert!(MAX_VOLUMES <= u16::MAX as usize);
    assert!(MAX_WRITERS <= u16::MAX as usize);
    assert!(MAX_COMPONENTS_PER_WRITER <= u16::MAX as usize);
    assert!(MAX_PROVIDERS < u16::MAX as usize);
    assert!(MAX_REQUESTERS <= u16::MAX as usize);
};

/// Where the README documents the limits (named in every message).
pub(crate) const SEE: &str = "see \"Scenario limits\" in README.md";
