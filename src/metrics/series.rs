//! Time series per service and per backend, and each class's time per hop: one
//! replication's rows and the hops' aggregate over replications.

use super::RepResult;
use super::stats::{self, Estimate, Support};

/// One time bucket of one service (every request to it, clients' and calls').
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceBucket {
    /// Start (s).
    pub t_s: f64,
    /// Width (s).
    pub width_s: f64,
    /// The service.
    pub service: String,
    /// Requests it answered well per second.
    pub throughput_rps: f64,
    /// Requests to it that failed per second.
    pub errors_per_s: f64,
    /// Mean latency of those answered in the bucket (ms), NaN if none.
    pub latency_mean_ms: f64,
}

/// One time bucket of one server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerBucket {
    /// Start (s).
    pub t_s: f64,
    /// Width (s).
    pub width_s: f64,
    /// Server id (its row in [`RepResult::servers`]).
    pub server: u32,
    /// Answers it sent per second (successes and errors).
    pub answers_per_s: f64,
    /// Its share of its service's answers in the bucket (%), NaN if the service sent none.
    pub share_pct: f64,
    /// Error answers per answer (%), NaN without answers.
    pub error_rate_pct: f64,
    /// Attempts the load balancers (every node of every tier) count outstanding to it at
    /// the bucket's end.
    pub in_flight: u32,
}

/// What one class's requests do at one service, in the measured window.
#[derive(Clone, Debug, PartialEq)]
pub struct HopRow {
    /// The class.
    pub class: String,
    /// The service.
    pub service: String,
    /// Requests to the service per client request of the class (each caller's try counts).
    pub requests_per_client_request: f64,
    /// Time at the service itself per client request (ms): from the caller's issue to its
    /// answer, less the time spent waiting for the service's own calls.
    pub self_ms_per_client_request: f64,
    /// The same per request to the service (ms).
    pub self_ms_per_request: f64,
}

/// The columns of `hops.csv` after `class` and `service`.
pub const HOP_COLUMNS: [&str; 3] = [
    "requests_per_client_request",
    "self_ms_per_client_request",
    "self_ms_per_request",
];

impl HopRow {
    /// The values in [`HOP_COLUMNS`] order.
    pub fn values(&self) -> [f64; 3] {
        [
            self.requests_per_client_request,
            self.self_ms_per_client_request,
            self.self_ms_per_request,
        ]
    }
}

/// One (class, service) hop over replications.
#[derive(Clone, Debug, PartialEq)]
pub struct HopAggregate {
    /// The class.
    pub class: String,
    /// The service.
    pub service: String,
    /// One estimate per [`HOP_COLUMNS`] entry.
    pub values: [Estimate; 3],
}

/// Aggregates the hops of replications (same hops, same order in each).
pub fn aggregate(reps: &[RepResult]) -> Vec<HopAggregate> {
    let Some(first) = reps.first() else {
        return Vec::new();
    };
    first
        .hops
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let est = |k: usize| {
                let xs: Vec<f64> = reps.iter().map(|r| r.hops[i].values()[k]).collect();
                stats::estimate_in(&xs, Support::NON_NEGATIVE)
            };
            HopAggregate {
                class: h.class.clone(),
                service: h.service.clone(),
                values: [est(0), est(1), est(2)],
            }
        })
        .collect()
}
