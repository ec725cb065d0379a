//! Join-Idle-Queue (Lu, Xie, Kliot, Geller, Larus and Greenberg, 2011): the dispatcher keeps
//! a queue of servers known to be idle and sends each request to the next of them, or to a
//! uniformly random server when it knows of none; no per-request probing.

use std::collections::VecDeque;

use super::{AlgorithmInfo, Backend, Balancer, PoolView, RequestInfo};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "join-idle-queue",
    aliases: &["jiq"],
    summary: "next server from this LB's queue of idle servers (FIFO), else uniform random; one dispatcher's view",
    source: "Lu, Xie, Kliot, Geller, Larus, Greenberg, \"Join-Idle-Queue\", Performance Evaluation 68(11), 2011",
    params: &[],
    build: |_, rng| Box::new(JoinIdleQueue::new(rng)),
}];

/// Join-Idle-Queue with one dispatcher that learns idleness from its own in-flight counts.
///
/// Lu, Xie, Kliot, Geller, Larus and Greenberg, "Join-Idle-Queue: A novel load balancing
/// algorithm for dynamically scalable web services" (Performance Evaluation 68(11), 2011):
/// each dispatcher keeps an *I-queue* of idle servers; an arriving job goes to the server
/// at the head of the I-queue (removing it), or, if the I-queue is empty, to a server
/// chosen uniformly at random. Servers report to an I-queue when they become idle, so the
/// dispatch itself needs no probing and no communication on the critical path.
///
/// Here one balancer is one dispatcher and its only information is its own view: a
/// backend joins the I-queue (at the tail) when a response leaves this balancer's
/// in-flight count for it at 0 ([`on_response`](Balancer::on_response) sees the pool
/// after the decrement), and when the pool is first seen every idle eligible backend is
/// queued in id order. On [`on_pool_change`](Balancer::on_pool_change) the queue is rebuilt
/// for the new indices: backends still queued that remain idle and eligible keep their
/// order, then every other idle eligible backend is appended in id order. A pick pops
/// entries until it finds one that is still eligible and idle, discarding stale ones (a
/// backend that went down, or got requests some other way); with nothing left it picks
/// uniformly among the eligible backends (one draw). The I-queue holds no duplicates
/// (membership is a `Vec<bool>` by index) and is a `VecDeque` with capacity for the whole
/// pool, so picks and responses never allocate.
///
/// **What this does not model.** The paper's setting has *many* dispatchers, each with its
/// own I-queue, and an idle server reports to just one of them: JIQ-Random picks that
/// dispatcher uniformly at random, JIQ-SQ(d) the one with the shortest I-queue among `d`
/// sampled. A dispatcher therefore only knows of a fraction of the idle servers, which is
/// what the paper's analysis (reduced load on the random path, ~30× lower queueing
/// overhead than power-of-two at medium to high load) is about. This single-view version
/// knows of every server that is idle *from its own point of view*, which with one load
/// balancer is all of them, and with several independent load balancers is none of the
/// others' traffic: it does not implement the report-to-one-dispatcher step. Weights are
/// ignored except that weight 0 makes a backend ineligible. No parameters.
#[derive(Clone, Debug)]
pub struct JoinIdleQueue {
    rng: SimRng,
    /// Backend ids of the pool the queue was built for, by index.
    ids: Vec<u32>,
    /// The I-queue: pool indices of backends believed idle, oldest first.
    queue: VecDeque<u32>,
    /// `queued[i]`: whether index `i` is in the I-queue.
    queued: Vec<bool>,
}

impl JoinIdleQueue {
    /// JIQ drawing its random fallback from `rng`.
    pub fn new(rng: SimRng) -> Self {
        JoinIdleQueue {
            rng,
            ids: Vec::new(),
            queue: VecDeque::new(),
            queued: Vec::new(),
        }
    }

    /// Rebuilds the I-queue for `backends`: surviving idle eligible entries keep their
    /// order (matched by id), then the other idle eligible backends follow in id order.
    fn rebuild(&mut self, backends: &[Backend]) {
        let idle = |b: &Backend| b.eligible() && b.in_flight == 0;
        let mut queue = VecDeque::with_capacity(backends.len());
        let mut queued = vec![false; backends.len()];
        for &old in &self.queue {
            let Some(&id) = self.ids.get(old as usize) else {
                continue;
            };
            if let Ok(i) = backends.binary_search_by_key(&id, |b| b.id)
                && idle(&backends[i])
                && !queued[i]
            {
                queued[i] = true;
                queue.push_back(i as u32);
            }
        }
        for (i, b) in backends.iter().enumerate() {
            if idle(b) && !queued[i] {
                queued[i] = true;
                queue.push_back(i as u32);
            }
        }
        self.ids.clear();
        self.ids.extend(backends.iter().map(|b| b.id));
        self.queue = queue;
        self.queued = queued;
    }

    /// True if index `i` of `backends` is the backend the state was built for.
    #[inline]
    fn same_backend(&self, backends: &[Backend], i: usize) -> bool {
        self.ids.get(i) == backends.get(i).map(|b| &b.id)
    }

    /// Uniform choice among the eligible backends (one draw), `None` if there are none.
    fn random_eligible(&mut self, backends: &[Backend]) -> Option<usize> {
        let eligible = backends.iter().filter(|b| b.eligible()).count();
        if eligible == 0 {
            return None;
        }
        let k = self.rng.below(eligible as u64) as usize;
        backends
            .iter()
            .enumerate()
            .filter(|(_, b)| b.eligible())
            .nth(k)
            .map(|(i, _)| i)
    }
}

impl Balancer for JoinIdleQueue {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        let backends = pool.backends;
        if self.ids.len() != backends.len() {
            self.rebuild(backends);
        }
        while let Some(i) = self.queue.pop_front() {
            let i = i as usize;
            self.queued[i] = false;
            if !self.same_backend(backends, i) {
                // The pool changed without on_pool_change: start over from this pool.
                self.rebuild(backends);
                continue;
            }
            let b = &backends[i];
            if b.eligible() && b.in_flight == 0 {
                return Some(i);
            }
            // Stale: no longer eligible or no longer idle. Discard and keep popping.
        }
        self.random_eligible(backends)
    }

    fn on_response(
        &mut self,
        _now: SimTime,
        pool: &PoolView<'_>,
        index: usize,
        _outcome: super::Outcome,
    ) {
        let backends = pool.backends;
        if self.ids.len() != backends.len() || !self.same_backend(backends, index) {
            self.rebuild(backends);
            return;
        }
        let b = &backends[index];
        if b.eligible() && b.in_flight == 0 && !self.queued[index] {
            self.queued[index] = true;
            self.queue.push_back(index as u32);
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.rebuild(pool.backends);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Outcome;
    use crate::balancer::testutil::{backends, counts, in_flight, rng, sequence};

    const OK: Outcome = Outcome::new(true, SimTime::ZERO);

    fn pick(lb: &mut JoinIdleQueue, b: &mut [Backend]) -> Option<usize> {
        let got = lb.pick(SimTime::ZERO, &PoolView::new(b), &RequestInfo::default());
        if let Some(i) = got {
            b[i].in_flight += 1;
        }
        got
    }

    fn respond(lb: &mut JoinIdleQueue, b: &mut [Backend], i: usize) {
        b[i].in_flight -= 1;
        lb.on_response(SimTime::ZERO, &PoolView::new(b), i, OK);
    }

    fn queue_of(lb: &JoinIdleQueue) -> Vec<u32> {
        lb.queue.iter().copied().collect()
    }

    #[test]
    fn idle_servers_first_in_the_order_they_became_idle() {
        let mut b = in_flight(&[0, 0, 0, 0]);
        let mut lb = JoinIdleQueue::new(rng());
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(queue_of(&lb), [0, 1, 2, 3]);
        // Four requests take the four idle servers in id order.
        for want in 0..4 {
            assert_eq!(pick(&mut lb, &mut b), Some(want));
        }
        assert!(lb.queue.is_empty());
        // d, then b, then a finish: they are used in that order.
        for i in [3, 1, 0] {
            respond(&mut lb, &mut b, i);
        }
        assert_eq!(queue_of(&lb), [3, 1, 0]);
        assert_eq!(pick(&mut lb, &mut b), Some(3));
        assert_eq!(pick(&mut lb, &mut b), Some(1));
        assert_eq!(pick(&mut lb, &mut b), Some(0));
    }

    #[test]
    fn a_server_joins_only_when_its_count_reaches_zero() {
        let mut b = in_flight(&[2, 1]);
        let mut lb = JoinIdleQueue::new(rng());
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert!(lb.queue.is_empty());
        respond(&mut lb, &mut b, 0); // a: 2 -> 1, still busy
        assert!(lb.queue.is_empty());
        respond(&mut lb, &mut b, 0); // a: 1 -> 0
        assert_eq!(queue_of(&lb), [0]);
        assert_eq!(pick(&mut lb, &mut b), Some(0));
    }

    #[test]
    fn no_duplicates() {
        let b = in_flight(&[0, 1, 0]);
        let view = PoolView::new(&b);
        let mut lb = JoinIdleQueue::new(rng());
        lb.on_pool_change(SimTime::ZERO, &view);
        assert_eq!(queue_of(&lb), [0, 2]);
        // Reports for servers already queued, and another pool change, add nothing.
        for i in [0, 2, 0, 2] {
            lb.on_response(SimTime::ZERO, &view, i, OK);
        }
        lb.on_pool_change(SimTime::ZERO, &view);
        assert_eq!(queue_of(&lb), [0, 2]);
        assert_eq!(lb.queued, [true, false, true]);
    }

    #[test]
    fn random_fallback_when_none_idle() {
        // Nobody idle; d is down. Uniform over a, b, c, e: Binomial(40000, 1/4),
        // sd = 86.6; tolerance 5 sd.
        let mut b = in_flight(&[1, 4, 2, 1, 9]);
        b[3].available = false;
        let n = 40_000;
        let c = counts(&mut JoinIdleQueue::new(rng()), &b, n);
        assert_eq!(c[3], 0, "{c:?}");
        let sd = (n as f64 * 0.25 * 0.75).sqrt();
        for i in [0, 1, 2, 4] {
            assert!((f64::from(c[i]) - n as f64 / 4.0).abs() < 5.0 * sd, "{c:?}");
        }
        // The fallback makes exactly one draw: the k-th eligible backend.
        let mut lb = JoinIdleQueue::new(rng());
        let mut reference = rng();
        for _ in 0..100 {
            let k = reference.below(4) as usize;
            let want = [0, 1, 2, 4][k];
            let got = lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default());
            assert_eq!(got, Some(want));
        }
    }

    #[test]
    fn stale_entries_are_skipped() {
        let mut b = in_flight(&[0, 0, 0, 0]);
        let mut lb = JoinIdleQueue::new(rng());
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        // Without telling the balancer, a gets busy and b goes down.
        b[0].in_flight = 3;
        b[1].available = false;
        assert_eq!(pick(&mut lb, &mut b), Some(2));
        assert_eq!(queue_of(&lb), [3]);
        assert_eq!(lb.queued, [false, false, false, true]);
        assert_eq!(pick(&mut lb, &mut b), Some(3));
        // Queue empty: random among the eligible a, c, d.
        for _ in 0..20 {
            let got = lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default());
            assert!(matches!(got, Some(0 | 2 | 3)), "{got:?}");
        }
    }

    #[test]
    fn pool_change_rebuilds_by_id() {
        let mut b = in_flight(&[0, 0, 0, 0]);
        let mut lb = JoinIdleQueue::new(rng());
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(pick(&mut lb, &mut b), Some(0));
        assert_eq!(pick(&mut lb, &mut b), Some(1));
        respond(&mut lb, &mut b, 0);
        assert_eq!(queue_of(&lb), [2, 3, 0]);
        // Remove c (id 2) and add id 7, idle; d (id 3) is now busy elsewhere.
        let mut nb = backends(&[(1, 0, true), (1, 1, true), (1, 1, true), (1, 0, true)]);
        nb[2].id = 3;
        nb[3].id = 7;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&nb));
        // a (id 0) keeps its place; id 7 (index 3) is appended; d is dropped as busy.
        assert_eq!(queue_of(&lb), [0, 3]);
        assert_eq!(lb.queued, [true, false, false, true]);
        assert_eq!(pick(&mut lb, &mut nb), Some(0));
        assert_eq!(pick(&mut lb, &mut nb), Some(3));
        // A pool of another length without on_pool_change is rebuilt lazily.
        let mut small = in_flight(&[1, 0]);
        assert_eq!(pick(&mut lb, &mut small), Some(1));
        // Nothing eligible.
        let down = backends(&[(1, 0, false), (0, 0, true)]);
        assert_eq!(sequence(&mut lb, &down, 2), "--");
        assert_eq!(sequence(&mut JoinIdleQueue::new(rng()), &[], 2), "--");
    }

    #[test]
    fn picks_and_responses_do_not_allocate() {
        let mut b = in_flight(&[0; 8]);
        let mut lb = JoinIdleQueue::new(rng());
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        let cap = lb.queue.capacity();
        assert!(cap >= 8);
        let mut draws = rng();
        for _ in 0..2000 {
            if draws.below(2) == 0 {
                pick(&mut lb, &mut b);
            } else {
                let busy: Vec<usize> = (0..8).filter(|&i| b[i].in_flight > 0).collect();
                if !busy.is_empty() {
                    let i = busy[draws.below(busy.len() as u64) as usize];
                    respond(&mut lb, &mut b, i);
                }
            }
            assert!(lb.queue.len() <= 8);
        }
        assert_eq!(lb.queue.capacity(), cap);
    }
}
