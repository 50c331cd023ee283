//! Output that cannot be written, and files `--trace-out` must not destroy (README, "Exit codes
//! and output errors"): a closed pipe on standard output keeps the command's own exit code and
//! prints nothing; another write error is exit 2 naming standard output or the file; a failing
//! standard error changes nothing; no panic anywhere. `--trace-out` replaces atomically only a
//! regular file or a new path, writes through a FIFO or a character device, follows a symbolic
//! link, refuses a directory or the scenario file, and leaves no temporary file behind.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vss_sim_tests::{root, vss_sim_bin};

const MISMATCH: &str = "tests/inputs/mismatch/happy_backup_expects_bad_state.toml";
/// A catalog scenario whose `run --json` is far larger than a pipe's buffer (64 KiB).
const BIG: &str = "scenarios/limits/shadows_per_volume_default_512.toml";

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(vss_sim_bin());
    c.current_dir(root()).args(args);
    c
}

/// `vss-sim ARGS` with standard output on a pipe whose reader reads `keep` bytes (none: it
/// closes the pipe at once, as `| true` does) and then closes it. Its exit status and
/// standard error.
fn into_closed_pipe(args: &[&str], keep: usize) -> (ExitStatus, String) {
    let mut child = cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vss-sim starts");
    let mut pipe = child.stdout.take().expect("piped stdout");
    if keep > 0 {
        let mut buf = vec![0u8; keep];
        pipe.read_exact(&mut buf).expect("the first bytes arrive");
    }
    drop(pipe);
    let out = child.wait_with_output().expect("vss-sim ends");
    (out.status, text(&out.stderr))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A file opened for writing on `/dev/full`, or `None` (with a message) where there is none.
fn dev_full() -> Option<File> {
    match File::options().write(true).open("/dev/full") {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("skipped: cannot open /dev/full ({e})");
            None
        }
    }
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "vss-sim panicked:\n{stderr}");
}

/// A closed pipe says nothing about itself on standard error.
fn silent_about_the_pipe(stderr: &str) {
    no_panic(stderr);
    for word in ["Broken pipe", "cannot write", "os error"] {
        assert!(!stderr.contains(word), "`{word}` on stderr:\n{stderr}");
    }
}

#[test]
fn big_json_into_a_pipe_closed_after_10_bytes_exits_0_silently() {
    let (status, err) = into_closed_pipe(&["run", BIG, "--json"], 10);
    assert_eq!(status.code(), Some(0), "stderr:\n{err}");
    silent_about_the_pipe(&err);
    // The timeline, the same way.
    let (status, err) = into_closed_pipe(&["run", BIG], 10);
    assert_eq!(status.code(), Some(0), "stderr:\n{err}");
    silent_about_the_pipe(&err);
}

#[test]
fn the_json_of_big_is_larger_than_a_pipe_buffer() {
    let out = cmd(&["run", BIG, "--json"]).output().expect("vss-sim runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stdout.len() > 4 * 65536,
        "{BIG} prints only {} bytes of JSON: choose a bigger scenario for the closed-pipe test",
        out.stdout.len()
    );
}

#[test]
fn a_closed_pipe_keeps_each_commands_own_exit_code() {
    // `run`: 0 or 1 by `[expect]`; the mismatch is still reported on standard error.
    let (status, err) = into_closed_pipe(&["run", MISMATCH], 0);
    assert_eq!(status.code(), Some(1), "stderr:\n{err}");
    silent_about_the_pipe(&err);
    assert!(err.contains("replay: vss-sim run"), "stderr:\n{err}");
    let (status, err) = into_closed_pipe(&["run", MISMATCH, "--json"], 0);
    assert_eq!(status.code(), Some(1), "stderr:\n{err}");
    silent_about_the_pipe(&err);
    // `vssadmin`: 0 something listed, 1 nothing.
    for (args, code) in [
        (&["vssadmin", "list", "writers"][..], 0),
        (&["vssadmin", "list", "shadows"][..], 1),
        (&["vssadmin", "list", "providers"][..], 0),
    ] {
        let (status, err) = into_closed_pipe(args, 0);
        assert_eq!(status.code(), Some(code), "{args:?}: stderr:\n{err}");
        no_panic(&err);
        assert!(!err.contains("Broken pipe"), "{args:?}: stderr:\n{err}");
    }
    // `graph writer | true`, and every other printing command.
    for args in [
        &["graph", "writer"][..],
        &["oracles"][..],
        &["scenario", "fmt", BIG][..],
        &["run"][..],
        &["run", "--json"][..],
        &["--help"][..],
        &["--version"][..],
    ] {
        let (status, err) = into_closed_pipe(args, 0);
        assert_eq!(status.code(), Some(0), "{args:?}: stderr:\n{err}");
        silent_about_the_pipe(&err);
    }
}

#[test]
fn standard_output_on_dev_full_exits_2_naming_standard_output() {
    for args in [
        &["run"][..],
        &["run", "--json"][..],
        &["run", MISMATCH][..],
        &["graph", "writer"][..],
        &["oracles"][..],
        &["scenario", "fmt", BIG][..],
        &["vssadmin", "list", "writers"][..],
        &["vssadmin", "list", "shadows"][..],
        &["--help"][..],
    ] {
        let Some(full) = dev_full() else { return };
        let out = cmd(args)
            .stdout(Stdio::from(full))
            .output()
            .expect("vss-sim runs");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: stderr:\n{err}");
        no_panic(&err);
        assert!(
            err.contains("cannot write to standard output: No space left on device"),
            "{args:?}: stderr:\n{err}"
        );
    }
}

#[test]
fn standard_error_on_dev_full_never_changes_the_exit_code() {
    for (args, code) in [
        (&["vssadmin", "list", "writers"][..], 0),
        (&["vssadmin", "list", "shadows"][..], 1),
        (&["vssadmin", "list", "nothing"][..], 2),
        (&["run"][..], 0),
        (&["run", "--seed", "random"][..], 0),
        (&["run", MISMATCH][..], 1),
        (&["run", "--seed", "x"][..], 2),
        (&["run", "no/such/file.toml"][..], 2),
        (&["graph", "provider"][..], 2),
        (&["scenario", "fmt", "no/such/file.toml"][..], 2),
        (&["--no-such-flag"][..], 2),
    ] {
        let Some(full) = dev_full() else { return };
        let out = cmd(args)
            .stderr(Stdio::from(full))
            .output()
            .expect("vss-sim runs");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
    // Standard output is whole when standard error fails between its two writes.
    let Some(full) = dev_full() else { return };
    let out = cmd(&["vssadmin", "list", "writers"])
        .stderr(Stdio::from(full))
        .output()
        .expect("vss-sim runs");
    let plain = cmd(&["vssadmin", "list", "writers"])
        .output()
        .expect("vss-sim runs");
    assert_eq!(out.stdout, plain.stdout);
}

#[test]
fn both_standard_streams_failing_is_exit_2_without_a_panic() {
    let (Some(a), Some(b)) = (dev_full(), dev_full()) else {
        return;
    };
    let out = cmd(&["run", MISMATCH])
        .stdout(Stdio::from(a))
        .stderr(Stdio::from(b))
        .output()
        .expect("vss-sim runs");
    assert_eq!(out.status.code(), Some(2));
}

/// A fresh directory under the system temp dir, removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vss-sim-output-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `vss-sim run [FILE] --json --trace-out TRACE`: its output and the `trace_digest` it printed.
fn run_with_trace(file: Option<&Path>, trace: &Path) -> (Output, String) {
    let mut c = cmd(&["run", "--json"]);
    if let Some(f) = file {
        c.arg(f);
    }
    let out = c
        .arg("--trace-out")
        .arg(trace)
        .output()
        .expect("vss-sim runs");
    let digest = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["trace_digest"].as_str().map(String::from))
        .unwrap_or_default();
    (out, digest)
}

/// A command the test needs (`mkfifo`, `mknod`) ran and succeeded; `false` with a message
/// (the test then skips that part) otherwise.
fn made(what: &str, c: &mut Command) -> bool {
    match c.output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!("skipped: {what} failed: {}", text(&o.stderr));
            false
        }
        Err(e) => {
            eprintln!("skipped: cannot run {what}: {e}");
            false
        }
    }
}

#[test]
fn trace_out_to_a_symlink_writes_its_target_and_keeps_the_link() {
    let tmp = TempDir::new("symlink");
    let real = tmp.path().join("real.jsonl");
    std::fs::write(&real, b"old").unwrap();
    let link = tmp.path().join("link.jsonl");
    std::os::unix::fs::symlink("real.jsonl", &link).unwrap();
    let (out, digest) = run_with_trace(None, &link);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link is kept");
    assert_eq!(hex(&Sha256::digest(std::fs::read(&real).unwrap())), digest);
    assert_eq!(tmp.names(), ["link.jsonl", "real.jsonl"]);

    // A dangling link: its target is created.
    let dangling = tmp.path().join("dangling.jsonl");
    std::os::unix::fs::symlink("new.jsonl", &dangling).unwrap();
    let (out, digest) = run_with_trace(None, &dangling);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let new = tmp.path().join("new.jsonl");
    assert_eq!(hex(&Sha256::digest(std::fs::read(new).unwrap())), digest);
    assert_eq!(
        tmp.names(),
        ["dangling.jsonl", "link.jsonl", "new.jsonl", "real.jsonl"]
    );
}

#[test]
fn trace_out_to_a_directory_exits_2_and_leaves_nothing_behind() {
    let tmp = TempDir::new("directory");
    let dir = tmp.path().join("traces");
    std::fs::create_dir(&dir).unwrap();
    let (out, _) = run_with_trace(None, &dir);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    no_panic(&err);
    assert!(
        err.contains(&*dir.to_string_lossy()),
        "names the path:\n{err}"
    );
    assert!(err.contains("is a directory"), "{err}");
    assert!(out.stdout.is_empty(), "refused before the run");
    assert_eq!(tmp.names(), ["traces"], "no temporary file in the parent");
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none());

    // A path in a directory that does not exist: refused before the run too.
    let (out, _) = run_with_trace(None, &tmp.path().join("missing/t.jsonl"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(err.contains("missing/t.jsonl"), "{err}");
    assert!(out.stdout.is_empty(), "refused before the run");
    assert_eq!(tmp.names(), ["traces"]);
}

#[test]
fn trace_out_naming_the_scenario_exits_2_and_leaves_it_unchanged() {
    let tmp = TempDir::new("scenario");
    let scenario = tmp.path().join("s.toml");
    let src = std::fs::read(root().join(BIG)).unwrap();
    std::fs::write(&scenario, &src).unwrap();
    let link = tmp.path().join("link.jsonl");
    std::os::unix::fs::symlink("s.toml", &link).unwrap();
    let hard = tmp.path().join("hard.jsonl");
    std::fs::hard_link(&scenario, &hard).unwrap();
    for trace in [&scenario, &link, &hard] {
        let (out, _) = run_with_trace(Some(&scenario), trace);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{trace:?}: stderr:\n{err}");
        no_panic(&err);
        assert!(err.contains("is the scenario file"), "{err}");
        assert!(err.contains(&*trace.to_string_lossy()), "{err}");
        assert_eq!(
            std::fs::read(&scenario).unwrap(),
            src,
            "the scenario is intact"
        );
        assert_eq!(tmp.names(), ["hard.jsonl", "link.jsonl", "s.toml"]);
    }
}

#[test]
fn trace_out_replacing_a_regular_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("regular");
    let trace = tmp.path().join("t.jsonl");
    std::fs::write(&trace, b"old").unwrap();
    std::fs::set_permissions(&trace, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (out, digest) = run_with_trace(None, &trace);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(hex(&Sha256::digest(std::fs::read(&trace).unwrap())), digest);
    let mode = std::fs::metadata(&trace).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(tmp.names(), ["t.jsonl"]);
}

/// `cat PATH` with its output piped, under `timeout` so a test that goes wrong cannot hang.
fn reader(path: &Path) -> Option<Child> {
    Command::new("timeout")
        .arg("60")
        .arg("cat")
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| eprintln!("skipped: cannot run timeout cat: {e}"))
        .ok()
}

#[test]
fn trace_out_to_a_fifo_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = TempDir::new("fifo");
    let fifo = tmp.path().join("trace.fifo");
    if !made("mkfifo", Command::new("mkfifo").arg(&fifo)) {
        return;
    }
    let Some(cat) = reader(&fifo) else { return };
    let (out, digest) = run_with_trace(None, &fifo);
    let read = cat.wait_with_output().expect("the reader ends");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(t.is_fifo(), "the FIFO is still a FIFO");
    assert_eq!(hex(&Sha256::digest(&read.stdout)), digest);
    assert_eq!(tmp.names(), ["trace.fifo"], "no temporary file");
}

#[test]
fn trace_out_to_a_character_device_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    // Device nodes of our own (the null and full devices, 1:3 and 1:7 on Linux), so that a
    // regression cannot replace the machine's /dev/null when the tests run as root.
    let tmp = TempDir::new("chardev");
    let null = tmp.path().join("null");
    let full = tmp.path().join("full");
    if !cfg!(target_os = "linux")
        || !made(
            "mknod",
            Command::new("mknod").arg(&null).args(["c", "1", "3"]),
        )
        || !made(
            "mknod",
            Command::new("mknod").arg(&full).args(["c", "1", "7"]),
        )
    {
        return;
    }
    let (out, digest) = run_with_trace(None, &null);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!digest.is_empty());
    assert!(
        std::fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // A write error through the device is exit 2 naming it, and the device stays.
    let (out, _) = run_with_trace(None, &full);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    no_panic(&err);
    assert!(err.contains(&*full.to_string_lossy()), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        std::fs::symlink_metadata(&full)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(tmp.names(), ["full", "null"], "no temporary file");
}
