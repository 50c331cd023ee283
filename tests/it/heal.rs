//! Healing (rule 31): from `[run] heal_at` no fault fires and every stuck call answers `S_OK`;
//! by `heal_at + settle_within` the machine must have ended, or `settles` says what is open.

use sim::run::{RunOptions, run};
use sim::scenario::Scenario;
use vss_sim_tests::{inline, load, root};

fn violations(s: &Scenario) -> Vec<String> {
    run(s, s.seed, RunOptions::default()).report.violations
}

fn result(s: &Scenario) -> String {
    run(s, s.seed, RunOptions::default())
        .report
        .result
        .to_string()
}

/// The `detail` of every trace record of `kind`.
fn records(s: &Scenario, kind: &str) -> Vec<String> {
    let opts = RunOptions {
        keep_records: true,
        ..RunOptions::default()
    };
    run(s, s.seed, opts)
        .records
        .expect("kept")
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.detail.clone().unwrap_or_default())
        .collect()
}

const WRITER_FAILS_FREEZE: &str = r#"
name = "freeze-fails-until-healed"
[run]
heal_at = "10s"
[[volume]]
name = "C:"
size = "64GiB"
[[writer]]
name = "SqlServerWriter"
[[writer.component]]
name = "orders"
volumes = ["C:"]
[[writer.fault]]
event = "OnFreeze"
fail = "VSS_E_WRITERERROR_RETRYABLE"
[[requester]]
name = "backup"
[requester.policy]
retries = 1
retry_wait = "30s"
writer_failure = "retry"
"#;

#[test]
fn a_stuck_provider_call_without_a_deadline_ends_at_the_heal() {
    let healed = load(&root().join("scenarios/provider/begin_prepare_hang_healed.toml"));
    assert_eq!(result(&healed), "S_OK");
    assert!(violations(&healed).is_empty(), "{:?}", violations(&healed));
    assert_eq!(records(&healed, "heal"), ["1 stuck call answered S_OK"]);

    // The same machine without the heal waits until its time limit: rule 16.
    let mut stuck = healed.clone();
    stuck.heal = None;
    stuck.max_virtual_time = model::time::Duration::from_secs(120);
    assert_eq!(violations(&stuck), ["stalled"]);
}

#[test]
fn a_writer_fault_fires_before_the_heal_and_never_after() {
    let healed = inline(WRITER_FAILS_FREEZE);
    // The first attempt fails at Freeze; the retry, 30 s later, comes after the heal.
    assert_eq!(result(&healed), "S_OK");
    assert!(violations(&healed).is_empty(), "{:?}", violations(&healed));
    let mut never = healed.clone();
    never.heal = None;
    assert_eq!(result(&never), "VSS_E_WRITERERROR_RETRYABLE");
}

#[test]
fn a_go_away_after_the_heal_does_not_happen() {
    let s = inline(
        r#"
name = "go-away-after-heal"
[run]
heal_at = "1s"
[[volume]]
name = "C:"
size = "64GiB"
[[requester]]
name = "backup"
start = "2s"
go_away_at = "2.001s"
"#,
    );
    assert_eq!(result(&s), "S_OK");
    assert!(records(&s, "go_away").is_empty());
    let mut faulty = s.clone();
    faulty.heal = None;
    assert_eq!(records(&faulty, "go_away").len(), 1);
}

#[test]
fn a_machine_still_busy_when_it_should_have_settled_is_caught() {
    // Four backups in a row take longer than the 1 ms the scenario allows after its heal.
    let s = inline(
        r#"
name = "settle-too-short"
[run]
heal_at = "1ms"
settle_within = "1ms"
[[volume]]
name = "C:"
size = "64GiB"
[[requester]]
name = "backup"
repeat = 3
"#,
    );
    assert_eq!(violations(&s), ["settles"]);
    let said: Vec<_> = records(&s, "violation");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("requester 0 still waiting"), "{said:?}");
    // With room to settle, the same machine is clean.
    let mut roomy = s.clone();
    roomy.heal.as_mut().unwrap().settle_within = model::time::Duration::from_secs(60);
    assert!(violations(&roomy).is_empty(), "{:?}", violations(&roomy));
}

#[test]
fn heal_at_and_settle_within_print_back_and_a_fuzz_case_carries_them() {
    let s = inline(WRITER_FAILS_FREEZE);
    let text = s.to_toml();
    assert!(text.contains("heal_at = \"10s\""), "{text}");
    assert!(
        !text.contains("settle_within"),
        "the default is left out: {text}"
    );
    let again = inline(&text);
    assert_eq!(again.heal, s.heal);

    use proptest::strategy::ValueTree;
    let plan = sim::fuzz::case_tree(0, 0).current();
    let case = plan.build("case", None);
    let h = case.heal.expect("every fuzz case heals");
    assert!(h.at >= model::time::Duration::from_secs(5), "{h:?}");
    assert!(case.to_toml().contains("heal_at"));
}
