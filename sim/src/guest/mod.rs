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
//! - `tokio::select!` with `biased;` (an unbiased select draws its branch order from an
//!   unseeded RNG); `tokio::task::spawn_local`, never OS threads or `spawn_blocking`; no wall
//!   clock (`std::time::Instant`), no real I/O;
//! - a guest that keeps running for a wall-clock second without letting virtual time move (a
//!   busy loop of yields, a blocking call) ends the run with [`GuestError::Stuck`]
//!   (`watchdog.rs`): an error, not a violation, and nothing of it reaches the trace.

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

/// Why a run with guest code could not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestError {
    /// Guest code ran for `wall_ms` milliseconds of wall time without waiting on the
    /// simulation or a timer, so virtual time could not advance (a loop that never awaits
    /// anything but `yield_now`, or a blocking call). `at` is the virtual time it was stuck at.
    Stuck {
        /// Virtual time of the stuck instant.
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
            GuestError::Stuck { at, wall_ms } => write!(
                f,
                "guest code made no progress for {wall_ms} ms of wall time at virtual time {at}: \
                 virtual time cannot advance while a task runs without awaiting the simulation \
                 or a tokio timer (a loop of yield_now, a blocking call, an OS thread or real \
                 I/O); await a sleep or a call instead"
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

/// One world's guest runtime and its tasks.
pub(crate) struct Host {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
    /// The tokio instant of virtual time zero.
    base: tokio::time::Instant,
    /// The guest's clock, in virtual time (a whole millisecond).
    clock: Instant,
    /// Shared with every handle the guest holds.
    pub(crate) mail: Rc<RefCell<Mailbox>>,
    busy: Arc<Busy>,
    busy_waker: Waker,
    watch: Arc<watchdog::Watch>,
    /// Something reached the guest since it last ran.
    dirty: bool,
    stats: GuestStats,
}

impl Host {
    /// A runtime with its clock paused at virtual time zero.
    pub(crate) fn new(mail: Rc<RefCell<Mailbox>>) -> Host {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime without I/O builds");
        let base = rt.block_on(async { clock::paused_now() });
        let busy = Arc::new(Busy {
            raised: AtomicBool::new(false),
            inner: std::sync::Mutex::new(None),
        });
        Host {
            rt,
            local: tokio::task::LocalSet::new(),
            base,
            clock: Instant::ZERO,
            mail,
            busy_waker: Waker::from(busy.clone()),
            busy,
            watch: watchdog::Watch::register(),
            dirty: true,
            stats: GuestStats::default(),
        }
    }

    /// Starts a guest task (a requester's future, a writer's event loop); it first runs at the
    /// next drive.
    pub(crate) fn spawn(&mut self, task: impl Future<Output = ()> + 'static) {
        self.local.spawn_local(Guarded {
            task: Box::pin(task),
            mail: self.mail.clone(),
        });
        self.dirty = true;
    }

    /// Runs `f` to its end on the guest runtime before the world starts (a writer's
    /// `OnIdentify` at subscription); [`Host::start_clock`] then puts virtual time zero after it.
    pub(crate) fn block_on<F: Future>(&mut self, f: F) -> F::Output {
        self.local.block_on(&self.rt, f)
    }

    /// Virtual time zero is now.
    pub(crate) fn start_clock(&mut self) {
        self.base = self.rt.block_on(async { clock::paused_now() });
        self.clock = Instant::ZERO;
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

    /// Runs the guest from its clock up to `fence` (rounded down to the millisecond): every
    /// task ready now, then each timer due by the fence in order. Returns at the first instant
    /// the guest acted, once every task ready at that instant has run, or at the fence.
    pub(crate) fn drive(&mut self, fence: Instant) -> Result<Stop, GuestError> {
        self.dirty = false;
        self.stats.drives += 1;
        let fence = floor_ms(fence).max(self.clock);
        let deadline = self.base + std::time::Duration::from_micros(fence.as_us());
        let Host {
            rt,
            local,
            base,
            mail,
            busy,
            busy_waker,
            watch,
            stats,
            ..
        } = self;
        let mut tasks = std::pin::pin!(local.run_until(std::future::pending::<()>()));
        // The fence is a timer of the runtime: it is made inside its context.
        let entered = rt.enter();
        let mut sleep = std::pin::pin!(tokio::time::sleep_until(deadline));
        drop(entered);
        watch.begin();
        let mut last = Instant::MAX;
        // A yield of the drive itself, to let every deferred wake be served before returning.
        let mut settle: Option<Pin<Box<dyn Future<Output = ()>>>> = None;
        let result = rt.block_on(std::future::poll_fn(|cx| {
            if let Ok(mut w) = busy.inner.lock()
                && !w.as_ref().is_some_and(|w| w.will_wake(cx.waker()))
            {
                *w = Some(cx.waker().clone());
            }
            stats.polls += 1;
            // Tasks woken since the last poll (a delivery, a timer, a deferred wake) run now.
            let woken_before = busy.raised.swap(false, Ordering::Relaxed);
            let mut bcx = Context::from_waker(busy_waker);
            let _ = tasks.as_mut().poll(&mut bcx);
            let now = virtual_now(*base);
            if now != last {
                // Virtual time moved: the guest is not stuck.
                last = now;
                watch.progress();
            }
            if let Some(p) = mail.borrow_mut().panicked.take() {
                return Poll::Ready(Err(GuestError::Panicked(p)));
            }
            if let Some(wall_ms) = watch.tripped() {
                return Poll::Ready(Err(GuestError::Stuck { at: now, wall_ms }));
            }
            watch.set_waker(cx.waker());
            if busy.raised.swap(false, Ordering::Relaxed) {
                // More tasks are ready at this instant; the wake was passed on, so the runtime
                // polls again without moving its clock.
                return Poll::Pending;
            }
            // Idle, as far as the task set's queue shows.
            let acted = !mail.borrow().out.is_empty();
            if !acted && sleep.as_mut().poll(cx).is_pending() {
                // Let the paused clock jump to the next timer, or to the fence. A task waiting
                // on a deferred wake (`yield_now`, tokio's cooperative budget) is served first,
                // without moving the clock.
                settle = None;
                return Poll::Pending;
            }
            // Before returning, serve the deferred wakes, which a runtime forgets once its
            // `block_on` returns: yield once, and return only when no task ran meanwhile.
            let yielded = settle.as_mut().map(|y| y.as_mut().poll(cx).is_ready());
            match yielded {
                Some(true) if !woken_before => {
                    Poll::Ready(Ok(if acted { Stop::Acted(now) } else { Stop::Fence }))
                }
                // Our yield is not served yet.
                Some(false) => Poll::Pending,
                // First time here, or a task ran meanwhile: yield (again).
                _ => {
                    let mut y: Pin<Box<dyn Future<Output = ()>>> =
                        Box::pin(tokio::task::yield_now());
                    let _ = y.as_mut().poll(cx);
                    settle = Some(y);
                    Poll::Pending
                }
            }
        }));
        watch.end();
        let now = self.rt.block_on(async { virtual_now(self.base) });
        self.clock = now;
        if let Ok(Stop::Acted(_)) = result {
            self.stats.actions += self.mail.borrow().out.len() as u64;
        }
        result
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // The tasks hold handles whose drop notes an action (a release): let them go while the
        // runtime is still there, and their notes with the mailbox.
        let local = std::mem::take(&mut self.local);
        let _g = self.rt.enter();
        drop(local);
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
