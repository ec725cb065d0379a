//! The event queue: a store ordered by `(time, insertion sequence)` (a heap while few
//! events are pending, `heap.rs`; a calendar queue while many are, `calendar.rs`), plus a
//! FIFO lane and a single slot.
//!
//! Same-time events come out in the order they were scheduled (FIFO), which makes the run
//! reproducible without any tie-breaking by payload. Events whose times are scheduled in
//! non-decreasing order (for example client timeouts, all `issue time + constant`) can use
//! [`EventQueue::push_fifo`], an O(1) deque that is merged with the store by the same
//! `(time, seq)` key; the order is exactly the one a single heap would give.

use std::collections::VecDeque;

use super::calendar::Calendar;
use super::heap::{Heap, Key};
use super::time::SimTime;

/// A scheduled event, as [`EventQueue::pop_entry`] returns it.
pub struct Entry<E> {
    /// When it happens.
    pub time: SimTime,
    seq: u64,
    /// What happens.
    pub event: E,
}

impl<E> Entry<E> {
    #[inline]
    fn key(&self) -> Key {
        Key::new(self.time, self.seq)
    }
}

/// Where most events wait: a heap while few are pending, a calendar queue (O(1) per event
/// however many) from [`TO_CALENDAR`] on, and back to the heap below [`TO_HEAP`]. A
/// calendar defeated by the spread of pending times (see `calendar.rs`) hands its events to
/// the heap for good: O(log n) whatever the spread. Both pop the least `(time, seq)`, so
/// where the events wait never changes the order, only the speed.
struct Store<E> {
    heap: Heap<E>,
    calendar: Calendar<E>,
    /// The calendar holds the events (else the heap).
    in_calendar: bool,
    /// A calendar was defeated: the heap keeps the events from now on.
    heap_for_good: bool,
}

/// Pending events from which the calendar takes over. In `lblab bench`, at 16 servers (~15
/// pending) the heap ran ~5% faster than a calendar; at 1,024 (~1,000 pending) the calendar
/// ran 3–8% faster than the heap, with 10% fewer instructions (cachegrind).
const TO_CALENDAR: usize = 128;
/// Pending events below which the heap takes them back (a quarter of `TO_CALENDAR`, so
/// that moving them, O(n), is paid for by the n operations in between).
const TO_HEAP: usize = 32;

impl<E: Copy> Store<E> {
    fn new() -> Self {
        Store {
            heap: Heap::with_capacity(1024),
            calendar: Calendar::with_capacity(1024),
            in_calendar: false,
            heap_for_good: false,
        }
    }

    #[inline]
    fn push(&mut self, key: Key, event: E) {
        if self.in_calendar {
            self.calendar.push(key, event);
        } else {
            self.heap.push(key, event);
            if self.heap.len() >= TO_CALENDAR && !self.heap_for_good {
                self.move_to_calendar();
            }
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<(Key, E)> {
        if self.in_calendar {
            let popped = self.calendar.pop();
            if self.calendar.defeated() {
                self.heap_for_good = true;
                self.move_to_heap();
            } else if self.calendar.len() < TO_HEAP {
                self.move_to_heap();
            }
            popped
        } else {
            self.heap.pop()
        }
    }

    #[cold]
    fn move_to_calendar(&mut self) {
        let Store { heap, calendar, .. } = self;
        calendar.fill(std::iter::from_fn(|| heap.pop()));
        self.in_calendar = true;
    }

    #[cold]
    fn move_to_heap(&mut self) {
        let Store { heap, calendar, .. } = self;
        calendar.drain(|k, e| heap.push(k, e));
        self.in_calendar = false;
    }

    #[inline]
    fn peek(&self) -> Option<Key> {
        if self.in_calendar {
            self.calendar.peek()
        } else {
            self.heap.peek()
        }
    }

    #[inline]
    fn peek_event(&self) -> Option<&E> {
        if self.in_calendar {
            self.calendar.peek_event()
        } else {
            self.heap.peek_event()
        }
    }

    #[inline]
    fn len(&self) -> usize {
        if self.in_calendar {
            self.calendar.len()
        } else {
            self.heap.len()
        }
    }
}

/// A deterministic priority queue of events.
pub struct EventQueue<E> {
    store: Store<E>,
    fifo: VecDeque<Entry<E>>,
    /// One event kept out of the store: a stream with at most one event pending at a time
    /// (the next open-loop arrival) costs no store operations.
    slot: Option<Entry<E>>,
    seq: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            store: Store::new(),
            fifo: VecDeque::with_capacity(1024),
            slot: None,
            seq: 0,
        }
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq();
        self.store.push(Key::new(time, seq), event);
    }

    /// Schedules `event` at `time`, which must not be earlier than the last `push_fifo` time.
    /// O(1); ordered exactly as [`push`](Self::push) would order it.
    #[inline]
    pub fn push_fifo(&mut self, time: SimTime, event: E) {
        debug_assert!(
            self.fifo.back().is_none_or(|b| b.time <= time),
            "push_fifo out of order"
        );
        let seq = self.next_seq();
        self.fifo.push_back(Entry { time, seq, event });
    }

    /// Schedules `event` at `time` in the single slot, which must be empty: for a stream
    /// that has at most one event pending at a time. Ordered exactly as
    /// [`push`](Self::push) would order it.
    #[inline]
    pub fn push_slot(&mut self, time: SimTime, event: E) {
        debug_assert!(self.slot.is_none(), "push_slot while the slot is taken");
        let seq = self.next_seq();
        self.slot = Some(Entry { time, seq, event });
    }

    #[inline]
    fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq += 1;
        s
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_entry().map(|e| (e.time, e.event))
    }

    /// Removes and returns the earliest event with its time and sequence number (not
    /// re-laid out into a tuple: the hot loop reads its fields where they are).
    #[inline]
    pub fn pop_entry(&mut self) -> Option<Entry<E>> {
        let heap = self.store.peek();
        if let Some(s) = &self.slot {
            let key = s.key();
            if heap.is_none_or(|h| h >= key) && self.fifo.front().is_none_or(|f| f.key() >= key) {
                return self.slot.take();
            }
        }
        let take_fifo = match (heap, self.fifo.front()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(h), Some(f)) => f.key() < h,
        };
        if take_fifo {
            self.fifo.pop_front()
        } else {
            self.store.pop().map(|(k, event)| Entry {
                time: k.time(),
                seq: k.seq(),
                event,
            })
        }
    }

    /// The earliest event in the store (heap or calendar): usually the next to come out,
    /// but not always (the FIFO lane and the slot are not looked at). For cache hints, not
    /// for decisions.
    #[inline]
    pub fn peek_store(&self) -> Option<&E> {
        self.store.peek_event()
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        let queued = match (self.store.peek(), self.fifo.front()) {
            (None, None) => None,
            (Some(h), None) => Some(h.time()),
            (None, Some(f)) => Some(f.time),
            (Some(h), Some(f)) => Some(h.time().min(f.time)),
        };
        match (queued, &self.slot) {
            (Some(q), Some(s)) => Some(q.min(s.time)),
            (q, s) => q.or(s.as_ref().map(|s| s.time)),
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.store.len() + self.fifo.len() + usize::from(self.slot.is_some())
    }

    /// True if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bursts defeat the calendar (`calendar.rs`, `bursts_defeat_it_and_it_says_so`): the
    /// queue moves to its heap for good, and every pop stays exact.
    #[test]
    fn a_defeated_calendar_hands_over_to_the_heap_in_order() {
        use crate::engine::calendar::tests::burst_time;
        use std::collections::BTreeSet;
        let mut q = EventQueue::new();
        let mut reference = BTreeSet::new();
        for i in 0..10_000 {
            q.push(SimTime(burst_time(i)), i);
            reference.insert((burst_time(i), i));
        }
        assert!(q.store.in_calendar);
        for i in 10_000..40_000 {
            let want = reference.pop_first().unwrap();
            assert_eq!(q.pop(), Some((SimTime(want.0), want.1)));
            q.push(SimTime(burst_time(i)), i);
            reference.insert((burst_time(i), i));
        }
        assert!(
            !q.store.in_calendar && q.store.heap_for_good,
            "the calendar gave up"
        );
        while let Some(want) = reference.pop_first() {
            assert_eq!(q.pop(), Some((SimTime(want.0), want.1)));
        }
        assert!(q.is_empty());
    }

    /// Against a reference ordered set, over random schedules like a simulation's: pushes
    /// from `now` on at every scale (equal times, nanoseconds, seconds, far future), FIFO
    /// lane and slot mixed in, pending counts from a handful to thousands. Every pop must
    /// be the reference's smallest `(time, seq)`.
    #[test]
    fn pops_exactly_in_time_then_insertion_order() {
        use crate::engine::SimRng;
        use std::collections::BTreeSet;
        // (seed, pending count to drift to in even and in odd phases of 5,000 steps).
        let cases = [
            (1u64, 4, 4),
            (2, 40, 40),
            (3, 5000, 5000),
            (4, 20, 700),
            (5, 60, 260),
        ];
        for (seed, low, high) in cases {
            let mut rng = SimRng::from_seed_u64(seed);
            let mut q = EventQueue::new();
            let mut reference = BTreeSet::new();
            let (mut seq, mut now, mut fifo_last, mut slot_taken) = (0u64, 0u64, 0u64, false);
            for step in 0..60_000 {
                let target = if step / 5000 % 2 == 0 { low } else { high };
                let grow = if reference.len() < target {
                    rng.below(4) != 0
                } else {
                    rng.below(4) == 0
                };
                if grow {
                    let delay = match rng.below(7) {
                        0 => 0,
                        1 => rng.below(10),
                        2 => rng.below(1_000_000),
                        3 => rng.below(1 << 40),
                        4 => u64::MAX / 4 - rng.below(1 << 20),
                        // The end of time (`now + delay` saturates): beside the heap's
                        // sentinels.
                        5 => u64::MAX,
                        _ => rng.exp(1e6) as u64,
                    };
                    let t = now.saturating_add(delay);
                    match rng.below(5) {
                        0 if t >= fifo_last => {
                            fifo_last = t;
                            q.push_fifo(SimTime(t), (seq, 1));
                        }
                        1 if !slot_taken => {
                            slot_taken = true;
                            q.push_slot(SimTime(t), (seq, 2));
                        }
                        _ => q.push(SimTime(t), (seq, 0)),
                    }
                    reference.insert((t, seq));
                    seq += 1;
                } else {
                    let want = reference.pop_first();
                    assert_eq!(q.peek_time(), want.map(|(t, _)| SimTime(t)));
                    let got = q.pop().map(|(t, (s, lane))| {
                        if lane == 2 {
                            slot_taken = false;
                        }
                        (t.0, s)
                    });
                    assert_eq!(got, want, "seed {seed}, step {step}");
                    if let Some((t, _)) = got {
                        now = t;
                    }
                }
                assert_eq!(q.len(), reference.len());
            }
            while let Some(want) = reference.pop_first() {
                assert_eq!(q.pop().map(|(t, (s, _))| (t.0, s)), Some(want));
            }
            assert!(q.is_empty() && q.pop().is_none());
        }
    }

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), "c");
        q.push(SimTime(1), "a");
        q.push(SimTime(5), "d");
        q.push(SimTime(1), "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    fn fifo_lane_merges_exactly_like_the_heap() {
        let mut q = EventQueue::new();
        q.push(SimTime(3), 1);
        q.push_fifo(SimTime(3), 2);
        q.push(SimTime(3), 3);
        q.push_fifo(SimTime(4), 4);
        q.push(SimTime(2), 5);
        assert_eq!(q.peek_time(), Some(SimTime(2)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, [5, 1, 2, 3, 4]);
        assert!(q.is_empty());
    }

    #[test]
    fn slot_merges_exactly_like_the_heap() {
        // The same pushes through push and through push_slot pop in the same order.
        let script: [(u8, u64); 7] = [(0, 3), (1, 3), (2, 3), (0, 2), (1, 5), (0, 5), (1, 1)];
        let run = |use_slot: bool| {
            let mut q = EventQueue::new();
            let mut out = Vec::new();
            let mut slot_taken = false;
            for (i, &(kind, t)) in script.iter().enumerate() {
                match kind {
                    // A slot-stream event: with use_slot, pushed to the slot (after the
                    // previous one left it).
                    1 if use_slot => {
                        if slot_taken {
                            while let Some((_, e)) = q.pop() {
                                out.push(e);
                                if e % 10 == 1 {
                                    break;
                                }
                            }
                        }
                        q.push_slot(SimTime(t), i * 10 + 1);
                        slot_taken = true;
                    }
                    1 => {
                        if slot_taken {
                            while let Some((_, e)) = q.pop() {
                                out.push(e);
                                if e % 10 == 1 {
                                    break;
                                }
                            }
                        }
                        q.push(SimTime(t), i * 10 + 1);
                        slot_taken = true;
                    }
                    2 => q.push_fifo(SimTime(t), i * 10 + 2),
                    _ => q.push(SimTime(t), i * 10),
                }
            }
            assert_eq!(q.peek_time().is_some(), !q.is_empty());
            out.extend(std::iter::from_fn(|| q.pop()).map(|(_, e)| e));
            out
        };
        assert_eq!(run(true), run(false));
        assert_eq!(run(true).len(), script.len());
    }
}
