//! Writers' applications: a writer that freezes its application makes every shadow copy of it
//! consistent; without one, the hold cuts units and the run reports findings, never violations
//! (rules S5, 33).

use sim::run::{RunOptions, run};
use vss_sim_tests::{load, root};

fn scenario(file: &str) -> sim::scenario::Scenario {
    load(&root().join("scenarios/apps").join(file))
}

/// Findings over seeds `0..n`.
fn findings(s: &sim::scenario::Scenario, n: u64) -> Vec<Vec<String>> {
    (0..n)
        .map(|seed| {
            let r = run(s, seed, RunOptions::default());
            assert!(
                r.report.violations.is_empty(),
                "seed {seed}: {:?}",
                r.report.violations
            );
            r.report.findings.iter().map(|f| f.name.clone()).collect()
        })
        .collect()
}

#[test]
fn a_frozen_database_is_consistent_in_every_shadow() {
    let s = scenario("database_consistent_with_writer.toml");
    let all = findings(&s, 24);
    assert!(all.iter().all(Vec::is_empty), "{all:?}");
}

#[test]
fn without_a_writer_the_hold_tears_some_transactions_and_says_so_as_findings() {
    let s = scenario("database_torn_writerless.toml");
    let all = findings(&s, 24);
    let torn = all.iter().filter(|f| !f.is_empty()).count();
    // A transaction is torn after its commit record: half its writes. Some seeds cut one,
    // some fall elsewhere.
    assert!(torn > 0 && torn < all.len(), "{torn} of {}", all.len());
    assert!(
        all.iter().flatten().all(|n| n == "torn_transaction"),
        "{all:?}"
    );
}

#[test]
fn a_writer_that_fails_freeze_leaves_its_database_crash_consistent() {
    let s = scenario("database_torn_writer_failed_freeze.toml");
    let all = findings(&s, 24);
    assert!(all.iter().any(|f| !f.is_empty()), "{all:?}");
}

#[test]
fn findings_never_change_the_exit_code() {
    let s = scenario("database_torn_writerless.toml");
    let r = run(&s, s.seed, RunOptions::default());
    assert_eq!(r.report.findings.len(), 1, "{:?}", r.report.findings);
    assert!(r.report.violations.is_empty());
    assert!(r.report.expect.passed, "{:?}", r.report.expect.failures);
    let f = &r.report.findings[0];
    assert_eq!(f.application, "sqlservr.exe");
    assert!(f.detail.contains("commit record"), "{}", f.detail);
}
