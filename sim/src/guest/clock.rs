//! The guest runtime's clock: tokio's, paused at build and moved only as the simulation lets it
//! (`Host::drive`), so reading it is reading virtual time, never the wall clock.

/// What the paused clock shows; called inside the guest runtime (outside one, tokio would read
/// the wall clock, so nothing else calls it).
pub(super) fn paused_now() -> tokio::time::Instant {
    tokio::time::Instant::now() // determinism-ok: the guest runtime's clock is paused; it shows virtual time
}
