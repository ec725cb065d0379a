//! Balancers: sans-IO state machines that choose a backend for each request.
//!
//! A balancer sees only what a real load balancer sees: the pool as its own load balancer
//! node believes it to be ([`PoolView`]: weights, availability by its health checker, and
//! its *own* count of requests in flight to each backend), the request's routing facts
//! ([`RequestInfo`]), `now`, and the outcomes it observed ([`Outcome`]). It never touches
//! the event queue, the clock or a server's true state, and it draws randomness only from
//! the [`SimRng`] it was built with.
//!
//! **Architecture invariant:** this module imports only `engine::{time, rng}`, and
//! `engine::prefetch`, whose cache hints change no result.
//!
//! Each algorithm lives in its own file with a doc comment citing the real system whose
//! semantics it follows. [`AlgorithmSpec`] names and parameterises them; [`catalogue`] lists
//! them for `lblab list algorithms`.

use crate::engine::{SimRng, SimTime};

pub mod hashfn;
pub mod params;
pub mod priority;

mod bounded_load;
mod eb_tree;
mod edf;
mod envoy_least_request;
mod envoy_round_robin;
mod first;
mod haproxy_leastconn;
mod haproxy_roundrobin;
mod indexed_heap;
mod ip_hash;
mod ipvs_lblc;
mod ipvs_lc;
mod ipvs_mh;
mod ipvs_sh;
mod ipvs_wrr;
mod jiq;
mod jsq;
mod ketama;
mod key_hash;
mod least_conn;
mod least_conn_index;
mod least_response_time;
mod maglev;
mod min_tree;
mod naive_wrr;
mod peak_ewma;
mod power_of_d;
mod random;
mod rendezvous;
mod ring_index;
mod round_robin;
mod smooth_wrr;
mod source_hash;
mod static_rr;
mod sticky;
mod weights;

#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod testutil;

pub use least_conn::LeastConnections;
pub use params::{ParamDef, ParamKind, ParamValue, Params};
pub use power_of_d::PowerOfD;
pub use random::Random;
pub use round_robin::RoundRobin;
pub use smooth_wrr::SmoothWeightedRoundRobin;

/// Every algorithm family's catalogue entries, in the order `lblab list algorithms` prints.
const FAMILIES: &[&[AlgorithmInfo]] = &[
    round_robin::ALGORITHMS,
    smooth_wrr::ALGORITHMS,
    naive_wrr::ALGORITHMS,
    haproxy_roundrobin::ALGORITHMS,
    static_rr::ALGORITHMS,
    envoy_round_robin::ALGORITHMS,
    first::ALGORITHMS,
    least_conn::ALGORITHMS,
    haproxy_leastconn::ALGORITHMS,
    envoy_least_request::ALGORITHMS,
    jsq::ALGORITHMS,
    jiq::ALGORITHMS,
    least_response_time::ALGORITHMS,
    peak_ewma::ALGORITHMS,
    random::ALGORITHMS,
    power_of_d::ALGORITHMS,
    ip_hash::ALGORITHMS,
    source_hash::ALGORITHMS,
    key_hash::ALGORITHMS,
    ketama::ALGORITHMS,
    maglev::ALGORITHMS,
    rendezvous::ALGORITHMS,
    bounded_load::ALGORITHMS,
    sticky::ALGORITHMS,
    ipvs_lc::ALGORITHMS,
    ipvs_wrr::ALGORITHMS,
    ipvs_sh::ALGORITHMS,
    ipvs_mh::ALGORITHMS,
    ipvs_lblc::ALGORITHMS,
];

/// One backend as the load balancer sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Stable id of the server (dense, 0-based, in scenario order).
    pub id: u32,
    /// Configured weight (≥ 1 for a usable backend; 0 takes no new traffic).
    pub weight: u32,
    /// Requests this load balancer has sent to the backend and not yet seen finish.
    pub in_flight: u32,
    /// Whether this load balancer may send new requests there (up, in the pool).
    pub available: bool,
}

impl Backend {
    /// Eligible for a new request: available and with a positive weight.
    #[inline]
    pub fn eligible(&self) -> bool {
        self.available && self.weight > 0
    }
}

/// The pool as one load balancer node sees it.
///
/// Invariant: `backends` is sorted by `id` with unique ids; a balancer returns an *index*
/// into this slice.
#[derive(Copy, Clone, Debug)]
pub struct PoolView<'a> {
    /// The backends, in stable id order.
    pub backends: &'a [Backend],
    /// Changes whenever a backend's id, weight or availability does (not its in-flight
    /// count): a balancer may keep what it derived from those (its eligible backends, a
    /// hash table) while the epoch stays the same, so a pick need not look at every
    /// backend.
    epoch: u64,
    /// The owner reports every in-flight change ([`Balancer::on_in_flight`]).
    tracked: bool,
}

/// An epoch no pool has: a balancer's "nothing derived yet".
pub(crate) const NO_EPOCH: u64 = u64::MAX;

impl<'a> PoolView<'a> {
    /// Wraps a slice (debug-checks the sort invariant); its epoch is a hash of the
    /// backends' ids, weights and availability, computed here (O(n): tests, cold paths).
    pub fn new(backends: &'a [Backend]) -> Self {
        debug_assert!(
            backends.windows(2).all(|w| w[0].id < w[1].id),
            "pool not sorted by id"
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ backends.len() as u64;
        for b in backends {
            let x = (u64::from(b.id) << 33) ^ (u64::from(b.weight) << 1) ^ u64::from(b.available);
            h = crate::engine::rng::splitmix64(h ^ x);
        }
        // Content epochs have the top bit set, owners' counters do not; neither is
        // `NO_EPOCH` (odd).
        PoolView {
            backends,
            epoch: (h | 1 << 63) & !1,
            tracked: false,
        }
    }

    /// Wraps a slice whose owner counts its changes: `epoch` must change whenever a
    /// backend's id, weight or availability changes (below 2⁶³), and the owner reports
    /// every in-flight change to the balancer ([`Balancer::on_in_flight`]) if it asks.
    pub fn with_epoch(backends: &'a [Backend], epoch: u64) -> Self {
        debug_assert!(epoch < 1 << 63);
        debug_assert!(
            backends.windows(2).all(|w| w[0].id < w[1].id),
            "pool not sorted by id"
        );
        PoolView {
            backends,
            epoch,
            tracked: true,
        }
    }

    /// The pool's epoch (see the field).
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether the owner reports in-flight changes ([`with_epoch`](PoolView::with_epoch)).
    #[inline]
    pub fn tracked(&self) -> bool {
        self.tracked
    }

    /// Number of backends (eligible or not).
    #[inline]
    pub fn len(&self) -> usize {
        self.backends.len()
    }

    /// True if the pool has no backends at all.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The index of the backend with id `id`, if it is in the pool. O(1) when the pool
    /// holds server `id` at index `id` (every server of a tier, the common case; one cache
    /// line read), else a binary search.
    #[inline]
    pub fn index_of(&self, id: u32) -> Option<usize> {
        index_by_id(self.backends, id, |b| b.id)
    }
}

/// The index of the item with id `id` in `items`, sorted by id: O(1) when item `id` sits
/// at index `id` (a pool of every server), else a binary search.
#[inline]
pub(crate) fn index_by_id<T>(items: &[T], id: u32, id_of: impl Fn(&T) -> u32) -> Option<usize> {
    match items.get(id as usize) {
        Some(x) if id_of(x) == id => Some(id as usize),
        _ => items.binary_search_by_key(&id, id_of).ok(),
    }
}

/// What a balancer's derived table (hash ring, lookup table) was built from: each
/// backend's id, weight and (optionally) eligibility. Lets it rebuild only when the pool
/// really changed, without allocating when it did not.
#[derive(Clone, Debug)]
pub(crate) struct PoolSnapshot {
    entries: Vec<(u32, u32, bool)>,
    track_eligibility: bool,
    /// The epoch of the pool last recorded: the same epoch is the same pool, at no cost.
    epoch: u64,
}

impl Default for PoolSnapshot {
    fn default() -> Self {
        PoolSnapshot::new(false)
    }
}

impl PoolSnapshot {
    /// An empty snapshot (differs from every pool); eligibility changes count as changes
    /// only if `track_eligibility`.
    pub(crate) fn new(track_eligibility: bool) -> Self {
        PoolSnapshot {
            entries: Vec::new(),
            track_eligibility,
            epoch: NO_EPOCH,
        }
    }

    /// Records `pool` and returns `true` if it differs from the recorded one (the caller
    /// rebuilds); `false`, touching nothing, if it is the same.
    pub(crate) fn update(&mut self, pool: &PoolView<'_>) -> bool {
        if pool.epoch == self.epoch {
            return false;
        }
        self.epoch = pool.epoch;
        let track = self.track_eligibility;
        let entry = |b: &Backend| (b.id, b.weight, track && b.eligible());
        let same = self.entries.len() == pool.len()
            && self
                .entries
                .iter()
                .zip(pool.backends)
                .all(|(&e, b)| e == entry(b));
        if same {
            return false;
        }
        self.entries.clear();
        self.entries.extend(pool.backends.iter().map(entry));
        true
    }
}

/// The eligible backends of a pool, in pool order, kept while the pool's epoch stays the
/// same: a uniform pick among them is one draw and one lookup, whatever the pool's size.
#[derive(Clone, Debug)]
pub(crate) struct EligibleSet {
    epoch: u64,
    idx: Vec<u32>,
    /// Every backend is eligible: the `k`-th eligible one is backend `k`.
    all: bool,
}

impl Default for EligibleSet {
    fn default() -> Self {
        EligibleSet {
            epoch: NO_EPOCH,
            idx: Vec::new(),
            all: false,
        }
    }
}

impl EligibleSet {
    /// The indices of `pool`'s eligible backends, in pool order.
    #[inline]
    pub(crate) fn of(&mut self, pool: &PoolView<'_>) -> &[u32] {
        if pool.epoch != self.epoch {
            self.epoch = pool.epoch;
            self.idx.clear();
            self.idx.extend(
                pool.backends
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.eligible())
                    .map(|(i, _)| i as u32),
            );
            self.all = self.idx.len() == pool.backends.len();
        }
        &self.idx
    }

    /// The `k`-th eligible backend of the pool last given to [`of`](Self::of): `k` itself
    /// while every backend is eligible, without reading the list (a cache miss per pick
    /// in a large pool).
    #[inline]
    pub(crate) fn nth(&self, k: usize) -> usize {
        if self.all { k } else { self.idx[k] as usize }
    }
}

/// The routing facts of one request (what an L4/L7 load balancer can read from it).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Client IPv4 address as a big-endian integer (`a.b.c.d` is `a<<24 | b<<16 | c<<8 | d`).
    pub client_ip: u32,
    /// Stable id of the client.
    pub client: u32,
    /// The request key (cache key, path id) for hash-based routing; its text form, which
    /// string hashes such as nginx's CRC32 hash, is the decimal number.
    pub key: Option<u64>,
    /// The backend id named by the client's sticky-session cookie, if it has one.
    pub cookie: Option<u32>,
    /// Index of the request class.
    pub class: u16,
    /// Attempt number (0 for the first try, then retries).
    pub attempt: u8,
}

impl RequestInfo {
    /// A request with key `key` and nothing else (what a balancer hashes for a key told
    /// ahead, [`Balancer::hint_key`]).
    pub fn keyed(key: u64) -> RequestInfo {
        RequestInfo {
            key: Some(key),
            ..RequestInfo::default()
        }
    }
}

/// What the load balancer observed when a request to a backend finished.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// True for a successful response.
    pub ok: bool,
    /// Time from dispatch to response (or to giving up), as the load balancer measured it.
    pub rtt: SimTime,
    /// How it ended: real load balancers count different failures (nginx counts connect
    /// errors and timeouts, Envoy's outlier detection 5xx and gateway errors, ...).
    pub kind: OutcomeKind,
}

/// How a request to a backend ended, as the load balancer saw it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    /// A response the load balancer passes on as a success (status < 500).
    Success,
    /// The server answered with an error status (500, 502, 503 when its queue is full, ...).
    Status(u16),
    /// The connection was refused or reset: a fast, hard failure (a crashed server).
    Refused,
    /// No answer within the load balancer's upstream timeout.
    TimedOut,
    /// The client gave up (or the request was otherwise abandoned) before any answer: no
    /// verdict on the server. nginx does not count it as an upstream failure, nor does
    /// Envoy's outlier detection.
    Cancelled,
}

impl Outcome {
    /// A success (`ok`) or a generic server error (HTTP 500) after `rtt`.
    pub const fn new(ok: bool, rtt: SimTime) -> Outcome {
        Outcome {
            ok,
            rtt,
            kind: if ok {
                OutcomeKind::Success
            } else {
                OutcomeKind::Status(500)
            },
        }
    }

    /// An outcome of the given kind after `rtt` (`ok` iff `Success`).
    pub fn of(kind: OutcomeKind, rtt: SimTime) -> Outcome {
        Outcome {
            ok: kind == OutcomeKind::Success,
            rtt,
            kind,
        }
    }
}

/// A backend that a balancer's own passive health check took out of rotation (`up ==
/// false`: nginx's `fails` reached `max_fails`) or let back in (`up == true`: a success
/// after its `fail_timeout` trial cleared `fails`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PassiveChange {
    /// Server id of the backend.
    pub server: u32,
    /// Back in rotation (`true`) or out (`false`).
    pub up: bool,
}

/// A load-balancing algorithm as a sans-IO state machine.
///
/// Drive it like this: before each request the owner updates its [`Backend`] slice (the
/// owner, not the balancer, counts in-flight requests), calls [`pick`](Balancer::pick), and
/// later reports the result with [`on_response`](Balancer::on_response). When backends are
/// added or removed the owner calls [`on_pool_change`](Balancer::on_pool_change).
pub trait Balancer: Send {
    /// Chooses a backend for `req`: an index into `pool.backends` whose backend is
    /// [`eligible`](Backend::eligible), or `None` if no backend can take it.
    fn pick(&mut self, now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize>;

    /// Reports that the request sent to `pool.backends[index]` finished; `pool` is the view
    /// after the load balancer stopped counting it.
    fn on_response(
        &mut self,
        _now: SimTime,
        _pool: &PoolView<'_>,
        _index: usize,
        _outcome: Outcome,
    ) {
    }

    /// nginx-style passive health (`max_fails`/`fail_timeout`): the change the last
    /// [`on_response`](Balancer::on_response) made to which backends the balancer itself
    /// keeps out of rotation, reported once. Balancers without passive checks never have
    /// one. The owner logs it like an active check's verdict; it changes nothing in the
    /// pool view (the balancer already acts on it).
    fn poll_passive(&mut self) -> Option<PassiveChange> {
        None
    }

    /// Reports that the pool changed: backends added or removed, re-weighted, or marked
    /// (un)available. Owners call it on every such change, never for in-flight counts;
    /// indices may shift, so balancers keyed by index remap by `id`.
    fn on_pool_change(&mut self, _now: SimTime, _pool: &PoolView<'_>) {}

    /// Whether the balancer takes [`hint_key`](Balancer::hint_key): it hashes request keys,
    /// and in a large pool its pick for a key reads memory that is seldom in cache. Asked
    /// once, when the owner builds it.
    fn wants_key_hints(&self) -> bool {
        false
    }

    /// Tells the balancer of a key that a pick will come for soon: the owner draws request
    /// keys ahead and tells each one as it is drawn, two picks before the pick for it (for
    /// the pool's next requests with keys, if the pool stays the same). The balancer may
    /// start loading what that pick will read, and remember the key's hash. It changes no
    /// pick: every pick is what it would have been without hints. A performance hint only,
    /// so an owner may call it for keys whose requests go elsewhere.
    fn hint_key(&mut self, _key: u64) {}

    /// Whether the balancer wants [`on_in_flight`](Balancer::on_in_flight) (to keep an
    /// index ordered by load). Asked once, when the owner builds it.
    fn wants_in_flight(&self) -> bool {
        false
    }

    /// Reports that backend `index`'s in-flight count is now `in_flight`. An owner whose
    /// views are [`tracked`](PoolView::tracked) calls it on every such change, after
    /// writing the count into its backends.
    fn on_in_flight(&mut self, _index: usize, _in_flight: u32) {}

    /// For `lblab trace`: the numbers the next pick for `req` will compare, computed
    /// without changing any state — per backend (server id, value), e.g. weighted
    /// least-connections scores `50/5=10` or nginx's `current_weight`s, and the arithmetic
    /// that is not per backend in [`Explanation::note`] (a hash value and its `% n` index,
    /// a ring point). Called just before [`pick`](Balancer::pick) with the same `now`,
    /// pool and request. `None` when the algorithm compares nothing worth showing (or until
    /// it has seen the pool). Never called on the hot path.
    fn explain(
        &self,
        _now: SimTime,
        _pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<Explanation> {
        None
    }
}

/// What [`Balancer::explain`] shows before a pick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explanation {
    /// What the per-backend values are (the trace's legend), e.g. `in_flight/weight`.
    pub label: String,
    /// One value per backend it has one for: (server id, value).
    pub values: Vec<(u32, String)>,
    /// Arithmetic about the request rather than a backend (hash, `% n`, ring point); empty
    /// if none.
    pub note: String,
}

impl Explanation {
    /// Per-backend values under `label`, no note.
    pub fn per_backend(label: impl Into<String>, values: Vec<(u32, String)>) -> Explanation {
        Explanation {
            label: label.into(),
            values,
            note: String::new(),
        }
    }

    /// Only a note.
    pub fn note(note: impl Into<String>) -> Explanation {
        Explanation {
            note: note.into(),
            ..Explanation::default()
        }
    }
}

/// Builds a balancer from validated parameters and its random stream.
pub type BuildFn = fn(&Params, SimRng) -> Box<dyn Balancer>;

/// One entry of the algorithm catalogue.
#[derive(Copy, Clone, Debug)]
pub struct AlgorithmInfo {
    /// Name as written in scenario files.
    pub name: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [&'static str],
    /// One line: what it does.
    pub summary: &'static str,
    /// The real system (and file) whose semantics it follows.
    pub source: &'static str,
    /// Its parameters (`[balancer]` keys besides `algorithm`).
    pub params: &'static [ParamDef],
    /// Constructor.
    pub build: BuildFn,
}

/// Every algorithm, in the order `lblab list algorithms` prints them.
pub fn catalogue() -> impl Iterator<Item = &'static AlgorithmInfo> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// Resolves a name or alias to its catalogue entry.
pub fn lookup(name: &str) -> Option<&'static AlgorithmInfo> {
    catalogue().find(|a| a.name == name || a.aliases.contains(&name))
}

/// True for algorithms that map a request by its key or address (hashing families):
/// those for which "keys remapped by a membership change" means something. They are the
/// ones with a `hash_on` parameter, plus the address hashes `ip-hash*` and `haproxy-source`.
pub fn is_keyed(info: &AlgorithmInfo) -> bool {
    info.params.iter().any(|p| p.key == "hash_on")
        || info.name.starts_with("ip-hash")
        || info.name == "haproxy-source"
        || matches!(info.name, "ipvs-sh" | "ipvs-mh" | "ipvs-lblc")
}

/// A named algorithm with validated parameters, as a scenario selects it.
#[derive(Clone, Debug)]
pub struct AlgorithmSpec {
    info: &'static AlgorithmInfo,
    params: Params,
    label: String,
}

impl PartialEq for AlgorithmSpec {
    fn eq(&self, other: &Self) -> bool {
        self.info.name == other.info.name && self.params == other.params
    }
}

impl AlgorithmSpec {
    /// The algorithm `name` (or alias) with default parameters.
    pub fn named(name: &str) -> Option<AlgorithmSpec> {
        let info = lookup(name)?;
        Some(AlgorithmSpec::new(
            info,
            Params::defaults(info.params),
            None,
        ))
    }

    /// An algorithm with parameters (already checked against `info.params`) and an
    /// optional label; without one the label is derived from the name and the parameters
    /// that differ from their defaults.
    pub fn new(
        info: &'static AlgorithmInfo,
        params: Params,
        label: Option<String>,
    ) -> AlgorithmSpec {
        let label = label.unwrap_or_else(|| default_label(info, &params));
        AlgorithmSpec {
            info,
            params,
            label,
        }
    }

    /// The label used in tables, CSVs and file names.
    pub fn name(&self) -> String {
        self.label.clone()
    }

    /// The catalogue entry.
    pub fn info(&self) -> &'static AlgorithmInfo {
        self.info
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// nginx's passive health check this algorithm carries, as `(max_fails,
    /// fail_timeout)`: the nginx algorithms have it by default (`max_fails = 1`,
    /// `fail_timeout = 10s`), and so does `sticky` over one of them. `None` when it has
    /// none or `max_fails = 0` turns it off.
    pub fn passive_checks(&self) -> Option<(u32, SimTime)> {
        if self.info.name == "sticky" {
            return lookup(self.params.word("base"))
                .map(|b| AlgorithmSpec::new(b, Params::defaults(b.params), None))
                .and_then(|b| b.passive_checks());
        }
        let has = self.params.has("max_fails") && self.params.has("fail_timeout");
        (has && self.params.int("max_fails") > 0).then(|| {
            (
                self.params.int("max_fails") as u32,
                self.params.duration("fail_timeout"),
            )
        })
    }

    /// Builds a fresh balancer that draws its randomness from `rng`.
    pub fn build(&self, rng: SimRng) -> Box<dyn Balancer> {
        (self.info.build)(&self.params, rng)
    }
}

fn default_label(info: &AlgorithmInfo, params: &Params) -> String {
    let mut changed = params.non_default(info.params);
    let mut name = info.name.to_string();
    // power-of-d is known by its d: power-of-two, power-of-3, ...
    if info.name == "power-of-d" {
        let d = params.int("d");
        name = if d == 2 {
            "power-of-two".into()
        } else {
            format!("power-of-{d}")
        };
        changed.retain(|(k, _)| *k != "d");
    }
    if changed.is_empty() {
        name
    } else {
        let kv: Vec<String> = changed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{name}({})", kv.join(","))
    }
}

/// A number for [`Explanation`]s: at most `decimals` decimals, trailing zeros dropped
/// (`10`, `1.5`, `1.33`).
pub(crate) fn show_num(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `n/d=q`, the load ratio the least-connections family compares (`50/5=10`).
pub(crate) fn show_ratio(n: u64, d: u64) -> String {
    if d == 0 {
        return format!("{n}/0");
    }
    format!("{n}/{d}={}", show_num(n as f64 / d as f64, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend is found by id whether it sits at its own index or not.
    #[test]
    fn index_of_finds_every_id_and_only_those() {
        let b = |id| Backend {
            id,
            weight: 1,
            in_flight: 0,
            available: true,
        };
        let whole: Vec<Backend> = (0..10).map(b).collect();
        let gaps: Vec<Backend> = [0, 2, 3, 7, 9, 40].into_iter().map(b).collect();
        for pool in [&whole[..], &gaps[..], &[]] {
            let view = PoolView::new(pool);
            for id in 0..50 {
                let want = pool.iter().position(|x| x.id == id);
                assert_eq!(view.index_of(id), want, "{id} in {pool:?}");
            }
        }
    }
}
