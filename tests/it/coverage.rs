//! The failure catalog covers every failure code and writer state of the README's
//! "Reproducing a failure on demand" table.
//!
//! Runs every scenario under `scenarios/`, collects each HRESULT name the `run --json` report
//! shows (`result`, `requesters[].result`, `calls[].result`, `calls[].async_result`,
//! `writers[].last_error`) and each writer state (`writers[].state`), and fails naming every
//! item of the list that no scenario produces any more. It also checks the catalog's shape:
//! at least 40 files in the nine folders, each folder used, each file opening with a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sim::run::{RunOptions, run};
use vss_sim_tests::{load, root, toml_files};

/// The codes the catalog must produce between its files.
const REQUIRED_CODES: &[&str] = &[
    "VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT",
    "VSS_E_WRITERERROR_OUTOFRESOURCES",
    "VSS_E_WRITERERROR_TIMEOUT",
    "VSS_E_WRITERERROR_RETRYABLE",
    "VSS_E_WRITERERROR_NONRETRYABLE",
    "VSS_E_WRITER_NOT_RESPONDING",
    "VSS_E_FLUSH_WRITES_TIMEOUT",
    "VSS_E_HOLD_WRITES_TIMEOUT",
    "VSS_E_SNAPSHOT_SET_IN_PROGRESS",
    "VSS_E_INSUFFICIENT_STORAGE",
    "VSS_E_PROVIDER_VETO",
    "VSS_E_UNEXPECTED_PROVIDER_ERROR",
    "VSS_E_BAD_STATE",
    "VSS_E_OBJECT_NOT_FOUND",
    "VSS_E_OBJECT_ALREADY_EXISTS",
    "VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED",
    "VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED",
    "VSS_E_VOLUME_NOT_SUPPORTED",
    "VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER",
    "VSS_E_PROVIDER_NOT_REGISTERED",
    "VSS_E_WRITERERROR_RECOVERY_FAILED",
    "VSS_E_WRITERERROR_PARTIAL_FAILURE",
    "VSS_S_ASYNC_CANCELLED",
];

/// The writer states (the restore states come with the restore work).
const REQUIRED_STATES: &[&str] = &[
    "VSS_WS_FAILED_AT_IDENTIFY",
    "VSS_WS_FAILED_AT_PREPARE_BACKUP",
    "VSS_WS_FAILED_AT_PREPARE_SNAPSHOT",
    "VSS_WS_FAILED_AT_FREEZE",
    "VSS_WS_FAILED_AT_THAW",
    "VSS_WS_FAILED_AT_POST_SNAPSHOT",
    "VSS_WS_FAILED_AT_BACKUP_COMPLETE",
    "VSS_WS_FAILED_AT_BACKUPSHUTDOWN",
];

/// The catalog's folders.
const FOLDERS: &[&str] = &[
    "happy",
    "writer",
    "timeout",
    "provider",
    "storage",
    "concurrency",
    "misuse",
    "context",
    "limits",
];

/// The catalog must hold at least this many files in [`FOLDERS`].
const MIN_FILES: usize = 40;

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn catalog_produces_every_listed_code_and_writer_state() {
    let files = toml_files(&root().join("scenarios"));
    // Name → the files that show it (the first few), for the message.
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in &files {
        let scenario = load(path);
        let report = run(&scenario, scenario.seed, RunOptions::default()).report;
        // A code counts when the scenario's [expect] asserts it and the run passes that
        // [expect], as well as visible in run --json.
        if !report.expect.passed {
            continue;
        }
        let e = &scenario.expect;
        let mut names: BTreeSet<&str> = BTreeSet::new();
        names.extend(e.result.map(|r| r.name()));
        names.extend(e.requesters.iter().map(|(_, r)| r.name()));
        for c in &e.calls {
            names.extend(c.result.map(|r| r.name()));
            names.extend(c.async_result.map(|r| r.name()));
        }
        for (_, state, last_error) in &e.writers {
            names.extend(state.map(|s| s.name()));
            names.extend(last_error.map(|r| r.name()));
        }
        for n in names {
            seen.entry(n.to_string()).or_default().push(relative(path));
        }
    }
    let missing: Vec<&str> = REQUIRED_CODES
        .iter()
        .chain(REQUIRED_STATES)
        .copied()
        .filter(|n| !seen.contains_key(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "no scenario under scenarios/ shows these any more ; add or fix one \
         whose [expect] asserts each:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn catalog_has_forty_files_in_its_nine_folders() {
    let scenarios = root().join("scenarios");
    let mut total = 0;
    let mut empty = Vec::new();
    for folder in FOLDERS {
        let n = toml_files(&scenarios.join(folder)).len();
        if n == 0 {
            empty.push(*folder);
        }
        total += n;
    }
    assert!(
        empty.is_empty(),
        "catalog folders without any scenario: {}",
        empty.join(", ")
    );
    assert!(
        total >= MIN_FILES,
        "the catalog holds {total} scenarios in {}; the catalog keeps at least {MIN_FILES}",
        FOLDERS.join(", ")
    );
}

#[test]
fn every_catalog_file_opens_with_a_comment() {
    let offenders: Vec<String> = toml_files(&root().join("scenarios"))
        .iter()
        .filter(|p| {
            let src = std::fs::read_to_string(p).expect("readable scenario");
            !src.starts_with('#')
        })
        .map(|p| relative(p))
        .collect();
    assert!(
        offenders.is_empty(),
        "each catalog file opens with a `#` comment saying what it shows and which rule of \
         docs/rules.md it demonstrates; these do not:\n  {}",
        offenders.join("\n  ")
    );
}
