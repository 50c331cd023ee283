//! The applications writing to the volumes: the hot path. Each workload keeps its next write in
//! a kernel slot (no heap entry per write) and draws one 64-bit word per write.

use model::time::{Duration, Instant};
use model::volume::store::ShadowStore;

use super::{World, vid};
use crate::kernel::rng::SimRng;
use crate::scenario::{Pattern, WorkloadSpec};

/// One application's write stream.
pub(super) struct Workload {
    volumes: Vec<usize>,
    pattern: Pattern,
    interval_us: u64,
    write_latency: Duration,
    burst: Option<(u64, u64)>,
    region: Vec<u64>,
    rng: SimRng,
    cursor: u64,
}

/// A uniform integer in `0..n` split off the random word `x` (Lemire's multiply-shift); the
/// low half of the product becomes the next word to draw from.
#[inline]
fn split(x: &mut u64, n: u64) -> u64 {
    let m = u128::from(*x) * u128::from(n);
    *x = m as u64;
    (m >> 64) as u64
}

impl Workload {
    pub(super) fn new(w: &WorkloadSpec, store: &ShadowStore, seed: u64) -> Workload {
        let region = w
            .volumes
            .iter()
            .map(|&v| {
                let n = store.volume(vid(v)).n_blocks();
                w.blocks.map(|b| b.min(n)).unwrap_or(n)
            })
            .collect();
        Workload {
            volumes: w.volumes.clone(),
            pattern: w.pattern,
            interval_us: (1_000_000 / w.rate).max(1),
            write_latency: w.write_latency,
            burst: w.burst.map(|(on, off)| (on.as_us(), off.as_us())),
            region,
            rng: SimRng::fork(seed, &format!("workload:{}", w.name)),
            cursor: 0,
        }
    }

    /// The first write's time.
    pub(super) fn first_write_time(&mut self) -> Instant {
        let mut x = self.rng.next_u64();
        self.next_write_time(Instant::ZERO, &mut x)
    }

    /// The next write after `from`: the interval with a uniform jitter of ±50 %, skipping a
    /// burst's off period. `x` is the random word to draw from.
    #[inline]
    fn next_write_time(&self, from: Instant, x: &mut u64) -> Instant {
        let jitter = self.interval_us / 2 + split(x, self.interval_us + 1);
        let mut t = from.as_us() + jitter.max(1);
        if let Some((on, off)) = self.burst {
            let period = on + off;
            let phase = t % period;
            if phase >= on {
                t += period - phase;
            }
        }
        Instant::from_us(t)
    }

    /// The next write: (volume index, block, latency), and when the one after it is due.
    #[inline]
    fn draw(&mut self, now: Instant) -> (usize, u64, Duration, Instant) {
        // One 64-bit draw per write: the volume, the block and the next interval are split off
        // it by successive multiply-shifts.
        let mut x = self.rng.next_u64();
        let pick = if self.volumes.len() == 1 {
            0
        } else {
            split(&mut x, self.volumes.len() as u64) as usize
        };
        let region = self.region[pick];
        let block = match self.pattern {
            Pattern::Uniform => split(&mut x, region),
            Pattern::Sequential => {
                self.cursor = (self.cursor + 1) % region;
                self.cursor
            }
            Pattern::Hotspot => {
                let hot = (region / 10).max(1);
                if split(&mut x, 10) < 9 {
                    split(&mut x, hot)
                } else {
                    split(&mut x, region)
                }
            }
        };
        let next = self.next_write_time(now, &mut x);
        (self.volumes[pick], block, self.write_latency, next)
    }
}

impl World {
    /// Workload `w`'s write is due.
    #[inline]
    pub(super) fn on_write(&mut self, w: usize) {
        if !self.running {
            return;
        }
        let now = self.kernel.now();
        let (v, block, latency, next) = self.workloads[w].draw(now);
        self.store
            .write(now, vid(v), block, latency, &mut self.notes);
        self.store_notes();
        self.sample(vid(v));
        self.kernel.arm_slot(w, next);
    }
}
