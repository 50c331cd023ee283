//! `vss-sim fuzz`: the fault search. The correct standard requester survives a campaign with
//! no violation; each deliberately wrong requester is caught, shrunk to at most three faults
//! and written as a scenario whose replay fails; results do not depend on `--jobs` or on
//! sharding. (The CI budgets are small; `vss-sim fuzz --cases 100000` is the long run.)

use std::path::PathBuf;
use std::process::Command;

use model::requester::Flaw;
use sim::fuzz::shrink::shrink;
use sim::fuzz::{Options, Totals, run_cases};
use vss_sim_tests::vss_sim_bin;

fn options(cases: u64, flaw: Option<Flaw>) -> Options {
    Options {
        cases,
        seed: 0,
        flaw,
        jobs: 2,
        shard: (1, 1),
        out: PathBuf::new(),
    }
}

fn campaign(o: &Options) -> Totals {
    run_cases(o, |_| {})
}

#[test]
fn the_standard_requester_survives_a_campaign() {
    let t = campaign(&options(2_000, None));
    assert_eq!(t.cases, 2_000);
    assert!(t.violations.is_empty(), "{:?}", t.violations);
    assert!(t.first_failure.is_none());
    // The swarm reaches torn and consistent application images.
    assert!(
        t.findings.contains_key("torn_transaction"),
        "{:?}",
        t.findings
    );
}

#[test]
fn every_mutant_is_caught_shrunk_and_replayable() {
    let dir = std::env::temp_dir().join(format!("vss-sim-search-{}", std::process::id()));
    for flaw in Flaw::ALL {
        let t = campaign(&options(2_000, Some(flaw)));
        let (case, oracle) = t
            .first_failure
            .unwrap_or_else(|| panic!("{} was not caught in 2000 cases", flaw.name()));
        let s = shrink(0, case, oracle, Some(flaw));
        assert!(
            s.faults.1 <= 3,
            "{}: {} faults after shrinking",
            flaw.name(),
            s.faults.1
        );
        // The written scenario replays the violation: `vss-sim run` exits 1.
        std::fs::create_dir_all(&dir).unwrap();
        let path = s.path(&dir);
        std::fs::write(&path, s.text(0)).unwrap();
        let out = Command::new(vss_sim_bin())
            .args([
                "run",
                path.to_str().unwrap(),
                "--seed",
                &s.scenario.seed.to_string(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}: {:?}", flaw.name(), out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(oracle), "{}: {stdout}", flaw.name());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn results_do_not_depend_on_jobs_or_shards() {
    let flaw = Some(Flaw::LiveFallback);
    let mut one = options(600, flaw);
    one.jobs = 1;
    let whole = campaign(&one);
    let mut two = one.clone();
    two.jobs = 2;
    assert_eq!(campaign(&two), whole);
    // The union of four shards is the whole campaign.
    let mut merged = Totals::default();
    for k in 1..=4 {
        let mut o = one.clone();
        o.shard = (k, 4);
        let t = campaign(&o);
        merged.cases += t.cases;
        merged.events += t.events;
        for (k, v) in t.violations {
            *merged.violations.entry(k).or_default() += v;
        }
        for (k, v) in t.findings {
            *merged.findings.entry(k).or_default() += v;
        }
        for (m, n) in merged.coverage.iter_mut().zip(t.coverage) {
            *m += n;
        }
        merged.first_failure = match (merged.first_failure, t.first_failure) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
    }
    assert_eq!(merged, whole);
}

#[test]
fn the_cli_lists_requesters_and_refuses_bad_options() {
    let run = |args: &[&str]| Command::new(vss_sim_bin()).args(args).output().unwrap();
    let out = run(&["fuzz", "--list-requesters"]);
    assert_eq!(out.status.code(), Some(0));
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    let mut want = vec!["standard".to_string()];
    want.extend(Flaw::ALL.map(|f| f.name().to_string()));
    assert_eq!(names, want);
    for bad in [
        &["fuzz", "--requester", "careless"][..],
        &["fuzz", "--shard", "5/4"],
        &["fuzz", "--jobs", "0"],
    ] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn a_clean_campaign_exits_0_and_a_failing_one_1_with_its_replay() {
    let dir = std::env::temp_dir().join(format!("vss-sim-cli-{}", std::process::id()));
    let out = Command::new(vss_sim_bin())
        .args([
            "fuzz",
            "--cases",
            "200",
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["cases"], 200);
    assert_eq!(j["violations"], serde_json::json!({}));
    assert!(j["first_failure"].is_null());
    let out = Command::new(vss_sim_bin())
        .args(["fuzz", "--cases", "50", "--requester", "live-fallback"])
        .args(["--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let replay = text
        .lines()
        .find_map(|l| l.strip_prefix("replay: vss-sim run "))
        .expect("a replay line");
    let (path, seed) = replay.split_once(" --seed ").unwrap();
    assert!(seed.parse::<u64>().is_ok(), "{replay}");
    assert!(std::path::Path::new(path).exists(), "{path}");
    assert!(std::path::Path::new(&path.replace(".toml", ".json")).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_determinism_runs_cases_twice_and_finds_them_identical() {
    let out = Command::new(vss_sim_bin())
        .args([
            "fuzz",
            "--check-determinism",
            "--cases",
            "30",
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("30 cases run twice, every trace identical"),
        "{text}"
    );
}

#[test]
fn merged_shard_results_equal_the_unsharded_campaign() {
    let dir = std::env::temp_dir().join(format!("vss-sim-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fuzz = |extra: &[&str]| {
        let out = Command::new(vss_sim_bin())
            .args([
                "fuzz",
                "--cases",
                "120",
                "--requester",
                "trusts-wait",
                "--json",
            ])
            .args(["--out", dir.join("failures").to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        out.stdout
    };
    for k in 1..=3 {
        let json = fuzz(&["--shard", &format!("{k}/3")]);
        std::fs::write(dir.join(format!("shard-{k}.json")), json).unwrap();
    }
    let merged = Command::new(vss_sim_bin())
        .args(["fuzz", "merge", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(1), "{merged:?}");
    let m: serde_json::Value = serde_json::from_slice(&merged.stdout).unwrap();
    let whole: serde_json::Value = serde_json::from_slice(&fuzz(&[])).unwrap();
    for key in [
        "cases",
        "events",
        "violations",
        "findings",
        "events_per_case",
        "coverage",
    ] {
        assert_eq!(m[key], whole[key], "{key}");
    }
    for key in ["case", "oracle", "seed"] {
        assert_eq!(
            m["first_failure"][key], whole["first_failure"][key],
            "{key}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_swarm_reaches_every_situation_within_20000_cases() {
    use proptest::strategy::ValueTree;
    let all = u64::MAX >> (64 - sim::situation::COUNT);
    let (mut reached, mut cases) = (0u64, 0u64);
    while reached != all && cases < 20_000 {
        let plan = sim::fuzz::case_tree(0, cases).current();
        reached |= sim::fuzz::run_plan(&plan, cases, None).situations;
        cases += 1;
    }
    let never: Vec<String> = sim::situation::names()
        .enumerate()
        .filter(|(i, _)| reached & (1 << i) == 0)
        .map(|(_, n)| n)
        .collect();
    eprintln!("every situation reached within {cases} cases");
    assert!(
        never.is_empty(),
        "after {cases} cases, never reached: {never:?}"
    );
}

#[test]
fn fuzz_reports_coverage_and_names_what_it_never_reached() {
    let dir = std::env::temp_dir().join(format!("vss-sim-coverage-{}", std::process::id()));
    let run = |extra: &[&str]| {
        Command::new(vss_sim_bin())
            .args(["fuzz", "--cases", "3", "--out", dir.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let json = run(&["--json"]);
    assert_eq!(json.status.code(), Some(0), "{json:?}");
    let j: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let coverage = j["coverage"].as_object().expect("a coverage object");
    let names: Vec<String> = sim::situation::names().collect();
    assert_eq!(coverage.len(), names.len());
    for n in &names {
        assert!(
            coverage[n].as_u64().is_some_and(|c| c <= 3),
            "{n}: {coverage:?}"
        );
    }
    // Three cases reach the stable state and cannot reach everything.
    assert!(coverage["writer_state:VSS_WS_STABLE"].as_u64().unwrap() > 0);
    let text = String::from_utf8(run(&[]).stdout).unwrap();
    assert!(text.contains("situations reached"), "{text}");
    let never = coverage
        .iter()
        .filter(|(_, c)| c.as_u64() == Some(0))
        .count();
    assert!(never > 0);
    assert_eq!(text.matches("  never reached: ").count(), never, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
