//! `vss-sim serve`: the simulated VSS for programs in any language, over a local socket with
//! one JSON object per line each way (docs/protocol.md).
//!
//! Two halves. [`Service`] is the emulator with no I/O: lines in, replies and writer events
//! out, one world that moves only inside a request (a call runs it until the reply, `wait`
//! until the operation ends, `advance` and `run_until_idle` by the time asked); socket clients
//! are requesters and writers behind the same mailbox guest code uses (`world/served.rs`), so
//! every rule applies to them as to any role. `net.rs` is the I/O: a listener, one reader
//! thread per connection handing lines to the one thread that owns the world, in arrival
//! order. Outside the simulated path: the threads and sockets never reach the world except as
//! lines in the order they arrived, so a session is deterministic given its requests.
//! [`nbd`] exports every shadow copy over NBD, read from the same thread, no time moving.

mod args;
pub mod nbd;
mod net;
mod ops;
mod service;
mod views;
mod writers;

pub use net::{Config, Listen, serve};
pub use ops::OPS;
pub use service::{ConnId, MAX_LINE, PROTOCOL_VERSION, Service};
