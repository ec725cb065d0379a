//! An ordered index over a large least-connections pool, so that nginx's `least_conn`
//! pick costs O(log n) instead of a scan of every backend, with the same choices.
//!
//! nginx picks the usable backend with the fewest requests in flight, the first in pool
//! order if it is alone at that minimum; if several tie, one smooth-WRR step over the tied
//! ones: each adds its effective weight to its current weight, the largest current wins
//! (the first in pool order on ties) and loses the tied total. When every usable backend
//! has the same effective weight `w` (every backend clean of failures, and the weights
//! equal or ignored), a step adds the same `w` to every member of the minimum level, so
//! a level can keep that sum once (`add`) and its members their current weight minus it
//! (`d`): the step's winner is then the member with the largest `d`, ties to the lowest
//! index, which is the first entry in the order `(level, −d, index)`. Moving a backend
//! between levels (its in-flight count changed) moves it in that order.
//!
//! The owner falls back to the scan whenever that premise fails (a failure, a recovering
//! effective weight, unequal weights) and rebuilds the index from the current weights once
//! it holds again.
//!
//! **Flat** (nginx's round robin: one level whatever the in-flight counts), a step's winner
//! loses `m·w` (`m` members) and, once the current weights lie within `m·w` of each other
//! (from the first round on, after a reset), lands behind every other member: the order is
//! a rotation. The flat index therefore keeps its members in a ring in the order `(−d,
//! index)` and puts each winner back by scanning from the end, O(1) per pick; should a
//! winner need more than [`ROTATE_SCAN`] places (current weights spread out by
//! availability changes), the index moves its members into the heap for the rest of the
//! epoch, so no pick costs more than O(log n).

use std::collections::VecDeque;

use super::indexed_heap::{IndexedHeap, OUT};
use super::{Backend, NO_EPOCH, PoolView};

/// How far from the end of a flat index's ring a winner may go back in before the index
/// turns to its heap.
const ROTATE_SCAN: usize = 8;

/// See the module documentation. The order is kept in an indexed binary heap whose top is
/// the entry `(level, −d, index)` that sorts first; its arrays are sized to the pool when
/// it is built, so keeping it allocates nothing per request.
#[derive(Clone, Debug)]
pub(super) struct LcIndex {
    /// The pool epoch it was built for.
    pub(super) epoch: u64,
    /// The backend indices, ordered by [`before`].
    heap: IndexedHeap,
    /// Per backend: its level (in-flight count) in the index.
    level: Vec<u32>,
    /// Per backend: current weight minus its level's `add`.
    d: Vec<i64>,
    /// Per level: members, and the smooth-WRR weight added to each of them so far.
    count: Vec<u32>,
    add: Vec<i64>,
    /// The effective weight every member adds per step.
    w: i64,
    /// Flat and rotating: the members in the order `(−d, index)` (the heap is empty).
    ring: VecDeque<u32>,
    rotating: bool,
    /// [`ROTATE_SCAN`], or another limit for tests.
    rotate_scan: usize,
}

impl Default for LcIndex {
    fn default() -> Self {
        LcIndex {
            epoch: NO_EPOCH,
            heap: IndexedHeap::default(),
            level: Vec::new(),
            d: Vec::new(),
            count: Vec::new(),
            add: Vec::new(),
            w: 1,
            ring: VecDeque::new(),
            rotating: false,
            rotate_scan: ROTATE_SCAN,
        }
    }
}

impl LcIndex {
    /// Builds the index over `pool`'s backends for which `usable` holds, each adding `w`
    /// per step, from the current weights `current`. `flat`: every backend on one level
    /// whatever its in-flight count (plain smooth WRR, as nginx's round robin).
    pub(super) fn build(
        &mut self,
        pool: &PoolView<'_>,
        current: &[i64],
        w: i64,
        flat: bool,
        usable: impl Fn(usize, &Backend) -> bool,
    ) {
        let n = pool.len();
        self.epoch = pool.epoch();
        self.w = w;
        self.heap.reset(n);
        self.level.clear();
        self.level.resize(n, 0);
        self.d.clear();
        self.d.resize(n, 0);
        self.count.clear();
        self.add.clear();
        // Room for in-flight counts up to a few per backend before anything grows.
        self.grow(16);
        self.ring.clear();
        self.rotating = flat;
        for (i, b) in pool.backends.iter().enumerate() {
            if usable(i, b) {
                let lv = if flat { 0 } else { b.in_flight };
                self.grow(lv);
                self.level[i] = lv;
                self.d[i] = current[i];
                self.count[lv as usize] += 1;
                if flat {
                    self.ring.push_back(i as u32);
                } else {
                    let (level, d) = (&self.level, &self.d);
                    self.heap.push(i as u32, |a, b| before(level, d, a, b));
                }
            }
        }
        if flat {
            let d = &self.d;
            self.ring
                .make_contiguous()
                .sort_unstable_by_key(|&i| (-d[i as usize], i));
        }
    }

    /// A flat index's ring after its winner `i` (already out of it) lost its step: `i` goes
    /// back in its place from the end, or, if that is too far, every member goes into the
    /// heap.
    fn rotate(&mut self, i: u32) {
        let d = &self.d;
        let key = |x: u32| (-d[x as usize], x);
        let k = key(i);
        let mut p = self.ring.len();
        while p > 0 && key(self.ring[p - 1]) > k {
            if self.ring.len() - p == self.rotate_scan {
                self.rotating = false;
                self.ring.push_back(i);
                for x in std::mem::take(&mut self.ring) {
                    let (level, d) = (&self.level, &self.d);
                    self.heap.push(x, |a, b| before(level, d, a, b));
                }
                return;
            }
            p -= 1;
        }
        self.ring.insert(p, i);
    }

    fn grow(&mut self, level: u32) {
        let need = level as usize + 1;
        if self.count.len() < need {
            let to = need.max(2 * self.count.len());
            self.count.resize(to, 0);
            self.add.resize(to, 0);
        }
    }

    /// Backend `i`'s in-flight count is now `v`.
    #[inline]
    pub(super) fn set_in_flight(&mut self, i: usize, v: u32) {
        let Some(at) = self.heap.pos(i as u32) else {
            return;
        };
        let old = self.level[i];
        if at == OUT || old == v {
            return;
        }
        let c = self.d[i] + self.add[old as usize];
        self.count[old as usize] -= 1;
        self.grow(v);
        self.d[i] = c - self.add[v as usize];
        self.count[v as usize] += 1;
        self.level[i] = v;
        let (level, d) = (&self.level, &self.d);
        let before = |a, b| before(level, d, a, b);
        if v < old {
            self.heap.raised(i as u32, before);
        } else {
            self.heap.lowered(i as u32, before);
        }
    }

    /// nginx's choice: the only backend at the lowest level, or the winner of a
    /// smooth-WRR step over that level (which moves the current weights).
    #[inline]
    pub(super) fn pick(&mut self) -> Option<usize> {
        if self.rotating {
            let i = *self.ring.front()?;
            let tied = self.count[0];
            if tied > 1 {
                self.add[0] += self.w;
                self.d[i as usize] -= i64::from(tied) * self.w;
                self.ring.pop_front();
                self.rotate(i);
            }
            return Some(i as usize);
        }
        let i = self.heap.first()?;
        let lv = self.level[i as usize] as usize;
        let tied = self.count[lv];
        if tied > 1 {
            self.add[lv] += self.w;
            self.d[i as usize] -= i64::from(tied) * self.w;
            let (level, d) = (&self.level, &self.d);
            self.heap.lowered(i, |a, b| before(level, d, a, b));
        }
        Some(i as usize)
    }

    /// Writes every member's current weight into `current` (the scan goes on from there);
    /// nothing if it is not built.
    pub(super) fn materialize(&self, current: &mut [i64]) {
        if !self.built() {
            return;
        }
        if self.rotating {
            for &i in &self.ring {
                current[i as usize] = self.d[i as usize] + self.add[0];
            }
            return;
        }
        for (i, at) in self.heap.positions() {
            if at != OUT && i < current.len() {
                current[i] = self.d[i] + self.add[self.level[i] as usize];
            }
        }
    }

    /// Leaves the index: its current weights go back to `current`, and the next use
    /// builds it again.
    pub(super) fn hand_back(&mut self, current: &mut [i64]) {
        self.materialize(current);
        self.invalidate();
    }

    /// Forgets the index (the next use builds it again).
    pub(super) fn invalidate(&mut self) {
        self.epoch = NO_EPOCH;
    }

    /// Whether it is built (for some epoch).
    #[inline]
    pub(super) fn built(&self) -> bool {
        self.epoch != NO_EPOCH
    }
}

/// Whether backend `a` sorts before `b`: lower level, then larger `d`, then lower index.
#[inline]
fn before(level: &[u32], d: &[i64], a: u32, b: u32) -> bool {
    let (a, b) = (a as usize, b as usize);
    (level[a], -d[a], a) < (level[b], -d[b], b)
}

#[cfg(test)]
mod tests {
    use super::super::least_conn::{INDEX_MIN, LeastConnections};
    use super::super::smooth_wrr::PassiveChecks;
    use crate::balancer::testutil::index_agrees_with_scan;

    /// The index and the scan make the same choices: one balancer is fed tracked views and
    /// every in-flight change (it uses the index while it can), the other plain views (it
    /// always scans), through 300,000 random steps of picks, completions (one in 400 a
    /// failure, which sends the first back to the scan until every backend is clean),
    /// availability and weight changes and passing time.
    fn same_choices(weighted: bool, weight: u32, checks: PassiveChecks, seed: u64) {
        let picks = index_agrees_with_scan(
            || Box::new(LeastConnections::with_checks(weighted, checks)),
            2 * INDEX_MIN,
            // Now and then a backend is re-weighted: unequal weights scan until equal.
            |r| {
                if r.below(400) == 0 {
                    weight + 1
                } else {
                    weight
                }
            },
            400,
            300_000,
            seed,
        );
        assert!(picks > 100_000, "{picks} picks");
    }

    /// Flat: the ring chooses as nginx's round-robin scan over the eligible backends and
    /// leaves the same current weights, through availability changes that spread the
    /// current weights out (each change hands them back and rebuilds, as the owners do).
    /// With every scan limit, down to none (every winner that does not land last sends the
    /// members to the heap).
    #[test]
    fn the_flat_ring_chooses_as_the_scan() {
        use super::super::ip_hash::swrr_all;
        use super::{Backend, LcIndex, PoolView, ROTATE_SCAN};
        use crate::engine::SimRng;
        for (limit, seed) in [(0, 1), (1, 2), (2, 3), (ROTATE_SCAN, 4)] {
            let mut rng = SimRng::from_seed_u64(seed);
            let (n, w) = (40usize, 3u32);
            let mut pool: Vec<Backend> = (0..n as u32)
                .map(|id| Backend {
                    id,
                    weight: w,
                    in_flight: 0,
                    available: true,
                })
                .collect();
            let (mut scan, mut handed) = (vec![0i64; n], vec![0i64; n]);
            let mut index = LcIndex {
                rotate_scan: limit,
                ..LcIndex::default()
            };
            let (mut epoch, mut ring_picks, mut heap_picks) = (1u64, 0u32, 0u32);
            for step in 0..60_000 {
                if rng.below(60) == 0 {
                    index.hand_back(&mut handed);
                    assert_eq!(handed, scan, "limit {limit}, step {step}");
                    let i = rng.below(n as u64) as usize;
                    pool[i].available = !pool[i].available;
                    epoch += 1;
                }
                if !index.built() {
                    let view = PoolView::with_epoch(&pool, epoch);
                    index.build(&view, &handed, i64::from(w), true, |_, b| b.eligible());
                }
                let before = index.rotating;
                assert_eq!(
                    index.pick(),
                    swrr_all(&pool, &mut scan),
                    "limit {limit}, step {step}"
                );
                if before {
                    ring_picks += 1;
                } else {
                    heap_picks += 1;
                }
            }
            index.materialize(&mut handed);
            assert_eq!(handed, scan);
            // Both ways were taken; at the shipped limit, with an availability change
            // every 60 picks, the ring still takes more than 95% of them.
            assert!(ring_picks > 1000 && heap_picks > 0 || limit == ROTATE_SCAN);
            if limit == ROTATE_SCAN {
                assert!(
                    heap_picks * 20 < ring_picks,
                    "{heap_picks} through the heap"
                );
            }
        }
    }

    #[test]
    fn the_index_chooses_as_nginx_scans() {
        let nginx = PassiveChecks::default();
        let off = PassiveChecks {
            max_fails: 0,
            ..nginx
        };
        same_choices(false, 1, nginx, 1);
        same_choices(false, 7, off, 2);
        same_choices(true, 3, nginx, 3);
        let three = PassiveChecks {
            max_fails: 3,
            ..nginx
        };
        same_choices(true, 5, three, 4);
    }
}
