//! The guest runtime's speed: how fast control passes into your code and back.
//!
//! - `guest_handoffs_per_sec`: a user requester doing full backups one after another (component
//!   mode, every shadow copy read back) with a user writer answering the database writer's
//!   events, on the default scenario's volumes with that writer alone (the in-box writers'
//!   events and the workloads' writes are no handoffs and would only dilute the figure). One handoff is one passage into the guest
//!   runtime and back (a call, an answer, a timer wake: `GuestStats::drives`); whole runs are
//!   timed, building the world and its runtime included.
//! - `tokio_paused_timer_events_per_sec`: the floor to compare with, plain tokio: 64 tasks on
//!   one paused current-thread runtime, each sleeping 1 to 20 ms (drawn from a seeded PCG) over
//!   and over; one event per wake-up.
//!
//! The two are timed in alternating slices; `guest_ratio` is the median of the slices' own
//! ratios. Required ≥ 0.25, the goal 0.5.

use std::time::Duration;

use crate::api::{BackupType, Metadata, Registration, Requester, VssError, Writer, WriterCx};
use crate::harness::Simulation;
use crate::kernel::rng::SimRng;
use crate::scenario::{DEFAULT_SCENARIO, Scenario, parse};

/// Required: `guest_handoffs_per_sec / tokio_paused_timer_events_per_sec` at least this.
pub const GUEST_RATIO_BOUND: f64 = 0.25;
/// Backups each guest run makes.
const BACKUPS_PER_RUN: u32 = 20;
/// Tasks of the tokio floor, and the sleeps each makes per round.
const TIMER_TASKS: usize = 64;
const SLEEPS_PER_TASK: usize = 200;

/// What the guest measurements found.
pub(super) struct GuestFigures {
    pub(super) handoffs_per_sec: f64,
    pub(super) timer_events_per_sec: f64,
    pub(super) ratio: f64,
    pub(super) handoffs: u64,
    pub(super) runs: u64,
    pub(super) not_clean: u64,
}

/// A database writer that answers at once and freezes its application.
struct Prompt;

impl Writer for Prompt {
    async fn on_identify(&mut self, md: &mut Metadata) -> bool {
        md.add_component("sales", "SQLSERVER", &["D:\\", "E:\\"]);
        true
    }
    async fn on_prepare_snapshot(&mut self, _: &mut WriterCx) -> bool {
        true
    }
    async fn on_freeze(&mut self, cx: &mut WriterCx) -> bool {
        cx.freeze_application();
        true
    }
    async fn on_thaw(&mut self, cx: &mut WriterCx) -> bool {
        cx.thaw_application();
        true
    }
    async fn on_abort(&mut self, cx: &mut WriterCx) -> bool {
        cx.thaw_application();
        true
    }
}

/// Full component-mode backups of every volume, one after another.
async fn backups(me: Requester) -> Result<(), VssError> {
    for _ in 0..BACKUPS_PER_RUN {
        let mut bc = me.create_backup_components();
        bc.initialize_for_backup().await?;
        bc.set_backup_state(true, false, BackupType::Full, false)
            .await?;
        bc.gather_writer_metadata().await?.finish().await?;
        let mut components = Vec::new();
        for w in bc.writer_metadata() {
            for c in w.components {
                bc.add_component(c.component).await?;
                components.push(c.component);
            }
        }
        bc.start_snapshot_set().await?;
        let mut shadows = Vec::new();
        for v in me.volumes() {
            shadows.push((bc.add_to_snapshot_set(v.id, None).await?, v.id));
        }
        bc.prepare_for_backup().await?.finish().await?;
        bc.do_snapshot_set().await?.finish().await?;
        bc.gather_writer_status().await?.finish().await?;
        for (shadow, volume) in shadows {
            bc.read_shadow(shadow, volume).await?;
        }
        for c in components {
            bc.set_backup_succeeded(c, true).await?;
        }
        bc.backup_complete().await?.finish().await?;
        bc.release().await;
    }
    Ok(())
}

/// The default scenario's machine with only its database writer (which the user's code takes
/// over) and no workload or requester: the in-box writers' events and the workloads' writes
/// are no handoffs, and would only dilute the figure.
fn machine() -> Scenario {
    let mut s = parse("<default scenario>", "default", DEFAULT_SCENARIO)
        .expect("the embedded default scenario parses");
    s.writers.retain(|w| w.name == "SqlServerWriter");
    s.workloads.clear();
    s.requesters.clear();
    s.expect = Default::default();
    s
}

/// Guest runs for at least `secs`: handoffs, runs, unclean runs, seconds.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // The benchmark is the one place that reads the wall clock.
fn guest_loop(machine: &Scenario, secs: f64, first_seed: u64) -> (u64, u64, u64, f64) {
    let t0 = std::time::Instant::now(); // determinism-ok: the benchmark times itself
    let (mut handoffs, mut runs, mut not_clean) = (0, 0, 0);
    while runs == 0 || t0.elapsed().as_secs_f64() < secs {
        let run = Simulation::from_scenario(machine.clone())
            .seed(first_seed + runs)
            .writer(Registration::new("SqlServerWriter"), Prompt)
            .requester("backups", backups)
            .record(false)
            .run();
        match run {
            Ok(out) => {
                handoffs += out.stats.drives;
                if !out.violations.is_empty()
                    || out.result("backups") != Some(model::vss::Hresult::Ok)
                {
                    not_clean += 1;
                }
            }
            Err(_) => not_clean += 1,
        }
        runs += 1;
    }
    (handoffs, runs, not_clean, t0.elapsed().as_secs_f64())
}

/// Plain tokio paused-clock sleeps for at least `secs`: wake-ups and seconds.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // The benchmark is the one place that reads the wall clock.
fn timer_loop(secs: f64, rng: &mut SimRng) -> (u64, f64) {
    let t0 = std::time::Instant::now(); // determinism-ok: the benchmark times itself
    let mut events = 0u64;
    while events == 0 || t0.elapsed().as_secs_f64() < secs {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a paused runtime builds");
        let sleeps: Vec<Vec<u64>> = (0..TIMER_TASKS)
            .map(|_| (0..SLEEPS_PER_TASK).map(|_| 1 + rng.below(20)).collect())
            .collect();
        let done = rt.block_on(async {
            let tasks: Vec<_> = sleeps
                .into_iter()
                .map(|ms| {
                    tokio::spawn(async move {
                        for d in &ms {
                            tokio::time::sleep(Duration::from_millis(*d)).await;
                        }
                        ms.len() as u64
                    })
                })
                .collect();
            let mut n = 0;
            for t in tasks {
                n += t.await.expect("a sleeping task does not fail");
            }
            n
        });
        events += done;
    }
    (events, t0.elapsed().as_secs_f64())
}

/// Both, in `slices` alternating slices of `slice` seconds each side.
pub(super) fn measure(slices: u32, slice: f64) -> GuestFigures {
    let machine = machine();
    let mut rng = SimRng::fork(0, "bench-timers");
    let (mut handoffs, mut runs, mut not_clean, mut guest_secs) = (0, 0, 0, 0.0);
    let (mut timer_events, mut timer_secs) = (0, 0.0);
    let mut ratios = Vec::with_capacity(slices as usize);
    for _ in 0..slices {
        let (h, r, n, s) = guest_loop(&machine, slice, runs);
        let (e, t) = timer_loop(slice, &mut rng);
        ratios.push((h as f64 / s) / (e as f64 / t));
        (handoffs, runs, not_clean, guest_secs) =
            (handoffs + h, runs + r, not_clean + n, guest_secs + s);
        (timer_events, timer_secs) = (timer_events + e, timer_secs + t);
    }
    ratios.sort_by(f64::total_cmp);
    GuestFigures {
        handoffs_per_sec: handoffs as f64 / guest_secs,
        timer_events_per_sec: timer_events as f64 / timer_secs,
        ratio: ratios[ratios.len() / 2],
        handoffs,
        runs,
        not_clean,
    }
}
