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
}

/// Formats a float for CSV: empty for NaN, otherwise fixed `decimals`.
pub fn csv_float(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        String::new()
    }
}
