//! Every catalog scenario passes its `[expect]`, and a second run gives the same trace.

use sim::run::{RunOptions, run};
use vss_sim_tests::{load, root, toml_files};

#[test]
fn every_catalog_scenario_passes_its_expect_and_replays() {
    let files = toml_files(&root().join("scenarios"));
    assert!(
        files.len() >= 5,
        "the catalog ships at least 5 scenarios, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let s = load(path);
        let a = run(&s, s.seed, RunOptions::default());
        if !a.report.expect.passed {
            failures.push(format!(
                "{}: {:?}",
                path.display(),
                a.report.expect.failures
            ));
        }
        let b = run(&s, s.seed, RunOptions::default());
        assert_eq!(
            a.report.trace_digest,
            b.report.trace_digest,
            "{} does not replay",
            path.display()
        );
        assert_eq!(
            a.report,
            b.report,
            "{}: reports differ between two runs",
            path.display()
        );
    }
    assert!(
        failures.is_empty(),
        "scenarios failing their [expect]:\n{}",
        failures.join("\n")
    );
}
