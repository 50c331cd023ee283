//! Protocol behaviour a user relies on, checked on small scenarios written inline: the exact
//! edges of the freeze window and the flush-and-hold (rule 13b), writer failures
//! (rules 6, 7, 11) and rule 14's clean-up.

use sim::run::{Report, RunOptions, run};

fn run_toml(src: &str) -> Report {
    let s = vss_sim_tests::inline(src);
    run(&s, 0, RunOptions::default()).report
}

fn writer<'a>(r: &'a Report, name: &str) -> &'a sim::run::WriterJson {
    r.writers
        .iter()
        .find(|w| w.name == name)
        .expect("writer in report")
}

fn call<'a>(r: &'a Report, name: &str) -> &'a sim::run::CallJson {
    r.calls
        .iter()
        .find(|c| c.call == name)
        .expect("call in report")
}

/// One FRONT_END writer on one idle volume. With the default latencies the Thaw is delivered
/// 57 ms after its OnFreeze returns (PreCommitSnapshots 1 ms, flush 5 ms, CommitSnapshots
/// 50 ms, PostCommitSnapshots 1 ms), so an OnFreeze of `limit - 57ms` puts Thaw exactly at the
/// limit.
fn freeze_scenario(freeze_timeout: &str, on_freeze: &str) -> String {
    format!(
        r#"
[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "W"
freeze_timeout = "{freeze_timeout}"
latency = {{ OnFreeze = "{on_freeze}" }}
[[writer.component]]
name = "data"
volumes = ["C:"]

[[requester]]
name = "backup"
"#
    )
}

fn assert_freeze_edges(limit: &str, at: &str, under: &str, over: &str) {
    for (latency, timed_out) in [(at, false), (under, false), (over, true)] {
        let r = run_toml(&freeze_scenario(limit, latency));
        assert!(
            r.violations.is_empty(),
            "{limit}/{latency}: {:?}",
            r.violations
        );
        // Rule 6/7: the set is still created either way.
        assert_eq!(
            call(&r, "DoSnapshotSet").async_result,
            Some("VSS_S_ASYNC_FINISHED")
        );
        let w = writer(&r, "W");
        if timed_out {
            assert_eq!(
                (w.state, w.last_error),
                ("VSS_WS_FAILED_AT_FREEZE", "VSS_E_WRITERERROR_TIMEOUT"),
                "{limit}/{latency}"
            );
            assert_eq!(w.last_error_code, "0x800423F2");
        } else {
            assert_eq!(
                (w.state, w.last_error),
                ("VSS_WS_STABLE", "S_OK"),
                "{limit}/{latency}"
            );
            let used = r.summary.freeze_windows[0].used_us;
            assert!(
                used <= r.summary.freeze_windows[0].limit_us,
                "{limit}/{latency}: used {used}"
            );
        }
    }
}

#[test]
fn freeze_window_edges_default_60s() {
    assert_freeze_edges("60s", "59.943s", "59.942999s", "59.943001s");
}

#[test]
fn freeze_window_edges_shortened_20s() {
    assert_freeze_edges("20s", "19.943s", "19.942999s", "19.943001s");
}

/// The hold starts at PreCommitSnapshots' return; the flush takes 5 ms; the release follows the
/// last CommitSnapshots. A CommitSnapshots of 9.995 s releases exactly 10 s after the hold.
fn hold_scenario(commit: &str, flush: &str) -> String {
    format!(
        r#"
[profile]
flush_latency = "{flush}"

[system_provider]
latency = {{ CommitSnapshots = "{commit}" }}

[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "W"
[[writer.component]]
name = "data"
volumes = ["C:"]

[[workload]]
name = "app"
volumes = ["C:"]
rate = 1000
# Writes complete at once, so none is in flight at the hold: the flush takes exactly its 5 ms
# whatever the seed.
write_latency = "0us"

[[requester]]
name = "backup"
"#
    )
}

#[test]
fn hold_edges_commit() {
    for (commit, expect) in [
        ("9.995s", "VSS_S_ASYNC_FINISHED"),
        ("9.994999s", "VSS_S_ASYNC_FINISHED"),
        ("9.995001s", "VSS_E_HOLD_WRITES_TIMEOUT"),
    ] {
        let r = run_toml(&hold_scenario(commit, "5ms"));
        assert!(r.violations.is_empty(), "{commit}: {:?}", r.violations);
        assert_eq!(
            call(&r, "DoSnapshotSet").async_result,
            Some(expect),
            "commit {commit}"
        );
        if expect == "VSS_E_HOLD_WRITES_TIMEOUT" {
            // Rule 13b: the failing hold lasts exactly 10 s + 1 µs; rule 14: nothing survives.
            assert_eq!(r.summary.hold_us, 10_000_001);
            assert!(r.snapshots.iter().all(|s| s.status == "aborted"));
            assert_eq!(r.result, "VSS_E_HOLD_WRITES_TIMEOUT");
            // Rule 14: the frozen writer is aborted and returns to STABLE / S_OK.
            assert_eq!(
                (writer(&r, "W").state, writer(&r, "W").last_error),
                ("VSS_WS_STABLE", "S_OK")
            );
            assert!(
                r.calls.iter().any(|c| c.call == "AbortBackup"),
                "the requester aborts after a failed DoSnapshotSet"
            );
        } else {
            let want = if commit == "9.995s" {
                10_000_000
            } else {
                9_999_999
            };
            assert_eq!(
                r.summary.hold_us, want,
                "commit {commit}: the hold ends at the release"
            );
            assert_eq!(r.result, "S_OK");
        }
        assert!(
            r.summary.writes_delayed > 0,
            "writes issued during the hold are queued"
        );
    }
}

#[test]
fn hold_edges_flush() {
    for (flush, expect) in [
        ("9.9s", "VSS_S_ASYNC_FINISHED"),
        ("10.000001s", "VSS_E_FLUSH_WRITES_TIMEOUT"),
        // The flush ends in time but the commit cannot: a hold timeout.
        ("10s", "VSS_E_HOLD_WRITES_TIMEOUT"),
    ] {
        let r = run_toml(&hold_scenario("50ms", flush));
        assert!(r.violations.is_empty(), "{flush}: {:?}", r.violations);
        assert_eq!(
            call(&r, "DoSnapshotSet").async_result,
            Some(expect),
            "flush {flush}"
        );
    }
}

#[test]
fn writer_failing_freeze_is_aborted_and_the_set_is_still_created() {
    let r = run_toml(
        r#"
[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "Vetoer"
[[writer.component]]
name = "a"
volumes = ["C:"]
[[writer.fault]]
event = "OnFreeze"
fail = "VSS_E_WRITERERROR_RETRYABLE"

[[writer]]
name = "Good"
[[writer.component]]
name = "b"
volumes = ["C:"]

[[requester]]
name = "backup"
"#,
    );
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let v = writer(&r, "Vetoer");
    assert_eq!(
        (v.state, v.last_error),
        ("VSS_WS_FAILED_AT_FREEZE", "VSS_E_WRITERERROR_RETRYABLE")
    );
    assert_eq!(writer(&r, "Good").state, "VSS_WS_STABLE");
    assert_eq!(
        call(&r, "DoSnapshotSet").async_result,
        Some("VSS_S_ASYNC_FINISHED")
    );
    assert_eq!(r.result, "S_OK");
    assert_eq!(r.snapshots.len(), 1);
}

#[test]
fn writer_hanging_in_identify_is_not_responding_after_the_response_limit() {
    let r = run_toml(
        r#"
[profile]
writer_response_timeout = "30s"

[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "Hung"
[[writer.component]]
name = "a"
volumes = ["C:"]
[[writer.fault]]
event = "Identify"
hang = true

[[requester]]
name = "backup"
"#,
    );
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let w = writer(&r, "Hung");
    assert_eq!(
        (w.state, w.last_error),
        ("VSS_WS_FAILED_AT_IDENTIFY", "VSS_E_WRITER_NOT_RESPONDING")
    );
    let g = call(&r, "GatherWriterMetadata");
    assert_eq!(g.async_result, Some("VSS_S_ASYNC_FINISHED"));
    // The writer is left out; the backup goes on without it and completes.
    assert_eq!(r.result, "S_OK");
    assert!(r.virtual_time_us > 30_000_000);
}

/// `[expect] violations` names the invariants a scenario deliberately shows: listed and seen
/// passes, seen but not listed fails, listed but not seen fails.
#[test]
fn expected_violations_are_matched_both_ways() {
    let stalls = r#"
[run]
max_virtual_time = "2s"

[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "W"
[[writer.component]]
name = "data"
volumes = ["C:"]
[[writer.fault]]
event = "PrepareForBackup"
delay = "10s"

[[requester]]
name = "backup"
"#;
    let listed = format!("{stalls}\n[expect]\nviolations = [\"stalled\"]\n");
    let r = run_toml(&listed);
    assert_eq!(r.violations, ["stalled"]);
    assert!(r.expect.passed, "{:?}", r.expect.failures);
    assert_eq!(r.result, "VSS_S_ASYNC_PENDING");

    let r = run_toml(stalls);
    assert!(!r.expect.passed);
    assert_eq!(r.expect.failures, ["violation stalled occurred"]);

    let calm = freeze_scenario("60s", "10ms") + "\n[expect]\nviolations = [\"stalled\"]\n";
    let r = run_toml(&calm);
    assert!(r.violations.is_empty());
    assert_eq!(
        r.expect.failures,
        ["violation stalled was expected but did not occur"]
    );
}
