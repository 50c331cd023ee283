//! Tidy checks: the determinism and layout rules of ARCHITECTURE.md, as a test, and no tracked
//! file sending its reader to notes outside the repository.
//!
//! clippy.toml bans the wall clock, OS randomness, threads and `HashMap::new` by path; these
//! checks catch what a path ban cannot (a `use` of the type, a hash map built another way, I/O
//! in the sans-IO crate, the kernel importing VSS types).

use std::path::{Path, PathBuf};

use vss_sim_tests::{root, tracked_files};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Source lines that are code, not comments.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).expect("readable source");
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .filter(|(_, l)| !l.starts_with("//"))
        .collect()
}

fn offenders(files: &[PathBuf], needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        if allowed.iter().any(|a| rel.ends_with(a)) {
            continue;
        }
        for (n, line) in code_lines(f) {
            for needle in needles {
                if line.contains(needle) {
                    bad.push(format!("{rel}:{n}: `{needle}` in: {line}"));
                }
            }
        }
    }
    bad
}

#[test]
fn no_hash_iteration_wall_clock_threads_or_os_randomness_in_the_simulated_path() {
    let mut files = rust_files(&root().join("model/src"));
    files.extend(rust_files(&root().join("sim/src")));
    let bad = offenders(
        &files,
        &[
            "HashMap",
            "HashSet",
            "RandomState",
            "SystemTime",
            "thread::spawn",
            "thread::scope",
            "thread::Builder",
            "thread_rng",
            "OsRng",
        ],
        &[
            // The CLI draws `--seed random` from the OS, the only place allowed to.
            "sim/src/bin/vss-sim.rs",
            // The fault search runs whole cases on worker threads; each case is single-threaded.
            "sim/src/fuzz/mod.rs",
            // The exhaustive search runs whole plans on worker threads the same way.
            "sim/src/fuzz/exhaustive.rs",
            // The guest runtime's watchdog thread only ends a run whose guest code is stuck.
            "sim/src/guest/watchdog.rs",
            // The emulator's socket threads hand lines to the one thread that owns the world.
            "sim/src/serve/net.rs",
            // Its benchmark runs the server and an echo on threads of their own.
            "sim/src/bench/serve.rs",
            // NBD connections run on their own threads and read the world only through the
            // answers of the thread that owns it.
            "sim/src/serve/nbd.rs",
        ],
    );
    assert!(
        bad.is_empty(),
        "determinism bans broken:\n{}",
        bad.join("\n")
    );
    let clock = offenders(
        &files,
        &["std::time::Instant", "Instant::now"],
        &[
            // The benchmark and the fault search's progress line are the places that read the
            // wall clock; neither feeds it into a run.
            "sim/src/bench/mod.rs",
            "sim/src/bench/guest.rs",
            "sim/src/bench/serve.rs",
            "sim/src/fuzz/cli.rs",
            "sim/src/fuzz/exhaustive.rs",
            // tokio's clock in the guest runtime is paused: it shows virtual time.
            "sim/src/guest/clock.rs",
        ],
    );
    assert!(
        clock.is_empty(),
        "wall clock in the simulated path:\n{}",
        clock.join("\n")
    );
}

#[test]
fn model_is_sans_io() {
    let files = rust_files(&root().join("model/src"));
    let bad = offenders(
        &files,
        &[
            "std::fs",
            "std::net",
            "std::io",
            "std::process",
            "rand::",
            "rand_",
            "println!",
        ],
        // Unit tests may print what they measured.
        &["tests.rs"],
    );
    assert!(
        bad.is_empty(),
        "the model crate must do no I/O and own no RNG:\n{}",
        bad.join("\n")
    );
    let manifest = std::fs::read_to_string(root().join("model/Cargo.toml")).unwrap();
    for dep in ["rand", "tokio", "vss-sim"] {
        assert!(
            !manifest.contains(&format!("\n{dep}")),
            "model must not depend on {dep}"
        );
    }
}

#[test]
fn kernel_files_name_no_vss_type() {
    // The kernel (clock, queue, slots, RNG) is generic machinery: it may use only `model::time`.
    let files = rust_files(&root().join("sim/src/kernel"));
    assert!(files.len() >= 3, "the kernel has its files");
    for path in files {
        let f = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        for (n, line) in code_lines(&path) {
            if line.contains("model::") {
                assert!(
                    line.contains("model::time"),
                    "{f}:{n}: kernel files import nothing from model but model::time: {line}"
                );
            }
        }
    }
}

#[test]
fn no_leftover_markers() {
    let mut files = rust_files(&root().join("model/src"));
    files.extend(rust_files(&root().join("sim/src")));
    let bad = offenders(
        &files,
        &["todo!(", "unimplemented!(", "dbg!(", "FIXME"],
        &[],
    );
    assert!(bad.is_empty(), "leftovers:\n{}", bad.join("\n"));
}

#[test]
fn every_writer_state_has_a_c_spelling_alias() {
    let src = std::fs::read_to_string(root().join("model/src/vss/writer.rs")).unwrap();
    for state in model::vss::WriterState::ALL {
        assert!(
            src.contains(&format!("\"{}\"", state.name())),
            "{} lacks a doc alias",
            state.name()
        );
    }
}

/// Notes that live outside the repository. A tracked file must not send its reader to them: the
/// repository stands alone (`docs/rules.md` holds the rules, each with its Microsoft page).
/// Spelled in pieces so that this file does not name them itself.
const EXTERNAL_NOTES: [&str; 7] = [
    concat!("decisions", ".md"),
    concat!("vss", "-spec", ".md"),
    concat!("road", "map", ".md"),
    concat!("peers", ".md"),
    concat!("style", "-anchors", ".md"),
    concat!("sim", "-anchors", ".md"),
    concat!("..", "/shared"),
];

#[test]
fn no_tracked_file_refers_to_notes_outside_the_repository() {
    let mut bad = Vec::new();
    for rel in tracked_files() {
        // Binary files (none today) are not text to read.
        let Ok(text) = std::fs::read_to_string(root().join(&rel)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for needle in EXTERNAL_NOTES {
                if !line.contains(needle) {
                    continue;
                }
                bad.push(format!("{rel}:{}: `{needle}` in: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "tracked files refer to notes outside the repository (cite a rule of docs/rules.md or \
         the Microsoft page instead):\n{}",
        bad.join("\n")
    );
}

/// The top-level modules of a crate's `src` and the ones each names as `crate::NAME` in code.
fn module_imports(
    src: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph = std::collections::BTreeMap::new();
    for f in rust_files(src) {
        let rel = f.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        if top == "lib" || top == "bin" {
            continue;
        }
        let deps: &mut std::collections::BTreeSet<String> = graph.entry(top.clone()).or_default();
        for (_, line) in code_lines(&f) {
            for part in line.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one.
fn find_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_import_cycle_between_modules() {
    for krate in ["model/src", "sim/src"] {
        let graph = module_imports(&root().join(krate));
        assert!(graph.len() > 5, "{krate} has its modules: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{krate}: import cycle {}", cycle.join(" -> "));
        }
    }
    // The check itself finds a cycle.
    let mut g = std::collections::BTreeMap::new();
    g.insert("a".to_string(), ["b".to_string()].into());
    g.insert("b".to_string(), ["a".to_string()].into());
    assert!(find_cycle(&g).is_some());
}

#[test]
fn no_source_file_is_over_900_lines_outside_its_tests() {
    let mut files = rust_files(&root().join("model/src"));
    files.extend(rust_files(&root().join("sim/src")));
    let mut long = Vec::new();
    for f in files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // Lines before the first `#[cfg(test)]` at the start of a line.
        let n = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .count();
        if n > 900 {
            long.push(format!(
                "{}: {n} lines",
                f.strip_prefix(root()).unwrap().display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "files over 900 lines of code:\n{}",
        long.join("\n")
    );
}
