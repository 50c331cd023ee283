//! Scenario files: TOML → raw serde structs → a validated [`Scenario`].
//!
//! Keys and values use VSS names and spellings (`VSS_WS_FAILED_AT_FREEZE`, `OnFreeze`,
//! `VSS_CTX_BACKUP`); durations carry a unit. Every key is documented in `scenarios/README.md`.
//! A malformed file yields a [`ScenarioError`] naming the file, line and key, and the fix.

use std::collections::BTreeMap;
use std::fmt;

use model::ids::Guid;
use model::time::Duration;
use model::vss::{
    ApplicationLevel, BackupType, Hresult, ProtectionLevel, ProviderCall, ProviderType,
    SnapshotContext, UsageType, WriterEvent, WriterState,
};
use serde::Deserialize;
use toml::Spanned;

use crate::units::{Bandwidth, Dur, Size};

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

// -------------------------------------------------------------------------------------------
// Raw file shape
// -------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    #[serde(default)]
    machine: RawMachine,
    #[serde(default)]
    profile: RawProfile,
    #[serde(default)]
    run: RawRun,
    #[serde(default)]
    volume: Vec<RawVolume>,
    #[serde(default)]
    system_provider: RawSystemProvider,
    #[serde(default)]
    provider: Vec<RawProvider>,
    #[serde(default)]
    writer: Vec<RawWriter>,
    #[serde(default)]
    workload: Vec<RawWorkload>,
    #[serde(default)]
    requester: Vec<RawRequester>,
    #[serde(default)]
    expect: RawExpect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMachine {
    name: Option<String>,
    epoch: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    freeze_timeout_default: Option<Dur>,
    flush_and_hold_timeout: Option<Dur>,
    writer_response_timeout: Option<Dur>,
    kb915331_race: Option<bool>,
    checks_volume_set: Option<bool>,
    protection_level: Option<ProtectionLevel>,
    shadows_per_volume_max: Option<u32>,
    client_accessible_shadows_max: Option<u32>,
    volumes_per_set_max: Option<u32>,
    api_call_latency: Option<Dur>,
    flush_latency: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRun {
    max_virtual_time: Option<Dur>,
    max_steps: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    name: Spanned<String>,
    size: Spanned<Size>,
    block_size: Option<Spanned<Size>>,
    diff_area: Option<Spanned<String>>,
    removable: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSystemProvider {
    #[serde(default)]
    latency: BTreeMap<String, Dur>,
    #[serde(default)]
    fault: Vec<RawProviderFault>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProviderFault {
    call: Spanned<String>,
    fail: Option<Hresult>,
    hang: Option<bool>,
    delay: Option<Dur>,
    times: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    #[serde(rename = "type")]
    kind: Spanned<ProviderType>,
    id: Option<Spanned<String>>,
    version: Option<String>,
    volumes: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    latency: BTreeMap<String, Dur>,
    #[serde(default)]
    fault: Vec<RawProviderFault>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWriter {
    name: Spanned<String>,
    class_id: Option<Spanned<String>>,
    level: Option<ApplicationLevel>,
    usage: Option<UsageType>,
    freeze_timeout: Option<Dur>,
    checks_volume_set: Option<bool>,
    #[serde(default)]
    latency: BTreeMap<String, Dur>,
    #[serde(default)]
    component: Vec<RawComponent>,
    #[serde(default)]
    fault: Vec<RawWriterFault>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    name: String,
    logical_path: Option<String>,
    volumes: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWriterFault {
    event: Spanned<WriterEvent>,
    fail: Option<Hresult>,
    hang: Option<bool>,
    delay: Option<Dur>,
    sessions: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: Spanned<String>,
    volumes: Vec<Spanned<String>>,
    rate: u64,
    pattern: Option<Spanned<String>>,
    blocks: Option<u64>,
    write_latency: Option<Dur>,
    burst_on: Option<Dur>,
    burst_off: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequester {
    name: Spanned<String>,
    context: Option<Spanned<SnapshotContext>>,
    volumes: Option<Vec<Spanned<String>>>,
    start: Option<Dur>,
    read_bandwidth: Option<Bandwidth>,
    go_away_at: Option<Dur>,
    repeat: Option<u32>,
    policy: Option<RawPolicy>,
    script: Option<Vec<Spanned<RawStep>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    retries: Option<u32>,
    retry_wait: Option<Dur>,
    retry_on: Option<Vec<Hresult>>,
    writer_failure: Option<Spanned<String>>,
    deadline: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    call: Option<Spanned<String>>,
    volume: Option<Spanned<String>>,
    provider: Option<Spanned<String>>,
    writer: Option<Spanned<String>>,
    component: Option<Spanned<String>>,
    context: Option<SnapshotContext>,
    select_components: Option<bool>,
    backup_type: Option<BackupType>,
    succeeded: Option<bool>,
    wait: Option<bool>,
    sleep: Option<Dur>,
    read: Option<Spanned<String>>,
    go_away: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    result: Option<Hresult>,
    #[serde(default)]
    requesters: BTreeMap<String, Hresult>,
    #[serde(default)]
    writers: BTreeMap<String, RawWriterExpect>,
    #[serde(default)]
    calls: Vec<RawCallExpect>,
    #[serde(default)]
    violations: Vec<String>,
    #[serde(default)]
    snapshots: BTreeMap<String, u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWriterExpect {
    state: Option<WriterState>,
    last_error: Option<Hresult>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallExpect {
    requester: Option<String>,
    call: Spanned<String>,
    nth: Option<u32>,
    result: Option<Hresult>,
    async_result: Option<Hresult>,
}

// -------------------------------------------------------------------------------------------
// Validated scenario
// -------------------------------------------------------------------------------------------

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
    /// (vss-spec.md §9.1), so only a provider that lists it can shadow it.
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
    /// When the requester process goes away (decisions rule 27), if it does.
    pub go_away_at: Option<Duration>,
    /// Extra backups to run after the first (the standard sequence only).
    pub repeat: u32,
    /// Retry and abandon rules (the standard sequence only).
    pub policy: model::requester::Policy,
    /// A script: the calls to make, instead of the standard sequence.
    pub script: Option<Vec<model::requester::ScriptStep>>,
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
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/happy/default.toml");

/// Known invariant names a scenario may list in `expect.violations`.
pub const VIOLATION_NAMES: &[&str] = &[
    "shadow_point_in_time",
    "held_writes_preserved",
    "hold_within_limit",
    "freeze_window",
    "writer_state_graph",
    "failed_set_shadow_left",
    "stalled",
];

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

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.src[..offset.min(self.src.len())].matches('\n').count() + 1
    }

    fn at(&self, span: std::ops::Range<usize>, key: &str, message: String) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: self.line_of(span.start),
            key: key.into(),
            message,
        }
    }

    /// An error located at the first line that mentions `needle`.
    /// An error located at the first line after byte `offset` that mentions `needle` outside a
    /// comment.
    fn near_after(&self, offset: usize, needle: &str, key: &str, message: String) -> ScenarioError {
        let start = self.line_of(offset);
        let line = self
            .src
            .lines()
            .enumerate()
            .skip(start.saturating_sub(1))
            .find(|(_, l)| !l.trim_start().starts_with('#') && l.contains(needle))
            .map(|(i, _)| i + 1)
            .unwrap_or(start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            key: key.into(),
            message,
        }
    }

    fn near(&self, needle: &str, key: &str, message: String) -> ScenarioError {
        let line = self
            .src
            .lines()
            .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
            .map(|i| i + 1)
            .unwrap_or(0);
        ScenarioError {
            file: self.file.to_string(),
            line,
            key: key.into(),
            message,
        }
    }
}

/// The key written on the line of `offset` (text before `=`), or the table header.
fn key_on_line(src: &str, offset: usize) -> String {
    let start = src[..offset.min(src.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line = src[start..].lines().next().unwrap_or("");
    let t = line.trim();
    if let Some((k, _)) = t.split_once('=') {
        return k.trim().to_string();
    }
    t.trim_matches(|c| c == '[' || c == ']').to_string()
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
    validate(&cx, stem, raw)
}

fn validate(cx: &Ctx<'_>, stem: &str, raw: RawScenario) -> Result<Scenario, ScenarioError> {
    if let Some(epoch) = &raw.machine.epoch {
        if let Err(e) = crate::vssadmin::epoch_secs(epoch) {
            return Err(cx.near(
                epoch,
                "machine.epoch",
                format!("{e}; write it like \"2024-01-01T00:00:00Z\""),
            ));
        }
    }
    let mut profile = model::profile::Profile::windows();
    let p = &raw.profile;
    if let Some(v) = p.freeze_timeout_default {
        profile.freeze_timeout_default = v.0;
    }
    if let Some(v) = p.flush_and_hold_timeout {
        profile.flush_and_hold_timeout = v.0;
    }
    if let Some(v) = p.writer_response_timeout {
        profile.writer_response_timeout = v.0;
    }
    if let Some(v) = p.kb915331_race {
        profile.kb915331_race = v;
    }
    if let Some(v) = p.checks_volume_set {
        profile.checks_volume_set = v;
    }
    if let Some(v) = p.protection_level {
        profile.protection_level = v;
    }
    if let Some(v) = p.shadows_per_volume_max {
        profile.shadows_per_volume_max = v;
    }
    if let Some(v) = p.client_accessible_shadows_max {
        profile.client_accessible_shadows_max = v;
    }
    if let Some(v) = p.volumes_per_set_max {
        profile.volumes_per_set_max = v;
    }
    if let Some(v) = p.api_call_latency {
        profile.api_call_latency = v.0;
    }
    if let Some(v) = p.flush_latency {
        profile.flush_latency = v.0;
    }

    // Volumes.
    let mut volumes: Vec<VolumeSpec> = Vec::new();
    for (i, v) in raw.volume.iter().enumerate() {
        let key = format!("volume[{i}].name");
        if v.name.get_ref().trim().is_empty() {
            return Err(cx.at(
                v.name.span(),
                &key,
                "a volume needs a name, like \"C:\" or \"D:\\\\Mount\\\\\"".into(),
            ));
        }
        let name = canonical_volume(v.name.get_ref());
        if volumes.iter().any(|x| x.name == name) {
            return Err(cx.at(
                v.name.span(),
                &key,
                format!("volume {name} is declared twice"),
            ));
        }
        let block_size = v.block_size.as_ref().map(|s| s.get_ref().0).unwrap_or(4096);
        if block_size == 0 || block_size > u32::MAX as u64 || !block_size.is_power_of_two() {
            let span = v
                .block_size
                .as_ref()
                .map(|s| s.span())
                .unwrap_or(v.name.span());
            return Err(cx.at(
                span,
                &format!("volume[{i}].block_size"),
                format!("block size {block_size} must be a power of two, like \"4KiB\""),
            ));
        }
        if v.size.get_ref().0 < block_size {
            return Err(cx.at(
                v.size.span(),
                &format!("volume[{i}].size"),
                "volume is smaller than one block".into(),
            ));
        }
        let diff_area = match v
            .diff_area
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("UNBOUNDED", _)) => None,
            Some((s, span)) => Some(crate::units::parse_size(s).map_err(|e| {
                cx.at(
                    span,
                    &format!("volume[{i}].diff_area"),
                    format!("{e}; or write \"UNBOUNDED\""),
                )
            })?),
        };
        volumes.push(VolumeSpec {
            name,
            bytes: v.size.get_ref().0,
            block_size: block_size as u32,
            diff_area,
            removable: v.removable.unwrap_or(false),
        });
    }
    if volumes.is_empty() {
        return Err(ScenarioError {
            file: cx.file.to_string(),
            line: 0,
            key: "volume".into(),
            message: "the scenario declares no volume; add a [[volume]] table with name and size"
                .into(),
        });
    }
    let vol_ref = |s: &Spanned<String>, key: &str| -> Result<usize, ScenarioError> {
        let name = canonical_volume(s.get_ref());
        volumes.iter().position(|v| v.name == name).ok_or_else(|| {
            let known: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
            cx.at(
                s.span(),
                key,
                format!("no volume named {name}; declared: {}", known.join(", ")),
            )
        })
    };

    // Providers.
    let provider_latency = |table: &BTreeMap<String, Dur>, at: &str| {
        latency_table(
            cx,
            table,
            at,
            "provider call",
            ProviderCall::from_name,
            ProviderCall::NAMES,
        )
    };
    let system_provider_latency =
        provider_latency(&raw.system_provider.latency, "system_provider")?;
    let provider_faults = |list: &[RawProviderFault],
                           at: &str|
     -> Result<Vec<model::provider::ProviderFault>, ScenarioError> {
        let mut out = Vec::new();
        for (j, f) in list.iter().enumerate() {
            let key = format!("{at}.fault[{j}]");
            let call = ProviderCall::from_name(f.call.get_ref()).ok_or_else(|| {
                cx.at(
                    f.call.span(),
                    &format!("{key}.call"),
                    format!(
                        "unknown provider call `{}`; use one of {}",
                        f.call.get_ref(),
                        ProviderCall::NAMES.join(", ")
                    ),
                )
            })?;
            let action = match (f.fail, f.hang, f.delay) {
                (Some(code), None, None) => model::writer::FaultAction::Fail(code),
                (None, Some(true), None) => model::writer::FaultAction::Hang,
                (None, None, Some(d)) => model::writer::FaultAction::Delay(d.0),
                _ => {
                    return Err(cx.at(f.call.span(), &key, "a provider fault needs exactly one of fail = \"VSS_E_...\", hang = true or delay = \"12s\"".into()));
                }
            };
            out.push(model::provider::ProviderFault {
                call,
                action,
                times: f.times,
            });
        }
        Ok(out)
    };
    let system_provider_faults = provider_faults(&raw.system_provider.fault, "system_provider")?;
    let mut providers = Vec::new();
    for (i, p) in raw.provider.iter().enumerate() {
        let kind = *p.kind.get_ref();
        if kind == ProviderType::System || kind == ProviderType::Unknown {
            return Err(cx.at(
                p.kind.span(),
                &format!("provider[{i}].type"),
                "the system provider is always registered; extra providers are VSS_PROV_SOFTWARE or VSS_PROV_HARDWARE".into(),
            ));
        }
        let id = match &p.id {
            None => None,
            Some(s) => Some(Guid::parse(s.get_ref()).ok_or_else(|| {
                cx.at(
                    s.span(),
                    &format!("provider[{i}].id"),
                    "not a GUID like {b5946137-7b9f-4925-af80-51abd60b20d5}".into(),
                )
            })?),
        };
        let vols = match &p.volumes {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|s| vol_ref(s, &format!("provider[{i}].volumes")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let latency = provider_latency(&p.latency, &format!("provider[{i}]"))?;
        let faults = provider_faults(&p.fault, &format!("provider[{i}]"))?;
        providers.push(ProviderSpec {
            name: p.name.clone(),
            kind,
            id,
            version: p.version.clone().unwrap_or_else(|| "1.0".into()),
            volumes: vols,
            latency,
            faults,
        });
    }

    // Writers.
    let mut writers: Vec<WriterSpec> = Vec::new();
    for (i, w) in raw.writer.iter().enumerate() {
        let name = w.name.get_ref().clone();
        if writers.iter().any(|x| x.name == name) {
            return Err(cx.at(
                w.name.span(),
                &format!("writer[{i}].name"),
                format!("writer `{name}` is declared twice"),
            ));
        }
        let class_id = match &w.class_id {
            None => None,
            Some(s) => Some(Guid::parse(s.get_ref()).ok_or_else(|| {
                cx.at(
                    s.span(),
                    &format!("writer[{i}].class_id"),
                    "not a GUID like {e8132975-6f93-4464-a53e-1050253ae220}".into(),
                )
            })?),
        };
        let latency = latency_table(
            cx,
            &w.latency,
            &format!("writer[{i}]"),
            "writer event",
            WriterEvent::from_name,
            WriterEvent::NAMES,
        )?;
        let mut components = Vec::new();
        for (j, c) in w.component.iter().enumerate() {
            let vols = c
                .volumes
                .iter()
                .map(|s| vol_ref(s, &format!("writer[{i}].component[{j}].volumes")))
                .collect::<Result<Vec<_>, _>>()?;
            components.push(ComponentSpec {
                name: c.name.clone(),
                logical_path: c.logical_path.clone().unwrap_or_default(),
                volumes: vols,
            });
        }
        let mut faults = Vec::new();
        for (j, f) in w.fault.iter().enumerate() {
            let key = format!("writer[{i}].fault[{j}]");
            let event = *f.event.get_ref();
            let span = f.event.span();
            let action = match (f.fail, f.hang, f.delay) {
                (Some(code), None, None) => {
                    if event != WriterEvent::Identify && !code.is_writer_failure() {
                        return Err(cx.near_after(span.start, code.name(), &format!("{key}.fail"), format!("{code} is not a writer failure code; use one of the VSS_E_WRITERERROR_* codes")));
                    }
                    model::writer::FaultAction::Fail(code)
                }
                (None, Some(true), None) => model::writer::FaultAction::Hang,
                (None, None, Some(d)) => model::writer::FaultAction::Delay(d.0),
                _ => {
                    return Err(cx.at(span, &key, "a fault needs exactly one of fail = \"VSS_E_...\", hang = true or delay = \"70s\"".into()));
                }
            };
            faults.push(WriterFaultSpec {
                event,
                action,
                sessions: f.sessions,
            });
        }
        writers.push(WriterSpec {
            name,
            class_id,
            level: w.level.unwrap_or(ApplicationLevel::FrontEnd),
            usage: w.usage.unwrap_or(UsageType::UserData),
            freeze_timeout: w.freeze_timeout.map(|d| d.0),
            checks_volume_set: w.checks_volume_set,
            latency,
            components,
            faults,
        });
    }

    // Workloads.
    let mut workloads = Vec::new();
    for (i, w) in raw.workload.iter().enumerate() {
        let vols = w
            .volumes
            .iter()
            .map(|s| vol_ref(s, &format!("workload[{i}].volumes")))
            .collect::<Result<Vec<_>, _>>()?;
        if vols.is_empty() {
            return Err(cx.at(
                w.name.span(),
                &format!("workload[{i}].volumes"),
                "a workload writes to at least one volume".into(),
            ));
        }
        if w.rate == 0 || w.rate > 10_000_000 {
            return Err(cx.at(
                w.name.span(),
                &format!("workload[{i}].rate"),
                "rate is writes per second, from 1 to 10000000".into(),
            ));
        }
        let pattern = match w.pattern.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("uniform") => Pattern::Uniform,
            Some("sequential") => Pattern::Sequential,
            Some("hotspot") => Pattern::Hotspot,
            Some(other) => {
                let span = w.pattern.as_ref().expect("some").span();
                return Err(cx.at(
                    span,
                    &format!("workload[{i}].pattern"),
                    format!("unknown pattern `{other}`; use uniform, sequential or hotspot"),
                ));
            }
        };
        if w.blocks == Some(0) {
            return Err(cx.at(
                w.name.span(),
                &format!("workload[{i}].blocks"),
                "blocks must be at least 1".into(),
            ));
        }
        let burst = match (w.burst_on, w.burst_off) {
            (None, None) => None,
            (Some(on), Some(off)) if on.0 > Duration::ZERO => Some((on.0, off.0)),
            _ => {
                return Err(cx.at(
                    w.name.span(),
                    &format!("workload[{i}].burst_on"),
                    "bursts need both burst_on (above zero) and burst_off".into(),
                ));
            }
        };
        workloads.push(WorkloadSpec {
            name: w.name.get_ref().clone(),
            volumes: vols,
            rate: w.rate,
            pattern,
            blocks: w.blocks,
            write_latency: w
                .write_latency
                .map(|d| d.0)
                .unwrap_or(Duration::from_us(200)),
            burst,
        });
    }

    // Requesters.
    let mut requesters = Vec::new();
    for (i, r) in raw.requester.iter().enumerate() {
        if requesters
            .iter()
            .any(|x: &RequesterSpec| &x.name == r.name.get_ref())
        {
            return Err(cx.at(
                r.name.span(),
                &format!("requester[{i}].name"),
                format!("requester `{}` is declared twice", r.name.get_ref()),
            ));
        }
        let vols = match &r.volumes {
            None => (0..volumes.len()).collect(),
            Some(list) => list
                .iter()
                .map(|s| vol_ref(s, &format!("requester[{i}].volumes")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let context = r
            .context
            .as_ref()
            .map(|c| *c.get_ref())
            .unwrap_or(SnapshotContext::Backup);
        if context == SnapshotContext::All {
            let span = r.context.as_ref().expect("context given").span();
            return Err(cx.at(span, &format!("requester[{i}].context"), "VSS_CTX_ALL is only for administrative calls; use VSS_CTX_BACKUP or another creation context".into()));
        }
        let mut policy = model::requester::Policy::default();
        if let Some(p) = &r.policy {
            if let Some(n) = p.retries {
                policy.retries = n;
            }
            if let Some(d) = p.retry_wait {
                policy.retry_wait = d.0;
            }
            if let Some(list) = &p.retry_on {
                policy.retry_on = list.clone();
            }
            if let Some(w) = &p.writer_failure {
                use model::requester::WriterFailurePolicy as W;
                policy.writer_failure = match w.get_ref().as_str() {
                    "continue" => W::Continue,
                    "abort" => W::Abort,
                    "retry" => W::Retry,
                    other => {
                        return Err(cx.at(
                            w.span(),
                            &format!("requester[{i}].policy.writer_failure"),
                            format!(
                                "unknown writer_failure `{other}`; use continue, abort or retry"
                            ),
                        ));
                    }
                };
            }
            policy.deadline = p.deadline.map(|d| d.0);
        }
        let script = match &r.script {
            None => None,
            Some(steps) => Some(
                steps
                    .iter()
                    .enumerate()
                    .map(|(j, st)| {
                        script_step(
                            cx,
                            &format!("requester[{i}].script[{j}]"),
                            st,
                            &volumes,
                            &providers,
                            &writers,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        if script.is_some() && (r.policy.is_some() || r.repeat.is_some()) {
            return Err(cx.at(r.name.span(), &format!("requester[{i}].script"), "a scripted requester makes exactly its calls: policy and repeat apply to the standard sequence only".into()));
        }
        if script.is_some() {
            // A script sets its context with a SetContext step and names volumes in its
            // AddToSnapshotSet steps: these keys would be silently ignored.
            if let Some(c) = &r.context {
                return Err(cx.at(c.span(), &format!("requester[{i}].context"), "a scripted requester takes its context from a { call = \"SetContext\", context = ... } step; remove this key".into()));
            }
            if r.volumes.is_some() {
                let span = r
                    .volumes
                    .as_ref()
                    .and_then(|v| v.first())
                    .map(|v| v.span())
                    .unwrap_or(r.name.span());
                return Err(cx.at(span, &format!("requester[{i}].volumes"), "a scripted requester names its volumes in AddToSnapshotSet steps; remove this key".into()));
            }
        } else if vols.is_empty() {
            return Err(cx.at(r.name.span(), &format!("requester[{i}].volumes"), "the standard requester backs up at least one volume; list one or leave `volumes` out for all".into()));
        }
        requesters.push(RequesterSpec {
            name: r.name.get_ref().clone(),
            context,
            volumes: vols,
            start: r.start.map(|d| d.0).unwrap_or(Duration::ZERO),
            read_bandwidth: r.read_bandwidth.map(|b| b.0).unwrap_or(200_000_000),
            go_away_at: r.go_away_at.map(|d| d.0),
            repeat: r.repeat.unwrap_or(0),
            policy,
            script,
        });
    }
    if requesters.is_empty() {
        return Err(ScenarioError {
            file: cx.file.to_string(),
            line: 0,
            key: "requester".into(),
            message: "the scenario declares no requester; add a [[requester]] table with a name"
                .into(),
        });
    }

    // Expectations.
    let e = raw.expect;
    for name in e.requesters.keys() {
        if !requesters.iter().any(|r| &r.name == name) {
            return Err(cx.near(
                name,
                &format!("expect.requesters.{name}"),
                format!("no requester named `{name}`"),
            ));
        }
    }
    for name in e.writers.keys() {
        if !writers.iter().any(|w| &w.name == name) {
            return Err(cx.near(
                name,
                &format!("expect.writers.{name}"),
                format!("no writer named `{name}`"),
            ));
        }
    }
    for v in &e.violations {
        if !VIOLATION_NAMES.contains(&v.as_str()) {
            return Err(cx.near(
                v,
                "expect.violations",
                format!(
                    "unknown violation `{v}`; known: {}",
                    VIOLATION_NAMES.join(", ")
                ),
            ));
        }
    }
    for status in e.snapshots.keys() {
        if ![
            "exists",
            "released",
            "deleted",
            "aborted",
            "diff_area_full",
            "recycled",
        ]
        .contains(&status.as_str())
        {
            return Err(cx.near(
                status,
                &format!("expect.snapshots.{status}"),
                "status is one of exists, released, deleted, aborted, diff_area_full, recycled"
                    .into(),
            ));
        }
    }
    let mut calls = Vec::new();
    for (i, c) in e.calls.iter().enumerate() {
        if let Some(r) = &c.requester {
            if !requesters.iter().any(|x| &x.name == r) {
                return Err(cx.near(
                    r,
                    &format!("expect.calls[{i}].requester"),
                    format!("no requester named `{r}`"),
                ));
            }
        }
        if !CALL_NAMES.contains(&c.call.get_ref().as_str()) {
            return Err(cx.at(
                c.call.span(),
                &format!("expect.calls[{i}].call"),
                format!(
                    "unknown call `{}`; use one of {}",
                    c.call.get_ref(),
                    CALL_NAMES.join(", ")
                ),
            ));
        }
        if c.nth == Some(0) {
            return Err(cx.at(
                c.call.span(),
                &format!("expect.calls[{i}].nth"),
                "nth counts from 1".into(),
            ));
        }
        calls.push(CallExpect {
            requester: c.requester.clone(),
            call: c.call.get_ref().clone(),
            nth: c.nth.unwrap_or(1),
            result: c.result,
            async_result: c.async_result,
        });
    }
    let expect = Expect {
        result: e.result,
        requesters: e.requesters.into_iter().collect(),
        writers: e
            .writers
            .into_iter()
            .map(|(k, v)| (k, v.state, v.last_error))
            .collect(),
        calls,
        violations: e.violations,
        snapshots: e.snapshots.into_iter().collect(),
    };

    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| stem.to_string()),
        description: raw.description.unwrap_or_default(),
        seed: raw.seed.unwrap_or(0),
        machine_name: raw.machine.name.unwrap_or_else(|| "vss-sim.local".into()),
        epoch: raw
            .machine
            .epoch
            .unwrap_or_else(|| "2024-01-01T00:00:00Z".into()),
        profile,
        max_virtual_time: raw
            .run
            .max_virtual_time
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(3600)),
        max_steps: raw.run.max_steps.unwrap_or(200_000_000),
        volumes,
        system_provider_latency,
        system_provider_faults,
        providers,
        writers,
        workloads,
        requesters,
        expect,
    })
}

/// A `latency = { Name = "10ms" }` table keyed by writer events or provider calls.
fn latency_table<K>(
    cx: &Ctx<'_>,
    table: &BTreeMap<String, Dur>,
    at: &str,
    what: &str,
    from_name: fn(&str) -> Option<K>,
    names: &[&str],
) -> Result<Vec<(K, Duration)>, ScenarioError> {
    let mut out = Vec::new();
    for (k, d) in table {
        let name = from_name(k).ok_or_else(|| {
            cx.near(
                k,
                &format!("{at}.latency.{k}"),
                format!("unknown {what} `{k}`; use one of {}", names.join(", ")),
            )
        })?;
        out.push((name, d.0));
    }
    Ok(out)
}

/// Validates one script step. Unknown volumes, providers and components are allowed: a script
/// may name them on purpose to show `VSS_E_OBJECT_NOT_FOUND` or `VSS_E_PROVIDER_NOT_REGISTERED`.
fn script_step(
    cx: &Ctx<'_>,
    key: &str,
    st: &Spanned<RawStep>,
    volumes: &[VolumeSpec],
    providers: &[ProviderSpec],
    writers: &[WriterSpec],
) -> Result<model::requester::ScriptStep, ScenarioError> {
    use model::api::{ApiCall, ComponentRef, ProviderArg};
    use model::ids::{ProviderId, VolumeId, WriterId};
    use model::requester::ScriptStep;
    let span = st.span();
    let s = st.get_ref();
    let vol = |name: &Spanned<String>| -> Option<VolumeId> {
        let n = canonical_volume(name.get_ref());
        volumes
            .iter()
            .position(|v| v.name == n)
            .map(|i| VolumeId(i as u16))
    };
    let kinds = [
        s.call.is_some(),
        s.sleep.is_some(),
        s.read.is_some(),
        s.go_away == Some(true),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(cx.at(span, key, "a script step is exactly one of { call = \"...\" }, { sleep = \"5s\" }, { read = \"C:\" } or { go_away = true }".into()));
    }
    let given = [
        ("volume", s.volume.is_some()),
        ("provider", s.provider.is_some()),
        ("writer", s.writer.is_some()),
        ("component", s.component.is_some()),
        ("context", s.context.is_some()),
        ("select_components", s.select_components.is_some()),
        ("backup_type", s.backup_type.is_some()),
        ("succeeded", s.succeeded.is_some()),
        ("wait", s.wait.is_some()),
        ("go_away", s.go_away.is_some() && s.go_away != Some(true)),
    ];
    let refuse = |what: &str, allowed: &[&str]| -> Result<(), ScenarioError> {
        match given.iter().find(|(a, g)| *g && !allowed.contains(a)) {
            None => Ok(()),
            Some((arg, _)) => Err(cx.at(
                span.clone(),
                &format!("{key}.{arg}"),
                format!(
                    "{what} takes no `{arg}`; it takes {}",
                    if allowed.is_empty() {
                        "no argument".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            )),
        }
    };
    if s.call.is_none() {
        refuse("a sleep, read or go_away step", &[])?;
    }
    if let Some(d) = s.sleep {
        return Ok(ScriptStep::Sleep(d.0));
    }
    if let Some(r) = &s.read {
        return match vol(r) {
            Some(v) => Ok(ScriptStep::Read(v)),
            None => Err(cx.at(
                r.span(),
                &format!("{key}.read"),
                format!("no volume named {}", canonical_volume(r.get_ref())),
            )),
        };
    }
    if s.go_away == Some(true) {
        return Ok(ScriptStep::GoAway);
    }
    let call_name = s.call.as_ref().expect("checked above");
    if !CALL_NAMES[..CALL_NAMES.len() - 1].contains(&call_name.get_ref().as_str()) {
        return Err(cx.at(
            call_name.span(),
            &format!("{key}.call"),
            format!(
                "unknown call `{}`; use one of {}",
                call_name.get_ref(),
                CALL_NAMES[..CALL_NAMES.len() - 1].join(", ")
            ),
        ));
    }
    let allowed: &[&str] = match call_name.get_ref().as_str() {
        "SetContext" => &["context"],
        "SetBackupState" => &["select_components", "backup_type"],
        "AddComponent" => &["writer", "component"],
        "SetBackupSucceeded" => &["writer", "component", "succeeded"],
        "AddToSnapshotSet" => &["volume", "provider"],
        "GatherWriterMetadata"
        | "PrepareForBackup"
        | "DoSnapshotSet"
        | "GatherWriterStatus"
        | "BackupComplete" => &["wait"],
        _ => &[],
    };
    refuse(call_name.get_ref(), allowed)?;
    let need = |what: &str| {
        cx.at(
            call_name.span(),
            key,
            format!("{} needs `{what}`", call_name.get_ref()),
        )
    };
    let call = match call_name.get_ref().as_str() {
        "InitializeForBackup" => ApiCall::InitializeForBackup,
        "SetContext" => ApiCall::SetContext(s.context.ok_or_else(|| need("context"))?),
        "SetBackupState" => ApiCall::SetBackupState {
            select_components: s.select_components.unwrap_or(true),
            backup_type: s.backup_type.unwrap_or(BackupType::Full),
        },
        "GatherWriterMetadata" => ApiCall::GatherWriterMetadata,
        "GatherWriterStatus" => ApiCall::GatherWriterStatus,
        "AddComponent" | "SetBackupSucceeded" => {
            let w = s.writer.as_ref().ok_or_else(|| need("writer"))?;
            let c = s.component.as_ref().ok_or_else(|| need("component"))?;
            let found = writers
                .iter()
                .position(|x| &x.name == w.get_ref())
                .and_then(|wi| {
                    writers[wi]
                        .components
                        .iter()
                        .position(|x| &x.name == c.get_ref())
                        .map(|ci| ComponentRef {
                            writer: WriterId(wi as u16),
                            idx: ci as u16,
                        })
                });
            if call_name.get_ref() == "AddComponent" {
                ApiCall::AddComponent(found)
            } else {
                let component = found.ok_or_else(|| {
                    cx.at(
                        c.span(),
                        &format!("{key}.component"),
                        format!(
                            "writer `{}` declares no component `{}`",
                            w.get_ref(),
                            c.get_ref()
                        ),
                    )
                })?;
                ApiCall::SetBackupSucceeded {
                    component,
                    succeeded: s.succeeded.unwrap_or(true),
                }
            }
        }
        "StartSnapshotSet" => ApiCall::StartSnapshotSet { new_id: Guid::NULL },
        "AddToSnapshotSet" => {
            let v = s.volume.as_ref().ok_or_else(|| need("volume"))?;
            let provider = match s.provider.as_ref().map(|p| p.get_ref().as_str()) {
                None | Some("GUID_NULL") => ProviderArg::Any,
                Some(p) => {
                    let system = model::machine::ProviderInfo::system();
                    if p == system.name || Guid::parse(p) == Some(system.id) {
                        ProviderArg::Registered(ProviderId(0))
                    } else if let Some(i) = providers
                        .iter()
                        .position(|x| x.name == p || (x.id.is_some() && x.id == Guid::parse(p)))
                    {
                        ProviderArg::Registered(ProviderId(i as u16 + 1))
                    } else if let Some(g) = Guid::parse(p) {
                        ProviderArg::Unregistered(g)
                    } else {
                        let span = s.provider.as_ref().expect("some").span();
                        return Err(cx.at(span, &format!("{key}.provider"), format!("`{p}` is neither a registered provider's name nor a GUID; write \"GUID_NULL\", a provider name or {{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}}")));
                    }
                }
            };
            ApiCall::AddToSnapshotSet {
                volume: vol(v),
                provider,
                new_id: Guid::NULL,
            }
        }
        "PrepareForBackup" => ApiCall::PrepareForBackup,
        "DoSnapshotSet" => ApiCall::DoSnapshotSet,
        "BackupComplete" => ApiCall::BackupComplete,
        "AbortBackup" => ApiCall::AbortBackup,
        "Cancel" => ApiCall::Cancel,
        "Release" => ApiCall::Release,
        other => {
            return Err(cx.at(
                call_name.span(),
                &format!("{key}.call"),
                format!(
                    "unknown call `{other}`; use one of {}",
                    CALL_NAMES[..CALL_NAMES.len() - 1].join(", ")
                ),
            ));
        }
    };
    Ok(ScriptStep::Call {
        call,
        wait: s.wait.unwrap_or(true),
    })
}
