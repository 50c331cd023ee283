//! Views of a run: the text timeline and summary, the `run --json` report, and the
//! administrator's `vssadmin list …` bytes. The timeline reads the trace records; the report
//! reads the run's accounting; the vssadmin view re-runs the world up to `--at`.

pub mod json;
pub mod timeline;
pub mod vssadmin;
