//! Running a scenario: build the world, run the loop, build the report (`report::json`), judge
//! `[expect]`.

use crate::scenario::Scenario;
use crate::trace::{Record, Trace};
use crate::world::{EndReason, World};

/// What to keep from a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep the JSONL bytes (for `--trace-out`).
    pub keep_trace_bytes: bool,
    /// Keep the records (for the timeline).
    pub keep_records: bool,
}

pub use crate::report::json::{
    Builder, CallJson, ExpectJson, FreezeJson, Report, RequesterJson, SCHEMA_VERSION, SnapshotJson,
    SummaryJson, WriterJson,
};
pub use crate::report::timeline::summary_text;

/// A finished run.
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// JSONL bytes, if kept.
    pub trace_bytes: Option<Vec<u8>>,
    /// Records, if kept.
    pub records: Option<Vec<Record>>,
    /// Why the loop stopped.
    pub end: EndReason,
}

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64, opts: RunOptions) -> Outcome {
    // The report is a fold of the trace records, taken from the recorder as it makes them.
    let trace = Trace::on(opts.keep_trace_bytes, true);
    let mut world = World::new(scenario, seed, trace);
    let mut builder = Builder::new(&scenario.name, seed);
    let mut records = opts.keep_records.then(Vec::new);
    let end = world.run_with(|r| {
        builder.observe(&r);
        if let Some(kept) = records.as_mut() {
            kept.push(r);
        }
    });
    let (digest, bytes, _) = world.rec.trace.finish();
    let mut report = builder.finish(digest.unwrap_or_default());
    debug_assert!(
        folded_as_the_world_ends(&report, &world),
        "the report folded from the trace disagrees with the world's state at the end"
    );
    report.expect = check_expect(scenario, &report);
    Outcome {
        report,
        trace_bytes: bytes,
        records,
        end,
    }
}

/// What the fold infers rather than reads (each writer's last state, each shadow's last status,
/// the requesters' results, the end) agrees with the world's own state at the end.
fn folded_as_the_world_ends(report: &Report, world: &World) -> bool {
    let coord = world.coordinator();
    let writers = report.writers.iter().enumerate().all(|(i, w)| {
        let id = model::ids::WriterId(u16::try_from(i).expect("writer index fits the id"));
        let (state, err) = coord.writer_status(id);
        (w.state, w.last_error) == (state.name(), err.name())
    });
    let shadows = report.snapshots.len() == coord.shadows().len()
        && report
            .snapshots
            .iter()
            .zip(coord.shadows())
            .all(|(s, c)| s.id == c.id.to_string() && s.status == c.status.name());
    let requesters = (0..report.requesters.len())
        .all(|r| report.requesters[r].result == world.requester_result(r).name());
    let counts = world.write_counts();
    writers
        && shadows
        && requesters
        && report.virtual_time_us == world.now().as_us()
        && report.events == world.steps()
        && (report.summary.writes_issued, report.summary.writes_failed)
            == (counts.issued, counts.failed)
        && report.summary.protection_faults == world.protection_faults()
}

/// Judges the run against the scenario's `[expect]`.
pub fn check_expect(scenario: &Scenario, report: &Report) -> ExpectJson {
    let e = &scenario.expect;
    let mut failures = Vec::new();
    if let Some(want) = e.result {
        if report.result != want.name() {
            failures.push(format!("result: expected {want}, got {}", report.result));
        }
    }
    for (name, want) in &e.requesters {
        let got = report
            .requesters
            .iter()
            .find(|r| &r.name == name)
            .map(|r| r.result)
            .unwrap_or("");
        if got != want.name() {
            failures.push(format!("requester {name}: expected {want}, got {got}"));
        }
    }
    for (name, state, err) in &e.writers {
        let Some(w) = report.writers.iter().find(|w| &w.name == name) else {
            continue;
        };
        if let Some(s) = state {
            if w.state != s.name() {
                failures.push(format!(
                    "writer {name}: expected state {s}, got {}",
                    w.state
                ));
            }
        }
        if let Some(x) = err {
            if w.last_error != x.name() {
                failures.push(format!(
                    "writer {name}: expected last error {x}, got {}",
                    w.last_error
                ));
            }
        }
    }
    for c in &e.calls {
        let requester = c
            .requester
            .clone()
            .unwrap_or_else(|| scenario.requesters[0].name.clone());
        let found = report
            .calls
            .iter()
            .filter(|x| x.requester == requester && x.call == c.call)
            .nth(c.nth as usize - 1);
        let Some(found) = found else {
            failures.push(format!(
                "call {} #{} by {requester}: never made",
                c.call, c.nth
            ));
            continue;
        };
        if let Some(want) = c.result {
            if found.result != want.name() {
                failures.push(format!(
                    "call {} #{} by {requester}: expected result {want}, got {}",
                    c.call, c.nth, found.result
                ));
            }
        }
        if let Some(want) = c.async_result {
            let got = found.async_result.unwrap_or("(none)");
            if got != want.name() {
                failures.push(format!(
                    "call {} #{} by {requester}: expected async_result {want}, got {got}",
                    c.call, c.nth
                ));
            }
        }
        for (name, state, last_error) in &c.writers {
            let got = found
                .writers
                .as_ref()
                .and_then(|ws| ws.iter().find(|w| &w.name == name));
            let Some(got) = got else {
                failures.push(format!(
                    "call {} #{} by {requester}: returned no status for writer {name}",
                    c.call, c.nth
                ));
                continue;
            };
            if let Some(s) = state
                && got.state != s.name()
            {
                failures.push(format!(
                    "call {} #{} by {requester}: writer {name}: expected state {s}, got {}",
                    c.call, c.nth, got.state
                ));
            }
            if let Some(x) = last_error
                && got.last_error != x.name()
            {
                failures.push(format!(
                    "call {} #{} by {requester}: writer {name}: expected last error {x}, got {}",
                    c.call, c.nth, got.last_error
                ));
            }
        }
    }
    for v in &e.violations {
        if !report.violations.contains(v) {
            failures.push(format!("violation {v} was expected but did not occur"));
        }
    }
    for v in &report.violations {
        if !e.violations.contains(v) {
            failures.push(format!("violation {v} occurred"));
        }
    }
    if let Some(want) = &e.findings {
        // Exactly these, as many times each (rule 33).
        let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
        let mut got: Vec<&str> = report.findings.iter().map(|f| f.name.as_str()).collect();
        want.sort_unstable();
        got.sort_unstable();
        if want != got {
            failures.push(format!(
                "findings: expected [{}], got [{}]",
                want.join(", "),
                got.join(", ")
            ));
        }
    }
    for (status, want) in &e.snapshots {
        let got = report
            .snapshots
            .iter()
            .filter(|s| s.status == status)
            .count() as u32;
        if got != *want {
            failures.push(format!(
                "snapshots with status {status}: expected {want}, got {got}"
            ));
        }
    }
    ExpectJson {
        passed: failures.is_empty(),
        failures,
    }
}
