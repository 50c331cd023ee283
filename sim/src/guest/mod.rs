//! The guest runtime: your own async Rust (a requester, writers) running inside a simulation,
//! on the simulation's clock.
//!
//! User code runs on one tokio current-thread runtime per world, built with a paused clock,
//! inside a [`tokio::task::LocalSet`]. The world's loop stays the master of time: before it
//! dispatches an event at virtual time `t` it lets the guest run up to `t` (`Host::drive`).
//! While the guest has nothing ready, tokio's paused clock jumps to the guest's next timer (a
//! `sleep`, a `timeout`, an `interval` tick), never past a fence at `t`; whatever the guest does
//! at that instant — an API call, a writer's answer, a shadow read — goes back to the world as an
//! event at that virtual time, and the guest waits for the world again.
//!
//! The contract for guest code (README, "Your own code inside"):
//! - tokio timers are millisecond-grained: the guest sees the simulation's time rounded down to
//!   the millisecond, and whatever it does happens at the simulation's own time (never before
//!   the event it reacts to);
//! - a task that calls `yield_now` lets the world go on first: its wake is served the next
//!   time the runtime waits, at the same virtual time or later, never lost;
//! - `tokio::select!` with `biased;` (an unbiased select draws its branch order from an
//!   unseeded RNG); `tokio::task::spawn_local`, never OS threads or `spawn_blocking`; no wall
//!   clock (`std::time::Instant`), no real I/O;
//! - a guest whose tasks stay ready through [`MAX_SPINS`] polls at one virtual instant (a
//!   loop of `yield_now`) ends the run with [`GuestError::Stuck`], the same on every machine;
//!   one the runtime cannot move the clock for during a wall-clock second (waiting on an OS
//!   thread, `spawn_blocking` or real I/O) ends it with [`GuestError::Blocked`]
//!   (`watchdog.rs`). Both are errors, not violations, and nothing of them reaches the trace.

mod clock;
pub(crate) mod mailbox;
mod watchdog;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use model::time::{Duration, Instant};

pub(crate) use mailbox::{Mailbox, Out};

/// Polls of guest tasks at one virtual instant, within one drive, after which the guest is
/// stuck: its tasks never all wait, so virtual time cannot move.
pub const MAX_SPINS: u64 = 200_000;

/// Why a run with guest code could not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestError {
    /// Guest tasks stayed ready through `polls` polls at virtual time `at` without all of them
    /// waiting on the simulation or a timer (a loop that awaits nothing but `yield_now`), so
    /// virtual time could not advance. Deterministic: the same run stops at the same place.
    Stuck {
        /// Virtual time of the stuck instant.
        at: Instant,
        /// Polls it took.
        polls: u64,
    },
    /// Every guest task waited, yet for `wall_ms` milliseconds of wall time the runtime could
    /// not move its clock: something outside the simulation holds it (an OS thread,
    /// `spawn_blocking`, real I/O). This one depends on the wall clock.
    Blocked {
        /// Virtual time it was blocked at.
        at: Instant,
        /// Wall-clock milliseconds the watchdog waited.
        wall_ms: u64,
    },
    /// A guest task panicked, or broke a rule no handler can be answered past; the message
    /// says which.
    Panicked(String),
    /// The simulation could not be set up from what the code registered (a component on a
    /// volume the machine does not have, a scenario that does not check).
    Setup(String),
}

impl std::fmt::Display for GuestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuestError::Stuck { at, polls } => write!(
                f,
                "guest code stayed ready through {polls} polls at virtual time {at}: virtual \
                 time cannot advance while a task keeps running without awaiting the \
                 simulation or a tokio timer (a loop of yield_now); await a sleep or a call \
                 instead"
            ),
            GuestError::Blocked { at, wall_ms } => write!(
                f,
                "guest code blocked the runtime for {wall_ms} ms of wall time at virtual time \
                 {at}: virtual time cannot advance while it waits on something outside the \
                 simulation (an OS thread, spawn_blocking, real I/O); use the simulation's \
                 calls and tokio timers only"
            ),
            GuestError::Panicked(msg) => write!(f, "guest code failed: {msg}"),
            GuestError::Setup(msg) => write!(f, "cannot set up the simulation: {msg}"),
        }
    }
}

impl std::error::Error for GuestError {}

/// Why one [`Host::drive`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The guest acted: the mailbox holds what it did, at this virtual time.
    Acted(Instant),
    /// The guest reached the fence with nothing to do.
    Fence,
}

/// Counts of the guest's work, for the benchmark and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestStats {
    /// Passages into the guest runtime and back (one per drive up to an event).
    pub drives: u64,
    /// Polls of the guest's task set (each runs every task that is ready).
    pub polls: u64,
    /// Actions the guest took (calls, answers, reads, ends).
    pub actions: u64,
}

/// A flag the guest's task set raises when it wakes itself during a poll (more tasks are
/// ready), forwarding the wake to the runtime.
struct Busy {
    raised: AtomicBool,
    inner: std::sync::Mutex<Option<Waker>>,
}

impl Wake for Busy {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.raised.store(true, Ordering::Relaxed);
        if let Some(w) = self.inner.lock().ok().and_then(|g| g.clone()) {
            w.wake();
        }
    }
}

/// The guest runtime: a tokio current-thread runtime with its clock paused, and the task set
/// of guest code. [`Runtime::run`] runs a whole world inside one `block_on`: the world's loop
/// steps while the guest waits, and the guest runs (`Host::poll_drive`) whenever the world must
/// let it catch up. (One `block_on` for the whole run also keeps the wakes a runtime defers,
/// `yield_now`'s, which it forgets when a `block_on` returns.)
pub(crate) struct Runtime {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
}

impl Runtime {
    /// A runtime with its clock paused.
    pub(crate) fn new() -> Runtime {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime without I/O builds");
        Runtime {
            rt,
            local: tokio::task::LocalSet::new(),
        }
    }

    /// Runs `f` to its end before the world starts (a writer's `OnIdentify` at subscription).
    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.local.block_on(&self.rt, f)
    }

    /// What the paused clock shows now: virtual time zero, once the setup is over.
    pub(crate) fn now(&self) -> tokio::time::Instant {
        self.rt.block_on(async { clock::paused_now() })
    }

    /// Starts a guest task (a requester's future, a writer's event loop); a panic in it ends
    /// the run with [`GuestError::Panicked`] (noted in `mail`).
    pub(crate) fn spawn(
        &self,
        mail: &Rc<RefCell<Mailbox>>,
        task: impl Future<Output = ()> + 'static,
    ) {
        self.local.spawn_local(Guarded {
            task: Box::pin(task),
            mail: mail.clone(),
        });
    }

    /// Runs `poll` to its end inside the runtime: the world's loop, polled with the runtime's
    /// context, the guest's task set and the fence timer of its drives.
    pub(crate) fn run<T>(
        &mut self,
        mut poll: impl FnMut(
            &mut Context<'_>,
            &mut tokio::task::LocalSet,
            Pin<&mut tokio::time::Sleep>,
        ) -> Poll<T>,
    ) -> T {
        let local = &mut self.local;
        self.rt.block_on(async {
            // The fence is a timer of the runtime: it is made inside its context.
            let mut fence = std::pin::pin!(tokio::time::sleep(std::time::Duration::ZERO));
            std::future::poll_fn(|cx| poll(cx, local, fence.as_mut())).await
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // The tasks hold handles whose drop notes an action (a release): let them go while the
        // runtime is still there.
        let local = std::mem::take(&mut self.local);
        let _g = self.rt.enter();
        drop(local);
    }
}

/// The guest as the world sees it: the mailbox, the guest's clock, and the drive in progress.
pub(crate) struct Host {
    /// The tokio instant of virtual time zero.
    base: tokio::time::Instant,
    /// The guest's clock, in virtual time (a whole millisecond).
    clock: Instant,
    /// Shared with every handle the guest holds.
    pub(crate) mail: Rc<RefCell<Mailbox>>,
    /// Raised by every wake of a guest task (the task set then has work), and passed on.
    busy: Arc<Busy>,
    busy_waker: Waker,
    watch: Arc<watchdog::Watch>,
    /// Something reached the guest since it last ran.
    dirty: bool,
    /// The virtual time last seen in the drive in progress (the watchdog's sign of progress).
    last: Instant,
    /// The runtime's waker, as last handed to the task set's waker and the watchdog.
    installed: Option<Waker>,
    /// The last poll was pending: the runtime may have parked and moved its clock since.
    parked: bool,
    /// Polls of ready tasks at the current instant in this drive.
    spins: u64,
    stats: GuestStats,
}

impl Host {
    /// The guest of a runtime whose virtual time zero is `base`.
    pub(crate) fn new(mail: Rc<RefCell<Mailbox>>, base: tokio::time::Instant) -> Host {
        let busy = Arc::new(Busy {
            // The tasks spawned before the run are ready.
            raised: AtomicBool::new(true),
            inner: std::sync::Mutex::new(None),
        });
        Host {
            base,
            clock: Instant::ZERO,
            mail,
            busy_waker: Waker::from(busy.clone()),
            busy,
            watch: watchdog::Watch::register(),
            dirty: true,
            last: Instant::MAX,
            installed: None,
            parked: true,
            spins: 0,
            stats: GuestStats::default(),
        }
    }

    /// Something was delivered to the guest: it must run before the world goes on.
    pub(crate) fn wake(&mut self) {
        self.dirty = true;
    }

    /// Whether the guest must run before the world dispatches an event at `next`: something
    /// reached it, or its clock is behind `next`'s millisecond (a timer may be due).
    pub(crate) fn needs_drive(&self, next: Instant) -> bool {
        self.dirty || floor_ms(next) > self.clock
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> GuestStats {
        self.stats
    }

    /// Starts a drive up to `fence` (rounded down to the millisecond): `sleep` is reset to it.
    pub(crate) fn begin_drive(&mut self, fence: Instant, sleep: Pin<&mut tokio::time::Sleep>) {
        self.dirty = false;
        self.stats.drives += 1;
        self.last = Instant::MAX;
        self.spins = 0;
        let fence = floor_ms(fence).max(self.clock);
        sleep.reset(self.base + std::time::Duration::from_micros(fence.as_us()));
        self.watch.begin();
    }

    /// One poll of the drive in progress: runs every guest task that is ready; returns at the
    /// first instant the guest acted, once every task ready at that instant has run, or at the
    /// fence; pending while the paused clock must move to the next timer.
    pub(crate) fn poll_drive(
        &mut self,
        cx: &mut Context<'_>,
        local: &mut tokio::task::LocalSet,
        mut sleep: Pin<&mut tokio::time::Sleep>,
    ) -> Poll<Result<Stop, GuestError>> {
        if !self
            .installed
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            // The runtime's waker, passed on by the task set's and the watchdog's (it is the
            // same for a whole run: one `block_on`).
            if let Ok(mut w) = self.busy.inner.lock() {
                *w = Some(cx.waker().clone());
            }
            self.watch.set_waker(cx.waker());
            self.installed = Some(cx.waker().clone());
        }
        self.stats.polls += 1;
        // Only a wake makes a task ready: without one since the last tick, there is nothing to
        // run (and the task set's waker is still registered).
        if self.busy.raised.swap(false, Ordering::Relaxed) {
            let mut bcx = Context::from_waker(&self.busy_waker);
            let _ = Pin::new(&mut *local).poll(&mut bcx);
            // The clock moves only while the runtime parks, after a pending poll.
            if self.parked {
                self.parked = false;
                self.clock = virtual_now(self.base);
            }
            let now = self.clock;
            if now != self.last {
                // Virtual time moved: the guest is not stuck.
                self.last = now;
                self.spins = 0;
            } else {
                self.spins += 1;
                if self.spins >= MAX_SPINS {
                    self.watch.end();
                    return Poll::Ready(Err(GuestError::Stuck {
                        at: now,
                        polls: self.spins,
                    }));
                }
            }
            // The poll came back: the watchdog has nothing to say about it.
            self.watch.progress();
            let panicked = self.mail.borrow_mut().panicked.take();
            if let Some(p) = panicked {
                self.watch.end();
                return Poll::Ready(Err(GuestError::Panicked(p)));
            }
            if self.busy.raised.load(Ordering::Relaxed) {
                // More tasks are ready at this instant; the wake was passed on, so the
                // runtime polls again without moving its clock.
                self.parked = true;
                return Poll::Pending;
            }
            let acted = self.mail.borrow().out.len() as u64;
            if acted > 0 {
                self.stats.actions += acted;
                self.watch.end();
                return Poll::Ready(Ok(Stop::Acted(now)));
            }
        } else if let Some(wall_ms) = self.watch.tripped() {
            // Woken by the watchdog alone: every task waits, and the clock did not move.
            self.watch.end();
            return Poll::Ready(Err(GuestError::Blocked {
                at: self.clock,
                wall_ms,
            }));
        }
        // Idle: the paused clock jumps to the next timer, or to the fence. A task waiting on
        // a deferred wake (`yield_now`, tokio's cooperative budget) is served first, without
        // moving the clock.
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                if self.parked {
                    self.parked = false;
                    self.clock = virtual_now(self.base);
                }
                self.watch.end();
                Poll::Ready(Ok(Stop::Fence))
            }
            Poll::Pending => {
                self.parked = true;
                Poll::Pending
            }
        }
    }
}

/// The virtual time the paused clock shows (called inside the runtime).
fn virtual_now(base: tokio::time::Instant) -> Instant {
    let since = clock::paused_now().saturating_duration_since(base);
    Instant::ZERO + Duration::from_us(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

/// `t` rounded down to the millisecond (tokio's timer grain).
fn floor_ms(t: Instant) -> Instant {
    Instant::ZERO + Duration::from_us(t.as_us() / 1_000 * 1_000)
}

/// A guest task whose panic is caught and noted in the mailbox (the run then ends with
/// [`GuestError::Panicked`]) instead of unwinding through the world.
struct Guarded {
    task: Pin<Box<dyn Future<Output = ()>>>,
    mail: Rc<RefCell<Mailbox>>,
}

impl Future for Guarded {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let me = &mut *self;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| me.task.as_mut().poll(cx))) {
            Ok(p) => p,
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                if let Ok(mut m) = me.mail.try_borrow_mut() {
                    m.panicked.get_or_insert(msg);
                }
                Poll::Ready(())
            }
        }
    }
}
