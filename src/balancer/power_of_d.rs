//! Power of d choices: sample `d` distinct eligible backends at random and send the request
//! to the one with the fewest requests in flight. Two choices already cut the maximum load
//! from `log n / log log n` to `log log n / log 2` (Mitzenmacher), using only local counts.
//! With `replacement = true` the `d` draws are independent (Envoy least_request style), so
//! the same backend can be drawn twice.

use super::{
    AlgorithmInfo, Balancer, EligibleSet, ParamDef, ParamKind, ParamValue, PoolView, RequestInfo,
};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "power-of-d",
    aliases: &["power-of-two", "p2c", "two-choices"],
    summary: "sample d backends (distinct, or with replacement), send to the one with fewest in flight (power-of-two is d = 2; power-of-N sets d = N)",
    source: "Mitzenmacher 2001; Finagle p2c/P2CPick.scala; nginx ngx_http_upstream_random_module.c (random two least_conn); replacement: Envoy least_request_lb.cc",
    params: &[
        ParamDef {
            key: "d",
            kind: ParamKind::Int {
                min: 1,
                max: 1_000_000,
            },
            default: ParamValue::Int(2),
            doc: "candidates sampled per request",
        },
        ParamDef {
            key: "replacement",
            kind: ParamKind::Bool,
            default: ParamValue::Bool(false),
            doc: "false: d distinct backends (Finagle, nginx); true: d independent uniform draws (Envoy least_request)",
        },
    ],
    build: |p, rng| {
        let d = p.int("d") as u32;
        Box::new(if p.bool("replacement") {
            PowerOfD::with_replacement(d, rng)
        } else {
            PowerOfD::new(d, rng)
        })
    },
}];

/// Best of `d` uniformly sampled eligible backends (distinct by default), by in-flight count.
///
/// Follows the power-of-d-choices scheme of Mitzenmacher, "The Power of Two Choices in
/// Randomized Load Balancing" (IEEE TPDS 12(10), 2001), as deployed with *distinct*
/// candidates by Finagle's p2c balancer (`finagle-core/.../loadbalancer/p2c/P2CPick.scala`:
/// `a = rng.nextInt(n); b = rng.nextInt(n - 1); if (b >= a) b += 1`) and by nginx
/// `random two least_conn` (`src/http/modules/ngx_http_upstream_random_module.c`, which
/// samples the two peers in proportion to weight; here sampling is uniform and weights only
/// matter in that weight 0 is ineligible). The load signal is this load balancer's own
/// in-flight count, as in both systems.
///
/// A pick samples `min(d, eligible)` distinct eligible backends and returns the one with
/// the fewest in flight; on a tie the one sampled first wins. With `d == 2` and every
/// backend eligible it uses the two-draw trick above; otherwise a partial Fisher–Yates
/// shuffle over a scratch list of eligible indices kept in the struct (its capacity grows
/// with the pool, so steady-state picks do not allocate). A single eligible backend is
/// returned without drawing.
///
/// **With replacement** ([`with_replacement`](PowerOfD::with_replacement), scenario
/// parameter `replacement = true`): each of the `d` draws is uniform over the eligible
/// backends, independently, as Envoy's `least_request` balancer draws its `choice_count`
/// candidates (`source/extensions/load_balancing_policies/least_request/`
/// `least_request_lb.cc`, `unweightedHostPick`, `unweightedHostPickNChoices` in newer
/// versions), so the same backend can be drawn more than once and, with two backends and
/// `d = 2`, the busier one wins whenever both draws hit it (probability 1/4). The fewest in
/// flight wins; on a tie the one drawn first. All `d` draws are made even when `d` exceeds
/// the number of eligible backends; a single eligible backend is still returned without
/// drawing. (Envoy also weights hosts when their weights
/// differ; here, as above, weights only decide eligibility.)
///
/// Defaults: `d = 2` is the scenario name `power-of-two`; `replacement = false`; `d = 0` is
/// treated as 1 (which is [`Random`](super::Random) with a different draw sequence).
#[derive(Clone, Debug)]
pub struct PowerOfD {
    /// Candidates sampled per pick (at least 1).
    d: u32,
    /// Independent draws (Envoy) instead of distinct ones (Finagle, nginx).
    replacement: bool,
    rng: SimRng,
    /// The slots a general-`d` pick's partial shuffle moved: (slot, value) pairs.
    scratch: Vec<u32>,
    eligible: EligibleSet,
}

impl PowerOfD {
    /// Best of `d` random choices, drawing from `rng`.
    pub fn new(d: u32, rng: SimRng) -> Self {
        PowerOfD {
            d: d.max(1),
            replacement: false,
            rng,
            scratch: Vec::new(),
            eligible: EligibleSet::default(),
        }
    }

    /// Best of `d` independent uniform draws (with replacement), drawing from `rng`.
    pub fn with_replacement(d: u32, rng: SimRng) -> Self {
        PowerOfD {
            replacement: true,
            ..PowerOfD::new(d, rng)
        }
    }

    /// Best of `d` independent draws over the eligible backends; ties to the first drawn.
    fn pick_with_replacement(
        d: u32,
        rng: &mut SimRng,
        backends: &[super::Backend],
        eligible: &[u32],
    ) -> Option<usize> {
        let m = eligible.len();
        let mut best: Option<usize> = None;
        for _ in 0..d {
            let c = eligible[rng.below(m as u64) as usize] as usize;
            match best {
                Some(b) if backends[c].in_flight >= backends[b].in_flight => {}
                _ => best = Some(c),
            }
        }
        best
    }
}

impl Balancer for PowerOfD {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        let backends = pool.backends;
        let n = backends.len();
        let Self {
            d,
            replacement,
            rng,
            scratch,
            eligible,
        } = self;
        let eligible = eligible.of(pool);
        let m = eligible.len();
        match m {
            0 => return None,
            1 => return Some(eligible[0] as usize),
            _ => {}
        }
        if *replacement {
            return Self::pick_with_replacement(*d, rng, backends, eligible);
        }
        let k = (*d as usize).min(m);

        if k == 2 && m == n {
            // Two distinct uniform indices with two draws (Finagle P2CPick).
            let i = rng.below(n as u64) as usize;
            let mut j = rng.below(n as u64 - 1) as usize;
            if j >= i {
                j += 1;
            }
            return Some(if backends[j].in_flight < backends[i].in_flight {
                j
            } else {
                i
            });
        }

        // Partial Fisher–Yates: the first k slots of the eligible list become a uniform
        // k-sample without replacement, in sampling order. The list itself is not touched:
        // `scratch` records the slots the shuffle moved (at most 2k), so a pick costs O(k²)
        // whatever the pool's size.
        scratch.clear();
        let at = |scratch: &Vec<u32>, x: usize| -> u32 {
            scratch
                .chunks_exact(2)
                .rev()
                .find(|p| p[0] as usize == x)
                .map_or(eligible[x], |p| p[1])
        };
        let mut best: Option<usize> = None;
        for t in 0..k {
            let r = t + rng.below((m - t) as u64) as usize;
            let (vt, vr) = (at(scratch, t), at(scratch, r));
            scratch.extend_from_slice(&[t as u32, vr, r as u32, vt]);
            let c = vr as usize;
            match best {
                Some(b) if backends[c].in_flight >= backends[b].in_flight => {}
                _ => best = Some(c),
            }
        }
        best
    }

    fn on_pool_change(&mut self, _now: SimTime, _pool: &PoolView<'_>) {
        // Size the scratch list once here so that picks never grow it.
        self.scratch.clear();
        self.scratch.reserve(4 * self.d as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{counts, in_flight, rng};

    fn within(count: u32, n: f64, p: f64, sds: f64) -> bool {
        let sd = (n * p * (1.0 - p)).sqrt();
        (f64::from(count) - n * p).abs() < sds * sd
    }

    #[test]
    fn d_equal_to_pool_always_finds_the_minimum() {
        let b = in_flight(&[5, 0, 5, 5]);
        assert_eq!(
            counts(&mut PowerOfD::new(4, rng()), &b, 1000),
            [0, 1000, 0, 0]
        );
        // d larger than the pool samples the whole pool.
        assert_eq!(
            counts(&mut PowerOfD::new(9, rng()), &b, 1000),
            [0, 1000, 0, 0]
        );
    }

    #[test]
    fn two_choices_are_distinct() {
        // With replacement the busier backend would win whenever both draws hit it (1/4).
        let b = in_flight(&[3, 1]);
        assert_eq!(counts(&mut PowerOfD::new(2, rng()), &b, 1000), [0, 1000]);
        let b = in_flight(&[1, 3]);
        assert_eq!(counts(&mut PowerOfD::new(2, rng()), &b, 1000), [1000, 0]);
    }

    #[test]
    fn two_choices_distribution() {
        // in_flight 0,1,2,3: backend i wins iff it is in the pair and the other is busier:
        // P = (3, 2, 1, 0) / 6. 60_000 picks; tolerance 5 sd of Binomial(60000, p)
        // (sd = 122.5, 115.5, 91.3).
        let b = in_flight(&[0, 1, 2, 3]);
        let n = 60_000;
        let c = counts(&mut PowerOfD::new(2, rng()), &b, n);
        assert_eq!(c[3], 0, "{c:?}");
        for (i, p) in [(0, 3.0 / 6.0), (1, 2.0 / 6.0), (2, 1.0 / 6.0)] {
            assert!(within(c[i], n as f64, p, 5.0), "{c:?}");
        }
    }

    #[test]
    fn three_choices_distribution() {
        // in_flight 4,3,2,1,0 with d = 3 of 5: the j-th least loaded wins iff it is sampled
        // and the 2 others come from the 4 - j busier ones: P = C(4 - j, 2) / C(5, 3)
        // = 6/10, 3/10, 1/10, 0, 0 (sd = 120, 112.2, 73.5 for 60_000 picks).
        let b = in_flight(&[4, 3, 2, 1, 0]);
        let n = 60_000;
        let c = counts(&mut PowerOfD::new(3, rng()), &b, n);
        assert_eq!((c[0], c[1]), (0, 0), "{c:?}");
        for (i, p) in [(4, 0.6), (3, 0.3), (2, 0.1)] {
            assert!(within(c[i], n as f64, p, 5.0), "{c:?}");
        }
    }

    #[test]
    fn ties_are_broken_uniformly_by_sampling_order() {
        // All idle: whoever is sampled first wins, so the choice is uniform.
        // Binomial(40000, 1/4): sd = 86.6.
        for d in [1, 2, 3] {
            let b = in_flight(&[0, 0, 0, 0]);
            let c = counts(&mut PowerOfD::new(d, rng()), &b, 40_000);
            for &x in &c {
                assert!(within(x, 40_000.0, 0.25, 5.0), "d={d} {c:?}");
            }
        }
    }

    #[test]
    fn fast_pair_matches_the_reference_draws() {
        let b = in_flight(&[2, 0, 1, 7, 3]);
        let view = PoolView::new(&b);
        let mut p = PowerOfD::new(2, rng());
        let mut reference = rng();
        for _ in 0..200 {
            let i = reference.below(5) as usize;
            let mut j = reference.below(4) as usize;
            if j >= i {
                j += 1;
            }
            let want = if b[j].in_flight < b[i].in_flight {
                j
            } else {
                i
            };
            assert_eq!(
                p.pick(SimTime::ZERO, &view, &RequestInfo::default()),
                Some(want)
            );
        }
    }

    #[test]
    fn never_picks_ineligible() {
        // The idle backends are down or weight 0; the others are busy.
        let mut b = in_flight(&[0, 0, 5, 7, 6]);
        b[0].available = false;
        b[1].weight = 0;
        for d in [1, 2, 3, 5] {
            let c = counts(&mut PowerOfD::new(d, rng()), &b, 2000);
            assert_eq!((c[0], c[1]), (0, 0), "d={d} {c:?}");
        }
        // d >= eligible count: always the least loaded eligible one.
        assert_eq!(
            counts(&mut PowerOfD::new(3, rng()), &b, 100),
            [0, 0, 100, 0, 0]
        );
        // One eligible backend: returned whatever d is.
        b[2].available = false;
        b[4].available = false;
        assert_eq!(
            counts(&mut PowerOfD::new(2, rng()), &b, 10),
            [0, 0, 0, 10, 0]
        );
    }

    #[test]
    fn none_when_nothing_is_eligible() {
        let mut p = PowerOfD::new(2, rng());
        let req = RequestInfo::default();
        assert_eq!(p.pick(SimTime::ZERO, &PoolView::new(&[]), &req), None);
        let mut b = in_flight(&[0, 0]);
        b[0].available = false;
        b[1].weight = 0;
        assert_eq!(p.pick(SimTime::ZERO, &PoolView::new(&b), &req), None);
    }

    #[test]
    fn with_replacement_the_busier_of_two_wins_a_quarter_of_the_time() {
        // Both draws hit the busier backend with probability 1/4. 40_000 picks: sd of
        // Binomial(40000, 1/4) = 86.6; tolerance 5 sd.
        let n = 40_000;
        let b = in_flight(&[3, 1]);
        let c = counts(&mut PowerOfD::with_replacement(2, rng()), &b, n);
        assert!(within(c[0], n as f64, 0.25, 5.0), "{c:?}");
        let b = in_flight(&[1, 3]);
        let c = counts(&mut PowerOfD::with_replacement(2, rng()), &b, n);
        assert!(within(c[1], n as f64, 0.25, 5.0), "{c:?}");
        // Equal loads: the first draw wins, so the choice is uniform.
        let b = in_flight(&[2, 2]);
        let c = counts(&mut PowerOfD::with_replacement(2, rng()), &b, n);
        assert!(within(c[0], n as f64, 0.5, 5.0), "{c:?}");
    }

    #[test]
    fn with_replacement_matches_the_reference_draws() {
        // Each of the d draws is uniform over the eligible backends (here b, c, e).
        let mut b = in_flight(&[0, 4, 1, 0, 2]);
        b[0].available = false;
        b[3].weight = 0;
        let eligible = [1, 2, 4];
        let view = PoolView::new(&b);
        for d in [1u32, 2, 3, 7] {
            let mut p = PowerOfD::with_replacement(d, rng());
            let mut reference = rng();
            for _ in 0..200 {
                let mut want: Option<usize> = None;
                for _ in 0..d {
                    let c = eligible[reference.below(3) as usize];
                    if want.is_none_or(|w| b[c].in_flight < b[w].in_flight) {
                        want = Some(c);
                    }
                }
                assert_eq!(p.pick(SimTime::ZERO, &view, &RequestInfo::default()), want);
            }
        }
    }

    #[test]
    fn with_replacement_never_picks_ineligible() {
        let mut b = in_flight(&[0, 0, 5, 7, 6]);
        b[0].available = false;
        b[1].weight = 0;
        for d in [1, 2, 3, 5, 20] {
            let c = counts(&mut PowerOfD::with_replacement(d, rng()), &b, 2000);
            assert_eq!((c[0], c[1]), (0, 0), "d={d} {c:?}");
        }
        // Many draws over 3 eligible: the least loaded is drawn almost surely.
        let c = counts(&mut PowerOfD::with_replacement(64, rng()), &b, 100);
        assert_eq!(c, [0, 0, 100, 0, 0]);
        b[2].available = false;
        b[4].available = false;
        assert_eq!(
            counts(&mut PowerOfD::with_replacement(2, rng()), &b, 10),
            [0, 0, 0, 10, 0]
        );
        b[3].available = false;
        let mut p = PowerOfD::with_replacement(2, rng());
        assert_eq!(
            p.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default()),
            None
        );
    }

    #[test]
    fn catalogue_entry_builds_both_forms_and_labels_them() {
        use crate::balancer::{AlgorithmSpec, Params, lookup};
        let info = lookup("power-of-d").expect("registered");
        assert_eq!(
            AlgorithmSpec::named("p2c").expect("alias").name(),
            "power-of-two"
        );
        let mut params = Params::defaults(info.params);
        assert!(!params.bool("replacement"));
        params.set("replacement", ParamValue::Bool(true));
        let spec = AlgorithmSpec::new(info, params, None);
        assert_eq!(spec.name(), "power-of-two(replacement=true)");
        // The built balancer samples with replacement: the busier of two sometimes wins.
        let b = in_flight(&[3, 1]);
        let c = counts(spec.build(rng()).as_mut(), &b, 1000);
        assert!(c[0] > 0, "{c:?}");
    }

    #[test]
    fn scratch_is_sized_by_pool_change_and_not_grown_by_picks() {
        let b = in_flight(&[1, 2, 3, 4, 5, 6]);
        let view = PoolView::new(&b);
        let mut p = PowerOfD::new(3, rng());
        p.on_pool_change(SimTime::ZERO, &view);
        let cap = p.scratch.capacity();
        assert!(cap >= 6);
        for _ in 0..100 {
            p.pick(SimTime::ZERO, &view, &RequestInfo::default());
        }
        assert_eq!(p.scratch.capacity(), cap);
    }
}
