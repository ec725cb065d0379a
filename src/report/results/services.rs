//! The per-service files of a results directory: `services.csv` (each service's figures
//! per variant), `hops.csv` (each class's latency by service) and
//! `service_timeseries.csv` (each service over time).

use super::table::Table;
use super::{Estimate, LoadError};

/// One service of one variant: the means over replications with their intervals (or a
/// single replication's values).
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStat {
    /// Variant.
    pub algorithm: String,
    /// Service.
    pub service: String,
    /// Requests to it (clients' and calls).
    pub requests: Estimate,
    /// Latency p50 and p99 (ms).
    pub p50_ms: Estimate,
    /// Latency p99 (ms).
    pub p99_ms: Estimate,
    /// Errors per request (%).
    pub error_rate_pct: Estimate,
    /// Requests answered well per second.
    pub throughput_rps: Estimate,
    /// Busy share of its servers' workers (%).
    pub utilization_pct: Estimate,
    /// Requests reaching it per client request.
    pub attempts_per_client_request: Estimate,
}

/// One class's time at one service, for one variant.
#[derive(Clone, Debug, PartialEq)]
pub struct HopStat {
    /// Variant.
    pub algorithm: String,
    /// Class.
    pub class: String,
    /// Service.
    pub service: String,
    /// Requests to the service per client request.
    pub requests_per_client_request: f64,
    /// Time at the service itself per client request (ms).
    pub self_ms: Estimate,
}

/// One service in one time bucket of one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePoint {
    /// Variant.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// Bucket start (s).
    pub t_s: f64,
    /// Service.
    pub service: String,
    /// Requests answered well per second.
    pub throughput_rps: f64,
    /// Failed requests per second.
    pub errors_per_s: f64,
    /// Mean latency of those answered well (ms).
    pub latency_mean_ms: f64,
}

/// Rows of one stat-and-replication file grouped as estimates: the `mean`, `ci95_lo` and
/// `ci95_hi` rows of each key, or (a single replication) its `value` row.
fn estimates<K: PartialEq + Clone>(
    rows: &[(String, String, K, Vec<f64>)],
) -> Vec<(String, K, Vec<Estimate>)> {
    let mut out: Vec<(String, K, Vec<Estimate>)> = Vec::new();
    let aggregated = rows.iter().any(|r| r.1 == "mean");
    for (alg, stat, key, vals) in rows {
        let want = if aggregated { "mean" } else { "value" };
        if stat != want || out.iter().any(|(a, k, _)| a == alg && k == key) {
            continue;
        }
        let find = |s: &str| {
            rows.iter()
                .find(|r| &r.0 == alg && r.1 == s && &r.2 == key)
                .map(|r| r.3.clone())
        };
        let (lo, hi) = if aggregated {
            (find("ci95_lo"), find("ci95_hi"))
        } else {
            (None, None)
        };
        let est = (0..vals.len())
            .map(|i| Estimate {
                mean: vals[i],
                lo: lo.as_ref().map_or(f64::NAN, |v| v[i]),
                hi: hi.as_ref().map_or(f64::NAN, |v| v[i]),
            })
            .collect();
        out.push((alg.clone(), key.clone(), est));
    }
    out
}

pub(super) fn parse_services(text: &str) -> Result<Vec<ServiceStat>, LoadError> {
    let t = Table::parse("services.csv", text)?;
    let (al, st, sv) = (t.col("algorithm")?, t.col("stat")?, t.col("service")?);
    let cols = [
        "requests",
        "latency_p50_ms",
        "latency_p99_ms",
        "error_rate_pct",
        "throughput_rps",
        "utilization_pct",
        "attempts_per_client_request",
    ]
    .map(|c| t.col(c));
    let cols: Vec<usize> = cols.into_iter().collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for r in t.rows() {
        let vals = cols.iter().map(|&i| r.num(i)).collect::<Result<_, _>>()?;
        rows.push((r.text(al), r.text(st), r.text(sv), vals));
    }
    Ok(estimates(&rows)
        .into_iter()
        .map(|(algorithm, service, e)| ServiceStat {
            algorithm,
            service,
            requests: e[0],
            p50_ms: e[1],
            p99_ms: e[2],
            error_rate_pct: e[3],
            throughput_rps: e[4],
            utilization_pct: e[5],
            attempts_per_client_request: e[6],
        })
        .collect())
}

pub(super) fn parse_hops(text: &str) -> Result<Vec<HopStat>, LoadError> {
    let t = Table::parse("hops.csv", text)?;
    let (al, st, cl, sv) = (
        t.col("algorithm")?,
        t.col("stat")?,
        t.col("class")?,
        t.col("service")?,
    );
    let (rq, sm) = (
        t.col("requests_per_client_request")?,
        t.col("self_ms_per_client_request")?,
    );
    let mut rows = Vec::new();
    for r in t.rows() {
        rows.push((
            r.text(al),
            r.text(st),
            (r.text(cl), r.text(sv)),
            vec![r.num(rq)?, r.num(sm)?],
        ));
    }
    Ok(estimates(&rows)
        .into_iter()
        .map(|(algorithm, (class, service), e)| HopStat {
            algorithm,
            class,
            service,
            requests_per_client_request: e[0].mean,
            self_ms: e[1],
        })
        .collect())
}

pub(super) fn parse_service_series(text: &str) -> Result<Vec<ServicePoint>, LoadError> {
    let t = Table::parse("service_timeseries.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, ts, sv, th, er, la) = (
        c("algorithm")?,
        c("replication")?,
        c("t_s")?,
        c("service")?,
        c("throughput_rps")?,
        c("errors_per_s")?,
        c("latency_mean_ms")?,
    );
    t.rows()
        .map(|r| {
            Ok(ServicePoint {
                algorithm: r.text(al),
                replication: r.int(re)?,
                t_s: r.num(ts)?,
                service: r.text(sv),
                throughput_rps: r.num(th)?,
                errors_per_s: r.num(er)?,
                latency_mean_ms: r.num(la)?,
            })
        })
        .collect()
}

/// One backend's open client connections at the end of one time bucket of one replication
/// (layer 4 with `[connections]`: `server_timeseries.csv`'s `in_flight` is what the node's
/// balancer counts, its open connections).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnPoint {
    /// Variant.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// Bucket start (s).
    pub t_s: f64,
    /// Server.
    pub server: String,
    /// Open connections at the bucket's end.
    pub open: f64,
}

/// The connections series, when `connections.csv` says they are clients' (layer 4).
pub(super) fn parse_conn_series(
    connections: &str,
    series: &str,
) -> Result<Option<Vec<ConnPoint>>, LoadError> {
    let c = Table::parse("connections.csv", connections)?;
    let kind = c.col("kind")?;
    if !c.rows().any(|r| r.text(kind) == "client") {
        return Ok(None);
    }
    let t = Table::parse("server_timeseries.csv", series)?;
    let (al, re, ts, sv, inf) = (
        t.col("algorithm")?,
        t.col("replication")?,
        t.col("t_s")?,
        t.col("server")?,
        t.col("in_flight")?,
    );
    t.rows()
        .map(|r| {
            Ok(ConnPoint {
                algorithm: r.text(al),
                replication: r.int(re)?,
                t_s: r.num(ts)?,
                server: r.text(sv),
                open: r.num(inf)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
