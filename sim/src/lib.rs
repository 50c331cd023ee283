//! vss-sim: a deterministic discrete-event simulator of the Windows Volume Shadow Copy Service.
//!
//! The loop in ten lines (see [`world::World::step`] and [`kernel::Kernel::advance`]):
//!
//! ```text
//! loop (bounded by the step budget and [run] max_virtual_time):
//!   next = kernel.advance()                  # heap or workload slot, (time, seq) order
//!   now = at                                 # only the loop advances time
//!   match payload:
//!     workload write  -> volume (held? queue it : apply with copy-on-write)
//!     coordinator input -> coordinator.handle(now, input, &mut outbox)
//!     requester feedback -> requester.feed(..); requester.next() -> API call
//!   for effect in outbox: schedule writer/provider answers, timers, holds, shadows
//!   every fact -> recorder: trace record, oracles, accounting; stop when all released
//! ```
//!
//! Determinism contract: given (scenario, seed, commit) the JSONL trace is byte-identical. One
//! seeded PCG64 stream per subsystem ([`kernel::rng::SimRng`]), no wall clock, no hash-map
//! iteration, no threads.

pub mod alloc;
pub mod api;
pub mod bench;
pub mod calendar;
pub mod fact;
pub mod fuzz;
pub mod guest;
pub mod harness;
pub mod kernel;
pub mod oracle;
pub mod out;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod situation;
pub mod strategy;
pub mod trace;
pub mod units;
pub mod world;
