//! The terminal summary: one row per metric, one column per variant, each cell the mean
//! and its 95% interval (`407.7 ± 1.3`, or `1339 −120/+134` when asymmetric), units last. Rows that are zero or undefined for every variant are
//! hidden (and counted) unless the caller picks rows; columns are split into blocks that
//! fit the terminal's width, so a comparison of many variants reads top to bottom.

use std::fmt::Write;

use crate::metrics::stats::Estimate;
use crate::metrics::{Aggregate, METRICS};

use super::RunInfo;

/// At most this many servers are listed individually.
const MAX_SERVER_ROWS: usize = 24;

/// Width used when nothing says otherwise (a pipe, a file, a terminal of unknown size).
pub const DEFAULT_WIDTH: usize = 100;

/// How to lay the table out.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Maximum line length (`usize::MAX`: one block whatever its width).
    pub width: usize,
    /// The metric rows to show, as indices into [`METRICS`], in order; `None` shows every
    /// row that is not zero or undefined for every variant.
    pub metrics: Option<Vec<usize>>,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            width: DEFAULT_WIDTH,
            metrics: None,
        }
    }
}

/// The unit suffixes a metric key may end with.
const UNIT_SUFFIXES: [&str; 4] = ["_ms", "_pct", "_rps", "_s"];

/// Looks a metric up by key, key without its unit suffix, or short name
/// ([`crate::metrics::METRIC_ALIASES`]); the error says what was expected and the nearest name.
pub fn metric_by_name(name: &str) -> Result<usize, String> {
    let n = name.trim().to_ascii_lowercase();
    if let Some(i) = crate::metrics::metric_index(&n) {
        return Ok(i);
    }
    if let Some((_, key)) = crate::metrics::METRIC_ALIASES.iter().find(|(a, _)| *a == n) {
        return Ok(crate::metrics::metric_index(key).expect("aliases name real metrics"));
    }
    if let Some(i) = METRICS.iter().position(|m| {
        UNIT_SUFFIXES
            .iter()
            .any(|s| m.key.strip_suffix(s) == Some(n.as_str()))
    }) {
        return Ok(i);
    }
    let short: Vec<String> = METRICS
        .iter()
        .map(|m| {
            UNIT_SUFFIXES
                .iter()
                .find_map(|s| m.key.strip_suffix(s))
                .unwrap_or(m.key)
                .to_string()
        })
        .collect();
    let candidates = METRICS
        .iter()
        .map(|m| m.key)
        .chain(crate::metrics::METRIC_ALIASES.iter().map(|(a, _)| *a))
        .chain(short.iter().map(String::as_str));
    let hint = match crate::scenario::error::did_you_mean(&n, candidates) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    };
    Err(format!(
        "no metric named `{name}`{hint} (expected a column of summary.csv such as latency_p99_ms or error_rate_pct, the same without its unit suffix, or one of {})",
        crate::metrics::METRIC_ALIASES
            .iter()
            .map(|(a, _)| *a)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Resolves a `--metrics` list into table rows, in the order given (duplicates
/// dropped); `all` is every row, none hidden.
pub fn metrics_by_names(names: &[String]) -> Result<Vec<usize>, String> {
    if names.iter().any(|n| n.trim().eq_ignore_ascii_case("all")) {
        return Ok((0..METRICS.len()).collect());
    }
    let mut out = Vec::new();
    for n in names.iter().filter(|n| !n.trim().is_empty()) {
        let i = metric_by_name(n).map_err(|e| format!("{e}; `all` shows every row"))?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    if out.is_empty() {
        return Err("--metrics lists no metric (expected e.g. --metrics p99,error_rate)".into());
    }
    Ok(out)
}

/// Whether a row says nothing: every mean is zero or undefined. Shared with report.html,
/// which hides the same rows.
pub fn uninformative(means: impl IntoIterator<Item = f64>) -> bool {
    means.into_iter().all(|m| !m.is_finite() || m == 0.0)
}

/// Decimals for `x` in a metric shown with `decimals`: four significant digits at most;
/// a fractional mean of a count (0.375 false ejections) gets two.
fn decimals_for(decimals: usize, x: f64) -> usize {
    let a = x.abs();
    if decimals == 0 {
        return if x.fract() != 0.0 && a < 100.0 {
            if a < 10.0 { 2 } else { 1 }
        } else {
            0
        };
    }
    if a == 0.0 || !a.is_finite() {
        return decimals;
    }
    decimals.min((3 - a.log10().floor() as i32).max(0) as usize)
}

/// `(mean, interval)` as printed: `("407.7", "± 1.3")`, or `("1339", "−120/+134")` where
/// the interval is asymmetric at the printed precision; no interval with one replication
/// or when every replication gave the same value. Four significant digits at most, never
/// more decimals than `decimals`. Shared with report.html.
pub fn interval_text(mean: f64, lo: f64, hi: f64, decimals: usize) -> (String, String) {
    if !mean.is_finite() {
        return ("n/a".into(), String::new());
    }
    let d = decimals_for(decimals, mean);
    let m = format!("{mean:.d$}");
    if !(lo.is_finite() && hi.is_finite()) || (lo == mean && hi == mean) {
        return (m, String::new());
    }
    let below = format!("{:.d$}", mean - lo);
    let above = format!("{:.d$}", hi - mean);
    let ci = if below == above {
        format!("± {above}")
    } else {
        format!("−{below}/+{above}")
    };
    (m, ci)
}

fn cell(e: &Estimate, decimals: usize) -> (String, String) {
    interval_text(e.mean, e.lo(), e.hi(), decimals)
}

fn secs(s: f64) -> String {
    let t = crate::engine::SimTime::from_secs_f64(s);
    t.to_string()
}

/// Words of `text` (split after spaces) packed into lines of at most `width` characters;
/// continuation lines start with `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_inclusive(' ') {
        let len = line.chars().count();
        if len > indent.len() && len + word.trim_end().chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// A column header broken after `-`, `=`, `,` or a space into lines of at most `w`
/// characters (a piece longer than `w` stays whole).
fn header_lines(name: &str, w: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut cur = String::new();
    for c in name.chars() {
        cur.push(c);
        if matches!(c, '-' | '=' | ',' | ' ') {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for p in pieces {
        if !line.is_empty() && line.trim_end().chars().count() + p.trim_end().chars().count() > w {
            lines.push(line.trim_end().to_string());
            line.clear();
        }
        line.push_str(&p);
    }
    lines.push(line.trim_end().to_string());
    lines
}

/// The narrowest a header can be: its longest unbreakable piece.
fn header_min(name: &str) -> usize {
    name.split_inclusive(['-', '=', ',', ' '])
        .map(|p| p.trim_end().chars().count())
        .max()
        .unwrap_or(0)
}

/// A table: a left-aligned label column, right-aligned value columns and an optional
/// left-aligned last column (units), split into blocks of value columns that fit `width`.
/// Every line is at most `width` long unless a single value column cannot fit.
pub fn grid(
    corner: &str,
    labels: &[String],
    columns: &[(String, Vec<String>)],
    last: Option<(&str, &[String])>,
    width: usize,
) -> String {
    let len = |s: &String| s.chars().count();
    let label_w = labels
        .iter()
        .map(len)
        .chain([corner.chars().count()])
        .max()
        .unwrap_or(0);
    let last_w = last.map_or(0, |(h, v)| {
        v.iter()
            .map(len)
            .chain([h.chars().count()])
            .max()
            .unwrap_or(0)
            + 2
    });
    let col_w: Vec<usize> = columns
        .iter()
        .map(|(h, cells)| {
            let cell_w = cells.iter().map(len).max().unwrap_or(0);
            let w = cell_w.max(header_min(h));
            // A name that fits in 1.5 cells stays on one line.
            if h.chars().count() <= w * 3 / 2 {
                w.max(h.chars().count())
            } else {
                w
            }
        })
        .collect();
    // Pack the columns greedily into blocks.
    let mut blocks: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    let mut used = label_w + last_w;
    for (i, w) in col_w.iter().enumerate() {
        if i > start && used + 2 + w > width {
            blocks.push(start..i);
            start = i;
            used = label_w + last_w;
        }
        used += 2 + w;
    }
    blocks.push(start..columns.len());
    // As many blocks, but evenly filled (4 columns as 2 + 2, not 3 + 1) when that fits.
    let per = columns.len().div_ceil(blocks.len());
    let even: Vec<std::ops::Range<usize>> = (0..columns.len())
        .step_by(per.max(1))
        .map(|i| i..(i + per).min(columns.len()))
        .collect();
    if even.len() == blocks.len()
        && even
            .iter()
            .all(|r| label_w + last_w + r.clone().map(|i| 2 + col_w[i]).sum::<usize>() <= width)
    {
        blocks = even;
    }
    let mut out = String::new();
    for (b, range) in blocks.iter().enumerate() {
        if b > 0 {
            out.push('\n');
        }
        let heads: Vec<Vec<String>> = range
            .clone()
            .map(|i| header_lines(&columns[i].0, col_w[i]))
            .collect();
        let depth = heads.iter().map(Vec::len).max().unwrap_or(1);
        for d in 0..depth {
            let mut line = String::new();
            let first = d + 1 == depth;
            let _ = write!(line, "{:<label_w$}", if first { corner } else { "" });
            for (k, i) in range.clone().enumerate() {
                let h = &heads[k];
                // Bottom-aligned: a short header sits on the last line.
                let at = (d + h.len()).checked_sub(depth);
                let text = at.map_or("", |j| h[j].as_str());
                let _ = write!(line, "  {text:>w$}", w = col_w[i]);
            }
            if let Some((h, _)) = last
                && first
            {
                let _ = write!(line, "  {h}");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for (r, label) in labels.iter().enumerate() {
            let mut line = format!("{label:<label_w$}");
            for i in range.clone() {
                let c = columns[i].1.get(r).map_or("", String::as_str);
                let _ = write!(line, "  {c:>w$}", w = col_w[i]);
            }
            if let Some((_, v)) = last {
                let _ = write!(line, "  {}", v.get(r).map_or("", String::as_str));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Renders the summary table at the default layout.
pub fn render(info: &RunInfo, aggs: &[Aggregate]) -> String {
    render_with(info, aggs, &Layout::default())
}

/// Renders the summary table.
pub fn render_with(info: &RunInfo, aggs: &[Aggregate], layout: &Layout) -> String {
    let width = layout.width;
    let mut out = String::new();
    if info.description.is_empty() {
        out.push_str(&wrap(&info.scenario, width, "  "));
    } else {
        out.push_str(&wrap(
            &format!("{}: {}", info.scenario, info.description),
            width,
            "  ",
        ));
    }
    let algs: Vec<&str> = aggs.iter().map(|a| a.algorithm.as_str()).collect();
    let facts = format!(
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
    out.push_str(&wrap(&facts, width, "  "));
    for n in &info.notes {
        out.push_str(&wrap(&format!("note: {n}"), width, "  "));
    }
    out.push_str(&wrap(
        "values: mean over replications ± its 95% confidence interval, −below/+above where the interval is asymmetric: intervals stay in each metric's range (positive for latencies and times, on a log scale where they are skewed; cut at the limits for counts and rates)",
        width,
        "  ",
    ));
    out.push('\n');

    let (rows, hidden): (Vec<usize>, Vec<usize>) = match &layout.metrics {
        Some(m) => (m.clone(), Vec::new()),
        None => (0..METRICS.len())
            .partition(|&m| !uninformative(aggs.iter().map(|a| a.metrics[m].mean))),
    };
    let labels: Vec<String> = rows.iter().map(|&m| METRICS[m].label.to_string()).collect();
    let units: Vec<String> = rows.iter().map(|&m| METRICS[m].unit.to_string()).collect();
    let columns: Vec<(String, Vec<String>)> = aggs
        .iter()
        .map(|a| {
            let cells: Vec<(String, String)> = rows
                .iter()
                .map(|&m| cell(&a.metrics[m], METRICS[m].decimals))
                .collect();
            let mw = cells.iter().map(|c| c.0.len()).max().unwrap_or(0);
            let cw = cells.iter().map(|c| c.1.chars().count()).max().unwrap_or(0);
            let text = cells
                .iter()
                .map(|(m, ci)| {
                    if cw == 0 {
                        format!("{m:>mw$}")
                    } else {
                        format!("{m:>mw$} {ci:<cw$}")
                    }
                })
                .collect();
            (a.algorithm.clone(), text)
        })
        .collect();
    out.push_str(&grid(
        "metric",
        &labels,
        &columns,
        Some(("unit", &units)),
        width,
    ));
    if !hidden.is_empty() {
        let names: Vec<&str> = hidden.iter().map(|&m| METRICS[m].label.trim()).collect();
        out.push_str(&wrap(
            &format!(
                "{} row{} zero or n/a for every variant not shown ({}); --metrics all shows them",
                hidden.len(),
                if hidden.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            width,
            "  ",
        ));
    }

    if aggs
        .iter()
        .any(|a| a.slices.iter().any(|s| s.kind == "service"))
    {
        slice_block(&mut out, aggs, "service", width);
        slice_block(&mut out, aggs, "class", width);
        hop_block(&mut out, aggs, width);
    }
    if aggs.len() == 1 {
        server_table(&mut out, &aggs[0]);
    } else {
        server_matrix(&mut out, aggs, width);
    }
    out
}

/// Per service (or class): `p99 / error rate` per variant, from services.csv (classes.csv).
fn slice_block(out: &mut String, aggs: &[Aggregate], kind: &str, width: usize) {
    use crate::metrics::slices::S;
    let first: Vec<&String> = aggs[0]
        .slices
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| &s.name)
        .collect();
    if first.is_empty() {
        return;
    }
    let labels: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    let columns: Vec<(String, Vec<String>)> = aggs
        .iter()
        .map(|a| {
            let cells = a
                .slices
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| {
                    let p99 = s.get(S::LatencyP99).mean;
                    let err = s.get(S::ErrorRate).mean;
                    if s.get(S::Requests).mean == 0.0 {
                        // Nothing reached it in this variant (a session store under tokens).
                        return "no requests".to_string();
                    }
                    let p99 = if p99.is_finite() {
                        crate::report::html::sig4(p99)
                    } else {
                        "n/a".to_string()
                    };
                    format!("{p99} ms / {err:.2}%")
                })
                .collect();
            (a.algorithm.clone(), cells)
        })
        .collect();
    let _ = writeln!(out);
    let what = if kind == "service" {
        "per service (every request to it, clients' and calls): latency p99 / error rate (means over replications; services.csv)"
    } else {
        "per request class (clients' requests): latency p99 / error rate (means over replications; classes.csv)"
    };
    out.push_str(&wrap(what, width, "  "));
    out.push_str(&grid(kind, &labels, &columns, None, width));
}

/// Per class and service it reaches: the mean time a client request spends at the service
/// itself, per variant (hops.csv): the class's latency broken down by tier.
fn hop_block(out: &mut String, aggs: &[Aggregate], width: usize) {
    let hops = &aggs[0].hops;
    if hops.is_empty() {
        return;
    }
    let labels: Vec<String> = hops
        .iter()
        .map(|h| format!("{} / {}", h.class, h.service))
        .collect();
    let columns: Vec<(String, Vec<String>)> = aggs
        .iter()
        .map(|a| {
            let cells = a
                .hops
                .iter()
                .map(|h| {
                    let m = h.values[1].mean;
                    if m.is_finite() {
                        format!("{} ms", crate::report::html::sig4(m))
                    } else {
                        "n/a".to_string()
                    }
                })
                .collect();
            (a.algorithm.clone(), cells)
        })
        .collect();
    let _ = writeln!(out);
    out.push_str(&wrap(
        "time per client request at each service itself, by class: its tier, network, queue and work, not the calls it waits for (in sequence they add up to the latency; means over replications; hops.csv)",
        width,
        "  ",
    ));
    out.push_str(&grid("class / service", &labels, &columns, None, width));
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
/// Variants may have different servers (a sweep over a group's `count`): the rows are
/// every server of any variant, each after the one it follows in its own variant.
fn server_matrix(out: &mut String, aggs: &[Aggregate], width: usize) {
    let mut names: Vec<&str> = Vec::new();
    // Each name's position in `names`, rebuilt only when a name lands in the middle.
    let mut pos: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for a in aggs {
        let mut at = 0;
        for s in &a.servers {
            match pos.get(s.name.as_str()) {
                Some(&p) => at = p + 1,
                None => {
                    names.insert(at, &s.name);
                    if at + 1 == names.len() {
                        pos.insert(&s.name, at);
                    } else {
                        pos = names.iter().enumerate().map(|(i, n)| (&n[..], i)).collect();
                    }
                    at += 1;
                }
            }
        }
    }
    let n = names.len().min(MAX_SERVER_ROWS);
    let labels: Vec<String> = names.iter().take(n).map(|s| s.to_string()).collect();
    let columns: Vec<(String, Vec<String>)> = aggs
        .iter()
        .map(|a| {
            let cells = labels
                .iter()
                .map(|name| {
                    let Some(x) = a.servers.iter().find(|s| &s.name == name) else {
                        return "—".to_string(); // not in this variant
                    };
                    if x.requests.mean == 0.0 && x.share.mean.is_nan() {
                        // Its service took no requests in this variant.
                        return format!("— / {:.1}%", x.utilization.mean);
                    }
                    format!("{:.1}% / {:.1}%", 100.0 * x.share.mean, x.utilization.mean)
                })
                .collect();
            (a.algorithm.clone(), cells)
        })
        .collect();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "per server: share of requests / utilization (means over replications)"
    );
    out.push_str(&grid("server", &labels, &columns, None, width));
    more_servers(out, names.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_print_as_plus_minus_or_below_above() {
        assert_eq!(
            interval_text(407.74, 406.45, 409.03, 2),
            ("407.7".into(), "± 1.3".into())
        );
        assert_eq!(
            interval_text(1339.0, 1219.0, 1473.0, 3),
            ("1339".into(), "−120/+134".into())
        );
        assert_eq!(
            interval_text(0.2, 0.0, 0.75, 0),
            ("0.20".into(), "−0.20/+0.55".into())
        );
        assert_eq!(interval_text(5.0, 5.0, 5.0, 0), ("5".into(), String::new()));
        assert_eq!(interval_text(5.0, f64::NAN, f64::NAN, 0).1, "");
        assert_eq!(interval_text(f64::NAN, 1.0, 2.0, 3).0, "n/a");
    }

    #[test]
    fn metric_names_and_aliases() {
        let key = |n: &str| METRICS[metrics_by_names(&[n.to_string()]).unwrap()[0]].key;
        assert_eq!(key("p99"), "latency_p99_ms");
        assert_eq!(key("P99.9"), "latency_p999_ms");
        assert_eq!(key("error_rate"), "error_rate_pct");
        assert_eq!(key("error_rate_pct"), "error_rate_pct");
        assert_eq!(key("throughput"), "throughput_rps");
        assert_eq!(
            metrics_by_names(&["all".into()]).unwrap().len(),
            METRICS.len()
        );
        let e = metrics_by_names(&["eror_rate".into()]).unwrap_err();
        assert!(e.contains("did you mean `error_rate`"), "{e}");
        assert!(e.ends_with("; `all` shows every row"), "{e}");
        // One metric by name (sweep's --metric): no `all` there.
        assert_eq!(
            METRICS[metric_by_name("p99").unwrap()].key,
            "latency_p99_ms"
        );
        let e = metric_by_name("all").unwrap_err();
        assert!(!e.contains("shows every row"), "{e}");
        assert!(metrics_by_names(&[String::new()]).is_err());
        assert!(uninformative([0.0, f64::NAN]) && !uninformative([0.0, 1.0]));
    }

    #[test]
    fn grid_splits_columns_into_blocks_that_fit() {
        let labels: Vec<String> = vec!["a row".into(), "another row".into()];
        let cols: Vec<(String, Vec<String>)> = (0..7)
            .map(|i| {
                (
                    format!("variant-number-{i}"),
                    vec!["12.34 ± 0.56".into(), "7".into()],
                )
            })
            .collect();
        let units = vec!["ms".to_string(), "req".to_string()];
        for width in [40, 60, 100] {
            let g = grid("metric", &labels, &cols, Some(("unit", &units)), width);
            assert!(
                g.lines().all(|l| l.chars().count() <= width),
                "{width}:\n{g}"
            );
            for i in 0..7 {
                assert!(g.contains(&format!("number-{i}")), "{g}");
            }
        }
        // Even blocks: 7 columns that need two blocks are split 4 + 3.
        let g = grid("metric", &labels, &cols, Some(("unit", &units)), 100);
        let blocks: Vec<&str> = g.split("\n\n").collect();
        assert_eq!(blocks.len(), 2, "{g}");
        assert_eq!(
            blocks[0].lines().next().unwrap().matches("variant").count(),
            4
        );
    }
}
