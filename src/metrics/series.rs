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

/// A replication's per-server time series, as the counters the run kept (12 bytes per
/// server and bucket): its rows ([`ServerBucket`]) are made as they are read, so a large
/// pool over a long run does not hold every row at once (1,024 servers × 1,085 buckets:
/// 13 MB of counters against 53 MB of rows).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerSeries {
    /// Bucket width (s).
    pub(crate) width_s: f64,
    /// The run's end (s): the last bucket may be shorter.
    pub(crate) end_s: f64,
    pub(crate) n_buckets: usize,
    /// Each server's service (its share is of that service's answers).
    pub(crate) service: Vec<u32>,
    /// The servers that were in the pool at some time (the others have no rows).
    pub(crate) kept: Vec<bool>,
    /// Per `bucket * servers + server`: answers, error answers, in-flight count at the end.
    pub(crate) answers: Vec<u32>,
    pub(crate) errors: Vec<u32>,
    pub(crate) in_flight: Vec<u32>,
}

impl ServerSeries {
    /// Rows: one per bucket and kept server.
    pub fn len(&self) -> usize {
        if self.answers.is_empty() {
            return 0;
        }
        self.n_buckets * self.kept.iter().filter(|&&k| k).count()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows, by bucket, then server id.
    pub fn rows(&self) -> impl Iterator<Item = ServerBucket> + '_ {
        let n = self.service.len();
        let n_services = self.service.iter().max().map_or(0, |&s| s as usize + 1);
        let buckets = if self.answers.is_empty() {
            0
        } else {
            self.n_buckets
        };
        // Per bucket and service: its servers' answers (shares are of these).
        let mut totals = vec![0u64; buckets * n_services];
        for (i, &a) in self.answers.iter().enumerate().take(buckets * n) {
            totals[i / n * n_services + self.service[i % n] as usize] += u64::from(a);
        }
        (0..buckets)
            .flat_map(move |b| (0..n).map(move |id| (b, id)))
            .filter(|&(_, id)| self.kept[id])
            .map(move |(b, id)| {
                let t = b as f64 * self.width_s;
                let w = self.width_s.min(self.end_s - t).max(1e-9);
                let i = b * n + id;
                let answers = f64::from(self.answers[i]);
                let total = totals[b * n_services + self.service[id] as usize] as f64;
                ServerBucket {
                    t_s: t,
                    width_s: w,
                    server: id as u32,
                    answers_per_s: answers / w,
                    share_pct: if total > 0.0 {
                        100.0 * answers / total
                    } else {
                        f64::NAN
                    },
                    error_rate_pct: if answers > 0.0 {
                        100.0 * f64::from(self.errors[i]) / answers
                    } else {
                        f64::NAN
                    },
                    in_flight: self.in_flight[i],
                }
            })
    }
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

#[cfg(test)]
mod tests {
    use super::ServerSeries;

    /// Two buckets (the second cut short by the run's end), three servers of two services,
    /// one never in the pool: rows by bucket then server, shares within each service.
    #[test]
    fn rows_come_from_the_counters() {
        let s = ServerSeries {
            width_s: 2.0,
            end_s: 3.0,
            n_buckets: 2,
            service: vec![0, 0, 1],
            kept: vec![true, false, true],
            answers: vec![6, 2, 0, 1, 3, 4],
            errors: vec![3, 0, 0, 0, 1, 2],
            in_flight: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(s.len(), 4);
        let rows: Vec<_> = s.rows().collect();
        assert_eq!(rows.len(), 4);
        let key: Vec<_> = rows.iter().map(|r| (r.t_s, r.width_s, r.server)).collect();
        assert_eq!(
            key,
            [(0.0, 2.0, 0), (0.0, 2.0, 2), (2.0, 1.0, 0), (2.0, 1.0, 2)]
        );
        // Server 0 sent 6 of its service's 8 answers (server 1's count, though it has no
        // row, is part of the service's total); server 2 sent none.
        assert_eq!(rows[0].answers_per_s, 3.0);
        assert_eq!(rows[0].share_pct, 75.0);
        assert_eq!(rows[0].error_rate_pct, 50.0);
        assert!(rows[1].share_pct.is_nan() && rows[1].error_rate_pct.is_nan());
        assert_eq!(rows[2].answers_per_s, 1.0);
        assert_eq!(rows[2].share_pct, 25.0);
        assert_eq!(rows[3].share_pct, 100.0);
        assert_eq!(rows[3].error_rate_pct, 50.0);
        assert_eq!(
            rows.iter().map(|r| r.in_flight).collect::<Vec<_>>(),
            [1, 3, 4, 6]
        );
        assert!(ServerSeries::default().is_empty());
        assert_eq!(ServerSeries::default().rows().count(), 0);
    }
}
