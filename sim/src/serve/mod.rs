//! `vss-sim serve`: the simulated machine driven from outside (docs/protocol.md).

pub mod nbd;
