//! Identifiers: small indices for the roles of one simulated machine, and VSS GUIDs.
//!
//! GUIDs are never generated here (the model owns no RNG): the simulation draws them from its
//! seeded stream and passes them in with the call that needs one (ARCHITECTURE.md, invariant 1).

use std::fmt;

macro_rules! index_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u16);

        impl $name {
            /// The index into the owning table.
            pub const fn idx(self) -> usize {
                self.0 as usize
            }

            /// The id of entry `index` of the owning table. The scenario's limits
            /// (`sim::scenario::limits`) keep every table within the 16-bit id space: an index
            /// past it is a broken invariant, never a silent wrap to another entry.
            #[track_caller]
            pub fn from_index(index: usize) -> Self {
                match u16::try_from(index) {
                    Ok(i) => Self(i),
                    Err(_) => panic!(
                        "{} index {index} is past the 16-bit id space (bounded by the scenario limits)",
                        stringify!($name)
                    ),
                }
            }
        }
    };
}

index_id!(
    /// A requester (one `IVssBackupComponents` object), in scenario declaration order.
    RequesterId
);
index_id!(
    /// A writer instance subscribed on the machine, in subscription (declaration) order.
    WriterId
);
index_id!(
    /// A registered provider; the system provider is always present.
    ProviderId
);
index_id!(
    /// A volume of the machine, in declaration order.
    VolumeId
);

/// A 128-bit GUID, printed the way Windows tools print it: lower case in braces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guid(pub u128);

impl Guid {
    /// `GUID_NULL`.
    #[doc(alias = "GUID_NULL")]
    pub const NULL: Guid = Guid(0);

    /// Builds a version-4 GUID from 16 random bytes (the caller's seeded stream).
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> Guid {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Guid(u128::from_be_bytes(bytes))
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, with or without braces, any case.
    pub fn parse(s: &str) -> Option<Guid> {
        let s = s.trim();
        let s = s
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(s);
        let groups: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if groups.len() != 5 || groups.iter().zip(lens).any(|(g, l)| g.len() != l) {
            return None;
        }
        let hex: String = groups.concat();
        u128::from_str_radix(&hex, 16).ok().map(Guid)
    }

    /// The GUID without braces, lower case.
    pub fn bare(self) -> String {
        let v = self.0;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.bare())
    }
}

/// A snapshot set id (`VSS_ID` of the set).
pub type SnapshotSetId = Guid;
/// A shadow copy id (`VSS_ID` of one shadow).
pub type SnapshotId = Guid;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_round_trip() {
        let g = Guid::parse("{E8132975-6F93-4464-A53E-1050253AE220}").unwrap();
        assert_eq!(g.to_string(), "{e8132975-6f93-4464-a53e-1050253ae220}");
        assert_eq!(Guid::parse(&g.bare()), Some(g));
        assert_eq!(Guid::parse("e8132975-6f93-4464-a53e"), None);
    }

    #[test]
    fn ids_from_index_are_checked() {
        assert_eq!(WriterId::from_index(65_535), WriterId(65_535));
        assert!(std::panic::catch_unwind(|| VolumeId::from_index(65_536)).is_err());
    }

    #[test]
    fn random_guid_is_v4() {
        let g = Guid::from_random_bytes([0xff; 16]);
        assert_eq!(&g.bare()[14..15], "4");
    }
}
