//! Shared helpers for the integration tests in `it/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Every `.toml` file under `dir`, sorted, recursively.
pub fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file git tracks, as paths relative to the workspace root, in git's order.
pub fn tracked_files() -> Vec<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["ls-files", "-z"])
        .output()
        .expect("git runs (the tidy and rules checks read `git ls-files`)");
    assert!(
        out.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("file names are UTF-8")
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect()
}

/// Parses a scenario file from disk.
pub fn load(path: &Path) -> sim::scenario::Scenario {
    let src = std::fs::read_to_string(path).expect("readable scenario");
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    sim::scenario::parse(&path.display().to_string(), stem, &src).unwrap_or_else(|e| panic!("{e}"))
}

/// The `vss-sim` executable of this build, for tests that run the real CLI.
///
/// `env!("CARGO_BIN_EXE_vss-sim")` exists only for tests of the package that owns the binary,
/// and this crate is `vss-sim-tests`. So the first call runs
/// `cargo build -p vss-sim --bin vss-sim` with the profile this test executable was built with
/// (`target/<profile>/deps/it-…` → `--release` for `release`, `--profile test` for `debug`,
/// whose artifacts `cargo test` has already built) and returns the executable cargo reports.
/// Building every time a test process starts, rather than only when the file is missing,
/// keeps a stale `vss-sim` from an older checkout from being tested; when everything is fresh
/// the build is a no-op. Later calls return the cached path. Concurrent test processes may
/// build at once: cargo serialises them with its own lock.
pub fn vss_sim_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_vss_sim).clone()
}

fn build_vss_sim() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/it-<hash> → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_string();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root())
        .arg("build")
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .args(["-p", "vss-sim", "--bin", "vss-sim"])
        .arg("--message-format=json-render-diagnostics");
    match profile.as_str() {
        "release" => {
            cmd.arg("--release");
        }
        // `cargo test` builds with the `test` profile, whose output directory is `debug`.
        "debug" => {
            cmd.args(["--profile", "test"]);
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p vss-sim --bin vss-sim failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Cargo names the executable it built in a `compiler-artifact` message.
    let reported = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "vss-sim")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from));
    let bin = reported
        .unwrap_or_else(|| profile_dir.join(format!("vss-sim{}", std::env::consts::EXE_SUFFIX)));
    assert!(bin.is_file(), "no vss-sim executable at {}", bin.display());
    bin
}

/// Parses a scenario written inline in a test (it must be valid).
pub fn inline(src: &str) -> sim::scenario::Scenario {
    sim::scenario::parse("<inline>", "inline", src).unwrap_or_else(|e| panic!("{e}"))
}

/// Every catalog scenario run with its own seed: (path relative to the root, the scenario, the
/// JSONL trace as text), in file order.
pub fn catalog_traces() -> Vec<(String, sim::scenario::Scenario, String)> {
    traces_of("scenarios")
}

/// [`catalog_traces`] for the scenarios under `dir` (relative to the root).
pub fn traces_of(dir: &str) -> Vec<(String, sim::scenario::Scenario, String)> {
    let opts = sim::run::RunOptions {
        keep_trace_bytes: true,
        keep_records: false,
    };
    toml_files(&root().join(dir))
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string();
            let s = load(&path);
            let bytes = sim::run::run(&s, s.seed, opts)
                .trace_bytes
                .expect("trace bytes kept");
            let text = String::from_utf8(bytes).expect("the trace is UTF-8");
            (rel, s, text)
        })
        .collect()
}
