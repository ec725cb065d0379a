//! Aggregation across replications: the mean and a 95% confidence interval that respects
//! what the metric can be.
//!
//! Replications are independent and identically distributed, so the mean of a metric over
//! n replications has the Student-t interval `mean ± t(0.975, n−1)·s/√n`. That interval is
//! symmetric and can leave the metric's range: a skewed latency gets a negative lower
//! bound, a rare error count one below zero. So each metric declares its [`Support`]:
//!
//! - [`Support::REAL`] (paired differences): the Student-t interval as it is.
//! - [`Support::POSITIVE`] (latencies, times): the Student-t interval while its lower end
//!   is positive (the usual case); where the replications are so skewed that it would reach
//!   zero or below, Cox's interval for the mean of a log-normal quantity, computed on the
//!   log values and transformed back:
//!   `exp(ȳ + s²/2 ± t·√(s²/n + s⁴/(2(n−1))))` with ȳ, s² the mean and variance of
//!   `ln x`. Both ends are positive and the interval is wide upwards where the
//!   replications are skewed (a rare stall in one of them). If a value is zero the log is
//!   undefined and the rule below applies with a lower limit of zero.
//! - Everything else that has a range (counts, rates, percentages, Jain's index): the
//!   Student-t interval intersected with the range. The true mean lies in the range, so
//!   cutting off the impossible part never loses coverage: the clipped interval covers
//!   exactly as often as the t interval.
//!
//! In every case the point estimate is the sample mean, and the interval is widened to
//! contain it if the log-normal model puts it outside (it never does for the clipped
//! rules). NaN values (a metric undefined in some replication) are left out; fewer than
//! two values give no interval; equal values give the single point.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The values a metric can take, and so which interval it gets.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Support {
    /// Smallest possible value (−∞ for none).
    pub min: f64,
    /// Largest possible value (+∞ for none).
    pub max: f64,
    /// Strictly positive and right-skewed (a time): use the log-scale interval.
    pub log: bool,
}

impl Support {
    /// Any real number (differences): the symmetric Student-t interval.
    pub const REAL: Support = Support {
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
        log: false,
    };
    /// Zero or more (counts, rates, ratios).
    pub const NON_NEGATIVE: Support = Support {
        min: 0.0,
        max: f64::INFINITY,
        log: false,
    };
    /// More than zero and right-skewed (latencies, durations): Cox's log-scale interval.
    pub const POSITIVE: Support = Support {
        min: 0.0,
        max: f64::INFINITY,
        log: true,
    };
    /// A percentage of a whole, 0 to 100.
    pub const PERCENT: Support = Support {
        min: 0.0,
        max: 100.0,
        log: false,
    };
    /// A fraction of a whole, 0 to 1.
    pub const UNIT: Support = Support {
        min: 0.0,
        max: 1.0,
        log: false,
    };
    /// One or more (max/mean ratios).
    pub const AT_LEAST_ONE: Support = Support {
        min: 1.0,
        max: f64::INFINITY,
        log: false,
    };

    /// A short description for documentation and JSON: `real`, `log-normal`, `[0, 100]`.
    pub fn describe(&self) -> String {
        if self.log {
            return "positive (log scale)".into();
        }
        match (self.min.is_finite(), self.max.is_finite()) {
            (false, false) => "real".into(),
            (true, false) => format!("≥ {}", self.min),
            (true, true) => format!("[{}, {}]", self.min, self.max),
            (false, true) => format!("≤ {}", self.max),
        }
    }
}

/// Mean and confidence interval of one metric over replications.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Number of replications with a defined value.
    pub n: usize,
    /// Sample mean (NaN if `n == 0`).
    pub mean: f64,
    /// Sample standard deviation (NaN if `n < 2`).
    pub sd: f64,
    /// Half-width of the symmetric Student-t 95% interval `t·s/√n` (NaN if `n < 2`). For a
    /// metric with a bounded [`Support`] the reported interval is [`lo`](Self::lo) to
    /// [`hi`](Self::hi), which need not be `mean ± ci95`.
    pub ci95: f64,
    /// Lower end of the 95% interval (NaN if `n < 2`).
    pub low: f64,
    /// Upper end of the 95% interval (NaN if `n < 2`).
    pub high: f64,
}

impl Estimate {
    /// Lower end of the 95% interval.
    pub fn lo(&self) -> f64 {
        self.low
    }
    /// Upper end of the 95% interval.
    pub fn hi(&self) -> f64 {
        self.high
    }
    /// Whether the interval is known (two or more values).
    pub fn has_ci(&self) -> bool {
        self.low.is_finite() && self.high.is_finite()
    }
}

/// The t quantile `t(p, df)`.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(f64::NAN)
}

/// Mean and symmetric Student-t 95% CI of the finite values in `xs` (summed in order:
/// deterministic). For a metric that cannot be negative use [`estimate_in`].
pub fn estimate(xs: &[f64]) -> Estimate {
    estimate_at(xs, 0.95)
}

/// Mean and symmetric two-sided `level` Student-t CI of the finite values in `xs`.
pub fn estimate_at(xs: &[f64], level: f64) -> Estimate {
    interval(xs, level, Support::REAL)
}

/// Mean and 95% CI of the finite values in `xs` for a metric with the given support.
pub fn estimate_in(xs: &[f64], support: Support) -> Estimate {
    interval(xs, 0.95, support)
}

fn mean_sd(vals: &[f64]) -> (f64, f64) {
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    let var = vals.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn interval(xs: &[f64], level: f64, support: Support) -> Estimate {
    let vals: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = vals.len();
    let nan = f64::NAN;
    if n == 0 {
        return Estimate {
            n,
            mean: nan,
            sd: nan,
            ci95: nan,
            low: nan,
            high: nan,
        };
    }
    // Equal values have that value as their mean, whatever rounding would do.
    let equal = vals.iter().all(|&x| x == vals[0]);
    let mean = if equal {
        vals[0]
    } else {
        vals.iter().sum::<f64>() / n as f64
    };
    if n < 2 {
        return Estimate {
            n,
            mean,
            sd: nan,
            ci95: nan,
            low: nan,
            high: nan,
        };
    }
    let sd = if equal { 0.0 } else { mean_sd(&vals).1 };
    let t = t_quantile(0.5 + level / 2.0, n as f64 - 1.0);
    let half = t * sd / (n as f64).sqrt();
    // A time keeps the plain t interval while that stays positive (replication means are
    // near normal, and the log-normal model can stretch one odd replication into an
    // upper end far beyond every value seen); only a skew that would take it to zero or
    // below switches to the log scale.
    let (mut low, mut high) = if support.log && mean - half <= 0.0 && vals.iter().all(|&x| x > 0.0)
    {
        let logs: Vec<f64> = vals.iter().map(|x| x.ln()).collect();
        let (ly, ls) = mean_sd(&logs);
        let s2 = ls * ls;
        let centre = ly + s2 / 2.0;
        let se = (s2 / n as f64 + s2 * s2 / (2.0 * (n as f64 - 1.0))).sqrt();
        ((centre - t * se).exp(), (centre + t * se).exp())
    } else {
        (mean - half, mean + half)
    };
    if equal {
        (low, high) = (mean, mean);
    }
    // The sample mean lies in its own interval, and the interval in the support.
    low = low.min(mean).max(support.min);
    high = high.max(mean).min(support.max);
    Estimate {
        n,
        mean,
        sd,
        ci95: half,
        low,
        high,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimRng;

    #[test]
    fn t_quantiles_match_tables() {
        // Standard t-table values.
        assert!((t_quantile(0.975, 9.0) - 2.262157).abs() < 1e-5);
        assert!((t_quantile(0.975, 1.0) - 12.706205).abs() < 1e-4);
        assert!((t_quantile(0.975, 29.0) - 2.045230).abs() < 1e-5);
    }

    #[test]
    fn estimate_of_known_sample() {
        let e = estimate(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(e.n, 5);
        assert!((e.mean - 3.0).abs() < 1e-12);
        assert!((e.sd - 2.5f64.sqrt()).abs() < 1e-12);
        // t(0.975, 4) = 2.776445; half-width = 2.776445 * 1.581139 / 2.236068.
        assert!((e.ci95 - 1.963243).abs() < 1e-5, "{}", e.ci95);
        assert!((e.lo() - (3.0 - 1.963243)).abs() < 1e-5);
        assert!((e.hi() - (3.0 + 1.963243)).abs() < 1e-5);
        let one = estimate(&[f64::NAN, 7.0]);
        assert_eq!(one.n, 1);
        assert_eq!(one.mean, 7.0);
        assert!(one.ci95.is_nan() && !one.has_ci());
    }

    #[test]
    fn real_support_is_the_symmetric_t_interval() {
        let e = estimate_in(&[-3.0, 1.0, 2.0], Support::REAL);
        assert!(e.lo() < -3.0 && e.hi() > 2.0);
        assert!(((e.hi() - e.mean) - (e.mean - e.lo())).abs() < 1e-12);
    }

    #[test]
    fn skewed_latencies_keep_a_positive_lower_bound() {
        // Like slow-query: one replication with a long stall. The t interval goes below
        // zero; the log-scale one stays positive and contains the mean.
        let xs = [120.0, 110.0, 130.0, 115.0, 9000.0];
        let t = estimate(&xs);
        assert!(t.lo() < 0.0, "the t interval is negative here: {}", t.lo());
        let e = estimate_in(&xs, Support::POSITIVE);
        assert!(
            e.lo() > 0.0 && e.lo() <= e.mean && e.mean <= e.hi(),
            "{e:?}"
        );
        assert_eq!(e.mean, t.mean);
    }

    #[test]
    fn rare_counts_and_rates_stay_in_range() {
        let e = estimate_in(&[0.0, 0.0, 0.0, 1.0, 0.0], Support::NON_NEGATIVE);
        assert_eq!(e.lo(), 0.0);
        assert!(e.hi() > e.mean);
        let p = estimate_in(&[99.0, 100.0, 100.0, 95.0], Support::PERCENT);
        assert!(p.hi() <= 100.0 && p.lo() < p.mean);
        let j = estimate_in(&[0.999, 1.0, 0.98], Support::UNIT);
        assert!(j.hi() <= 1.0);
        let r = estimate_in(&[1.0, 1.0, 3.0], Support::AT_LEAST_ONE);
        assert_eq!(r.lo(), 1.0);
        // A zero among latencies falls back to the clipped interval at 0.
        let z = estimate_in(&[0.0, 5.0, 50.0], Support::POSITIVE);
        assert_eq!(z.lo(), 0.0);
        assert!(z.hi() > z.mean);
    }

    #[test]
    fn degenerate_samples() {
        for s in [
            Support::REAL,
            Support::POSITIVE,
            Support::NON_NEGATIVE,
            Support::PERCENT,
        ] {
            let none = estimate_in(&[], s);
            assert_eq!(none.n, 0);
            assert!(none.mean.is_nan() && !none.has_ci());
            let one = estimate_in(&[4.0], s);
            assert_eq!((one.n, one.mean), (1, 4.0));
            assert!(!one.has_ci());
            let same = estimate_in(&[0.1, 0.1, 0.1], s);
            assert_eq!((same.lo(), same.hi()), (same.mean, same.mean), "{s:?}");
            let zeros = estimate_in(&[0.0, 0.0, 0.0, 0.0], s);
            assert_eq!((zeros.mean, zeros.lo(), zeros.hi()), (0.0, 0.0, 0.0));
        }
    }

    /// Coverage of the true mean over many samples with a fixed seed. With 4,000 trials
    /// the binomial standard error of a 95% coverage is 0.0034; the bands allow the
    /// method's own approximation error (Cox's interval is asymptotic) plus 4 standard
    /// errors.
    fn coverage(support: Support, n: usize, draw: impl Fn(&mut SimRng) -> f64, truth: f64) -> f64 {
        let mut rng = SimRng::from_seed_u64(20_240_611);
        let trials = 4000;
        let mut hit = 0;
        for _ in 0..trials {
            let xs: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
            let e = estimate_in(&xs, support);
            assert!(e.lo() >= support.min && e.hi() <= support.max);
            if e.lo() <= truth && truth <= e.hi() {
                hit += 1;
            }
        }
        f64::from(hit) / f64::from(trials)
    }

    fn normal(rng: &mut SimRng) -> f64 {
        // Box–Muller.
        let (u, v) = (rng.next_f64_open0(), rng.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    #[test]
    fn coverage_is_about_95_percent() {
        // Log-normal latencies (σ = 0.5): true mean exp(σ²/2).
        let c = coverage(
            Support::POSITIVE,
            10,
            |r| (0.5 * normal(r)).exp(),
            (0.125f64).exp(),
        );
        assert!((0.925..=0.975).contains(&c), "log-normal coverage {c}");
        // Normal values far from zero: the clipped t interval is the t interval.
        let c = coverage(Support::NON_NEGATIVE, 8, |r| 50.0 + 5.0 * normal(r), 50.0);
        assert!((0.935..=0.965).contains(&c), "normal coverage {c}");
        // Rare events near the boundary: clipping at 0 cannot lose coverage, so it
        // equals the plain t interval's.
        let rare = |r: &mut SimRng| if r.next_f64() < 0.1 { 1.0 } else { 0.0 };
        let clipped = coverage(Support::NON_NEGATIVE, 30, rare, 0.1);
        let plain = coverage(Support::REAL, 30, rare, 0.1);
        assert_eq!(clipped, plain);
    }
}
