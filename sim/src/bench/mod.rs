//! `vss-sim bench`: the simulator's speed and memory, measured in one process (well under 60 s
//! on 2 cores).
//!
//! - `events_per_sec`: whole runs of the default scenario, trace off, every invariant checked,
//!   seeds 0, 1, 2, … as a fuzz campaign runs them, until at least 1 s of wall time; events are
//!   the sum of [`World::steps`]. `traced_events_per_sec`: the same with the trace streamed into
//!   its SHA-256 digest (no bytes kept, no timeline). `backups_per_sec`: runs per second of the
//!   trace-off loop.
//! - `heap_events_per_sec`: the floor to compare with, a bare
//!   `BinaryHeap<Reverse<(u64, u64, u64)>>` popping one entry and pushing one, holding as many
//!   live entries as the default run's queue does on average, over the same number of events
//!   (repeated until at least 1 s). The two are timed in nine alternating slices; `ratio` is
//!   the median over the slices of the slice's `events_per_sec / heap_events_per_sec` (a noisy
//!   neighbour disturbs one slice, not the median); bound ≥ 0.5.
//! - `bytes_1tib_1m_writes`: peak live heap bytes (counted by [`crate::alloc::CountingAlloc`],
//!   which the binary installs) of a 1 TiB volume of 4 KiB blocks with one shadow and an
//!   unbounded diff area after 1 000 000 uniformly random writes, verification included; bound
//!   ≤ 64 MiB.
//!
//! - `bytes_1tib_1m_cow` (informational, no bound): the same volume written with 1 000 000
//!   random writes, then a shadow, then the same writes again, so each one copies the old block
//!   into the diff area; the peak counts the diff area's block map too.
//!
//! - `fuzz_cases_per_sec`, `fuzz_events_per_sec`, `fuzz_events_per_case`: `vss-sim fuzz`'s
//!   default swarm on one core, in batches of 256 cases, until at least 1 s; `fuzz_ratio` =
//!   `fuzz_events_per_sec / events_per_sec`, bound ≥ 0.5; `fuzz_scaling_2_jobs`: the same
//!   batches on 2 workers, cases/s ÷ the 1-worker figure.
//!
//! - `guest_handoffs_per_sec`, `tokio_paused_timer_events_per_sec`, `guest_ratio`: how fast
//!   control passes into your own code and back, against plain tokio timers (`guest.rs`);
//!   bound `guest_ratio` ≥ 0.25.
//! - `serve_round_trip_us_p50`, `_p99`: `vss-sim serve`'s round trip for a cheap call over its
//!   Unix socket, against a bare line echo on a socket pair (`serve.rs`); bound p50 ≤ 100 µs.
//!
//! The benchmark is the one place in the project that reads the wall clock
//! (`std::time::Instant`); nothing here feeds back into a simulated run.

mod guest;
mod serve;

pub use guest::GUEST_RATIO_BOUND;
pub use serve::SERVE_P50_BOUND_US;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::process::ExitCode;

use model::volume::{Protection, ShadowKey, Volume};
use serde::Serialize;

use crate::kernel::rng::SimRng;
use crate::scenario::{DEFAULT_SCENARIO, Scenario, parse};
use crate::trace::Trace;
use crate::world::World;

/// Required: `events_per_sec / heap_events_per_sec` at least this.
pub const RATIO_BOUND: f64 = 0.5;
/// Required: `fuzz_events_per_sec / events_per_sec` at least this (a search costs at most
/// twice the bare simulation per event).
pub const FUZZ_RATIO_BOUND: f64 = 0.5;
/// Cases of one fault-search batch.
const FUZZ_BATCH: u64 = 256;
/// Required: peak heap of the 1 TiB volume, 1 M writes with and without copy-on-write, at most
/// this (64 MiB).
pub const BYTES_BOUND: u64 = 64 << 20;
/// Required: one run with 256 persistent shadows takes at most this many times one with 64.
pub const SHADOWS_BOUND: f64 = 8.0;
/// Required: one run with 256 writers takes at most this many times one with 64.
pub const WRITERS_BOUND: f64 = 4.5;
/// Each scaling run is timed this many times; the fastest counts.
const SCALING_REPEATS: u32 = 5;
/// Minimum wall time of each timed loop, in seconds.
const MIN_SECS: f64 = 1.0;
/// The simulator and the bare heap are timed in alternating slices, so that a noisy moment of
/// a shared machine weighs on both sides of the ratio alike; the ratio is the median of the
/// slices' own ratios, so one disturbed slice does not move it.
const SLICES: u32 = 9;
/// The memory case: 1 TiB of 4 KiB blocks.
const TIB_BLOCK_SIZE: u32 = 4096;
const TIB_BLOCKS: u64 = (1u64 << 40) / TIB_BLOCK_SIZE as u64;
const TIB_WRITES: u64 = 1_000_000;

/// The `bench --json` object.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Events per second of whole default runs, trace off, invariants on.
    pub events_per_sec: f64,
    /// The same with the trace digested (JSONL streamed into SHA-256, nothing kept).
    pub traced_events_per_sec: f64,
    /// Whole default-scenario runs (backups) per second, trace off.
    pub backups_per_sec: f64,
    /// Pop-one-push-one events per second of a bare binary heap of `heap_entries` entries.
    pub heap_events_per_sec: f64,
    /// `events_per_sec / heap_events_per_sec`: the median over nine alternating slices of the
    /// slice's own ratio.
    pub ratio: f64,
    /// Peak heap bytes of the 1 TiB volume after 1 000 000 random writes, one shadow.
    pub bytes_1tib_1m_writes: u64,
    /// Wall time of the shadows run with 256 shadows ÷ the same run with 64.
    pub shadows_256_over_64: f64,
    /// Wall time of the writers run with 256 writers ÷ the same run with 64.
    pub writers_256_over_64: f64,
    /// Wall seconds of the shadows runs (64, 256).
    pub shadows_run_seconds: [f64; 2],
    /// Wall seconds of the writers runs (64, 256).
    pub writers_run_seconds: [f64; 2],
    /// Average live entries in the default run's event queue.
    pub avg_queue_len: f64,
    /// Entries the heap loop holds: `avg_queue_len` rounded, at least 1.
    pub heap_entries: usize,
    /// Events counted by the trace-off loop.
    pub events_measured: u64,
    /// Runs of the trace-off loop.
    pub runs: u64,
    /// Wall seconds of the trace-off loop.
    pub seconds: f64,
    /// Events counted by the traced loop.
    pub traced_events_measured: u64,
    /// Runs of the traced loop.
    pub traced_runs: u64,
    /// Runs (either loop) that did not end with every requester finished and no violation.
    pub runs_not_clean: u64,
    /// Heap events timed (a whole multiple of `events_measured`).
    pub heap_events_measured: u64,
    /// What the volume itself accounts for (`Volume::heap_bytes`) after the writes.
    pub volume_heap_bytes: u64,
    /// Informational, no bound: the same volume written first (1 000 000 random writes), then a
    /// shadow, then the same blocks written again, so every write copies into the diff area;
    /// peak heap bytes.
    pub bytes_1tib_1m_cow: u64,
    /// Fault-search cases per second on one core: the default swarm, every oracle on, case
    /// generation included (`vss-sim fuzz --jobs 1`).
    pub fuzz_cases_per_sec: f64,
    /// Events per second of those cases.
    pub fuzz_events_per_sec: f64,
    /// `fuzz_events_per_sec / events_per_sec`: what a search costs per event over the bare
    /// simulation; bound ≥ 0.5.
    pub fuzz_ratio: f64,
    /// Cases per second with 2 jobs ÷ with 1, the same cases.
    pub fuzz_scaling_2_jobs: f64,
    /// Mean events per fault-search case.
    pub fuzz_events_per_case: f64,
    /// Passages into the guest runtime and back per second: a user requester making full
    /// backups with a user writer (see `bench/guest.rs`).
    pub guest_handoffs_per_sec: f64,
    /// Plain tokio paused-clock sleep wake-ups per second on one current-thread runtime.
    pub tokio_paused_timer_events_per_sec: f64,
    /// `guest_handoffs_per_sec / tokio_paused_timer_events_per_sec`, the median over
    /// alternating slices; bound ≥ 0.25, goal 0.5.
    pub guest_ratio: f64,
    /// Handoffs counted, and guest runs (each of 20 backups).
    pub guest_handoffs_measured: u64,
    /// Guest runs timed.
    pub guest_runs: u64,
    /// Bound on `guest_ratio`.
    pub guest_ratio_bound: f64,
    /// `vss-sim serve`: the median microseconds of a cheap call (`now`) and its reply over the
    /// Unix socket, a client on the same machine calling in a loop (see `bench/serve.rs`).
    pub serve_round_trip_us_p50: f64,
    /// The 99th percentile of the same.
    pub serve_round_trip_us_p99: f64,
    /// The floor measured in the same run: a bare thread echoing the same line over a Unix
    /// socket pair, median microseconds.
    pub unix_echo_round_trip_us_p50: f64,
    /// `serve_round_trip_us_p50 / unix_echo_round_trip_us_p50`.
    pub serve_over_echo: f64,
    /// Round trips timed.
    pub serve_round_trips: u64,
    /// Bound on `serve_round_trip_us_p50`, microseconds.
    pub serve_p50_bound_us: f64,
    /// The ratio bound.
    pub ratio_bound: f64,
    /// The memory bound.
    pub bytes_bound: u64,
    /// Bound on `shadows_256_over_64`.
    pub shadows_bound: f64,
    /// Bound on `writers_256_over_64`.
    pub writers_bound: f64,
    /// Every bound met: the ratio, both peak heaps, both scaling ratios.
    pub bounds_met: bool,
}

/// What one simulation loop measured.
#[derive(Default)]
struct LoopFigures {
    events: u64,
    runs: u64,
    secs: f64,
    not_clean: u64,
}

impl LoopFigures {
    fn add(&mut self, o: LoopFigures) {
        self.events += o.events;
        self.runs += o.runs;
        self.secs += o.secs;
        self.not_clean += o.not_clean;
    }
}

/// Repeats whole default runs (seeds `first_seed`, +1, +2, …) until `budget` seconds of wall
/// time have passed.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // The benchmark is the one place that reads the wall clock.
fn sim_loop(scenario: &Scenario, traced: bool, budget: f64, first_seed: u64) -> LoopFigures {
    let mut f = LoopFigures::default();
    let t0 = std::time::Instant::now(); // determinism-ok: the benchmark times itself
    loop {
        let trace = if traced {
            Trace::on(false, false)
        } else {
            Trace::off()
        };
        let mut world = World::new(scenario, first_seed + f.runs, trace);
        let end = world.run();
        if traced {
            black_box(world.rec.trace.finish());
        }
        if end != crate::world::EndReason::Finished || !world.violations().is_empty() {
            f.not_clean += 1;
        }
        f.events += world.steps();
        f.runs += 1;
        drop(black_box(world));
        let secs = t0.elapsed().as_secs_f64();
        if secs >= budget {
            f.secs = secs;
            return f;
        }
    }
}

/// Pops one entry and pushes one `n` times: the push is at the popped time plus a small
/// pseudo-random delta (inline xorshift), with the next insertion sequence.
#[inline(never)]
fn heap_round(heap: &mut BinaryHeap<Reverse<(u64, u64, u64)>>, n: u64, seq: &mut u64, x: &mut u64) {
    for _ in 0..n {
        let Reverse((t, _, p)) = heap.pop().expect("the heap is never empty");
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        let delta = 1 + (*x & 1023);
        heap.push(Reverse((t + delta, *seq, black_box(p))));
        *seq += 1;
    }
}

/// The bare heap of the floor loop.
struct HeapFloor {
    heap: BinaryHeap<Reverse<(u64, u64, u64)>>,
    seq: u64,
    x: u64,
    done: u64,
    secs: f64,
}

impl HeapFloor {
    /// `entries` live entries.
    fn new(entries: usize) -> HeapFloor {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut heap = BinaryHeap::with_capacity(entries + 1);
        let mut seq = 0u64;
        for i in 0..entries as u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            heap.push(Reverse((x & 1023, seq, i)));
            seq += 1;
        }
        HeapFloor {
            heap,
            seq,
            x,
            done: 0,
            secs: 0.0,
        }
    }

    /// Rounds of `events` pop-push pairs until `budget` seconds have passed.
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)] // The benchmark is the one place that reads the wall clock.
    fn run_for(&mut self, events: u64, budget: f64) {
        let events = events.max(1);
        let t0 = std::time::Instant::now(); // determinism-ok: the benchmark times itself
        loop {
            heap_round(
                black_box(&mut self.heap),
                events,
                &mut self.seq,
                &mut self.x,
            );
            self.done += events;
            let secs = t0.elapsed().as_secs_f64();
            if secs >= budget {
                black_box(&self.heap);
                self.secs += secs;
                return;
            }
        }
    }
}

/// Fault-search batches (seeds 0, 1, …) on `jobs` workers until `budget` seconds have
/// passed, or exactly `batches` of them: (cases, events, seconds, batches run).
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // The benchmark is the one place that reads the wall clock.
fn fuzz_loop(jobs: usize, budget: f64, batches: Option<u64>) -> (u64, u64, f64, u64) {
    let t0 = std::time::Instant::now(); // determinism-ok: the benchmark times itself
    let (mut cases, mut events, mut n) = (0, 0, 0);
    loop {
        let o = crate::fuzz::Options {
            cases: FUZZ_BATCH,
            seed: n,
            flaw: None,
            jobs,
            shard: (1, 1),
            out: std::path::PathBuf::new(),
        };
        let t = crate::fuzz::run_cases(&o, |_| {});
        cases += t.cases;
        events += t.events;
        n += 1;
        let secs = t0.elapsed().as_secs_f64();
        if batches.map_or(secs >= budget, |b| n >= b) {
            return (cases, events, secs, n);
        }
    }
}

/// The copy-on-write memory case (informational): 1 000 000 random writes, a shadow, then the
/// same writes again, each copying the old block into the diff area; verified. Peak bytes.
fn memory_case_cow() -> u64 {
    let key = ShadowKey(0);
    crate::alloc::start();
    let mut vol = Volume::new(TIB_BLOCKS, TIB_BLOCK_SIZE, None, Protection::OriginalVolume);
    let mut rng = SimRng::fork(0, "bench-1tib");
    for seq in 1..=TIB_WRITES {
        vol.write(rng.below(TIB_BLOCKS), seq);
    }
    vol.create_shadow(key, TIB_WRITES);
    let mut rng = SimRng::fork(0, "bench-1tib");
    for seq in TIB_WRITES + 1..=2 * TIB_WRITES {
        vol.write(rng.below(TIB_BLOCKS), seq);
    }
    // The shadow still reads the first round: every block holds a sequence of that round.
    let written = vol.written_blocks_sorted();
    for &b in &written {
        let s = vol.read_shadow(key, b).expect("written before the shadow");
        assert!(s <= TIB_WRITES, "shadow of block {b} holds a later write");
    }
    assert!(
        vol.diff_area_used_bytes() > 0,
        "the second round copied on write"
    );
    drop(written);
    black_box(&vol);
    drop(vol);
    crate::alloc::stop();
    crate::alloc::peak_above_baseline() as u64
}

/// The memory case. Returns (peak bytes above the baseline, `Volume::heap_bytes`).
fn memory_case() -> (u64, u64) {
    let key = ShadowKey(0);
    crate::alloc::start();
    let mut vol = Volume::new(TIB_BLOCKS, TIB_BLOCK_SIZE, None, Protection::OriginalVolume);
    vol.create_shadow(key, 0);
    let mut rng = SimRng::fork(0, "bench-1tib");
    for seq in 1..=TIB_WRITES {
        vol.write(rng.below(TIB_BLOCKS), seq);
    }
    // Verification, inside the measured window. The shadow is older than every write, so it
    // reads every written block as never written.
    assert!(vol.has_shadow(key), "the shadow survived the writes");
    let written = vol.written_blocks_sorted();
    for &b in &written {
        assert_eq!(vol.read_shadow(key, b), None, "shadow of block {b}");
    }
    drop(written);
    // The live volume holds each block's last write, checked by replaying the writes with no
    // per-block table: every write's block holds it or a later one, and exactly one write per
    // written block is the one it holds (sequences are unique).
    let mut rng = SimRng::fork(0, "bench-1tib");
    let mut holders = 0u64;
    for seq in 1..=TIB_WRITES {
        let b = rng.below(TIB_BLOCKS);
        let live = vol.read_live(b).expect("a written block reads back");
        assert!(live >= seq, "block {b} lost write {seq}");
        holders += u64::from(live == seq);
    }
    assert_eq!(
        holders,
        vol.n_written_blocks(),
        "live content is each block's last write"
    );
    let accounted = vol.heap_bytes() as u64;
    black_box(&vol);
    drop(vol);
    crate::alloc::stop();
    (crate::alloc::peak_above_baseline() as u64, accounted)
}

/// The shadows run: one 4 GiB volume; `n` requesters, one a virtual second, each making one
/// persistent shadow (`VSS_CTX_NAS_ROLLBACK`); an application writing 1 000 uniformly random
/// blocks a second over 20 000 blocks, for `n` seconds.
fn shadows_scenario(n: u32) -> Scenario {
    let mut src = String::from(
        "name = \"bench-shadows\"\n[run]\nmax_virtual_time = \"2h\"\n\
         [[volume]]\nname = \"F:\"\nsize = \"4GiB\"\n\
         [[workload]]\nname = \"app\"\nvolumes = [\"F:\"]\nrate = 1000\n\
         pattern = \"uniform\"\nblocks = 20000\n",
    );
    for i in 0..n {
        src.push_str(&format!(
            "[[requester]]\nname = \"nas{i}\"\ncontext = \"VSS_CTX_NAS_ROLLBACK\"\n\
             volumes = [\"F:\"]\nstart = \"{i}s\"\n"
        ));
    }
    parse("<bench shadows>", "bench-shadows", &src).expect("the shadows run parses")
}

/// The writers run: the default machine with `n` identical writers, each with one component on
/// `C:`.
fn writers_scenario(n: u32) -> Scenario {
    let default = DEFAULT_SCENARIO;
    // The default's volumes, workloads and requester; its writers replaced.
    let mut src = String::from("name = \"bench-writers\"\n");
    for section in default.split("\n[").skip(1) {
        let section = format!("[{section}");
        if section.starts_with("[[volume]]")
            || section.starts_with("[[workload]]")
            || section.starts_with("[[requester]]")
        {
            src.push_str(&section);
            src.push('\n');
        }
    }
    for i in 0..n {
        src.push_str(&format!(
            "[[writer]]\nname = \"Writer {i}\"\n[[writer.component]]\nname = \"data\"\n\
             volumes = [\"C:\"]\n"
        ));
    }
    parse("<bench writers>", "bench-writers", &src).expect("the writers run parses")
}

/// Wall seconds of one whole run of `scenario`, trace off: runs are repeated in batches of at
/// least 50 ms (a run of a few hundred microseconds is too short to time alone); the fastest
/// batch's time per run counts.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // The benchmark is the one place that reads the wall clock.
fn scaling_run(scenario: &Scenario) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..SCALING_REPEATS {
        let t0 = std::time::Instant::now(); // determinism-ok: the benchmark times itself
        let mut runs = 0u32;
        loop {
            let mut world = World::new(scenario, scenario.seed, Trace::off());
            let end = world.run();
            assert_eq!(
                end,
                crate::world::EndReason::Finished,
                "the scaling run {} finishes",
                scenario.name
            );
            black_box(&world);
            runs += 1;
            let secs = t0.elapsed().as_secs_f64();
            if secs >= 0.05 {
                best = best.min(secs / f64::from(runs));
                break;
            }
        }
    }
    best
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Runs every measurement.
pub fn measure() -> BenchReport {
    let scenario = parse("<default scenario>", "default", DEFAULT_SCENARIO)
        .expect("the embedded default scenario parses");
    // The queue length the heap floor mirrors: one default run.
    let avg_queue_len = {
        let mut w = World::new(&scenario, scenario.seed, Trace::off());
        w.run();
        w.average_queue_len()
    };
    let heap_entries = (avg_queue_len.round() as usize).max(1);

    // Alternate slices of the simulator and of the heap floor, each side at least MIN_SECS in
    // all; the heap repeats rounds of as many events as the simulator's slice dispatched.
    let slice = MIN_SECS / SLICES as f64;
    let mut plain = LoopFigures::default();
    let mut floor = HeapFloor::new(heap_entries);
    let mut slice_ratios = Vec::with_capacity(SLICES as usize);
    for _ in 0..SLICES {
        let f = sim_loop(&scenario, false, slice, plain.runs);
        let events = f.events;
        let sim_eps = f.events as f64 / f.secs;
        plain.add(f);
        let (done, secs) = (floor.done, floor.secs);
        floor.run_for(events, slice);
        let heap_eps = (floor.done - done) as f64 / (floor.secs - secs);
        slice_ratios.push(sim_eps / heap_eps);
    }
    slice_ratios.sort_by(f64::total_cmp);
    let traced = sim_loop(&scenario, true, MIN_SECS, 0);
    let heap_eps = floor.done as f64 / floor.secs;
    let heap_events_measured = floor.done;
    let (bytes, volume_heap_bytes) = memory_case();
    let bytes_1tib_1m_cow = memory_case_cow();
    let shadows = [64, 256].map(|n| scaling_run(&shadows_scenario(n)));
    let writers = [64, 256].map(|n| scaling_run(&writers_scenario(n)));
    let shadows_256_over_64 = shadows[1] / shadows[0];
    let writers_256_over_64 = writers[1] / writers[0];

    let guest = guest::measure(5, MIN_SECS / 5.0);
    let served = serve::measure();
    let (fuzz_cases, fuzz_events, fuzz_secs, batches) = fuzz_loop(1, MIN_SECS, None);
    let (_, _, fuzz_secs_2, _) = fuzz_loop(2, 0.0, Some(batches));
    let fuzz_cases_per_sec = fuzz_cases as f64 / fuzz_secs;
    let fuzz_events_per_sec = fuzz_events as f64 / fuzz_secs;

    let events_per_sec = plain.events as f64 / plain.secs;
    let fuzz_ratio = fuzz_events_per_sec / events_per_sec;
    let traced_events_per_sec = traced.events as f64 / traced.secs;
    let backups_per_sec = plain.runs as f64 / plain.secs;
    let ratio = slice_ratios[slice_ratios.len() / 2];
    BenchReport {
        events_per_sec: round1(events_per_sec),
        traced_events_per_sec: round1(traced_events_per_sec),
        backups_per_sec: round1(backups_per_sec),
        heap_events_per_sec: round1(heap_eps),
        ratio: (ratio * 10_000.0).round() / 10_000.0,
        bytes_1tib_1m_writes: bytes,
        shadows_256_over_64: (shadows_256_over_64 * 1000.0).round() / 1000.0,
        writers_256_over_64: (writers_256_over_64 * 1000.0).round() / 1000.0,
        shadows_run_seconds: shadows.map(|x| (x * 10_000.0).round() / 10_000.0),
        writers_run_seconds: writers.map(|x| (x * 10_000.0).round() / 10_000.0),
        avg_queue_len: (avg_queue_len * 100.0).round() / 100.0,
        heap_entries,
        events_measured: plain.events,
        runs: plain.runs,
        seconds: (plain.secs * 1000.0).round() / 1000.0,
        traced_events_measured: traced.events,
        traced_runs: traced.runs,
        runs_not_clean: plain.not_clean + traced.not_clean + guest.not_clean,
        heap_events_measured,
        volume_heap_bytes,
        bytes_1tib_1m_cow,
        fuzz_cases_per_sec: round1(fuzz_cases_per_sec),
        fuzz_events_per_sec: round1(fuzz_events_per_sec),
        fuzz_ratio: (fuzz_ratio * 10_000.0).round() / 10_000.0,
        fuzz_scaling_2_jobs: (fuzz_secs / fuzz_secs_2 * 1000.0).round() / 1000.0,
        fuzz_events_per_case: round1(fuzz_events as f64 / fuzz_cases.max(1) as f64),
        guest_handoffs_per_sec: round1(guest.handoffs_per_sec),
        tokio_paused_timer_events_per_sec: round1(guest.timer_events_per_sec),
        guest_ratio: (guest.ratio * 10_000.0).round() / 10_000.0,
        guest_handoffs_measured: guest.handoffs,
        guest_runs: guest.runs,
        guest_ratio_bound: GUEST_RATIO_BOUND,
        serve_round_trip_us_p50: served.p50_us,
        serve_round_trip_us_p99: served.p99_us,
        unix_echo_round_trip_us_p50: served.echo_p50_us,
        serve_over_echo: (served.p50_us / served.echo_p50_us.max(0.1) * 100.0).round() / 100.0,
        serve_round_trips: served.round_trips,
        serve_p50_bound_us: SERVE_P50_BOUND_US,
        ratio_bound: RATIO_BOUND,
        bytes_bound: BYTES_BOUND,
        shadows_bound: SHADOWS_BOUND,
        writers_bound: WRITERS_BOUND,
        bounds_met: ratio >= RATIO_BOUND
            && fuzz_ratio >= FUZZ_RATIO_BOUND
            && bytes <= BYTES_BOUND
            && bytes_1tib_1m_cow <= BYTES_BOUND
            && shadows_256_over_64 <= SHADOWS_BOUND
            && writers_256_over_64 <= WRITERS_BOUND
            && guest.ratio >= GUEST_RATIO_BOUND
            && served.p50_us <= SERVE_P50_BOUND_US,
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT MET" }
}

/// The readable table.
pub fn table(r: &BenchReport) -> String {
    let ratio_ok = r.ratio >= RATIO_BOUND;
    let bytes_ok = r.bytes_1tib_1m_writes <= BYTES_BOUND;
    let mut s = String::new();
    s.push_str("vss-sim bench\n");
    s.push_str(&format!(
        "  events/s, trace off        {:>14.0}   ({} events, {} runs in {:.3} s)\n",
        r.events_per_sec, r.events_measured, r.runs, r.seconds
    ));
    s.push_str(&format!(
        "  events/s, trace digested   {:>14.0}   ({} events, {} runs)\n",
        r.traced_events_per_sec, r.traced_events_measured, r.traced_runs
    ));
    s.push_str(&format!(
        "  backups/s (default run)    {:>14.1}\n",
        r.backups_per_sec
    ));
    s.push_str(&format!(
        "  bare heap events/s         {:>14.0}   ({} live entries = average queue {:.2}; {} events)\n",
        r.heap_events_per_sec, r.heap_entries, r.avg_queue_len, r.heap_events_measured
    ));
    s.push_str(&format!(
        "  1 TiB, 1M writes, 1 shadow {:>14} bytes peak heap (volume accounts {} bytes)\n",
        r.bytes_1tib_1m_writes, r.volume_heap_bytes
    ));
    s.push_str(&format!(
        "  1 TiB, 1M + 1M writes, COW {:>13} bytes peak heap (every write copies)\n",
        r.bytes_1tib_1m_cow
    ));
    s.push_str(&format!(
        "fault search (default swarm, 1 core): {:.0} cases/s, {:.0} events/s, {:.0} events per \
         case; 2 jobs / 1 job = {:.3}\n",
        r.fuzz_cases_per_sec, r.fuzz_events_per_sec, r.fuzz_events_per_case, r.fuzz_scaling_2_jobs
    ));
    s.push_str(&format!(
        "guest runtime: {:.0} handoffs/s ({} in {} runs of 20 backups); plain tokio paused \
         timers {:.0} wake-ups/s\n",
        r.guest_handoffs_per_sec,
        r.guest_handoffs_measured,
        r.guest_runs,
        r.tokio_paused_timer_events_per_sec
    ));
    if r.runs_not_clean > 0 {
        s.push_str(&format!(
            "  warning: {} run(s) did not finish cleanly (end reason or violations)\n",
            r.runs_not_clean
        ));
    }
    s.push_str("bounds:\n");
    s.push_str(&format!(
        "  events/s / heap events/s = {:.4}  (required >= {RATIO_BOUND})  {}\n",
        r.ratio,
        met(ratio_ok)
    ));
    s.push_str(&format!(
        "  peak heap {} bytes  (required <= {BYTES_BOUND})  {}\n",
        r.bytes_1tib_1m_writes,
        met(bytes_ok)
    ));
    s.push_str(&format!(
        "  peak heap, every write copies {} bytes  (required <= {BYTES_BOUND})  {}\n",
        r.bytes_1tib_1m_cow,
        met(r.bytes_1tib_1m_cow <= BYTES_BOUND)
    ));
    s.push_str(&format!(
        "  256 / 64 persistent shadows = {:.3}  ({:.4} s / {:.4} s; required <= {SHADOWS_BOUND})  {}\n",
        r.shadows_256_over_64,
        r.shadows_run_seconds[1],
        r.shadows_run_seconds[0],
        met(r.shadows_256_over_64 <= SHADOWS_BOUND)
    ));
    s.push_str(&format!(
        "  256 / 64 writers = {:.3}  ({:.4} s / {:.4} s; required <= {WRITERS_BOUND})  {}\n",
        r.writers_256_over_64,
        r.writers_run_seconds[1],
        r.writers_run_seconds[0],
        met(r.writers_256_over_64 <= WRITERS_BOUND)
    ));
    s.push_str(&format!(
        "  fuzz events/s / events/s = {:.4}  (required >= {FUZZ_RATIO_BOUND})  {}\n",
        r.fuzz_ratio,
        met(r.fuzz_ratio >= FUZZ_RATIO_BOUND)
    ));
    s.push_str(&format!(
        "  guest handoffs/s / tokio timer events/s = {:.4}  (required >= {GUEST_RATIO_BOUND}, \
         goal 0.5)  {}\n",
        r.guest_ratio,
        met(r.guest_ratio >= GUEST_RATIO_BOUND)
    ));
    s.push_str(&format!(
        "  serve round trip p50 = {} us, p99 = {} us (bare echo p50 {} us, x{})  (required p50 \
         <= {SERVE_P50_BOUND_US} us)  {}\n",
        r.serve_round_trip_us_p50,
        r.serve_round_trip_us_p99,
        r.unix_echo_round_trip_us_p50,
        r.serve_over_echo,
        met(r.serve_round_trip_us_p50 <= SERVE_P50_BOUND_US)
    ));
    s.push_str(if r.bounds_met {
        "all bounds met\n"
    } else {
        "bounds NOT met\n"
    });
    s
}

/// Runs the benchmark; prints one JSON object (`json`) or the table. Exit 0 when every bound
/// is met, 1 otherwise; output errors as [`crate::out`] says (a closed pipe keeps 0 or 1,
/// another write error is 2).
pub fn main(json: bool) -> ExitCode {
    let r = measure();
    let text = if json {
        let mut s = serde_json::to_string(&r).expect("the report always serialises");
        s.push('\n');
        s
    } else {
        table(&r)
    };
    if let Err(failed) = crate::out::stdout("bench", text.as_bytes()) {
        return failed;
    }
    if r.bounds_met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
