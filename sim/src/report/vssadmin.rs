//! The administrator's view: `vss-sim vssadmin list writers|shadows|providers|shadowstorage`.
//!
//! Pure functions that render the service's state at one virtual instant as the bytes
//! `vssadmin` prints (rules 29,
//! 29b, 29c, S26): the two-line banner and one blank line, blocks separated by exactly one blank
//! line, CRLF line endings (LF with `--lf`), spaces for indentation, en-US dates computed from
//! the scenario's virtual epoch.
//!
//! **Our layout until a capture confirms it** (rule 29c). The captures give the banner, the block
//! shapes and the separator between blocks, but not what follows the last block. We print each
//! line, the last included, ended by one line ending and nothing after it: the output ends with
//! the last block's last line and its CRLF, with no trailing blank line. The same holds for
//! `No items found that satisfy the query.` The other bytes of our own choosing are named where
//! they are made: `Type:` and `Attributes:` values, the `(NAME)` of a volume without a drive
//! letter, the empty `Attributes:` line, the size formatter and the allocated size of
//! `list shadowstorage`, and which volumes `list shadowstorage` shows.

use model::ids::{Guid, SnapshotSetId, WriterId};
use model::time::{Duration, Instant};
use model::vss::{ProviderType, attr};

use crate::calendar::{epoch_secs, format_datetime};
use crate::scenario::Scenario;
use crate::trace::Trace;
use crate::world::World;

/// The first banner line.
pub const BANNER_1: &str =
    "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool";
/// The second banner line.
pub const BANNER_2: &str = "(C) Copyright 2001-2013 Microsoft Corp.";
/// What vssadmin prints after the banner when nothing matches (exit code 1).
pub const NO_ITEMS: &str = "No items found that satisfy the query.";
/// The console-only lines `list writers` prints before its blocks (standard error only, rule
/// 29b; the first line ends with a space, as the console shows it), followed by a blank line.
pub const WAITING: [&str; 2] = [
    "Waiting for responses. ",
    "These may be delayed if a shadow copy is being prepared.",
];

/// The diff-area growth granule: allocation grows in steps of 32 MiB (rule S22's
/// registry page: `MinDiffAreaFileSize` is rounded to 32 MB).
pub const DIFF_AREA_GRANULE: u64 = 32 << 20;

/// What `vssadmin list` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// `list writers`.
    Writers,
    /// `list shadows`.
    Shadows,
    /// `list providers`.
    Providers,
    /// `list shadowstorage`.
    ShadowStorage,
}

impl Object {
    /// Every object, in the order the usage text names them.
    pub const ALL: [Object; 4] = [
        Object::Writers,
        Object::Shadows,
        Object::Providers,
        Object::ShadowStorage,
    ];

    /// The word on the command line (`writers`, …).
    pub const fn word(self) -> &'static str {
        match self {
            Object::Writers => "writers",
            Object::Shadows => "shadows",
            Object::Providers => "providers",
            Object::ShadowStorage => "shadowstorage",
        }
    }

    /// Parses the object word; like vssadmin, case does not matter.
    pub fn parse(s: &str) -> Option<Object> {
        Object::ALL
            .into_iter()
            .find(|o| o.word().eq_ignore_ascii_case(s))
    }
}

/// One rendered view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The bytes for standard output.
    pub text: String,
    /// Whether anything was listed: exit code 0, else 1 (`No items found …`).
    pub listed: bool,
}

impl View {
    /// vssadmin's exit code for this view: 0 when something is listed, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.listed { 0 } else { 1 }
    }
}

/// The line ending: CRLF (byte-faithful, the default) or LF (`--lf`).
pub const fn eol(lf: bool) -> &'static str {
    if lf { "\n" } else { "\r\n" }
}

/// Assembles banner + blocks (each a list of lines) with `eol`, as described in the module doc.
fn assemble(blocks: &[Vec<String>], eol: &str) -> View {
    let mut text = String::new();
    for l in [BANNER_1, BANNER_2, ""] {
        text.push_str(l);
        text.push_str(eol);
    }
    if blocks.is_empty() {
        text.push_str(NO_ITEMS);
        text.push_str(eol);
        return View {
            text,
            listed: false,
        };
    }
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            text.push_str(eol);
        }
        for l in b {
            text.push_str(l);
            text.push_str(eol);
        }
    }
    View { text, listed: true }
}

/// The length in bytes of the banner and its blank line, for a caller that prints the
/// console-only lines between the banner and the blocks.
pub fn banner_len(lf: bool) -> usize {
    BANNER_1.len() + BANNER_2.len() + 3 * eol(lf).len()
}

/// Builds the world of `scenario` with `seed` and runs it to virtual time `at` (the state an
/// observer sees then), or to its end when `at` is `None`.
pub fn world_at(scenario: &Scenario, seed: u64, at: Option<Duration>) -> World {
    let mut world = World::new(scenario, seed, Trace::off());
    match at {
        Some(d) => {
            world.run_until(Instant::ZERO + d);
        }
        None => {
            world.run();
        }
    }
    world
}

/// Renders `object` for `world` built from `scenario`; `Err` when the scenario's epoch is not
/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn render(
    object: Object,
    world: &World,
    scenario: &Scenario,
    lf: bool,
) -> Result<View, String> {
    Ok(match object {
        Object::Writers => list_writers(world, lf),
        Object::Shadows => list_shadows(world, scenario, lf)?,
        Object::Providers => list_providers(world, lf),
        Object::ShadowStorage => list_shadowstorage(world, lf),
    })
}

/// `vssadmin list writers`: every writer subscribed on the machine (the service-wide view, a
/// writer that failed Identify included), in subscription order, five lines each; state and
/// last-error labels of rule 29. The console-only [`WAITING`] lines are not part of
/// this text (rule 29b).
pub fn list_writers(world: &World, lf: bool) -> View {
    let coord = world.coordinator();
    let blocks: Vec<Vec<String>> = coord
        .machine()
        .writers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (state, last_error) = coord.writer_status(WriterId::from_index(i));
            vec![
                format!("Writer name: '{}'", w.name),
                format!("   Writer Id: {}", w.class_id),
                format!("   Writer Instance Id: {}", w.instance_id),
                format!("   State: {}", state.vssadmin_state()),
                format!("   Last error: {}", last_error.vssadmin_last_error()),
            ]
        })
        .collect();
    assemble(&blocks, eol(lf))
}

/// The `Provider type:` label. `System`, `Software` and `Hardware` are vssadmin's; `FileShare`
/// and `Unknown` are our layout until a capture confirms them (rule 29c).
pub const fn provider_type_label(kind: ProviderType) -> &'static str {
    match kind {
        ProviderType::System => "System",
        ProviderType::Software => "Software",
        ProviderType::Hardware => "Hardware",
        ProviderType::FileShare => "FileShare",
        ProviderType::Unknown => "Unknown",
    }
}

/// `vssadmin list providers`: every registered provider in registration order (the system
/// provider first, with Windows' name, id and version, rule S17), four lines each.
pub fn list_providers(world: &World, lf: bool) -> View {
    let blocks: Vec<Vec<String>> = world
        .coordinator()
        .machine()
        .providers
        .iter()
        .map(|p| {
            vec![
                format!("Provider name: '{}'", p.name),
                format!("   Provider type: {}", provider_type_label(p.kind)),
                format!("   Provider Id: {}", p.id),
                format!("   Version: {}", p.version),
            ]
        })
        .collect();
    assemble(&blocks, eol(lf))
}

/// The parenthesised part of a volume as vssadmin prints it before the GUID name: `(C:)` for
/// `C:\`. A volume named otherwise (a mount folder such as `D:\mnt\data\`) prints its name
/// without the trailing backslash, `(D:\mnt\data)`: our layout until a capture confirms it.
pub fn volume_label(name: &str) -> String {
    format!("({})", name.strip_suffix('\\').unwrap_or(name))
}

/// `(C:)\\?\Volume{guid}\`.
pub fn volume_display(name: &str, guid: Guid) -> String {
    format!("{}\\\\?\\Volume{}\\", volume_label(name), guid)
}

/// `vssadmin list shadows`: the shadows that exist at the viewed instant, grouped by shadow copy
/// set (sets in creation order, shadows in creation order).
///
/// - `Contained N shadow copies at creation time:` N counts every shadow its set made (the
///   `m_lSnapshotsCount` of the set), so it stays the same when one of them is deleted later;
///   the time is the virtual epoch plus the creation instant of the set's first shadow,
///   truncated to whole seconds, in en-US short date and long time.
/// - `Originating Machine` and `Service Machine` are the scenario's `[machine] name`.
/// - `Type:` is the context in Windows' CamelCase and `Attributes:` the vssadmin labels of
///   `context.attributes()`, plus `Differential` (0x20000) for the system provider, whose
///   shadows are copy-on-write (rules S17, S18): both our layout until a capture confirms them
///   (rule 29c). A shadow with no printed attribute gets `Attributes:` with nothing after it
///   (no trailing space; our layout).
pub fn list_shadows(world: &World, scenario: &Scenario, lf: bool) -> Result<View, String> {
    let epoch = epoch_secs(&scenario.epoch)?;
    let coord = world.coordinator();
    let machine = coord.machine();
    let live = world.shadow_views();
    let storage = world.storage_views();
    let records = coord.shadows();
    // Sets in creation order of their first live shadow.
    let mut sets: Vec<SnapshotSetId> = Vec::new();
    for r in records {
        if live.iter().any(|v| v.id == r.id) && !sets.contains(&r.set_id) {
            sets.push(r.set_id);
        }
    }
    let mut blocks = Vec::new();
    for set in sets {
        let in_set: Vec<_> = records.iter().filter(|r| r.set_id == set).collect();
        let created = in_set
            .first()
            .map(|r| r.created_at.as_us())
            .unwrap_or_default();
        let when = format_datetime(epoch + (created / 1_000_000) as i64);
        let mut b = vec![
            format!("Contents of shadow copy set ID: {set}"),
            format!(
                "   Contained {} shadow copies at creation time: {when}",
                in_set.len()
            ),
        ];
        for r in in_set {
            let Some(view) = live.iter().find(|v| v.id == r.id) else {
                continue;
            };
            let vol = &storage[view.volume.idx()];
            let provider = &machine.providers[r.provider.idx()];
            b.push(format!("      Shadow Copy ID: {}", r.id));
            b.push(format!(
                "         Original Volume: {}",
                volume_display(&vol.name, vol.guid)
            ));
            b.push(format!(
                "         Shadow Copy Volume: \\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{}",
                view.device
            ));
            b.push(format!(
                "         Originating Machine: {}",
                scenario.machine_name
            ));
            b.push(format!(
                "         Service Machine: {}",
                scenario.machine_name
            ));
            b.push(format!("         Provider: '{}'", provider.name));
            b.push(format!("         Type: {}", r.context.vssadmin_type()));
            let attrs = attr::vssadmin_attributes(shadow_attributes(r.context, provider.kind));
            if attrs.is_empty() {
                b.push("         Attributes:".to_string());
            } else {
                b.push(format!("         Attributes: {attrs}"));
            }
        }
        blocks.push(b);
    }
    Ok(assemble(&blocks, eol(lf)))
}

/// The attribute bits of a shadow: the service's own (`m_lSnapshotAttributes` of
/// `GetSnapshotProperties`, rule 35).
pub use model::coordinator::shadow_attributes;

/// `vssadmin list shadowstorage`: one association per volume that has one, in volume order.
///
/// Which volumes (our choice, rule 29c): a volume is listed when a system-provider shadow has
/// been made on it at or before the viewed instant (Windows creates the association with the
/// first shadow and keeps it after the shadows go), or when its scenario sets a bounded
/// `diff_area` (an association configured in advance, as `vssadmin add shadowstorage` makes).
/// The diff area lives on the volume itself, so `For volume` and `Shadow Copy Storage volume`
/// are the same.
///
/// Sizes: see [`format_size`] and [`percent`]. Allocated (our model; rule S22): the used bytes
/// rounded up to the 32 MiB growth granule, and, while the volume holds a shadow, at least the
/// diff-area minimum of rule 28 (the initial diff-area file); never more than the
/// maximum when one is set, and never less than the used bytes.
pub fn list_shadowstorage(world: &World, lf: bool) -> View {
    let coord = world.coordinator();
    let machine = coord.machine();
    let profile = coord.profile();
    let blocks: Vec<Vec<String>> = world
        .storage_views()
        .into_iter()
        .filter(|s| {
            s.max_bytes.is_some()
                || coord.shadows().iter().any(|r| {
                    r.volume.idx() == s.volume
                        && machine.providers[r.provider.idx()].kind == ProviderType::System
                })
        })
        .map(|s| {
            let vol = volume_display(&s.name, s.guid);
            let allocated = allocated_bytes(
                s.used_bytes,
                s.max_bytes,
                (s.n_shadows > 0).then(|| profile.diff_area_min(s.volume_bytes)),
            );
            let max = match s.max_bytes {
                Some(m) => format!("{} ({}%)", format_size(m), percent(m, s.volume_bytes)),
                None => "UNBOUNDED (100%)".to_string(),
            };
            vec![
                "Shadow Copy Storage association".to_string(),
                format!("   For volume: {vol}"),
                format!("   Shadow Copy Storage volume: {vol}"),
                format!(
                    "   Used Shadow Copy Storage space: {} ({}%)",
                    format_size(s.used_bytes),
                    percent(s.used_bytes, s.volume_bytes)
                ),
                format!(
                    "   Allocated Shadow Copy Storage space: {} ({}%)",
                    format_size(allocated),
                    percent(allocated, s.volume_bytes)
                ),
                format!("   Maximum Shadow Copy Storage space: {max}"),
            ]
        })
        .collect();
    assemble(&blocks, eol(lf))
}

/// Allocated diff-area bytes (our model, see [`list_shadowstorage`]): `used` rounded up to
/// [`DIFF_AREA_GRANULE`], at least `minimum` when given, at most `max` when bounded, never below
/// `used`.
pub fn allocated_bytes(used: u64, max: Option<u64>, minimum: Option<u64>) -> u64 {
    let mut a = used
        .div_ceil(DIFF_AREA_GRANULE)
        .saturating_mul(DIFF_AREA_GRANULE);
    if let Some(m) = minimum {
        a = a.max(m);
    }
    if let Some(m) = max {
        a = a.min(m);
    }
    a.max(used)
}

/// The share of the volume in whole percent, rounded down (rule 29c); 0 for an empty volume.
pub fn percent(bytes: u64, volume_bytes: u64) -> u64 {
    if volume_bytes == 0 {
        return 0;
    }
    (u128::from(bytes) * 100 / u128::from(volume_bytes)) as u64
}

/// A size as `list shadowstorage` prints it (rule 29c; our formatter until a capture confirms
/// it): below 1024, the whole number of `bytes` (`0 bytes`, `1023 bytes`); otherwise the
/// largest 1024-based unit (`KB`, `MB`, `GB`, `TB`) in which the value is at least 1, with three
/// significant digits, truncated rather than rounded (`1.93 GB`, `22.1 GB`, `512 MB`,
/// `1.00 GB`), so a value never rounds up into `1024`. A value of 1000 to 1023 units prints as
/// a whole number (`1000 KB`), and so do values above 999 TB.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut k = 0;
    while k + 1 < UNITS.len() && bytes >> (10 * (k + 2)) > 0 {
        k += 1;
    }
    let div = 1u128 << (10 * (k + 1));
    let b = u128::from(bytes);
    let whole = b / div;
    let unit = UNITS[k];
    if whole >= 100 {
        format!("{whole} {unit}")
    } else if whole >= 10 {
        let tenths = b * 10 / div;
        format!("{}.{} {unit}", tenths / 10, tenths % 10)
    } else {
        let hundredths = b * 100 / div;
        format!("{}.{:02} {unit}", hundredths / 100, hundredths % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    #[test]
    fn sizes_three_significant_digits_1024_based() {
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(1), "1 bytes");
        assert_eq!(format_size(1023), "1023 bytes");
        assert_eq!(format_size(1024), "1.00 KB");
        assert_eq!(format_size(1536), "1.50 KB");
        assert_eq!(format_size(1000 << 10), "1000 KB");
        assert_eq!(format_size((1 << 20) - 1), "1023 KB");
        assert_eq!(format_size(32 << 20), "32.0 MB");
        assert_eq!(format_size(512 << 20), "512 MB");
        assert_eq!(format_size(1 << 30), "1.00 GB");
        // 1.93 GB and 22.1 GB of the captures (the first whole byte at or above them).
        assert_eq!(format_size(2_072_321_721), "1.93 GB");
        assert_eq!(format_size(2_072_321_720), "1.92 GB");
        assert_eq!(format_size(23_729_694_311), "22.1 GB");
        assert_eq!(format_size(23_729_694_310), "22.0 GB");
        // Truncated, never rounded up: just under 2 GiB is 1.99 GB.
        assert_eq!(format_size((2 << 30) - 1), "1.99 GB");
        assert_eq!(format_size(1 << 40), "1.00 TB");
        assert_eq!(format_size(2048 << 40), "2048 TB");
        assert_eq!(format_size(u64::MAX), "16777215 TB");
    }

    #[test]
    fn percent_rounds_down() {
        assert_eq!(percent(0, 100), 0);
        assert_eq!(percent(99, 10_000), 0);
        assert_eq!(percent(4_999, 100_000), 4);
        assert_eq!(percent(u64::MAX, u64::MAX), 100);
        assert_eq!(percent(5, 0), 0);
    }

    #[test]
    fn allocation_in_granules_between_minimum_and_maximum() {
        let g = DIFF_AREA_GRANULE;
        assert_eq!(allocated_bytes(0, None, None), 0);
        assert_eq!(allocated_bytes(1, None, None), g);
        assert_eq!(allocated_bytes(g, None, None), g);
        assert_eq!(allocated_bytes(g + 1, None, None), 2 * g);
        assert_eq!(allocated_bytes(0, None, Some(10 * g)), 10 * g);
        assert_eq!(allocated_bytes(g + 1, Some(g + 100), None), g + 100);
        assert_eq!(allocated_bytes(0, Some(g / 2), Some(g)), g / 2);
    }

    #[test]
    fn volume_labels() {
        assert_eq!(volume_label("C:\\"), "(C:)");
        assert_eq!(volume_label("D:\\mnt\\data\\"), "(D:\\mnt\\data)");
        assert_eq!(
            volume_display("C:\\", Guid(0x67a44989_8413_4a7c_a616_79385dae8605)),
            "(C:)\\\\?\\Volume{67a44989-8413-4a7c-a616-79385dae8605}\\"
        );
    }

    #[test]
    fn objects_parse_case_insensitively() {
        assert_eq!(Object::parse("writers"), Some(Object::Writers));
        assert_eq!(Object::parse("ShadowStorage"), Some(Object::ShadowStorage));
        assert_eq!(Object::parse("volumes"), None);
    }

    const TINY: &str = r#"
name = "tiny"
[[volume]]
name = "C:"
size = "64MiB"
[[writer]]
name = "System Writer"
class_id = "{e8132975-6f93-4464-a53e-1050253ae220}"
[[writer.component]]
name = "System Files"
volumes = ["C:"]
[[writer]]
name = "WMI Writer"
class_id = "{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}"
[[writer.component]]
name = "WMI"
volumes = ["C:"]
[[requester]]
name = "backup"
context = "VSS_CTX_BACKUP"
"#;

    #[test]
    fn list_writers_byte_for_byte() {
        let sc = parse("tiny.toml", "tiny", TINY).unwrap();
        let world = world_at(&sc, 0, None);
        let inst: Vec<String> = world
            .coordinator()
            .machine()
            .writers
            .iter()
            .map(|w| w.instance_id.to_string())
            .collect();
        let expected = format!(
            "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n\
             (C) Copyright 2001-2013 Microsoft Corp.\r\n\
             \r\n\
             Writer name: 'System Writer'\r\n   \
             Writer Id: {{e8132975-6f93-4464-a53e-1050253ae220}}\r\n   \
             Writer Instance Id: {}\r\n   \
             State: [1] Stable\r\n   \
             Last error: No error\r\n\
             \r\n\
             Writer name: 'WMI Writer'\r\n   \
             Writer Id: {{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}}\r\n   \
             Writer Instance Id: {}\r\n   \
             State: [1] Stable\r\n   \
             Last error: No error\r\n",
            inst[0], inst[1]
        );
        let view = list_writers(&world, false);
        assert_eq!(view.text, expected);
        assert!(view.listed);
        assert_eq!(view.exit_code(), 0);
        assert_eq!(banner_len(false), expected.find("Writer name").unwrap());
        let lf = list_writers(&world, true);
        assert_eq!(lf.text, expected.replace("\r\n", "\n"));
        assert_eq!(banner_len(true), lf.text.find("Writer name").unwrap());
    }

    #[test]
    fn nothing_to_list() {
        let sc = parse("tiny.toml", "tiny", TINY).unwrap();
        let world = world_at(&sc, 0, None);
        let view = list_shadows(&world, &sc, false).unwrap();
        assert!(!view.listed);
        assert_eq!(view.exit_code(), 1);
        assert_eq!(
            view.text,
            "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n\
             (C) Copyright 2001-2013 Microsoft Corp.\r\n\
             \r\n\
             No items found that satisfy the query.\r\n"
        );
    }

    #[test]
    fn shadows_during_the_backup() {
        let sc = parse("tiny.toml", "tiny", TINY).unwrap();
        // Find an instant with the shadow alive by stepping the world.
        let mut world = World::new(&sc, 0, Trace::off());
        while world.shadow_views().is_empty() {
            assert!(world.step().is_none(), "the run ended without a shadow");
        }
        let view = list_shadows(&world, &sc, true).unwrap();
        let lines: Vec<&str> = view.text.lines().collect();
        assert_eq!(lines.len(), 3 + 2 + 8);
        assert!(lines[3].starts_with("Contents of shadow copy set ID: {"));
        assert_eq!(
            lines[4],
            "   Contained 1 shadow copies at creation time: 1/1/2024 12:00:00 AM"
        );
        assert!(lines[6].starts_with("         Original Volume: (C:)\\\\?\\Volume{"));
        assert_eq!(
            lines[7],
            "         Shadow Copy Volume: \\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1"
        );
        assert_eq!(lines[8], "         Originating Machine: vss-sim.local");
        assert_eq!(
            lines[10],
            "         Provider: 'Microsoft Software Shadow Copy provider 1.0'"
        );
        assert_eq!(lines[11], "         Type: Backup");
        assert_eq!(lines[12], "         Attributes: Differential");
    }
}
