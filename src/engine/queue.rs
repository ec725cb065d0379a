//! The event queue: a radix heap ordered by `(time, insertion sequence)`, plus a FIFO lane
//! and a single slot.
//!
//! Same-time events come out in the order they were scheduled (FIFO), which makes the run
//! reproducible without any tie-breaking by payload. Events whose times are scheduled in
//! non-decreasing order (for example client timeouts, all `issue time + constant`) can use
//! [`EventQueue::push_fifo`], an O(1) deque that is merged with the heap by the same
//! `(time, seq)` key; the order is exactly the one a single heap would give.
//!
//! The heap is a *radix heap* (Ahuja, Mehlhorn, Orlin and Tarjan, "Faster algorithms for
//! the shortest path problem", J. ACM 37(2), 1990), which a discrete-event simulation can
//! use because its keys never go backwards: nothing is scheduled before the event being
//! handled. Every key `(time, seq)` is unique (the sequence number grows) and is kept as
//! one `u128`. Bucket `i ≥ 1` holds the entries whose highest bit differing from the last
//! popped heap key `last` is bit `i - 1`; a push is an append to its bucket. Popping takes
//! the smallest key of the lowest non-empty bucket and moves that bucket's other entries to
//! lower buckets relative to the new `last`; an entry only ever moves down, so each moves a
//! bounded number of times. Unlike a binary heap (`log2 n` levels of compare-and-branch per
//! pop, most of them mispredicted), the cost per event does not grow with the number of
//! pending events: a 1,024-server pool keeps ~1,000 completions pending where 16 servers
//! keep ~15. With few events pending a binary heap is cheaper (no buckets to keep), so the
//! queue uses one while at most [`RADIX_ABOVE`] events are in it and moves them to the
//! radix heap above that (and back below [`BINARY_BELOW`]): the order is the same either
//! way, only the cost differs.

use super::time::SimTime;
use std::collections::{BinaryHeap, VecDeque};

/// A scheduled event, as [`EventQueue::pop_entry`] returns it.
pub struct Entry<E> {
    /// When it happens.
    pub time: SimTime,
    seq: u64,
    /// What happens.
    pub event: E,
}

impl<E> Entry<E> {
    /// The entry's place in the order: time, then insertion sequence.
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.time.0) << 64) | u128::from(self.seq)
    }
}

/// More events than this in the heap: it moves them to a radix heap.
pub const RADIX_ABOVE: usize = 256;
/// Fewer than this in the radix heap: they move back to a binary heap.
pub const BINARY_BELOW: usize = 64;

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest `(time, seq)`.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key().cmp(&self.key())
    }
}

/// Buckets of the radix heap: 0 (keys equal to `last`) and one per bit of a `u128`.
const BUCKETS: usize = 129;

/// The radix heap (see the module documentation).
struct RadixHeap<E> {
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `i` set: bucket `i` is not empty.
    occupied: [u64; 3],
    /// The last key popped from the heap: every key in it is larger.
    last: u128,
    /// The smallest key and where it is (bucket, index), once looked up; cleared by a pop,
    /// kept up to date by a push. A FIFO or slot event popped before it leaves it valid.
    min: Option<(u128, usize, usize)>,
    len: usize,
}

impl<E> RadixHeap<E> {
    fn new() -> Self {
        RadixHeap {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: [0; 3],
            last: 0,
            min: None,
            len: 0,
        }
    }

    #[inline]
    fn bucket_of(&self, key: u128) -> usize {
        // Keys never go below `last` (see `push`); one that did would land in bucket 0 and
        // still come out first.
        if key <= self.last {
            0
        } else {
            (128 - (key ^ self.last).leading_zeros()) as usize
        }
    }

    #[inline]
    fn put(&mut self, e: Entry<E>) -> (usize, usize) {
        let b = self.bucket_of(e.key());
        self.occupied[b >> 6] |= 1 << (b & 63);
        let bucket = &mut self.buckets[b];
        bucket.push(e);
        (b, bucket.len() - 1)
    }

    #[inline]
    fn push(&mut self, e: Entry<E>) {
        debug_assert!(
            e.key() > self.last,
            "event scheduled before the last one popped"
        );
        let key = e.key();
        let (b, i) = self.put(e);
        self.len += 1;
        if let Some((m, ..)) = self.min
            && key < m
        {
            self.min = Some((key, b, i));
        }
    }

    /// The lowest non-empty bucket.
    #[inline]
    fn lowest(&self) -> Option<usize> {
        let [a, b, c] = self.occupied;
        if a != 0 {
            Some(a.trailing_zeros() as usize)
        } else if b != 0 {
            Some(64 + b.trailing_zeros() as usize)
        } else if c != 0 {
            Some(128 + c.trailing_zeros() as usize)
        } else {
            None
        }
    }

    /// The smallest key (looked up once, then cached until the next pop).
    #[inline]
    fn min_key(&mut self) -> Option<u128> {
        if let Some((k, ..)) = self.min {
            return Some(k);
        }
        let b = self.lowest()?;
        let bucket = &self.buckets[b];
        let (mut at, mut key) = (0, bucket[0].key());
        for (i, e) in bucket.iter().enumerate().skip(1) {
            let k = e.key();
            if k < key {
                (at, key) = (i, k);
            }
        }
        self.min = Some((key, b, at));
        Some(key)
    }

    /// Removes the smallest entry; `min_key` must have found it.
    #[inline]
    fn pop_min(&mut self) -> Entry<E> {
        let (key, b, at) = self.min.take().expect("min_key first");
        self.len -= 1;
        let e = self.buckets[b].swap_remove(at);
        self.last = key;
        if self.buckets[b].is_empty() {
            self.occupied[b >> 6] &= !(1 << (b & 63));
        } else if b > 0 {
            // The bucket's other keys share their bits above `b - 1` with the new `last`:
            // each goes to a lower bucket. The bucket keeps its capacity: no allocation.
            self.occupied[b >> 6] &= !(1 << (b & 63));
            let mut moving = std::mem::take(&mut self.buckets[b]);
            for e in moving.drain(..) {
                self.put(e);
            }
            self.buckets[b] = moving;
        }
        e
    }
}

/// A deterministic priority queue of events.
pub struct EventQueue<E> {
    /// The heap while it holds few events (see the module documentation)...
    binary: BinaryHeap<Entry<E>>,
    /// ... and while it holds many (`radix_mode`).
    heap: RadixHeap<E>,
    radix_mode: bool,
    fifo: VecDeque<Entry<E>>,
    /// One event kept out of the heap: a stream with at most one event pending at a time
    /// (the next open-loop arrival) costs no heap operations.
    slot: Option<Entry<E>>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            binary: BinaryHeap::with_capacity(RADIX_ABOVE + 1),
            heap: RadixHeap::new(),
            radix_mode: false,
            fifo: VecDeque::with_capacity(1024),
            slot: None,
            seq: 0,
        }
    }

    /// Schedules `event` at `time`, which must not be earlier than the event being handled
    /// (the last one popped).
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq();
        let e = Entry { time, seq, event };
        if self.radix_mode {
            self.heap.push(e);
        } else {
            self.binary.push(e);
            if self.binary.len() > RADIX_ABOVE {
                self.move_to_radix();
            }
        }
    }

    /// Moves the binary heap's events to the radix heap (no allocation once its buckets
    /// have grown).
    #[cold]
    fn move_to_radix(&mut self) {
        debug_assert!(self.heap.len == 0);
        // The radix heap's `last` (0, or the last key it popped before it emptied) is
        // below every pending key: keys only grow.
        self.heap.min = None;
        self.heap.len = self.binary.len();
        for e in self.binary.drain() {
            self.heap.put(e);
        }
        self.radix_mode = true;
    }

    /// Moves the radix heap's events back to the binary heap.
    #[cold]
    fn move_to_binary(&mut self) {
        for b in 0..BUCKETS {
            if !self.heap.buckets[b].is_empty() {
                self.binary.extend(self.heap.buckets[b].drain(..));
            }
        }
        self.heap.occupied = [0; 3];
        self.heap.min = None;
        self.heap.len = 0;
        self.radix_mode = false;
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

    /// Removes and returns the earliest event as the queue stores it (no re-layout into a
    /// tuple: the hot loop reads its fields where the queue put them).
    #[inline]
    pub fn pop_entry(&mut self) -> Option<Entry<E>> {
        if self.radix_mode {
            return self.pop_radix();
        }
        if let Some(s) = &self.slot {
            let key = (s.time, s.seq);
            let earlier = |e: Option<&Entry<E>>| e.is_some_and(|e| (e.time, e.seq) < key);
            if !earlier(self.binary.peek()) && !earlier(self.fifo.front()) {
                return self.slot.take();
            }
        }
        let take_fifo = match (self.binary.peek(), self.fifo.front()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(h), Some(f)) => (f.time, f.seq) < (h.time, h.seq),
        };
        if take_fifo {
            self.fifo.pop_front()
        } else {
            self.binary.pop()
        }
    }

    /// `pop_entry` while the heap is the radix heap.
    fn pop_radix(&mut self) -> Option<Entry<E>> {
        let heap = self.heap.min_key();
        let fifo = self.fifo.front().map(Entry::key);
        let slot = self.slot.as_ref().map(Entry::key);
        let earlier = |a: Option<u128>, b: Option<u128>| match (a, b) {
            (Some(a), Some(b)) => a < b,
            (a, _) => a.is_some(),
        };
        if earlier(slot, heap) && earlier(slot, fifo) {
            self.slot.take()
        } else if earlier(fifo, heap) {
            self.fifo.pop_front()
        } else if heap.is_none() {
            None
        } else {
            let e = self.heap.pop_min();
            if self.heap.len < BINARY_BELOW {
                self.move_to_binary();
            }
            Some(e)
        }
    }

    #[inline]
    fn heap_min(&mut self) -> Option<u128> {
        if self.radix_mode {
            self.heap.min_key()
        } else {
            self.binary.peek().map(Entry::key)
        }
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        let heap = self.heap_min();
        let fifo = self.fifo.front().map(Entry::key);
        let slot = self.slot.as_ref().map(Entry::key);
        [heap, fifo, slot]
            .into_iter()
            .flatten()
            .min()
            .map(|k| SimTime((k >> 64) as u64))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.binary.len() + self.heap.len + self.fifo.len() + usize::from(self.slot.is_some())
    }

    /// True if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a reference ordered set, over random schedules like a simulation's: pushes
    /// from `now` on at every scale (equal times, nanoseconds, seconds, far future), FIFO
    /// lane and slot mixed in, pending counts from a handful to thousands. Every pop must
    /// be the reference's smallest `(time, seq)`.
    #[test]
    fn pops_exactly_in_time_then_insertion_order() {
        use crate::engine::SimRng;
        use std::collections::BTreeSet;
        // (seed, pending count to drift to in even and in odd phases of 5,000 steps): the
        // last two cross between the binary and the radix heap again and again.
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
                    let delay = match rng.below(6) {
                        0 => 0,
                        1 => rng.below(10),
                        2 => rng.below(1_000_000),
                        3 => rng.below(1 << 40),
                        4 => u64::MAX / 4 - rng.below(1 << 20),
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
