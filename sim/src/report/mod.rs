//! Views of a run: the text timeline and summary, the `run --json` report, and the
//! administrator's `vssadmin list …` bytes. The timeline and the report are pure functions of
//! the trace records (the report a fold of them, `json::Builder`), the summary a function of the
//! report; the vssadmin view re-runs the world up to `--at`.

pub mod json;
pub mod timeline;
pub mod vssadmin;
