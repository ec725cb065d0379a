//! Envoy's earliest-deadline-first scheduler (`EdfScheduler`,
//! `source/common/upstream/edf_scheduler.h`), shared by Envoy round robin and Envoy
//! least request: each entry's deadline is `current_time + 1/weight`; a pick pops the
//! earliest deadline (FIFO among equal ones), advances the clock to it and re-inserts the
//! entry with its weight as of now.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// `createWithPicks` limits the emulated start-up picks to `picks % (u32::MAX / 10)`.
pub(super) const MAX_SEED_PICKS: u32 = 429_496_729;

/// `createWithPicks` adds this to every weight so that weights that are multiples of one
/// another do not produce exactly equal deadlines.
pub(super) const WEIGHT_EPSILON: f64 = 1e-13;

/// One queue entry: `(deadline, order)` is unique and totally ordered.
#[derive(Copy, Clone, Debug)]
struct Entry {
    deadline: f64,
    /// Tie-breaker: earlier insertions first (FIFO among equal deadlines).
    order: u64,
    id: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so that the max-heap [`BinaryHeap`] pops the earliest deadline (then the
    /// earliest insertion) first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .deadline
            .total_cmp(&self.deadline)
            .then(other.order.cmp(&self.order))
    }
}

/// The scheduler over caller-chosen `u32` ids (positions or backend indices).
#[derive(Clone, Debug, Default)]
pub(super) struct Edf {
    queue: BinaryHeap<Entry>,
    current_time: f64,
    next_order: u64,
}

impl Edf {
    /// `EdfScheduler::createWithPicks`: replaces the contents with `ids` (in this order)
    /// as they would be after `picks` picks from a fresh scheduler, without doing them one
    /// by one (the weights not changing meanwhile).
    ///
    /// Every id `i` with weight `w_i + ε` (sum `W`) is credited `⌊(w_i + ε)·P/W⌋` picks
    /// (one fewer if floating point puts that at or past `P/W`) and enters with deadline
    /// `(p_i + 1)/(w_i + ε)` and order `i`; the clock starts at the latest emulated pick
    /// time, and the remaining `P − Σ p_i` (< n) picks are made one by one with
    /// [`pick_and_add`](Self::pick_and_add). Reuses the queue's allocation.
    pub(super) fn rebuild_with_picks(
        &mut self,
        ids: impl ExactSizeIterator<Item = u32> + Clone,
        weight: impl Fn(u32) -> f64,
        picks: u32,
    ) {
        let picks = picks % MAX_SEED_PICKS;
        self.queue.clear();
        self.queue.reserve(ids.len());
        self.current_time = 0.0;
        self.next_order = 0;
        if ids.len() == 0 {
            return;
        }
        let aug = |i: u32| weight(i) + WEIGHT_EPSILON;
        let n = ids.len();
        let weights_sum: f64 = ids.clone().fold(0.0, |s, i| s + aug(i));
        let picks_f = f64::from(picks);
        let mut picks_so_far: u64 = 0;
        let mut max_pick_time = 0.0f64;
        for (order, id) in ids.enumerate() {
            let w = aug(id);
            let mut floor = (w * picks_f / weights_sum) as u32;
            if floor > 0 && f64::from(floor) / w >= picks_f / weights_sum {
                floor -= 1;
            }
            max_pick_time = max_pick_time.max(f64::from(floor) / w);
            self.queue.push(Entry {
                deadline: f64::from(floor + 1) / w,
                order: order as u64,
                id,
            });
            picks_so_far += u64::from(floor);
        }
        self.current_time = max_pick_time;
        self.next_order = n as u64;
        while picks_so_far < u64::from(picks) {
            self.pick_and_add(&weight);
            picks_so_far += 1;
        }
    }

    /// `EdfScheduler::add`: inserts `id` with deadline `current_time + 1/weight`.
    #[inline]
    fn add(&mut self, weight: f64, id: u32) {
        self.queue.push(Entry {
            deadline: self.current_time + 1.0 / weight,
            order: self.next_order,
            id,
        });
        self.next_order += 1;
    }

    /// `EdfScheduler::pickAndAdd`: pops the earliest deadline, advances the clock to it and
    /// re-inserts the id with `weight(id)` evaluated now. Does not allocate (the queue
    /// keeps its length).
    #[inline]
    pub(super) fn pick_and_add(&mut self, weight: impl Fn(u32) -> f64) -> Option<u32> {
        let e = self.queue.pop()?;
        self.current_time = e.deadline;
        self.add(weight(e.id), e.id);
        Some(e.id)
    }

    /// The id that would be picked next, without picking it.
    pub(super) fn peek(&self) -> Option<u32> {
        self.queue.peek().map(|e| e.id)
    }

    /// Entries queued (one per id).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The queue's allocated capacity (for tests that it does not grow).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.queue.capacity()
    }
}
