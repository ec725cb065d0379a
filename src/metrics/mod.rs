//! Metrics: what one replication measured, and how replications are aggregated.
//!
//! A replication produces a [`RepResult`]: one value per entry of [`METRICS`] plus one
//! [`ServerRow`] per server. [`stats`] turns several replications into means with 95%
//! confidence intervals that stay inside each metric's [`stats::Support`] (recorded in
//! [`METRICS`]); [`imbalance`] holds the fairness measures.

pub mod imbalance;
pub mod series;
pub use series::{HopRow, ServerBucket, ServerSeries, ServiceBucket};
pub mod slices;
pub mod stats;

/// Why a request failed, as the client sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCause {
    /// The server's queue was full (HTTP 503 from the server).
    Rejected,
    /// The client gave up waiting.
    Timeout,
    /// The balancer had no eligible backend (HTTP 502 "no live upstreams").
    NoBackend,
    /// The connection was refused or reset (a crashed server; HTTP 502).
    Refused,
    /// The server answered with an error status other than a full queue (HTTP 5xx).
    ServerError,
    /// The load balancer's upstream timeout fired (HTTP 504).
    UpstreamTimeout,
    /// The load balancer node the request went to was down, died with it, or its flow was
    /// moved to a node that did not know the connection (anycast rehash): the connection
    /// was reset, or the client gave up waiting on a dead path.
    LbLost,
}

impl ErrorCause {
    /// Every cause, in reporting order.
    pub const ALL: [ErrorCause; 7] = [
        ErrorCause::Rejected,
        ErrorCause::Timeout,
        ErrorCause::NoBackend,
        ErrorCause::Refused,
        ErrorCause::ServerError,
        ErrorCause::UpstreamTimeout,
        ErrorCause::LbLost,
    ];

    /// Stable name used in CSV columns and tables.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCause::Rejected => "rejected",
            ErrorCause::Timeout => "timeout",
            ErrorCause::NoBackend => "no_backend",
            ErrorCause::Refused => "refused",
            ErrorCause::ServerError => "server_error",
            ErrorCause::UpstreamTimeout => "upstream_timeout",
            ErrorCause::LbLost => "lb_lost",
        }
    }

    /// Dense index into per-cause arrays.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Number of error causes.
pub const N_CAUSES: usize = ErrorCause::ALL.len();

/// Definition of one reported metric.
#[derive(Copy, Clone, Debug)]
pub struct MetricDef {
    /// Column name in CSV/JSON.
    pub key: &'static str,
    /// Human label in tables.
    pub label: &'static str,
    /// Unit, as printed.
    pub unit: &'static str,
    /// Decimals in the terminal table.
    pub decimals: usize,
    /// The values it can take, which decides its confidence interval (see [`stats`]).
    pub support: stats::Support,
}

macro_rules! metrics {
    ($($id:ident = ($key:literal, $label:literal, $unit:literal, $dec:literal, $sup:ident);)*) => {
        /// Index of every metric in [`RepResult::values`].
        #[allow(non_camel_case_types, missing_docs)]
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub enum M { $($id),* }
        /// Every metric, in [`M`] order.
        pub const METRICS: &[MetricDef] = &[
            $(MetricDef { key: $key, label: $label, unit: $unit, decimals: $dec,
                support: stats::Support::$sup }),*
        ];
    };
}

metrics! {
    Throughput = ("throughput_rps", "throughput", "req/s", 2, NON_NEGATIVE);
    Issued = ("issued", "requests issued", "req", 0, NON_NEGATIVE);
    Completed = ("completed", "completed", "req", 0, NON_NEGATIVE);
    Errors = ("errors", "errors", "req", 0, NON_NEGATIVE);
    ErrorRate = ("error_rate_pct", "error rate", "%", 3, PERCENT);
    ErrorsRejected = ("errors_rejected", "  rejected (queue full)", "req", 0, NON_NEGATIVE);
    ErrorsTimeout = ("errors_timeout", "  timed out", "req", 0, NON_NEGATIVE);
    ErrorsNoBackend = ("errors_no_backend", "  no backend", "req", 0, NON_NEGATIVE);
    ErrorsRefused = ("errors_refused", "  connection refused", "req", 0, NON_NEGATIVE);
    ErrorsServer = ("errors_server", "  server error (5xx)", "req", 0, NON_NEGATIVE);
    ErrorsUpstreamTimeout = ("errors_upstream_timeout", "  upstream timeout", "req", 0, NON_NEGATIVE);
    ErrorsLbLost = ("errors_lb_lost", "  lost with a load balancer node", "req", 0, NON_NEGATIVE);
    InFlightEnd = ("in_flight_end", "in flight at end", "req", 0, NON_NEGATIVE);
    LatencyMean = ("latency_mean_ms", "latency mean", "ms", 3, POSITIVE);
    LatencyP50 = ("latency_p50_ms", "latency p50", "ms", 3, POSITIVE);
    LatencyP90 = ("latency_p90_ms", "latency p90", "ms", 3, POSITIVE);
    LatencyP99 = ("latency_p99_ms", "latency p99", "ms", 3, POSITIVE);
    LatencyP999 = ("latency_p999_ms", "latency p99.9", "ms", 3, POSITIVE);
    LatencyMax = ("latency_max_ms", "latency max", "ms", 3, POSITIVE);
    WaitMean = ("wait_mean_ms", "queue wait mean", "ms", 3, NON_NEGATIVE);
    ServiceMean = ("service_mean_ms", "service time mean", "ms", 3, POSITIVE);
    Utilization = ("utilization_pct", "utilization", "%", 2, NON_NEGATIVE);
    ReqMaxMean = ("imbalance_requests_max_mean", "imbalance requests max/mean", "x", 3, AT_LEAST_ONE);
    ReqCov = ("imbalance_requests_cov", "imbalance requests CoV", "", 4, NON_NEGATIVE);
    ReqJain = ("imbalance_requests_jain", "imbalance requests Jain", "", 4, UNIT);
    BusyMaxMean = ("imbalance_busy_max_mean", "imbalance busy max/mean", "x", 3, AT_LEAST_ONE);
    BusyCov = ("imbalance_busy_cov", "imbalance busy CoV", "", 4, NON_NEGATIVE);
    BusyJain = ("imbalance_busy_jain", "imbalance busy Jain", "", 4, UNIT);
    SessionsBroken = ("sessions_broken", "sticky sessions broken", "req", 0, NON_NEGATIVE);
    SessionsLost = ("sessions_lost", "session state lost", "req", 0, NON_NEGATIVE);
    CacheHitRatio = ("cache_hit_ratio_pct", "cache hit ratio", "%", 2, PERCENT);
    KeysRemapped = ("keys_remapped_pct", "keys remapped per change", "%", 2, PERCENT);
    Attempts = ("attempts_per_request", "attempts per request", "x", 4, NON_NEGATIVE);
    Retries = ("retries", "retries", "req", 0, NON_NEGATIVE);
    DetectionMean = ("detection_mean_s", "failure detection time", "s", 3, POSITIVE);
    RecoveryMean = ("recovery_mean_s", "recovery time", "s", 3, POSITIVE);
    SentToFailed = ("sent_to_failed", "attempts sent to failed servers", "req", 0, NON_NEGATIVE);
    FalseEjections = ("false_ejections", "false ejections", "", 0, NON_NEGATIVE);
    Restarts = ("liveness_restarts", "liveness restarts", "", 0, NON_NEGATIVE);
    LbFailoverMean = ("lb_failover_mean_s", "LB failover time", "s", 3, POSITIVE);
    LbOutageMean = ("lb_outage_mean_s", "LB outage (dead path used)", "s", 3, POSITIVE);
    LbCpuUtil = ("lb_cpu_utilization_pct", "LB CPU utilization (busiest node)", "%", 2, NON_NEGATIVE);
    ConnsOpened = ("connections_opened", "connections opened", "conn", 0, NON_NEGATIVE);
    ReqPerConn = ("requests_per_connection", "requests per connection", "req", 2, NON_NEGATIVE);
    ConnMaxMean = ("imbalance_connections_max_mean", "imbalance connections max/mean", "x", 3, AT_LEAST_ONE);
    Handshakes = ("handshakes_per_s", "handshakes per second", "conn/s", 2, NON_NEGATIVE);
    HandshakeCpu = ("lb_handshake_cpu_pct", "LB CPU on handshakes", "%", 2, NON_NEGATIVE);
    ConnMoved = ("connections_moved", "connections back on another backend", "conn", 0, NON_NEGATIVE);
    ConntrackPeak = ("conntrack_peak", "connection-tracking entries (peak)", "conn", 0, NON_NEGATIVE);
    ConntrackDrops = ("conntrack_drops", "new flows dropped (table full)", "conn", 0, NON_NEGATIVE);
    Reconnects = ("reconnects", "reconnects", "conn", 0, NON_NEGATIVE);
    ReconnectPeak = ("reconnect_peak_per_s", "reconnect peak (100 ms buckets)", "conn/s", 0, NON_NEGATIVE);
    ReconnectStorm = ("reconnect_storm_s", "longest reconnect storm", "s", 1, POSITIVE);
}

/// Number of metrics.
pub const N_METRICS: usize = METRICS.len();

/// Looks a metric up by its key.
pub fn metric_index(key: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.key == key)
}

/// Short names accepted for metrics besides their keys and their keys without the unit
/// suffix (`error_rate` for `error_rate_pct`).
pub const METRIC_ALIASES: &[(&str, &str)] = &[
    ("p50", "latency_p50_ms"),
    ("p90", "latency_p90_ms"),
    ("p99", "latency_p99_ms"),
    ("p999", "latency_p999_ms"),
    ("p99.9", "latency_p999_ms"),
    ("max", "latency_max_ms"),
    ("mean", "latency_mean_ms"),
    ("latency", "latency_mean_ms"),
    ("rps", "throughput_rps"),
    ("attempts", "attempts_per_request"),
    ("detection", "detection_mean_s"),
    ("recovery", "recovery_mean_s"),
    ("cpu", "lb_cpu_utilization_pct"),
];

/// One backend's connections in the measured window (`connections.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnRow {
    /// The server.
    pub server: String,
    /// `client` (layer 4: clients' connections pinned to it) or `upstream` (layer 7: the
    /// node's pooled connections to it).
    pub kind: &'static str,
    /// Connections opened to it.
    pub opened: u64,
    /// Connections open to it, averaged over the window.
    pub open_mean: f64,
    /// Requests (attempts) it was sent.
    pub requests: u64,
}

/// What one replication measured (warm-up excluded).
#[derive(Clone, Debug, PartialEq)]
pub struct RepResult {
    /// One value per [`METRICS`] entry (NaN where undefined, e.g. no completions).
    pub values: Vec<f64>,
    /// One row per server, in id order.
    pub servers: Vec<ServerRow>,
    /// One row per membership change, in time order.
    pub changes: Vec<ChangeRow>,
    /// One row per injected fault and load balancer node.
    pub failovers: Vec<FailoverRow>,
    /// Every change of a server's health as a node saw it, in time order.
    pub health: Vec<HealthRow>,
    /// One row per failure of a load balancer node.
    pub lb_failovers: Vec<LbFailoverRow>,
    /// What the load balancer tier did (node faults, VRRP, DNS, routes), in time order.
    pub ha: Vec<HaRow>,
    /// Latency (ms) at each of [`curve_quantiles`], from the replication's histogram
    /// (NaN without completions).
    pub latency_curve: Vec<f64>,
    /// The run in time buckets.
    pub timeseries: Vec<Bucket>,
    /// Per service, then per request class (empty with one service and one class).
    pub slices: Vec<slices::SliceRow>,
    /// Per class and service it reaches: time at the service itself (empty without
    /// `[[services]]`).
    pub hops: Vec<HopRow>,
    /// Per time bucket and service (empty without `[[services]]`).
    pub service_series: Vec<ServiceBucket>,
    /// Per backend: its connections (clients' pinned connections at layer 4, the node's
    /// pooled connections at layer 7); empty when neither is modelled.
    pub connections: Vec<ConnRow>,
    /// Per time bucket and server (empty when too many cells; see `server_series_skipped`).
    pub server_series: ServerSeries,
    /// Servers × buckets was too many to keep per-server series.
    pub server_series_skipped: bool,
}

/// One time bucket of a replication.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Start (s).
    pub t_s: f64,
    /// Width (s).
    pub width_s: f64,
    /// Completed requests per second.
    pub throughput_rps: f64,
    /// Failed requests per second.
    pub errors_per_s: f64,
    /// p99 latency of the requests completed in the bucket (ms), NaN if none.
    pub p99_ms: f64,
}

/// The quantiles of the latency curve (`latency.csv`): `1 − 10^(−i/10)` for i = 0..=50
/// (0 … 0.99999), then 1 (the maximum): even steps on a "nines" axis.
pub fn curve_quantiles() -> Vec<f64> {
    let mut q: Vec<f64> = (0..=50)
        .map(|i| 1.0 - 10f64.powf(-(i as f64) / 10.0))
        .collect();
    q.push(1.0);
    q
}

/// How one load balancer node handled one injected fault.
#[derive(Clone, Debug, PartialEq)]
pub struct FailoverRow {
    /// Index of the failure in the scenario.
    pub failure: usize,
    /// Its kind (`crash`, `hang`, ...).
    pub kind: &'static str,
    /// Server name.
    pub server: String,
    /// The load balancer tier whose node this is: `edge`, or the service an internal tier
    /// fronts.
    pub tier: String,
    /// Load balancer node (1-based).
    pub node: u32,
    /// When the fault started (s).
    pub fault_s: f64,
    /// When the node marked the server down (s), NaN if it never did during the fault.
    pub detected_s: f64,
    /// When the server was repaired (s), NaN if never.
    pub repair_s: f64,
    /// When the node took it back into rotation (s), NaN if not (or never removed).
    pub recovered_s: f64,
    /// Attempts sent to the server during the fault (all nodes).
    pub sent: u64,
    /// Of those, attempts that failed.
    pub failed: u64,
}

/// How the tier handled one failure of a load balancer node.
#[derive(Clone, Debug, PartialEq)]
pub struct LbFailoverRow {
    /// Index of the failure in the scenario.
    pub failure: usize,
    /// `crash` or `stop`.
    pub kind: &'static str,
    /// The node (1-based).
    pub node: u32,
    /// When it failed (s).
    pub fault_s: f64,
    /// When the tier routed around it (s): another node took the virtual IP, its DNS
    /// record was removed, or its route was withdrawn. NaN if that never happened.
    pub failover_s: f64,
    /// When the last request sent into the dead path was issued (s), NaN if none was.
    pub last_lost_s: f64,
    /// When it came back (s), NaN if never.
    pub repair_s: f64,
    /// Requests lost with it: in flight on it when it crashed, or sent to it while down.
    pub lost: u64,
    /// Requests reset on other nodes because routing moved their flows (anycast rehash).
    pub reset: u64,
}

/// One thing the load balancer tier did.
#[derive(Clone, Debug, PartialEq)]
pub struct HaRow {
    /// When (s).
    pub at_s: f64,
    /// The node (1-based).
    pub node: u32,
    /// `crash`, `stop`, `restart`, `master`, `backup`, `dns-removed`, `dns-added`,
    /// `route-withdrawn` or `route-announced`.
    pub event: &'static str,
}

/// A change of a server's health as one node saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthRow {
    /// When (s).
    pub at_s: f64,
    /// Whose view: `edge`, the service an internal tier fronts, or `kubelet` (liveness
    /// kills and restarts).
    pub tier: String,
    /// Load balancer node (1-based; 0 for the kubelet).
    pub node: u32,
    /// Server name.
    pub server: String,
    /// `up` or `down`.
    pub state: &'static str,
    /// `active`, `outlier`, `passive` or `liveness`.
    pub cause: &'static str,
    /// A down while the server had no injected fault.
    pub false_alarm: bool,
}

/// What one membership change did.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    /// When (seconds).
    pub at_s: f64,
    /// What, e.g. `add web-5` or `remove web-3`.
    pub action: String,
    /// Servers in the pool afterwards.
    pub members: u32,
    /// Fraction of probe keys a fresh balancer maps to a different server afterwards.
    pub keys_remapped: f64,
    /// Fraction of live sticky sessions (clients holding a cookie) pinned to a server the
    /// change removed: they break on their next request. NaN without sticky sessions.
    pub sessions_remapped: f64,
}

impl RepResult {
    /// The value of metric `m`.
    pub fn get(&self, m: M) -> f64 {
        self.values[m as usize]
    }
}

/// Per-server results of one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerRow {
    /// Server name (`group-i`).
    pub name: String,
    /// Group name.
    pub group: String,
    /// Requests dispatched to it.
    pub requests: u64,
    /// Its share of all dispatched requests.
    pub share: f64,
    /// Seconds its workers spent serving (summed over slots).
    pub busy_s: f64,
    /// Its share of all busy time.
    pub busy_share: f64,
    /// Busy time / (slots × measured window).
    pub utilization: f64,
    /// Requests it rejected because its queue was full.
    pub rejected: u64,
    /// Cache hits per lookup (%), NaN without a cache.
    pub cache_hit_ratio: f64,
}

/// All replications of one algorithm, with their aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// Algorithm name.
    pub algorithm: String,
    /// Per-replication results, in replication order.
    pub reps: Vec<RepResult>,
    /// One estimate per metric, in [`METRICS`] order.
    pub metrics: Vec<stats::Estimate>,
    /// Per server: estimates of (requests, share, busy seconds, utilization, rejected).
    pub servers: Vec<ServerAggregate>,
    /// Per quantile of [`curve_quantiles`]: the latency estimate (ms).
    pub latency_curve: Vec<stats::Estimate>,
    /// Per service, then per class (empty with one service and one class).
    pub slices: Vec<slices::SliceAggregate>,
    /// Per class and service: time at the service itself.
    pub hops: Vec<series::HopAggregate>,
}

/// Mean and CI of one server's figures across replications.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerAggregate {
    /// Server name.
    pub name: String,
    /// Group name.
    pub group: String,
    /// Requests dispatched.
    pub requests: stats::Estimate,
    /// Share of requests.
    pub share: stats::Estimate,
    /// Busy seconds.
    pub busy_s: stats::Estimate,
    /// Share of busy time.
    pub busy_share: stats::Estimate,
    /// Cache hit ratio (%).
    pub cache_hit_ratio: stats::Estimate,
    /// Utilization (%).
    pub utilization: stats::Estimate,
    /// Rejections.
    pub rejected: stats::Estimate,
}

impl Aggregate {
    /// Aggregates replications (in order, so the result is deterministic).
    pub fn new(algorithm: String, reps: Vec<RepResult>) -> Aggregate {
        let metrics = (0..N_METRICS)
            .map(|m| {
                let xs: Vec<f64> = reps.iter().map(|r| r.values[m]).collect();
                stats::estimate_in(&xs, METRICS[m].support)
            })
            .collect();
        let n_servers = reps.first().map_or(0, |r| r.servers.len());
        let servers = (0..n_servers)
            .map(|s| {
                let col = |f: &dyn Fn(&ServerRow) -> f64, support| {
                    let xs: Vec<f64> = reps.iter().map(|r| f(&r.servers[s])).collect();
                    stats::estimate_in(&xs, support)
                };
                use stats::Support;
                let first = &reps[0].servers[s];
                ServerAggregate {
                    name: first.name.clone(),
                    group: first.group.clone(),
                    requests: col(&|r| r.requests as f64, Support::NON_NEGATIVE),
                    share: col(&|r| r.share, Support::UNIT),
                    busy_s: col(&|r| r.busy_s, Support::NON_NEGATIVE),
                    busy_share: col(&|r| r.busy_share, Support::UNIT),
                    cache_hit_ratio: col(&|r| r.cache_hit_ratio, Support::PERCENT),
                    utilization: col(&|r| r.utilization, Support::NON_NEGATIVE),
                    rejected: col(&|r| r.rejected as f64, Support::NON_NEGATIVE),
                }
            })
            .collect();
        let latency_curve = (0..curve_quantiles().len())
            .map(|q| {
                let xs: Vec<f64> = reps
                    .iter()
                    .map(|r| r.latency_curve.get(q).copied().unwrap_or(f64::NAN))
                    .collect();
                stats::estimate_in(&xs, stats::Support::POSITIVE)
            })
            .collect();
        Aggregate {
            algorithm,
            slices: slices::aggregate(&reps),
            hops: series::aggregate(&reps),
            reps,
            metrics,
            servers,
            latency_curve,
        }
    }

    /// The estimate of metric `m`.
    pub fn get(&self, m: M) -> &stats::Estimate {
        &self.metrics[m as usize]
    }
}
