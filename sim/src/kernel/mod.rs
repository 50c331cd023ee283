//! The kernel: the virtual clock, the event queue, the per-source slots, the step budget and the
//! RNG streams. It is the only place time advances (ARCHITECTURE.md, invariant 2) and it names no
//! VSS type: it orders opaque payloads `P` and numbered slots, and the world gives them meaning.
//!
//! # Events and slots
//!
//! Most events are scheduled once and fired once: they go into the binary heap, ordered by
//! `(at, seq)` where `seq` is the global insertion counter, so events due at the same instant run
//! in the order they were scheduled. A *source* that always has exactly one next event (a
//! workload's next write) keeps it in a slot instead: `(at, seq)` in a small array the kernel
//! compares with the heap's top. Re-arming a slot takes a sequence number from the same counter,
//! so the order of a run is exactly what it would be with every event in the heap, and the hot
//! path costs no heap push or pop. Every slot firing counts as one step, like a heap event.

pub mod queue;
pub mod rng;

use model::time::Instant;

use queue::EventQueue;

/// What the kernel hands the world next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<P> {
    /// A scheduled event.
    Event(P),
    /// Slot `i`'s time came; re-arm it with [`Kernel::arm_slot`] or it stays idle.
    Slot(usize),
}

/// Why the kernel has nothing more to hand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The step budget ran out.
    StepLimit,
    /// No event and no armed slot is left.
    QueueEmpty,
    /// The next event is past the run's virtual time limit; the clock now reads that limit.
    TimeLimit,
}

/// Room reserved for pending events when a kernel is made: a run of a few requesters and writers
/// keeps fewer than this, so its queue never grows.
const RESERVED_EVENTS: usize = 64;

/// A disarmed slot's key: after every armed one.
const IDLE: u128 = u128::MAX;

/// A slot's key: `(at_us, seq)` as one integer, so that a comparison is one instruction pair.
#[inline]
fn slot_key(at_us: u64, seq: u64) -> u128 {
    (u128::from(at_us) << 64) | u128::from(seq)
}

/// The clock, the queue and the slots of one run.
#[derive(Debug)]
pub struct Kernel<P> {
    queue: EventQueue,
    slab: Vec<Option<P>>,
    free: Vec<u32>,
    /// `(at_us, seq)` per slot as a [`slot_key`]; `IDLE` when disarmed.
    slots: Vec<u128>,
    /// The smallest key in `slots` (`IDLE` when none is armed) and its slot: what the heap's
    /// top is compared with, one integer comparison per step.
    min_key: u128,
    min_slot: usize,
    /// Armed slots.
    n_armed: usize,
    /// Sum over handed-out steps of the pending events then (heap entries and armed slots).
    len_sum: u64,
    now: Instant,
    steps: u64,
    max_steps: u64,
    max_time: Instant,
}

impl<P> Kernel<P> {
    /// A kernel with `n_slots` idle slots, a step budget and a virtual time limit.
    pub fn new(n_slots: usize, max_steps: u64, max_time: Instant) -> Kernel<P> {
        Kernel {
            queue: EventQueue::with_capacity(RESERVED_EVENTS),
            slab: Vec::with_capacity(RESERVED_EVENTS),
            free: Vec::with_capacity(RESERVED_EVENTS),
            slots: vec![IDLE; n_slots],
            min_key: IDLE,
            min_slot: 0,
            n_armed: 0,
            len_sum: 0,
            now: Instant::ZERO,
            steps: 0,
            max_steps,
            max_time,
        }
    }

    /// The virtual time now.
    #[inline]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Steps handed out so far (heap events and slot firings).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The step budget.
    pub fn max_steps(&self) -> u64 {
        self.max_steps
    }

    /// The virtual time limit.
    pub fn max_time(&self) -> Instant {
        self.max_time
    }

    /// Average pending events (heap entries and armed slots) over all steps: the size of the
    /// benchmark's bare-heap floor.
    pub fn average_queue_len(&self) -> f64 {
        if self.steps == 0 {
            0.0
        } else {
            self.len_sum as f64 / self.steps as f64
        }
    }

    /// Schedules `payload` at `at` (never before now).
    pub fn schedule(&mut self, at: Instant, payload: P) {
        debug_assert!(at >= self.now, "scheduled in the past: {at} < {}", self.now);
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(payload);
                i
            }
            None => {
                self.slab.push(Some(payload));
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.queue.push(at, u64::from(slot));
    }

    /// Arms slot `i` to fire at `at`, after everything already scheduled for that instant.
    #[inline]
    pub fn arm_slot(&mut self, i: usize, at: Instant) {
        let seq = self.queue.take_seq();
        if self.slots[i] == IDLE {
            self.n_armed += 1;
        }
        let key = slot_key(at.as_us(), seq);
        self.slots[i] = key;
        if key < self.min_key {
            (self.min_key, self.min_slot) = (key, i);
        } else if i == self.min_slot {
            // The minimum moved later: another slot may be earlier now.
            self.rescan_slots();
        }
    }

    /// Disarms slot `i`.
    pub fn disarm_slot(&mut self, i: usize) {
        if self.slots[i] != IDLE {
            self.n_armed -= 1;
        }
        self.slots[i] = IDLE;
        if i == self.min_slot {
            self.rescan_slots();
        }
    }

    /// Finds the earliest slot again (slots are few: one per workload).
    #[inline]
    fn rescan_slots(&mut self) {
        let (mut key, mut slot) = (IDLE, 0);
        for (i, &k) in self.slots.iter().enumerate() {
            if k < key {
                (key, slot) = (k, i);
            }
        }
        (self.min_key, self.min_slot) = (key, slot);
    }

    /// What is due next, as a [`slot_key`], and whether it is the earliest slot (else the
    /// heap's top); `IDLE` when nothing is pending. Keys never tie: every one has its own `seq`.
    #[inline]
    fn due(&self) -> (u128, bool) {
        let heap = self
            .queue
            .peek_key()
            .map_or(IDLE, |(at, seq)| slot_key(at, seq));
        if self.min_key < heap {
            (self.min_key, true)
        } else {
            (heap, false)
        }
    }

    /// When the next event or slot is due.
    pub fn peek_at(&self) -> Option<Instant> {
        let (key, _) = self.due();
        (key != IDLE).then(|| Instant::from_us((key >> 64) as u64))
    }

    /// When the next one-shot event is due, slots aside (what guest code must have run up to
    /// before it is dispatched: a slot's write never reaches a guest).
    pub fn peek_heap_at(&self) -> Option<Instant> {
        self.queue.peek_key().map(|(at, _)| Instant::from_us(at))
    }

    /// Advances the clock to the earliest event or slot and hands it out, or says why not.
    #[inline]
    pub fn advance(&mut self) -> Result<Next<P>, Stop> {
        if self.steps >= self.max_steps {
            return Err(Stop::StepLimit);
        }
        self.len_sum += (self.queue.len() + self.n_armed) as u64;
        let (key, from_slot) = self.due();
        if key == IDLE {
            return Err(Stop::QueueEmpty);
        }
        let at = (key >> 64) as u64;
        if Instant::from_us(at) > self.max_time {
            // The run ends before this event: it is never dispatched.
            self.now = self.max_time;
            return Err(Stop::TimeLimit);
        }
        self.now = Instant::from_us(at);
        self.steps += 1;
        if from_slot {
            let i = self.min_slot;
            self.slots[i] = IDLE;
            self.n_armed -= 1;
            self.rescan_slots();
            return Ok(Next::Slot(i));
        }
        let (_, key) = self.queue.pop().expect("the heap's top is due");
        let i = key as usize;
        let p = self.slab[i].take().expect("a live slab entry");
        self.free.push(key as u32);
        Ok(Next::Event(p))
    }

    /// Counts one event carried out at the current instant without passing through the queue
    /// (nothing else was due); the step budget applies to it as to any other.
    pub fn step_in_place(&mut self) -> Result<(), Stop> {
        if self.steps >= self.max_steps {
            return Err(Stop::StepLimit);
        }
        self.len_sum += (self.queue.len() + self.n_armed) as u64;
        self.steps += 1;
        Ok(())
    }

    /// Sets the clock to `t` without handing anything out (an observer looking at time `t`);
    /// never moves it back, never past the time limit.
    pub fn idle_until(&mut self, t: Instant) {
        self.now = self.now.max(t.min(self.max_time));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::time::Duration;

    fn t(us: u64) -> Instant {
        Instant::ZERO + Duration::from_us(us)
    }

    #[test]
    fn slots_and_events_interleave_in_schedule_order() {
        let mut k: Kernel<&str> = Kernel::new(2, 100, t(1_000));
        k.schedule(t(5), "a");
        k.arm_slot(0, t(5)); // after "a": scheduled later for the same instant
        k.schedule(t(5), "b");
        k.arm_slot(1, t(3));
        let mut seen = Vec::new();
        while let Ok(n) = k.advance() {
            seen.push(match n {
                Next::Event(p) => p.to_string(),
                Next::Slot(i) => format!("slot{i}"),
            });
        }
        assert_eq!(seen, ["slot1", "a", "slot0", "b"]);
        assert_eq!(k.steps(), 4);
    }

    #[test]
    fn the_step_budget_and_the_time_limit_stop_the_kernel() {
        let mut k: Kernel<u8> = Kernel::new(1, 2, t(10));
        k.arm_slot(0, t(1));
        assert_eq!(k.advance(), Ok(Next::Slot(0)));
        k.schedule(t(11), 7);
        assert_eq!(k.advance(), Err(Stop::TimeLimit));
        assert_eq!(k.now(), t(10));
        let mut k: Kernel<u8> = Kernel::new(0, 1, t(10));
        k.schedule(t(1), 1);
        k.schedule(t(2), 2);
        assert_eq!(k.advance(), Ok(Next::Event(1)));
        assert_eq!(k.advance(), Err(Stop::StepLimit));
    }

    #[test]
    fn a_disarmed_slot_never_fires() {
        let mut k: Kernel<u8> = Kernel::new(3, 100, t(100));
        k.arm_slot(0, t(4));
        k.arm_slot(1, t(2));
        k.arm_slot(2, t(3));
        k.disarm_slot(1);
        assert_eq!(k.advance(), Ok(Next::Slot(2)));
        assert_eq!(k.advance(), Ok(Next::Slot(0)));
        assert_eq!(k.advance(), Err(Stop::QueueEmpty));
    }
}
