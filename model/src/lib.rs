//! Sans-IO model of the Windows Volume Shadow Copy Service.
//!
//! The four VSS roles as state machines that never read a clock, draw a random number or do
//! I/O: every input carries `now`, every effect goes to a caller-owned outbox. The simulation
//! (`sim` crate) owns time, randomness and the event queue.
//!
//! Reading order:
//! - [`vss`]: the vocabulary (states, HRESULTs, contexts) with Microsoft's names and values;
//! - [`time`], [`ids`], [`profile`]: virtual time, identifiers, the limits and knobs;
//! - [`api`]: the messages on the coordinator's edges;
//! - [`coordinator`]: the VSS service; [`requester`], [`writer`], [`provider`]: the other roles;
//! - [`volume`]: the virtual block device with flush-and-hold support and copy-on-write shadows;
//! - [`app`]: the applications writers freeze, and when an image of theirs is consistent;
//! - [`graph`]: the writer state graph the run checks every transition against.

pub mod api;
pub mod app;
pub mod coordinator;
pub mod graph;
pub mod ids;
pub mod machine;
pub mod profile;
pub mod provider;
pub mod requester;
pub mod time;
pub mod volume;
pub mod vss;
pub mod writer;
