//! `vss-sim scenario fmt`: the canonical text of every catalog scenario parses back to the same
//! scenario, runs to the same trace, and formats to the same bytes again.

use std::path::Path;

use sim::run::{RunOptions, run};
use sim::scenario::parse;
use vss_sim_tests::{load, root, toml_files};

/// Parses `text` as the file `path` would be (same file name, so the same default name).
fn reparse(path: &Path, text: &str) -> sim::scenario::Scenario {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap();
    let shown = format!("fmt of {}", path.display());
    parse(&shown, stem, text).unwrap_or_else(|e| panic!("{e}\n--- text ---\n{text}"))
}

#[test]
fn every_catalog_scenario_formats_to_text_that_runs_the_same() {
    let files = toml_files(&root().join("scenarios"));
    assert!(files.len() >= 5);
    for path in &files {
        let original = load(path);
        let text = original.to_toml();
        let again = reparse(path, &text);
        assert_eq!(
            again,
            original,
            "{}: the canonical text parses to another scenario:\n{text}",
            path.display()
        );
        let a = run(&original, original.seed, RunOptions::default()).report;
        let b = run(&again, again.seed, RunOptions::default()).report;
        assert_eq!(
            a.trace_digest,
            b.trace_digest,
            "{}: the canonical text runs to another trace",
            path.display()
        );
    }
}

#[test]
fn fmt_is_idempotent_on_every_catalog_scenario() {
    for path in &toml_files(&root().join("scenarios")) {
        let once = load(path).to_toml();
        let twice = reparse(path, &once).to_toml();
        assert_eq!(once, twice, "{}: fmt of fmt differs", path.display());
    }
}

#[test]
fn the_canonical_text_does_not_depend_on_the_file_name() {
    // A file without `name` takes its file name; the canonical text writes it, so saved
    // anywhere it names (and runs) the same scenario.
    let src = "[[volume]]\nname = \"C:\"\nsize = \"1GiB\"\n\n[[requester]]\nname = \"backup\"\n";
    let s = parse("a/first.toml", "first", src).unwrap();
    let text = s.to_toml();
    assert!(text.starts_with("name = \"first\"\n"), "{text}");
    let elsewhere = parse("b/second.toml", "second", &text).unwrap();
    assert_eq!(elsewhere, s);
}

#[test]
fn defaults_are_left_out_and_units_are_canonical() {
    let src = r#"
name = "defaults"
seed = 0
[profile]
freeze_timeout_default = "60s"
flush_and_hold_timeout = "10000ms"
[run]
max_virtual_time = "3600s"
[[volume]]
name = "d:\\"
size = "1024MiB"
block_size = "4KiB"
diff_area = "UNBOUNDED"
[[writer]]
name = "W"
level = "VSS_APP_FRONT_END"
latency = { Thaw = "20ms", OnFreeze = "0.5s" }
[[requester]]
name = "r"
context = "VSS_CTX_BACKUP"
volumes = ["D:"]
read_bandwidth = "200MB/s"
[requester.policy]
writer_failure = "continue"
retry_wait = "600s"
"#;
    let s = parse("<inline>", "inline", src).unwrap();
    let text = s.to_toml();
    assert_eq!(
        text,
        "name = \"defaults\"\n\n[[volume]]\nname = \"D:\"\nsize = \"1GiB\"\n\n[[writer]]\nname = \"W\"\nlatency = { OnFreeze = \"500ms\", OnThaw = \"20ms\" }\n\n[[requester]]\nname = \"r\"\n"
    );
}

#[test]
fn each_fault_of_a_catalog_scenario_comes_off_alone_and_the_rest_still_runs() {
    let mut checked = 0;
    for path in &toml_files(&root().join("scenarios")) {
        let s = load(path);
        let all = s.faults();
        if all.len() < 2 {
            continue;
        }
        checked += 1;
        for f in &all {
            let without = s.without_fault(f);
            // Every other fault stays, a twin of `f` included.
            let mut rest = all.clone();
            rest.remove(all.iter().position(|g| g == f).expect("listed"));
            assert_eq!(
                without.faults(),
                rest,
                "{}: removing `{f}` changed other faults",
                path.display()
            );
            let again = without
                .check()
                .unwrap_or_else(|e| panic!("{}: without `{f}`: {e}", path.display()));
            assert_eq!(again, without, "{}: without `{f}`", path.display());
            // It runs (its [expect] may no longer hold: that fault was what it showed).
            let report = run(&without, without.seed, RunOptions::default()).report;
            assert_eq!(report.trace_digest.len(), 64);
        }
    }
    assert!(checked >= 1, "no catalog scenario has two faults");
}
