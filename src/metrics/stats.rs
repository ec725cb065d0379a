//! Aggregation across replications: mean and Student-t 95% confidence interval.
//!
//! Replications are independent and identically distributed, so the mean of a metric over
//! n replications has a confidence interval `mean ± t(0.975, n−1)·s/√n`. NaN values (a
//! metric undefined in some replication) are left out; fewer than two values give no CI.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean and confidence interval of one metric over replications.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Number of replications with a defined value.
    pub n: usize,
    /// Sample mean (NaN if `n == 0`).
    pub mean: f64,
    /// Sample standard deviation (NaN if `n < 2`).
    pub sd: f64,
    /// Half-width of the 95% confidence interval (NaN if `n < 2`).
    pub ci95: f64,
}

impl Estimate {
    /// Lower end of the 95% interval.
    pub fn lo(&self) -> f64 {
        self.mean - self.ci95
    }
    /// Upper end of the 95% interval.
    pub fn hi(&self) -> f64 {
        self.mean + self.ci95
    }
}

/// The t quantile `t(p, df)`.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(f64::NAN)
}

/// Mean and 95% CI of the finite values in `xs` (summed in order: deterministic).
pub fn estimate(xs: &[f64]) -> Estimate {
    estimate_at(xs, 0.95)
}

/// Mean and two-sided `level` CI of the finite values in `xs`.
pub fn estimate_at(xs: &[f64], level: f64) -> Estimate {
    let vals = xs.iter().copied().filter(|x| x.is_finite());
    let n = vals.clone().count();
    if n == 0 {
        return Estimate {
            n,
            mean: f64::NAN,
            sd: f64::NAN,
            ci95: f64::NAN,
        };
    }
    let mean = vals.clone().sum::<f64>() / n as f64;
    if n < 2 {
        return Estimate {
            n,
            mean,
            sd: f64::NAN,
            ci95: f64::NAN,
        };
    }
    let var = vals.map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n as f64 - 1.0);
    let sd = var.sqrt();
    let t = t_quantile(0.5 + level / 2.0, n as f64 - 1.0);
    Estimate {
        n,
        mean,
        sd,
        ci95: t * sd / (n as f64).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let one = estimate(&[f64::NAN, 7.0]);
        assert_eq!(one.n, 1);
        assert_eq!(one.mean, 7.0);
        assert!(one.ci95.is_nan());
    }
}
