//! Named regressions: each test reproduces a bug found in review and asserts the behaviour
//! docs/rules.md asks for. The comment above each says what went wrong.

use sim::run::{Outcome, RunOptions, run};

fn run_toml(src: &str) -> Outcome {
    let s = vss_sim_tests::inline(src);
    run(
        &s,
        0,
        RunOptions {
            keep_trace_bytes: false,
            keep_records: true,
        },
    )
}

/// Events delivered to writer `name`, in order.
fn events_of(o: &Outcome, name: &str) -> Vec<&'static str> {
    o.records
        .as_ref()
        .unwrap()
        .iter()
        .filter(|r| r.kind == "event" && r.role == "writer" && r.instance == name)
        .filter_map(|r| r.name)
        .collect()
}

fn writer_state(o: &Outcome, name: &str) -> (&'static str, &'static str) {
    let w = o.report.writers.iter().find(|w| w.name == name).unwrap();
    (w.state, w.last_error)
}

const TWO_WRITERS: &str = r#"
[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "Front"
[[writer.component]]
name = "f"
volumes = ["C:"]

[[writer]]
name = "Sys"
level = "VSS_APP_SYSTEM"
[[writer.component]]
name = "s"
volumes = ["C:"]
"#;

/// A BackupShutdown that timed out for a released object, after a retry had created a new
/// object in the same slot, marked the writer failed and left it out of the new session: it
/// was frozen and never thawed nor aborted (rules 7, 11).
#[test]
fn a_stale_timeout_from_a_replaced_object_leaves_the_new_backup_alone() {
    let o = run_toml(
        r#"
[profile]
writer_response_timeout = "10s"

[[volume]]
name = "C:"
size = "1GiB"

[system_provider]
fault = [{ call = "CommitSnapshots", fail = "VSS_E_PROVIDER_VETO", times = 1 }]

[[writer]]
name = "W"
[[writer.component]]
name = "w"
volumes = ["C:"]
[[writer.fault]]
event = "OnBackupShutdown"
hang = true
sessions = 1

[[writer]]
name = "SlowSys"
level = "VSS_APP_SYSTEM"
latency = { OnFreeze = "9500ms" }
[[writer.component]]
name = "s"
volumes = ["C:"]

[[requester]]
name = "backup"
policy = { retries = 1, retry_wait = "1s" }
"#,
    );
    assert!(o.report.violations.is_empty(), "{:?}", o.report.violations);
    assert_eq!(o.report.result, "S_OK");
    let w = events_of(&o, "W");
    let freezes = w.iter().filter(|e| **e == "OnFreeze").count();
    let ends = w
        .iter()
        .filter(|e| **e == "OnThaw" || **e == "OnAbort")
        .count();
    assert_eq!(freezes, 2, "{w:?}");
    assert!(
        ends >= 2,
        "every Freeze is followed by Thaw or Abort: {w:?}"
    );
    assert_eq!(writer_state(&o, "W").0, "VSS_WS_STABLE");
}

/// A requester that went away while PrepareForBackup was running left the operation pending
/// for ever, so the run ended `stalled` (rule 11: the coordinator never waits forever).
#[test]
fn going_away_during_an_operation_ends_the_run() {
    let o = run_toml(
        r#"
[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "W"
latency = { OnPrepareBackup = "2s" }
[[writer.component]]
name = "w"
volumes = ["C:"]

[[requester]]
name = "backup"
go_away_at = "1s"
"#,
    );
    assert!(o.report.violations.is_empty(), "{:?}", o.report.violations);
    assert_eq!(o.report.result, "VSS_S_ASYNC_PENDING");
    assert!(o.report.virtual_time_us < 10_000_000);
    assert!(events_of(&o, "W").contains(&"OnBackupShutdown"));
}

/// A CommitSnapshots that never returns kept the run busy after the hold timeout failed the
/// set, so a correct VSS_E_HOLD_WRITES_TIMEOUT run ended `stalled`.
#[test]
fn a_hung_commit_fails_the_set_without_stalling_the_run() {
    let src = format!(
        "{TWO_WRITERS}\n[system_provider]\nfault = [{{ call = \"CommitSnapshots\", hang = true }}]\n[[requester]]\nname = \"b\"\n"
    );
    let o = run_toml(&src);
    assert!(o.report.violations.is_empty(), "{:?}", o.report.violations);
    assert_eq!(o.report.result, "VSS_E_HOLD_WRITES_TIMEOUT");
    assert_eq!(o.report.summary.hold_us, 10_000_001);
}

/// Writers that failed were not sent BackupShutdown; rule 5 says a writer failing
/// PrepareForSnapshot receives nothing more "except BackupShutdown" (and rule 27: every
/// writer of the session).
#[test]
fn a_failed_writer_still_gets_backup_shutdown() {
    let src = format!(
        "{TWO_WRITERS}\n[[writer.fault]]\nevent = \"OnPrepareSnapshot\"\nfail = \"VSS_E_WRITERERROR_RETRYABLE\"\n[[requester]]\nname = \"b\"\n"
    );
    let o = run_toml(&src);
    assert_eq!(
        writer_state(&o, "Sys"),
        (
            "VSS_WS_FAILED_AT_PREPARE_SNAPSHOT",
            "VSS_E_WRITERERROR_RETRYABLE"
        )
    );
    let sys = events_of(&o, "Sys");
    assert!(
        !sys.contains(&"OnFreeze") && !sys.contains(&"OnAbort"),
        "rule 5: {sys:?}"
    );
    assert_eq!(sys.last(), Some(&"OnBackupShutdown"), "{sys:?}");
}

/// After PostFinalCommitSnapshots failed, the requester's AbortBackup sent OnAbort to writers
/// that had already run PostSnapshot (rule 16: no Abort then).
#[test]
fn no_abort_after_post_snapshot() {
    let src = format!(
        "{TWO_WRITERS}\n[system_provider]\nfault = [{{ call = \"PostFinalCommitSnapshots\", fail = \"E_FAIL\" }}]\n[[requester]]\nname = \"std\"\n"
    );
    let o = run_toml(&src);
    assert_eq!(o.report.result, "VSS_E_UNEXPECTED_PROVIDER_ERROR");
    for w in ["Front", "Sys"] {
        assert!(
            !events_of(&o, w).contains(&"OnAbort"),
            "{w}: {:?}",
            events_of(&o, w)
        );
    }
    assert!(o.report.snapshots.iter().all(|s| s.status == "aborted"));
}

/// A failed DoSnapshotSet sent OnAbort twice: rule 14's clean-up, then the requester's
/// AbortBackup. An Abort goes to a writer once.
#[test]
fn one_abort_per_writer_after_a_hold_timeout() {
    let src = format!(
        "{TWO_WRITERS}\n[system_provider]\nlatency = {{ CommitSnapshots = \"11s\" }}\n[[requester]]\nname = \"b\"\n"
    );
    let o = run_toml(&src);
    assert_eq!(o.report.result, "VSS_E_HOLD_WRITES_TIMEOUT");
    for w in ["Front", "Sys"] {
        let aborts = events_of(&o, w).iter().filter(|e| **e == "OnAbort").count();
        assert_eq!(aborts, 1, "{w}: {:?}", events_of(&o, w));
    }
}

/// Cancel on an operation already cancelled answered VSS_S_ASYNC_FINISHED (rule S13: it
/// answers VSS_S_ASYNC_CANCELLED), and a no-op Cancel counted as a cancellation in `result`.
#[test]
fn cancel_twice_and_noop_cancel() {
    let src = format!(
        r#"{TWO_WRITERS}
[[requester]]
name = "s"
script = [
  {{ call = "InitializeForBackup" }}, {{ call = "SetBackupState" }}, {{ call = "GatherWriterMetadata" }},
  {{ call = "AddComponent", writer = "Front", component = "f" }},
  {{ call = "StartSnapshotSet" }}, {{ call = "AddToSnapshotSet", volume = "C:" }},
  {{ call = "PrepareForBackup" }}, {{ call = "DoSnapshotSet", wait = false }},
  {{ sleep = "5ms" }}, {{ call = "Cancel" }}, {{ sleep = "100ms" }}, {{ call = "Cancel" }},
  {{ call = "Release" }},
]
"#
    );
    let o = run_toml(&src);
    let cancels: Vec<_> = o
        .report
        .calls
        .iter()
        .filter(|c| c.call == "Cancel")
        .map(|c| c.result)
        .collect();
    assert_eq!(cancels, ["S_OK", "VSS_S_ASYNC_CANCELLED"]);
    let d = o
        .report
        .calls
        .iter()
        .find(|c| c.call == "DoSnapshotSet")
        .unwrap();
    assert_eq!(d.async_result, Some("VSS_S_ASYNC_CANCELLED"));
    assert_eq!(o.report.result, "VSS_S_ASYNC_CANCELLED");

    let src = format!(
        r#"{TWO_WRITERS}
[[requester]]
name = "s"
script = [
  {{ call = "InitializeForBackup" }}, {{ call = "SetBackupState" }}, {{ call = "GatherWriterMetadata" }},
  {{ call = "StartSnapshotSet" }}, {{ call = "PrepareForBackup" }}, {{ call = "DoSnapshotSet" }},
  {{ call = "Cancel" }}, {{ call = "AddComponent", writer = "Front", component = "f" }},
  {{ call = "Release" }},
]
"#
    );
    let o = run_toml(&src);
    let cancel = o.report.calls.iter().find(|c| c.call == "Cancel").unwrap();
    assert_eq!(cancel.result, "VSS_S_ASYNC_FINISHED");
    assert_eq!(
        o.report.result, "VSS_E_BAD_STATE",
        "a no-op Cancel is not a cancellation"
    );
}

/// A requester that went away during the hold was reported VSS_S_ASYNC_CANCELLED with a
/// QueryStatus result nobody read; it went away before it finished: VSS_S_ASYNC_PENDING.
#[test]
fn going_away_during_the_hold_is_pending_and_loses_no_write() {
    let src = format!(
        "{TWO_WRITERS}\n[system_provider]\nlatency = {{ CommitSnapshots = \"3s\" }}\n[[workload]]\nname = \"app\"\nvolumes = [\"C:\"]\nrate = 2000\n[[requester]]\nname = \"b\"\ngo_away_at = \"1s\"\n"
    );
    let o = run_toml(&src);
    assert!(o.report.violations.is_empty(), "{:?}", o.report.violations);
    assert_eq!(o.report.result, "VSS_S_ASYNC_PENDING");
    let d = o
        .report
        .calls
        .iter()
        .find(|c| c.call == "DoSnapshotSet")
        .unwrap();
    assert_eq!(d.async_result, Some("VSS_S_ASYNC_PENDING"));
    assert!(
        o.report.summary.writes_delayed > 0,
        "writes were held, then released"
    );
    assert!(
        o.report.snapshots.is_empty() || o.report.snapshots.iter().all(|s| s.status != "exists")
    );
}

/// A deadline that cancelled DoSnapshotSet after the held writes were released: Cancel
/// returned first (rule 25: it changes nothing then), and the requester, still waiting for
/// Cancel when the operation ended, waited for ever: the run ended `stalled`.
#[test]
fn a_deadline_after_the_release_abandons_without_stalling() {
    let o = run_toml(
        r#"
[[volume]]
name = "D:"
size = "16GiB"

[[writer]]
name = "SqlServerWriter"
[[writer.component]]
name = "sales"
volumes = ["D:"]
[[writer.fault]]
event = "OnPostSnapshot"
delay = "30s"

[[requester]]
name = "restic"
[requester.policy]
deadline = "10s"
"#,
    );
    assert!(o.report.violations.is_empty(), "{:?}", o.report.violations);
    assert_eq!(o.report.result, "VSS_S_ASYNC_CANCELLED");
    let tail: Vec<_> = o
        .report
        .calls
        .iter()
        .rev()
        .take(3)
        .map(|c| c.call)
        .collect();
    assert_eq!(tail, ["Release", "AbortBackup", "Cancel"]);
}

/// A script's waited-for operation was released by an earlier `wait = false` operation that
/// ended first, so the script cancelled the very call it meant to wait for.
#[test]
fn a_script_waits_for_the_operation_it_asked_to_wait_for() {
    let o = run_toml(
        r#"
[[volume]]
name = "D:"
size = "1GiB"

[[writer]]
name = "W"
[[writer.component]]
name = "c"
volumes = ["D:"]

[[requester]]
name = "r"
script = [
  { call = "InitializeForBackup" }, { call = "SetBackupState" },
  { call = "GatherWriterMetadata", wait = false }, { sleep = "1900us" },
  { call = "GatherWriterStatus" }, { call = "Cancel" }, { call = "Release" },
]
"#,
    );
    let status = o
        .report
        .calls
        .iter()
        .find(|c| c.call == "GatherWriterStatus")
        .unwrap();
    assert_eq!(status.async_result, Some("VSS_S_ASYNC_FINISHED"));
    let cancel = o.report.calls.iter().find(|c| c.call == "Cancel").unwrap();
    assert_eq!(
        cancel.result, "VSS_S_ASYNC_FINISHED",
        "Cancel came after the wait"
    );
}

/// `writer_failure = "continue"` was documented as VShadow's behaviour, but VShadow stops at a
/// failed selected writer: after the GatherWriterStatus that shows it, no read, no
/// BackupComplete, no AbortBackup; only the release (and so BackupShutdown).
#[test]
fn writer_failure_stop_makes_no_call_after_the_status_but_release() {
    let path = vss_sim_tests::root().join("scenarios/writer/vshadow_stops_at_failed_writer.toml");
    let s = vss_sim_tests::load(&path);
    let o = run(
        &s,
        s.seed,
        RunOptions {
            keep_trace_bytes: false,
            keep_records: true,
        },
    );
    let calls: Vec<&str> = o.report.calls.iter().map(|c| c.call).collect();
    let status = calls
        .iter()
        .rposition(|c| *c == "GatherWriterStatus")
        .expect("a GatherWriterStatus");
    assert_eq!(&calls[status + 1..], ["Release"], "calls: {calls:?}");
    assert!(calls.contains(&"DoSnapshotSet"));
    assert!(!calls.contains(&"AbortBackup") && !calls.contains(&"BackupComplete"));
    assert!(events_of(&o, "MailWriter").contains(&"OnBackupShutdown"));
}

/// A shadow read cost virtual time for every block written on the volume, also those first
/// written after the shadow's instant, which the shadow holds as zeros (nothing to read).
#[test]
fn a_shadow_read_costs_only_the_blocks_the_shadow_holds() {
    let o = run_toml(
        r#"
[[volume]]
name = "C:"
size = "4GiB"

[[workload]]
name = "spread"
volumes = ["C:"]
rate = 5000
pattern = "uniform"

[[requester]]
name = "backup"
context = "VSS_CTX_FILE_SHARE_BACKUP"
read_bandwidth = "100MB/s"
"#,
    );
    assert_eq!(o.report.result, "S_OK", "{:?}", o.report.expect);
    let records = o.records.as_ref().unwrap();
    let held = records
        .iter()
        .find(|r| r.kind == "shadow_created")
        .and_then(|r| r.n)
        .expect("a shadow");
    let begin = records
        .iter()
        .find(|r| r.kind == "read_shadow" && r.span == Some("begin"))
        .expect("the shadow is read");
    let end = records
        .iter()
        .find(|r| r.kind == "read_shadow" && r.span == Some("end"))
        .expect("the read ends");
    let total = begin.n.unwrap();
    assert!(
        total > held,
        "blocks were first written after the instant: {total} > {held}"
    );
    // 4 KiB blocks at 100 MB/s: the held blocks' bytes, rounded up to a microsecond.
    let want = (held * 4096 * 1_000_000).div_ceil(100_000_000);
    assert_eq!(end.us, Some(want), "{held} held of {total} written");
}
