//! Paired comparison against a baseline: every variant of a comparison sees the same
//! arrivals and service times (common random numbers), so replication r of a variant and
//! replication r of the baseline form a pair. The mean per-pair difference and its Student-t
//! 95% interval are far tighter than comparing two independent intervals. The relative
//! difference is the ratio of the two means (not the mean of per-pair ratios, which one
//! near-zero baseline replication can blow up), with the ratio estimator's interval.

use crate::metrics::stats::{Estimate, estimate};
use crate::metrics::{Aggregate, METRICS, MetricDef};

use super::{RunInfo, csv_float};

/// One metric of one variant against the baseline.
#[derive(Clone, Debug)]
pub struct PairedDiff {
    /// The metric.
    pub metric: &'static MetricDef,
    /// Variant minus baseline, per pair, in the metric's unit (Student-t interval).
    pub diff: Estimate,
    /// The relative difference of the means, `100·(mean variant / mean baseline − 1)`, with
    /// the ratio estimator's 95% interval (delta method over the pairs, so the baseline's
    /// own noise counts). NaN when the baseline's mean is zero.
    pub rel_pct: Estimate,
    /// Mean of the baseline over the pairs.
    pub base_mean: f64,
    /// Mean of the variant over the pairs.
    pub variant_mean: f64,
}

/// The relative difference of two paired samples: ratio of means and its interval.
fn ratio(pairs: &[(f64, f64)]) -> Estimate {
    let n = pairs.len();
    let nan = Estimate {
        n,
        mean: f64::NAN,
        sd: f64::NAN,
        ci95: f64::NAN,
        low: f64::NAN,
        high: f64::NAN,
    };
    if n == 0 {
        return nan;
    }
    let mb = pairs.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let mv = pairs.iter().map(|p| p.1).sum::<f64>() / n as f64;
    if mb == 0.0 {
        return nan;
    }
    let r = mv / mb;
    let mean = 100.0 * (r - 1.0);
    if n < 2 {
        return Estimate { mean, ..nan };
    }
    // Linearised ratio: z = v − R·b has mean zero; Var(R̂) ≈ Var(z̄) / mean(b)².
    let z: Vec<f64> = pairs.iter().map(|(b, v)| v - r * b).collect();
    let e = estimate(&z);
    let half = 100.0 * e.ci95 / mb.abs();
    Estimate {
        n,
        mean,
        sd: 100.0 * e.sd / mb.abs(),
        ci95: half,
        low: mean - half,
        high: mean + half,
    }
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
                .filter(|(b, v)| b.is_finite() && v.is_finite())
                .collect();
            let diffs: Vec<f64> = pairs.iter().map(|(b, v)| v - b).collect();
            let n = pairs.len().max(1) as f64;
            PairedDiff {
                metric: def,
                diff: estimate(&diffs),
                rel_pct: ratio(&pairs),
                base_mean: pairs.iter().map(|p| p.0).sum::<f64>() / n,
                variant_mean: pairs.iter().map(|p| p.1).sum::<f64>() / n,
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

/// A number as a person writes it: three significant digits, whole numbers from 100 up.
pub fn short(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "n/a".into()
    } else if a == 0.0 || a >= 100.0 {
        format!("{x:.0}")
    } else {
        let d = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.d$}")
    }
}

/// `x` with its unit: `84.0%`, `12.3 ms`, `2.00×`.
fn with_unit(x: f64, unit: &str) -> String {
    match unit {
        "" => short(x),
        "%" => format!("{}%", short(x)),
        "x" => format!("{}×", short(x)),
        u => format!("{} {u}", short(x)),
    }
}

/// A change of `d` in `unit` (percentages change by points): `+84.0 points`, `−3 req`.
fn change(d: f64, unit: &str) -> String {
    let sign = if d < 0.0 { "−" } else { "+" };
    let a = short(d.abs());
    match unit {
        "%" => format!("{sign}{a} points"),
        "" => format!("{sign}{a}"),
        "x" => format!("{sign}{a}×"),
        u => format!("{sign}{a} {u}"),
    }
}

/// A factor: `2.3`, `230`.
fn factor(f: f64) -> String {
    if f >= 10.0 {
        format!("{f:.0}")
    } else {
        format!("{f:.1}")
    }
}

/// How a person says mean `x` compared with mean `y` (same unit), without an interval:
/// `41% lower`, `230× lower`, `3.0× higher`; from or to zero as the absolute change,
/// `84.0 points higher` (the caller shows both values). `None` if they are equal or not finite.
pub fn compare_means(x: f64, y: f64, unit: &str) -> Option<String> {
    if !x.is_finite() || !y.is_finite() || x == y {
        return None;
    }
    let word = if x < y { "lower" } else { "higher" };
    if x == 0.0 || y == 0.0 || (x < 0.0) != (y < 0.0) {
        let d = change(x - y, unit);
        let d = d.trim_start_matches(['+', '−']);
        return Some(format!("{d} {word}"));
    }
    let r = x / y;
    Some(if r >= 2.0 {
        format!("{}× higher", factor(r))
    } else if r <= 0.5 {
        format!("{}× lower", factor(1.0 / r))
    } else {
        format!("{}% {word}", short(100.0 * (r - 1.0).abs()))
    })
}

/// The paired difference as a person would say it, with its 95% interval:
/// `41.2% ± 3.9% lower`; `230× lower (143–1000×)` for big ratios; from a zero baseline the
/// absolute change, `+84.0 points (0% → 84.0%)`; `inconclusive (…)` when the interval is
/// wider than the estimate (it includes no difference); `same` when every pair is equal.
pub fn phrase(d: &PairedDiff) -> String {
    let (e, a) = (&d.rel_pct, &d.diff);
    let unit = d.metric.unit;
    if a.mean == 0.0 && (a.ci95 == 0.0 || !a.ci95.is_finite()) {
        return "same".into();
    }
    if !e.mean.is_finite() || d.variant_mean == 0.0 {
        // From or to zero: no ratio, say the absolute change.
        if !a.mean.is_finite() {
            return "n/a".into();
        }
        let what = format!(
            "{} ({} → {})",
            change(a.mean, unit),
            with_unit(d.base_mean, unit),
            with_unit(d.variant_mean, unit)
        );
        return if a.ci95.is_finite() && a.mean.abs() <= a.ci95 {
            format!("inconclusive: {what}, ± {}", short(a.ci95))
        } else {
            what
        };
    }
    if e.mean.abs() < 0.05 && e.ci95.is_finite() && e.ci95 < 0.05 {
        // Both round to 0.0%: a direction would be noise.
        return "same (< 0.05%)".into();
    }
    if e.ci95.is_finite() && e.mean.abs() <= e.ci95 {
        return format!(
            "inconclusive ({}% ± {}%)",
            if e.mean < 0.0 { "−" } else { "+" }.to_string() + &short(e.mean.abs()),
            short(e.ci95)
        );
    }
    let dir = if e.mean < 0.0 { "lower" } else { "higher" };
    let r = 1.0 + e.mean / 100.0;
    let (rlo, rhi) = (1.0 + e.lo() / 100.0, 1.0 + e.hi() / 100.0);
    if r <= 0.5 || r >= 2.0 {
        // As a factor, with the factor's interval.
        let (f, near, far) = if r <= 0.5 {
            (
                1.0 / r,
                1.0 / rhi,
                if rlo > 0.0 { 1.0 / rlo } else { f64::INFINITY },
            )
        } else {
            (r, rlo, rhi)
        };
        return if !e.ci95.is_finite() {
            format!("{}× {dir}", factor(f))
        } else if far.is_finite() {
            format!("{}× {dir} ({}–{}×)", factor(f), factor(near), factor(far))
        } else {
            format!("{}× {dir} (≥ {}×)", factor(f), factor(near))
        };
    }
    if e.ci95.is_finite() {
        format!("{:.1}% ± {:.1}% {dir}", e.mean.abs(), e.ci95)
    } else {
        format!("{:.1}% {dir}", e.mean.abs())
    }
}

/// Renders `paired.csv`: every metric of every variant against the baseline.
pub fn paired_csv(info: &RunInfo, baseline: &Aggregate, aggs: &[Aggregate]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["scenario".to_string(), "baseline".into()];
    header.extend(["variant".to_string(), "algorithm".into()]);
    header.extend(info.factor_keys());
    header.extend(
        [
            "metric",
            "n",
            "diff_mean",
            "diff_ci95_half",
            "rel_pct_mean",
            "rel_pct_ci95_half",
        ]
        .map(String::from),
    );
    w.write_record(&header).expect("in-memory write");
    for a in aggs.iter().filter(|a| a.algorithm != baseline.algorithm) {
        for d in paired(baseline, a) {
            let mut row = vec![info.scenario.clone(), baseline.algorithm.clone()];
            row.extend(info.identity(&a.algorithm));
            row.extend([
                d.metric.key.to_string(),
                d.diff.n.to_string(),
                csv_float(d.diff.mean, 6),
                csv_float(d.diff.ci95, 6),
                csv_float(d.rel_pct.mean, 6),
                csv_float(d.rel_pct.ci95, 6),
            ]);
            w.write_record(&row).expect("in-memory write");
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// The terminal section: headline metrics of each variant against the baseline, in
/// blocks of variants that fit `width` columns.
pub fn render(baseline: &Aggregate, aggs: &[Aggregate], width: usize) -> String {
    let others: Vec<&Aggregate> = aggs
        .iter()
        .filter(|a| a.algorithm != baseline.algorithm)
        .collect();
    if others.is_empty() {
        return String::new();
    }
    let mut flagged = false;
    let columns: Vec<(String, Vec<String>)> = others
        .iter()
        .map(|a| {
            let all = paired(baseline, a);
            // Latencies count completed requests only: when the error rates differ
            // surely, the variant that fails more can look faster, so say so.
            let errors_differ = all
                .iter()
                .find(|d| d.metric.key == "error_rate_pct")
                .is_some_and(|d| d.diff.low > 0.0 || d.diff.high < 0.0);
            let cells = HEADLINE
                .iter()
                .map(|k| {
                    let text = all
                        .iter()
                        .find(|d| d.metric.key == *k)
                        .map_or("n/a".into(), phrase);
                    if errors_differ && k.starts_with("latency_") {
                        flagged = true;
                        format!("{text} †")
                    } else {
                        text
                    }
                })
                .collect();
            (a.algorithm.clone(), cells)
        })
        .collect();
    let labels: Vec<String> = HEADLINE
        .iter()
        .map(|k| {
            METRICS
                .iter()
                .find(|m| m.key == *k)
                .map_or(*k, |m| m.label)
                .to_string()
        })
        .collect();
    let mut out = String::from("\n");
    out.push_str(&super::table::wrap(
        &format!(
            "versus {} (paired over replications on common random numbers; 95% CI; relative differences are ratios of means)",
            baseline.algorithm
        ),
        width,
        "  ",
    ));
    out.push_str(&super::table::grid(
        "metric", &labels, &columns, None, width,
    ));
    if flagged {
        out.push_str(&super::table::wrap(
            "† latency of completed requests only, and the error rates differ: the variant that fails more requests can look faster without being better",
            width,
            "  ",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{M, METRICS};

    fn est(mean: f64, ci95: f64) -> Estimate {
        Estimate {
            n: 8,
            mean,
            sd: f64::NAN,
            ci95,
            low: mean - ci95,
            high: mean + ci95,
        }
    }

    /// A relative difference of `rel` ± `ci` % from a baseline mean of 100 ms.
    fn diff(rel: f64, ci: f64) -> PairedDiff {
        PairedDiff {
            metric: &METRICS[M::LatencyP99 as usize],
            diff: est(rel, ci),
            rel_pct: est(rel, ci),
            base_mean: 100.0,
            variant_mean: 100.0 + rel,
        }
    }

    #[test]
    fn phrases_direction_only_when_it_shows() {
        assert_eq!(phrase(&diff(-41.23, 3.94)), "41.2% ± 3.9% lower");
        assert_eq!(phrase(&diff(16.5, 12.0)), "16.5% ± 12.0% higher");
        assert_eq!(phrase(&diff(0.0, 0.0)), "same");
        // Rounds to 0.0% ± 0.0%: no direction.
        assert_eq!(phrase(&diff(-0.004, 0.01)), "same (< 0.05%)");
    }

    #[test]
    fn an_interval_wider_than_the_estimate_is_inconclusive() {
        // Was "4919.4% ± 59472.1% higher".
        assert_eq!(
            phrase(&diff(4919.4, 59472.1)),
            "inconclusive (+4919% ± 59472%)"
        );
        assert_eq!(phrase(&diff(0.01, 0.2)), "inconclusive (+0.0100% ± 0.200%)");
    }

    #[test]
    fn big_ratios_read_as_factors() {
        // Was "99.6% ± 0.1% lower": 230× lower, the interval as factors.
        let d = diff(-99.565, 0.1);
        assert_eq!(phrase(&d), "230× lower (187–299×)");
        assert_eq!(phrase(&diff(200.0, 20.0)), "3.0× higher (2.8–3.2×)");
        // A lower end at or below zero: only the near end of the factor is known.
        assert_eq!(phrase(&diff(-90.0, 12.0)), "10× lower (≥ 4.5×)");
    }

    #[test]
    fn from_zero_is_an_absolute_change() {
        // Error rate 0% → 84%: was "n/a".
        let d = PairedDiff {
            metric: &METRICS[M::ErrorRate as usize],
            diff: est(84.0, 1.5),
            rel_pct: est(f64::NAN, f64::NAN),
            base_mean: 0.0,
            variant_mean: 84.0,
        };
        assert_eq!(phrase(&d), "+84.0 points (0% → 84.0%)");
        let to_zero = PairedDiff {
            metric: &METRICS[M::Errors as usize],
            diff: est(-12.0, 30.0),
            rel_pct: est(-100.0, 250.0),
            base_mean: 12.0,
            variant_mean: 0.0,
        };
        assert_eq!(
            phrase(&to_zero),
            "inconclusive: −12.0 req (12.0 req → 0 req), ± 30.0"
        );
    }

    #[test]
    fn means_compared_as_people_say_it() {
        assert_eq!(compare_means(0.26, 60.0, "ms").unwrap(), "231× lower");
        assert_eq!(compare_means(59.0, 100.0, "ms").unwrap(), "41.0% lower");
        assert_eq!(compare_means(300.0, 100.0, "ms").unwrap(), "3.0× higher");
        assert_eq!(compare_means(0.0, 84.0, "%").unwrap(), "84.0 points lower");
        assert_eq!(compare_means(1.0, 1.0, "ms"), None);
    }

    #[test]
    fn ratio_of_means_and_its_interval() {
        // Baseline 10, 20, 30; variant exactly half: −50% with no noise in the ratio.
        let r = ratio(&[(10.0, 5.0), (20.0, 10.0), (30.0, 15.0)]);
        assert!(
            (r.mean + 50.0).abs() < 1e-12 && r.ci95.abs() < 1e-9,
            "{r:?}"
        );
        // One tiny baseline does not blow the estimate up (the mean of per-pair ratios
        // would be dominated by 1000%).
        let r = ratio(&[(0.01, 0.11), (10.0, 10.0), (10.0, 10.0)]);
        assert!((r.mean - 100.0 * (20.11 / 20.01 - 1.0)).abs() < 1e-9);
        assert!(ratio(&[(0.0, 1.0), (0.0, 2.0)]).mean.is_nan());
    }
}
