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

use serde::de::{self, Deserializer, Visitor};

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
pub(crate) fn deserialize_name<'de, D, T>(
    deserializer: D,
    kind: &'static str,
) -> Result<T, D::Error>
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

mod hresult;
mod kinds;
mod snapshot;
mod writer;

pub use hresult::*;
pub use kinds::*;
pub use snapshot::*;
pub use writer::*;

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
