//! Plain round robin: each request goes to the next eligible backend after the one chosen
//! last, wrapping around the pool. Weights only matter in that a weight of 0 makes a
//! backend ineligible; otherwise every eligible backend gets the same share.

use super::{AlgorithmInfo, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "round-robin",
    aliases: &["rr"],
    summary: "next eligible backend in turn, weights ignored",
    source: "Linux IPVS ip_vs_rr.c (rr); nginx round robin with equal weights",
    params: &[],
    build: |_, _| Box::new(RoundRobin::new()),
}];

/// Plain rotation over eligible backends, weights ignored.
///
/// Follows the Linux IPVS `rr` scheduler (`net/netfilter/ipvs/ip_vs_rr.c`,
/// `ip_vs_rr_schedule`): a cursor remembers the position chosen last; each pick scans
/// forward from the position after it, wrapping, skips backends that cannot take traffic
/// (here: not [`eligible`](super::Backend::eligible)) and moves the cursor to the backend
/// it returns. With `a, b, c` all eligible the sequence is `a b c a b c …`.
///
/// Defaults: no parameters; the first pick starts at index 0. A pool change keeps the
/// list position as IPVS does: the scan goes on after the backend chosen last, wherever
/// it now is; if it was removed, after the nearest backend before it that remains (IPVS
/// `ip_vs_rr_del_dest` steps its cursor back to the previous destination), pool order
/// being id order.
#[derive(Clone, Debug, Default)]
pub struct RoundRobin {
    /// Index at which the next scan starts (one past the backend chosen last).
    next: usize,
    /// The id of the backend chosen last.
    last: Option<u32>,
}

impl RoundRobin {
    /// A rotation whose first pick is the first eligible backend.
    pub fn new() -> Self {
        RoundRobin {
            next: 0,
            last: None,
        }
    }
}

impl Balancer for RoundRobin {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        let n = pool.len();
        if n == 0 {
            return None;
        }
        let start = self.next % n;
        for k in 0..n {
            let i = (start + k) % n;
            if pool.backends[i].eligible() {
                self.next = (i + 1) % n;
                self.last = Some(pool.backends[i].id);
                return Some(i);
            }
        }
        None
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        let Some(last) = self.last else {
            return;
        };
        let b = pool.backends;
        // Fast path: nothing moved before it (health changes, additions after it).
        let at = self
            .next
            .checked_sub(1)
            .unwrap_or(b.len().saturating_sub(1));
        if b.get(at).is_some_and(|x| x.id == last) {
            return;
        }
        self.next = match b.iter().position(|x| x.id == last) {
            Some(j) => j + 1,
            // Removed: after the nearest remaining backend before it (none: the head).
            None => b
                .iter()
                .enumerate()
                .filter(|(_, x)| x.id < last)
                .max_by_key(|(_, x)| x.id)
                .map_or(0, |(j, _)| j + 1),
        };
    }

    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let n = pool.len();
        (n > 0).then(|| {
            let next = self.next % n;
            super::Explanation::per_backend(
                "▶ the scan starts here",
                vec![(pool.backends[next].id, "▶".to_string())],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{sequence, weighted_available};

    #[test]
    fn rotates_over_all_eligible_ignoring_weights() {
        let b = weighted_available(&[(5, true), (1, true), (1, true)]);
        assert_eq!(sequence(&mut RoundRobin::new(), &b, 9), "abcabcabc");
    }

    #[test]
    fn skips_unavailable_and_zero_weight() {
        let b = weighted_available(&[(1, true), (1, false), (1, true), (0, true)]);
        assert_eq!(sequence(&mut RoundRobin::new(), &b, 6), "acacac");
    }

    #[test]
    fn continues_after_the_previous_choice_when_eligibility_changes() {
        let mut rr = RoundRobin::new();
        let mut b = weighted_available(&[(1, true), (1, true), (1, true), (1, true)]);
        assert_eq!(sequence(&mut rr, &b, 2), "ab");
        // c goes down: the next pick after b is d, then wrap to a.
        b[2].available = false;
        assert_eq!(sequence(&mut rr, &b, 3), "dab");
        // c comes back: rotation resumes right after b.
        b[2].available = true;
        assert_eq!(sequence(&mut rr, &b, 4), "cdab");
    }

    #[test]
    fn none_when_empty_or_nothing_eligible() {
        let mut rr = RoundRobin::new();
        assert_eq!(sequence(&mut rr, &[], 2), "--");
        let b = weighted_available(&[(1, false), (0, true)]);
        assert_eq!(sequence(&mut rr, &b, 3), "---");
    }

    #[test]
    fn survives_a_shrinking_pool() {
        let mut rr = RoundRobin::new();
        let big = weighted_available(&[(1, true); 5]);
        assert_eq!(sequence(&mut rr, &big, 4), "abcd");
        let small = weighted_available(&[(1, true); 2]);
        rr.on_pool_change(SimTime::ZERO, &PoolView::new(&small));
        // d (chosen last) and c before it are gone: IPVS steps back to b, then on to a.
        assert_eq!(sequence(&mut rr, &small, 4), "abab");
    }

    /// Removing a backend before the cursor does not skip a pick (the cursor follows the
    /// backend chosen last, as IPVS's list position does); removing the one chosen last
    /// goes on with the one after it.
    #[test]
    fn keeps_its_list_position_when_backends_are_removed() {
        // Picks as letters of the backends' ids (a = id 0), not of their indices.
        let ids = |rr: &mut RoundRobin, pool: &[crate::balancer::Backend], n: usize| {
            let view = PoolView::new(pool);
            (0..n)
                .map(|_| {
                    let i = rr
                        .pick(SimTime::ZERO, &view, &RequestInfo::default())
                        .unwrap();
                    char::from(b'a' + pool[i].id as u8)
                })
                .collect::<String>()
        };
        let mut rr = RoundRobin::new();
        let all = weighted_available(&[(1, true); 5]);
        assert_eq!(ids(&mut rr, &all, 3), "abc");
        // a is removed: the next pick is d (an index cursor would skip to e).
        let without_a: Vec<_> = all[1..].to_vec();
        rr.on_pool_change(SimTime::ZERO, &PoolView::new(&without_a));
        assert_eq!(ids(&mut rr, &without_a, 3), "deb");
        // b (chosen last) is removed: on with c.
        let without_b: Vec<_> = without_a[1..].to_vec();
        rr.on_pool_change(SimTime::ZERO, &PoolView::new(&without_b));
        assert_eq!(ids(&mut rr, &without_b, 3), "cde");
    }
}
