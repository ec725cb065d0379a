//! Reading a results directory back: the CSV files and `manifest.toml` that `run`,
//! `compare` and `sweep` write, as typed tables for the charts and the HTML report.
//!
//! The caller supplies the file reader (the CLI reads the directory), so this module does
//! no IO itself. A missing optional file gives `None`; a malformed one is an error naming
//! the file and the line. Rows keep the order of the file, and algorithms the order in
//! which they first appear, so everything built from a [`Results`] is deterministic.

use std::fmt;

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
        })
    }
}

/// A parsed CSV file: header and records with their line numbers.
struct Table<'a> {
    file: &'a str,
    header: Vec<String>,
    records: Vec<(u64, csv::StringRecord)>,
}

/// A cursor on one record, for typed access with located errors.
struct Row<'t> {
    file: &'t str,
    line: u64,
    header: &'t [String],
    rec: &'t csv::StringRecord,
}

impl Row<'_> {
    fn err(&self, message: String) -> LoadError {
        LoadError {
            file: self.file.into(),
            line: Some(self.line),
            message,
        }
    }

    fn text(&self, i: usize) -> String {
        self.rec.get(i).unwrap_or("").trim().to_string()
    }

    /// A number; an empty cell is NaN.
    fn num(&self, i: usize) -> Result<f64, LoadError> {
        let t = self.rec.get(i).unwrap_or("").trim();
        if t.is_empty() {
            return Ok(f64::NAN);
        }
        t.parse::<f64>()
            .map_err(|_| self.err(format!("column {}: `{t}` is not a number", self.header[i])))
    }

    /// A non-negative integer; empty is `None`.
    fn opt_int(&self, i: usize) -> Result<Option<u32>, LoadError> {
        let t = self.rec.get(i).unwrap_or("").trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<u32>().map(Some).map_err(|_| {
            self.err(format!(
                "column {}: `{t}` is not a non-negative integer",
                self.header[i]
            ))
        })
    }

    fn int(&self, i: usize) -> Result<u32, LoadError> {
        self.opt_int(i)?
            .ok_or_else(|| self.err(format!("column {}: empty", self.header[i])))
    }

    fn bool(&self, i: usize) -> Result<bool, LoadError> {
        match self.rec.get(i).unwrap_or("").trim() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            t => Err(self.err(format!(
                "column {}: `{t}` is not true or false",
                self.header[i]
            ))),
        }
    }
}

impl<'a> Table<'a> {
    fn parse(file: &'a str, text: &str) -> Result<Table<'a>, LoadError> {
        let loc = |e: csv::Error| LoadError {
            file: file.into(),
            line: e.position().map(|p| p.line()),
            message: match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields where the header has {expected_len}"),
                _ => e.to_string(),
            },
        };
        let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header: Vec<String> = rdr
            .headers()
            .map_err(loc)?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(LoadError {
                file: file.into(),
                line: Some(1),
                message: "empty file: no header".into(),
            });
        }
        let mut records = Vec::new();
        for r in rdr.records() {
            let r = r.map_err(loc)?;
            let line = r.position().map_or(0, |p| p.line());
            records.push((line, r));
        }
        Ok(Table {
            file,
            header,
            records,
        })
    }

    /// Index of a required column.
    fn col(&self, name: &str) -> Result<usize, LoadError> {
        // Rows belong to a variant: `variant` where the file has it (the algorithm alone
        // does not tell two values of an --axis key apart), `algorithm` in older files.
        if name == "algorithm"
            && let Some(i) = self.header.iter().position(|h| h == "variant")
        {
            return Ok(i);
        }
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| LoadError {
                file: self.file.into(),
                line: Some(1),
                message: format!("missing column `{name}`"),
            })
    }

    fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().map(|(line, rec)| Row {
            file: self.file,
            line: *line,
            header: &self.header,
            rec,
        })
    }
}

fn push_unique(v: &mut Vec<String>, x: &str) {
    if !v.iter().any(|y| y == x) {
        v.push(x.to_string());
    }
}

fn parse_summary(text: &str) -> Result<Summary, LoadError> {
    let t = Table::parse("summary.csv", text)?;
    let (sc, al, st, re) = (
        t.col("scenario")?,
        t.col("algorithm")?,
        t.col("stat")?,
        t.col("replication")?,
    );
    let first_metric = [sc, al, st, re].into_iter().max().unwrap_or(0) + 1;
    let metrics: Vec<String> = t.header[first_metric..].to_vec();
    let mut s = Summary {
        scenario: String::new(),
        metrics,
        algorithms: Vec::new(),
        rows: Vec::new(),
    };
    for r in t.rows() {
        if s.scenario.is_empty() {
            s.scenario = r.text(sc);
        }
        let algorithm = r.text(al);
        push_unique(&mut s.algorithms, &algorithm);
        let values = (first_metric..t.header.len())
            .map(|i| r.num(i))
            .collect::<Result<Vec<_>, _>>()?;
        s.rows.push(StatRow {
            algorithm,
            stat: r.text(st),
            replication: r.opt_int(re)?,
            values,
        });
    }
    Ok(s)
}

fn parse_sweep(text: &str) -> Result<Sweep, LoadError> {
    let t = Table::parse("sweep.csv", text)?;
    let (al, pt, st, re) = (
        t.col("algorithm")?,
        t.col("point")?,
        t.col("stat")?,
        t.col("replication")?,
    );
    if !(pt < st && st < re) {
        return Err(LoadError {
            file: t.file.into(),
            line: Some(1),
            message: "expected the columns point, <swept keys>, stat, replication, <metrics>"
                .into(),
        });
    }
    let keys: Vec<String> = t.header[pt + 1..st].to_vec();
    let mut s = Sweep {
        keys,
        metrics: t.header[re + 1..].to_vec(),
        algorithms: Vec::new(),
        rows: Vec::new(),
    };
    for r in t.rows() {
        let algorithm = r.text(al);
        push_unique(&mut s.algorithms, &algorithm);
        let values = (re + 1..t.header.len())
            .map(|i| r.num(i))
            .collect::<Result<Vec<_>, _>>()?;
        s.rows.push(SweepRow {
            point: r.int(pt)?,
            settings: (pt + 1..st).map(|i| r.text(i)).collect(),
            row: StatRow {
                algorithm,
                stat: r.text(st),
                replication: r.opt_int(re)?,
                values,
            },
        });
    }
    Ok(s)
}

fn parse_servers(text: &str) -> Result<Vec<ServerLoad>, LoadError> {
    let t = Table::parse("servers.csv", text)?;
    let c = |n| t.col(n);
    let (al, st, re, sv, gr) = (
        c("algorithm")?,
        c("stat")?,
        c("replication")?,
        c("server")?,
        c("group")?,
    );
    let (rq, sh, bs, bsh, ut, rj, ch) = (
        c("requests")?,
        c("share_pct")?,
        c("busy_s")?,
        c("busy_share_pct")?,
        c("utilization_pct")?,
        c("rejected")?,
        c("cache_hit_ratio_pct")?,
    );
    t.rows()
        .map(|r| {
            Ok(ServerLoad {
                algorithm: r.text(al),
                stat: r.text(st),
                replication: r.opt_int(re)?,
                server: r.text(sv),
                group: r.text(gr),
                requests: r.num(rq)?,
                share_pct: r.num(sh)?,
                busy_s: r.num(bs)?,
                busy_share_pct: r.num(bsh)?,
                utilization_pct: r.num(ut)?,
                rejected: r.num(rj)?,
                cache_hit_ratio_pct: r.num(ch)?,
            })
        })
        .collect()
}

fn parse_latency(text: &str) -> Result<Vec<LatencyPoint>, LoadError> {
    let t = Table::parse("latency.csv", text)?;
    let (al, st, re, q, l) = (
        t.col("algorithm")?,
        t.col("stat")?,
        t.col("replication")?,
        t.col("quantile")?,
        t.col("latency_ms")?,
    );
    t.rows()
        .map(|r| {
            let quantile = r.num(q)?;
            if !(0.0..=1.0).contains(&quantile) {
                return Err(r.err(format!("quantile {quantile} is not in [0, 1]")));
            }
            Ok(LatencyPoint {
                algorithm: r.text(al),
                stat: r.text(st),
                replication: r.opt_int(re)?,
                quantile,
                latency_ms: r.num(l)?,
            })
        })
        .collect()
}

fn parse_timeseries(text: &str) -> Result<Vec<Bucket>, LoadError> {
    let t = Table::parse("timeseries.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, ts, bs, th, er, p) = (
        c("algorithm")?,
        c("replication")?,
        c("t_s")?,
        c("bucket_s")?,
        c("throughput_rps")?,
        c("errors_per_s")?,
        c("p99_ms")?,
    );
    t.rows()
        .map(|r| {
            Ok(Bucket {
                algorithm: r.text(al),
                replication: r.int(re)?,
                t_s: r.num(ts)?,
                bucket_s: r.num(bs)?,
                throughput_rps: r.num(th)?,
                errors_per_s: r.num(er)?,
                p99_ms: r.num(p)?,
            })
        })
        .collect()
}

fn parse_failovers(text: &str) -> Result<Vec<Failover>, LoadError> {
    let t = Table::parse("failovers.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, fa, ki, sv, no) = (
        c("algorithm")?,
        c("replication")?,
        c("failure")?,
        c("kind")?,
        c("server")?,
        c("node")?,
    );
    let (fs, de, dt, rp, rc, rt, se, fd) = (
        c("fault_s")?,
        c("detected_s")?,
        c("detection_s")?,
        c("repair_s")?,
        c("recovered_s")?,
        c("recovery_s")?,
        c("sent")?,
        c("failed")?,
    );
    t.rows()
        .map(|r| {
            Ok(Failover {
                algorithm: r.text(al),
                replication: r.int(re)?,
                failure: r.int(fa)?,
                kind: r.text(ki),
                server: r.text(sv),
                node: r.int(no)?,
                fault_s: r.num(fs)?,
                detected_s: r.num(de)?,
                detection_s: r.num(dt)?,
                repair_s: r.num(rp)?,
                recovered_s: r.num(rc)?,
                recovery_s: r.num(rt)?,
                sent: r.num(se)?,
                failed: r.num(fd)?,
            })
        })
        .collect()
}

fn parse_health(text: &str) -> Result<Vec<HealthChange>, LoadError> {
    let t = Table::parse("health.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, at, no, sv, st, ca, fa) = (
        c("algorithm")?,
        c("replication")?,
        c("at_s")?,
        c("node")?,
        c("server")?,
        c("state")?,
        c("cause")?,
        c("false_alarm")?,
    );
    t.rows()
        .map(|r| {
            Ok(HealthChange {
                algorithm: r.text(al),
                replication: r.int(re)?,
                at_s: r.num(at)?,
                node: r.int(no)?,
                server: r.text(sv),
                state: r.text(st),
                cause: r.text(ca),
                false_alarm: r.bool(fa)?,
            })
        })
        .collect()
}

fn parse_lb_failovers(text: &str) -> Result<Vec<LbFailover>, LoadError> {
    let t = Table::parse("lb_failovers.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, ki, no) = (c("algorithm")?, c("replication")?, c("kind")?, c("node")?);
    let (fs, fo, ll, rp, lo, rs) = (
        c("fault_s")?,
        c("failover_s")?,
        c("last_lost_s")?,
        c("repair_s")?,
        c("lost")?,
        c("reset")?,
    );
    t.rows()
        .map(|r| {
            Ok(LbFailover {
                algorithm: r.text(al),
                replication: r.int(re)?,
                kind: r.text(ki),
                node: r.text(no),
                fault_s: r.num(fs)?,
                failover_s: r.num(fo)?,
                last_lost_s: r.num(ll)?,
                repair_s: r.num(rp)?,
                lost: r.num(lo)?,
                reset: r.num(rs)?,
            })
        })
        .collect()
}

fn parse_ha(text: &str) -> Result<Vec<HaEvent>, LoadError> {
    let t = Table::parse("ha.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, at, no, ev) = (
        c("algorithm")?,
        c("replication")?,
        c("at_s")?,
        c("node")?,
        c("event")?,
    );
    t.rows()
        .map(|r| {
            Ok(HaEvent {
                algorithm: r.text(al),
                replication: r.int(re)?,
                at_s: r.num(at)?,
                node: r.text(no),
                event: r.text(ev),
            })
        })
        .collect()
}

fn parse_changes(text: &str) -> Result<Vec<Change>, LoadError> {
    let t = Table::parse("changes.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, at, ac, me, kr) = (
        c("algorithm")?,
        c("replication")?,
        c("at_s")?,
        c("action")?,
        c("members")?,
        c("keys_remapped_pct")?,
    );
    t.rows()
        .map(|r| {
            Ok(Change {
                algorithm: r.text(al),
                replication: r.int(re)?,
                at_s: r.num(at)?,
                action: r.text(ac),
                members: r.num(me)?,
                keys_remapped_pct: r.num(kr)?,
            })
        })
        .collect()
}

fn parse_manifest(text: &str) -> Result<Manifest, LoadError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| LoadError {
        file: "manifest.toml".into(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u64 + 1),
        message: e.message().to_string(),
    })?;
    let s = |k: &str| match table.get(k) {
        Some(toml::Value::String(v)) => Some(v.clone()),
        Some(toml::Value::Integer(i)) => Some(i.to_string()),
        Some(toml::Value::Float(f)) => Some(f.to_string()),
        _ => None,
    };
    let f = |k: &str| match table.get(k) {
        Some(toml::Value::Integer(i)) => Some(*i as f64),
        Some(toml::Value::Float(x)) => Some(*x),
        _ => None,
    };
    let list = |k: &str| match table.get(k) {
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Manifest {
        present: true,
        version: s("lblab_version"),
        command: s("command"),
        scenario: s("scenario"),
        scenario_file: s("scenario_file"),
        scenario_hash: s("scenario_hash"),
        description: s("description").filter(|d| !d.trim().is_empty()),
        parameters: list("parameters"),
        seed: s("seed"),
        replications: s("replications"),
        duration_s: f("duration_s"),
        warmup_s: f("warmup_s"),
        algorithms: list("algorithms"),
        files: list("files"),
        notes: list("notes"),
    })
}

/// Small results directories for tests, generated deterministically.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::metrics::METRICS;

    const ALGS: [&str; 3] = ["round-robin", "least-connections", "power-of-two"];

    fn q(i: u32) -> f64 {
        1.0 - 10f64.powf(-f64::from(i) / 10.0)
    }

    /// A compare directory with every file, including the new latency and time series.
    pub(crate) fn compare() -> Vec<(&'static str, String)> {
        let mut files = Vec::new();
        files.push((
            "manifest.toml",
            "lblab_version = \"0.1.0\"\ncommand = \"lblab compare fixture.toml\"\nscenario = \"fixture\"\n\
             scenario_file = \"fixture.toml\"\nscenario_hash = \"fnv1a64:0000000000000001\"\n\
             description = \"A <small> fixture & friends.\"\nparameters = [\"clients.rate=900/s\", \"servers.web.count=4\"]\n\
             seed = 7\nreplications = 3\nduration_s = 60\nwarmup_s = 5\n\
             algorithms = [\"round-robin\", \"least-connections\", \"power-of-two\"]\n\
             files = [\"summary.csv\", \"servers.csv\"]\n"
                .to_string(),
        ));
        // summary.csv: every metric; round-robin is worst at latency, least-connections best.
        let mut s = String::from("scenario,algorithm,stat,replication");
        for m in METRICS {
            s.push(',');
            s.push_str(m.key);
        }
        s.push('\n');
        for (a, alg) in ALGS.iter().enumerate() {
            let scale = [10.0, 1.0, 1.5][a];
            let val = |m: usize, rep: f64| -> f64 {
                let key = METRICS[m].key;
                if key.starts_with("latency_") || key.ends_with("_ms") {
                    scale * (m as f64) * (1.0 + 0.01 * rep)
                } else if key == "throughput_rps" {
                    400.0 - a as f64 + 0.1 * rep
                } else if key.starts_with("errors") || key == "error_rate_pct" {
                    if a == 0 { 5.0 + rep } else { 0.0 }
                } else if key == "cache_hit_ratio_pct" {
                    f64::NAN
                } else {
                    1.0 + 0.1 * a as f64 + 0.001 * rep
                }
            };
            let fmt = |x: f64| {
                if x.is_finite() {
                    format!("{x:.6}")
                } else {
                    String::new()
                }
            };
            for rep in 0..3 {
                s.push_str(&format!("fixture,{alg},value,{rep}"));
                for m in 0..METRICS.len() {
                    s.push(',');
                    s.push_str(&fmt(val(m, f64::from(rep))));
                }
                s.push('\n');
            }
            for (stat, d) in [
                ("mean", 0.0),
                ("ci95_half", f64::NAN),
                ("ci95_lo", -1.0),
                ("ci95_hi", 1.0),
                ("sd", f64::NAN),
            ] {
                s.push_str(&format!("fixture,{alg},{stat},"));
                for m in 0..METRICS.len() {
                    let mean = val(m, 1.0);
                    let half = 0.01 * mean.abs();
                    let x = if d.is_nan() { half } else { mean + d * half };
                    s.push(',');
                    s.push_str(&fmt(x));
                }
                s.push('\n');
            }
        }
        files.push(("summary.csv", s));
        // servers.csv: four servers; round-robin uneven busy time.
        let mut s = String::from(
            "scenario,algorithm,stat,replication,server,group,requests,share_pct,busy_s,busy_share_pct,utilization_pct,rejected,cache_hit_ratio_pct\n",
        );
        for (a, alg) in ALGS.iter().enumerate() {
            for (stat, d) in [
                ("value", 0.0),
                ("mean", 0.0),
                ("ci95_lo", -1.0),
                ("ci95_hi", 1.0),
            ] {
                for srv in 0..4 {
                    let busy = if a == 0 {
                        [40.0, 20.0, 20.0, 20.0][srv]
                    } else {
                        25.0
                    };
                    let rep = if stat == "value" { "0" } else { "" };
                    s.push_str(&format!(
                        "fixture,{alg},{stat},{rep},web-{},web,{},{:.6},{:.6},{:.6},{:.6},0,\n",
                        srv + 1,
                        1000 + srv,
                        25.0 + d * 0.5,
                        busy * 2.0,
                        busy + d,
                        busy * 1.5,
                    ));
                }
            }
        }
        files.push(("servers.csv", s));
        // latency.csv
        let mut s = String::from("scenario,algorithm,stat,replication,quantile,latency_ms\n");
        for (a, alg) in ALGS.iter().enumerate() {
            let tail = [100.0, 2.0, 4.0][a];
            let curve = |qi: Option<u32>, f: f64| {
                let x = qi.map_or(6.0, |i| f64::from(i) / 10.0);
                f * (5.0 + x * x * tail)
            };
            for (stat, f, rep) in [
                ("value", 1.0, "0"),
                ("value", 1.02, "1"),
                ("mean", 1.01, ""),
                ("ci95_lo", 0.95, ""),
                ("ci95_hi", 1.07, ""),
            ] {
                for i in 0..=50 {
                    s.push_str(&format!(
                        "fixture,{alg},{stat},{rep},{:.6},{:.6}\n",
                        q(i),
                        curve(Some(i), f)
                    ));
                }
                s.push_str(&format!(
                    "fixture,{alg},{stat},{rep},1.000000,{:.6}\n",
                    curve(None, f)
                ));
            }
        }
        files.push(("latency.csv", s));
        // timeseries.csv: 60 one-second buckets; a dip at 20-30 s.
        let mut s = String::from(
            "scenario,algorithm,replication,t_s,bucket_s,throughput_rps,errors_per_s,p99_ms\n",
        );
        for (a, alg) in ALGS.iter().enumerate() {
            for rep in 0..2 {
                for t in 0..60 {
                    let down = (20..30).contains(&t);
                    let thr = 400.0 + f64::from((t * 7 + a as u32 * 3) % 11)
                        - if down { 60.0 } else { 0.0 };
                    let err = if down && a == 0 { 50.0 } else { 0.0 };
                    let p99 = if t == 45 && a == 2 {
                        String::new()
                    } else {
                        format!(
                            "{:.6}",
                            20.0 * (a as f64 + 1.0) + if down { 200.0 } else { 0.0 }
                        )
                    };
                    s.push_str(&format!(
                        "fixture,{alg},{rep},{t}.000000,1.000000,{thr:.6},{err:.6},{p99}\n"
                    ));
                }
            }
        }
        files.push(("timeseries.csv", s));
        // failovers.csv and health.csv: one crash at 20 s, repaired at 30 s.
        let mut f = String::from(
            "scenario,algorithm,replication,failure,kind,server,node,fault_s,detected_s,detection_s,repair_s,recovered_s,recovery_s,sent,failed\n",
        );
        let mut h = String::from(
            "scenario,algorithm,replication,at_s,node,server,state,cause,false_alarm\n",
        );
        for (a, alg) in ALGS.iter().enumerate() {
            for rep in 0..2 {
                let det = 1.0 + a as f64 * 0.5 + f64::from(rep) * 0.1;
                f.push_str(&format!(
                    "fixture,{alg},{rep},0,crash,web-2,1,20.000000,{:.6},{det:.6},30.000000,{:.6},1.000000,{},{}\n",
                    20.0 + det,
                    31.0,
                    10 + a,
                    10 + a
                ));
                h.push_str(&format!(
                    "fixture,{alg},{rep},{:.6},1,web-2,down,active,false\nfixture,{alg},{rep},31.000000,1,web-2,up,active,false\n",
                    20.0 + det
                ));
            }
        }
        h.push_str("fixture,power-of-two,0,50.000000,1,web-3,down,active,true\n");
        files.push(("failovers.csv", f));
        files.push(("health.csv", h));
        // lb_failovers.csv and ha.csv: lb-1 crashes at 40 s, lb-2 takes over, lb-1 is back
        // at 50 s and takes the virtual IP back.
        let mut lf = String::from(
            "scenario,algorithm,replication,failure,kind,node,fault_s,failover_s,last_lost_s,repair_s,lost,reset\n",
        );
        let mut ha = String::from("scenario,algorithm,replication,at_s,node,event\n");
        for (a, alg) in ALGS.iter().enumerate() {
            for rep in 0..2 {
                let fo = 43.0 + a as f64 * 0.25;
                lf.push_str(&format!(
                    "fixture,{alg},{rep},1,crash,lb-1,40.000000,{fo:.6},{:.6},50.000000,{},0\n",
                    fo - 0.01,
                    1200 + a
                ));
                ha.push_str(&format!(
                    "fixture,{alg},{rep},40.000000,lb-1,crash\nfixture,{alg},{rep},{fo:.6},lb-2,master\n\
                     fixture,{alg},{rep},50.000000,lb-1,restart\nfixture,{alg},{rep},53.400000,lb-1,master\n\
                     fixture,{alg},{rep},53.400000,lb-2,backup\n"
                ));
            }
        }
        files.push(("lb_failovers.csv", lf));
        files.push(("ha.csv", ha));
        files.push((
            "changes.csv",
            "scenario,algorithm,replication,at_s,action,members,keys_remapped_pct,sessions_remapped_pct\n\
             fixture,round-robin,0,40.000000,add web-5,5,80.000000,\n"
                .to_string(),
        ));
        files
    }

    /// A sweep directory: two swept keys, two algorithms.
    pub(crate) fn sweep() -> Vec<(&'static str, String)> {
        let algs = ["round-robin", "least-connections"];
        let rates = ["300/s", "600/s", "900/s"];
        let slots = ["1", "2"];
        let mut s = String::from(
            "scenario,algorithm,point,clients.rate,servers.web.slots,stat,replication,throughput_rps,latency_p99_ms\n",
        );
        for (a, alg) in algs.iter().enumerate() {
            let mut point = 0;
            for (i, rate) in rates.iter().enumerate() {
                for (j, sl) in slots.iter().enumerate() {
                    let rho = (i as f64 + 1.0) * 0.3 / (j as f64 + 1.0);
                    let p99 = 10.0 / (1.0 - rho) * (1.0 + a as f64);
                    let thr = 300.0 * (i as f64 + 1.0);
                    for rep in 0..2 {
                        s.push_str(&format!(
                            "sweep,{alg},{point},{rate},{sl},value,{rep},{thr:.6},{:.6}\n",
                            p99 * (1.0 + 0.01 * f64::from(rep))
                        ));
                    }
                    for (stat, d) in [("mean", 0.0), ("ci95_lo", -1.0), ("ci95_hi", 1.0)] {
                        s.push_str(&format!(
                            "sweep,{alg},{point},{rate},{sl},{stat},,{:.6},{:.6}\n",
                            thr + d,
                            p99 * (1.0 + 0.05 * d)
                        ));
                    }
                    point += 1;
                }
            }
        }
        vec![
            ("sweep.csv", s),
            (
                "manifest.toml",
                "scenario = \"sweep\"\nseed = 1\nreplications = 2\n".to_string(),
            ),
        ]
    }

    /// Loads in-memory files.
    pub(crate) fn load(files: &[(&'static str, String)]) -> super::Results {
        super::Results::load(&|name| {
            Ok(files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.clone()))
        })
        .expect("fixture loads")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(files: &[(&'static str, String)]) -> Result<Results, LoadError> {
        Results::load(&|name| {
            Ok(files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.clone()))
        })
    }

    #[test]
    fn loads_every_file_of_a_compare_directory() {
        let r = fixture::load(&fixture::compare());
        assert!(r.manifest.present);
        assert_eq!(r.scenario(), "fixture");
        assert_eq!(r.manifest.parameters.len(), 2);
        assert_eq!(
            r.algorithms(),
            ["round-robin", "least-connections", "power-of-two"]
        );
        let s = r.summary.as_ref().unwrap();
        assert_eq!(s.metrics.len(), crate::metrics::METRICS.len());
        let e = s.estimate("least-connections", "latency_p99_ms").unwrap();
        assert!(e.lo < e.mean && e.mean < e.hi);
        assert!(s.estimate("nope", "latency_p99_ms").is_none());
        assert!(
            s.estimate("round-robin", "cache_hit_ratio_pct")
                .unwrap()
                .mean
                .is_nan()
        );
        assert_eq!(r.servers.as_ref().unwrap().len(), 3 * 4 * 4);
        assert_eq!(r.latency.as_ref().unwrap().len(), 3 * 5 * 52);
        let ts = r.timeseries.as_ref().unwrap();
        assert!(ts.iter().any(|b| b.p99_ms.is_nan()));
        assert_eq!(r.failovers.as_ref().unwrap().len(), 6);
        assert!(r.health.as_ref().unwrap().iter().any(|h| h.false_alarm));
        assert_eq!(r.changes.as_ref().unwrap()[0].action, "add web-5");
        let lf = r.lb_failovers.as_ref().unwrap();
        assert_eq!(lf.len(), 6);
        assert_eq!((lf[2].node.as_str(), lf[2].failover_s), ("lb-1", 43.25));
        assert_eq!(lf[2].lost, 1201.0);
        let ha = r.ha.as_ref().unwrap();
        assert_eq!(ha.len(), 30);
        assert_eq!(
            (ha[1].node.as_str(), ha[1].event.as_str()),
            ("lb-2", "master")
        );
        assert!(r.sweep.is_none());
    }

    #[test]
    fn optional_files_may_be_missing() {
        let files: Vec<_> = fixture::compare()
            .into_iter()
            .filter(|(n, _)| *n == "summary.csv")
            .collect();
        let r = load_with(&files).unwrap();
        assert!(!r.manifest.present);
        assert!(r.servers.is_none() && r.latency.is_none() && r.timeseries.is_none());
        assert!(r.failovers.is_none() && r.health.is_none() && r.changes.is_none());
        assert!(r.lb_failovers.is_none() && r.ha.is_none());
        assert_eq!(r.scenario(), "fixture");
    }

    #[test]
    fn a_directory_without_summary_or_sweep_is_an_error() {
        let e = load_with(&[]).unwrap_err();
        assert_eq!(e.file, "summary.csv");
        assert!(e.to_string().contains("not an lblab results directory"));
    }

    #[test]
    fn sweep_keys_points_and_estimates() {
        let r = fixture::load(&fixture::sweep());
        let s = r.sweep.as_ref().unwrap();
        assert_eq!(s.keys, ["clients.rate", "servers.web.slots"]);
        assert_eq!(s.metrics, ["throughput_rps", "latency_p99_ms"]);
        let pts = s.points();
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[5].1, ["900/s", "2"]);
        let e = s
            .estimate("least-connections", 0, "throughput_rps")
            .unwrap();
        assert_eq!((e.lo, e.mean, e.hi), (299.0, 300.0, 301.0));
    }

    #[test]
    fn a_bad_number_names_file_line_and_column() {
        let mut files = fixture::compare();
        let s = &mut files
            .iter_mut()
            .find(|(n, _)| *n == "servers.csv")
            .unwrap()
            .1;
        let mut lines: Vec<String> = s.lines().map(String::from).collect();
        lines[3] = lines[3].replacen(",web,", ",web,abc", 1);
        *s = lines.join("\n");
        let e = load_with(&files).unwrap_err();
        assert_eq!(e.file, "servers.csv");
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("requests"), "{e}");
        assert!(e.to_string().starts_with("servers.csv:4: "), "{e}");
    }

    #[test]
    fn a_short_row_or_missing_column_is_located() {
        let mut files = fixture::compare();
        files
            .iter_mut()
            .find(|(n, _)| *n == "latency.csv")
            .unwrap()
            .1
            .push_str("fixture,x,value\n");
        let e = load_with(&files).unwrap_err();
        assert_eq!(e.file, "latency.csv");
        assert_eq!(e.line, Some(3 * 5 * 52 + 2));
        assert!(e.message.contains("fields"), "{e}");

        let files = vec![
            (
                "summary.csv",
                "scenario,algorithm,stat,replication\n".into(),
            ),
            ("health.csv", "scenario,algorithm\n".into()),
        ];
        let e = load_with(&files).unwrap_err();
        assert_eq!(e.to_string(), "health.csv:1: missing column `replication`");
    }

    #[test]
    fn a_broken_manifest_is_located() {
        let files = vec![
            (
                "summary.csv",
                "scenario,algorithm,stat,replication\n".into(),
            ),
            ("manifest.toml", "seed = 1\nscenario = \n".into()),
        ];
        let e = load_with(&files).unwrap_err();
        assert_eq!(e.file, "manifest.toml");
        assert_eq!(e.line, Some(2));
    }
}
