//! The behaviour profile: every timing limit, capacity and policy choice the coordinator reads.
//!
//! One value, [`Profile::windows`], is the default "windows" profile of `docs/rules.md`. Limits
//! live here and nowhere else, so a later comparison profile (a Linux one, say) is a new value,
//! not a code change. A scenario's `[profile]` table overrides single knobs.

use crate::time::Duration;
use crate::vss::ProtectionLevel;

/// Timing limits, capacities and behaviour knobs of the simulated VSS service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Default freeze window of a writer that does not set its own `dwTimeoutFreeze`.
    ///
    /// `CVssWriter::Initialize` default 60 000 ms (rule S5,
    /// <https://learn.microsoft.com/windows/win32/api/vswriter/nf-vswriter-cvsswriter-initialize>).
    /// Rule 7.
    pub freeze_timeout_default: Duration,
    /// The flush-and-hold window: from the hold request to the release.
    ///
    /// 10 s (rule S20,
    /// <https://learn.microsoft.com/windows/win32/vss/shadow-copy-creation-for-providers>).
    /// Rules 13, 13b.
    pub flush_and_hold_timeout: Duration,
    /// Response limit for every writer event other than Freeze.
    ///
    /// Microsoft documents none; rule 11 picks 600 s.
    pub writer_response_timeout: Duration,
    /// KB 915331's race: the freeze timer fires even after Thaw arrived. Off by default (rule 7).
    pub kb915331_race: bool,
    /// Writers check at PrepareForSnapshot that all volumes of their selected components are in
    /// the set (rule 5b). Default for writers that do not say otherwise.
    pub checks_volume_set: bool,
    /// What happens when the diff area is full (rules 17, S22).
    pub protection_level: ProtectionLevel,
    /// Shadows per volume for the system provider (rule S22: 512; rule 18).
    pub shadows_per_volume_max: u32,
    /// `MaxShadowCopies` for client-accessible shadows (rule S22: default 64; rule 18).
    pub client_accessible_shadows_max: u32,
    /// Volumes per snapshot set (rule S22: 64).
    pub volumes_per_set_max: u32,
    /// Concurrent snapshot-set creations on the machine (rule S22: exactly 1; rule 20).
    pub creations_max: u32,
    /// Diff-area minimum on volumes of at most [`Profile::diff_area_small_volume_max`] bytes.
    ///
    /// Rule 28: 32 MiB (33 554 432 bytes).
    pub diff_area_min_small: u64,
    /// Diff-area minimum on larger volumes. Rule 28: 320 MiB (335 544 320 bytes).
    pub diff_area_min_large: u64,
    /// Volume size up to which the small minimum applies. Rule 28: 500 MiB.
    pub diff_area_small_volume_max: u64,
    /// Round trip of one synchronous `IVssBackupComponents` call (our choice; not documented).
    pub api_call_latency: Duration,
    /// Time the file systems take to flush once in-flight writes have drained (our choice).
    pub flush_latency: Duration,
}

impl Profile {
    /// The default "windows" profile of `docs/rules.md` (Windows Server 2016 and later, rule 28).
    pub fn windows() -> Profile {
        Profile {
            freeze_timeout_default: Duration::from_secs(60),
            flush_and_hold_timeout: Duration::from_secs(10),
            writer_response_timeout: Duration::from_secs(600),
            kb915331_race: false,
            checks_volume_set: true,
            protection_level: ProtectionLevel::OriginalVolume,
            shadows_per_volume_max: 512,
            client_accessible_shadows_max: 64,
            volumes_per_set_max: 64,
            creations_max: 1,
            diff_area_min_small: 33_554_432,
            diff_area_min_large: 335_544_320,
            diff_area_small_volume_max: 500 * 1024 * 1024,
            api_call_latency: Duration::from_us(200),
            flush_latency: Duration::from_ms(5),
        }
    }

    /// The diff-area minimum a volume of `volume_bytes` needs to hold a new shadow (rule 28).
    pub fn diff_area_min(&self, volume_bytes: u64) -> u64 {
        if volume_bytes <= self.diff_area_small_volume_max {
            self.diff_area_min_small
        } else {
            self.diff_area_min_large
        }
    }
}

impl Default for Profile {
    fn default() -> Profile {
        Profile::windows()
    }
}
