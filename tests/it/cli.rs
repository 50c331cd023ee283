//! The `vss-sim` command line as README.md documents it: the timeline, `--json`, `--trace-out`,
//! `--seed`, exit codes 0/1/2 and the replay line, `graph writer`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vss_sim_tests::{root, vss_sim_bin};

const MISMATCH: &str = "tests/inputs/mismatch/happy_backup_expects_bad_state.toml";

/// Runs `vss-sim ARGS` from the workspace root.
fn vss_sim(args: &[&str]) -> Output {
    Command::new(vss_sim_bin())
        .current_dir(root())
        .args(args)
        .output()
        .expect("vss-sim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// A fresh directory under the system temp dir, removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vss-sim-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_hex_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `o[key]`, asserting it is there.
fn field<'a>(o: &'a Value, key: &str) -> &'a Value {
    o.get(key)
        .unwrap_or_else(|| panic!("missing field `{key}` in {o}"))
}

fn str_field<'a>(o: &'a Value, key: &str) -> &'a str {
    field(o, key)
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {o}"))
}

fn u64_field(o: &Value, key: &str) -> u64 {
    field(o, key)
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not an unsigned integer in {o}"))
}

fn array_field<'a>(o: &'a Value, key: &str) -> &'a Vec<Value> {
    field(o, key)
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array in {o}"))
}

fn run_json(args: &[&str]) -> (Output, Value) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = vss_sim(&all);
    let text = stdout(&out);
    // `from_str` refuses trailing data: stdout is exactly one JSON value.
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{text}"));
    assert!(v.is_object(), "stdout is not a JSON object: {text}");
    (out, v)
}

#[test]
fn run_without_file_prints_the_default_timeline_and_summary() {
    let out = vss_sim(&["run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));
    for needle in ["DoSnapshotSet", "OnFreeze", "OnThaw", "CommitSnapshots"] {
        assert!(
            text.contains(needle),
            "the timeline lacks {needle}:\n{text}"
        );
    }
    assert!(
        text.lines().any(|l| l == "result: S_OK"),
        "no `result: S_OK` line in the summary:\n{text}"
    );
    assert!(text.contains("expect: passed"), "{text}");
    // Freeze comes before CommitSnapshots, which comes before Thaw (rule 2).
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s}"));
    assert!(at("OnFreeze") < at("CommitSnapshots"));
    assert!(at("CommitSnapshots") < at("OnThaw"));
}

#[test]
fn run_json_has_every_documented_field() {
    let (out, v) = run_json(&[]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));

    assert_eq!(u64_field(&v, "schema_version"), 1);
    assert_eq!(str_field(&v, "scenario"), "default");
    assert_eq!(
        u64_field(&v, "seed"),
        0,
        "seed is an integer, 0 without `seed`"
    );
    assert_eq!(str_field(&v, "result"), "S_OK");
    let requesters = array_field(&v, "requesters");
    assert_eq!(requesters.len(), 1);
    assert_eq!(str_field(&requesters[0], "name"), "backup");
    assert_eq!(str_field(&requesters[0], "result"), "S_OK");
    assert!(u64_field(&v, "virtual_time_us") > 0);
    assert!(u64_field(&v, "events") > 0);
    assert!(is_hex_digest(str_field(&v, "trace_digest")), "{v}");

    let calls = array_field(&v, "calls");
    assert!(!calls.is_empty());
    let mut last_at = 0;
    for c in calls {
        assert_eq!(str_field(c, "requester"), "backup");
        let call = str_field(c, "call");
        str_field(c, "result");
        let at = u64_field(c, "at_us");
        assert!(at >= last_at, "calls are in order: {c}");
        last_at = at;
        let is_async = matches!(
            call,
            "GatherWriterMetadata"
                | "PrepareForBackup"
                | "DoSnapshotSet"
                | "GatherWriterStatus"
                | "BackupComplete"
        );
        assert_eq!(
            c.get("async_result").is_some(),
            is_async,
            "async_result is present exactly on asynchronous calls: {c}"
        );
        if call == "ReadShadow" {
            str_field(c, "volume");
            let first = u64_field(c, "first_block");
            let last = u64_field(c, "last_block");
            assert!(first <= last, "{c}");
            assert!(u64_field(c, "blocks") > 0, "{c}");
        }
    }
    let named: Vec<&str> = calls.iter().map(|c| str_field(c, "call")).collect();
    for call in [
        "InitializeForBackup",
        "DoSnapshotSet",
        "BackupComplete",
        "ReadShadow",
    ] {
        assert!(named.contains(&call), "no {call} in calls: {named:?}");
    }
    let dss = calls
        .iter()
        .find(|c| str_field(c, "call") == "DoSnapshotSet")
        .unwrap();
    assert_eq!(str_field(dss, "result"), "S_OK");
    assert_eq!(str_field(dss, "async_result"), "VSS_S_ASYNC_FINISHED");

    let writers = array_field(&v, "writers");
    assert_eq!(
        writers.len(),
        6,
        "the default scenario declares six writers"
    );
    for w in writers {
        str_field(w, "name");
        assert!(str_field(w, "class_id").starts_with('{'), "{w}");
        assert!(str_field(w, "instance_id").starts_with('{'), "{w}");
        assert_eq!(str_field(w, "state"), "VSS_WS_STABLE");
        assert_eq!(u64_field(w, "state_code"), 1);
        assert_eq!(str_field(w, "last_error"), "S_OK");
        assert_eq!(str_field(w, "last_error_code"), "0x00000000");
    }
    let sql = writers
        .iter()
        .find(|w| str_field(w, "name") == "SqlServerWriter")
        .expect("SqlServerWriter");
    assert_eq!(
        str_field(sql, "class_id"),
        "{a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}"
    );

    let snapshots = array_field(&v, "snapshots");
    assert_eq!(snapshots.len(), 3, "one shadow per volume");
    for s in snapshots {
        for k in ["id", "set_id", "volume", "provider"] {
            str_field(s, k);
        }
        assert_eq!(str_field(s, "context"), "VSS_CTX_BACKUP");
        assert_eq!(str_field(s, "status"), "released");
    }
    assert!(array_field(&v, "violations").is_empty());
    let expect = field(&v, "expect");
    assert_eq!(field(expect, "passed"), &Value::Bool(true));
    assert!(array_field(expect, "failures").is_empty());

    let summary = field(&v, "summary");
    assert_eq!(u64_field(summary, "shadows_made"), 3);
    for k in [
        "holds",
        "hold_us",
        "writes_delayed",
        "max_added_latency_us",
        "writes_issued",
        "writes_failed",
    ] {
        u64_field(summary, k);
    }
    for f in array_field(summary, "freeze_windows") {
        str_field(f, "writer");
        assert!(u64_field(f, "used_us") <= u64_field(f, "limit_us"), "{f}");
    }
}

#[test]
fn trace_out_file_hashes_to_trace_digest() {
    let tmp = TempDir::new("trace_out");
    let trace = tmp.path().join("run.jsonl");
    let (out, v) = run_json(&["--trace-out", trace.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));
    let bytes = std::fs::read(&trace).expect("--trace-out wrote the file");
    assert!(!bytes.is_empty());
    assert_eq!(hex(&Sha256::digest(&bytes)), str_field(&v, "trace_digest"));

    let text = String::from_utf8(bytes).expect("the trace is UTF-8");
    assert!(text.ends_with('\n'), "the trace ends with a newline");
    // Schema 2: the header first, naming the scenario and the seed, no file path.
    let header = text.lines().next().expect("a first line");
    assert_eq!(
        header,
        r#"{"kind":"header","schema_version":2,"scenario":"default","seed":0,"role":"sim","instance":"sim"}"#
    );
    let mut last_t = 0;
    let mut kinds = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let r: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("trace line {} is not JSON ({e}): {line}", i + 1));
        let t = u64_field(&r, "t_us");
        assert!(
            t >= last_t,
            "trace line {} goes back in time: {line}",
            i + 1
        );
        last_t = t;
        kinds.push(str_field(&r, "kind").to_string());
        assert!(
            line.starts_with("{\"t_us\":"),
            "t_us is the first key: {line}"
        );
    }
    assert_eq!(kinds.last().map(String::as_str), Some("end"));
    for k in ["call", "event", "hold", "release", "shadow_created"] {
        assert!(kinds.iter().any(|x| x == k), "no `{k}` record in the trace");
    }
    // No temporary file is left beside the trace (the write is atomic).
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left.len(),
        1,
        "files left in the trace's directory: {left:?}"
    );
}

#[test]
fn same_seed_same_digest_through_the_cli() {
    let (_, a) = run_json(&["--seed", "7"]);
    let (_, b) = run_json(&["--seed", "7"]);
    let (_, c) = run_json(&["--seed", "8"]);
    assert_eq!(u64_field(&a, "seed"), 7);
    assert_eq!(str_field(&a, "trace_digest"), str_field(&b, "trace_digest"));
    assert_ne!(str_field(&a, "trace_digest"), str_field(&c, "trace_digest"));
}

#[test]
fn seed_random_prints_a_seed_below_2_pow_53() {
    let (out, v) = run_json(&["--seed", "random"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{err}");
    let printed: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("vss-sim run: seed "))
        .unwrap_or_else(|| panic!("no `vss-sim run: seed N` line on stderr:\n{err}"))
        .trim()
        .parse()
        .expect("the printed seed is an integer");
    assert!(printed < 1u64 << 53, "seed {printed} is not below 2^53");
    assert_eq!(
        u64_field(&v, "seed"),
        printed,
        "the run used the printed seed"
    );
}

#[test]
fn seed_that_is_not_a_number_exits_2() {
    let out = vss_sim(&["run", "--seed", "abc"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(err.contains("--seed"), "{err}");
    assert!(err.contains("`abc`"), "{err}");
    assert!(out.stdout.is_empty(), "nothing is run: {}", stdout(&out));
}

#[test]
fn unknown_flag_exits_2() {
    let out = vss_sim(&["run", "--frobnicate"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(err.contains("--frobnicate"), "{err}");
    let out = vss_sim(&["walk"]);
    assert_eq!(out.status.code(), Some(2), "an unknown subcommand exits 2");
}

#[test]
fn mismatched_expect_exits_1_with_the_replay_line() {
    let out = vss_sim(&["run", MISMATCH]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{err}");
    assert!(
        err.contains("result: expected VSS_E_BAD_STATE, got S_OK"),
        "each mismatch is listed:\n{err}"
    );
    assert!(
        err.contains("writer AppWriter: expected state VSS_WS_FAILED_AT_FREEZE, got VSS_WS_STABLE"),
        "{err}"
    );
    assert_eq!(
        err.lines().last(),
        Some(format!("replay: vss-sim run {MISMATCH} --seed 42").as_str()),
        "the last line replays the run with the file's seed:\n{err}"
    );
    // The summary on stdout says so too.
    assert!(stdout(&out).contains("expect: FAILED"));

    // An explicit seed is the one replayed, and the JSON report carries the failures.
    let (out, v) = run_json(&[MISMATCH, "--seed", "9"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{err}");
    assert_eq!(
        err.lines().last(),
        Some(format!("replay: vss-sim run {MISMATCH} --seed 9").as_str()),
        "{err}"
    );
    let expect = field(&v, "expect");
    assert_eq!(field(expect, "passed"), &Value::Bool(false));
    assert_eq!(array_field(expect, "failures").len(), 2, "{expect}");

    // The replay command gives the same run.
    let (_, again) = run_json(&[MISMATCH, "--seed", "9"]);
    assert_eq!(
        str_field(&v, "trace_digest"),
        str_field(&again, "trace_digest")
    );
}

#[test]
fn catalog_scenario_given_as_file_exits_0() {
    let out = vss_sim(&["run", "scenarios/happy/one_writer_one_volume.toml"]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));
    assert!(stdout(&out).contains("result: S_OK"));
}

#[test]
fn graph_writer_prints_dot() {
    let out = vss_sim(&["graph", "writer"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));
    assert!(text.trim_start().starts_with("digraph"), "{text}");
    assert!(text.trim_end().ends_with('}'), "{text}");
    for state in [
        "VSS_WS_STABLE",
        "VSS_WS_WAITING_FOR_FREEZE",
        "VSS_WS_WAITING_FOR_THAW",
        "VSS_WS_FAILED_AT_FREEZE",
    ] {
        assert!(text.contains(state), "no {state} in:\n{text}");
    }
    assert!(text.contains("->"), "the graph has edges");
    // An edge that several events take lists them all: WAITING_FOR_BACKUP_COMPLETE -> STABLE
    // is taken by PrepareForBackup of a new session (rule 9) and by BackupComplete (rule S8).
    assert!(
        text.contains("[label=\"OnPrepareBackup\\nOnBackupComplete\"]"),
        "the edge to STABLE lists both events:\n{text}"
    );

    let out = vss_sim(&["graph", "provider"]);
    assert_eq!(out.status.code(), Some(2), "an unknown graph exits 2");
    assert!(stderr(&out).contains("`writer`"));
}

/// The annotated example of `scenarios/README.md` is a scenario that passes its `[expect]`.
#[test]
fn scenarios_readme_example_passes_its_expect() {
    let readme = std::fs::read_to_string(root().join("scenarios/README.md")).unwrap();
    let start = readme
        .find("## An annotated example")
        .expect("scenarios/README.md has an annotated example");
    let rest = &readme[start..];
    let open = rest.find("```toml\n").expect("a ```toml block") + "```toml\n".len();
    let len = rest[open..].find("\n```").expect("the block ends") + 1;
    let example = &rest[open..open + len];
    let tmp = TempDir::new("readme_example");
    let file = tmp.path().join("example.toml");
    std::fs::write(&file, example).unwrap();
    let (out, v) = run_json(&[file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the README example fails:\n{}",
        stderr(&out)
    );
    assert_eq!(str_field(&v, "scenario"), "retryable-freeze-failure");
    assert_eq!(u64_field(&v, "seed"), 7);
}

#[test]
fn oracles_lists_every_oracle_as_name_tab_description() {
    let o = vss_sim(&["oracles"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let names: Vec<&str> = out
        .lines()
        .map(|l| {
            let (name, description) = l.split_once('\t').expect("name<TAB>description");
            assert!(!description.trim().is_empty(), "{l}");
            name
        })
        .collect();
    let want: Vec<&str> = sim::oracle::names().collect();
    assert_eq!(names, want);
    // `[expect] violations` accepts exactly these names.
    assert_eq!(sim::scenario::VIOLATION_NAMES, want);
    for name in ["stalled", "freeze_window", "shadow_point_in_time"] {
        assert!(names.contains(&name), "{name} is an oracle");
    }
}

#[test]
fn scenario_fmt_prints_text_that_runs_to_the_same_trace() {
    let file = "scenarios/writer/freeze_fails_nonretryable.toml";
    let out = vss_sim(&["scenario", "fmt", file]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "stderr:\n{}", stderr(&out));
    let text = stdout(&out);
    // Saved under the same file name elsewhere, it runs to the same trace.
    let dir = TempDir::new("scenario-fmt");
    let copy = dir.path().join("freeze_fails_nonretryable.toml");
    std::fs::write(&copy, &text).expect("write the fmt output");
    let (a_out, a) = run_json(&[file]);
    let (b_out, b) = run_json(&[copy.to_str().unwrap()]);
    assert_eq!(a_out.status.code(), Some(0));
    assert_eq!(b_out.status.code(), Some(0), "stderr:\n{}", stderr(&b_out));
    assert_eq!(str_field(&a, "trace_digest"), str_field(&b, "trace_digest"));
    // And formats to the same bytes again.
    let again = vss_sim(&["scenario", "fmt", copy.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(stdout(&again), text);
}

#[test]
fn scenario_fmt_of_a_bad_file_exits_2_with_file_line_and_key() {
    let file = "tests/inputs/malformed/duration_without_unit.toml";
    let out = vss_sim(&["scenario", "fmt", file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).is_empty(),
        "nothing on stdout: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{file}:10: key `")) && err.contains("freeze_timeout"),
        "{err}"
    );
}

#[test]
fn scenario_fmt_of_a_missing_file_or_without_file_exits_2() {
    let out = vss_sim(&["scenario", "fmt", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no/such/file.toml"),
        "{}",
        stderr(&out)
    );
    let out = vss_sim(&["scenario", "fmt"]);
    assert_eq!(out.status.code(), Some(2));
    let out = vss_sim(&["scenario", "lint", "scenarios/happy/default.toml"]);
    assert_eq!(out.status.code(), Some(2));
}
