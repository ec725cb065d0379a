//! Imbalance measures over per-server loads.
//!
//! * max/mean: 1 is perfect; the overload of the busiest server.
//! * coefficient of variation: population standard deviation / mean; 0 is perfect.
//! * Jain's fairness index `(Σx)² / (n·Σx²)` (Jain, Chiu, Hawe 1984): 1 is perfect, 1/n worst.

/// `(max/mean, CoV, Jain)` of `xs`; NaN for an empty or all-zero input.
pub fn imbalance(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let sum: f64 = xs.iter().sum();
    if xs.is_empty() || sum <= 0.0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = sum / n;
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sq: f64 = xs.iter().map(|x| x * x).sum();
    let var = (sq / n - mean * mean).max(0.0);
    (max / mean, var.sqrt() / mean, sum * sum / (n * sq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let (mm, cov, jain) = imbalance(&[1.0, 1.0, 1.0, 1.0]);
        assert_eq!((mm, cov, jain), (1.0, 0.0, 1.0));
        // One server carries everything: max/mean = n, Jain = 1/n, CoV = sqrt(n-1).
        let (mm, cov, jain) = imbalance(&[4.0, 0.0, 0.0, 0.0]);
        assert_eq!(mm, 4.0);
        assert!((cov - 3f64.sqrt()).abs() < 1e-12);
        assert!((jain - 0.25).abs() < 1e-12);
        // Jain's paper example shape: [1, 2, 3] → 36 / (3 · 14) = 0.857142...
        let (_, _, jain) = imbalance(&[1.0, 2.0, 3.0]);
        assert!((jain - 36.0 / 42.0).abs() < 1e-12);
        assert!(imbalance(&[]).0.is_nan());
    }
}
