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
//!
//! # Your own code inside
//!
//! Your requester (or writer) is ordinary async Rust against [`api`], which mirrors
//! `IVssBackupComponents`, `IVssAsync` and `CVssWriter`; [`harness::Simulation`] runs it on a
//! scenario's machine, on virtual time, and returns what happened. A backup with a ten-minute
//! pause costs microseconds, and the same seed gives the same trace:
//!
//! ```
//! use std::time::Duration;
//! use sim::api::{BackupType, Hresult, Requester, VssError};
//! use sim::harness::Simulation;
//!
//! async fn backup(me: Requester) -> Result<(), VssError> {
//!     // Wait for the nightly window: ten minutes of virtual time.
//!     tokio::time::sleep(Duration::from_secs(600)).await;
//!     let mut bc = me.create_backup_components();
//!     bc.initialize_for_backup().await?;
//!     bc.set_backup_state(false, false, BackupType::Full, false).await?;
//!     bc.gather_writer_metadata().await?.finish().await?;
//!     bc.start_snapshot_set().await?;
//!     let c = me.volume("C:\\").expect("the machine has C:");
//!     let shadow = bc.add_to_snapshot_set(c, None).await?;
//!     bc.prepare_for_backup().await?.finish().await?;
//!     bc.do_snapshot_set().await?.finish().await?;
//!     bc.read_shadow(shadow, c).await?;
//!     bc.backup_complete().await?.finish().await?;
//!     Ok(()) // dropping `bc` releases it
//! }
//!
//! let machine = r#"
//!     [[volume]]
//!     name = "C:"
//!     size = "1GiB"
//!     [[workload]]
//!     name = "app"
//!     volumes = ["C:"]
//!     rate = 100
//! "#;
//! let run = || {
//!     Simulation::from_toml("machine.toml", "machine", machine)
//!         .unwrap()
//!         .seed(42)
//!         .requester("nightly", backup)
//!         .run()
//!         .unwrap()
//! };
//! let outcome = run();
//! sim::assert_no_violations!(outcome);
//! assert_eq!(outcome.result("nightly"), Some(Hresult::Ok));
//! assert!(outcome.report().virtual_time_us > 600_000_000);
//! assert_eq!(outcome.trace, run().trace); // byte for byte
//! ```
//!
//! Examples: `cargo run --release --example retry_requester` (Microsoft's retry advice, searched
//! over a thousand fault plans in its tests) and `--example database_writer` (a writer that
//! freezes its database, and one that does not).

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
pub mod serve;
pub mod situation;
pub mod strategy;
pub mod trace;
pub mod units;
pub mod world;
