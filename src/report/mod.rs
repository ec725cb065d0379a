//! Reports: terminal tables, CSV files, JSON and the run manifest, all rendered to strings;
//! and back from a results directory ([`results`]) to charts ([`charts`], SVG and PNG) and
//! a self-contained `report.html` ([`html`]).
//!
//! Rendering is pure (no IO): the CLI supplies the file reader and decides where the bytes
//! go. Floats are printed at a fixed precision so that the same results always give the
//! same bytes.

pub mod charts;
pub mod csv_out;
pub mod highlights;
pub mod html;
mod html_services;
pub mod json;
pub mod manifest;
pub mod paired;
pub mod results;
pub mod table;

/// What a report is about: the scenario facts printed in headers and manifests.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Master seed.
    pub seed: u64,
    /// Replications.
    pub replications: u32,
    /// Simulated duration per replication, seconds.
    pub duration_s: f64,
    /// Warm-up, seconds.
    pub warmup_s: f64,
    /// Number of servers.
    pub n_servers: usize,
    /// One-line notes printed under the table's header: overrides that apply to some
    /// variants only, differences besides the compared factor.
    pub notes: Vec<String>,
    /// What each variant is: its algorithm and the values of the varied keys (`--axis`).
    /// A label not listed here is its own algorithm with nothing varied.
    pub variants: Vec<VariantInfo>,
}

/// The identity of one variant in the CSV files.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantInfo {
    /// Its label (the `variant` column, and the name in tables and charts).
    pub label: String,
    /// The algorithm it runs (the `algorithm` column).
    pub algorithm: String,
    /// The varied keys and their values (one column each).
    pub factors: Vec<(String, String)>,
}

impl RunInfo {
    /// The varied keys, in order of first appearance: one CSV column each.
    pub fn factor_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for v in &self.variants {
            for (k, _) in &v.factors {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        keys
    }

    /// The identity columns of variant `label`: the label, its algorithm, and its value of
    /// each varied key (empty where it has none).
    pub fn identity(&self, label: &str) -> Vec<String> {
        let v = self.variants.iter().find(|v| v.label == label);
        let mut out = vec![
            label.to_string(),
            v.map_or_else(|| label.to_string(), |v| v.algorithm.clone()),
        ];
        for k in self.factor_keys() {
            out.push(
                v.and_then(|v| v.factors.iter().find(|(fk, _)| *fk == k))
                    .map(|(_, val)| val.clone())
                    .unwrap_or_default(),
            );
        }
        out
    }
}

/// Formats a float for CSV: empty for NaN, otherwise fixed `decimals`.
pub fn csv_float(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        String::new()
    }
}
