//! Results per service and per request class: the columns of `services.csv` and
//! `classes.csv`, one replication's rows and their aggregate over replications.

use super::stats::{self, Estimate, Support};
use super::{ErrorCause, RepResult};

/// One column of a slice row: key (with its unit suffix), whether service rows, class
/// rows or both have it, and the range its interval respects.
pub struct SliceColumn {
    /// CSV column name.
    pub key: &'static str,
    /// Shown for services.
    pub service: bool,
    /// Shown for classes.
    pub class: bool,
    /// Its range.
    pub support: Support,
}

const fn col(key: &'static str, service: bool, class: bool, support: Support) -> SliceColumn {
    SliceColumn {
        key,
        service,
        class,
        support,
    }
}

/// Index of each column in [`SliceRow::values`].
#[derive(Copy, Clone, Debug)]
#[allow(missing_docs)]
pub enum S {
    Requests,
    Completed,
    Errors,
    ErrorRate,
    Throughput,
    LatencyMean,
    LatencyP50,
    LatencyP99,
    WaitMean,
    WorkMean,
    AttemptsPerRequest,
    Utilization,
    ReqMaxMean,
    ErrorsRejected,
    ErrorsTimeout,
    ErrorsNoBackend,
    ErrorsRefused,
    ErrorsServer,
    ErrorsUpstreamTimeout,
    ErrorsLbLost,
}

/// The columns, in [`S`] order.
pub const SLICE_COLUMNS: &[SliceColumn] = &[
    col("requests", true, true, Support::NON_NEGATIVE),
    col("completed", true, true, Support::NON_NEGATIVE),
    col("errors", true, true, Support::NON_NEGATIVE),
    col("error_rate_pct", true, true, Support::PERCENT),
    col("throughput_rps", true, true, Support::NON_NEGATIVE),
    col("latency_mean_ms", true, true, Support::POSITIVE),
    col("latency_p50_ms", true, true, Support::POSITIVE),
    col("latency_p99_ms", true, true, Support::POSITIVE),
    col("wait_mean_ms", true, false, Support::NON_NEGATIVE),
    col("work_mean_ms", true, false, Support::POSITIVE),
    col(
        "attempts_per_client_request",
        true,
        false,
        Support::NON_NEGATIVE,
    ),
    col("utilization_pct", true, false, Support::NON_NEGATIVE),
    col("req_max_mean", true, false, Support::AT_LEAST_ONE),
    col("errors_rejected", true, true, Support::NON_NEGATIVE),
    col("errors_timeout", true, true, Support::NON_NEGATIVE),
    col("errors_no_backend", true, true, Support::NON_NEGATIVE),
    col("errors_refused", true, true, Support::NON_NEGATIVE),
    col("errors_server", true, true, Support::NON_NEGATIVE),
    col("errors_upstream_timeout", true, true, Support::NON_NEGATIVE),
    col("errors_lb_lost", true, true, Support::NON_NEGATIVE),
];

/// The error-count column of each cause.
pub fn cause_column(c: ErrorCause) -> S {
    match c {
        ErrorCause::Rejected => S::ErrorsRejected,
        ErrorCause::Timeout => S::ErrorsTimeout,
        ErrorCause::NoBackend => S::ErrorsNoBackend,
        ErrorCause::Refused => S::ErrorsRefused,
        ErrorCause::ServerError => S::ErrorsServer,
        ErrorCause::UpstreamTimeout => S::ErrorsUpstreamTimeout,
        ErrorCause::LbLost => S::ErrorsLbLost,
    }
}

/// What one service answered its callers (clients' requests and calls, each caller's
/// retry counted as a request), or what one class of client requests got, in one
/// replication's measured window.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceRow {
    /// `"service"` or `"class"`.
    pub kind: &'static str,
    /// The service's or class's name.
    pub name: String,
    /// One value per [`SLICE_COLUMNS`] entry (NaN where undefined or not applicable).
    pub values: Vec<f64>,
}

impl SliceRow {
    /// The value of column `c`.
    pub fn get(&self, c: S) -> f64 {
        self.values[c as usize]
    }
}

/// One slice over replications.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceAggregate {
    /// `"service"` or `"class"`.
    pub kind: &'static str,
    /// Name.
    pub name: String,
    /// One estimate per column.
    pub values: Vec<Estimate>,
}

impl SliceAggregate {
    /// The estimate of column `c`.
    pub fn get(&self, c: S) -> &Estimate {
        &self.values[c as usize]
    }
}

/// Aggregates the slices of replications (same slices, same order in each).
pub fn aggregate(reps: &[RepResult]) -> Vec<SliceAggregate> {
    let Some(first) = reps.first() else {
        return Vec::new();
    };
    first
        .slices
        .iter()
        .enumerate()
        .map(|(i, row)| SliceAggregate {
            kind: row.kind,
            name: row.name.clone(),
            values: SLICE_COLUMNS
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    let xs: Vec<f64> = reps.iter().map(|r| r.slices[i].values[k]).collect();
                    stats::estimate_in(&xs, c.support)
                })
                .collect(),
        })
        .collect()
}
