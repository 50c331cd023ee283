//! The `run --json` object (README.md "JSON output"): what a run made, called and found, as a
//! fold of the trace records ([`Builder`]): `run` feeds it each record as the recorder emits
//! it, and a saved `--trace-out` file rebuilds the same report.

use std::collections::BTreeMap;

use model::api::ApiCall;
use model::vss::{Hresult, WriterEvent, WriterState};
use serde::Serialize;

use crate::trace::{Record, WriterStatusRecord};

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
    pub writers: Option<Vec<WriterStatusRecord>>,
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

/// One `findings` entry (rule 33): a writer's application torn in a crash-consistent shadow.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FindingJson {
    /// `torn_transaction` or `mixed_file_generation`.
    pub name: String,
    /// The application (its workload's name).
    pub application: String,
    /// The set whose shadow copies hold the torn image.
    pub set_id: String,
    /// What is torn, for people.
    pub detail: String,
    /// When the set's image of the application was complete, in µs.
    pub t_us: u64,
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
    /// Torn application images in crash-consistent shadows (rule 33): not violations.
    pub findings: Vec<FindingJson>,
    /// `[expect]` verdict.
    pub expect: ExpectJson,
    /// Figures for people.
    pub summary: SummaryJson,
}

/// One `calls` entry while the run goes on.
#[derive(Clone, Debug)]
struct CallAcc {
    requester: usize,
    call: &'static str,
    result: Option<&'static str>,
    async_result: Option<&'static str>,
    at_us: u64,
    read: Option<(String, u64, u64, u64)>,
    succeeded: Option<bool>,
    writers: Option<Vec<WriterStatusRecord>>,
}

/// A requester as the records tell it.
#[derive(Clone, Debug)]
struct RequesterAcc {
    name: String,
    /// The `calls` entry awaiting the service's return.
    outstanding: Option<usize>,
    /// The `calls` entry of the asynchronous operation in flight.
    async_call: Option<usize>,
    result: Option<&'static str>,
}

/// A writer as the records tell it.
#[derive(Clone, Debug)]
struct WriterAcc {
    name: String,
    class_id: String,
    instance_id: String,
    state: WriterState,
    last_error: Hresult,
    freeze_limit_us: u64,
    freeze_at: Option<u64>,
    freeze_longest: u64,
}

/// What a role instance's `role_seq` stands for.
#[derive(Clone, Copy, Debug)]
enum Seat {
    Requester(usize),
    Writer(usize),
    Volume(usize),
}

/// Builds the `run --json` report from the trace records, one at a time (a fold: it keeps the
/// report's own lists, never the records). Feed it every record after the header in order
/// with [`Builder::observe`], then [`Builder::finish`] with the trace's digest. `expect` is
/// left passed: `run::check_expect` judges it against the scenario.
#[derive(Clone, Debug)]
pub struct Builder {
    scenario: String,
    seed: u64,
    seats: BTreeMap<u32, Seat>,
    requesters: Vec<RequesterAcc>,
    writers: Vec<WriterAcc>,
    /// Volume names and whether each was marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL`.
    volumes: Vec<(String, bool)>,
    calls: Vec<CallAcc>,
    snapshots: Vec<SnapshotJson>,
    /// Shadow id -> index in `snapshots`.
    shadow_index: BTreeMap<String, usize>,
    violations: Vec<String>,
    findings: Vec<FindingJson>,
    holds: u64,
    hold_us: u64,
    writes_delayed: u64,
    max_added_latency_us: u64,
    last_t_us: u64,
    /// From the `end` record: events, writes issued, writes failed.
    end: Option<(u64, u64, u64)>,
}

impl Builder {
    /// A builder for the run the header names.
    pub fn new(scenario: &str, seed: u64) -> Builder {
        Builder {
            scenario: scenario.to_string(),
            seed,
            seats: BTreeMap::new(),
            requesters: Vec::new(),
            writers: Vec::new(),
            volumes: Vec::new(),
            calls: Vec::new(),
            snapshots: Vec::new(),
            shadow_index: BTreeMap::new(),
            violations: Vec::new(),
            findings: Vec::new(),
            holds: 0,
            hold_us: 0,
            writes_delayed: 0,
            max_added_latency_us: 0,
            last_t_us: 0,
            end: None,
        }
    }

    fn requester(&mut self, r: &Record) -> Option<usize> {
        match self.seats.get(&r.role_seq) {
            Some(Seat::Requester(i)) if r.role == "requester" => Some(*i),
            _ => None,
        }
    }

    fn writer(&mut self, r: &Record) -> Option<usize> {
        match self.seats.get(&r.role_seq) {
            Some(Seat::Writer(i)) if r.role == "writer" => Some(*i),
            _ => None,
        }
    }

    /// Takes one record into account.
    pub fn observe(&mut self, r: &Record) {
        self.last_t_us = r.t_us;
        match r.kind {
            "instance" => self.declare(r),
            "call" => {
                let Some(q) = self.requester(r) else { return };
                self.calls.push(CallAcc {
                    requester: q,
                    call: r.name.unwrap_or(""),
                    result: None,
                    async_result: None,
                    at_us: r.t_us,
                    read: None,
                    succeeded: r.succeeded,
                    writers: None,
                });
                self.requesters[q].outstanding = Some(self.calls.len() - 1);
            }
            "returned" => {
                let Some(q) = self.requester(r) else { return };
                let req = &mut self.requesters[q];
                if let Some(i) = req.outstanding.take() {
                    self.calls[i].result = r.result;
                    let ok = r
                        .result
                        .and_then(Hresult::from_name)
                        .is_some_and(Hresult::is_success);
                    if ok && r.name.is_some_and(ApiCall::is_async_name) {
                        // This call's IVssAsync: its QueryStatus result goes to this entry.
                        req.async_call = Some(i);
                    }
                }
            }
            "async_status" => {
                let Some(q) = self.requester(r) else { return };
                if let Some(i) = self.requesters[q].async_call.take() {
                    self.calls[i].async_result = r.result;
                    if r.writers.is_some() {
                        self.calls[i].writers = r.writers.clone();
                    }
                }
            }
            "go_away" => {
                if let Some(q) = self.requester(r) {
                    self.requesters[q].outstanding = None;
                }
            }
            "read" => {
                let Some(q) = self.requester(r) else { return };
                self.calls.push(CallAcc {
                    requester: q,
                    call: "ReadShadow",
                    result: r.result,
                    async_result: None,
                    at_us: r.t_us,
                    read: Some((
                        r.volume.clone().unwrap_or_default(),
                        r.first_block.unwrap_or(0),
                        r.last_block.unwrap_or(0),
                        r.n.unwrap_or(0),
                    )),
                    succeeded: None,
                    writers: None,
                });
            }
            "result" => {
                if let Some(q) = self.requester(r) {
                    self.requesters[q].result = r.result;
                }
            }
            "event" => {
                let Some(w) = self.writer(r) else { return };
                let w = &mut self.writers[w];
                let event = r.name.and_then(WriterEvent::from_name);
                match event {
                    Some(WriterEvent::Freeze) => w.freeze_at = Some(r.t_us),
                    Some(WriterEvent::Thaw | WriterEvent::Abort) => {
                        if let Some(at) = w.freeze_at.take() {
                            w.freeze_longest = w.freeze_longest.max(r.t_us - at);
                        }
                    }
                    _ => {}
                }
            }
            "state" => {
                let Some(w) = self.writer(r) else { return };
                let w = &mut self.writers[w];
                if let Some(s) = r.next.and_then(WriterState::from_name) {
                    w.state = s;
                }
                if let Some(e) = r.last_error.and_then(Hresult::from_name) {
                    w.last_error = e;
                }
            }
            "hold" => self.holds += 1,
            "release" => {
                self.hold_us = self.hold_us.max(r.us.unwrap_or(0));
                self.writes_delayed += r.n.unwrap_or(0);
                // The largest latency a held write gained, in µs.
                let added = r.detail.as_deref().and_then(|d| d.parse().ok());
                self.max_added_latency_us = self.max_added_latency_us.max(added.unwrap_or(0));
            }
            "protection_fault" => {
                if let Some(Seat::Volume(v)) = self.seats.get(&r.role_seq) {
                    self.volumes[*v].1 = true;
                }
            }
            "shadow_created" => {
                let id = r.snapshot_id.clone().unwrap_or_default();
                self.shadow_index.insert(id.clone(), self.snapshots.len());
                self.snapshots.push(SnapshotJson {
                    id,
                    set_id: r.set_id.clone().unwrap_or_default(),
                    volume: r.volume.clone().unwrap_or_default(),
                    provider: r.provider.clone().unwrap_or_default(),
                    context: r.context.unwrap_or(""),
                    status: r.status.unwrap_or("exists"),
                });
            }
            "shadow_deleted" => {
                let i = r
                    .snapshot_id
                    .as_ref()
                    .and_then(|id| self.shadow_index.get(id));
                if let (Some(i), Some(status)) = (i, r.status) {
                    self.snapshots[*i].status = status;
                }
            }
            "violation" => self.violations.push(r.name.unwrap_or("").to_string()),
            "finding" => self.findings.push(FindingJson {
                name: r.name.unwrap_or("").to_string(),
                application: r.application.clone().unwrap_or_default(),
                set_id: r.set_id.clone().unwrap_or_default(),
                detail: r.detail.clone().unwrap_or_default(),
                t_us: r.t_us,
            }),
            "end" => {
                self.end = Some((
                    r.events.unwrap_or(0),
                    r.writes_issued.unwrap_or(0),
                    r.writes_failed.unwrap_or(0),
                ));
            }
            _ => {}
        }
    }

    /// An `instance` record: a role instance and its `role_seq`.
    fn declare(&mut self, r: &Record) {
        let seat = match r.role {
            "requester" => {
                self.requesters.push(RequesterAcc {
                    name: r.instance.clone(),
                    outstanding: None,
                    async_call: None,
                    result: None,
                });
                Seat::Requester(self.requesters.len() - 1)
            }
            "writer" => {
                self.writers.push(WriterAcc {
                    name: r.instance.clone(),
                    class_id: r.class_id.clone().unwrap_or_default(),
                    instance_id: r.instance_id.clone().unwrap_or_default(),
                    state: WriterState::Stable,
                    last_error: Hresult::Ok,
                    freeze_limit_us: r.us.unwrap_or(0),
                    freeze_at: None,
                    freeze_longest: 0,
                });
                Seat::Writer(self.writers.len() - 1)
            }
            "volume" => {
                self.volumes.push((r.instance.clone(), false));
                Seat::Volume(self.volumes.len() - 1)
            }
            _ => return,
        };
        self.seats.insert(r.role_seq, seat);
    }

    /// The report, once every record was observed; `trace_digest` is the SHA-256 of the
    /// trace's bytes.
    pub fn finish(self, trace_digest: String) -> Report {
        let pending = Hresult::AsyncPending.name();
        let requesters: Vec<RequesterJson> = self
            .requesters
            .iter()
            .map(|r| RequesterJson {
                name: r.name.clone(),
                result: r.result.unwrap_or(pending),
            })
            .collect();
        let calls = self
            .calls
            .into_iter()
            .map(|c| {
                let failed = c
                    .result
                    .and_then(Hresult::from_name)
                    .is_some_and(|r| !r.is_success());
                CallJson {
                    requester: self.requesters[c.requester].name.clone(),
                    call: c.call,
                    result: c.result.unwrap_or(pending),
                    at_us: c.at_us,
                    // A call that failed returned no IVssAsync: there is nothing to QueryStatus.
                    async_result: (ApiCall::is_async_name(c.call) && !failed)
                        .then(|| c.async_result.unwrap_or(pending)),
                    volume: c.read.as_ref().map(|r| r.0.clone()),
                    first_block: c.read.as_ref().map(|r| r.1),
                    last_block: c.read.as_ref().map(|r| r.2),
                    blocks: c.read.as_ref().map(|r| r.3),
                    succeeded: c.succeeded,
                    writers: c.writers,
                }
            })
            .collect();
        let writers = self
            .writers
            .iter()
            .map(|w| WriterJson {
                name: w.name.clone(),
                class_id: w.class_id.clone(),
                instance_id: w.instance_id.clone(),
                state: w.state.name(),
                state_code: w.state.code(),
                last_error: w.last_error.name(),
                last_error_code: w.last_error.hex(),
            })
            .collect();
        let (events, writes_issued, writes_failed) = self.end.unwrap_or_default();
        let summary = SummaryJson {
            shadows_made: self.snapshots.len(),
            holds: self.holds,
            hold_us: self.hold_us,
            writes_delayed: self.writes_delayed,
            max_added_latency_us: self.max_added_latency_us,
            writes_issued,
            writes_failed,
            freeze_windows: self
                .writers
                .iter()
                .map(|w| FreezeJson {
                    writer: w.name.clone(),
                    used_us: w.freeze_longest,
                    limit_us: w.freeze_limit_us,
                })
                .collect(),
            protection_faults: self
                .volumes
                .iter()
                .filter(|v| v.1)
                .map(|v| v.0.clone())
                .collect(),
        };
        Report {
            schema_version: SCHEMA_VERSION,
            scenario: self.scenario,
            seed: self.seed,
            result: requesters.first().map_or(pending, |r| r.result),
            requesters,
            virtual_time_us: self.last_t_us,
            events,
            trace_digest,
            calls,
            writers,
            snapshots: self.snapshots,
            violations: self.violations,
            findings: self.findings,
            // Judged by `run::check_expect` once the report stands.
            expect: ExpectJson {
                passed: true,
                failures: Vec::new(),
            },
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t_us: u64, kind: &'static str, role: &'static str, name: &str, seq: u32) -> Record {
        Record {
            t_us,
            kind,
            role,
            instance: name.to_string(),
            role_seq: seq,
            ..Default::default()
        }
    }

    #[test]
    fn a_writer_without_state_records_is_stable_and_calls_take_the_services_returns() {
        let mut b = Builder::new("x", 3);
        let mut w = rec(0, "instance", "writer", "W", 3);
        w.class_id = Some("class".into());
        w.instance_id = Some("inst".into());
        w.us = Some(60_000_000);
        for r in [
            rec(0, "instance", "requester", "backup", 2),
            w,
            Record {
                name: Some("DoSnapshotSet"),
                ..rec(5, "call", "requester", "backup", 2)
            },
            Record {
                name: Some("DoSnapshotSet"),
                result: Some("S_OK"),
                ..rec(6, "returned", "requester", "backup", 2)
            },
            Record {
                result: Some("VSS_S_ASYNC_FINISHED"),
                ..rec(9, "async_status", "requester", "backup", 2)
            },
            Record {
                name: Some("BackupComplete"),
                ..rec(10, "call", "requester", "backup", 2)
            },
            rec(11, "go_away", "requester", "backup", 2),
            // The service's return after the requester went away is not the call's.
            Record {
                name: Some("BackupComplete"),
                result: Some("S_OK"),
                ..rec(12, "returned", "requester", "backup", 2)
            },
            Record {
                result: Some("VSS_S_ASYNC_PENDING"),
                ..rec(13, "result", "requester", "backup", 2)
            },
            Record {
                events: Some(40),
                writes_issued: Some(7),
                writes_failed: Some(1),
                ..rec(13, "end", "sim", "sim", 0)
            },
        ] {
            b.observe(&r);
        }
        let report = b.finish("digest".into());
        assert_eq!(report.writers[0].state, "VSS_WS_STABLE");
        assert_eq!(report.writers[0].last_error_code, "0x00000000");
        assert_eq!(report.writers[0].class_id, "class");
        assert_eq!(report.summary.freeze_windows[0].limit_us, 60_000_000);
        assert_eq!(report.calls.len(), 2);
        assert_eq!(report.calls[0].async_result, Some("VSS_S_ASYNC_FINISHED"));
        assert_eq!(report.calls[1].result, "VSS_S_ASYNC_PENDING");
        assert_eq!(report.calls[1].async_result, Some("VSS_S_ASYNC_PENDING"));
        assert_eq!(report.result, "VSS_S_ASYNC_PENDING");
        assert_eq!((report.virtual_time_us, report.events), (13, 40));
        assert_eq!(
            (report.summary.writes_issued, report.summary.writes_failed),
            (7, 1)
        );
    }
}
