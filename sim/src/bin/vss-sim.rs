//! `vss-sim`: run a scenario, or benchmark the simulator.
//!
//! Exit codes of `run`: 0 the run matched its `[expect]`; 1 it did not (standard error ends
//! with the seed and the command that replays the run); 2 bad input.
//!
//! `scenario fmt FILE` prints the file's canonical form: 0, or 2 on a bad file.
//!
//! Exit codes of `vssadmin` are vssadmin's (rule 29b): 0 something is listed, 1
//! `No items found that satisfy the query.`, 2 bad input. It does not check `[expect]`.
//!
//! Output errors, for every command ([`sim::out`]): standard output closed by its reader ends
//! the command silently with its own exit code; any other write error is exit 2 naming
//! standard output or the file; a failing standard error changes nothing. Nothing here uses
//! `print!`: every write goes through [`sim::out`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use sim::report::timeline::timeline;
use sim::run::{RunOptions, run, summary_text};
use sim::scenario::{DEFAULT_SCENARIO, Scenario, parse};

/// `eprintln!` that cannot panic ([`sim::out::stderr_line`]).
macro_rules! note {
    ($($arg:tt)*) => {
        sim::out::stderr_line(format_args!($($arg)*))
    };
}

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
    /// Serve the simulated machine to programs in any language: one JSON object per line over
    /// a Unix socket (docs/protocol.md). FILE's machine (its own requesters run as scripted),
    /// or the default machine without its requesters.
    Serve {
        /// Scenario file (TOML).
        file: Option<PathBuf>,
        /// The Unix socket to listen on.
        #[arg(long, value_name = "PATH", default_value = "./vss-sim.sock")]
        socket: PathBuf,
        /// Listen on TCP instead: 127.0.0.1:PORT (port 0 picks one).
        #[arg(long, value_name = "127.0.0.1:PORT", conflicts_with = "socket")]
        listen: Option<String>,
        /// Seed (default: the scenario's).
        #[arg(long, value_name = "N")]
        seed: Option<String>,
        /// Write the session's trace (JSON lines) here when the server shuts down.
        #[arg(long, value_name = "FILE.jsonl")]
        trace_out: Option<PathBuf>,
        /// Requester slots for clients (`client-1` …), declared in the trace's header.
        #[arg(long, value_name = "N", default_value_t = 8)]
        clients: usize,
        /// Export every shadow copy over NBD on this Unix socket (or 127.0.0.1:PORT).
        #[arg(long, value_name = "PATH|127.0.0.1:PORT")]
        nbd: Option<String>,
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
    /// Search fault space: run generated machines (swarm testing) with every oracle on, shrink
    /// the lowest failing case and write a scenario that replays it; or, with `--exhaustive
    /// K`, run every plan of at most K faults on one machine. Exit 0: no violation; 1: one
    /// found (the replay command is printed); 2: bad input.
    #[command(args_conflicts_with_subcommands = true)]
    Fuzz {
        #[command(subcommand)]
        action: Option<FuzzCommand>,
        /// Cases in the whole campaign (all shards together) [default: 1000].
        #[arg(long, value_name = "N")]
        cases: Option<u64>,
        /// The campaign's seed [default: 0].
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
        /// The requester under test: `standard` or a mutant (`--list-requesters`).
        #[arg(long, value_name = "NAME")]
        requester: Option<String>,
        /// Worker threads; the results do not depend on it.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Run only shard K of N (1-based): cases i with i % N == K - 1.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Run shard JOB_COMPLETION_INDEX + 1 of N (a Kubernetes Indexed Job).
        #[arg(long, value_name = "N")]
        shards: Option<u64>,
        /// Where the minimal scenario of a failing case goes.
        #[arg(long, value_name = "DIR", default_value = "vss-sim-failures")]
        out: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Print the requesters a campaign can test, one name a line, the correct one first.
        #[arg(long)]
        list_requesters: bool,
        /// Run a sample of the cases (up to 200) twice and compare their traces byte for
        /// byte; exit 1 with the first differing line when they differ.
        #[arg(long)]
        check_determinism: bool,
        /// Run every fault plan of at most K faults (K <= 2) on FILE, or on the built-in small
        /// machine, each once, instead of generated cases.
        #[arg(long, value_name = "K")]
        exhaustive: Option<u32>,
        /// The scenario `--exhaustive` searches (TOML); the built-in small machine when absent.
        file: Option<PathBuf>,
    },
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
enum FuzzCommand {
    /// Combine the `--json` results of a campaign's shards into the whole campaign's (exit 1
    /// when any shard found a violation).
    Merge {
        /// Shard results: JSON files, or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
            // `--help` and `--version` go to standard output, usage errors to standard error.
            if e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(2);
            }
            let printed = e
                .print()
                .and_then(|()| std::io::Write::flush(&mut std::io::stdout()));
            return match printed {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => sim::out::classify("", &err)
                    .err()
                    .unwrap_or(ExitCode::SUCCESS),
            };
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
        Command::Serve {
            file,
            socket,
            listen,
            seed,
            trace_out,
            clients,
            nbd,
        } => cmd_serve(file, socket, listen, seed, trace_out, clients, nbd),
        Command::Fuzz {
            action: Some(FuzzCommand::Merge { paths }),
            ..
        } => sim::fuzz::cli::merge_main(&paths),
        Command::Fuzz {
            action: None,
            cases,
            seed,
            requester,
            jobs,
            shard,
            shards,
            out,
            json,
            list_requesters,
            check_determinism,
            exhaustive,
            file,
        } => sim::fuzz::cli::main(&sim::fuzz::cli::Args {
            cases,
            seed,
            requester,
            jobs: Some(jobs),
            shard,
            shards,
            out: Some(out),
            json,
            list_requesters,
            check_determinism,
            exhaustive,
            file,
        }),
        Command::Oracles => {
            let text: String = sim::oracle::ALL
                .iter()
                .map(|e| format!("{}\t{}\n", e.info.name, e.info.description))
                .collect();
            print_then("oracles", &text, ExitCode::SUCCESS)
        }
        Command::Scenario {
            action: ScenarioCommand::Fmt { file },
        } => match load(&Some(file)) {
            Ok((scenario, _)) => print_then("scenario fmt", &scenario.to_toml(), ExitCode::SUCCESS),
            Err(e) => {
                note!("vss-sim scenario fmt: {e}");
                ExitCode::from(2)
            }
        },
        Command::Graph { which } => {
            if which != "writer" {
                note!("vss-sim graph: unknown graph `{which}`; the graph available is `writer`");
                return ExitCode::from(2);
            }
            let dot = model::graph::WriterStateGraph::new().to_dot();
            print_then("graph", &dot, ExitCode::SUCCESS)
        }
    }
}

/// `vss-sim serve`: prints `listening on ADDR` once it listens, exits 0 after a `shutdown`
/// request, 2 when it cannot start.
fn cmd_serve(
    file: Option<PathBuf>,
    socket: PathBuf,
    listen: Option<String>,
    seed: Option<String>,
    trace_out: Option<PathBuf>,
    clients: usize,
    nbd: Option<String>,
) -> ExitCode {
    let fail = |e: String| {
        note!("vss-sim serve: {e}");
        ExitCode::from(2)
    };
    let (mut scenario, _) = match load(&file) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    if file.is_none() {
        // The default machine, its backup left to the clients.
        scenario.requesters.clear();
    }
    let seed = match parse_seed("serve", seed.as_deref(), scenario.seed) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let listen = match listen {
        Some(a) => match sim::serve::Listen::parse(&a) {
            Ok(l @ sim::serve::Listen::Tcp(_)) => l,
            Ok(_) => {
                return fail(format!(
                    "--listen {a}: give 127.0.0.1:PORT (or use --socket)"
                ));
            }
            Err(e) => return fail(format!("--listen {e}")),
        },
        None => sim::serve::Listen::Unix(socket),
    };
    let service = match sim::serve::Service::new(scenario, seed, clients) {
        Ok(s) => s.keep_trace(trace_out.is_some()),
        Err(e) => return fail(e),
    };
    let nbd = match nbd.as_deref().map(sim::serve::Listen::parse).transpose() {
        Ok(n) => n,
        Err(e) => return fail(format!("--nbd {e}")),
    };
    let cfg = sim::serve::Config {
        service,
        listen,
        trace_out,
        nbd,
    };
    let ready = |nbd_addr: Option<&str>, addr: &str| {
        let mut text = format!("listening on {addr}\n");
        if let Some(n) = nbd_addr {
            text.push_str(&format!("nbd on {n}\n"));
        }
        let _ = sim::out::stdout("serve", text.as_bytes());
    };
    match sim::serve::serve(cfg, ready) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Writes `text` to standard output, then exits with `code` (also when the reader closed the
/// pipe), or 2 on another write error.
fn print_then(cmd: &str, text: &str, code: ExitCode) -> ExitCode {
    match sim::out::stdout(cmd, text.as_bytes()) {
        Ok(_) => code,
        Err(failed) => failed,
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
        Some(path) => sim::scenario::load_file(path).map(|s| (s, path.display().to_string())),
    }
}

/// The seed of `--seed` (`None`: the scenario's); `random` draws one and prints it. A bad value
/// prints a message and gives exit code 2.
fn parse_seed(cmd: &str, seed: Option<&str>, scenario_seed: u64) -> Result<u64, ExitCode> {
    match seed {
        None => Ok(scenario_seed),
        Some("random") => {
            let s = random_seed();
            note!("vss-sim {cmd}: seed {s}");
            Ok(s)
        }
        Some(s) => s.parse::<u64>().map_err(|_| {
            note!(
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
    use sim::out::Sent;
    use sim::report::vssadmin::{Object, WAITING, banner_len, eol, render, world_at};
    const OBJECTS: &str = "writers, shadows, providers or shadowstorage";
    if !verb.eq_ignore_ascii_case("list") {
        note!(
            "vss-sim vssadmin: unknown verb `{verb}`; the verb available is `list` (vss-sim vssadmin list {OBJECTS})"
        );
        return ExitCode::from(2);
    }
    let Some(word) = object else {
        note!("vss-sim vssadmin: `list` needs an object: {OBJECTS}");
        return ExitCode::from(2);
    };
    let Some(object) = Object::parse(word) else {
        note!("vss-sim vssadmin: unknown object `{word}`; list {OBJECTS}");
        return ExitCode::from(2);
    };
    let (scenario, shown) = match load(&file) {
        Ok(x) => x,
        Err(e) => {
            note!("vss-sim vssadmin: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = epoch_secs(&scenario.epoch) {
        let file = if shown.is_empty() {
            "<default scenario>"
        } else {
            &shown
        };
        note!("vss-sim vssadmin: {file}: key `machine.epoch`: {e}");
        return ExitCode::from(2);
    }
    let at = match at.map(sim::units::parse_duration).transpose() {
        Ok(d) => d,
        Err(e) => {
            note!("vss-sim vssadmin: --at: {e}");
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
            note!("vss-sim vssadmin: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes = view.text.as_bytes();
    let code = ExitCode::from(view.exit_code());
    let blocks = if object == Object::Writers && view.listed {
        let (banner, blocks) = bytes.split_at(banner_len(lf));
        match sim::out::stdout("vssadmin", banner) {
            Ok(Sent::Written) => {}
            Ok(Sent::Closed) => return code,
            Err(failed) => return failed,
        }
        let nl = eol(lf);
        sim::out::stderr(format_args!("{}{nl}{}{nl}{nl}", WAITING[0], WAITING[1]));
        blocks
    } else {
        bytes
    };
    match sim::out::stdout("vssadmin", blocks) {
        Ok(_) => code,
        Err(failed) => failed,
    }
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
            note!("vss-sim run: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = match parse_seed("run", seed.as_deref(), scenario.seed) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The trace's file is checked before the run: a directory or the scenario itself is refused.
    let trace_target = match trace_out
        .as_deref()
        .map(|p| sim::out::target(p, file.as_deref()))
        .transpose()
    {
        Ok(t) => t,
        Err(e) => {
            note!("vss-sim run: --trace-out: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = RunOptions {
        keep_trace_bytes: trace_target.is_some(),
        keep_records: !json,
    };
    let outcome = run(&scenario, seed, opts);
    if let (Some(target), Some(bytes)) = (&trace_target, &outcome.trace_bytes) {
        if let Err(e) = target.write(bytes) {
            note!("vss-sim run: --trace-out: cannot write the trace: {e}");
            return ExitCode::from(2);
        }
    }
    let report = &outcome.report;
    let text = if json {
        let mut v = serde_json::to_vec_pretty(report).expect("the report always serialises");
        v.push(b'\n');
        v
    } else {
        let tl = timeline(outcome.records.as_deref().unwrap_or(&[]));
        format!("{tl}{}", summary_text(report)).into_bytes()
    };
    if let Err(failed) = sim::out::stdout("run", &text) {
        return failed;
    }
    if report.expect.passed {
        ExitCode::SUCCESS
    } else {
        for f in &report.expect.failures {
            note!("vss-sim run: expect: {f}");
        }
        let file_arg = if shown.is_empty() {
            String::new()
        } else {
            format!(" {shown}")
        };
        note!("vss-sim run: the run did not match its [expect] (seed {seed})");
        note!("replay: vss-sim run{file_arg} --seed {seed}");
        ExitCode::from(1)
    }
}
