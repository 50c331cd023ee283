//! The VSS API for your own code: a requester's [`BackupComponents`] (`IVssBackupComponents`)
//! with its [`VssAsync`] (`IVssAsync`), and the [`Writer`] trait (`CVssWriter`). Your code is
//! ordinary async Rust; [`crate::harness::Simulation`] runs it inside a simulation, on virtual
//! time, next to the scenario's own roles.
//!
//! Errors are [`VssError`], one variant per failing HRESULT, with Microsoft's names and values
//! (`VssError::BadState` is `VSS_E_BAD_STATE`, `0x80042301`).

mod requester;
mod writer;

pub use requester::{
    BackupComponents, BlockRange, ComponentMetadata, MAX_READ_BLOCKS, Requester, VolumeRef,
    VssAsync, WriterMetadata,
};
pub use writer::{Metadata, Registration, Writer, WriterCx};

pub(crate) use writer::run_writer;

pub use model::api::{ComponentRef, SnapshotProp, WriterStatus};
pub use model::ids::{Guid, SnapshotId, SnapshotSetId, VolumeId, WriterId};
pub use model::time::{Duration, Instant};
pub use model::vss::{
    ApplicationLevel, BackupType, Hresult, ObjectType, SnapshotContext, SnapshotState, UsageType,
    VssError, WriterEvent, WriterState,
};
