//! `vss-sim`: run a scenario, or benchmark the simulator.
//!
//! Exit codes of `run`: 0 the run matched its `[expect]`; 1 it did not (standard error ends
//! with the seed and the command that replays the run); 2 bad input.
//!
//! `scenario fmt FILE` prints the file's canonical form: 0, or 2 on a bad file.
//!
//! Exit codes of `vssadmin` are vssadmin's (rule 29b): 0 something is listed, 1
//! `No items found that satisfy the query.`, 2 bad input. It does not check `[expect]`.

#![allow(clippy::print_stdout)] // The CLI prints on purpose.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use sim::report::timeline::timeline;
use sim::run::{RunOptions, run, summary_text};
use sim::scenario::{DEFAULT_SCENARIO, Scenario, parse};

#[global_allocator]
static ALLOC: sim::alloc::CountingAlloc = sim::alloc::CountingAlloc;

#[derive(Parser)]
#[command(
    name = "vss-sim",
    version,
    about = "Deterministic simulator of the Windows Volume Shadow Copy Service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario (the embedded default when FILE is absent) and check its `[expect]`.
    Run {
        /// Scenario file (TOML).
        file: Option<PathBuf>,
        /// Seed: an integer, or `random` to draw one (printed) below 2^53.
        #[arg(long, value_name = "N|random")]
        seed: Option<String>,
        /// Print one JSON object instead of the timeline.
        #[arg(long)]
        json: bool,
        /// Write the trace as JSON lines to this file.
        #[arg(long, value_name = "FILE.jsonl")]
        trace_out: Option<PathBuf>,
    },
    /// Measure the simulator's speed and memory (under 60 s on 2 cores).
    Bench {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the service's state as `vssadmin list …` does, byte for byte (CRLF), at the end of
    /// the run or at a virtual time (`--at 0.32s`).
    Vssadmin {
        /// The verb: `list`.
        verb: String,
        /// What to list: writers, shadows, providers or shadowstorage.
        object: Option<String>,
        /// Scenario file (TOML); the embedded default when absent.
        file: Option<PathBuf>,
        /// Virtual time to view the machine at (e.g. `12.5s`); the end of the run when absent.
        #[arg(long, value_name = "DURATION")]
        at: Option<String>,
        /// Seed: an integer, or `random` to draw one (printed); the scenario's when absent.
        #[arg(long, value_name = "N|random")]
        seed: Option<String>,
        /// Unix line endings (LF) instead of vssadmin's CRLF.
        #[arg(long)]
        lf: bool,
    },
    /// List the oracles every run is judged by: `name<TAB>description`, one per line (names
    /// as `violations` prints them).
    Oracles,
    /// Work with scenario files.
    Scenario {
        #[command(subcommand)]
        action: ScenarioCommand,
    },
    /// Print a state graph as Graphviz DOT.
    Graph {
        /// Which graph: `writer`.
        which: String,
    },
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Print FILE in canonical form: the same scenario (same run, same trace), keys in the
    /// README's order, defaults left out, values in VSS spellings and units.
    Fmt {
        /// Scenario file (TOML).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Run {
            file,
            seed,
            json,
            trace_out,
        } => cmd_run(file, seed, json, trace_out),
        Command::Vssadmin {
            verb,
            object,
            file,
            at,
            seed,
            lf,
        } => cmd_vssadmin(&verb, object.as_deref(), file, at.as_deref(), seed, lf),
        Command::Bench { json } => sim::bench::main(json),
        Command::Oracles => {
            for e in sim::oracle::ALL {
                println!("{}\t{}", e.info.name, e.info.description);
            }
            ExitCode::SUCCESS
        }
        Command::Scenario {
            action: ScenarioCommand::Fmt { file },
        } => match load(&Some(file)) {
            Ok((scenario, _)) => {
                print!("{}", scenario.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vss-sim scenario fmt: {e}");
                ExitCode::from(2)
            }
        },
        Command::Graph { which } => {
            if which != "writer" {
                eprintln!(
                    "vss-sim graph: unknown graph `{which}`; the graph available is `writer`"
                );
                return ExitCode::from(2);
            }
            print!("{}", model::graph::WriterStateGraph::new().to_dot());
            ExitCode::SUCCESS
        }
    }
}

/// A seed below 2^53 drawn from the operating system. The only OS randomness in the project,
/// and only when the user asks for `--seed random`.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish() & ((1u64 << 53) - 1)
}

fn load(file: &Option<PathBuf>) -> Result<(Scenario, String), String> {
    match file {
        None => parse("<default scenario>", "default", DEFAULT_SCENARIO)
            .map(|s| (s, String::new()))
            .map_err(|e| e.to_string()),
        Some(path) => {
            let shown = path.display().to_string();
            let src = std::fs::read(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::IsADirectory => {
                    format!("{shown}: is a directory; name a scenario file (.toml)")
                }
                _ => format!("{shown}: cannot read the scenario: {e}; check the path"),
            })?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scenario");
            sim::scenario::parse_bytes(&shown, stem, &src)
                .map(|s| (s, shown))
                .map_err(|e| e.to_string())
        }
    }
}

/// The seed of `--seed` (`None`: the scenario's); `random` draws one and prints it. A bad value
/// prints a message and gives exit code 2.
fn parse_seed(cmd: &str, seed: Option<&str>, scenario_seed: u64) -> Result<u64, ExitCode> {
    match seed {
        None => Ok(scenario_seed),
        Some("random") => {
            let s = random_seed();
            eprintln!("vss-sim {cmd}: seed {s}");
            Ok(s)
        }
        Some(s) => s.parse::<u64>().map_err(|_| {
            eprintln!(
                "vss-sim {cmd}: --seed takes an integer from 0 to 18446744073709551615 or `random`, not `{s}`"
            );
            ExitCode::from(2)
        }),
    }
}

/// `vss-sim vssadmin list OBJECT [FILE] [--at D] [--seed N] [--lf]`: standard output gets exactly
/// the bytes of [`sim::report::vssadmin`]; for `list writers` the console-only "Waiting for responses."
/// lines go to standard error, between the banner and the blocks (rule 29b).
fn cmd_vssadmin(
    verb: &str,
    object: Option<&str>,
    file: Option<PathBuf>,
    at: Option<&str>,
    seed: Option<String>,
    lf: bool,
) -> ExitCode {
    use sim::calendar::epoch_secs;
    use sim::report::vssadmin::{Object, WAITING, banner_len, eol, render, world_at};
    const OBJECTS: &str = "writers, shadows, providers or shadowstorage";
    if !verb.eq_ignore_ascii_case("list") {
        eprintln!(
            "vss-sim vssadmin: unknown verb `{verb}`; the verb available is `list` (vss-sim vssadmin list {OBJECTS})"
        );
        return ExitCode::from(2);
    }
    let Some(word) = object else {
        eprintln!("vss-sim vssadmin: `list` needs an object: {OBJECTS}");
        return ExitCode::from(2);
    };
    let Some(object) = Object::parse(word) else {
        eprintln!("vss-sim vssadmin: unknown object `{word}`; list {OBJECTS}");
        return ExitCode::from(2);
    };
    let (scenario, shown) = match load(&file) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vss-sim vssadmin: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = epoch_secs(&scenario.epoch) {
        let file = if shown.is_empty() {
            "<default scenario>"
        } else {
            &shown
        };
        eprintln!("vss-sim vssadmin: {file}: key `machine.epoch`: {e}");
        return ExitCode::from(2);
    }
    let at = match at.map(sim::units::parse_duration).transpose() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vss-sim vssadmin: --at: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = match parse_seed("vssadmin", seed.as_deref(), scenario.seed) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let world = world_at(&scenario, seed, at);
    let view = match render(object, &world, &scenario, lf) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("vss-sim vssadmin: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes = view.text.as_bytes();
    let mut stdout = std::io::stdout().lock();
    let written = if object == Object::Writers && view.listed {
        let (banner, blocks) = bytes.split_at(banner_len(lf));
        stdout
            .write_all(banner)
            .and_then(|_| stdout.flush())
            .and_then(|_| {
                let nl = eol(lf);
                let mut err = std::io::stderr().lock();
                write!(err, "{}{nl}{}{nl}{nl}", WAITING[0], WAITING[1])?;
                err.flush()
            })
            .and_then(|_| stdout.write_all(blocks))
    } else {
        stdout.write_all(bytes)
    };
    if let Err(e) = written.and_then(|_| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("vss-sim vssadmin: cannot write the output: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::from(view.exit_code())
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("trace");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

fn cmd_run(
    file: Option<PathBuf>,
    seed: Option<String>,
    json: bool,
    trace_out: Option<PathBuf>,
) -> ExitCode {
    let (scenario, shown) = match load(&file) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vss-sim run: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = match parse_seed("run", seed.as_deref(), scenario.seed) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let opts = RunOptions {
        keep_trace_bytes: trace_out.is_some(),
        keep_records: !json,
    };
    let outcome = run(&scenario, seed, opts);
    if let (Some(path), Some(bytes)) = (&trace_out, &outcome.trace_bytes) {
        if let Err(e) = write_atomic(path, bytes) {
            eprintln!(
                "vss-sim run: cannot write the trace to {}: {e}",
                path.display()
            );
            return ExitCode::from(2);
        }
    }
    let report = &outcome.report;
    let mut stdout = std::io::stdout().lock();
    let printed = if json {
        serde_json::to_writer_pretty(&mut stdout, report)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(stdout))
    } else {
        let tl = timeline(outcome.records.as_deref().unwrap_or(&[]));
        write!(stdout, "{tl}{}", summary_text(report))
    };
    if let Err(e) = printed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("vss-sim run: cannot write the output: {e}");
            return ExitCode::from(2);
        }
    }
    if report.expect.passed {
        ExitCode::SUCCESS
    } else {
        for f in &report.expect.failures {
            eprintln!("vss-sim run: expect: {f}");
        }
        let file_arg = if shown.is_empty() {
            String::new()
        } else {
            format!(" {shown}")
        };
        eprintln!("vss-sim run: the run did not match its [expect] (seed {seed})");
        eprintln!("replay: vss-sim run{file_arg} --seed {seed}");
        ExitCode::from(1)
    }
}
