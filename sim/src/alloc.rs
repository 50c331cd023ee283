//! A counting global allocator for `vss-sim bench`: it wraps [`System`] and, only while the
//! benchmark has switched it on ([`start`] .. [`stop`]), tracks the live heap bytes and their
//! peak. The binary installs it; the library and the tests run on the plain system allocator.
//!
//! When counting is off the whole cost per allocation is one relaxed load of a static flag and
//! nothing shared is written, so the simulator's speed figures are not skewed by it.
//!
//! Live bytes are signed: a block allocated before [`start`] and freed while counting may take
//! the live count below the baseline, which must neither wrap nor panic.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

static ON: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static BASELINE: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting live bytes and their peak while [`start`]ed.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAlloc;

#[inline]
fn to_isize(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

#[inline]
fn grew(n: usize) {
    let n = to_isize(n);
    let live = LIVE.fetch_add(n, Ordering::Relaxed).saturating_add(n);
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[inline]
fn shrank(n: usize) {
    LIVE.fetch_sub(to_isize(n), Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping around it only touches atomics and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on to `System`.
        let p = unsafe { System.alloc(layout) };
        if ON.load(Ordering::Relaxed) && !p.is_null() {
            grew(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if ON.load(Ordering::Relaxed) && !p.is_null() {
            grew(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        if ON.load(Ordering::Relaxed) {
            shrank(layout.size());
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller guarantees
        // `new_size` is valid for it.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if ON.load(Ordering::Relaxed) && !p.is_null() {
            let old = layout.size();
            if new_size >= old {
                grew(new_size - old);
            } else {
                shrank(old - new_size);
            }
        }
        p
    }
}

/// Turns counting on: the baseline and the peak become the current live count.
pub fn start() {
    let live = LIVE.load(Ordering::Relaxed);
    BASELINE.store(live, Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    ON.store(true, Ordering::Relaxed);
}

/// Turns counting off (the figures stay readable).
pub fn stop() {
    ON.store(false, Ordering::Relaxed);
}

/// Whether counting is on.
pub fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Largest live count since [`start`], above the baseline taken there (never negative).
pub fn peak_above_baseline() -> usize {
    let d = PEAK
        .load(Ordering::Relaxed)
        .saturating_sub(BASELINE.load(Ordering::Relaxed));
    usize::try_from(d).unwrap_or(0)
}

/// Live bytes now above the baseline taken at [`start`] (negative when blocks allocated before
/// it were freed since).
pub fn live_above_baseline() -> isize {
    LIVE.load(Ordering::Relaxed)
        .saturating_sub(BASELINE.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit-test binary runs on the system allocator, so this drives a `CountingAlloc`
    /// value by hand; nothing else in this binary touches the counters.
    #[test]
    fn counts_a_one_mib_block_while_on_and_nothing_while_off() {
        const MIB: usize = 1 << 20;
        let a = CountingAlloc;
        let layout = Layout::from_size_align(MIB, 8).unwrap();

        // Off: nothing is counted.
        stop();
        let before = LIVE.load(Ordering::Relaxed);
        // SAFETY: non-zero size layout; freed with the same layout.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            a.dealloc(p, layout);
        }
        assert_eq!(LIVE.load(Ordering::Relaxed), before);

        // On: a 1 MiB block raises the peak by 1 MiB; growing it by realloc adds the difference.
        start();
        assert!(is_on());
        // SAFETY: as above; `realloc` gets the block's current layout.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(live_above_baseline(), MIB as isize);
            let q = a.realloc(p, layout, 2 * MIB);
            assert!(!q.is_null());
            let big = Layout::from_size_align(2 * MIB, 8).unwrap();
            a.dealloc(q, big);
        }
        stop();
        assert!(peak_above_baseline() >= MIB);
        assert_eq!(peak_above_baseline(), 2 * MIB);
        assert_eq!(live_above_baseline(), 0);

        // A block from before `start` freed while on takes live below the baseline: no panic,
        // and the peak above the baseline stays non-negative.
        // SAFETY: as above.
        unsafe {
            let p = a.alloc(layout);
            start();
            a.dealloc(p, layout);
        }
        stop();
        assert_eq!(live_above_baseline(), -(MIB as isize));
        assert_eq!(peak_above_baseline(), 0);
    }
}
