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
//! - `ctx`: where an error is.

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
mod raw;
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
    /// The key at fault (dotted path or the key on that line).
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}: key `{}`: {}",
                self.file, self.line, self.key, self.message
            )
        } else {
            write!(f, "{}: key `{}`: {}", self.file, self.key, self.message)
        }
    }
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
    /// `AddToSnapshotSet`'s `volume`, when no such volume is declared.
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
    /// Shadow counts by status.
    pub snapshots: Vec<(String, u32)>,
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

/// Parses and validates a scenario. `file` names it in errors; `stem` is its default name.
pub fn parse(file: &str, stem: &str, src: &str) -> Result<Scenario, ScenarioError> {
    let cx = Ctx { file, src };
    let raw: RawScenario = toml::from_str(src).map_err(|e| {
        let (line, mut key) = match e.span() {
            Some(span) => (cx.line_of(span.start), key_on_line(src, span.start)),
            None => (0, String::new()),
        };
        // An unknown key is named by the message itself (the line may hold several keys).
        if let Some(rest) = e.message().strip_prefix("unknown field `") {
            if let Some((field, _)) = rest.split_once('`') {
                key = field.to_string();
            }
        }
        let mut message = e.message().trim().to_string();
        if message.starts_with("unknown field") {
            message.push_str("; see scenarios/README.md for every key");
        } else if message.contains("expected u64") || message.contains("expected u32") {
            message.push_str("; write a whole number from 0 up");
        }
        ScenarioError {
            file: file.to_string(),
            line,
            key,
            message,
        }
    })?;
    check::validate(&cx, stem, raw)
}
