//! `vss-sim bench` (filled in below).
use std::process::ExitCode;

/// Runs the benchmark.
pub fn main(_json: bool) -> ExitCode {
    ExitCode::from(2)
}
