//! Provider calls, snapshot contexts and the snapshot attribute bits.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use super::{UnknownName, deserialize_name};

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
