//! `summary.csv` and `servers.csv`: tidy tables that load straight into pandas.
//!
//! `summary.csv` has one row per algorithm × replication (`stat = value`) plus aggregated
//! rows per algorithm (`stat` = `mean`, `ci95_lo`, `ci95_hi`, `sd`, with an empty
//! `replication`); `ci95_lo`..`ci95_hi` is the 95% interval of the mean over replications,
//! which stays inside the metric's range and need not be symmetric (see
//! [`crate::metrics::stats`]), so there is no half-width row; each metric is a column whose name ends with its unit (`_ms`,
//! `_pct`, `_rps`, `_s`; counts and ratios without a suffix). `servers.csv` has the same
//! shape with one row per server.

use crate::metrics::stats::Estimate;
use crate::metrics::{Aggregate, METRICS, RepResult};

use super::{RunInfo, csv_float};

const STATS: [&str; 4] = ["mean", "ci95_lo", "ci95_hi", "sd"];

/// A header: `scenario`, the variant's identity (`variant`, `algorithm`, one column per
/// varied key, see [`RunInfo::factor_keys`]), then `rest`.
fn head(info: &RunInfo, rest: &[&str]) -> Vec<String> {
    let mut h = vec!["scenario".to_string(), "variant".into(), "algorithm".into()];
    h.extend(info.factor_keys());
    h.extend(rest.iter().map(|s| s.to_string()));
    h
}

/// A row: the scenario, variant `label`'s identity, then `rest`.
fn rec(info: &RunInfo, label: &str, rest: &[&str]) -> Vec<String> {
    let mut r = vec![info.scenario.clone()];
    r.extend(info.identity(label));
    r.extend(rest.iter().map(|s| s.to_string()));
    r
}

fn stat_of(e: &Estimate, stat: &str) -> f64 {
    match stat {
        "mean" => e.mean,
        "ci95_lo" => e.lo(),
        "ci95_hi" => e.hi(),
        _ => e.sd,
    }
}

fn decimals(d: usize) -> usize {
    if d == 0 { 0 } else { 6 }
}

/// Renders `summary.csv`.
pub fn summary_csv(info: &RunInfo, aggs: &[Aggregate]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = head(info, &["stat", "replication"]);
    header.extend(METRICS.iter().map(|m| m.key.to_string()));
    w.write_record(&header).expect("in-memory write");
    for a in aggs {
        for (i, r) in a.reps.iter().enumerate() {
            let mut row = rec(info, &a.algorithm, &["value", &i.to_string()]);
            row.extend(
                METRICS
                    .iter()
                    .zip(&r.values)
                    .map(|(m, v)| csv_float(*v, decimals(m.decimals))),
            );
            w.write_record(&row).expect("in-memory write");
        }
        for stat in STATS {
            let mut row = rec(info, &a.algorithm, &[stat, ""]);
            row.extend(a.metrics.iter().map(|e| csv_float(stat_of(e, stat), 6)));
            w.write_record(&row).expect("in-memory write");
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// Renders `servers.csv`.
pub fn servers_csv(info: &RunInfo, aggs: &[Aggregate]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(head(
        info,
        &[
            "stat",
            "replication",
            "server",
            "group",
            "requests",
            "share_pct",
            "busy_s",
            "busy_share_pct",
            "utilization_pct",
            "rejected",
            "cache_hit_ratio_pct",
        ],
    ))
    .expect("in-memory write");
    for a in aggs {
        for (i, r) in a.reps.iter().enumerate() {
            for s in &r.servers {
                w.write_record(rec(
                    info,
                    &a.algorithm,
                    &[
                        "value",
                        &i.to_string(),
                        &s.name,
                        &s.group,
                        &s.requests.to_string(),
                        &csv_float(100.0 * s.share, 6),
                        &csv_float(s.busy_s, 6),
                        &csv_float(100.0 * s.busy_share, 6),
                        &csv_float(s.utilization, 6),
                        &s.rejected.to_string(),
                        &csv_float(s.cache_hit_ratio, 6),
                    ],
                ))
                .expect("in-memory write");
            }
        }
        for stat in STATS {
            for s in &a.servers {
                let f = |e: &Estimate| csv_float(stat_of(e, stat), 6);
                let pct = |e: &Estimate| csv_float(100.0 * stat_of(e, stat), 6);
                w.write_record(rec(
                    info,
                    &a.algorithm,
                    &[
                        stat,
                        "",
                        &s.name,
                        &s.group,
                        &f(&s.requests),
                        &pct(&s.share),
                        &f(&s.busy_s),
                        &pct(&s.busy_share),
                        &f(&s.utilization),
                        &f(&s.rejected),
                        &f(&s.cache_hit_ratio),
                    ],
                ))
                .expect("in-memory write");
            }
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// Renders a file with one row per recorded event (`list` of each replication), after
/// the `scenario`, `algorithm` and `replication` columns. `None` if no replication
/// recorded any.
fn per_event_csv<T>(
    info: &RunInfo,
    aggs: &[Aggregate],
    columns: &[&str],
    list: impl Fn(&RepResult) -> &[T],
    row: impl Fn(&RepResult, &T) -> Vec<String>,
) -> Option<String> {
    per_rep_csv(
        info,
        aggs,
        columns,
        usize::MAX,
        |r| list(r).is_empty(),
        |r, emit| {
            for e in list(r) {
                emit(row(r, e));
            }
        },
    )
}

/// The writer behind [`per_event_csv`], for the first `max_reps` replications of each
/// variant: `rows` gives a replication's rows to `emit` (`empty`: it has none).
fn per_rep_csv(
    info: &RunInfo,
    aggs: &[Aggregate],
    columns: &[&str],
    max_reps: usize,
    empty: impl Fn(&RepResult) -> bool,
    rows: impl Fn(&RepResult, &mut dyn FnMut(Vec<String>)),
) -> Option<String> {
    if aggs.iter().all(|a| a.reps.iter().all(&empty)) {
        return None;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = head(info, &["replication"]);
    header.extend(columns.iter().map(|c| c.to_string()));
    w.write_record(&header).expect("in-memory write");
    for a in aggs {
        for (i, r) in a.reps.iter().enumerate().take(max_reps) {
            let rep = i.to_string();
            rows(r, &mut |row| {
                let mut record = rec(info, &a.algorithm, &[&rep]);
                record.extend(row);
                w.write_record(&record).expect("in-memory write");
            });
        }
    }
    Some(String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv"))
}

/// Renders `changes.csv`: one row per membership change per replication, with the share
/// of probe keys a fresh balancer maps elsewhere afterwards. `None` if nothing changed.
pub fn changes_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    per_event_csv(
        info,
        aggs,
        &[
            "at_s",
            "action",
            "members",
            "keys_remapped_pct",
            "sessions_remapped_pct",
        ],
        |r| &r.changes,
        |_, c| {
            vec![
                csv_float(c.at_s, 6),
                c.action.to_string(),
                c.members.to_string(),
                csv_float(100.0 * c.keys_remapped, 6),
                csv_float(100.0 * c.sessions_remapped, 6),
            ]
        },
    )
}

/// Renders `failovers.csv`: per injected fault, load balancer node and replication, when
/// the fault started, when the node marked the server down (detection) and back up
/// (recovery), and the attempts sent to the server while it was failed. `None` without
/// injected failures.
pub fn failovers_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    per_event_csv(
        info,
        aggs,
        &[
            "failure",
            "kind",
            "server",
            "tier",
            "node",
            "fault_s",
            "detected_s",
            "detection_s",
            "repair_s",
            "recovered_s",
            "recovery_s",
            "sent",
            "failed",
        ],
        |r| &r.failovers,
        |_, f| {
            vec![
                f.failure.to_string(),
                f.kind.to_string(),
                f.server.to_string(),
                f.tier.clone(),
                f.node.to_string(),
                csv_float(f.fault_s, 6),
                csv_float(f.detected_s, 6),
                csv_float(f.detected_s - f.fault_s, 6),
                csv_float(f.repair_s, 6),
                csv_float(f.recovered_s, 6),
                csv_float(f.recovered_s - f.repair_s, 6),
                f.sent.to_string(),
                f.failed.to_string(),
            ]
        },
    )
}

/// Renders `health.csv`: every change of a server's health as each node of each tier saw
/// it, and the kubelet's liveness kills and restarts (the time series of health states).
/// `None` if health never changed.
pub fn health_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    per_event_csv(
        info,
        aggs,
        &[
            "at_s",
            "tier",
            "node",
            "server",
            "state",
            "cause",
            "false_alarm",
        ],
        |r| &r.health,
        |_, h| {
            vec![
                csv_float(h.at_s, 6),
                h.tier.clone(),
                // The kubelet is no load balancer node.
                if h.node == 0 {
                    String::new()
                } else {
                    h.node.to_string()
                },
                h.server.to_string(),
                h.state.to_string(),
                h.cause.to_string(),
                h.false_alarm.to_string(),
            ]
        },
    )
}

/// Renders `lb_failovers.csv`: one row per failure of a load balancer node per
/// replication. `None` if no node failed.
pub fn lb_failovers_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    per_event_csv(
        info,
        aggs,
        &[
            "failure",
            "kind",
            "node",
            "fault_s",
            "failover_s",
            "last_lost_s",
            "repair_s",
            "lost",
            "reset",
        ],
        |r| &r.lb_failovers,
        |_, f| {
            vec![
                f.failure.to_string(),
                f.kind.to_string(),
                format!("lb-{}", f.node),
                csv_float(f.fault_s, 6),
                csv_float(f.failover_s, 6),
                csv_float(f.last_lost_s, 6),
                csv_float(f.repair_s, 6),
                f.lost.to_string(),
                f.reset.to_string(),
            ]
        },
    )
}

/// Renders `ha.csv`: what the load balancer tier did (node crashes, stops and restarts,
/// VRRP masters, DNS record changes, route withdrawals). `None` if nothing happened.
pub fn ha_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    per_event_csv(
        info,
        aggs,
        &["at_s", "node", "event"],
        |r| &r.ha,
        |_, h| {
            vec![
                csv_float(h.at_s, 6),
                format!("lb-{}", h.node),
                h.event.to_string(),
            ]
        },
    )
}

/// Renders `latency.csv`: the latency percentile curve at [`curve_quantiles`] per
/// replication (`stat = value`) and aggregated (`mean`, `ci95_lo`, `ci95_hi`).
///
/// [`curve_quantiles`]: crate::metrics::curve_quantiles
pub fn latency_csv(info: &RunInfo, aggs: &[Aggregate]) -> String {
    let qs = crate::metrics::curve_quantiles();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(head(
        info,
        &["stat", "replication", "quantile", "latency_ms"],
    ))
    .expect("in-memory write");
    for a in aggs {
        for (i, r) in a.reps.iter().enumerate() {
            for (q, v) in qs.iter().zip(&r.latency_curve) {
                w.write_record(rec(
                    info,
                    &a.algorithm,
                    &[
                        "value",
                        &i.to_string(),
                        &format!("{q:.6}"),
                        &csv_float(*v, 6),
                    ],
                ))
                .expect("in-memory write");
            }
        }
        for stat in ["mean", "ci95_lo", "ci95_hi"] {
            for (q, e) in qs.iter().zip(&a.latency_curve) {
                w.write_record(rec(
                    info,
                    &a.algorithm,
                    &[
                        stat,
                        "",
                        &format!("{q:.6}"),
                        &csv_float(stat_of(e, stat), 6),
                    ],
                ))
                .expect("in-memory write");
            }
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// Renders `timeseries.csv`: per replication and time bucket, throughput, errors per second
/// and p99 latency.
pub fn timeseries_csv(info: &RunInfo, aggs: &[Aggregate]) -> String {
    per_event_csv(
        info,
        aggs,
        &[
            "t_s",
            "bucket_s",
            "throughput_rps",
            "errors_per_s",
            "p99_ms",
        ],
        |r| &r.timeseries,
        |_, b| {
            vec![
                csv_float(b.t_s, 3),
                csv_float(b.width_s, 3),
                csv_float(b.throughput_rps, 6),
                csv_float(b.errors_per_s, 6),
                csv_float(b.p99_ms, 6),
            ]
        },
    )
    .expect("every replication has at least one time bucket")
}

/// The header of `sweep.csv`: like `summary.csv` with the point index and one column per
/// swept key after the algorithm.
pub fn sweep_header(keys: &[String]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut h = vec!["scenario".to_string(), "algorithm".into(), "point".into()];
    h.extend(keys.iter().cloned());
    h.extend(["stat".to_string(), "replication".into()]);
    h.extend(METRICS.iter().map(|m| m.key.to_string()));
    w.write_record(&h).expect("in-memory write");
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// The rows of one sweep point (no header): per algorithm, one row per replication and the
/// aggregated rows, as in `summary.csv`.
pub fn sweep_rows(info: &RunInfo, point: usize, values: &[String], aggs: &[Aggregate]) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let lead = |alg: &str, stat: &str, rep: String| {
        let mut row = vec![info.scenario.clone(), alg.to_string(), point.to_string()];
        row.extend(values.iter().cloned());
        row.extend([stat.to_string(), rep]);
        row
    };
    for a in aggs {
        for (i, r) in a.reps.iter().enumerate() {
            let mut row = lead(&a.algorithm, "value", i.to_string());
            row.extend(
                METRICS
                    .iter()
                    .zip(&r.values)
                    .map(|(m, v)| csv_float(*v, decimals(m.decimals))),
            );
            w.write_record(&row).expect("in-memory write");
        }
        for stat in STATS {
            let mut row = lead(&a.algorithm, stat, String::new());
            row.extend(a.metrics.iter().map(|e| csv_float(stat_of(e, stat), 6)));
            w.write_record(&row).expect("in-memory write");
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// Renders `services.csv` (`kind = "service"`) or `classes.csv` (`"class"`): one row per
/// service or class per replication, then the aggregated rows, shaped like `servers.csv`.
/// `None` when the scenario has no such slices (one service; one class).
pub fn slices_csv(info: &RunInfo, aggs: &[Aggregate], kind: &str) -> Option<String> {
    use crate::metrics::slices::SLICE_COLUMNS;
    if aggs.iter().all(|a| a.slices.iter().all(|s| s.kind != kind)) {
        return None;
    }
    let service = kind == "service";
    let cols: Vec<usize> = (0..SLICE_COLUMNS.len())
        .filter(|&i| {
            if service {
                SLICE_COLUMNS[i].service
            } else {
                SLICE_COLUMNS[i].class
            }
        })
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = head(info, &["stat", "replication", kind]);
    header.extend(cols.iter().map(|&i| SLICE_COLUMNS[i].key.to_string()));
    w.write_record(&header).expect("in-memory write");
    for a in aggs {
        for (r, rep) in a.reps.iter().enumerate() {
            for s in rep.slices.iter().filter(|s| s.kind == kind) {
                let mut row = rec(info, &a.algorithm, &["value", &r.to_string(), &s.name]);
                row.extend(cols.iter().map(|&i| csv_float(s.values[i], 6)));
                w.write_record(&row).expect("in-memory write");
            }
        }
        for stat in STATS {
            for s in a.slices.iter().filter(|s| s.kind == kind) {
                let mut row = rec(info, &a.algorithm, &[stat, "", &s.name]);
                row.extend(
                    cols.iter()
                        .map(|&i| csv_float(stat_of(&s.values[i], stat), 6)),
                );
                w.write_record(&row).expect("in-memory write");
            }
        }
    }
    Some(String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv"))
}

/// Renders `hops.csv`: per class and service it reaches, requests to the service per
/// client request and the time at the service itself (replication values, then the
/// stats over replications). `None` without `[[services]]`.
pub fn hops_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    use crate::metrics::series::HOP_COLUMNS;
    if aggs.iter().all(|a| a.hops.is_empty()) {
        return None;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = head(info, &["stat", "replication", "class", "service"]);
    header.extend(HOP_COLUMNS.iter().map(|c| c.to_string()));
    w.write_record(&header).expect("in-memory write");
    for a in aggs {
        for (r, rep) in a.reps.iter().enumerate() {
            for h in &rep.hops {
                let mut row = rec(
                    info,
                    &a.algorithm,
                    &["value", &r.to_string(), &h.class, &h.service],
                );
                row.extend(h.values().iter().map(|&x| csv_float(x, 6)));
                w.write_record(&row).expect("in-memory write");
            }
        }
        for stat in STATS {
            for h in &a.hops {
                let mut row = rec(info, &a.algorithm, &[stat, "", &h.class, &h.service]);
                row.extend(h.values.iter().map(|e| csv_float(stat_of(e, stat), 6)));
                w.write_record(&row).expect("in-memory write");
            }
        }
    }
    Some(String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv"))
}

/// Renders `connections.csv`: per replication and backend of the edge tier, its
/// connections in the measured window (clients' at layer 4, the node's pooled ones at layer
/// 7) beside its requests. `None` when no connections are modelled per backend.
pub fn connections_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    per_event_csv(
        info,
        aggs,
        &[
            "server",
            "kind",
            "connections_opened",
            "connections_open_mean",
            "requests",
            "requests_per_connection_opened",
        ],
        |r| &r.connections,
        |_, c| {
            vec![
                c.server.clone(),
                c.kind.to_string(),
                c.opened.to_string(),
                csv_float(c.open_mean, 6),
                c.requests.to_string(),
                if c.opened > 0 {
                    csv_float(c.requests as f64 / c.opened as f64, 6)
                } else {
                    String::new()
                },
            ]
        },
    )
}

/// Renders `service_timeseries.csv`: per replication, time bucket and service, its
/// throughput, errors per second and mean latency. `None` without `[[services]]`.
pub fn service_timeseries_csv(info: &RunInfo, aggs: &[Aggregate]) -> Option<String> {
    per_event_csv(
        info,
        aggs,
        &[
            "t_s",
            "bucket_s",
            "service",
            "throughput_rps",
            "errors_per_s",
            "latency_mean_ms",
        ],
        |r| &r.service_series,
        |_, b| {
            vec![
                csv_float(b.t_s, 3),
                csv_float(b.width_s, 3),
                b.service.clone(),
                csv_float(b.throughput_rps, 6),
                csv_float(b.errors_per_s, 6),
                csv_float(b.latency_mean_ms, 6),
            ]
        },
    )
}

/// Rows `server_timeseries.csv` holds at most: it keeps the first replications of every
/// variant that fit (at least one).
pub const MAX_SERVER_SERIES_ROWS: usize = 1_000_000;

/// How many replications of each variant `server_timeseries.csv` holds: as many as fit in
/// [`MAX_SERVER_SERIES_ROWS`], at least one.
pub fn server_series_reps(aggs: &[Aggregate]) -> usize {
    let most = aggs.iter().map(|a| a.reps.len()).max().unwrap_or(0);
    let rows = |k: usize| -> usize {
        aggs.iter()
            .map(|a| {
                a.reps
                    .iter()
                    .take(k)
                    .map(|r| r.server_series.len())
                    .sum::<usize>()
            })
            .sum()
    };
    (1..=most)
        .take_while(|&k| rows(k) <= MAX_SERVER_SERIES_ROWS)
        .last()
        .unwrap_or(1)
}

/// Renders `server_timeseries.csv`: per replication (the first `max_reps` of each variant),
/// time bucket and server, its answers per second, its share of its service's answers,
/// its error rate and its in-flight count at the bucket's end. `None` when no replication
/// kept them.
pub fn server_timeseries_csv(
    info: &RunInfo,
    aggs: &[Aggregate],
    max_reps: usize,
) -> Option<String> {
    per_rep_csv(
        info,
        aggs,
        &[
            "t_s",
            "bucket_s",
            "server",
            "answers_per_s",
            "share_pct",
            "error_rate_pct",
            "in_flight",
        ],
        max_reps,
        |r| r.server_series.is_empty(),
        // The rows are made from the replication's counters as they are written.
        |r, emit| {
            for b in r.server_series.rows() {
                emit(vec![
                    csv_float(b.t_s, 3),
                    csv_float(b.width_s, 3),
                    r.servers[b.server as usize].name.clone(),
                    csv_float(b.answers_per_s, 6),
                    csv_float(b.share_pct, 6),
                    csv_float(b.error_rate_pct, 6),
                    b.in_flight.to_string(),
                ]);
            }
        },
    )
}
