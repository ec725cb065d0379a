//! Probability distributions for service times, think times and network delays.
//!
//! All values are in nanoseconds as `f64`; the caller rounds to [`SimTime`] at the edge.
//! Every distribution knows its mean, so a scenario can report its offered load before it
//! runs.
//!
//! [`SimTime`]: crate::engine::SimTime

use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::engine::SimRng;

/// The standard normal quantile at 0.99 (for lognormal by median and p99).
pub const Z_99: f64 = 2.326_347_874_040_840_8;

/// A non-negative distribution of durations, in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always the same value.
    Constant {
        /// The value.
        ns: f64,
    },
    /// Exponential with the given mean (memoryless: the M in M/M/1).
    Exponential {
        /// Mean.
        mean_ns: f64,
    },
    /// Uniform on `[lo, hi]`.
    Uniform {
        /// Lower bound.
        lo_ns: f64,
        /// Upper bound.
        hi_ns: f64,
    },
    /// `exp(N(mu, sigma²))`, with `mu` the log of the median in nanoseconds.
    LogNormal {
        /// Mean of the logarithm (log-nanoseconds).
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// Pareto with shape `alpha` truncated to `[lo, hi]`: heavy-tailed but finite.
    BoundedPareto {
        /// Shape (tail index), > 0.
        alpha: f64,
        /// Lower bound (scale), > 0.
        lo_ns: f64,
        /// Upper bound, > lo.
        hi_ns: f64,
    },
    /// Draw a component with the given probabilities, then draw from it.
    Mixture {
        /// Cumulative probabilities, last = 1.
        cumulative: Vec<f64>,
        /// The components.
        parts: Vec<Dist>,
    },
    /// Resample uniformly from observed values (bootstrap of a trace).
    Empirical {
        /// The observed values, sorted ascending; non-empty.
        values_ns: Vec<f64>,
    },
}

impl Dist {
    /// Draws one value (nanoseconds, ≥ 0).
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match self {
            Dist::Constant { ns } => *ns,
            Dist::Exponential { mean_ns } => {
                let e: f64 = Exp1.sample(rng);
                e * mean_ns
            }
            Dist::Uniform { lo_ns, hi_ns } => lo_ns + (hi_ns - lo_ns) * rng.next_f64(),
            Dist::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Dist::BoundedPareto {
                alpha,
                lo_ns,
                hi_ns,
            } => {
                // Inverse CDF of the Pareto truncated to [L, H].
                let u = rng.next_f64();
                let ratio = (lo_ns / hi_ns).powf(*alpha);
                let x = lo_ns / (1.0 - u * (1.0 - ratio)).powf(1.0 / alpha);
                x.min(*hi_ns)
            }
            Dist::Mixture { cumulative, parts } => {
                let u = rng.next_f64();
                let i = cumulative
                    .iter()
                    .position(|&c| u < c)
                    .unwrap_or(parts.len() - 1);
                parts[i].sample(rng)
            }
            Dist::Empirical { values_ns } => values_ns[rng.below(values_ns.len() as u64) as usize],
        }
    }

    /// The exact mean (nanoseconds).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant { ns } => *ns,
            Dist::Exponential { mean_ns } => *mean_ns,
            Dist::Uniform { lo_ns, hi_ns } => 0.5 * (lo_ns + hi_ns),
            Dist::LogNormal { mu, sigma } => (mu + 0.5 * sigma * sigma).exp(),
            Dist::BoundedPareto {
                alpha,
                lo_ns,
                hi_ns,
            } => {
                let (a, l, h) = (*alpha, *lo_ns, *hi_ns);
                if (a - 1.0).abs() < 1e-12 {
                    h * l / (h - l) * (h / l).ln()
                } else {
                    let norm = l.powf(a) / (1.0 - (l / h).powf(a));
                    norm * a / (a - 1.0) * (l.powf(1.0 - a) - h.powf(1.0 - a))
                }
            }
            Dist::Mixture { cumulative, parts } => {
                mixture_expectation(cumulative, parts, Dist::mean)
            }
            Dist::Empirical { values_ns } => values_ns.iter().sum::<f64>() / values_ns.len() as f64,
        }
    }

    /// The exact second moment E[X²] (nanoseconds²), for the Pollaczek–Khinchine formula.
    pub fn second_moment(&self) -> f64 {
        match self {
            Dist::Constant { ns } => ns * ns,
            Dist::Exponential { mean_ns } => 2.0 * mean_ns * mean_ns,
            Dist::Uniform { lo_ns, hi_ns } => (lo_ns * lo_ns + lo_ns * hi_ns + hi_ns * hi_ns) / 3.0,
            Dist::LogNormal { mu, sigma } => (2.0 * mu + 2.0 * sigma * sigma).exp(),
            Dist::BoundedPareto {
                alpha,
                lo_ns,
                hi_ns,
            } => {
                let (a, l, h) = (*alpha, *lo_ns, *hi_ns);
                let norm = a * l.powf(a) / (1.0 - (l / h).powf(a));
                if (a - 2.0).abs() < 1e-12 {
                    norm * (h / l).ln()
                } else {
                    norm * (h.powf(2.0 - a) - l.powf(2.0 - a)) / (2.0 - a)
                }
            }
            Dist::Mixture { cumulative, parts } => {
                mixture_expectation(cumulative, parts, Dist::second_moment)
            }
            Dist::Empirical { values_ns } => {
                values_ns.iter().map(|v| v * v).sum::<f64>() / values_ns.len() as f64
            }
        }
    }

    /// Lognormal from its median and 99th percentile (both in nanoseconds, p99 > median).
    pub fn lognormal_from_median_p99(median_ns: f64, p99_ns: f64) -> Dist {
        let mu = median_ns.ln();
        Dist::LogNormal {
            mu,
            sigma: (p99_ns.ln() - mu) / Z_99,
        }
    }
}

/// `Σ p_i · f(part_i)` with the probabilities given as cumulative sums.
fn mixture_expectation(cumulative: &[f64], parts: &[Dist], f: fn(&Dist) -> f64) -> f64 {
    let mut prev = 0.0;
    let mut total = 0.0;
    for (c, p) in cumulative.iter().zip(parts) {
        total += (c - prev) * f(p);
        prev = *c;
    }
    total
}

/// One entry of the distribution catalogue, for `lblab list distributions`.
#[derive(Copy, Clone, Debug)]
pub struct DistInfo {
    /// The `dist = "..."` name.
    pub name: &'static str,
    /// What it is.
    pub summary: &'static str,
    /// Its keys, as written in a scenario.
    pub example: &'static str,
}

/// Every distribution a scenario can use.
pub fn catalogue() -> &'static [DistInfo] {
    &[
        DistInfo {
            name: "constant",
            summary: "always the same duration (M/D/1's D)",
            example: r#"{ dist = "constant", value = "10ms" }"#,
        },
        DistInfo {
            name: "exponential",
            summary: "memoryless with the given mean (M/M/1's M)",
            example: r#"{ dist = "exponential", mean = "10ms" }"#,
        },
        DistInfo {
            name: "uniform",
            summary: "uniform between min and max",
            example: r#"{ dist = "uniform", min = "5ms", max = "15ms" }"#,
        },
        DistInfo {
            name: "lognormal",
            summary: "right-skewed; by median and p99, or by mu/sigma of ln(seconds)",
            example: r#"{ dist = "lognormal", median = "8ms", p99 = "40ms" }  or  { dist = "lognormal", mu = -4.8, sigma = 0.7 }"#,
        },
        DistInfo {
            name: "bounded-pareto",
            summary: "heavy tail with shape alpha, truncated to [min, max]",
            example: r#"{ dist = "bounded-pareto", alpha = 1.5, min = "1ms", max = "10s" }"#,
        },
        DistInfo {
            name: "mixture",
            summary: "weighted mixture of any of these (weights sum to 1)",
            example: r#"{ dist = "mixture", parts = [{ weight = 0.9, dist = "constant", value = "1ms" }, { weight = 0.1, dist = "exponential", mean = "50ms" }] }"#,
        },
        DistInfo {
            name: "empirical",
            summary: "resample values from a CSV column (path relative to the scenario file)",
            example: r#"{ dist = "empirical", file = "traces/db.csv", column = "latency", unit = "ms" }"#,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SeedTree;

    /// Sample mean of `n` draws against the exact mean, within 5 standard errors
    /// (SE = sqrt(Var/n) with the exact variance): a false alarm has probability < 1e-6.
    fn check_moments(d: &Dist, n: usize) {
        let mut rng = SeedTree::new(11).stream(0, "dist-test");
        let mut sum = 0.0;
        let mut min = f64::INFINITY;
        for _ in 0..n {
            let x = d.sample(&mut rng);
            assert!(x >= 0.0 && x.is_finite());
            min = min.min(x);
            sum += x;
        }
        let mean = d.mean();
        let var = d.second_moment() - mean * mean;
        let se = (var.max(0.0) / n as f64).sqrt();
        let got = sum / n as f64;
        assert!(
            (got - mean).abs() <= 5.0 * se + 1e-9 * mean,
            "{d:?}: sample mean {got} vs exact {mean} (5 se = {})",
            5.0 * se
        );
    }

    #[test]
    fn sample_means_match_exact_means() {
        let n = 200_000;
        check_moments(&Dist::Constant { ns: 7.0 }, 10);
        check_moments(&Dist::Exponential { mean_ns: 1e6 }, n);
        check_moments(
            &Dist::Uniform {
                lo_ns: 2.0,
                hi_ns: 10.0,
            },
            n,
        );
        check_moments(&Dist::lognormal_from_median_p99(8e6, 40e6), n);
        check_moments(
            &Dist::BoundedPareto {
                alpha: 1.5,
                lo_ns: 1e6,
                hi_ns: 1e10,
            },
            n,
        );
        check_moments(
            &Dist::BoundedPareto {
                alpha: 1.0,
                lo_ns: 1.0,
                hi_ns: 100.0,
            },
            n,
        );
        check_moments(
            &Dist::BoundedPareto {
                alpha: 2.0,
                lo_ns: 1.0,
                hi_ns: 100.0,
            },
            n,
        );
        check_moments(
            &Dist::Mixture {
                cumulative: vec![0.9, 1.0],
                parts: vec![
                    Dist::Constant { ns: 1.0 },
                    Dist::Exponential { mean_ns: 50.0 },
                ],
            },
            n,
        );
        check_moments(
            &Dist::Empirical {
                values_ns: vec![1.0, 2.0, 10.0],
            },
            n,
        );
    }

    #[test]
    fn lognormal_by_median_and_p99_has_those_quantiles() {
        let d = Dist::lognormal_from_median_p99(8e6, 40e6);
        let mut rng = SeedTree::new(5).stream(0, "ln");
        let n = 200_000;
        let mut xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        // Order-statistic SE of the p-quantile in probability units: sqrt(p(1-p)/n);
        // 5 SE at p=0.5 is 0.0056, at p=0.99 is 0.0011.
        let frac_below = |v: f64| xs.partition_point(|&x| x < v) as f64 / n as f64;
        assert!((frac_below(8e6) - 0.5).abs() < 0.0056);
        assert!((frac_below(40e6) - 0.99).abs() < 0.0011);
    }

    #[test]
    fn bounded_pareto_stays_in_bounds() {
        let d = Dist::BoundedPareto {
            alpha: 0.8,
            lo_ns: 10.0,
            hi_ns: 1000.0,
        };
        let mut rng = SeedTree::new(5).stream(0, "bp");
        for _ in 0..100_000 {
            let x = d.sample(&mut rng);
            assert!((10.0..=1000.0).contains(&x), "{x}");
        }
    }
}
