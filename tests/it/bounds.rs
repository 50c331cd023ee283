//! Every collection of a scenario has a named upper bound (`sim::scenario::limits`): a file past
//! one is refused with the key, the line of the first entry past it and the limit, before any
//! 16-bit id could wrap; a file at the bound runs, and each id reaches its own entry. The run's
//! work is checked against `[run] max_steps` and `max_virtual_time` before it runs (each
//! reproducer found by fuzzing the simulator from outside is a test here).

use std::fmt::Write as _;
use std::process::Command;

use sim::run::{RunOptions, run};
use sim::scenario::limits::{
    MAX_COMPONENTS_PER_WRITER, MAX_DURATION_US, MAX_PROVIDERS, MAX_REQUESTERS, MAX_SCENARIO_BYTES,
    MAX_VOLUMES, MAX_WRITERS,
};
use sim::scenario::{Scenario, ScenarioError, parse};
use vss_sim_tests::{root, vss_sim_bin};

fn refused(src: &str) -> ScenarioError {
    match parse("big.toml", "big", src) {
        Ok(_) => panic!("a scenario past a limit parsed"),
        Err(e) => e,
    }
}

fn parsed(src: &str) -> Scenario {
    parse("big.toml", "big", src).unwrap_or_else(|e| panic!("{e}"))
}

/// The 1-based line of the first line equal to `needle`, after `skip` matches.
fn line_of(src: &str, needle: &str, skip: usize) -> usize {
    src.lines()
        .enumerate()
        .filter(|(_, l)| *l == needle)
        .nth(skip)
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("no line {needle:?}"))
}

/// The error names the key, the limit's name and value, at `line`.
fn assert_limit(e: &ScenarioError, key: &str, limit: &str, value: usize, line: usize) {
    assert_eq!(e.key, key, "{e}");
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(limit), "{e}");
    assert!(e.message.contains(&format!("limit of {value}")), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("big.toml:{line}: key `{key}`: ")),
        "{e}"
    );
}

fn volumes(n: usize) -> String {
    let mut s = String::new();
    for v in 0..n {
        writeln!(s, "[[volume]]\nname = \"V{v}\"\nsize = \"1GiB\"").unwrap();
    }
    s
}

const ONE_VOLUME: &str = "[[volume]]\nname = \"C:\"\nsize = \"1GiB\"\n";

// ---- Item 1: ids cut to 16 bits ----

#[test]
fn writers_past_the_limit_are_refused_at_the_first_one_past() {
    // The reproducer found from outside: 65 536 component-less writers plus one with a component.
    let mut src = ONE_VOLUME.to_string();
    for w in 0..65_536 {
        writeln!(src, "[[writer]]\nname = \"W{w}\"").unwrap();
    }
    src.push_str(
        "[[writer]]\nname = \"last\"\n[[writer.component]]\nname = \"c\"\nvolumes = [\"C:\"]\n",
    );
    src.push_str("[[requester]]\nname = \"r\"\n");
    let e = refused(&src);
    let line = line_of(&src, "[[writer]]", MAX_WRITERS);
    assert_limit(&e, "writer", "MAX_WRITERS", MAX_WRITERS, line);
}

#[test]
fn the_last_writer_at_the_limit_gets_its_component() {
    // 4 096 writers, the last with a component: AddComponent finds it (no wrap to writer 0, no
    // VSS_E_OBJECT_ALREADY_EXISTS) and the run describes it (no index out of bounds).
    let mut src = ONE_VOLUME.to_string();
    for w in 0..MAX_WRITERS - 1 {
        writeln!(src, "[[writer]]\nname = \"W{w}\"").unwrap();
    }
    src.push_str(
        "[[writer]]\nname = \"last\"\n[[writer.component]]\nname = \"c\"\nvolumes = [\"C:\"]\n",
    );
    src.push_str(
        "[[requester]]\nname = \"r\"\nscript = [\n  { call = \"InitializeForBackup\" },\n  \
         { call = \"GatherWriterMetadata\" },\n  { call = \"AddComponent\", writer = \"last\", \
         component = \"c\" },\n  { call = \"AddComponent\", writer = \"last\", component = \"c\" },\n  \
         { call = \"Release\" },\n]\n",
    );
    let s = parsed(&src);
    let out = run(&s, 0, RunOptions::default());
    let adds: Vec<&str> = out
        .report
        .calls
        .iter()
        .filter(|c| c.call == "AddComponent")
        .map(|c| c.result)
        .collect();
    assert_eq!(adds, ["S_OK", "VSS_E_OBJECT_ALREADY_EXISTS"]);
}

#[test]
fn volumes_past_the_limit_are_refused() {
    // The reproducer: 65 537 volumes, a requester asking for V65536.
    let mut src = volumes(65_537);
    src.push_str("[[requester]]\nname = \"r\"\nvolumes = [\"V65536\"]\n");
    let e = refused(&src);
    let line = line_of(&src, "[[volume]]", MAX_VOLUMES);
    assert_limit(&e, "volume", "MAX_VOLUMES", MAX_VOLUMES, line);
}

#[test]
fn the_last_volume_at_the_limit_is_the_one_shadowed() {
    let mut src = volumes(MAX_VOLUMES);
    let last = format!("V{}", MAX_VOLUMES - 1);
    writeln!(src, "[[requester]]\nname = \"r\"\nvolumes = [\"{last}\"]").unwrap();
    let out = run(&parsed(&src), 0, RunOptions::default());
    let shadowed: Vec<&str> = out
        .report
        .snapshots
        .iter()
        .map(|s| s.volume.as_str())
        .collect();
    assert_eq!(shadowed, [format!("{last}\\")], "{:?}", out.report.result);
    assert_eq!(out.report.result, "S_OK");
}

#[test]
fn providers_past_the_limit_are_refused() {
    // The reproducer: 65 536 providers and `provider = "P65535"`.
    let mut src = ONE_VOLUME.to_string();
    for p in 0..65_536 {
        writeln!(
            src,
            "[[provider]]\nname = \"P{p}\"\ntype = \"VSS_PROV_SOFTWARE\""
        )
        .unwrap();
    }
    src.push_str(
        "[[requester]]\nname = \"r\"\nscript = [{ call = \"AddToSnapshotSet\", volume = \"C:\", \
         provider = \"P65535\" }]\n",
    );
    let e = refused(&src);
    let line = line_of(&src, "[[provider]]", MAX_PROVIDERS);
    assert_limit(&e, "provider", "MAX_PROVIDERS", MAX_PROVIDERS, line);
}

#[test]
fn the_last_provider_at_the_limit_is_the_one_named() {
    let mut src = ONE_VOLUME.to_string();
    for p in 0..MAX_PROVIDERS {
        writeln!(
            src,
            "[[provider]]\nname = \"P{p}\"\ntype = \"VSS_PROV_SOFTWARE\""
        )
        .unwrap();
    }
    let last = format!("P{}", MAX_PROVIDERS - 1);
    writeln!(
        src,
        "[[requester]]\nname = \"r\"\nscript = [\n  {{ call = \"InitializeForBackup\" }},\n  \
         {{ call = \"SetContext\", context = \"VSS_CTX_BACKUP\" }},\n  \
         {{ call = \"SetBackupState\" }},\n  \
         {{ call = \"GatherWriterMetadata\" }},\n  {{ call = \"StartSnapshotSet\" }},\n  \
         {{ call = \"AddToSnapshotSet\", volume = \"C:\", provider = \"{last}\" }},\n  \
         {{ call = \"PrepareForBackup\" }},\n  {{ call = \"DoSnapshotSet\" }},\n]"
    )
    .unwrap();
    let out = run(&parsed(&src), 0, RunOptions::default());
    let providers: Vec<&str> = out
        .report
        .snapshots
        .iter()
        .map(|s| s.provider.as_str())
        .collect();
    assert_eq!(providers, [last.as_str()], "{:?}", out.report.calls);
}

#[test]
fn requesters_past_the_limit_are_refused() {
    // The reproducer: 65 537 requesters.
    let mut src = ONE_VOLUME.to_string();
    for r in 0..65_537 {
        writeln!(src, "[[requester]]\nname = \"R{r}\"").unwrap();
    }
    let e = refused(&src);
    let line = line_of(&src, "[[requester]]", MAX_REQUESTERS);
    assert_limit(&e, "requester", "MAX_REQUESTERS", MAX_REQUESTERS, line);
}

#[test]
fn components_per_writer_admit_sql_servers_maximum_and_no_more() {
    let component = "[[writer.component]]\nname = \"db\"\nvolumes = [\"C:\"]\n";
    let mut src = format!("{ONE_VOLUME}[[writer]]\nname = \"SqlServerWriter\"\n");
    for _ in 0..MAX_COMPONENTS_PER_WRITER {
        src.push_str(component);
    }
    let at_limit = format!("{src}[[requester]]\nname = \"r\"\n");
    assert_eq!(parsed(&at_limit).writers[0].components.len(), 32_767);
    let past = format!("{src}{component}[[requester]]\nname = \"r\"\n");
    let e = refused(&past);
    let line = line_of(&past, "[[writer.component]]", MAX_COMPONENTS_PER_WRITER);
    assert_limit(
        &e,
        "writer[0].component",
        "MAX_COMPONENTS_PER_WRITER",
        MAX_COMPONENTS_PER_WRITER,
        line,
    );
}

#[test]
fn a_volume_of_64_tib_is_admitted_and_a_larger_one_refused() {
    let ok = "[[volume]]\nname = \"C:\"\nsize = \"64TiB\"\n[[requester]]\nname = \"r\"\n";
    assert_eq!(parsed(ok).volumes[0].bytes, 64 << 40);
    let big = "[[volume]]\nname = \"C:\"\nsize = \"65TiB\"\n[[requester]]\nname = \"r\"\n";
    let e = refused(big);
    assert_eq!((e.line, e.key.as_str()), (3, "volume[0].size"), "{e}");
    assert!(
        e.message.contains("MAX_VOLUME_BYTES") && e.message.contains("64TiB"),
        "{e}"
    );
}

#[test]
fn vss_own_limits_stay_results_of_the_calls() {
    // 65 volumes in one set is valid input: the 65th AddToSnapshotSet fails (rule S22).
    let mut src = volumes(65);
    src.push_str("[[requester]]\nname = \"r\"\n");
    let out = run(&parsed(&src), 0, RunOptions::default());
    assert!(
        out.report
            .calls
            .iter()
            .any(|c| c.result == "VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED"),
        "{:?}",
        out.report.calls
    );
}

#[test]
fn validation_is_linear_200_000_volume_tables_are_refused_at_the_limit() {
    // 1.4 M tables once took over 150 s (a duplicate check against every earlier volume); this
    // is refused at volume 4 096 after one pass.
    let src = volumes(200_000);
    let e = refused(&format!("{src}[[requester]]\nname = \"r\"\n"));
    let line = line_of(&src, "[[volume]]", MAX_VOLUMES);
    assert_limit(&e, "volume", "MAX_VOLUMES", MAX_VOLUMES, line);
}

#[test]
fn inline_tables_past_the_limit_are_refused_at_the_first_one_past() {
    // Written inline, the tables are counted after the parse, at the entry past the limit.
    let mut src = "volume = [\n".to_string();
    for v in 0..=MAX_VOLUMES {
        writeln!(src, "  {{ name = \"V{v}\", size = \"1GiB\" }},").unwrap();
    }
    src.push_str("]\n[[requester]]\nname = \"r\"\n");
    let e = refused(&src);
    assert_limit(&e, "volume", "MAX_VOLUMES", MAX_VOLUMES, MAX_VOLUMES + 2);
}

#[test]
fn a_file_past_the_size_limit_is_refused_before_it_is_parsed() {
    let mut src = String::from(BACKUP);
    let comment = format!("# {}\n", "x".repeat(1000));
    while src.len() <= MAX_SCENARIO_BYTES {
        src.push_str(&comment);
    }
    let e = refused(&src);
    assert!(e.line > 1 && e.column > 0, "{e}");
    assert!(e.message.contains("MAX_SCENARIO_BYTES"), "{e}");
    assert!(
        e.message
            .contains(&format!("limit of {MAX_SCENARIO_BYTES}")),
        "{e}"
    );
}

#[test]
fn references_to_volumes_are_looked_up_not_scanned() {
    // Every volume at the limit, each named by a workload and a component: one lookup each.
    let mut src = volumes(MAX_VOLUMES);
    let all: Vec<String> = (0..MAX_VOLUMES).map(|v| format!("\"V{v}\"")).collect();
    let list = all.join(", ");
    writeln!(
        src,
        "[[writer]]\nname = \"W\"\n[[writer.component]]\nname = \"c\"\nvolumes = [{list}]\n\
         [[workload]]\nname = \"app\"\nvolumes = [{list}]\nrate = 10\n\
         [[requester]]\nname = \"r\"\nvolumes = [\"V0\"]"
    )
    .unwrap();
    let s = parsed(&src);
    assert_eq!(s.workloads[0].volumes.len(), MAX_VOLUMES);
    assert_eq!(
        s.writers[0].components[0].volumes[MAX_VOLUMES - 1],
        MAX_VOLUMES - 1
    );
}

// ---- Item 9: slow but finite inputs ----

const BACKUP: &str = "[[volume]]\nname = \"C:\"\nsize = \"1GiB\"\n[[requester]]\nname = \"r\"\n";

#[test]
fn a_repeat_past_the_time_limit_is_refused() {
    let src = format!("{BACKUP}repeat = 10000000\n");
    let e = refused(&src);
    assert_eq!((e.line, e.key.as_str()), (6, "requester[0].repeat"), "{e}");
    assert!(e.message.contains("max_virtual_time = 1h"), "{e}");
}

#[test]
fn a_repeat_past_the_step_budget_is_refused() {
    // Calls that take no time: the step budget is the limit.
    let src = format!(
        "[profile]\napi_call_latency = \"0us\"\n[system_provider]\nlatency = \
         {{ EndPrepareSnapshots = \"0us\", CommitSnapshots = \"0us\" }}\n{BACKUP}repeat = 100000000\n"
    );
    let e = refused(&src);
    assert_eq!(e.key, "requester[0].repeat", "{e}");
    assert!(e.message.contains("max_steps = 200000000"), "{e}");
}

#[test]
fn a_start_past_the_time_limit_is_refused() {
    let src = format!("{BACKUP}start = \"2h\"\n");
    let e = refused(&src);
    assert_eq!((e.line, e.key.as_str()), (6, "requester[0].start"), "{e}");
    assert!(
        e.message.contains("never run") && e.message.contains("max_virtual_time = 1h"),
        "{e}"
    );
}

#[test]
fn a_start_of_2_to_the_64_microseconds_is_refused_as_a_duration_past_its_limit() {
    // The reproducer: `start = "18446744073709551615us"`.
    let src = format!("{BACKUP}start = \"18446744073709551615us\"\n");
    let e = refused(&src);
    assert_eq!((e.line, e.key.as_str()), (6, "start"), "{e}");
    assert!(e.message.contains("MAX_DURATION_US"), "{e}");
    assert!(
        e.message.contains(&format!("limit of {MAX_DURATION_US}us")),
        "{e}"
    );
}

#[test]
fn a_workload_rate_past_the_step_budget_is_refused() {
    // The reproducer: `rate = 10000000` in a 30-minute retry scenario.
    let file = root().join("scenarios/concurrency/policy_microsoft_three_tries.toml");
    let src = std::fs::read_to_string(&file).unwrap();
    let rate_line = src.lines().position(|l| l.starts_with("rate = ")).unwrap() + 1;
    let src: String = src
        .lines()
        .map(|l| {
            if l.starts_with("rate = ") {
                "rate = 10000000"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let e = refused(&src);
    assert_eq!(
        (e.line, e.key.as_str()),
        (rate_line, "workload[0].rate"),
        "{e}"
    );
    assert!(e.message.contains("max_steps = 200000000"), "{e}");
}

#[test]
fn the_catalogs_heaviest_load_fits_its_budget() {
    // The check refuses only what cannot fit: the default limits admit 20 000 writes a second
    // for the whole hour.
    let src = format!("{BACKUP}[[workload]]\nname = \"app\"\nvolumes = [\"C:\"]\nrate = 20000\n");
    parsed(&src);
}

#[test]
fn the_cli_refuses_each_slow_reproducer_with_exit_2_at_once() {
    let dir = std::env::temp_dir().join(format!("vss-sim-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, extra, key) in [
        ("repeat", "repeat = 10000000\n", "requester[0].repeat"),
        ("start", "start = \"18446744073709551615us\"\n", "start"),
        (
            "rate",
            "[[workload]]\nname = \"app\"\nvolumes = [\"C:\"]\nrate = 10000000\n",
            "workload[0].rate",
        ),
    ] {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, format!("{BACKUP}{extra}")).unwrap();
        let out = Command::new(vss_sim_bin())
            .args(["run", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&format!("key `{key}`")), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_budget_check_takes_the_largest_durations() {
    // Bursts, starts and latencies at the largest duration: checked in wide arithmetic.
    let max = format!("\"{MAX_DURATION_US}us\"");
    let src = format!(
        "[profile]\napi_call_latency = {max}\n\
         [run]\nmax_virtual_time = {max}\nmax_steps = 18446744073709551615\n\
         {BACKUP}start = \"{}us\"\n\
         [[workload]]\nname = \"app\"\nvolumes = [\"C:\"]\nrate = 1\n\
         burst_on = {max}\nburst_off = {max}\n",
        MAX_DURATION_US - 1
    );
    parsed(&src);
    let e = refused(&src.replace("[[workload]]", "repeat = 1\n[[workload]]"));
    assert_eq!(e.key, "requester[0].repeat", "{e}");
}

#[test]
fn the_largest_durations_run_without_overflow() {
    // Found by the fuzz target: `burst_off = "18446744073709551615us"` overflowed the workload's
    // clock arithmetic (the next on period after the first write); at MAX_DURATION_US it fits.
    let src = format!(
        "{BACKUP}[[workload]]\nname = \"app\"\nvolumes = [\"C:\"]\nrate = 1000\n\
         burst_on = \"1us\"\nburst_off = \"{MAX_DURATION_US}us\"\n"
    );
    let out = run(&parsed(&src), 0, RunOptions::default());
    assert_eq!(out.report.result, "S_OK");
}

#[test]
fn max_shadow_copies_of_zero_is_refused() {
    // Found by the fuzz target: rule 18 recycled the oldest of no client-accessible shadow.
    let src = format!("[profile]\nclient_accessible_shadows_max = 0\n{BACKUP}");
    let e = refused(&src);
    assert_eq!(
        (e.line, e.key.as_str()),
        (2, "profile.client_accessible_shadows_max"),
        "{e}"
    );
}
