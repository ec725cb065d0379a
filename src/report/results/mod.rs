//! Reading a results directory back: the CSV files and `manifest.toml` that `run`,
//! `compare` and `sweep` write, as typed tables for the charts and the HTML report.
//!
//! The caller supplies the file reader (the CLI reads the directory), so this module does
//! no IO itself. A missing optional file gives `None`; a malformed one is an error naming
//! the file and the line. Rows keep the order of the file, and algorithms the order in
//! which they first appear, so everything built from a [`Results`] is deterministic.

use std::fmt;

mod files;
mod services;
pub use services::{ConnPoint, HopStat, ServicePoint, ServiceStat};
mod table;

/// Small results directories for tests, generated deterministically.
#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;

use files::{
    parse_changes, parse_failovers, parse_ha, parse_health, parse_latency, parse_lb_failovers,
    parse_manifest, parse_servers, parse_summary, parse_sweep, parse_timeseries,
};

/// Reads one file of the results directory by name: `Ok(None)` if it does not exist.
pub type ReadFile<'a> = &'a dyn Fn(&str) -> std::io::Result<Option<String>>;

/// A file that could not be read or parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadError {
    /// The file, as the reader was asked for it (`summary.csv`).
    pub file: String,
    /// The 1-based line, when the problem has one.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// Mean and 95% confidence interval of one figure (NaN where not available).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Mean over replications.
    pub mean: f64,
    /// Lower end of the 95% CI.
    pub lo: f64,
    /// Upper end of the 95% CI.
    pub hi: f64,
}

impl Estimate {
    /// Whether the interval is known (at least two replications).
    pub fn has_ci(&self) -> bool {
        self.lo.is_finite() && self.hi.is_finite()
    }

    /// Whether both intervals are known and do not overlap.
    pub fn separated_from(&self, other: &Estimate) -> bool {
        self.has_ci() && other.has_ci() && (self.hi < other.lo || other.hi < self.lo)
    }
}

/// `manifest.toml`: what produced the directory. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifest {
    /// Whether the file exists.
    pub present: bool,
    /// lblab version that wrote the results.
    pub version: Option<String>,
    /// The command line.
    pub command: Option<String>,
    /// Scenario name.
    pub scenario: Option<String>,
    /// Scenario file as named on the command line.
    pub scenario_file: Option<String>,
    /// Hash of the scenario text and overrides.
    pub scenario_hash: Option<String>,
    /// Scenario description.
    pub description: Option<String>,
    /// Parameters worth showing, e.g. `clients.rate=900/s`.
    pub parameters: Vec<String>,
    /// Master seed.
    pub seed: Option<String>,
    /// Replications.
    pub replications: Option<String>,
    /// Simulated duration per replication, seconds.
    pub duration_s: Option<f64>,
    /// Warm-up, seconds.
    pub warmup_s: Option<f64>,
    /// Algorithms (or variants), in order.
    pub algorithms: Vec<String>,
    /// Files listed in the manifest.
    pub files: Vec<String>,
    /// What the table said under its header (overrides applied to some variants only,
    /// differences besides the compared factor).
    pub notes: Vec<String>,
}

/// One row of `summary.csv` (or the metric part of a row of `sweep.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct StatRow {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// `value`, `mean`, `ci95_lo`, `ci95_hi` or `sd` (older files also have `ci95_half`).
    pub stat: String,
    /// Replication for `value` rows.
    pub replication: Option<u32>,
    /// One value per metric column (NaN for empty cells).
    pub values: Vec<f64>,
}

/// `summary.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Scenario name (from the first row).
    pub scenario: String,
    /// Metric column names, in file order.
    pub metrics: Vec<String>,
    /// Algorithms in order of first appearance.
    pub algorithms: Vec<String>,
    /// The rows, in file order.
    pub rows: Vec<StatRow>,
}

/// Picks the estimate of column `m` out of stat rows of one algorithm (or sweep point).
fn estimate_of<'a>(rows: impl Iterator<Item = &'a StatRow> + Clone, m: usize) -> Option<Estimate> {
    let get = |stat: &str| {
        rows.clone()
            .find(|r| r.stat == stat)
            .map(|r| r.values.get(m).copied().unwrap_or(f64::NAN))
    };
    match get("mean") {
        Some(mean) => {
            let half = get("ci95_half").unwrap_or(f64::NAN);
            let lo = get("ci95_lo").unwrap_or(mean - half);
            let hi = get("ci95_hi").unwrap_or(mean + half);
            Some(Estimate { mean, lo, hi })
        }
        None => {
            // No aggregated rows: the mean of the replications, without an interval.
            let vals: Vec<f64> = rows
                .filter(|r| r.stat == "value")
                .map(|r| r.values.get(m).copied().unwrap_or(f64::NAN))
                .filter(|v| v.is_finite())
                .collect();
            if vals.is_empty() {
                return None;
            }
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            Some(Estimate {
                mean,
                lo: f64::NAN,
                hi: f64::NAN,
            })
        }
    }
}

impl Summary {
    /// Index of a metric column.
    pub fn metric(&self, key: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m == key)
    }

    /// Mean and CI of `key` for `algorithm`; `None` if either is unknown.
    pub fn estimate(&self, algorithm: &str, key: &str) -> Option<Estimate> {
        let m = self.metric(key)?;
        estimate_of(self.rows.iter().filter(|r| r.algorithm == algorithm), m)
    }
}

/// One row of `servers.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerLoad {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// `value` or an aggregate.
    pub stat: String,
    /// Replication for `value` rows.
    pub replication: Option<u32>,
    /// Server name.
    pub server: String,
    /// Its group.
    pub group: String,
    /// Requests dispatched to it.
    pub requests: f64,
    /// Share of requests, %.
    pub share_pct: f64,
    /// Busy seconds.
    pub busy_s: f64,
    /// Share of busy time, %.
    pub busy_share_pct: f64,
    /// Utilization, %.
    pub utilization_pct: f64,
    /// Rejections.
    pub rejected: f64,
    /// Cache hit ratio, % (NaN without a cache).
    pub cache_hit_ratio_pct: f64,
}

/// One row of `latency.csv`: a point of the latency percentile curve.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyPoint {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// `value`, `mean`, `ci95_lo` or `ci95_hi`.
    pub stat: String,
    /// Replication for `value` rows.
    pub replication: Option<u32>,
    /// Quantile in [0, 1].
    pub quantile: f64,
    /// Latency at that quantile, ms.
    pub latency_ms: f64,
}

/// One row of `timeseries.csv`: one time bucket of one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// Start of the bucket, s.
    pub t_s: f64,
    /// Width of the bucket, s.
    pub bucket_s: f64,
    /// Completed requests per second.
    pub throughput_rps: f64,
    /// Failed requests per second.
    pub errors_per_s: f64,
    /// The bucket's p99 latency, ms (NaN without completions).
    pub p99_ms: f64,
}

/// One row of `failovers.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Failover {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// Index of the failure in the scenario.
    pub failure: u32,
    /// `crash`, `hang`, ...
    pub kind: String,
    /// Server name.
    pub server: String,
    /// Load balancer node.
    pub node: u32,
    /// When the fault started, s.
    pub fault_s: f64,
    /// When the node marked the server down, s (NaN if never).
    pub detected_s: f64,
    /// Detection time, s.
    pub detection_s: f64,
    /// When the server was repaired, s (NaN if never).
    pub repair_s: f64,
    /// When the node took it back, s (NaN if never).
    pub recovered_s: f64,
    /// Recovery time, s.
    pub recovery_s: f64,
    /// Attempts sent to the server while it was failed.
    pub sent: f64,
    /// Of those, attempts that failed.
    pub failed: f64,
}

/// One row of `health.csv`: a change of a server's health as one node saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthChange {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// When, s.
    pub at_s: f64,
    /// Load balancer node.
    pub node: u32,
    /// Server name.
    pub server: String,
    /// `up` or `down`.
    pub state: String,
    /// `active` or `outlier`.
    pub cause: String,
    /// A down while the server had no injected fault.
    pub false_alarm: bool,
}

/// One row of `lb_failovers.csv`: how the tier handled a failure of a load balancer node.
#[derive(Clone, Debug, PartialEq)]
pub struct LbFailover {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// `crash` or `stop`.
    pub kind: String,
    /// Node name (`lb-1`).
    pub node: String,
    /// When it failed, s.
    pub fault_s: f64,
    /// When the tier routed around it, s (NaN if never).
    pub failover_s: f64,
    /// When the last request sent into the dead path was issued, s (NaN if none).
    pub last_lost_s: f64,
    /// When it came back, s (NaN if never).
    pub repair_s: f64,
    /// Requests lost with it.
    pub lost: f64,
    /// Requests reset on other nodes by rerouting.
    pub reset: f64,
}

/// One row of `ha.csv`: something the load balancer tier did.
#[derive(Clone, Debug, PartialEq)]
pub struct HaEvent {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// When, s.
    pub at_s: f64,
    /// Node name (`lb-1`).
    pub node: String,
    /// `crash`, `stop`, `restart`, `master`, `backup`, `dns-removed`, `dns-added`,
    /// `route-withdrawn` or `route-announced`.
    pub event: String,
}

/// One row of `changes.csv`: a membership change.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Algorithm or variant label.
    pub algorithm: String,
    /// Replication.
    pub replication: u32,
    /// When, s.
    pub at_s: f64,
    /// What, e.g. `add web-5`.
    pub action: String,
    /// Servers in the pool afterwards.
    pub members: f64,
    /// Share of keys remapped, %.
    pub keys_remapped_pct: f64,
}

/// One row of `sweep.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// The sweep point (index).
    pub point: u32,
    /// The swept keys' values at this point, in [`Sweep::keys`] order.
    pub settings: Vec<String>,
    /// Algorithm, stat, replication and metric values.
    pub row: StatRow,
}

/// `sweep.csv`: metrics over a grid of values of one or more scenario keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// The swept key paths, e.g. `clients.rate`.
    pub keys: Vec<String>,
    /// Metric column names.
    pub metrics: Vec<String>,
    /// Algorithms in order of first appearance.
    pub algorithms: Vec<String>,
    /// The rows, in file order.
    pub rows: Vec<SweepRow>,
}

impl Sweep {
    /// The points in order: (point, settings).
    pub fn points(&self) -> Vec<(u32, Vec<String>)> {
        let mut pts: Vec<(u32, Vec<String>)> = Vec::new();
        for r in &self.rows {
            if !pts.iter().any(|(p, _)| *p == r.point) {
                pts.push((r.point, r.settings.clone()));
            }
        }
        pts.sort_by_key(|(p, _)| *p);
        pts
    }

    /// Mean and CI of `key` for `algorithm` at `point`.
    pub fn estimate(&self, algorithm: &str, point: u32, key: &str) -> Option<Estimate> {
        let m = self.metrics.iter().position(|k| k == key)?;
        estimate_of(
            self.rows
                .iter()
                .filter(|r| r.point == point && r.row.algorithm == algorithm)
                .map(|r| &r.row),
            m,
        )
    }
}

/// Everything in a results directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// `manifest.toml` (empty if absent).
    pub manifest: Manifest,
    /// `summary.csv`.
    pub summary: Option<Summary>,
    /// `servers.csv`.
    pub servers: Option<Vec<ServerLoad>>,
    /// `latency.csv`.
    pub latency: Option<Vec<LatencyPoint>>,
    /// `timeseries.csv`.
    pub timeseries: Option<Vec<Bucket>>,
    /// `failovers.csv`.
    pub failovers: Option<Vec<Failover>>,
    /// `health.csv`.
    pub health: Option<Vec<HealthChange>>,
    /// `changes.csv`.
    pub changes: Option<Vec<Change>>,
    /// `lb_failovers.csv`.
    pub lb_failovers: Option<Vec<LbFailover>>,
    /// `ha.csv`.
    pub ha: Option<Vec<HaEvent>>,
    /// `sweep.csv`.
    pub sweep: Option<Sweep>,
    /// `services.csv`: each service's figures per variant.
    pub services: Option<Vec<ServiceStat>>,
    /// `hops.csv`: each class's latency by service.
    pub hops: Option<Vec<HopStat>>,
    /// `service_timeseries.csv`.
    pub service_series: Option<Vec<ServicePoint>>,
    /// Open client connections per backend over time (layer 4 with `[connections]`).
    pub conn_series: Option<Vec<ConnPoint>>,
}

impl Results {
    /// Scenario name: the manifest's, else the CSVs'.
    pub fn scenario(&self) -> String {
        self.manifest
            .scenario
            .clone()
            .or_else(|| self.summary.as_ref().map(|s| s.scenario.clone()))
            .unwrap_or_else(|| "results".into())
    }

    /// Every algorithm (or variant) in the directory, in a stable order: the manifest's,
    /// then any others in order of first appearance in summary, sweep, servers, latency and
    /// time series. Charts give each the colour of its position here.
    pub fn algorithms(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |a: &str| {
            if !out.iter().any(|x| x == a) {
                out.push(a.to_string());
            }
        };
        self.manifest.algorithms.iter().for_each(|a| add(a));
        if let Some(s) = &self.summary {
            s.algorithms.iter().for_each(|a| add(a));
        }
        if let Some(s) = &self.sweep {
            s.algorithms.iter().for_each(|a| add(a));
        }
        for a in self.servers.iter().flatten().map(|r| &r.algorithm) {
            add(a);
        }
        for a in self.latency.iter().flatten().map(|r| &r.algorithm) {
            add(a);
        }
        for a in self.timeseries.iter().flatten().map(|r| &r.algorithm) {
            add(a);
        }
        out
    }

    /// Loads a results directory through `read`. Needs `summary.csv` or `sweep.csv`.
    pub fn load(read: ReadFile<'_>) -> Result<Results, LoadError> {
        let get = |name: &str| {
            read(name).map_err(|e| LoadError {
                file: name.into(),
                line: None,
                message: format!("cannot read: {e}"),
            })
        };
        let manifest = match get("manifest.toml")? {
            Some(t) => parse_manifest(&t)?,
            None => Manifest::default(),
        };
        let summary = get("summary.csv")?.map(|t| parse_summary(&t)).transpose()?;
        let sweep = get("sweep.csv")?.map(|t| parse_sweep(&t)).transpose()?;
        if summary.is_none() && sweep.is_none() {
            return Err(LoadError {
                file: "summary.csv".into(),
                line: None,
                message: "not found (nor sweep.csv): not an lblab results directory".into(),
            });
        }
        Ok(Results {
            manifest,
            summary,
            servers: get("servers.csv")?.map(|t| parse_servers(&t)).transpose()?,
            latency: get("latency.csv")?.map(|t| parse_latency(&t)).transpose()?,
            timeseries: get("timeseries.csv")?
                .map(|t| parse_timeseries(&t))
                .transpose()?,
            failovers: get("failovers.csv")?
                .map(|t| parse_failovers(&t))
                .transpose()?,
            health: get("health.csv")?.map(|t| parse_health(&t)).transpose()?,
            changes: get("changes.csv")?.map(|t| parse_changes(&t)).transpose()?,
            lb_failovers: get("lb_failovers.csv")?
                .map(|t| parse_lb_failovers(&t))
                .transpose()?,
            ha: get("ha.csv")?.map(|t| parse_ha(&t)).transpose()?,
            sweep,
            services: get("services.csv")?
                .map(|t| services::parse_services(&t))
                .transpose()?,
            hops: get("hops.csv")?
                .map(|t| services::parse_hops(&t))
                .transpose()?,
            service_series: get("service_timeseries.csv")?
                .map(|t| services::parse_service_series(&t))
                .transpose()?,
            conn_series: match (get("connections.csv")?, get("server_timeseries.csv")?) {
                (Some(c), Some(s)) => services::parse_conn_series(&c, &s)?,
                _ => None,
            },
        })
    }
}
