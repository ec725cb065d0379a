//! Balancers: sans-IO state machines that choose a backend for each request.
//!
//! A balancer sees only what a real load balancer sees: the pool as its own load balancer
//! node believes it to be ([`PoolView`]: weights, availability by its health checker, and
//! its *own* count of requests in flight to each backend), the request's routing facts
//! ([`RequestInfo`]), `now`, and the outcomes it observed ([`Outcome`]). It never touches
//! the event queue, the clock or a server's true state, and it draws randomness only from
//! the [`SimRng`] it was built with.
//!
//! **Architecture invariant:** this module imports only `engine::{time, rng}`.
//!
//! Each algorithm lives in its own file with a doc comment citing the real system whose
//! semantics it follows. [`AlgorithmSpec`] names and parameterises them; [`catalogue`] lists
//! them for `lblab list algorithms`.

use crate::engine::{SimRng, SimTime};

mod least_conn;
mod power_of_d;
mod random;
mod round_robin;
mod smooth_wrr;
#[cfg(test)]
pub(crate) mod testutil;

pub use least_conn::LeastConnections;
pub use power_of_d::PowerOfD;
pub use random::Random;
pub use round_robin::RoundRobin;
pub use smooth_wrr::SmoothWeightedRoundRobin;

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
}

impl<'a> PoolView<'a> {
    /// Wraps a slice (debug-checks the sort invariant).
    pub fn new(backends: &'a [Backend]) -> Self {
        debug_assert!(
            backends.windows(2).all(|w| w[0].id < w[1].id),
            "pool not sorted by id"
        );
        PoolView { backends }
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
}

/// The routing facts of one request (what an L4/L7 load balancer can read from it).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Client IPv4 address as a big-endian integer.
    pub client_ip: u32,
    /// Stable id of the client (session owner).
    pub client: u32,
    /// Hash of the request key (path, cache key), 0 if none.
    pub key: u64,
    /// Index of the request class.
    pub class: u16,
    /// Attempt number (0 for the first try, then retries).
    pub attempt: u8,
}

/// What the load balancer observed when a request to a backend finished.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// True for a successful response.
    pub ok: bool,
    /// Time from dispatch to response (or to giving up), as the load balancer measured it.
    pub rtt: SimTime,
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

    /// Reports that the request sent to `pool.backends[index]` finished.
    fn on_response(&mut self, _now: SimTime, _index: usize, _outcome: Outcome) {}

    /// Reports that backends were added, removed or re-weighted.
    fn on_pool_change(&mut self, _now: SimTime, _pool: &PoolView<'_>) {}
}

/// A named algorithm with its parameters, as a scenario file selects it.
#[derive(Clone, Debug, PartialEq)]
pub enum AlgorithmSpec {
    /// Plain rotation, weights ignored.
    RoundRobin,
    /// nginx smooth weighted round robin.
    WeightedRoundRobin,
    /// Fewest in-flight requests (nginx `least_conn` with weights ignored).
    LeastConnections,
    /// Fewest in-flight per unit of weight (nginx `least_conn`).
    WeightedLeastConnections,
    /// Uniform random over eligible backends.
    Random,
    /// Best of `d` random choices by in-flight count.
    PowerOfD {
        /// Number of candidates sampled per request (≥ 1).
        d: u32,
    },
}

impl AlgorithmSpec {
    /// The canonical name used in scenario files, CSVs and tables.
    pub fn name(&self) -> String {
        match self {
            AlgorithmSpec::RoundRobin => "round-robin".into(),
            AlgorithmSpec::WeightedRoundRobin => "weighted-round-robin".into(),
            AlgorithmSpec::LeastConnections => "least-connections".into(),
            AlgorithmSpec::WeightedLeastConnections => "weighted-least-connections".into(),
            AlgorithmSpec::Random => "random".into(),
            AlgorithmSpec::PowerOfD { d: 2 } => "power-of-two".into(),
            AlgorithmSpec::PowerOfD { d } => format!("power-of-{d}"),
        }
    }

    /// Builds a fresh balancer that draws its randomness from `rng`.
    pub fn build(&self, rng: SimRng) -> Box<dyn Balancer> {
        match self {
            AlgorithmSpec::RoundRobin => Box::new(RoundRobin::new()),
            AlgorithmSpec::WeightedRoundRobin => Box::new(SmoothWeightedRoundRobin::new()),
            AlgorithmSpec::LeastConnections => Box::new(LeastConnections::new(false)),
            AlgorithmSpec::WeightedLeastConnections => Box::new(LeastConnections::new(true)),
            AlgorithmSpec::Random => Box::new(Random::new(rng)),
            AlgorithmSpec::PowerOfD { d } => Box::new(PowerOfD::new(*d, rng)),
        }
    }
}

/// One entry of the algorithm catalogue.
#[derive(Copy, Clone, Debug)]
pub struct AlgorithmInfo {
    /// Name as written in scenario files.
    pub name: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [&'static str],
    /// One line: what it does and whose semantics it follows.
    pub summary: &'static str,
    /// Parameters (`key=default: meaning`), empty if none.
    pub params: &'static str,
}

/// Every algorithm, in the order `lblab list algorithms` prints them.
pub fn catalogue() -> &'static [AlgorithmInfo] {
    &[
        AlgorithmInfo {
            name: "round-robin",
            aliases: &["rr"],
            summary: "next eligible backend in turn, weights ignored",
            params: "",
        },
        AlgorithmInfo {
            name: "weighted-round-robin",
            aliases: &["wrr", "smooth-wrr", "nginx-wrr"],
            summary: "nginx smooth weighted round robin: weights 5,1,1 give a a b a c a a",
            params: "",
        },
        AlgorithmInfo {
            name: "least-connections",
            aliases: &["least-conn", "lc"],
            summary: "fewest requests in flight from this LB; ties broken round-robin (nginx least_conn, weights ignored)",
            params: "",
        },
        AlgorithmInfo {
            name: "weighted-least-connections",
            aliases: &["wlc", "weighted-least-conn"],
            summary: "fewest in flight per unit of weight, ties by smooth WRR (nginx least_conn)",
            params: "",
        },
        AlgorithmInfo {
            name: "random",
            aliases: &[],
            summary: "uniform random over eligible backends, weights ignored (Envoy RANDOM)",
            params: "",
        },
        AlgorithmInfo {
            name: "power-of-d",
            aliases: &["power-of-two", "p2c", "two-choices"],
            summary: "sample d distinct backends, send to the one with fewest in flight (Mitzenmacher; Finagle/nginx random two)",
            params: "d=2: candidates per request (power-of-two means d=2)",
        },
    ]
}

/// Resolves a name or alias to its canonical catalogue entry.
pub fn lookup(name: &str) -> Option<&'static AlgorithmInfo> {
    catalogue()
        .iter()
        .find(|a| a.name == name || a.aliases.contains(&name))
}
