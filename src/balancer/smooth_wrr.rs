//! nginx's smooth weighted round robin with nginx's passive health checks: every backend
//! gets a share of requests proportional to its weight, the heavy backends' turns are spread
//! out instead of bunched (weights 5,1,1 give `a a b a c a a`, not `a a a a a b c`), and a
//! backend whose connections fail is taken out for `fail_timeout` and ramped back in.
//!
//! nginx keeps its passive health checks (`max_fails`, `fail_timeout`) in the round-robin
//! peer state of `src/http/ngx_http_upstream_round_robin.c`, next to the SWRR weights, and
//! every balancer built on that state shares them. This file therefore holds both: the
//! single SWRR step [`swrr_step`], the per-peer failure bookkeeping [`PassivePeers`] with its
//! tunables [`PassiveChecks`], and the `weighted-round-robin` balancer that uses them.
//! [`LeastConnections`](super::LeastConnections) (nginx `least_conn`) reuses all three: the
//! same eligibility filter, and the SWRR step, with the same effective weights, over the
//! backends tied for the fewest connections.
//!
//! **Time.** nginx stamps `checked` and `accessed` with `ngx_time()`, whole seconds, and
//! stores `fail_timeout` in whole seconds. Here every such stamp and comparison uses `now`
//! truncated to whole seconds (`now_s = ⌊now / 1 s⌋`), so `now − checked` is a whole number
//! of seconds exactly as in nginx; `fail_timeout` is compared against it as a duration, so a
//! sub-second `fail_timeout` (which nginx cannot express) behaves like a fraction of a
//! second compared to whole-second differences.
//!
//! **Retries are the owner's job.** nginx retries a failed attempt on another peer within
//! the same request (`proxy_next_upstream`, up to `proxy_next_upstream_tries`, default: the
//! number of peers) and excludes the peers already tried with a per-request `tried` bitmap.
//! The [`Balancer`] API has no per-request state: the owner reports each attempt's outcome
//! with [`on_response`](Balancer::on_response) (only ever for the backend it picked) and, to
//! retry, calls [`pick`](Balancer::pick) again; to emulate `tried` exactly it passes a view
//! in which the backends already tried are marked unavailable (nginx skips a tried peer
//! exactly as it skips a `down` one, without touching its weights). With the default
//! `max_fails = 1` a failed peer is unavailable anyway, so a plain second pick gives the
//! same answer.

use super::least_conn::LeastConnections;
use super::params::{ParamDef, ParamKind, ParamValue, Params};
use super::{
    AlgorithmInfo, Backend, Balancer, Outcome, OutcomeKind, PassiveChange, PoolView, RequestInfo,
};
use crate::engine::SimTime;

/// One step of smooth weighted round robin over `candidates`, given as
/// `(index, effective_weight)` pairs in list order.
///
/// For each candidate `current[index] += weight`; the candidate with the largest
/// `current` (strict `>`, so the first one wins ties) is chosen and has the sum of the
/// candidates' weights subtracted from its `current`. Entries of `current` that are not
/// candidates are left alone. Returns `None` (changing nothing) if there are no
/// candidates. Every `index` must be `< current.len()`.
///
/// This is the loop body of `ngx_http_upstream_get_peer` in nginx
/// `src/http/ngx_http_upstream_round_robin.c`, without the failure bookkeeping: callers
/// supply each candidate's effective weight (and recover it) through
/// [`PassivePeers::pass`] while the iterator is consumed.
pub(crate) fn swrr_step(
    current: &mut [i64],
    candidates: impl Iterator<Item = (usize, i64)>,
) -> Option<usize> {
    let mut total: i64 = 0;
    let mut best: Option<usize> = None;
    for (i, weight) in candidates {
        current[i] += weight;
        total += weight;
        match best {
            Some(b) if current[i] <= current[b] => {}
            _ => best = Some(i),
        }
    }
    let b = best?;
    current[b] -= total;
    Some(b)
}

// ---------------------------------------------------------------------------------------
// Passive health checks (max_fails / fail_timeout)
// ---------------------------------------------------------------------------------------

/// nginx's passive health check tunables: the `max_fails=` and `fail_timeout=` parameters
/// of an upstream `server` line (parsed in `ngx_http_upstream_server`,
/// `src/http/ngx_http_upstream.c`; applied in `ngx_http_upstream_get_peer` and
/// `ngx_http_upstream_free_round_robin_peer`, `src/http/ngx_http_upstream_round_robin.c`).
///
/// Here one setting applies to every backend of the pool (nginx sets them per server).
///
/// **What counts as a failure.** nginx counts an attempt as failed when it ends in one of
/// the `proxy_next_upstream` conditions; the default is `error timeout`, and `error`,
/// `timeout` and `invalid_header` always count. This model therefore counts
/// [`OutcomeKind::Refused`] (connect error, reset) and [`OutcomeKind::TimedOut`] (upstream
/// timeout) and nothing else: an HTTP 5xx status is passed to the client and counted as a
/// completion without failure, as with nginx's default configuration (counting them needs
/// `proxy_next_upstream http_500 http_502 …`, which this model does not offer). Note that
/// A client giving up arrives as [`OutcomeKind::Cancelled`], which nginx does not count.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PassiveChecks {
    /// `max_fails`: failures within `fail_timeout` that make a backend unavailable for
    /// `fail_timeout`, and the divisor of the weight lost per failure
    /// (`effective_weight -= weight / max_fails`). `0` disables the accounting: failures
    /// neither exclude a backend nor lower its weight. nginx default: 1.
    pub max_fails: u32,
    /// `fail_timeout`: both the window in which `max_fails` failures must happen and how
    /// long the backend then stays unavailable (compared against whole seconds, see the
    /// module documentation). nginx default: 10 s.
    pub fail_timeout: SimTime,
}

impl Default for PassiveChecks {
    /// nginx's defaults: `max_fails=1 fail_timeout=10s` (`ngx_http_upstream_server`).
    fn default() -> Self {
        PassiveChecks {
            max_fails: 1,
            fail_timeout: SimTime::from_secs(10),
        }
    }
}

impl PassiveChecks {
    /// Reads `max_fails` and `fail_timeout` from validated [`PASSIVE_PARAMS`].
    pub fn from_params(p: &Params) -> Self {
        PassiveChecks {
            max_fails: u32::try_from(p.int("max_fails")).expect("max_fails is in 0..=1_000_000"),
            fail_timeout: p.duration("fail_timeout"),
        }
    }
}

/// The `[balancer]` parameters of every nginx balancer built on the round-robin peer state.
pub(crate) const PASSIVE_PARAMS: &[ParamDef] = &[
    ParamDef {
        key: "max_fails",
        kind: ParamKind::Int {
            min: 0,
            max: 1_000_000,
        },
        default: ParamValue::Int(1),
        doc: "nginx server max_fails: connect errors/timeouts within fail_timeout that take a backend out for fail_timeout (0 = never)",
    },
    ParamDef {
        key: "fail_timeout",
        kind: ParamKind::Duration {
            min: SimTime::MILLISECOND,
            max: SimTime::from_secs(3600),
        },
        default: ParamValue::Duration(SimTime::from_secs(10)),
        doc: "nginx server fail_timeout: the failure window and how long a failed backend stays out (whole seconds, as nginx)",
    },
];

/// One backend's passive-check state: the fields of nginx's `ngx_http_upstream_rr_peer_t`
/// other than `current_weight` (which the balancers keep in their own vector).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Peer {
    /// Backend id this state belongs to.
    pub(crate) id: u32,
    /// `weight`: the configured weight the balancer uses (1 for unweighted variants).
    pub(crate) weight: i64,
    /// `effective_weight`: `weight` lowered by failures and recovered by one per pass.
    pub(crate) effective: i64,
    /// `fails`: failures counted since the counter was last cleared.
    pub(crate) fails: u32,
    /// `checked`: whole second at which the current observation window opened.
    pub(crate) checked: u64,
    /// `accessed`: whole second of the last failure.
    pub(crate) accessed: u64,
}

impl Peer {
    /// A peer as nginx creates it (`ngx_http_upstream_init_round_robin`): full effective
    /// weight, no failures; `checked` and `accessed` zeroed like nginx's `ngx_pcalloc`ed
    /// peers (their initial value never matters: both are set by the first failure, and
    /// before it `fails` is 0).
    fn fresh(id: u32, weight: i64) -> Peer {
        Peer {
            id,
            weight,
            effective: weight,
            fails: 0,
            checked: 0,
            accessed: 0,
        }
    }

    /// The configured weight changed (model rule; nginx re-creates peers on reload): keep
    /// the failure penalty `weight − effective_weight`, so a healthy backend takes its new
    /// weight at once and a penalised one keeps ramping.
    fn reweight(&mut self, weight: i64) {
        let deficit = (self.weight - self.effective).max(0);
        self.weight = weight;
        self.effective = (weight - deficit).max(0);
    }
}

/// `now` in nginx's `ngx_time()` resolution: whole seconds.
#[inline]
pub(crate) fn whole_seconds(now: SimTime) -> u64 {
    now.as_nanos() / SimTime::SECOND.as_nanos()
}

/// The passive-check state of a pool: one [`Peer`] per backend, indexed like the pool.
///
/// Keyed by backend id: when the pool changes, backends that stay keep their state (under
/// their new index) and new ones start fresh, so health-check flaps of other backends do
/// not erase what this load balancer learnt. Remapping reuses a spare vector, so once the
/// pool's size has been seen no call allocates.
#[derive(Clone, Debug)]
pub(crate) struct PassivePeers {
    /// The tunables.
    config: PassiveChecks,
    /// Use configured weights (`true`) or 1 for every backend.
    weighted: bool,
    /// Per-backend state, indexed like the pool it was last synced with.
    pub(crate) peers: Vec<Peer>,
    /// Scratch space for remapping.
    spare: Vec<Peer>,
    /// The last completion's change of a backend's passive state, until polled.
    change: Option<PassiveChange>,
}

impl PassivePeers {
    /// No peers yet; `weighted` selects configured weights or 1 for all.
    pub(crate) fn new(config: PassiveChecks, weighted: bool) -> Self {
        PassivePeers {
            config,
            weighted,
            peers: Vec::new(),
            spare: Vec::new(),
            change: None,
        }
    }

    /// The change the last completion made to a backend's passive state, once.
    #[inline]
    pub(crate) fn take_change(&mut self) -> Option<PassiveChange> {
        self.change.take()
    }

    /// The tunables.
    pub(crate) fn config(&self) -> PassiveChecks {
        self.config
    }

    #[inline]
    fn weight_of(weighted: bool, b: &Backend) -> i64 {
        if weighted { i64::from(b.weight) } else { 1 }
    }

    /// Brings the state in line with `pool`: remaps by id if the ids differ (dropping
    /// departed backends, adding new ones fresh) and follows weight changes. Returns true
    /// if the membership changed.
    #[inline]
    pub(crate) fn sync(&mut self, pool: &PoolView<'_>) -> bool {
        let weighted = self.weighted;
        let unchanged = self.peers.len() == pool.len()
            && self
                .peers
                .iter()
                .zip(pool.backends)
                .all(|(p, b)| p.id == b.id && p.weight == Self::weight_of(weighted, b));
        if unchanged {
            return false;
        }
        self.resync(pool)
    }

    /// [`sync`](Self::sync) for a completion at `index`: only checks that backend (the
    /// next pick checks the rest).
    #[inline]
    pub(crate) fn sync_at(&mut self, pool: &PoolView<'_>, index: usize) -> bool {
        let matches =
            |p: &Peer, b: &Backend| p.id == b.id && p.weight == Self::weight_of(self.weighted, b);
        if self.peers.len() == pool.len()
            && index < pool.len()
            && matches(&self.peers[index], &pool.backends[index])
        {
            return false;
        }
        self.sync(pool)
    }

    /// The slow path of [`sync`](Self::sync): re-weights, or remaps by id.
    #[cold]
    fn resync(&mut self, pool: &PoolView<'_>) -> bool {
        let weighted = self.weighted;
        let same = self.peers.len() == pool.len()
            && self
                .peers
                .iter()
                .zip(pool.backends)
                .all(|(p, b)| p.id == b.id);
        if same {
            for (p, b) in self.peers.iter_mut().zip(pool.backends) {
                let w = Self::weight_of(weighted, b);
                if p.weight != w {
                    p.reweight(w);
                }
            }
            return false;
        }
        // Merge walk: both the old state and the pool are sorted by id.
        self.spare.clear();
        let mut old = self.peers.iter().peekable();
        for b in pool.backends {
            while old.next_if(|p| p.id < b.id).is_some() {}
            let w = Self::weight_of(weighted, b);
            let peer = match old.next_if(|p| p.id == b.id) {
                Some(p) => {
                    let mut p = *p;
                    p.reweight(w);
                    p
                }
                None => Peer::fresh(b.id, w),
            };
            self.spare.push(peer);
        }
        std::mem::swap(&mut self.peers, &mut self.spare);
        true
    }

    /// nginx's "unavailable" test (`ngx_http_upstream_get_peer`): at least `max_fails`
    /// failures (with `max_fails > 0`) and `now − checked ≤ fail_timeout`.
    #[inline]
    pub(crate) fn unavailable(&self, i: usize, now_s: u64) -> bool {
        let p = &self.peers[i];
        self.config.max_fails > 0
            && p.fails >= self.config.max_fails
            && !self.window_passed(p.checked, now_s)
    }

    /// `now − since > fail_timeout`, in whole seconds of `now`.
    #[inline]
    fn window_passed(&self, since: u64, now_s: u64) -> bool {
        SimTime::from_secs(now_s.saturating_sub(since)) > self.config.fail_timeout
    }

    /// Whether backend `i` of a multi-backend pool may be picked: eligible (nginx: not
    /// `down`) and not unavailable.
    #[inline]
    pub(crate) fn usable(&self, i: usize, b: &Backend, now_s: u64) -> bool {
        b.eligible() && !self.unavailable(i, now_s)
    }

    /// Backend `i` takes part in an SWRR pass: returns the effective weight it adds to its
    /// current weight (and to the total), then recovers one unit of effective weight if it
    /// is below the configured weight (nginx's built-in slow recovery after failures).
    #[inline]
    pub(crate) fn pass(&mut self, i: usize) -> i64 {
        let p = &mut self.peers[i];
        let e = p.effective;
        if p.effective < p.weight {
            p.effective += 1;
        }
        e
    }

    /// Backend `i` was chosen: if its window has passed, open a new one
    /// (`if now − best.checked > fail_timeout: best.checked = now`). A success reported
    /// afterwards then finds `accessed < checked` and clears `fails`.
    #[inline]
    pub(crate) fn chosen(&mut self, i: usize, now_s: u64) {
        if self.window_passed(self.peers[i].checked, now_s) {
            self.peers[i].checked = now_s;
        }
    }

    /// An attempt to backend `i` completed (`ngx_http_upstream_free_round_robin_peer`);
    /// the state must be synced with the pool `i` indexes.
    pub(crate) fn complete(&mut self, now: SimTime, single: bool, i: usize, outcome: Outcome) {
        let max_fails = self.config.max_fails;
        let now_s = whole_seconds(now);
        let p = &mut self.peers[i];
        if single {
            // Single peer: no accounting at all; `fails` is cleared on every completion.
            p.fails = 0;
            return;
        }
        let was_out = max_fails > 0 && p.fails >= max_fails;
        if matches!(outcome.kind, OutcomeKind::Refused | OutcomeKind::TimedOut) {
            // Failure (`NGX_PEER_FAILED`): count it, open a new window, and lose
            // `weight / max_fails` of effective weight (integer division, floor at 0).
            p.fails = p.fails.saturating_add(1);
            p.accessed = now_s;
            p.checked = now_s;
            if max_fails > 0 {
                p.effective = (p.effective - p.weight / i64::from(max_fails)).max(0);
            }
        } else if p.accessed < p.checked {
            // Success after the backend was picked in a window opened after its last
            // failure ("mark peer live if check passed"): clear the counter.
            p.fails = 0;
        }
        let is_out = max_fails > 0 && p.fails >= max_fails;
        if was_out != is_out {
            self.change = Some(PassiveChange {
                server: p.id,
                up: !is_out,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------
// The balancer
// ---------------------------------------------------------------------------------------

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "weighted-round-robin",
    aliases: &[
        "wrr",
        "smooth-wrr",
        "nginx-wrr",
        "nginx-weighted-round-robin",
    ],
    summary: "nginx smooth weighted round robin: weights 5,1,1 give a a b a c a a; nginx max_fails/fail_timeout passive checks",
    source: "nginx src/http/ngx_http_upstream_round_robin.c (ngx_http_upstream_get_peer, ngx_http_upstream_free_round_robin_peer)",
    params: PASSIVE_PARAMS,
    build: |p, _| {
        Box::new(SmoothWeightedRoundRobin::with_checks(
            PassiveChecks::from_params(p),
        ))
    },
}];

/// Smooth weighted round robin with passive health checks, as nginx does it.
///
/// Follows `ngx_http_upstream_get_round_robin_peer`, `ngx_http_upstream_get_peer` and
/// `ngx_http_upstream_free_round_robin_peer` in nginx
/// `src/http/ngx_http_upstream_round_robin.c`. Each backend keeps a `current_weight`
/// (starting at 0) and an `effective_weight` (starting at its weight). On each pick, every
/// eligible backend that is not *unavailable* (see below), in pool order, adds its effective
/// weight to its current weight and to the total, and then recovers one unit of effective
/// weight if it is below its weight; the one with the largest current weight wins (the
/// first on ties), has the total subtracted, and opens a new observation window
/// (`checked = now`) if its last one has expired. Weights 5,1,1 give `a a b a c a a` and
/// then repeat; with all backends eligible and no failures the current weights sum to zero
/// after every pick. Ineligible backends (down, or weight 0) keep their current weight
/// untouched until they return, as in nginx.
///
/// **Passive checks** (`PassiveChecks`, nginx defaults `max_fails=1 fail_timeout=10s`):
/// an attempt reported as [`OutcomeKind::Refused`] or [`OutcomeKind::TimedOut`] counts a
/// failure: `fails += 1`, `accessed = checked = now`, `effective_weight -= weight /
/// max_fails` (floor 0). A backend with `fails ≥ max_fails` is unavailable while
/// `now − checked ≤ fail_timeout`; after that it is picked again with whatever effective
/// weight it has left (0 with the defaults) and ramps back by one per pick pass. Any other
/// completion (including HTTP 5xx) clears `fails` if the backend was picked in a window
/// opened after its last failure (`accessed < checked`). Picking it after the window
/// opens a new one (`checked = now`), so until a success clears `fails` it is unavailable
/// again: one trial request per `fail_timeout`, as in nginx. If every eligible backend is
/// unavailable, `pick` returns `None` (nginx answers 502 "no live upstreams"; there is no
/// "quick recovery" since nginx 1.11.5). A pool of a single backend ignores all of this
/// (nginx's `peers->single`): it is picked whenever it is eligible, and its `fails` is
/// cleared on every completion. Time is nginx's whole seconds; retries are the owner's job
/// (see the module documentation).
///
/// State across pool changes: the current weights are reset to 0 whenever the pool changes
/// (nginx resets them when the upstream is reconfigured); the passive-check state is kept
/// per backend id for the backends that stay, since the owner reports every up/down flap
/// of any backend as a pool change.
///
/// It is [`LeastConnections`] with every backend equally loaded (nginx's `least_conn`
/// with all in-flight counts equal is exactly this round robin), so it shares its state
/// and its ordered index: in a pool of [`INDEX_MIN`](super::least_conn::INDEX_MIN)
/// backends or more whose owner keeps epochs, a pick is O(1) (the flat index's rotation)
/// while every usable backend adds the same effective weight (equal weights, no failure
/// being counted), and a scan otherwise (unequal weights, or a failure until every backend
/// is clean again).
#[derive(Clone, Debug)]
pub struct SmoothWeightedRoundRobin {
    pub(super) inner: LeastConnections,
}

impl Default for SmoothWeightedRoundRobin {
    fn default() -> Self {
        Self::new()
    }
}

impl SmoothWeightedRoundRobin {
    /// A balancer with nginx's default passive checks and all current weights at zero.
    pub fn new() -> Self {
        Self::with_checks(PassiveChecks::default())
    }

    /// A balancer with the given passive-check tunables.
    pub fn with_checks(checks: PassiveChecks) -> Self {
        SmoothWeightedRoundRobin {
            inner: LeastConnections::smooth_wrr(checks),
        }
    }

    /// The passive-check tunables.
    pub fn checks(&self) -> PassiveChecks {
        self.inner.checks()
    }
}

impl Balancer for SmoothWeightedRoundRobin {
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let current = self.inner.current_weights();
        (current.len() == pool.len() && pool.len() > 1).then(|| {
            let w = pool
                .backends
                .iter()
                .zip(&current)
                .map(|(b, c)| (b.id, c.to_string()))
                .collect();
            super::Explanation::per_backend("current_weight", w)
        })
    }

    #[inline]
    fn pick(&mut self, now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        self.inner.pick(now, pool, req)
    }

    fn on_response(&mut self, now: SimTime, pool: &PoolView<'_>, index: usize, outcome: Outcome) {
        self.inner.on_response(now, pool, index, outcome);
    }

    fn poll_passive(&mut self) -> Option<PassiveChange> {
        self.inner.poll_passive()
    }

    fn on_pool_change(&mut self, now: SimTime, pool: &PoolView<'_>) {
        self.inner.on_pool_change(now, pool);
    }
}

/// Test driver for the nginx balancers' passive checks: sequential requests with nginx's
/// retries (shared with `least_conn`'s tests).
#[cfg(test)]
pub(super) mod driver {
    use super::*;
    use crate::balancer::testutil::letter;

    /// Serves one request per entry of `times`, one after another, against `backends`, where
    /// the backends in `closed` refuse every connection (reported as
    /// [`OutcomeKind::Refused`]) and the others answer (`Success`).
    ///
    /// A refused attempt is retried within the same request by picking again from a view in
    /// which the backends this request already tried are marked unavailable: nginx's
    /// `tried` bitmap, which skips a peer exactly like a `down` one. The request ends when a
    /// backend answers or nothing is left to try (nginx's 502, written `-`). Returns every
    /// attempt in order: a backend's letter for an answer, in upper case for a refusal.
    pub(crate) fn serve(
        lb: &mut dyn Balancer,
        backends: &[Backend],
        closed: &[usize],
        times: impl IntoIterator<Item = SimTime>,
    ) -> String {
        let view = PoolView::new(backends);
        let mut out = String::new();
        for now in times {
            let mut tried = vec![false; backends.len()];
            for attempt in 0u8.. {
                let masked: Vec<Backend> = backends
                    .iter()
                    .zip(&tried)
                    .map(|(b, &t)| Backend {
                        available: b.available && !t,
                        ..*b
                    })
                    .collect();
                let req = RequestInfo {
                    attempt,
                    ..RequestInfo::default()
                };
                let Some(i) = lb.pick(now, &PoolView::new(&masked), &req) else {
                    out.push('-');
                    break;
                };
                tried[i] = true;
                if closed.contains(&i) {
                    let refused = Outcome::of(OutcomeKind::Refused, SimTime::ZERO);
                    lb.on_response(now, &view, i, refused);
                    out.push(letter(Some(i)).to_ascii_uppercase());
                } else {
                    let ok = Outcome::of(OutcomeKind::Success, SimTime::MILLISECOND);
                    lb.on_response(now, &view, i, ok);
                    out.push(letter(Some(i)));
                    break;
                }
            }
        }
        out
    }

    /// The backends that answered, from [`serve`]'s attempts (its lower-case letters).
    pub(crate) fn responders(attempts: &str) -> String {
        attempts.chars().filter(char::is_ascii_lowercase).collect()
    }

    /// `n` request times one millisecond apart from `start` (all within one nginx second
    /// when `start` is a whole second and `n` ≤ 1000).
    pub(crate) fn ms_from(start: SimTime, n: u64) -> impl Iterator<Item = SimTime> {
        (0..n).map(move |k| start + SimTime::from_millis(k))
    }
}

#[cfg(test)]
mod tests;
