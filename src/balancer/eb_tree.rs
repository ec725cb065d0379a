//! HAProxy's eb32 trees with duplicates, as `lb_fwrr.c` (HAProxy `balance roundrobin`)
//! uses them: the smallest key first, equal keys in insertion order.

use std::collections::VecDeque;

use super::indexed_heap::IndexedHeap;

/// A tree key. The `curr` tree uses `(npos, (4096 + rweight − eweight) / 16)`, which for
/// weights ≤ 256 orders exactly like HAProxy's `256·npos + (4096 + rweight − eweight)/16`;
/// the weight trees use `(4096 − eweight, 0)` (heavier first).
pub(super) type Key = (i64, i64);

/// An eb32 tree with duplicates: smallest key first, equal keys in insertion order.
///
/// Members are ordered by `(key, insertion sequence)` and kept in two places: a *ring*,
/// members inserted with a key at or above the ring's last one (so the ring is in order),
/// and an [`IndexedHeap`] for the rest. The first member is the smaller of the ring's
/// front and the heap's top. Round robin with equal weights only ever takes the first
/// member out and puts it back behind every other, so in a large pool it rotates the ring
/// in O(1) instead of sifting a heap of n; any other insert is O(log n) in the heap.
/// Removing a member from the middle of the ring (a server going down, a weight change)
/// moves the rest of the ring into the heap. Capacity is reserved on pool changes, so
/// inserts in `pick` do not allocate.
#[derive(Clone, Debug, Default)]
pub(super) struct EbTree {
    heap: IndexedHeap,
    /// Members in `(key, sequence)` order, each inserted at or after the one before it.
    ring: VecDeque<u32>,
    /// Per server id: the `(key, sequence)` it was inserted with.
    keys: Vec<(Key, u64)>,
    /// Per server id: it is in the ring (not the heap, if in the tree at all).
    in_ring: Vec<bool>,
    /// The next insertion's sequence number.
    seq: u64,
}

impl EbTree {
    pub(super) fn insert(&mut self, key: Key, id: u32) {
        let i = id as usize;
        if i >= self.keys.len() {
            self.keys.resize(i + 1, ((0, 0), 0));
            self.in_ring.resize(i + 1, false);
        }
        self.keys[i] = (key, self.seq);
        self.seq += 1;
        let keys = &self.keys;
        if self.ring.back().is_none_or(|&b| keys[b as usize].0 <= key) {
            self.ring.push_back(id);
            self.in_ring[i] = true;
        } else {
            self.heap
                .push(id, |a, b| keys[a as usize] < keys[b as usize]);
        }
    }

    pub(super) fn first(&self) -> Option<u32> {
        match (self.ring.front(), self.heap.first()) {
            (Some(&r), Some(h)) if self.keys[h as usize] < self.keys[r as usize] => Some(h),
            (Some(&r), _) => Some(r),
            (None, h) => h,
        }
    }

    pub(super) fn remove(&mut self, id: u32) {
        let keys = &self.keys;
        let before = |a: u32, b: u32| keys[a as usize] < keys[b as usize];
        if !self.in_ring.get(id as usize).copied().unwrap_or(false) {
            self.heap.remove(id, before);
            return;
        }
        self.in_ring[id as usize] = false;
        if self.ring.front() == Some(&id) {
            self.ring.pop_front();
            return;
        }
        for x in self.ring.drain(..) {
            if x != id {
                self.in_ring[x as usize] = false;
                self.heap.push(x, before);
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.heap.reset(self.keys.len());
        self.ring.clear();
        self.in_ring.fill(false);
    }

    pub(super) fn reserve_for(&mut self, n: usize) {
        self.heap.reserve(n);
        self.ring.reserve(n.saturating_sub(self.ring.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_in_insertion_order() {
        let mut t = EbTree::default();
        t.insert((1, 0), 10);
        t.insert((0, 0), 11);
        t.insert((1, 0), 12);
        t.insert((0, 0), 13);
        let mut out = Vec::new();
        while let Some(id) = t.first() {
            out.push(id);
            t.remove(id);
        }
        assert_eq!(out, [11, 13, 10, 12]);
    }

    #[test]
    fn the_heap_orders_as_a_sorted_list() {
        // Against the plain model of an eb32 tree with duplicates: a list sorted by key,
        // equal keys in insertion order; random inserts (few keys, many ties), removals of
        // any member and of the first.
        let mut r = crate::balancer::testutil::rng();
        let mut t = EbTree::default();
        let mut model: Vec<(Key, u32)> = Vec::new();
        for step in 0..100_000 {
            let id = r.below(300) as u32;
            let queued = model.iter().any(|e| e.1 == id);
            match r.below(3) {
                0 | 1 if !queued => {
                    let key = (r.below(8) as i64, r.below(2) as i64);
                    t.insert(key, id);
                    let at = model.partition_point(|e| e.0 <= key);
                    model.insert(at, (key, id));
                }
                0 => {
                    t.remove(id);
                    model.retain(|e| e.1 != id);
                }
                _ => {
                    if let Some(first) = t.first() {
                        t.remove(first);
                        model.remove(0);
                    }
                }
            }
            assert_eq!(t.first(), model.first().map(|e| e.1), "step {step}");
        }
    }

    /// Taking the first member out and putting it back with a larger key, as round robin
    /// with equal weights does, keeps every member in the ring; the order is a rotation.
    #[test]
    fn a_rotation_stays_in_the_ring() {
        let mut t = EbTree::default();
        for id in 0..100 {
            t.insert((0, 0), id);
        }
        let mut out = Vec::new();
        for step in 1..=1000 {
            let id = t.first().unwrap();
            out.push(id);
            t.remove(id);
            t.insert((step, 0), id);
        }
        assert!(t.heap.first().is_none() && t.ring.len() == 100);
        assert!(
            out.iter()
                .enumerate()
                .all(|(k, &id)| id as usize == k % 100)
        );
    }
}
