//! Scenario files: TOML → raw serde structs → a validated [`Scenario`], and back.
//!
//! Keys and values use VSS names and spellings (`VSS_WS_FAILED_AT_FREEZE`, `OnFreeze`,
//! `VSS_CTX_BACKUP`); durations carry a unit. Every key is documented in `scenarios/README.md`.
//! A malformed file yields a [`ScenarioError`] naming the file, line and key, and the fix.
//!
//! - `raw`: the file's shape, as serde reads and writes it;
//! - `check`: one check per section, from the raw shape to the validated types below;
//! - `write`: [`Scenario::to_toml`], the canonical text (`vss-sim scenario fmt`), and
//!   `Serialize` for [`Scenario`];
//! - `faults`: [`Scenario::faults`] and [`Scenario::without_fault`], the injected faults as a
//!   list of [`FaultRef`]s; [`Scenario::check`] validates a scenario changed in memory;
//! - `ctx`: where an error is;
//! - [`limits`]: the upper bound of every collection a scenario declares;
//! - `suggest`: the closest valid spellings of an unknown name.

use std::fmt;

use model::ids::Guid;
use model::time::Duration;
use model::vss::{
    ApplicationLevel, Hresult, ProviderCall, ProviderType, SnapshotContext, UsageType, WriterEvent,
    WriterState,
};

mod check;
mod ctx;
mod faults;
pub mod limits;
mod raw;
pub(crate) mod suggest;
mod write;

pub use faults::FaultRef;

use ctx::{Ctx, key_on_line};
use raw::RawScenario;

/// A scenario file that could not be used: where, which key, what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column (in characters) of the exact place, 0 when only the line is known.
    pub column: usize,
    /// The key at fault (dotted path or the key on that line); empty when there is none (a
    /// syntax error between keys, a file that is not UTF-8).
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    /// `FILE:LINE:COLUMN: key `K`: MESSAGE` on one line: the column and the key are left out
    /// when unknown, and control characters from the file (a value holding a newline) are
    /// escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", one_line(&self.file))?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "key `{}`: ", one_line(&self.key))?;
        }
        f.write_str(&one_line(&self.message))
    }
}

/// `s` with its control characters escaped (`\n`, `\t`, `\u{7f}`), so a message stays on one
/// line whatever the file holds.
fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

impl std::error::Error for ScenarioError {}

/// A volume of the simulated machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Canonical name with a trailing backslash, e.g. `C:\`.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Block size in bytes.
    pub block_size: u32,
    /// Diff-area capacity in bytes; `None` is `UNBOUNDED`.
    pub diff_area: Option<u64>,
    /// A removable (or otherwise non-local) volume: the system provider does not support it
    /// (rule S17), so only a provider that lists it can shadow it.
    pub removable: bool,
}

/// An extra provider (the system provider is always registered first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSpec {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ProviderType,
    /// Provider id.
    pub id: Option<Guid>,
    /// Version string.
    pub version: String,
    /// Supported volumes (indices); `None` for all.
    pub volumes: Option<Vec<usize>>,
    /// Latency overrides.
    pub latency: Vec<(ProviderCall, Duration)>,
    /// Faults.
    pub faults: Vec<model::provider::ProviderFault>,
}

/// A writer fault entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterFaultSpec {
    /// Event.
    pub event: WriterEvent,
    /// Effect.
    pub action: model::writer::FaultAction,
    /// First N sessions only.
    pub sessions: Option<u32>,
}

/// A component: name, logical path and the volumes (indices) its files lie on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentSpec {
    /// Name.
    pub name: String,
    /// Logical path.
    pub logical_path: String,
    /// Volume indices.
    pub volumes: Vec<usize>,
}

/// A writer instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterSpec {
    /// Writer name.
    pub name: String,
    /// Class id; drawn from the seed when absent.
    pub class_id: Option<Guid>,
    /// Application level.
    pub level: ApplicationLevel,
    /// Usage type.
    pub usage: UsageType,
    /// `dwTimeoutFreeze`; the profile default when absent.
    pub freeze_timeout: Option<Duration>,
    /// Rule 5b knob; the profile default when absent.
    pub checks_volume_set: Option<bool>,
    /// Latency overrides.
    pub latency: Vec<(WriterEvent, Duration)>,
    /// Components.
    pub components: Vec<ComponentSpec>,
    /// Faults.
    pub faults: Vec<WriterFaultSpec>,
}

/// How a workload picks blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Uniformly random blocks of its region.
    Uniform,
    /// Block after block, wrapping at the end of its region.
    Sequential,
    /// 90% of writes to the first 10% of the region.
    Hotspot,
}

/// An application writing to volumes for the whole run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadSpec {
    /// Name.
    pub name: String,
    /// Volume indices.
    pub volumes: Vec<usize>,
    /// Writes per second while on.
    pub rate: u64,
    /// Block choice.
    pub pattern: Pattern,
    /// Region size in blocks (from block 0); the whole volume when absent.
    pub blocks: Option<u64>,
    /// Latency of one write.
    pub write_latency: Duration,
    /// Bursts: on for this long, then off (`None`: steady).
    pub burst: Option<(Duration, Duration)>,
    /// The writer's application this workload is (`None`: a plain workload of no writer).
    pub app: Option<AppSpec>,
}

/// A workload that is a writer's application: its kind and the writer that freezes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppSpec {
    /// What it writes and when an image of it is consistent.
    pub kind: model::app::AppKind,
    /// The writer (index into the scenario's writers).
    pub writer: usize,
    /// A database's data pages: blocks `0..data_blocks` of its first volume (from the
    /// workload's `blocks`, else what the volume holds besides the log).
    pub data_blocks: u64,
}

/// A requester running the standard sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequesterSpec {
    /// Name.
    pub name: String,
    /// Context.
    pub context: SnapshotContext,
    /// Volume indices to back up.
    pub volumes: Vec<usize>,
    /// When it starts.
    pub start: Duration,
    /// Read bandwidth in bytes per second.
    pub read_bandwidth: u64,
    /// When the requester process goes away (rule 27), if it does.
    pub go_away_at: Option<Duration>,
    /// Extra backups to run after the first (the standard sequence only).
    pub repeat: u32,
    /// Retry and abandon rules (the standard sequence only).
    pub policy: model::requester::Policy,
    /// A script: the calls to make, instead of the standard sequence.
    pub script: Option<Vec<model::requester::ScriptStep>>,
    /// A deliberately wrong standard requester (`kind`; `None`: the correct one).
    pub flaw: Option<model::requester::Flaw>,
    /// For each step of `script` (empty without one), the names it gave for objects the
    /// machine does not have, as written: a step may name them on purpose to show
    /// `VSS_E_OBJECT_NOT_FOUND`, and the canonical text prints them back.
    pub script_names: Vec<StepNames>,
}

/// What a script step named that the machine does not declare (all `None` for other steps).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepNames {
    /// `AddComponent`'s `writer`, when the writer or its component is not declared.
    pub writer: Option<String>,
    /// `AddComponent`'s `component`, likewise.
    pub component: Option<String>,
    /// `AddToSnapshotSet`'s or `IsVolumeSupported`'s `volume`, when no such volume is declared.
    pub volume: Option<String>,
}

/// One expected call result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallExpect {
    /// Requester name; the first requester when absent.
    pub requester: Option<String>,
    /// Call name.
    pub call: String,
    /// Which occurrence, 1-based.
    pub nth: u32,
    /// The call's own return.
    pub result: Option<Hresult>,
    /// `QueryStatus`'s answer.
    pub async_result: Option<Hresult>,
    /// For `GatherWriterStatus`: the status it must have returned for these writers (name,
    /// state, last error).
    pub writers: Vec<(String, Option<WriterState>, Option<Hresult>)>,
}

/// The `[expect]` table.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Expect {
    /// Final result of the first requester.
    pub result: Option<Hresult>,
    /// Per requester.
    pub requesters: Vec<(String, Hresult)>,
    /// Per writer: state and last error.
    pub writers: Vec<(String, Option<WriterState>, Option<Hresult>)>,
    /// Per call.
    pub calls: Vec<CallExpect>,
    /// Violations the scenario deliberately shows.
    pub violations: Vec<String>,
    /// The findings the run must make, exactly (rule 33); `None`: not checked.
    pub findings: Option<Vec<String>>,
    /// Shadow counts by status.
    pub snapshots: Vec<(String, u32)>,
}

/// `[run] heal_at` and `settle_within` (rule 31): from `at` on no fault fires and every stuck
/// handler or provider call answers `S_OK`; by `at + settle_within` the run must have ended
/// settled (the `settles` oracle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heal {
    /// When faults stop, from virtual time 0.
    pub at: Duration,
    /// How long after `at` the machine has to settle.
    pub settle_within: Duration,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Name (the file stem when the file has no `name`).
    pub name: String,
    /// Description.
    pub description: String,
    /// Seed in the file (0 when absent).
    pub seed: u64,
    /// Machine name.
    pub machine_name: String,
    /// Virtual epoch, as written (RFC 3339, UTC).
    pub epoch: String,
    /// Profile with overrides applied.
    pub profile: model::profile::Profile,
    /// Run limit in virtual time.
    pub max_virtual_time: Duration,
    /// Step budget.
    pub max_steps: u64,
    /// The healing phase, `[run] heal_at` and `settle_within` (rule 31); `None`: faults never
    /// stop.
    pub heal: Option<Heal>,
    /// Volumes.
    pub volumes: Vec<VolumeSpec>,
    /// Latency overrides for the system provider.
    pub system_provider_latency: Vec<(ProviderCall, Duration)>,
    /// Faults of the system provider.
    pub system_provider_faults: Vec<model::provider::ProviderFault>,
    /// Extra providers.
    pub providers: Vec<ProviderSpec>,
    /// Writers.
    pub writers: Vec<WriterSpec>,
    /// Workloads.
    pub workloads: Vec<WorkloadSpec>,
    /// Requesters.
    pub requesters: Vec<RequesterSpec>,
    /// Expectations.
    pub expect: Expect,
}

/// The embedded default scenario (`scenarios/happy/default.toml`).
pub const DEFAULT_SCENARIO: &str = include_str!("../../../scenarios/happy/default.toml");

/// The names a scenario may list in `expect.violations`: every oracle's, in the order of
/// [`crate::oracle::ALL`] (`vss-sim oracles` prints them).
pub const VIOLATION_NAMES: &[&str] = &{
    let all = crate::oracle::ALL;
    let mut names = [""; crate::oracle::ALL.len()];
    let mut i = 0;
    while i < all.len() {
        names[i] = all[i].info.name;
        i += 1;
    }
    names
};

/// Call names a scenario may name in `expect.calls`.
pub const CALL_NAMES: &[&str] = &[
    "InitializeForBackup",
    "SetContext",
    "SetBackupState",
    "GatherWriterMetadata",
    "AddComponent",
    "StartSnapshotSet",
    "AddToSnapshotSet",
    "PrepareForBackup",
    "DoSnapshotSet",
    "GatherWriterStatus",
    "SetBackupSucceeded",
    "BackupComplete",
    "AbortBackup",
    "Cancel",
    "Release",
    "IsVolumeSupported",
    "GetSnapshotProperties",
    "Query",
    "DeleteSnapshots",
    "DisableWriterClasses",
    "EnableWriterClasses",
    "ReadShadow",
];

/// Canonical volume name: `C:` and `c:\` become `C:\`; other names get a trailing backslash.
pub fn canonical_volume(name: &str) -> String {
    let n = name.trim();
    let mut s = if n.len() >= 2 && n.as_bytes()[1] == b':' {
        let mut c = n[..1].to_ascii_uppercase();
        c.push_str(&n[1..]);
        c
    } else {
        n.to_string()
    };
    if !s.ends_with('\\') {
        s.push('\\');
    }
    s
}

/// Reads, parses and validates the scenario file at `path`; the error is one line for people
/// (a directory, a file that cannot be read, or the scenario error with its file and line).
pub fn load_file(path: &std::path::Path) -> Result<Scenario, String> {
    let shown = path.display().to_string();
    let src = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::IsADirectory => {
            format!("{shown}: is a directory; name a scenario file (.toml)")
        }
        _ => format!("{shown}: cannot read the scenario: {e}; check the path"),
    })?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    parse_bytes(&shown, stem, &src).map_err(|e| e.to_string())
}

/// Parses and validates a scenario read as bytes: a file that is not UTF-8 is refused at the
/// line and column of its first bad byte. `file` names it in errors; `stem` is its default name.
pub fn parse_bytes(file: &str, stem: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    match std::str::from_utf8(bytes) {
        Ok(src) => parse(file, stem, src),
        Err(e) => {
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("the valid prefix");
            let line_start = good.rfind('\n').map(|i| i + 1).unwrap_or(0);
            Err(ScenarioError {
                file: file.to_string(),
                line: good.matches('\n').count() + 1,
                column: good[line_start..].chars().count() + 1,
                key: String::new(),
                message: format!(
                    "byte 0x{:02x} is not UTF-8: a scenario is a UTF-8 TOML file; re-save it as \
                     UTF-8",
                    bytes[e.valid_up_to()]
                ),
            })
        }
    }
}

/// Parses and validates a scenario. `file` names it in errors; `stem` is its default name.
pub fn parse(file: &str, stem: &str, src: &str) -> Result<Scenario, ScenarioError> {
    parse_with(file, stem, src, false)
}

/// Like [`parse`], for a file that supplies the machine while code supplies the roles
/// ([`crate::harness::Simulation`]): it may declare no `[[requester]]`.
pub fn parse_machine(file: &str, stem: &str, src: &str) -> Result<Scenario, ScenarioError> {
    parse_with(file, stem, src, true)
}

fn parse_with(
    file: &str,
    stem: &str,
    src: &str,
    roles_in_code: bool,
) -> Result<Scenario, ScenarioError> {
    let cx = Ctx {
        file,
        src,
        roles_in_code,
    };
    check::prescan(&cx)?;
    let raw: RawScenario = toml::from_str(src).map_err(|e| toml_error(&cx, &e))?;
    check::validate(&cx, stem, raw)
}

/// A TOML syntax or type error, at its line (and, for a syntax error, its column), with the key
/// written there (if any).
fn toml_error(cx: &Ctx<'_>, e: &toml::de::Error) -> ScenarioError {
    // A syntax error is one the document itself has, whatever the shape of a scenario.
    let syntax = cx.src.parse::<toml::Table>().is_err();
    let (line, column, mut key) = match e.span() {
        Some(span) => {
            let (line, column) = cx.line_column(span.start);
            let column = if syntax { column } else { 0 };
            (line, column, key_on_line(cx.src, span.start))
        }
        None => (0, 0, String::new()),
    };
    let mut message = e.message().trim().to_string();
    // An unknown key is named by the message itself (the line may hold several keys).
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            key = field.to_string();
            message = format!(
                "unknown field `{field}`; {}; see scenarios/README.md for every key",
                suggest_from_list(field, expected)
            );
        }
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        // The key that must be there (the line is the table's).
        if let Some((field, _)) = rest.split_once('`') {
            key = field.to_string();
        }
    } else if let Some(i) = message.find("\"; expected one of ") {
        // A VSS name (`unknown VSS_WRITER_STATE "VSS_WS_FROZEN"; expected one of …`): the
        // closest spellings, not all of them.
        let head = &message[..i];
        let given = head.rsplit_once(" \"").map(|(_, g)| g).unwrap_or("");
        let list = &message[i + "\"; expected one of ".len()..];
        message = format!(
            "{head}\"; {}",
            suggest::did_you_mean(given, list.split(", "))
        );
    } else if message.contains("expected u64") || message.contains("expected u32") {
        message.push_str("; write a whole number from 0 up");
    }
    ScenarioError {
        file: cx.file.to_string(),
        line,
        column,
        key,
        message,
    }
}

/// `did you mean …` from serde's `, expected one of `a`, `b`` (or `, expected `a``) tail.
fn suggest_from_list(given: &str, tail: &str) -> String {
    let names: Vec<&str> = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| !n.is_empty())
        .collect();
    let s = suggest::did_you_mean(given, names);
    if s.is_empty() {
        "this table takes no key".to_string()
    } else {
        s
    }
}
