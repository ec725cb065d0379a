//! A tournament tree over a pool's backends: the smallest key, how many backends share
//! it, and the first or the `k`-th of them in pool order, for "least" balancers whose
//! rule is "the minimum, ties by pool order" (HAProxy `first`, least response time,
//! HAProxy `leastconn` FIFO) or "the minimum, ties uniformly at random" (join the shortest
//! queue, HAProxy `leastconn` random): O(log n) per key change and per pick instead of a
//! scan of every backend per pick.
//!
//! Each internal node holds the smallest key below it and how many leaves hold that key;
//! leaves past the pool (the tree is a power of two wide) hold the key `max`, which the
//! owner also gives ineligible backends. Searching from the root for the `k`-th leaf at
//! the minimum goes left when the left child holds the minimum and more than `k` of them.

use super::NO_EPOCH;
pub(super) use super::least_conn::INDEX_MIN;

/// See the module documentation.
#[derive(Clone, Debug)]
pub(super) struct MinTree<K> {
    /// The pool epoch the tree was built for ([`NO_EPOCH`]: not built).
    pub(super) epoch: u64,
    /// Leaves in use (the pool's size).
    n: usize,
    /// Leaves, a power of two ≥ `n`; node `i`'s children are `2i` and `2i + 1`, leaf `j` is
    /// node `width + j`.
    width: usize,
    /// Per node: the smallest key below it and how many leaves hold it (children side by
    /// side, so a node's update reads one cache line).
    node: Vec<(K, u32)>,
    /// The key of "not a candidate".
    max: K,
    /// Whether nodes count the leaves at their minimum (for [`nth_min`](Self::nth_min));
    /// without, a change stops climbing as soon as a node's minimum stays the same.
    counts: bool,
}

impl<K: Copy + Ord> MinTree<K> {
    /// An empty tree whose "not a candidate" key is `max`, counting ties (for a uniform
    /// choice among them).
    pub(super) fn new(max: K) -> Self {
        MinTree {
            epoch: NO_EPOCH,
            n: 0,
            width: 0,
            node: Vec::new(),
            max,
            counts: true,
        }
    }

    /// An empty tree that finds only the first leaf at the minimum (its counts are all 1).
    pub(super) fn first_only(max: K) -> Self {
        MinTree {
            counts: false,
            ..Self::new(max)
        }
    }

    /// Whether the tree is built (for some epoch).
    #[inline]
    pub(super) fn built(&self) -> bool {
        self.epoch != NO_EPOCH
    }

    /// Forgets the tree (the next pick rebuilds it).
    #[inline]
    pub(super) fn invalidate(&mut self) {
        self.epoch = NO_EPOCH;
    }

    /// Builds the tree over `n` leaves with the keys `key(0..n)`, for pool epoch `epoch`.
    /// Allocates only when the pool is larger than any before.
    pub(super) fn build(&mut self, epoch: u64, n: usize, key: impl Fn(usize) -> K) {
        let width = n.next_power_of_two().max(1);
        self.epoch = epoch;
        self.n = n;
        self.width = width;
        self.node.clear();
        self.node.resize(2 * width, (self.max, 1));
        for j in 0..n {
            self.node[width + j].0 = key(j);
        }
        for i in (1..width).rev() {
            self.pull(i);
        }
    }

    /// Recomputes node `i` from its children.
    #[inline(always)]
    fn pull(&mut self, i: usize) {
        self.node[i] = self.merged(i);
    }

    /// Node `i` as its children make it.
    #[inline(always)]
    fn merged(&self, i: usize) -> (K, u32) {
        use std::hint::select_unpredictable as select;
        let (l, r) = (self.node[2 * i], self.node[2 * i + 1]);
        // Selects, not branches: which child holds the minimum is as good as random, and
        // a mispredicted branch at every level of every climb cost more than the work.
        let key = select(r.0 < l.0, r.0, l.0);
        if !self.counts {
            return (key, 1);
        }
        let count = select(l.0 == key, l.1, 0) + select(r.0 == key, r.1, 0);
        (key, count)
    }

    /// The key of leaf `j`.
    #[inline]
    pub(super) fn get(&self, j: usize) -> K {
        self.node[self.width + j].0
    }

    /// Number of leaves in use.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.n
    }

    /// Sets leaf `j`'s key.
    pub(super) fn set(&mut self, j: usize, key: K) {
        debug_assert!(j < self.n);
        let mut i = self.width + j;
        if self.node[i].0 == key {
            return;
        }
        self.node[i].0 = key;
        while i > 1 {
            i /= 2;
            let m = self.merged(i);
            let n = self.node[i];
            if (m.0 == n.0) & (m.1 == n.1) {
                break;
            }
            self.node[i] = m;
        }
    }

    /// The smallest key and how many leaves hold it (1 if the tree does not count); `None`
    /// if no leaf holds a key below `max`.
    #[inline]
    pub(super) fn min(&self) -> Option<(K, u32)> {
        (self.n > 0 && self.node[1].0 != self.max).then(|| self.node[1])
    }

    /// The `k`-th leaf (0-based, in leaf order) holding the smallest key; `k` must be below
    /// [`min`](Self::min)'s count (0 if the tree does not count).
    pub(super) fn nth_min(&self, mut k: u32) -> usize {
        debug_assert!(self.counts || k == 0);
        let target = self.node[1].0;
        let mut i = 1;
        // Written without branches on the keys: which way the search goes is as good as
        // random, and a mispredicted branch per level cost more than the arithmetic.
        while i < self.width {
            let l = 2 * i;
            let (key, count) = self.node[l];
            let at_min = key == target;
            let left = at_min && k < count;
            k -= if at_min && !left { count } else { 0 };
            i = l + usize::from(!left);
        }
        i - self.width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan the tree replaces: the minimum, its count and the leaves holding it.
    fn scan(keys: &[u32]) -> Option<(u32, Vec<usize>)> {
        let m = *keys.iter().filter(|&&k| k != u32::MAX).min()?;
        Some((
            m,
            (0..keys.len())
                .filter(|&j| keys[j] == m)
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn agrees_with_a_scan_under_random_updates() {
        let mut rng = crate::balancer::testutil::rng();
        for n in [1usize, 2, 3, 5, 64, 100, 1000] {
            let mut keys: Vec<u32> = (0..n).map(|_| rng.below(4) as u32).collect();
            let mut t = MinTree::new(u32::MAX);
            t.build(1, n, |j| keys[j]);
            let mut f = MinTree::first_only(u32::MAX);
            f.build(1, n, |j| keys[j]);
            for step in 0..5_000 {
                let j = rng.below(n as u64) as usize;
                // Keys from a small range so that ties are common; some leave (max).
                let k = match rng.below(10) {
                    0 => u32::MAX,
                    x => (x as u32 + step % 3) / 2,
                };
                keys[j] = k;
                t.set(j, k);
                f.set(j, k);
                assert_eq!(t.get(j), k);
                match scan(&keys) {
                    None => assert_eq!((t.min(), f.min()), (None, None), "n={n} step={step}"),
                    Some((m, at)) => {
                        assert_eq!(f.min(), Some((m, 1)), "n={n} step={step}");
                        assert_eq!(f.nth_min(0), at[0], "n={n} step={step}");
                        assert_eq!(t.min(), Some((m, at.len() as u32)), "n={n} step={step}");
                        for (k, &want) in at.iter().enumerate() {
                            assert_eq!(t.nth_min(k as u32), want, "n={n} step={step} k={k}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn empty_and_all_out() {
        let mut t = MinTree::new(u32::MAX);
        t.build(1, 0, |_| 0);
        assert_eq!(t.min(), None);
        t.build(2, 3, |_| u32::MAX);
        assert_eq!(t.min(), None);
        t.set(2, 5);
        assert_eq!(t.min(), Some((5, 1)));
        assert_eq!(t.nth_min(0), 2);
        assert!(t.built());
        t.invalidate();
        assert!(!t.built());
    }
}
