//! The file's shape: the tables and keys of `scenarios/README.md`, as serde reads and writes
//! them. Nothing here is checked beyond its TOML type; `check` turns it into a [`super::Scenario`].

use std::collections::BTreeMap;

use model::vss::{
    ApplicationLevel, BackupType, Hresult, ProtectionLevel, ProviderCall, ProviderType,
    SnapshotContext, UsageType, WriterEvent, WriterState,
};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use crate::units::{Bandwidth, Dur, Size};

/// A latency table in the order of `names` (the order of rule 2 for provider calls, of the
/// events' list for writers) rather than alphabetical; keys not in `names` come last.
fn latency_in_order<S: Serializer>(
    table: &BTreeMap<String, Dur>,
    names: &[&str],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&String, &Dur)> = table.iter().collect();
    entries.sort_by_key(|(k, _)| names.iter().position(|n| n == k).unwrap_or(names.len()));
    let mut map = serializer.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

fn provider_latency<S: Serializer>(
    table: &BTreeMap<String, Dur>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    latency_in_order(table, ProviderCall::NAMES, serializer)
}

fn writer_latency<S: Serializer>(
    table: &BTreeMap<String, Dur>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    latency_in_order(table, WriterEvent::NAMES, serializer)
}

/// Whether a value is its type's default (empty lists and tables are not written back).
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seed: Option<u64>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) machine: RawMachine,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) profile: RawProfile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) run: RawRun,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) volume: Vec<RawVolume>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) system_provider: RawSystemProvider,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) provider: Vec<RawProvider>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) writer: Vec<RawWriter>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) workload: Vec<RawWorkload>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) requester: Vec<RawRequester>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) expect: RawExpect,
}

#[derive(Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMachine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) epoch: Option<String>,
}

#[derive(Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) freeze_timeout_default: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flush_and_hold_timeout: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) writer_response_timeout: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kb915331_race: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) checks_volume_set: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) protection_level: Option<ProtectionLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shadows_per_volume_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_accessible_shadows_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volumes_per_set_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) api_call_latency: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flush_latency: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) diff_area_min_small: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) diff_area_min_large: Option<Size>,
}

#[derive(Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRun {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_virtual_time: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_steps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) heal_at: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) settle_within: Option<Dur>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVolume {
    pub(crate) name: Spanned<String>,
    pub(crate) size: Spanned<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) block_size: Option<Spanned<Size>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) diff_area: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) removable: Option<bool>,
}

#[derive(Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSystemProvider {
    #[serde(
        default,
        skip_serializing_if = "is_default",
        serialize_with = "provider_latency"
    )]
    pub(crate) latency: BTreeMap<String, Dur>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) fault: Vec<RawProviderFault>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProviderFault {
    pub(crate) call: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fail: Option<Hresult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hang: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) delay: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) times: Option<u32>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvider {
    pub(crate) name: Spanned<String>,
    #[serde(rename = "type")]
    pub(crate) kind: Spanned<ProviderType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volumes: Option<Vec<Spanned<String>>>,
    #[serde(
        default,
        skip_serializing_if = "is_default",
        serialize_with = "provider_latency"
    )]
    pub(crate) latency: BTreeMap<String, Dur>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) fault: Vec<RawProviderFault>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWriter {
    pub(crate) name: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) class_id: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) level: Option<ApplicationLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<UsageType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) freeze_timeout: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) checks_volume_set: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "is_default",
        serialize_with = "writer_latency"
    )]
    pub(crate) latency: BTreeMap<String, Dur>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) component: Vec<RawComponent>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) fault: Vec<RawWriterFault>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawComponent {
    pub(crate) name: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) logical_path: Option<String>,
    pub(crate) volumes: Vec<Spanned<String>>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWriterFault {
    pub(crate) event: Spanned<WriterEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fail: Option<Hresult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hang: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) delay: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sessions: Option<u32>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub(crate) name: Spanned<String>,
    pub(crate) volumes: Vec<Spanned<String>>,
    pub(crate) rate: Spanned<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pattern: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) blocks: Option<Spanned<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) write_latency: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) burst_on: Option<Spanned<Dur>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) burst_off: Option<Spanned<Dur>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) application: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) writer: Option<Spanned<String>>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequester {
    pub(crate) name: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) context: Option<Spanned<SnapshotContext>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volumes: Option<Vec<Spanned<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) start: Option<Spanned<Dur>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) read_bandwidth: Option<Bandwidth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) go_away_at: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) repeat: Option<Spanned<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) policy: Option<RawPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) script: Option<Vec<Spanned<RawStep>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<Spanned<String>>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retry_wait: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retry_on: Option<Spanned<Vec<Hresult>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) writer_failure: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deadline: Option<Dur>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) call: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volume: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) provider: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) writer: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) component: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) context: Option<SnapshotContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) select_components: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bootable_system_state: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) backup_type: Option<BackupType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) partial_file_support: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) succeeded: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) force: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) wait: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sleep: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) read: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) go_away: Option<bool>,
}

#[derive(Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<Hresult>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) requesters: BTreeMap<String, Hresult>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) writers: BTreeMap<String, RawWriterExpect>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) calls: Vec<RawCallExpect>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) violations: Vec<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) findings: Option<Vec<Spanned<String>>>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) snapshots: BTreeMap<String, u32>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWriterExpect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<WriterState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<Hresult>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCallExpect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) requester: Option<String>,
    pub(crate) call: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nth: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<Hresult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) async_result: Option<Hresult>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) writers: BTreeMap<String, RawWriterExpect>,
}
