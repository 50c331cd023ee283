//! The single integration-test binary (matklad, "Delete Cargo Integration Tests").
//!
//! - `api_model`: random requester call sequences refused (`VSS_E_BAD_STATE`) exactly when a
//!   reference model of the call order says so (proptest-state-machine);
//! - `apps`: writers' applications are consistent when frozen, findings when not;
//! - `bounds`: the limit of every collection, and the run's work against its limits;
//! - `canonical`: `scenario fmt` output parses back, runs the same and is stable;
//! - `roundtrip`: generated scenarios parse back from their canonical text (proptest);
//! - `scenarios`: every file under `scenarios/` passes its `[expect]` and replays identically;
//! - `determinism`: seeds, GUIDs, trace digests;
//! - `exhaustive`: `vss-sim fuzz --exhaustive K` counts its plans, is clean with the standard
//!   requester, catches every mutant, writes a replayable scenario, refuses bad input;
//! - `found`: the reproducers of defects found by fuzzing from outside pass their `[expect]`;
//! - `guest`: your own async requesters and writers inside a simulation, on virtual time;
//! - `guest_calls`: the calls outside the backup sequence (queries, deletion, writer classes)
//!   from async Rust;
//! - `heal`: faults stop at `[run] heal_at` and the machine must settle after (rule 31);
//! - `fuzz`: mutated catalog files never panic the parser and every refusal says where;
//! - `malformed`: bad input exits 2 naming file, line and key;
//! - `nbd`: `qemu-img` copies a shadow copy over NBD, and reads its instant block by block;
//! - `output`: output that cannot be written (closed pipe, full device) and `--trace-out` targets;
//! - `serve`: `vss-sim serve`'s protocol: a backup, determinism, a client killed at every
//!   phase, bad input, client writers, injected faults, the real socket;
//! - `serve_fuzz`: random clients of `vss-sim serve` (every request kind, junk arguments,
//!   stale names, disconnects, garbage lines) get well-formed replies, deterministically;
//! - `search`: `vss-sim fuzz` finds every mutant, none with the standard requester, whatever
//!   `--jobs` and the shards;
//! - `rules`: every rule a trace or a tracked file cites is a heading of `docs/rules.md`;
//! - `tidy`: determinism and layout rules as a test;
//! - `trace`: trace schema 2 (header, role instances, paired spans) over the catalog.

mod api_model;
mod apps;
mod bounds;
mod canonical;
mod cli;
mod coverage;
mod determinism;
mod exhaustive;
mod found;
mod fuzz;
mod guest;
mod guest_calls;
mod heal;
mod malformed;
#[cfg(unix)]
mod nbd;
#[cfg(unix)]
mod output;
mod protocol;
mod regression;
mod roundtrip;
mod rules;
mod scenarios;
mod search;
mod serve;
mod serve_fuzz;
mod tidy;
mod trace;
mod vssadmin;
