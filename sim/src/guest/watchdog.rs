//! The watchdog: the one part of the guest runtime that reads the wall clock, outside the
//! simulated path. Nothing it sees reaches a run's trace or its verdicts; it only ends a run
//! that cannot go on.
//!
//! One thread for the whole process looks at every guest runtime ten times a second. A runtime
//! that is being driven and has shown no sign of life (no poll of its tasks came back) for
//! [`STUCK_AFTER_MS`] is tripped: if it waits, parked with every task waiting yet unable to move
//! its clock (an OS thread, `spawn_blocking`, real I/O hold it), its drive is woken and ends the
//! run with `GuestError::Blocked`. A poll that does not come back even after [`ABORT_AFTER_MS`]
//! more is stuck in code that never returns to the runtime (a loop without `.await`): the
//! process is aborted with a message, because no thread can take the CPU back from such a loop
//! and the alternative is to hang forever. (Tasks that stay ready without letting time move are
//! found without the wall clock: `MAX_SPINS`.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Waker;

/// Wall-clock milliseconds without progress after which a drive is ended.
pub(super) const STUCK_AFTER_MS: u64 = 1_000;
/// Further wall-clock milliseconds after which a drive that ignored its trip aborts the process.
pub(super) const ABORT_AFTER_MS: u64 = 10_000;
/// How often the watchdog looks.
const TICK_MS: u64 = 100;

/// One guest runtime as the watchdog sees it.
#[derive(Default)]
pub(super) struct Watch {
    /// Bumped at each sign of progress (a drive begins, the virtual clock moves).
    epoch: AtomicU64,
    /// A drive is under way.
    active: AtomicBool,
    /// Set by the watchdog: how long the drive had made no progress, in ms; 0 if not tripped.
    tripped_ms: AtomicU64,
    /// The drive's waker, to end a drive that waits in the runtime.
    waker: Mutex<Option<Waker>>,
    /// The watchdog's own notes: the epoch it last saw and for how long it stayed.
    seen: AtomicU64,
    stale_ms: AtomicU64,
}

impl Watch {
    /// A new watch, looked after by the process's watchdog thread (started on first use).
    pub(super) fn register() -> Arc<Watch> {
        let watch = Arc::new(Watch::default());
        let registry = REGISTRY.get_or_init(|| {
            start_thread();
            Mutex::new(Vec::new())
        });
        if let Ok(mut list) = registry.lock() {
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&watch));
        }
        watch
    }

    /// A drive begins.
    pub(super) fn begin(&self) {
        self.progress();
        self.tripped_ms.store(0, Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
    }

    /// The guest moved on (its clock advanced or it acted).
    pub(super) fn progress(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The drive ended.
    pub(super) fn end(&self) {
        self.active.store(false, Ordering::Release);
    }

    /// How long the drive had made no progress when the watchdog tripped it, if it did.
    pub(super) fn tripped(&self) -> Option<u64> {
        match self.tripped_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(ms),
        }
    }

    /// The waker to wake if the drive is tripped while it waits.
    pub(super) fn set_waker(&self, w: &Waker) {
        if let Ok(mut slot) = self.waker.lock()
            && !slot.as_ref().is_some_and(|old| old.will_wake(w))
        {
            *slot = Some(w.clone());
        }
    }

    /// One look by the watchdog thread.
    fn look(&self) {
        if !self.active.load(Ordering::Acquire) {
            self.stale_ms.store(0, Ordering::Relaxed);
            return;
        }
        let epoch = self.epoch.load(Ordering::Relaxed);
        if self.seen.swap(epoch, Ordering::Relaxed) != epoch {
            self.stale_ms.store(0, Ordering::Relaxed);
            return;
        }
        let stale = self.stale_ms.fetch_add(TICK_MS, Ordering::Relaxed) + TICK_MS;
        if stale >= STUCK_AFTER_MS && self.tripped_ms.load(Ordering::Relaxed) == 0 {
            self.tripped_ms.store(stale, Ordering::Relaxed);
            if let Ok(slot) = self.waker.lock()
                && let Some(w) = slot.as_ref()
            {
                w.wake_by_ref();
            }
        }
        if stale >= STUCK_AFTER_MS + ABORT_AFTER_MS {
            eprintln!(
                "vss-sim: guest code has run for {stale} ms of wall time without returning to \
                 its runtime (a loop without .await, or a blocking call); nothing can end it \
                 from outside, so the process aborts"
            );
            std::process::abort();
        }
    }
}

static REGISTRY: OnceLock<Mutex<Vec<Weak<Watch>>>> = OnceLock::new();

#[allow(clippy::disallowed_methods)] // determinism-ok: the watchdog thread never touches a run; it only ends one that cannot go on.
fn start_thread() {
    let spawned = std::thread::Builder::new()
        .name("vss-sim-watchdog".into())
        .spawn(|| {
            loop {
                // determinism-ok: the watchdog's own pace, outside every run.
                std::thread::sleep(std::time::Duration::from_millis(TICK_MS));
                let Some(registry) = REGISTRY.get() else {
                    continue;
                };
                let live: Vec<Arc<Watch>> = match registry.lock() {
                    Ok(list) => list.iter().filter_map(Weak::upgrade).collect(),
                    Err(_) => continue,
                };
                for w in live {
                    w.look();
                }
            }
        });
    // Without a watchdog a stuck guest hangs instead of failing; the runs themselves are
    // unaffected, so go on.
    drop(spawned);
}
