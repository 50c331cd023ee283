//! Defects found by fuzzing the simulator from outside: each file under `tests/inputs/found/`
//! is a minimal reproducer whose `[expect]` states the correct outcome; it failed before its
//! fix. Each file's header names the defect.

use sim::run::{RunOptions, run};
use vss_sim_tests::{load, root, toml_files};

#[test]
fn every_reproducer_of_a_found_defect_passes_its_expect() {
    let files = toml_files(&root().join("tests/inputs/found"));
    assert!(
        !files.is_empty(),
        "tests/inputs/found holds the reproducers"
    );
    let mut failures = Vec::new();
    for path in &files {
        let s = load(path);
        let r = run(&s, s.seed, RunOptions::default());
        if !r.report.expect.passed {
            failures.push(format!(
                "{}: {:?}",
                path.display(),
                r.report.expect.failures
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "reproducers failing their [expect]:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_read_step_before_the_shadow_exists_reads_nothing() {
    // The read step runs while DoSnapshotSet (wait = false) is still
    // creating the shadow. Before the fix it read the live volume for 8 virtual seconds.
    let path = root().join("tests/inputs/found/read_before_the_shadow_exists.toml");
    let s = load(&path);
    let r = run(&s, s.seed, RunOptions::default());
    assert!(
        r.report.calls.iter().all(|c| c.call != "ReadShadow"),
        "no ReadShadow may be made before the set's shadows exist: {:?}",
        r.report.calls.iter().map(|c| &c.call).collect::<Vec<_>>()
    );
    assert!(
        r.report.virtual_time_us < 3_000_000,
        "the run ends soon after DoSnapshotSet, not after reading the live volume: {} us",
        r.report.virtual_time_us
    );
}
