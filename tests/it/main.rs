//! The single integration-test binary (matklad, "Delete Cargo Integration Tests").
//!
//! - `scenarios`: every file under `scenarios/` passes its `[expect]` and replays identically;
//! - `determinism`: seeds, GUIDs, trace digests;
//! - `malformed`: bad input exits 2 naming file, line and key;
//! - `rules`: every rule a trace or a tracked file cites is a heading of `docs/rules.md`;
//! - `tidy`: determinism and layout rules as a test.

mod cli;
mod coverage;
mod determinism;
mod malformed;
mod protocol;
mod regression;
mod rules;
mod scenarios;
mod tidy;
mod vssadmin;
