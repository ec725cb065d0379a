//! The event queue's heap, which holds the events while fewer than about a hundred are
//! pending (and for good if a calendar queue is defeated, see `queue.rs`): a 4-ary
//! min-heap of 16-byte `(time, seq)` keys, laid out so that a node's four children share
//! one 64-byte cache line, with the events themselves in a slab beside it.
//!
//! With a thousand pending completions (1,024 servers; the calendar holds them now), a
//! `std::collections::BinaryHeap` of 40-byte entries, walking its ten levels, cost 6.2
//! more L1 misses per request than at 16 servers (cachegrind, `lblab bench --servers
//! 1024`). Here a pop walks at most five levels, each one cache line of keys; the keys of
//! a thousand events fit in 16 KiB, and an event is read once, when it is popped (3.3
//! more misses). The least of four children is a tournament of three `u128` comparisons.
//!
//! Positions at and beyond `len` hold [`SENTINEL`], which no real key reaches (no run
//! schedules its 2⁶⁴-th event), so a pop compares all four children of a node without
//! checking which of them exist.

use super::time::SimTime;

/// A pending event's place in time: earliest time first, then earliest scheduled. One
/// `u128` (time in the high half), so that comparing two is two instructions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key(u128);

impl Key {
    /// Greater than or equal to every key.
    pub(super) const MAX: Key = Key(u128::MAX);

    #[inline]
    pub(super) fn new(time: SimTime, seq: u64) -> Key {
        Key(u128::from(time.0) << 64 | u128::from(seq))
    }

    #[inline]
    pub(super) fn time(self) -> SimTime {
        SimTime((self.0 >> 64) as u64)
    }

    #[inline]
    pub(super) fn seq(self) -> u64 {
        self.0 as u64
    }
}

/// Greater than every key a queue gives out.
const SENTINEL: Key = Key::MAX;

/// Four sibling keys: one cache line.
#[derive(Copy, Clone)]
#[repr(C, align(64))]
struct Group([Key; 4]);

const EMPTY: Group = Group([SENTINEL; 4]);

/// Node `i`'s key lives at `groups[(i + 3) / 4][(i + 3) % 4]`: the root is the last key of
/// group 0, and node `i`'s children (`4i + 1 ..= 4i + 4`) are exactly group `i + 1`.
#[inline]
fn at(i: usize) -> (usize, usize) {
    ((i + 3) >> 2, (i + 3) & 3)
}

/// A min-heap of keys, each with an event.
pub(super) struct Heap<E> {
    groups: Vec<Group>,
    /// Node `i`'s event: an index into `events`.
    slots: Vec<u32>,
    len: usize,
    events: Vec<E>,
    /// Free indices of `events`, most recently freed last (reused first, while still in
    /// cache).
    free: Vec<u32>,
}

impl<E: Copy> Heap<E> {
    pub(super) fn with_capacity(n: usize) -> Self {
        Heap {
            groups: vec![EMPTY; n / 4 + 1],
            slots: Vec::with_capacity(n),
            len: 0,
            events: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn key(&self, i: usize) -> Key {
        let (g, k) = at(i);
        self.groups[g].0[k]
    }

    #[inline]
    fn set(&mut self, i: usize, key: Key, slot: u32) {
        let (g, k) = at(i);
        self.groups[g].0[k] = key;
        self.slots[i] = slot;
    }

    /// The smallest key.
    #[inline]
    pub(super) fn peek(&self) -> Option<Key> {
        (self.len > 0).then(|| self.groups[0].0[3])
    }

    /// The earliest event.
    #[inline]
    pub(super) fn peek_event(&self) -> Option<&E> {
        (self.len > 0).then(|| &self.events[self.slots[0] as usize])
    }

    pub(super) fn push(&mut self, key: Key, event: E) {
        debug_assert!(key < SENTINEL);
        let slot = match self.free.pop() {
            Some(s) => {
                self.events[s as usize] = event;
                s
            }
            None => {
                self.events.push(event);
                u32::try_from(self.events.len() - 1).expect("fewer than 2³² pending events")
            }
        };
        let mut i = self.len;
        self.len += 1;
        if at(i).0 == self.groups.len() {
            self.groups.push(EMPTY);
        }
        if i == self.slots.len() {
            self.slots.push(slot);
        }
        while i > 0 {
            let parent = (i - 1) >> 2;
            let pk = self.key(parent);
            if key >= pk {
                break;
            }
            let ps = self.slots[parent];
            self.set(i, pk, ps);
            i = parent;
        }
        self.set(i, key, slot);
    }

    /// Removes the smallest key and returns it with its event.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<(Key, E)> {
        if self.len == 0 {
            return None;
        }
        let top = self.groups[0].0[3];
        let top_slot = self.slots[0];
        self.len -= 1;
        let n = self.len;
        if n > 0 {
            // Take the last node out (its place becomes a sentinel) and sift it down from
            // the root, each step moving the smallest of four children up.
            let last = self.key(n);
            let last_slot = self.slots[n];
            let (g, k) = at(n);
            self.groups[g].0[k] = SENTINEL;
            let mut hole = 0;
            while 4 * hole + 1 < n {
                let c = &self.groups[hole + 1].0;
                let (a, ak) = if c[1] < c[0] { (1, c[1]) } else { (0, c[0]) };
                let (b, bk) = if c[3] < c[2] { (3, c[3]) } else { (2, c[2]) };
                let (m, mk) = if bk < ak { (b, bk) } else { (a, ak) };
                if last <= mk {
                    break;
                }
                let child = 4 * hole + 1 + m;
                let cs = self.slots[child];
                self.set(hole, mk, cs);
                hole = child;
            }
            self.set(hole, last, last_slot);
        } else {
            self.groups[0].0[3] = SENTINEL;
        }
        self.free.push(top_slot);
        Some((top, self.events[top_slot as usize]))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The layout the heap's speed rests on: one group is one aligned cache line, and
    /// node `i`'s children are group `i + 1`.
    #[test]
    fn children_share_one_cache_line() {
        assert_eq!(std::mem::size_of::<Key>(), 16);
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::align_of::<Group>(), 64);
        for i in 0..100 {
            for c in 4 * i + 1..=4 * i + 4 {
                assert_eq!(at(c).0, i + 1);
            }
        }
        assert_eq!(at(0), (0, 3));
    }

    /// Keys at the very end of time, pushed in this order (event = position)...
    pub(in crate::engine) const END_OF_TIME: [(u64, u64); 5] =
        [(u64::MAX, 7), (u64::MAX, 3), (5, 9), (u64::MAX, 1), (0, 0)];
    /// ...come out in this order: `(time, seq, event)`.
    pub(in crate::engine) const END_OF_TIME_POPS: [(u64, u64, usize); 5] = [
        (0, 0, 4),
        (5, 9, 2),
        (u64::MAX, 1, 3),
        (u64::MAX, 3, 1),
        (u64::MAX, 7, 0),
    ];

    /// Keys at the very end of time still come out in order, ahead of the sentinels.
    #[test]
    fn end_of_time_keys_pop_in_order() {
        let mut h = Heap::with_capacity(4);
        for (n, &(t, s)) in END_OF_TIME.iter().enumerate() {
            h.push(Key::new(SimTime(t), s), n);
        }
        let mut out = Vec::new();
        while let Some((k, e)) = h.pop() {
            out.push((k.time().0, k.seq(), e));
        }
        assert_eq!(out, END_OF_TIME_POPS);
        assert_eq!(h.len(), 0);
    }
}
