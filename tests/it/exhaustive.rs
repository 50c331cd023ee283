//! `vss-sim fuzz --exhaustive K`: every fault plan of at most K faults on a small machine. The
//! plans are counted, not run, for K = 2 (the long run is `vss-sim fuzz --exhaustive 2`, under a
//! minute in release); K = 1 runs with the standard requester clean and catches every mutant;
//! the written scenario replays the failure; results do not depend on `--jobs`; bad input
//! exits 2 and says why.

use std::path::PathBuf;
use std::process::{Command, Output};

use model::requester::Flaw;
use sim::fuzz::exhaustive::{Space, Tally, run_all, small_machine};
use vss_sim_tests::vss_sim_bin;

fn search(flaw: Option<Flaw>, k: u32, jobs: usize) -> Tally {
    let space = Space::new(&small_machine(), flaw).unwrap();
    run_all(&space, &space.plans(k), jobs, |_| {})
}

fn vss_sim(args: &[&str]) -> Output {
    Command::new(vss_sim_bin()).args(args).output().unwrap()
}

fn temp_dir(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vss-sim-exhaustive-{what}-{}", std::process::id()))
}

#[test]
fn the_small_machine_has_60141_plans_of_at_most_two_faults() {
    let space = Space::new(&small_machine(), None).unwrap();
    // 3 writers x (8 events x 9 faults + Freeze's 10) = 246 on writers; the system provider:
    // 8 calls x (12 codes + hang) + CommitSnapshots late = 105.
    assert_eq!(space.fault_counts(), (246, 105));
    assert_eq!(space.count(0), 1);
    assert_eq!(space.count(1), 1 + 351);
    // Every pair, less those on one writer event or provider call.
    let same = 3 * (8 * (9 * 8 / 2) + 10 * 9 / 2) + 7 * (13 * 12 / 2) + 14 * 13 / 2;
    assert_eq!(space.count(2), 1 + 351 + 351 * 350 / 2 - same);
    assert_eq!(space.count(2), 60_141);
    assert_eq!(space.plans(2).len(), 60_141);
    // The order is the documented one: writers first, providers after; plan 0 empty.
    let faults = space.faults();
    let shown = |i: usize| faults[i].to_string();
    assert!(shown(0).starts_with("writer WebWriter OnIdentify fail VSS_E_WRITERERROR_"));
    assert_eq!(shown(7), "writer WebWriter OnIdentify hang");
    assert_eq!(shown(8), "writer WebWriter OnIdentify delay 31s");
    assert_eq!(shown(35), "writer WebWriter OnFreeze delay 6s");
    assert_eq!(shown(36), "writer WebWriter OnFreeze delay 31s");
    assert!(shown(246).starts_with("system_provider BeginPrepareSnapshot fail "));
    assert_eq!(shown(350), "system_provider AbortSnapshots hang");
    assert!(space.plans(0)[0].is_empty());
}

#[test]
fn the_standard_requester_survives_every_single_fault() {
    let t = search(None, 1, 2);
    assert_eq!(t.plans, 352);
    assert!(t.violations.is_empty(), "{:?}", t.violations);
    assert!(t.first_failure.is_none());
    // The applications' images are judged: some plans tear them (findings, rule 33).
    assert!(
        t.findings.contains_key("torn_transaction"),
        "{:?}",
        t.findings
    );
    // Coverage counts plans per situation: most plans see a writer return to stable, some
    // fail one at Freeze, and the small machine has no bounded diff area, so none fills.
    let at = |name: &str| {
        let i = sim::situation::names().position(|n| n == name).unwrap();
        t.coverage[i]
    };
    assert!(at("writer_state:VSS_WS_STABLE") > 300);
    assert!(at("writer_state:VSS_WS_FAILED_AT_FREEZE") > 0);
    assert_eq!(at("diff_area_full_original_volume"), 0);
}

#[test]
fn every_mutant_is_caught_by_a_single_fault_whatever_the_jobs() {
    for (flaw, oracle) in [
        (Flaw::IgnoresWriterStatus, "component_backup_consistent"),
        (Flaw::ReleasesWhileReading, "backup_from_shadow"),
        (Flaw::LiveFallback, "backup_from_shadow"),
        (Flaw::TrustsWait, "backup_from_shadow"),
        (Flaw::NeverReleases, "creation_lock_freed"),
    ] {
        let t = search(Some(flaw), 1, 2);
        let (_, fired) = t
            .first_failure
            .unwrap_or_else(|| panic!("{} was not caught", flaw.name()));
        assert_eq!(fired, oracle, "{}", flaw.name());
        if flaw == Flaw::LiveFallback {
            assert_eq!(search(Some(flaw), 1, 1), t, "--jobs 1 and 2 differ");
        }
    }
}

#[test]
fn a_failing_plan_is_written_and_its_replay_fails() {
    let dir = temp_dir("replay");
    // Plan 0, the machine without any fault, already catches this mutant.
    let out = vss_sim(&[
        "fuzz",
        "--exhaustive",
        "0",
        "--requester",
        "releases-while-reading",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["plans"], 1);
    assert_eq!(j["violations"]["backup_from_shadow"], 1);
    let f = &j["first_failure"];
    assert_eq!(f["plan"], 0);
    assert_eq!(f["oracle"], "backup_from_shadow");
    assert_eq!(f["faults"], serde_json::json!([]));
    let path = f["scenario_path"].as_str().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("# Found by `vss-sim fuzz --exhaustive 0`"),
        "{text}"
    );
    assert!(!text.contains("[expect]"), "{text}");
    let seed = f["seed"].as_u64().unwrap().to_string();
    let replay = vss_sim(&["run", path, "--seed", &seed]);
    assert_eq!(replay.status.code(), Some(1), "{replay:?}");
    assert!(String::from_utf8_lossy(&replay.stdout).contains("backup_from_shadow"));
    // The text form prints the replay command.
    let out = vss_sim(&[
        "fuzz",
        "--exhaustive",
        "0",
        "--requester",
        "releases-while-reading",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("replay: vss-sim run {path} --seed {seed}")),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_clean_search_of_a_file_exits_0() {
    let dir = temp_dir("file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("one.toml");
    std::fs::write(
        &file,
        "name = \"one\"\n[profile]\nwriter_response_timeout = \"30s\"\n\
         freeze_timeout_default = \"5s\"\n[[volume]]\nname = \"C:\"\nsize = \"64MiB\"\n\
         [[writer]]\nname = \"W\"\n[[writer.component]]\nname = \"c\"\nvolumes = [\"C:\"]\n\
         [[requester]]\nname = \"backup\"\n[expect]\nresult = \"VSS_E_BAD_STATE\"\n",
    )
    .unwrap();
    let out = vss_sim(&[
        "fuzz",
        "--exhaustive",
        "0",
        file.to_str().unwrap(),
        "--json",
    ]);
    // The file's [expect] (which this run does not meet) is not what the search judges.
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["plans"], 1);
    assert_eq!(j["violations"], serde_json::json!({}));
    assert!(j["first_failure"].is_null());
    let coverage = j["coverage"].as_object().expect("a coverage object");
    assert_eq!(coverage.len(), sim::situation::COUNT);
    assert_eq!(coverage["backup_succeeded"], 1);
    // One writer, the system provider: 82 + 105 faults.
    assert_eq!(j["single_faults"], 187);
    // A mutant caught on this file: the same result on one worker and on two.
    let json = |jobs: &str| {
        let out = vss_sim(&[
            "fuzz",
            "--exhaustive",
            "1",
            file.to_str().unwrap(),
            "--requester",
            "live-fallback",
            "--jobs",
            jobs,
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let mut j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        j.as_object_mut().unwrap().remove("plans_per_sec");
        j
    };
    let one = json("1");
    assert_eq!(one["plans"], 188);
    assert_eq!(one["first_failure"]["oracle"], "backup_from_shadow");
    assert_eq!(json("2"), one);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2_and_says_why() {
    let dir = temp_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "name = \n").unwrap();
    let scripted = dir.join("scripted.toml");
    std::fs::write(
        &scripted,
        "[[volume]]\nname = \"C:\"\nsize = \"64MiB\"\n[[requester]]\nname = \"s\"\n\
         script = [{ call = \"InitializeForBackup\" }]\n",
    )
    .unwrap();
    let missing = dir.join("missing.toml");
    let cases: [(Vec<&str>, &str); 11] = [
        (vec!["--exhaustive", "3"], "more than 2"),
        (vec!["--exhaustive", "1", "--cases", "5"], "--cases"),
        (vec!["--exhaustive", "1", "--seed", "5"], "--seed"),
        (vec!["--exhaustive", "1", "--shard", "1/2"], "--shard"),
        (vec!["--exhaustive", "1", "--shards", "2"], "--shards"),
        (
            vec!["--exhaustive", "1", "--check-determinism"],
            "--check-determinism",
        ),
        (vec!["--exhaustive", "1", "--jobs", "0"], "--jobs"),
        (
            vec!["--exhaustive", "1", "--requester", "careless"],
            "unknown requester",
        ),
        (
            vec!["--exhaustive", "1", missing.to_str().unwrap()],
            "cannot read",
        ),
        (
            vec!["--exhaustive", "1", broken.to_str().unwrap()],
            "broken",
        ),
        (
            vec![
                "--exhaustive",
                "1",
                scripted.to_str().unwrap(),
                "--requester",
                "trusts-wait",
            ],
            "no standard requester",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["fuzz"];
        all.extend(&args);
        let out = vss_sim(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A FILE without --exhaustive: a swarm campaign reads none.
    let out = vss_sim(&["fuzz", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--exhaustive"));
    let _ = std::fs::remove_dir_all(&dir);
}
