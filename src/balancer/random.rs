//! Uniform random choice among eligible backends, weights ignored: the baseline that needs
//! no state and no coordination, and whose imbalance the smarter algorithms are measured
//! against.

use super::{AlgorithmInfo, Balancer, EligibleSet, PoolView, RequestInfo};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "random",
    aliases: &[],
    summary: "uniform random over eligible backends, weights ignored",
    source: "Envoy source/extensions/load_balancing_policies/random/random_lb.cc",
    params: &[],
    build: |_, rng| Box::new(Random::new(rng)),
}];

/// Uniform random over eligible backends, weights ignored.
///
/// Follows Envoy's `RANDOM` policy (`RandomLoadBalancer::peekOrChoose` in
/// `source/extensions/load_balancing_policies/random/random_lb.cc`): one random draw
/// selects `hosts_to_use[random % hosts_to_use.size()]` from the hosts that may take
/// traffic. Here the draw is an unbiased [`SimRng::below`]; when every
/// backend is eligible that draw is the index itself, otherwise it selects the k-th eligible
/// backend in pool order. Exactly one draw per pick that has an eligible backend, none when
/// there is none. The eligible backends are kept while the pool's epoch stays the same, so
/// a pick costs the same in a pool of 16 or of 100,000.
///
/// Defaults: no parameters; the randomness comes from the [`SimRng`] passed to [`new`].
///
/// [`new`]: Random::new
#[derive(Clone, Debug)]
pub struct Random {
    rng: SimRng,
    eligible: EligibleSet,
}

impl Random {
    /// A balancer drawing from `rng`.
    pub fn new(rng: SimRng) -> Self {
        Random {
            rng,
            eligible: EligibleSet::default(),
        }
    }
}

impl Balancer for Random {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        let m = self.eligible.of(pool).len();
        if m == 0 {
            return None;
        }
        let k = self.rng.below(m as u64) as usize;
        Some(self.eligible.nth(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{counts, rng, weighted_available};

    #[test]
    fn uniform_over_all_eligible_ignoring_weights() {
        // 5 backends, 100_000 picks: each count is Binomial(100000, 1/5), mean 20_000,
        // sd = sqrt(100000 * 0.2 * 0.8) = 126.5; 5 sd = 632.
        let b = weighted_available(&[(9, true), (1, true), (1, true), (3, true), (1, true)]);
        let c = counts(&mut Random::new(rng()), &b, 100_000);
        for &x in &c {
            assert!((i64::from(x) - 20_000).abs() < 632, "{c:?}");
        }
    }

    #[test]
    fn uniform_over_the_eligible_subset() {
        // 3 of 6 eligible, 60_000 picks: Binomial(60000, 1/3), mean 20_000,
        // sd = sqrt(60000 * 1/3 * 2/3) = 115.5; 5 sd = 577.
        let b = weighted_available(&[
            (1, false),
            (1, true),
            (0, true),
            (4, true),
            (1, false),
            (1, true),
        ]);
        let c = counts(&mut Random::new(rng()), &b, 60_000);
        assert_eq!((c[0], c[2], c[4]), (0, 0, 0), "{c:?}");
        for i in [1, 3, 5] {
            assert!((i64::from(c[i]) - 20_000).abs() < 577, "{c:?}");
        }
    }

    #[test]
    fn fast_path_is_the_draw_itself() {
        let b = weighted_available(&[(1, true); 7]);
        let view = PoolView::new(&b);
        let mut r = Random::new(rng());
        let mut reference = rng();
        for _ in 0..100 {
            let want = reference.below(7) as usize;
            assert_eq!(
                r.pick(SimTime::ZERO, &view, &RequestInfo::default()),
                Some(want)
            );
        }
    }

    #[test]
    fn single_eligible_and_none() {
        let mut r = Random::new(rng());
        let b = weighted_available(&[(1, false), (0, true), (2, true)]);
        assert_eq!(counts(&mut r, &b, 50), [0, 0, 50]);
        let view = PoolView::new(&[]);
        assert_eq!(r.pick(SimTime::ZERO, &view, &RequestInfo::default()), None);
        let b = weighted_available(&[(1, false), (0, true)]);
        let view = PoolView::new(&b);
        assert_eq!(r.pick(SimTime::ZERO, &view, &RequestInfo::default()), None);
    }
}
