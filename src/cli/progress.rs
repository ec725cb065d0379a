//! The progress bar of run, compare and sweep: it counts runs (one replication of one
//! variant is one run) and shows an estimate of the time left. Only on a terminal and never
//! with `-q`: the callers decide, and pass `enabled`.

use indicatif::{ProgressBar, ProgressStyle};

/// How many runs a job makes and how to say it: `factors` are (count, singular noun),
/// multiplied, e.g. `[(3, "variant"), (10, "replication")]` is 30 runs,
/// "3 variants × 10 replications".
pub(crate) fn runs(factors: &[(u64, &str)]) -> (u64, String) {
    let total = factors.iter().map(|(n, _)| n).product();
    let what = factors
        .iter()
        .map(|(n, noun)| format!("{n} {noun}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(" × ");
    (total, what)
}

/// The bar's template: runs done of the total, elapsed, ETA, and what the runs are.
const TEMPLATE: &str = "{spinner} runs {pos}/{len} [{bar:30}] {elapsed} (eta {eta}) {msg}";

/// A progress bar over `runs` (from [`runs`]), hidden unless `enabled`.
pub(crate) fn bar((total, what): (u64, String), enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(TEMPLATE)
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what);
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_runs_as_the_product_of_the_factors() {
        assert_eq!(
            runs(&[(4, "variant"), (10, "replication")]),
            (40, "4 variants × 10 replications".to_string())
        );
        assert_eq!(
            runs(&[(12, "point"), (2, "algorithm"), (5, "replication")]),
            (120, "12 points × 2 algorithms × 5 replications".to_string())
        );
        assert_eq!(
            runs(&[(1, "variant"), (1, "replication")]),
            (1, "1 variant × 1 replication".to_string())
        );
    }

    #[test]
    fn the_bar_shows_runs_and_an_eta() {
        assert!(TEMPLATE.contains("runs {pos}/{len}"));
        assert!(TEMPLATE.contains("{eta}"));
        let pb = bar(runs(&[(3, "variant"), (2, "replication")]), true);
        assert_eq!(pb.length(), Some(6));
        assert_eq!(pb.message(), "3 variants × 2 replications");
        assert!(bar((6, String::new()), false).is_hidden());
    }
}
