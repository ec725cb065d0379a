//! The aligned terminal summary: one row per metric, one column per algorithm, each cell
//! `mean ± 95% CI half-width`, units last.

use std::fmt::Write;

use crate::metrics::stats::Estimate;
use crate::metrics::{Aggregate, METRICS};

use super::RunInfo;

/// At most this many servers are listed individually.
const MAX_SERVER_ROWS: usize = 24;

fn cell(e: &Estimate, decimals: usize) -> (String, String) {
    if !e.mean.is_finite() {
        return ("n/a".into(), String::new());
    }
    let mean = format!("{:.*}", decimals, e.mean);
    let ci = if e.ci95.is_finite() {
        format!("{:.*}", decimals, e.ci95)
    } else {
        String::new()
    };
    (mean, ci)
}

fn secs(s: f64) -> String {
    let t = crate::engine::SimTime::from_secs_f64(s);
    t.to_string()
}

/// Renders the summary table.
pub fn render(info: &RunInfo, aggs: &[Aggregate]) -> String {
    let mut out = String::new();
    if info.description.is_empty() {
        let _ = writeln!(out, "{}", info.scenario);
    } else {
        let _ = writeln!(out, "{}: {}", info.scenario, info.description);
    }
    let algs: Vec<&str> = aggs.iter().map(|a| a.algorithm.as_str()).collect();
    let _ = writeln!(
        out,
        "{} · {} replication{} × {} ({} warm-up excluded) · seed {} · {} server{}",
        algs.join(", "),
        info.replications,
        if info.replications == 1 { "" } else { "s" },
        secs(info.duration_s),
        secs(info.warmup_s),
        info.seed,
        info.n_servers,
        if info.n_servers == 1 { "" } else { "s" },
    );
    let _ = writeln!(
        out,
        "values are means over replications ± the half-width of their 95% confidence interval"
    );
    let _ = writeln!(out);

    // Metric table.
    let label_w = METRICS
        .iter()
        .map(|m| m.label.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let cells: Vec<Vec<(String, String)>> = aggs
        .iter()
        .map(|a| {
            METRICS
                .iter()
                .zip(&a.metrics)
                .map(|(m, e)| cell(e, m.decimals))
                .collect()
        })
        .collect();
    let mean_w: Vec<usize> = cells
        .iter()
        .zip(&algs)
        .map(|(c, a)| {
            c.iter().map(|(m, _)| m.len()).max().unwrap_or(0).max(
                a.len().saturating_sub(
                    c.iter()
                        .map(|(_, ci)| ci.chars().count())
                        .max()
                        .unwrap_or(0)
                        + 3,
                ),
            )
        })
        .collect();
    let ci_w: Vec<usize> = cells
        .iter()
        .map(|c| {
            c.iter()
                .map(|(_, ci)| ci.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(out, "{:<label_w$}", "metric");
    for (i, a) in algs.iter().enumerate() {
        let w = mean_w[i] + 3 + ci_w[i];
        let _ = write!(out, "  {a:>w$}");
    }
    let _ = writeln!(out, "  unit");
    for (mi, m) in METRICS.iter().enumerate() {
        let _ = write!(out, "{:<label_w$}", m.label);
        for (i, c) in cells.iter().enumerate() {
            let (mean, ci) = &c[mi];
            let pm = if ci.is_empty() { " " } else { "±" };
            let _ = write!(
                out,
                "  {:>mw$} {pm} {:>cw$}",
                mean,
                ci,
                mw = mean_w[i],
                cw = ci_w[i]
            );
        }
        let _ = writeln!(out, "  {}", m.unit);
    }

    if aggs.len() == 1 {
        server_table(&mut out, &aggs[0]);
    } else {
        server_matrix(&mut out, aggs);
    }
    out
}

/// One algorithm: requests, share, utilization and rejections per server.
fn server_table(out: &mut String, a: &Aggregate) {
    let name_w = a
        .servers
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let group_w = a
        .servers
        .iter()
        .map(|s| s.group.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(out);
    let _ = writeln!(out, "per server ({}, means over replications)", a.algorithm);
    let _ = writeln!(
        out,
        "{:<name_w$}  {:<group_w$}  {:>12}  {:>8}  {:>11}  {:>10}",
        "server", "group", "requests", "share", "utilization", "rejected"
    );
    for s in a.servers.iter().take(MAX_SERVER_ROWS) {
        let _ = writeln!(
            out,
            "{:<name_w$}  {:<group_w$}  {:>12.1}  {:>7.2}%  {:>10.2}%  {:>10.1}",
            s.name,
            s.group,
            s.requests.mean,
            100.0 * s.share.mean,
            s.utilization.mean,
            s.rejected.mean
        );
    }
    more_servers(out, a.servers.len());
}

/// Several algorithms: one row per server, `share / utilization` per algorithm.
fn server_matrix(out: &mut String, aggs: &[Aggregate]) {
    let servers = &aggs[0].servers;
    let name_w = servers
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let col_w: Vec<usize> = aggs.iter().map(|a| a.algorithm.len().max(15)).collect();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "per server: share of requests / utilization (means over replications)"
    );
    let _ = write!(out, "{:<name_w$}", "server");
    for (a, w) in aggs.iter().zip(&col_w) {
        let _ = write!(out, "  {:>w$}", a.algorithm);
    }
    let _ = writeln!(out);
    for (i, s) in servers.iter().enumerate().take(MAX_SERVER_ROWS) {
        let _ = write!(out, "{:<name_w$}", s.name);
        for (a, w) in aggs.iter().zip(&col_w) {
            let x = &a.servers[i];
            let cell = format!("{:.1}% / {:.1}%", 100.0 * x.share.mean, x.utilization.mean);
            let _ = write!(out, "  {cell:>w$}");
        }
        let _ = writeln!(out);
    }
    more_servers(out, servers.len());
}

fn more_servers(out: &mut String, n: usize) {
    if n > MAX_SERVER_ROWS {
        let _ = writeln!(
            out,
            "… and {} more servers (all of them are in servers.csv)",
            n - MAX_SERVER_ROWS
        );
    }
}
