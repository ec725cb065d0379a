//! Paired comparison against a baseline: every variant of a comparison sees the same
//! arrivals and service times (common random numbers), so replication r of a variant and
//! replication r of the baseline form a pair. The mean per-pair difference and its Student-t
//! 95% interval are far tighter than comparing two independent intervals.

use crate::metrics::stats::{Estimate, estimate};
use crate::metrics::{Aggregate, METRICS, MetricDef};

use super::{RunInfo, csv_float};

/// One metric of one variant against the baseline.
#[derive(Clone, Debug)]
pub struct PairedDiff {
    /// The metric.
    pub metric: &'static MetricDef,
    /// Variant minus baseline, per pair, in the metric's unit.
    pub diff: Estimate,
    /// (Variant − baseline) / baseline per pair, in percent.
    pub rel_pct: Estimate,
}

/// Paired differences of every metric of `variant` against `baseline`.
pub fn paired(baseline: &Aggregate, variant: &Aggregate) -> Vec<PairedDiff> {
    METRICS
        .iter()
        .enumerate()
        .map(|(m, def)| {
            let pairs: Vec<(f64, f64)> = baseline
                .reps
                .iter()
                .zip(&variant.reps)
                .map(|(b, v)| (b.values[m], v.values[m]))
                .collect();
            let diffs: Vec<f64> = pairs.iter().map(|(b, v)| v - b).collect();
            let rels: Vec<f64> = pairs
                .iter()
                .map(|(b, v)| {
                    if *b != 0.0 {
                        100.0 * (v - b) / b
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            PairedDiff {
                metric: def,
                diff: estimate(&diffs),
                rel_pct: estimate(&rels),
            }
        })
        .collect()
}

/// The metrics shown in the terminal's paired section.
pub const HEADLINE: [&str; 6] = [
    "throughput_rps",
    "error_rate_pct",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_p999_ms",
];

/// "41.2% ± 3.9% lower" (or "higher"), or "same" when the interval is all zero.
pub fn phrase(d: &PairedDiff) -> String {
    let e = &d.rel_pct;
    if !e.mean.is_finite() {
        // No relative difference (a zero baseline): say "same" if the values are equal.
        let same = d.diff.mean == 0.0 && (d.diff.ci95 == 0.0 || !d.diff.ci95.is_finite());
        return if same { "same".into() } else { "n/a".into() };
    }
    if e.mean == 0.0 && (e.ci95 == 0.0 || !e.ci95.is_finite()) {
        return "same".into();
    }
    if e.mean.abs() < 0.05 && e.ci95.is_finite() && e.ci95 < 0.05 {
        // Both round to 0.0%: a direction would be noise.
        return "same (< 0.05%)".into();
    }
    let dir = if e.mean < 0.0 { "lower" } else { "higher" };
    if e.ci95.is_finite() {
        format!("{:.1}% ± {:.1}% {dir}", e.mean.abs(), e.ci95)
    } else {
        format!("{:.1}% {dir}", e.mean.abs())
    }
}

/// Renders `paired.csv`: every metric of every variant against the baseline.
pub fn paired_csv(info: &RunInfo, baseline: &Aggregate, aggs: &[Aggregate]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "scenario",
        "baseline",
        "algorithm",
        "metric",
        "n",
        "diff_mean",
        "diff_ci95_half",
        "rel_pct_mean",
        "rel_pct_ci95_half",
    ])
    .expect("in-memory write");
    for a in aggs.iter().filter(|a| a.algorithm != baseline.algorithm) {
        for d in paired(baseline, a) {
            w.write_record([
                info.scenario.as_str(),
                &baseline.algorithm,
                &a.algorithm,
                d.metric.key,
                &d.diff.n.to_string(),
                &csv_float(d.diff.mean, 6),
                &csv_float(d.diff.ci95, 6),
                &csv_float(d.rel_pct.mean, 6),
                &csv_float(d.rel_pct.ci95, 6),
            ])
            .expect("in-memory write");
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// The terminal section: headline metrics of each variant against the baseline.
pub fn render(baseline: &Aggregate, aggs: &[Aggregate]) -> String {
    let others: Vec<&Aggregate> = aggs
        .iter()
        .filter(|a| a.algorithm != baseline.algorithm)
        .collect();
    if others.is_empty() {
        return String::new();
    }
    let cells: Vec<Vec<String>> = others
        .iter()
        .map(|a| {
            let all = paired(baseline, a);
            HEADLINE
                .iter()
                .map(|k| {
                    all.iter()
                        .find(|d| d.metric.key == *k)
                        .map_or("n/a".into(), phrase)
                })
                .collect()
        })
        .collect();
    let label_w = HEADLINE
        .iter()
        .map(|k| {
            METRICS
                .iter()
                .find(|m| m.key == *k)
                .map_or(0, |m| m.label.len())
        })
        .max()
        .unwrap_or(10);
    let col_w: Vec<usize> = others
        .iter()
        .zip(&cells)
        .map(|(a, c)| {
            c.iter()
                .map(|s| s.chars().count())
                .chain([a.algorithm.len()])
                .max()
                .unwrap_or(8)
        })
        .collect();
    let mut out = format!(
        "\nversus {} (paired over replications on common random numbers; 95% CI)\n",
        baseline.algorithm
    );
    out.push_str(&format!("{:<label_w$}", "metric"));
    for (a, w) in others.iter().zip(&col_w) {
        out.push_str(&format!("  {:>w$}", a.algorithm));
    }
    out.push('\n');
    for (i, k) in HEADLINE.iter().enumerate() {
        let label = METRICS.iter().find(|m| m.key == *k).map_or(*k, |m| m.label);
        out.push_str(&format!("{label:<label_w$}"));
        for (c, w) in cells.iter().zip(&col_w) {
            out.push_str(&format!("  {:>w$}", c[i]));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::METRICS;

    fn diff(mean: f64, ci95: f64) -> PairedDiff {
        let e = |mean, ci95| Estimate {
            n: 8,
            mean,
            sd: f64::NAN,
            ci95,
        };
        PairedDiff {
            metric: &METRICS[0],
            diff: e(mean, ci95),
            rel_pct: e(mean, ci95),
        }
    }

    #[test]
    fn phrases_direction_only_when_it_shows() {
        assert_eq!(phrase(&diff(-41.23, 3.94)), "41.2% ± 3.9% lower");
        assert_eq!(phrase(&diff(16.5, 12.0)), "16.5% ± 12.0% higher");
        assert_eq!(phrase(&diff(0.0, 0.0)), "same");
        // Rounds to 0.0% ± 0.0%: no direction.
        assert_eq!(phrase(&diff(-0.004, 0.01)), "same (< 0.05%)");
        // A small mean with a visible interval keeps its direction.
        assert_eq!(phrase(&diff(0.01, 0.2)), "0.0% ± 0.2% higher");
    }
}
