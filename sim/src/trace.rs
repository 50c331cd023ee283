//! The run's structured trace, schema 2: a header, then one record per call, reply, writer
//! event and answer, state change, provider call, DoSnapshotSet stage, hold, freeze window,
//! shadow, read and counter sample. It is streamed as JSON lines into a SHA-256 digest
//! (`trace_digest`) and, when asked, into a file (`--trace-out`) and the text timeline. The
//! trace records no file path: a scenario moved or reformatted gives the same bytes.
//!
//! The first line is the header, `{"kind":"header","schema_version":2,"scenario":NAME,
//! "seed":N,"role":"sim","instance":"sim"}`. Every other record has, in this order (absent keys
//! omitted): `t_us` (virtual µs), `kind`, `role` (`requester`, `writer`, `provider`,
//! `coordinator`, `volume`, `sim`), `instance` (its name), `role_seq` (a small integer unique per
//! instance in the run), for spans `span` (`begin` or `end`), `span_id` (unique in the run) and
//! `parent_id` (the enclosing span or `null`), then `name`, `result`, `prev`, `next`,
//! `last_error`, `rule`, `set_id`, `snapshot_id`, `instance_id`, `volume`, `n`, `us`, `detail`,
//! `writers`, `class_id`, `provider`, `context`, `status`, `first_block`, `last_block`,
//! `succeeded`, `events`, `writes_issued`, `writes_failed`.
//!
//! Right after the header, one `instance` record per role instance (sim, coordinator, then
//! requesters, writers with `instance_id`, `class_id` and their freeze window in `us`,
//! providers, volumes) declares each `role_seq`. Before `end`, one `result` record per requester
//! gives its result; `end` carries `events`, `writes_issued` and `writes_failed`. So the
//! `run --json` report is a fold of the records (`report::json::Builder`). See README.md
//! "Trace format".

use std::io::Write;

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// The trace schema this module writes.
pub const TRACE_SCHEMA_VERSION: u32 = 2;

/// A word of the trace's vocabulary (a kind, a role, a VSS name, a rule): a `&'static str`,
/// named so that reading a trace back interns it rather than borrowing from the input.
pub type Word = &'static str;

/// What one writer's status was in a `GatherWriterStatus` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterStatusRecord {
    /// Writer name.
    pub name: String,
    /// `VSS_WS_*`.
    #[serde(deserialize_with = "vocabulary")]
    pub state: Word,
    /// HRESULT name.
    #[serde(deserialize_with = "vocabulary")]
    pub last_error: Word,
}

/// One trace record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// Virtual time in microseconds.
    pub t_us: u64,
    /// What happened: `call`, `reply`, `async_done`, `event`, `answer`, `state`,
    /// `provider_call`, `provider_answer`, `stage`, `hold`, `flushed`, `release`,
    /// `freeze_window`, `shadow_created`, `shadow_deleted`, `read_shadow`, `read`, `phase`,
    /// `late_answer`, `counter`, `violation`, `app_image`, `finding`, `instance`, `returned`,
    /// `async_status`, `result`,
    /// `end`, …
    #[serde(deserialize_with = "vocabulary")]
    pub kind: Word,
    /// The role kind: `requester`, `writer`, `provider`, `coordinator`, `volume`, `sim`.
    #[serde(deserialize_with = "vocabulary")]
    pub role: Word,
    /// The role instance's name (`SqlServerWriter`, `C:\`, `backup`; `coordinator`, `sim`).
    pub instance: String,
    /// A small integer unique per role instance in the run.
    pub role_seq: u32,
    /// `begin` or `end` for a span's two records.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub span: Option<Word>,
    /// The span's id, unique in the run, on both its records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<u64>,
    /// The enclosing span (`null` at the top).
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub parent_id: Option<Option<u64>>,
    /// The VSS name of the call, event or provider method (`DoSnapshotSet`, `OnFreeze`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub name: Option<Word>,
    /// An HRESULT name.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub result: Option<Word>,
    /// Previous writer state.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub prev: Option<Word>,
    /// New writer state.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub next: Option<Word>,
    /// Writer last error after a state change.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub last_error: Option<Word>,
    /// The rule behind the step: a heading of docs/rules.md.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub rule: Option<Word>,
    /// Snapshot set id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_id: Option<String>,
    /// Shadow copy id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// The VSS writer instance GUID, on a writer's records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Volume name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// A count (writes held, blocks read, a counter's value, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// A duration in µs (hold length, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub us: Option<u64>,
    /// Free text for people (a violation's explanation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A writer's application (its workload's name), on `app_image` and `finding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// `GatherWriterStatus`: the status of each writer it returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writers: Option<Vec<WriterStatusRecord>>,
    /// A writer's class GUID, on its `instance` declaration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_id: Option<String>,
    /// The provider's name, on `shadow_created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The shadow's context `VSS_CTX_*`, on `shadow_created`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub context: Option<Word>,
    /// The shadow's status after the record (`exists`, `released`, `deleted`, `aborted`,
    /// `diff_area_full`, `recycled`), on `shadow_created` and `shadow_deleted`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "vocabulary_opt"
    )]
    pub status: Option<Word>,
    /// First block of a `read` range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_block: Option<u64>,
    /// Last block of a `read` range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_block: Option<u64>,
    /// `SetBackupSucceeded`'s value, on its `call`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
    /// Events the loop dispatched, on `end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// Writes the workloads issued, on `end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writes_issued: Option<u64>,
    /// Writes that failed (rule 17), on `end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writes_failed: Option<u64>,
}

impl Record {
    /// The label the timeline prints for the record's role instance.
    pub fn who(&self) -> String {
        match self.role {
            "sim" | "coordinator" => self.role.to_string(),
            role => format!("{role}:{}", self.instance),
        }
    }
}

/// The names a trace read back has used: each distinct string is kept once for the life of the
/// process. A trace's `&'static str` fields come from a small vocabulary (kinds, roles, VSS
/// names, rules, oracle names), so reading traces back costs a bounded amount of memory.
static VOCABULARY: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// `s` as a string that lives as long as the process, stored once.
fn intern(s: &str) -> &'static str {
    let mut v = VOCABULARY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = v.get(s) {
        return known;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    v.insert(leaked);
    leaked
}

fn vocabulary<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    Ok(intern(&s))
}

fn vocabulary_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| intern(&s)))
}

/// `parent_id`: present (a number or `null`) is `Some`, absent is `None` (the default).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Ok(Some(Option::<u64>::deserialize(d)?))
}

/// The header of a trace read back: the scenario's name and the seed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct HeaderLine {
    /// `header`.
    pub kind: String,
    /// The trace schema.
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
}

/// Reads a `--trace-out` file back: its header and its records, in order. A trace of schema
/// other than [`TRACE_SCHEMA_VERSION`], or a line that is not a record, is an error naming the
/// line.
pub fn parse_jsonl(text: &str) -> Result<(HeaderLine, Vec<Record>), String> {
    let mut lines = text.lines();
    let first = lines.next().ok_or("an empty trace has no header")?;
    let header: HeaderLine =
        serde_json::from_str(first).map_err(|e| format!("line 1 is not the header: {e}"))?;
    if header.kind != "header" || header.schema_version != TRACE_SCHEMA_VERSION {
        return Err(format!(
            "line 1 is not a schema {TRACE_SCHEMA_VERSION} header: {first}"
        ));
    }
    let records = lines
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("line {} is not a record: {e}", i + 2))
        })
        .collect::<Result<Vec<Record>, String>>()?;
    Ok((header, records))
}

/// The header line.
#[derive(Serialize)]
struct Header<'a> {
    kind: &'static str,
    schema_version: u32,
    scenario: &'a str,
    seed: u64,
    role: &'static str,
    instance: &'static str,
}

/// Where trace records go.
#[derive(Debug)]
pub struct Trace {
    enabled: bool,
    hasher: Sha256,
    line: Vec<u8>,
    /// The JSONL bytes, kept when the caller wants the file or the timeline.
    keep: Option<Vec<u8>>,
    /// The records, kept until taken ([`Trace::take_records`]) or the end.
    records: Option<Vec<Record>>,
    n_records: u64,
}

impl Trace {
    /// A trace that records nothing (fuzz and benchmark runs with the trace off).
    pub fn off() -> Trace {
        Trace {
            enabled: false,
            hasher: Sha256::new(),
            line: Vec::new(),
            keep: None,
            records: None,
            n_records: 0,
        }
    }

    /// A trace that digests every record, and keeps the JSONL bytes and/or the records.
    pub fn on(keep_bytes: bool, keep_records: bool) -> Trace {
        Trace {
            enabled: true,
            hasher: Sha256::new(),
            line: Vec::with_capacity(256),
            keep: keep_bytes.then(Vec::new),
            records: keep_records.then(Vec::new),
            n_records: 0,
        }
    }

    /// Whether records are wanted at all; callers skip building them when not.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Writes the header line: the first line of every trace.
    pub fn header(&mut self, scenario: &str, seed: u64) {
        if !self.enabled {
            return;
        }
        let h = Header {
            kind: "header",
            schema_version: TRACE_SCHEMA_VERSION,
            scenario,
            seed,
            role: "sim",
            instance: "sim",
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &h).expect("the header always serialises");
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        if let Some(k) = self.keep.as_mut() {
            k.write_all(&self.line)
                .expect("writing to a Vec cannot fail");
        }
    }

    /// Appends one record.
    pub fn push(&mut self, rec: Record) {
        if !self.enabled {
            return;
        }
        self.line.clear();
        serde_json::to_writer(&mut self.line, &rec).expect("a record always serialises");
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        if let Some(k) = self.keep.as_mut() {
            k.write_all(&self.line)
                .expect("writing to a Vec cannot fail");
        }
        if let Some(r) = self.records.as_mut() {
            r.push(rec);
        }
        self.n_records += 1;
    }

    /// Hands the records kept since the last call to `f`, in order, and forgets them: a
    /// caller that takes them after every step keeps only a step's worth in memory.
    pub fn take_records(&mut self, mut f: impl FnMut(Record)) {
        if let Some(r) = self.records.as_mut() {
            for rec in r.drain(..) {
                f(rec);
            }
        }
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        self.n_records
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.n_records == 0
    }

    /// Hex SHA-256 of the JSONL bytes written so far, the trace going on (`None` when off).
    pub fn digest_so_far(&self) -> Option<String> {
        self.enabled.then(|| {
            let h = self.hasher.clone().finalize();
            h.iter().map(|b| format!("{b:02x}")).collect()
        })
    }

    /// Hex SHA-256 of the JSONL bytes (empty string when the trace is off).
    pub fn finish(&mut self) -> (Option<String>, Option<Vec<u8>>, Option<Vec<Record>>) {
        if !self.enabled {
            return (None, None, None);
        }
        let h = std::mem::take(&mut self.hasher).finalize();
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        (Some(hex), self.keep.take(), self.records.take())
    }
}
