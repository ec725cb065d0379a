//! Where the event queue keeps its events while many are pending (`queue.rs`, `Store`): a
//! calendar queue (R. Brown, "Calendar queues: a fast O(1) priority queue implementation
//! for the simulation event set problem", CACM 31(10), 1988) of `(time, seq)` keys, each
//! with an event.
//!
//! Time is cut into *days* of `2^shift` ns; a day's entries go to bucket `day mod
//! buckets`, so one bucket holds days a *year* (`buckets` days) apart. Each bucket is a
//! list sorted by key, so its head is its least entry. The least entry of the whole queue
//! is kept at hand (`min`); after a pop the search for the next one starts at the popped
//! entry's day and walks forward day by day, each day one look at a bucket's head. With
//! about one bucket per entry and a day about twice the mean gap between the earliest
//! entries, a push walks past about one entry and a pop steps about one day: O(1) however
//! many events are pending, where a heap costs O(log n) (at 1,024 servers a 4-ary heap of
//! ~1,000 completions walked five levels per pop, each a dependent load).
//!
//! The order is exactly the heap's: keys are unique, and `pop` always returns the least.
//! What adapts is only the speed: the queue re-cuts its days and doubles or halves its
//! buckets as it grows and shrinks, and re-cuts them too when pushes and pops have walked
//! more than a few steps each since the last check (the spread of pending times changed).
//! Work that cannot adapt away is bounded: a burst of events at one time is appended at a
//! bucket's tail in O(1) (same-time keys arrive in sequence order), a year with no entry
//! at all ends in one pass over the buckets' heads, and re-cutting is O(n log n) once per
//! n operations. A spread that no cut of days serves (bursts a millisecond apart, each a
//! few nanoseconds wide) keeps the checks slow after re-cutting; two slow checks in a row
//! and [`Calendar::defeated`] says so, and the event queue moves the events to its heap.

use super::heap::Key;
#[cfg(test)]
use super::time::SimTime;

/// No entry.
const NIL: u32 = u32::MAX;
/// The fewest buckets: a queue never shrinks below this.
const MIN_BUCKETS: usize = 16;
/// A day is this many times the mean gap between the earliest pending times (rounded down
/// to a power of two ns). At 1,024 servers 2, 4 and 8 cost alike (cachegrind).
const DAY_GAPS: u64 = 2;
/// How many of the earliest entries set the length of a day.
const HEAD_SAMPLE: usize = 32;
/// Re-cut the days when pushes and pops have walked more than this many steps per pop
/// since the last check.
const MAX_STEPS_PER_POP: u64 = 4;

/// A list of entries, sorted by key, with its ends' keys at hand (looking at a bucket or
/// appending to it reads no entry).
#[derive(Copy, Clone)]
struct Bucket {
    head_key: Key,
    tail_key: Key,
    /// The first (least) and last entries, or `NIL` (then the keys are `Key::MAX`).
    head: u32,
    tail: u32,
}

const EMPTY: Bucket = Bucket {
    head_key: Key::MAX,
    tail_key: Key::MAX,
    head: NIL,
    tail: NIL,
};

/// A min-queue of keys, each with an event.
pub(super) struct Calendar<E> {
    /// Per entry: its key, the next entry in its bucket, its event.
    keys: Vec<Key>,
    next: Vec<u32>,
    events: Vec<E>,
    /// Free entries, most recently freed last (reused first, while still in cache).
    free: Vec<u32>,
    buckets: Vec<Bucket>,
    /// A day is `2^shift` ns.
    shift: u32,
    len: usize,
    /// No entry's day is earlier than this; the search for the least starts here.
    day: u64,
    /// The least entry, or `NIL` when empty.
    min: u32,
    /// Steps walked (entries passed by a push, empty days by a pop), in all.
    steps: u64,
    /// `steps` at the last check, pops since, and how many checks in a row found the queue
    /// slow.
    steps_at_check: u64,
    pops: u64,
    slow_checks: u32,
    /// Scratch for re-cutting (kept, so that it allocates only while the queue grows).
    live: Vec<u32>,
}

impl<E: Copy> Calendar<E> {
    pub(super) fn with_capacity(n: usize) -> Self {
        Calendar {
            keys: Vec::with_capacity(n),
            next: Vec::with_capacity(n),
            events: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            buckets: vec![EMPTY; MIN_BUCKETS],
            shift: 20,
            len: 0,
            day: 0,
            min: NIL,
            steps: 0,
            steps_at_check: 0,
            pops: 0,
            slow_checks: 0,
            live: Vec::new(),
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The least key.
    #[inline]
    pub(super) fn peek(&self) -> Option<Key> {
        (self.min != NIL).then(|| self.keys[self.min as usize])
    }

    /// The earliest event.
    #[inline]
    pub(super) fn peek_event(&self) -> Option<&E> {
        (self.min != NIL).then(|| &self.events[self.min as usize])
    }

    #[inline]
    fn day_of(&self, k: Key) -> u64 {
        k.time().0 >> self.shift
    }

    #[inline]
    fn bucket_of(&self, k: Key) -> usize {
        (self.day_of(k) as usize) & (self.buckets.len() - 1)
    }

    /// A free entry holding `key` and `event`, not yet in a bucket.
    #[inline]
    fn alloc(&mut self, key: Key, event: E) -> u32 {
        match self.free.pop() {
            Some(s) => {
                self.keys[s as usize] = key;
                self.events[s as usize] = event;
                s
            }
            None => {
                self.keys.push(key);
                self.next.push(NIL);
                self.events.push(event);
                u32::try_from(self.keys.len() - 1).expect("fewer than 2³² pending events")
            }
        }
    }

    pub(super) fn push(&mut self, key: Key, event: E) {
        let e = self.alloc(key, event);
        self.len += 1;
        if self.len > self.buckets.len() {
            // Re-cutting links `e` and finds the least entry.
            self.live.push(e);
            self.recut(self.buckets.len() * 2);
            return;
        }
        self.link(e);
        if self.min == NIL || key < self.keys[self.min as usize] {
            self.min = e;
            self.day = self.day_of(key);
        }
    }

    /// Fills an empty queue with `entries` at once, cut to their spread.
    pub(super) fn fill(&mut self, entries: impl IntoIterator<Item = (Key, E)>) {
        debug_assert_eq!(self.len, 0);
        for (k, e) in entries {
            let e = self.alloc(k, e);
            self.live.push(e);
        }
        self.len = self.live.len();
        self.steps_at_check = self.steps;
        self.pops = 0;
        self.slow_checks = 0;
        self.recut(self.len.next_power_of_two().max(MIN_BUCKETS));
    }

    /// Puts entry `e` into its bucket, keeping the bucket sorted.
    #[inline]
    fn link(&mut self, e: u32) {
        let key = self.keys[e as usize];
        let b = self.bucket_of(key);
        let bucket = &mut self.buckets[b];
        if bucket.head == NIL {
            *bucket = Bucket {
                head_key: key,
                tail_key: key,
                head: e,
                tail: e,
            };
            self.next[e as usize] = NIL;
        } else if key > bucket.tail_key {
            self.next[bucket.tail as usize] = e;
            self.next[e as usize] = NIL;
            bucket.tail = e;
            bucket.tail_key = key;
        } else if key < bucket.head_key {
            self.next[e as usize] = bucket.head;
            bucket.head = e;
            bucket.head_key = key;
        } else {
            // Somewhere inside: the tail is greater, so the walk ends before it.
            let mut p = bucket.head;
            loop {
                let n = self.next[p as usize];
                self.steps += 1;
                if self.keys[n as usize] > key {
                    self.next[e as usize] = n;
                    self.next[p as usize] = e;
                    break;
                }
                p = n;
            }
        }
    }

    /// Removes the least key and returns it with its event.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<(Key, E)> {
        if self.min == NIL {
            return None;
        }
        let m = self.min;
        let key = self.keys[m as usize];
        let event = self.events[m as usize];
        // The least entry is its bucket's head.
        let b = self.bucket_of(key);
        debug_assert_eq!(self.buckets[b].head, m);
        let n = self.next[m as usize];
        self.buckets[b] = if n == NIL {
            EMPTY
        } else {
            Bucket {
                head_key: self.keys[n as usize],
                head: n,
                ..self.buckets[b]
            }
        };
        self.free.push(m);
        self.len -= 1;
        self.pops += 1;
        let nb = self.buckets.len();
        let walked = self.steps - self.steps_at_check;
        if self.pops >= nb as u64 || walked > 8 * nb as u64 {
            // A check: slow if pushes and pops walked more than a few steps per pop.
            let slow = walked > MAX_STEPS_PER_POP * self.pops;
            self.steps_at_check = self.steps;
            self.pops = 0;
            self.slow_checks = if slow { self.slow_checks + 1 } else { 0 };
            let shrink = self.len < nb / 4 && nb > MIN_BUCKETS;
            if slow || shrink {
                self.recut(if shrink { nb / 2 } else { nb });
                return Some((key, event));
            }
        }
        self.find_min();
        Some((key, event))
    }

    /// Finds the least entry, walking forward from `day`.
    #[inline]
    fn find_min(&mut self) {
        if self.len == 0 {
            self.min = NIL;
            return;
        }
        let mask = self.buckets.len() - 1;
        for _ in 0..self.buckets.len() {
            let d = self.day;
            let bucket = &self.buckets[(d as usize) & mask];
            if bucket.head != NIL && self.day_of(bucket.head_key) == d {
                self.min = bucket.head;
                return;
            }
            self.steps += 1;
            self.day = self.day.wrapping_add(1);
        }
        // A whole year without an entry: the least of the buckets' heads.
        self.steps += self.buckets.len() as u64;
        self.min = NIL;
        let mut least = Key::MAX;
        for bucket in &self.buckets {
            if bucket.head != NIL && bucket.head_key <= least {
                least = bucket.head_key;
                self.min = bucket.head;
            }
        }
        self.day = self.day_of(least);
    }

    /// Re-cuts the days to the pending times and re-buckets every entry (and those in
    /// `live`, new entries not yet in a bucket) into `nb` buckets; finds the least entry.
    #[cold]
    fn recut(&mut self, nb: usize) {
        let mut live = std::mem::take(&mut self.live);
        for bucket in &self.buckets {
            let mut e = bucket.head;
            while e != NIL {
                live.push(e);
                e = self.next[e as usize];
            }
        }
        live.sort_unstable_by_key(|&e| self.keys[e as usize]);
        // The mean gap among the earliest entries, those popped next (Brown's rule; far
        // ones only sit at their buckets' tails): over the first 32, or more while those
        // are all at one time.
        if live.len() >= 2 {
            let t = |i: usize| self.keys[live[i] as usize].time().0;
            let last = live.len() - 1;
            let mut k = last.min(HEAD_SAMPLE);
            while t(k) == t(0) && k < last {
                k = (2 * k).min(last);
            }
            let gap = (t(k) - t(0)) / k as u64;
            let day = gap.saturating_mul(DAY_GAPS).max(1);
            self.shift = 63 - day.leading_zeros();
        }
        self.buckets.clear();
        self.buckets.resize(nb, EMPTY);
        // In key order, each entry is appended at its bucket's tail.
        for &e in &live {
            self.link(e);
        }
        self.min = NIL;
        if let Some(&m) = live.first() {
            self.min = m;
            self.day = self.day_of(self.keys[m as usize]);
        }
        live.clear();
        self.live = live;
    }

    /// True once two checks in a row found the queue slow: re-cutting the days did not
    /// help, the spread of pending times defeats a calendar, and the caller should move
    /// the entries to a heap (O(log n) whatever the spread).
    #[inline]
    pub(super) fn defeated(&self) -> bool {
        self.slow_checks >= 2
    }

    /// Hands every entry to `to`, in no particular order, and empties the queue.
    pub(super) fn drain(&mut self, mut to: impl FnMut(Key, E)) {
        for b in 0..self.buckets.len() {
            let mut e = std::mem::replace(&mut self.buckets[b], EMPTY).head;
            while e != NIL {
                to(self.keys[e as usize], self.events[e as usize]);
                self.free.push(e);
                e = self.next[e as usize];
            }
        }
        self.len = 0;
        self.min = NIL;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::engine::SimRng;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// How a pushed time in `ops` is meant.
    #[derive(Copy, Clone)]
    enum Times {
        /// After the last popped time (saturating).
        AfterNow,
        Absolute,
    }

    /// Pushes (`Some(time)`) and pops (`None`) per `ops` against the standard library's
    /// binary heap; every pop, peek and length must agree. Returns the number of pops.
    fn agrees_with_binary_heap(ops: impl IntoIterator<Item = Option<u64>>, times: Times) -> usize {
        let mut cal = Calendar::with_capacity(4);
        let mut oracle = BinaryHeap::new();
        let mut seq = 0u64;
        let mut popped = 0;
        let mut now = 0u64;
        for op in ops {
            match op {
                Some(t) => {
                    let t = match times {
                        Times::AfterNow => now.saturating_add(t),
                        Times::Absolute => t,
                    };
                    let k = Key::new(SimTime(t), seq);
                    cal.push(k, seq);
                    oracle.push(Reverse((k, seq)));
                    seq += 1;
                }
                None => {
                    let want = oracle.pop().map(|Reverse(x)| x);
                    assert_eq!(cal.peek(), want.map(|w| w.0));
                    let got = cal.pop();
                    assert_eq!(got, want, "pop {popped}");
                    if let Some((k, _)) = got {
                        now = k.time().0;
                    }
                    popped += 1;
                }
            }
            assert_eq!(cal.len(), oracle.len());
        }
        while let Some(Reverse(want)) = oracle.pop() {
            assert_eq!(cal.pop(), Some(want));
        }
        assert_eq!(cal.pop(), None);
        assert_eq!(cal.len(), 0);
        popped
    }

    /// Random mixes: exponential gaps at several scales, bursts at one instant, far-future
    /// and end-of-time events, growth to thousands pending and shrinking back to none.
    #[test]
    fn pops_exactly_what_a_binary_heap_pops() {
        let mut rng = SimRng::from_seed_u64(7);
        let mut ops = Vec::new();
        for phase in 0..6u64 {
            let n = 4000;
            let p_push = [0.7, 0.5, 0.3, 0.55, 0.5, 0.2][phase as usize];
            for _ in 0..n {
                if rng.next_f64() < p_push {
                    let dt = match rng.below(20) {
                        0 => 0,                 // now
                        1 => u64::MAX,          // the end of time
                        2 => 3_600_000_000_000, // an hour ahead
                        3 => rng.below(1000),   // nanoseconds
                        _ => (rng.next_f64() * 1e9 * (phase + 1) as f64) as u64,
                    };
                    ops.push(Some(dt));
                    if rng.below(100) == 0 {
                        // A burst at one time.
                        ops.extend(std::iter::repeat_n(Some(dt), 300));
                    }
                } else {
                    ops.push(None);
                }
            }
        }
        assert!(agrees_with_binary_heap(ops, Times::AfterNow) > 8000);
    }

    /// Keys at the very end of time still come out in order (the heap's test vector).
    #[test]
    fn end_of_time_keys_pop_in_order() {
        use crate::engine::heap::tests::{END_OF_TIME, END_OF_TIME_POPS};
        let mut c = Calendar::with_capacity(4);
        for (n, &(t, s)) in END_OF_TIME.iter().enumerate() {
            c.push(Key::new(SimTime(t), s), n);
        }
        let mut out = Vec::new();
        while let Some((k, e)) = c.pop() {
            out.push((k.time().0, k.seq(), e));
        }
        assert_eq!(out, END_OF_TIME_POPS);
    }

    /// The O(1) claim, counted rather than timed: in a steady state like the benchmark's
    /// (1,000 pending completions, exponential service), pushes and pops walk about one
    /// step per pop, and there is about one bucket per entry.
    #[test]
    fn steady_state_walks_a_step_or_so_per_pop() {
        let mut rng = SimRng::from_seed_u64(3);
        let mut c = Calendar::with_capacity(4);
        let exp = |rng: &mut SimRng| (-rng.next_f64().ln() * 1e9) as u64;
        for seq in 0..1000 {
            c.push(Key::new(SimTime(exp(&mut rng)), seq), ());
        }
        let start = c.steps;
        for seq in 1000..201_000 {
            let (k, ()) = c.pop().unwrap();
            c.push(Key::new(SimTime(k.time().0 + exp(&mut rng)), seq), ());
        }
        let steps = c.steps - start;
        assert!(steps < 2 * 200_000, "{steps} steps in 200,000 pops");
        assert!(
            (512..=2048).contains(&c.buckets.len()),
            "{}",
            c.buckets.len()
        );
        assert!(!c.defeated());
    }

    /// A spread that moves stays O(1) amortised: a 100,000-event burst at one instant
    /// (appended, never walked), then pending times spread over one to 10¹¹ ns in turn.
    #[test]
    fn bursts_and_changing_spreads_stay_cheap() {
        let mut c = Calendar::with_capacity(4);
        for seq in 0..100_000 {
            c.push(Key::new(SimTime(5), seq), ());
        }
        assert_eq!(c.steps, 0);
        let mut rng = SimRng::from_seed_u64(11);
        let mut seq = 100_000;
        for phase in 0..12 {
            let scale = 10f64.powi(phase);
            for _ in 0..100_000 {
                let (k, ()) = c.pop().unwrap();
                let t = k.time().0 + (rng.next_f64() * scale) as u64;
                c.push(Key::new(SimTime(t), seq), ());
                seq += 1;
            }
        }
        assert!(c.steps < 10 * 1_200_000, "{} steps", c.steps);
        assert!(!c.defeated());
    }

    /// Bursts: 200 bursts a millisecond apart, each of 50 events a nanosecond apart, and
    /// each pop replaced by one 200 ms later (the same pattern on). A day cut to a burst's
    /// spacing leaves a millisecond of empty days between bursts; each burst ends in a year
    /// of empty days and a pass over every bucket. Two checks in a row find it slow, and
    /// the queue says so (the event queue then moves to its heap). Exact while it lasts.
    pub(crate) fn burst_time(i: u64) -> u64 {
        (i / 50) % 200 * 1_000_000 + i % 50 + i / 10_000 * 200_000_000
    }

    #[test]
    fn bursts_defeat_it_and_it_says_so() {
        let mut c = Calendar::with_capacity(4);
        for seq in 0..10_000 {
            c.push(Key::new(SimTime(burst_time(seq)), seq), ());
        }
        let mut seq = 10_000;
        while !c.defeated() && seq < 40_000 {
            let (k, ()) = c.pop().unwrap();
            let t = burst_time(seq);
            assert!(t >= k.time().0);
            c.push(Key::new(SimTime(t), seq), ());
            seq += 1;
        }
        assert!(c.defeated(), "not defeated after {} pops", seq - 10_000);
        let ops = (0..10_000)
            .map(|i| Some(burst_time(i)))
            .chain((10_000..30_000).flat_map(|i| [None, Some(burst_time(i))]));
        agrees_with_binary_heap(ops, Times::Absolute);
    }

    /// Draining hands over every entry once.
    #[test]
    fn drain_hands_over_every_entry() {
        let mut c = Calendar::with_capacity(4);
        for seq in 0..1000u64 {
            c.push(Key::new(SimTime(seq * 7919 % 1000), seq), seq);
        }
        c.pop();
        let mut got = Vec::new();
        c.drain(|k, e| got.push((k.seq(), e)));
        got.sort_unstable();
        assert_eq!(got.len(), 999);
        assert!(got.iter().all(|&(k, e)| k == e));
        assert_eq!((c.len(), c.pop()), (0, None));
        c.push(Key::new(SimTime(1), 5000), 1);
        assert_eq!(c.pop().map(|(k, _)| k.seq()), Some(5000));
    }
}
