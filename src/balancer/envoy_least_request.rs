//! Envoy `LEAST_REQUEST`: with equal weights, the best of `choice_count` random hosts
//! (sampled with replacement) or a full scan; with unequal weights, an earliest-deadline-first
//! weighted round robin whose weights shrink with the requests in flight,
//! `weight / (active + 1)^active_request_bias`.

use super::edf::Edf;
use super::{
    AlgorithmInfo, Backend, Balancer, ParamDef, ParamKind, ParamValue, PoolView, RequestInfo,
};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "envoy-least-request",
    aliases: &["least-request"],
    summary: "equal weights: fewest active among choice_count random hosts (with replacement) or full scan; else EDF on weight/(active+1)^bias",
    source: "Envoy source/extensions/load_balancing_policies/least_request/least_request_lb.{h,cc}; source/common/upstream/edf_scheduler.h",
    params: &[
        ParamDef {
            key: "choice_count",
            kind: ParamKind::Int {
                min: 2,
                max: u32::MAX as i64,
            },
            default: ParamValue::Int(2),
            doc: "hosts sampled (with replacement) per pick in n_choices mode (Envoy choice_count, >= 2)",
        },
        ParamDef {
            key: "active_request_bias",
            kind: ParamKind::Float {
                min: 0.0,
                max: 1000.0,
            },
            default: ParamValue::Float(1.0),
            doc: "exponent of (active + 1) dividing the weight in EDF mode; 0 = weighted round robin; != 1 forces EDF",
        },
        ParamDef {
            key: "selection_method",
            kind: ParamKind::Choice(&["n_choices", "full_scan"]),
            default: ParamValue::Word("n_choices"),
            doc: "equal weights: best of choice_count random hosts (N_CHOICES) or of all hosts (FULL_SCAN)",
        },
    ],
    build: |p, rng| {
        let method = match p.word("selection_method") {
            "full_scan" => SelectionMethod::FullScan,
            _ => SelectionMethod::NChoices,
        };
        Box::new(EnvoyLeastRequest::new(
            p.int("choice_count") as u32,
            p.float("active_request_bias"),
            method,
            rng,
        ))
    },
}];

/// How the unweighted path chooses among the hosts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SelectionMethod {
    /// Best of `choice_count` hosts sampled with replacement (Envoy `N_CHOICES`).
    NChoices,
    /// Best of all hosts, ties by reservoir sampling (Envoy `FULL_SCAN`).
    FullScan,
}

/// Envoy `LeastRequestLoadBalancer::hostWeight`: `weight / (active + 1)^bias`, with the
/// bias-1 and bias-0 shortcuts Envoy takes (so bias 1 divides exactly and bias 0 ignores
/// the load). Floored at the smallest positive float, as Envoy assumes positive weights.
#[inline]
fn host_weight(b: &Backend, bias: f64) -> f64 {
    let weight = f64::from(b.weight);
    let active = u64::from(b.in_flight) + 1;
    let w = if bias == 1.0 {
        weight / active as f64
    } else if bias != 0.0 {
        weight / (active as f64).powf(bias)
    } else {
        weight
    };
    w.max(f64::MIN_POSITIVE)
}

/// `unweightedHostPickNChoices`: `choice_count` hosts sampled as `hosts[r % n]` for the
/// draws `r`, keeping the first sampled unless a later one has strictly fewer in flight.
/// Returns a pool index (`None` only if `hosts` is empty).
pub(super) fn n_choices_pick(
    backends: &[Backend],
    hosts: &[u32],
    draws: impl IntoIterator<Item = u64>,
) -> Option<usize> {
    let n = hosts.len() as u64;
    if n == 0 {
        return None;
    }
    let mut candidate: Option<usize> = None;
    for r in draws {
        let sampled = hosts[(r % n) as usize] as usize;
        match candidate {
            Some(c) if backends[sampled].in_flight >= backends[c].in_flight => {}
            _ => candidate = Some(sampled),
        }
    }
    candidate
}

/// `unweightedHostPickFullScan`: the host with the fewest in flight; on the k-th host found
/// tied at the current minimum, it replaces the candidate if `draw() % k == 0` (reservoir
/// sampling, so every tied host is equally likely). Returns a pool index (`None` only if
/// `hosts` is empty).
pub(super) fn full_scan_pick(
    backends: &[Backend],
    hosts: &[u32],
    mut draw: impl FnMut() -> u64,
) -> Option<usize> {
    let mut candidate: Option<usize> = None;
    let mut tied: u64 = 0;
    for &h in hosts {
        let h = h as usize;
        match candidate {
            None => {
                candidate = Some(h);
                tied = 1;
            }
            Some(c) if backends[h].in_flight < backends[c].in_flight => {
                candidate = Some(h);
                tied = 1;
            }
            Some(c) if backends[h].in_flight == backends[c].in_flight => {
                tied += 1;
                if draw().is_multiple_of(tied) {
                    candidate = Some(h);
                }
            }
            Some(_) => {}
        }
    }
    candidate
}

/// Envoy `LEAST_REQUEST` load balancing.
///
/// Follows `LeastRequestLoadBalancer` in Envoy
/// `source/extensions/load_balancing_policies/least_request/least_request_lb.{h,cc}` on top
/// of `EdfLoadBalancerBase` (`.../common/load_balancer_impl.cc`) and `EdfScheduler`
/// (`source/common/upstream/edf_scheduler.h`). The hosts are the eligible backends in pool
/// order (Envoy's healthy host list); "active requests" is this load balancer's in-flight
/// count. Defaults: `choice_count = 2`, `active_request_bias = 1.0`,
/// `selection_method = n_choices`.
///
/// **Equal weights** (`unweightedHostPick`): with `n_choices`, sample `choice_count` hosts
/// *with replacement*, each as `hosts[random % n]`, and keep the first sampled unless a
/// later sample has strictly fewer requests in flight ([`n_choices_pick`]); with
/// `full_scan`, the global minimum with ties broken by reservoir sampling
/// ([`full_scan_pick`]).
///
/// **Unequal weights** (two or more hosts whose weights differ): an EDF scheduler. Each
/// host sits in a priority queue with deadline `t + 1/w_eff`, where
/// `w_eff = weight / (active + 1)^active_request_bias` (bias 1 divides by `active + 1`,
/// bias 0 is plain weighted round robin); a pick pops the earliest deadline (ties:
/// earliest insertion), advances `t` to it and re-inserts that host with `w_eff` computed
/// *at that moment*, before the new request is counted, as Envoy computes it before the
/// request is dispatched. The other hosts keep the deadlines they were given when last
/// inserted: Envoy does not refresh the schedule when active counts change, only on
/// host-set changes, so a host's load is seen when it is re-inserted. On every
/// [`on_pool_change`](Balancer::on_pool_change) (Envoy's `refresh` on membership, health
/// or weight changes) the schedule is rebuilt with `createWithPicks`, which starts every
/// host at weight `w_eff + 1e-13` and emulates `seed mod 429_496_729` picks, where `seed`
/// is one random draw made when the balancer is built (Envoy's per-LB `seed_`, truncated
/// to 32 bits as `createWithPicks` takes a `uint32_t`) and reused for every rebuild.
///
/// **`active_request_bias ≠ 1`** forces the EDF path even when all weights are equal, as
/// current Envoy does when `active_request_bias` is explicitly configured (runtime flag
/// `least_request_lb_active_request_bias_forces_weighted`, default on); the scenario
/// format cannot tell an explicit 1.0 from the default, so bias 1 with equal weights uses
/// the unweighted path, which is also what Envoy does when the bias is not configured.
///
/// Draws: `n_choices` makes `choice_count` draws per pick, `full_scan` one per tie met,
/// EDF none. Random indices use `random % n` on a 64-bit draw as Envoy does (its modulo
/// bias is below `n / 2⁶⁴`).
///
/// Not modelled: priorities and panic mode, zone-aware and locality-weighted routing, slow
/// start, pending requests (`least_request_lb_count_pending_requests`), preconnect peeks.
#[derive(Clone, Debug)]
pub struct EnvoyLeastRequest {
    choice_count: u32,
    bias: f64,
    method: SelectionMethod,
    /// Whether a non-default bias forces the EDF path (see the type's documentation).
    force_weighted: bool,
    rng: SimRng,
    /// `createWithPicks` pick count (the LB's seed, truncated to 32 bits).
    seed_picks: u32,
    /// Ids of the pool the state was built for (to detect unannounced changes).
    ids: Vec<u32>,
    /// Eligible pool indices, in pool order.
    hosts: Vec<u32>,
    /// The EDF scheduler when the weighted path is in use.
    edf: Option<Edf>,
}

impl EnvoyLeastRequest {
    /// Least request with the given parameters; the EDF seed is drawn from `rng` now.
    pub fn new(choice_count: u32, bias: f64, method: SelectionMethod, mut rng: SimRng) -> Self {
        let seed_picks = rng.next_u64() as u32;
        Self::with_seed_picks(choice_count, bias, method, rng, seed_picks)
    }

    /// As [`new`](Self::new) with a given `createWithPicks` pick count.
    fn with_seed_picks(
        choice_count: u32,
        bias: f64,
        method: SelectionMethod,
        rng: SimRng,
        seed_picks: u32,
    ) -> Self {
        let bias = if bias.is_finite() && bias >= 0.0 {
            bias
        } else {
            1.0 // Envoy: an invalid bias is replaced by 1.0.
        };
        EnvoyLeastRequest {
            choice_count: choice_count.max(1),
            bias,
            method,
            force_weighted: bias != 1.0,
            rng,
            seed_picks,
            ids: Vec::new(),
            hosts: Vec::new(),
            edf: None,
        }
    }

    /// Envoy's `refresh`: the host list, and the EDF schedule if weights differ.
    fn rebuild(&mut self, backends: &[Backend]) {
        self.ids.clear();
        self.ids.extend(backends.iter().map(|b| b.id));
        self.hosts.clear();
        self.hosts.extend(
            backends
                .iter()
                .enumerate()
                .filter(|(_, b)| b.eligible())
                .map(|(i, _)| i as u32),
        );
        let first_weight = self.hosts.first().map(|&i| backends[i as usize].weight);
        let weights_equal = self
            .hosts
            .iter()
            .all(|&i| Some(backends[i as usize].weight) == first_weight);
        self.edf = (self.hosts.len() > 1 && (self.force_weighted || !weights_equal)).then(|| {
            let mut edf = Edf::default();
            let bias = self.bias;
            edf.rebuild_with_picks(
                self.hosts.iter().copied(),
                |i| host_weight(&backends[i as usize], bias),
                self.seed_picks,
            );
            edf
        });
    }

    /// True if `i` is a valid, eligible index of `backends` with the id we built for.
    #[inline]
    fn valid(&self, backends: &[Backend], i: usize) -> bool {
        i < backends.len() && backends[i].eligible() && self.ids.get(i) == Some(&backends[i].id)
    }

    /// One pick from the current state; `None` if the state turned out stale.
    fn try_pick(&mut self, backends: &[Backend]) -> Option<usize> {
        if let Some(edf) = &mut self.edf {
            let next = edf.peek()? as usize;
            if !(next < backends.len()
                && backends[next].eligible()
                && self.ids.get(next) == Some(&backends[next].id))
            {
                return None;
            }
            let bias = self.bias;
            return edf
                .pick_and_add(|i| host_weight(&backends[i as usize], bias))
                .map(|i| i as usize);
        }
        let rng = &mut self.rng;
        let picked = match self.method {
            SelectionMethod::NChoices => n_choices_pick(
                backends,
                &self.hosts,
                (0..self.choice_count).map(|_| rng.next_u64()),
            ),
            SelectionMethod::FullScan => full_scan_pick(backends, &self.hosts, || rng.next_u64()),
        }?;
        self.valid(backends, picked).then_some(picked)
    }
}

impl Balancer for EnvoyLeastRequest {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        let backends = pool.backends;
        if self.ids.len() != backends.len() {
            self.rebuild(backends);
        }
        if let Some(i) = self.try_pick(backends) {
            return Some(i);
        }
        // Nothing eligible, or the pool changed without `on_pool_change`: rebuild once.
        if !backends.iter().any(|b| b.eligible()) {
            return None;
        }
        self.rebuild(backends);
        self.try_pick(backends)
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.rebuild(pool.backends);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{counts, in_flight, loaded, rng, sequence, weighted};

    fn lr(bias: f64, picks: u32) -> EnvoyLeastRequest {
        EnvoyLeastRequest::with_seed_picks(2, bias, SelectionMethod::NChoices, rng(), picks)
    }

    /// Picks `n` times, counting each pick as a request in flight (as the owner would).
    fn counted(lb: &mut EnvoyLeastRequest, b: &mut [Backend], n: usize) -> String {
        let mut s = String::new();
        for _ in 0..n {
            let i = lb
                .pick(SimTime::ZERO, &PoolView::new(b), &RequestInfo::default())
                .expect("something is eligible");
            s.push((b'a' + i as u8) as char);
            b[i].in_flight += 1;
        }
        s
    }

    #[test]
    fn n_choices_reference_vector() {
        // active [3,1,0,2], randoms 5 and 2: hosts 5 % 4 = 1 and 2 % 4 = 2; host 2 has
        // fewer active requests.
        let b = in_flight(&[3, 1, 0, 2]);
        let hosts = [0, 1, 2, 3];
        assert_eq!(n_choices_pick(&b, &hosts, [5, 2]), Some(2));
        // Ties keep the earlier sample; a later strictly smaller one replaces it.
        assert_eq!(n_choices_pick(&b, &hosts, [1, 5]), Some(1));
        assert_eq!(n_choices_pick(&b, &hosts, [2, 0, 3]), Some(2));
        assert_eq!(n_choices_pick(&b, &hosts, [0, 3, 1]), Some(1));
        // Sampling with replacement: the same host twice is allowed.
        assert_eq!(n_choices_pick(&b, &hosts, [4, 8]), Some(0));
        // Indices are into the host list, which skips ineligible backends.
        assert_eq!(n_choices_pick(&b, &[0, 3], [5, 2]), Some(3));
        assert_eq!(n_choices_pick(&b, &[], [5, 2]), None);
    }

    #[test]
    fn n_choices_uses_the_balancer_draws() {
        let b = in_flight(&[2, 0, 1, 7, 3]);
        let view = PoolView::new(&b);
        let mut lb = EnvoyLeastRequest::new(3, 1.0, SelectionMethod::NChoices, rng());
        let mut reference = rng();
        reference.next_u64(); // the EDF seed
        let hosts = [0, 1, 2, 3, 4];
        for _ in 0..200 {
            let draws = [
                reference.next_u64(),
                reference.next_u64(),
                reference.next_u64(),
            ];
            let want = n_choices_pick(&b, &hosts, draws);
            assert_eq!(lb.pick(SimTime::ZERO, &view, &RequestInfo::default()), want);
        }
    }

    #[test]
    fn two_choices_with_replacement_distribution() {
        // active [0,1,2,3], two draws with replacement: host i wins with probability
        // P(min of two uniform draws = i) = ((4-i)^2 - (3-i)^2)/16 = 7/16, 5/16, 3/16, 1/16.
        // 64_000 picks; sd = sqrt(n p (1-p)) <= 125.5; tolerance 5 sd.
        let b = in_flight(&[0, 1, 2, 3]);
        let n = 64_000;
        let c = counts(&mut lr(1.0, 0), &b, n);
        for (i, p) in [7.0, 5.0, 3.0, 1.0].iter().map(|x| x / 16.0).enumerate() {
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!((f64::from(c[i]) - n as f64 * p).abs() < 5.0 * sd, "{c:?}");
        }
        // Two hosts: the busier one still wins when both draws hit it (1/4 of picks).
        let b = in_flight(&[5, 0]);
        let c = counts(&mut lr(1.0, 0), &b, 40_000);
        let sd = (40_000.0f64 * 0.25 * 0.75).sqrt();
        assert!((f64::from(c[0]) - 10_000.0).abs() < 5.0 * sd, "{c:?}");
    }

    #[test]
    fn full_scan_finds_the_minimum_with_uniform_ties() {
        let b = in_flight(&[3, 1, 4, 1, 5, 1]);
        let hosts = [0, 1, 2, 3, 4, 5];
        // Draws: tie at index 3 (k = 2): 7 % 2 = 1 keeps b; tie at 5 (k = 3): 9 % 3 = 0 takes f.
        let mut draws = [7u64, 9].into_iter();
        assert_eq!(
            full_scan_pick(&b, &hosts, || draws.next().unwrap()),
            Some(5)
        );
        let mut draws = [8u64, 10].into_iter();
        assert_eq!(
            full_scan_pick(&b, &hosts, || draws.next().unwrap()),
            Some(3)
        );
        // No ties, no draws.
        let b2 = in_flight(&[3, 0, 4]);
        assert_eq!(full_scan_pick(&b2, &[0, 1, 2], || unreachable!()), Some(1));
        // Through the balancer: always one of b, d, f, each 1/3.
        // Binomial(30000, 1/3): sd = 81.6; tolerance 5 sd.
        let mut lb = EnvoyLeastRequest::new(2, 1.0, SelectionMethod::FullScan, rng());
        let c = counts(&mut lb, &b, 30_000);
        assert_eq!((c[0], c[2], c[4]), (0, 0, 0), "{c:?}");
        for i in [1, 3, 5] {
            assert!((f64::from(c[i]) - 10_000.0).abs() < 5.0 * 81.6, "{c:?}");
        }
    }

    #[test]
    fn edf_with_bias_zero_is_envoy_weighted_round_robin() {
        // The reference round-robin EDF vectors: bias 0 ignores the load entirely.
        let b = weighted(&[5, 1, 1]);
        assert_eq!(sequence(&mut lr(0.0, 0), &b, 14), "aaaabcaaaaabca");
        assert_eq!(sequence(&mut lr(0.0, 1), &b, 14), "aaabcaaaaabcaa");
        assert_eq!(
            sequence(&mut lr(0.0, 0), &weighted(&[4, 2, 1]), 7),
            "abaacba"
        );
        assert_eq!(
            sequence(&mut lr(0.0, 0), &weighted(&[3, 2, 1]), 6),
            "abacba"
        );
        // Emulated start-up picks: 1000 picks of a 5,1,1 schedule.
        assert_eq!(sequence(&mut lr(0.0, 1000), &b, 14), "aaaaabcaaaaabc");
        // Load does not matter with bias 0.
        let mut b = weighted(&[3, 1]);
        assert_eq!(counted(&mut lr(0.0, 0), &mut b, 8), "aabaaaba");
    }

    #[test]
    fn edf_weights_shrink_with_requests_in_flight() {
        // Weights 3, 1, each pick counted. Deadlines (ε aside): a 1/3, b 1. a at 1/3 goes
        // back at 1/3 + 1/3; a at 2/3 (1 active) at 2/3 + 2/3 = 4/3; b at 1 (idle) at 2;
        // a at 4/3 (2 active) at 4/3 + 1 = 7/3; b at 2 (1 active) at 4; a at 7/3 (3 active)
        // at 11/3; a at 11/3 (4 active) at 11/3 + 5/3; b at 4.
        let mut b = weighted(&[3, 1]);
        assert_eq!(counted(&mut lr(1.0, 0), &mut b, 8), "aababaab");
        // Bias 2 penalises load more: a's second re-insertion is at 2/3 + 4/3 = 2, and b
        // (back at 1 + 1 = 2) goes first because ε put its first deadline just below 1.
        let mut b = weighted(&[3, 1]);
        assert_eq!(counted(&mut lr(2.0, 0), &mut b, 8), "aabbaaba");
        // Static loads: weights 2, 1 with a busy (1 active): both effective weights are 1.
        assert_eq!(
            sequence(&mut lr(1.0, 0), &loaded(&[(2, 1), (1, 0)]), 8),
            "abababab"
        );
        // The same all idle is plain 2:1 round robin.
        assert_eq!(sequence(&mut lr(1.0, 0), &weighted(&[2, 1]), 8), "abaabaab");
        // Start-up picks use the loads at build time (cross-checked with a transcription
        // of createWithPicks/pickAndAdd).
        let b = loaded(&[(5, 2), (1, 0), (1, 1)]);
        assert_eq!(sequence(&mut lr(1.0, 12345), &b, 14), "bacbaabaacbaba");
    }

    #[test]
    fn other_hosts_deadlines_are_not_refreshed_by_load_changes() {
        // Weights 2, 1: deadlines a 1/2, b 1. After a is picked it goes back at 1 with its
        // weight then (idle: 2). b becoming busy does not move b's deadline of 1, which
        // (ε aside, which puts it just below a's) comes first; only b's re-insertion sees
        // its load.
        let mut b = weighted(&[2, 1]);
        let mut lb = lr(1.0, 0);
        assert_eq!(sequence(&mut lb, &b, 1), "a");
        b[1].in_flight = 9;
        assert_eq!(sequence(&mut lb, &b, 1), "b");
        // b went back at 1 + 10 = 11; a (idle) runs 1.5, 2, 2.5, ... well before it.
        assert_eq!(sequence(&mut lb, &b, 10), "aaaaaaaaaa");
    }

    #[test]
    fn equal_weights_use_n_choices_unless_bias_is_not_one() {
        let b = in_flight(&[0, 0, 0]);
        assert!({
            let mut lb = lr(1.0, 0);
            lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
            lb.edf.is_none()
        });
        // Bias 0.5 with equal weights forces EDF: an idle equal-weight EDF rotates.
        let mut lb = lr(0.5, 0);
        assert_eq!(sequence(&mut lb, &b, 6), "abcabc");
        assert!(lb.edf.is_some());
        // Unequal weights among *eligible* hosts only: c (weight 2) is down.
        let mut b = loaded(&[(1, 0), (1, 0), (2, 0)]);
        b[2].available = false;
        let mut lb = lr(1.0, 0);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert!(lb.edf.is_none());
        b[2].available = true;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert!(lb.edf.is_some());
    }

    #[test]
    fn skips_ineligible_and_rebuilds_on_pool_change() {
        let mut b = loaded(&[(5, 0), (1, 0), (1, 0), (0, 0)]);
        b[0].available = false;
        for bias in [0.0, 1.0] {
            let mut lb = lr(bias, 0);
            lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
            let s = sequence(&mut lb, &b, 40);
            assert!(s.chars().all(|c| c == 'b' || c == 'c'), "{s}");
        }
        // Weighted: a comes back and the schedule is rebuilt with it.
        let mut lb = lr(0.0, 0);
        b[0].available = false;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        b[0].available = true;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut lb, &b, 7), "aaaabca");
        // A pool change that is not announced (a goes down) is caught at the next pick.
        b[0].available = false;
        let s = sequence(&mut lb, &b, 10);
        assert!(s.chars().all(|c| c == 'b' || c == 'c'), "{s}");
        // Nothing eligible.
        for x in &mut b {
            x.available = false;
        }
        assert_eq!(sequence(&mut lb, &b, 2), "--");
        assert_eq!(sequence(&mut lr(1.0, 0), &[], 2), "--");
    }

    #[test]
    fn edf_picks_do_not_allocate() {
        let b = weighted(&[5, 3, 2, 1]);
        let mut lb = lr(1.0, 77);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        let cap = lb.edf.as_ref().map(|e| e.capacity());
        let _ = sequence(&mut lb, &b, 500);
        assert_eq!(lb.edf.as_ref().map(|e| e.capacity()), cap);
        assert_eq!(lb.edf.as_ref().map(|e| e.len()), Some(4));
    }
}
