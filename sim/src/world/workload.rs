//! The applications writing to the volumes: the hot path. Each workload keeps its next write in
//! a kernel slot (no heap entry per write) and draws one 64-bit word per write. A workload that
//! is a writer's application ([`model::app`]) writes in units and is frozen by its writer.

use model::app::{App, TornUnit};
use model::ids::WriterId;
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
    /// The start of the burst period the last write time fell in (microseconds): a write in
    /// the same period finds its phase by a subtraction, not a division.
    period_start: u64,
    region: Vec<u64>,
    rng: SimRng,
    cursor: u64,
    /// The writer's application this workload is, if it is one.
    pub(super) app: Option<AppRun>,
}

/// A writer's application as the run goes.
pub(super) struct AppRun {
    pub(super) app: App,
    pub(super) writer: WriterId,
    /// Frozen by its writer for this backup session (requester slot, object generation): no
    /// write until that session's Thaw, Abort or BackupShutdown reaches the writer, or the
    /// writer's freeze window ends (rules S5, S6).
    pub(super) frozen: Option<(model::ids::RequesterId, u32)>,
    /// What the last hold caught while the set of that hold is being made: whether the
    /// application was frozen, and the unit it cut if that left it torn.
    pub(super) at_hold: Option<(bool, Option<TornUnit>)>,
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
            period_start: 0,
            region,
            rng: SimRng::fork(seed, &format!("workload:{}", w.name)),
            cursor: 0,
            app: w.app.map(|a| AppRun {
                app: App::new(a.kind, a.data_blocks, w.volumes.len() > 1),
                writer: WriterId::from_index(a.writer),
                frozen: None,
                at_hold: None,
            }),
        }
    }

    /// The volumes it writes to (scenario indices).
    pub(super) fn volumes(&self) -> &[usize] {
        &self.volumes
    }

    /// The first write's time.
    pub(super) fn first_write_time(&mut self) -> Instant {
        let mut x = self.rng.next_u64();
        self.next_write_time(Instant::ZERO, &mut x)
    }

    /// The next write after `from`: the interval with a uniform jitter of ±50 %, skipping a
    /// burst's off period. `x` is the random word to draw from.
    #[inline]
    fn next_write_time(&mut self, from: Instant, x: &mut u64) -> Instant {
        let jitter = self.interval_us / 2 + split(x, self.interval_us + 1);
        let mut t = from.as_us() + jitter.max(1);
        if let Some((on, off)) = self.burst {
            let period = on + off;
            // `t % period`, by a subtraction while `t` stays in the period of the last write
            // (the usual case: an interval is much shorter than a period).
            let phase = match t.checked_sub(self.period_start) {
                Some(p) if p < period => p,
                _ => {
                    let phase = t % period;
                    self.period_start = t - phase;
                    phase
                }
            };
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
        if self.app.is_some() {
            return self.draw_app(now, &mut x);
        }
        let pick = if self.volumes.len() == 1 {
            0
        } else {
            split(&mut x, self.volumes.len() as u64) as usize
        };
        let block = self.pick_block(&mut x, self.region[pick]);
        let next = self.next_write_time(now, &mut x);
        (self.volumes[pick], block, self.write_latency, next)
    }

    /// An application's next write: where its unit goes next (data pages by the pattern).
    #[cold]
    fn draw_app(&mut self, now: Instant, x: &mut u64) -> (usize, u64, Duration, Instant) {
        let mut app = self.app.take().expect("an application");
        let w = app.app.next_write(|n| self.pick_block(x, n));
        self.app = Some(app);
        let next = self.next_write_time(now, x);
        (self.volumes[w.volume], w.block, self.write_latency, next)
    }

    /// A block of `region` by the pattern.
    #[inline]
    fn pick_block(&mut self, x: &mut u64, region: u64) -> u64 {
        match self.pattern {
            Pattern::Uniform => split(x, region),
            Pattern::Sequential => {
                self.cursor = (self.cursor + 1) % region;
                self.cursor
            }
            Pattern::Hotspot => {
                let hot = (region / 10).max(1);
                if split(x, 10) < 9 {
                    split(x, hot)
                } else {
                    split(x, region)
                }
            }
        }
    }

    /// The rest of the unit in progress, written at once: what the application does before
    /// its writer's `OnFreeze` returns. (volume index, block, latency) per write.
    pub(super) fn finish_unit(&mut self) -> Vec<(usize, u64, Duration)> {
        let Some(mut app) = self.app.take() else {
            return Vec::new();
        };
        let n = app.app.rest_of_unit();
        let writes = (0..n)
            .map(|_| {
                let mut x = self.rng.next_u64();
                let w = app.app.next_write(|r| self.pick_block(&mut x, r));
                (self.volumes[w.volume], w.block, self.write_latency)
            })
            .collect();
        self.app = Some(app);
        writes
    }

    /// When the first write after a thaw at `now` is due.
    pub(super) fn write_after(&mut self, now: Instant) -> Instant {
        let mut x = self.rng.next_u64();
        self.next_write_time(now, &mut x)
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
