//! The `run --json` object (README.md "JSON output"): what a run made, called and found.

use model::ids::WriterId;
use model::vss::Hresult;
use serde::Serialize;

use crate::scenario::Scenario;
use crate::world::World;

/// Version of the `run --json` object. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One entry of `calls`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CallJson {
    /// Requester name.
    pub requester: String,
    /// Call name as Microsoft spells it, or `ReadShadow`.
    pub call: &'static str,
    /// The call's own return.
    pub result: &'static str,
    /// Virtual time of the call.
    pub at_us: u64,
    /// `QueryStatus` result of an asynchronous call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub async_result: Option<&'static str>,
    /// `ReadShadow`: the volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// `ReadShadow`: first block of the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_block: Option<u64>,
    /// `ReadShadow`: last block of the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_block: Option<u64>,
    /// `ReadShadow`: blocks read in the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<u64>,
    /// `SetBackupSucceeded`: the value the requester passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
    /// `GatherWriterStatus`: what it returned for each writer (`name`, `state`, `last_error`),
    /// once the operation finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writers: Option<Vec<crate::trace::WriterStatusRecord>>,
}

/// One entry of `writers`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct WriterJson {
    /// Writer name.
    pub name: String,
    /// Class id.
    pub class_id: String,
    /// Instance id.
    pub instance_id: String,
    /// `VSS_WS_*`.
    pub state: &'static str,
    /// Numeric state.
    pub state_code: u32,
    /// HRESULT name.
    pub last_error: &'static str,
    /// Hex code like `0x800423F2`.
    pub last_error_code: String,
}

/// One entry of `snapshots`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SnapshotJson {
    /// Shadow id.
    pub id: String,
    /// Set id.
    pub set_id: String,
    /// Original volume.
    pub volume: String,
    /// Provider name.
    pub provider: String,
    /// Context `VSS_CTX_*`.
    pub context: &'static str,
    /// Status.
    pub status: &'static str,
}

/// One entry of `requesters`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RequesterJson {
    /// Name.
    pub name: String,
    /// Result by the rule of `result`.
    pub result: &'static str,
}

/// `expect`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExpectJson {
    /// Whether the run matched its `[expect]`.
    pub passed: bool,
    /// Each mismatch, in words.
    pub failures: Vec<String>,
}

/// Figures for people: hold, delayed writes, freeze windows.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SummaryJson {
    /// Shadows created.
    pub shadows_made: usize,
    /// Flush-and-hold windows.
    pub holds: u64,
    /// Longest hold in µs.
    pub hold_us: u64,
    /// Writes delayed by holds.
    pub writes_delayed: u64,
    /// Largest latency a held write gained, in µs.
    pub max_added_latency_us: u64,
    /// Writes issued by the workloads.
    pub writes_issued: u64,
    /// Writes that failed (diff area full under protection level SNAPSHOT).
    pub writes_failed: u64,
    /// Per writer: longest freeze window used and the limit, in µs.
    pub freeze_windows: Vec<FreezeJson>,
    /// Volumes marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL` (rule 17).
    pub protection_faults: Vec<String>,
}

/// Freeze window use of one writer.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FreezeJson {
    /// Writer.
    pub writer: String,
    /// Longest Freeze-to-Thaw time, µs.
    pub used_us: u64,
    /// `dwTimeoutFreeze`, µs.
    pub limit_us: u64,
}

/// The `run --json` object (README.md "JSON output").
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Schema version.
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// First requester's result.
    pub result: &'static str,
    /// Every requester's result.
    pub requesters: Vec<RequesterJson>,
    /// Virtual time at the end.
    pub virtual_time_us: u64,
    /// Events dispatched.
    pub events: u64,
    /// SHA-256 of the JSONL trace.
    pub trace_digest: String,
    /// Every API call.
    pub calls: Vec<CallJson>,
    /// Service-wide writer view.
    pub writers: Vec<WriterJson>,
    /// Every shadow created.
    pub snapshots: Vec<SnapshotJson>,
    /// Invariant names that did not hold.
    pub violations: Vec<String>,
    /// `[expect]` verdict.
    pub expect: ExpectJson,
    /// Figures for people.
    pub summary: SummaryJson,
}

/// The result of requester `r` by the rule of `result` (issue #2, item 7).
fn requester_result(world: &World, r: usize) -> Hresult {
    // The standard requester knows its own story (retries, deadline, repeats).
    if let Some(v) = world.requester_verdict(r) {
        return v;
    }
    if script_completed(world, r) {
        return Hresult::Ok;
    }
    for c in world.calls().iter().filter(|c| c.requester == r) {
        // AbortBackup, or a Cancel that cancelled something (S_OK), before any failure.
        if c.call == "AbortBackup" || (c.call == "Cancel" && c.result == Some(Hresult::Ok)) {
            return Hresult::AsyncCancelled;
        }
        if let Some(res) = c.result {
            if !res.is_success() {
                return res;
            }
        }
        if let Some(a) = c.async_result {
            if a == Hresult::AsyncCancelled {
                return a;
            }
            if !a.is_success() {
                return a;
            }
        }
    }
    // No failure, no cancellation, no completed backup: it had not finished when it went
    // away or the run stopped.
    Hresult::AsyncPending
}

/// Whether a script's backup completed: its BackupComplete finished, or, in a writer-less
/// context (no BackupComplete there, rule 24), its DoSnapshotSet did.
fn script_completed(world: &World, r: usize) -> bool {
    let calls = || world.calls().iter().filter(|c| c.requester == r);
    let finished = |name: &str| {
        calls().any(|c| c.call == name && c.async_result == Some(Hresult::AsyncFinished))
    };
    // The context the object was given (SetContext), not the scenario's default.
    if world
        .coordinator()
        .session_context(model::ids::RequesterId(r as u16))
        .has_writers()
    {
        finished("BackupComplete")
    } else {
        finished("DoSnapshotSet")
    }
}

pub(crate) fn build(scenario: &Scenario, seed: u64, world: &World, trace_digest: String) -> Report {
    let coord = world.coordinator();
    let machine = coord.machine();
    let requesters: Vec<RequesterJson> = scenario
        .requesters
        .iter()
        .enumerate()
        .map(|(i, r)| RequesterJson {
            name: r.name.clone(),
            result: requester_result(world, i).name(),
        })
        .collect();
    let calls = world
        .calls()
        .iter()
        .map(|c| CallJson {
            requester: scenario.requesters[c.requester].name.clone(),
            call: c.call,
            result: c
                .result
                .map(|r| r.name())
                .unwrap_or(Hresult::AsyncPending.name()),
            at_us: c.at.as_us(),
            // A call that failed returned no IVssAsync: there is nothing to QueryStatus.
            async_result: if model::api::ApiCall::is_async_name(c.call)
                && c.result.is_none_or(|r| r.is_success())
            {
                Some(c.async_result.unwrap_or(Hresult::AsyncPending).name())
            } else {
                None
            },
            volume: c.read.as_ref().map(|r| r.0.clone()),
            first_block: c.read.as_ref().map(|r| r.1),
            last_block: c.read.as_ref().map(|r| r.2),
            blocks: c.read.as_ref().map(|r| r.3),
            succeeded: c.succeeded,
            writers: c.writers.clone(),
        })
        .collect();
    let writers = machine
        .writers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (state, err) = coord.writer_status(WriterId(i as u16));
            WriterJson {
                name: w.name.clone(),
                class_id: w.class_id.to_string(),
                instance_id: w.instance_id.to_string(),
                state: state.name(),
                state_code: state.code(),
                last_error: err.name(),
                last_error_code: err.hex(),
            }
        })
        .collect();
    let snapshots: Vec<SnapshotJson> = coord
        .shadows()
        .iter()
        .map(|s| SnapshotJson {
            id: s.id.to_string(),
            set_id: s.set_id.to_string(),
            volume: machine.volumes[s.volume.idx()].name.clone(),
            provider: machine.providers[s.provider.idx()].name.clone(),
            context: s.context.name(),
            status: s.status.name(),
        })
        .collect();
    let violations: Vec<String> = world
        .violations()
        .iter()
        .map(|v| v.name.to_string())
        .collect();
    let hold = world.hold_stats();
    let counts = world.write_counts();
    let (issued, failed) = (counts.issued, counts.failed);
    let summary = SummaryJson {
        shadows_made: snapshots.len(),
        holds: hold.holds,
        hold_us: hold.longest.as_us(),
        writes_delayed: hold.writes_delayed,
        max_added_latency_us: hold.max_added_latency.as_us(),
        writes_issued: issued,
        writes_failed: failed,
        protection_faults: world.protection_faults(),
        freeze_windows: machine
            .writers
            .iter()
            .zip(world.freeze_use())
            .map(|(w, u)| FreezeJson {
                writer: w.name.clone(),
                used_us: u.longest.as_us(),
                limit_us: w.freeze_timeout.as_us(),
            })
            .collect(),
    };
    Report {
        schema_version: SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        seed,
        result: requesters[0].result,
        requesters,
        virtual_time_us: world.now().as_us(),
        events: world.steps(),
        trace_digest,
        calls,
        writers,
        snapshots,
        violations,
        // Judged by `run::check_expect` once the report stands.
        expect: ExpectJson {
            passed: true,
            failures: Vec::new(),
        },
        summary,
    }
}
