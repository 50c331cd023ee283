//! The event queue: a binary min-heap ordered by `(at, seq)`, where `seq` is the insertion
//! counter, so events due at the same instant run in the order they were scheduled
//! (FoundationDB's FIFO tie-break). The payload is one `u64` the world interprets, so the heap
//! moves 24-byte entries, the same shape as the `bench` baseline loop. The payload is a
//! slab index the [`Kernel`](super::Kernel) resolves.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use model::time::Instant;

/// Pending events of one run.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<(u64, u64, u64)>>,
    next_seq: u64,
}

impl EventQueue {
    /// An empty queue.
    pub fn new() -> EventQueue {
        EventQueue::default()
    }

    /// An empty queue with room for `n` events before it grows.
    pub fn with_capacity(n: usize) -> EventQueue {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            next_seq: 0,
        }
    }

    /// Schedules `payload` at `at`.
    #[inline]
    pub fn push(&mut self, at: Instant, payload: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse((at.as_us(), seq, payload)));
    }

    /// The earliest event, or `None` when the queue is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<(Instant, u64)> {
        self.heap
            .pop()
            .map(|Reverse((at, _, p))| (Instant::from_us(at), p))
    }

    /// When the earliest event is due.
    pub fn peek_at(&self) -> Option<Instant> {
        self.heap
            .peek()
            .map(|Reverse((at, _, _))| Instant::from_us(*at))
    }

    /// `(at_us, seq)` of the earliest event.
    #[inline]
    pub fn peek_key(&self) -> Option<(u64, u64)> {
        self.heap.peek().map(|Reverse((at, seq, _))| (*at, *seq))
    }

    /// Takes the next insertion sequence number without pushing (a slot armed by the kernel
    /// shares the heap's counter, so ties keep scheduling order).
    #[inline]
    pub fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
