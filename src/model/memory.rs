//! What a scenario will need in memory, estimated from its keys before anything is
//! allocated, so that an absurd size is refused with a message instead of aborting
//! ("memory allocation of N bytes failed").
//!
//! Each estimate covers one structure that grows with a key: the fleet's per-server
//! state, every node's view of every server, a consistent-hash ring
//! (Σ weight × `points_per_weight` points per balancer), a Maglev table (`table_size`
//! entries per balancer), the rows of failures drawn again and again, the clients'
//! per-client state. They are deliberately generous (a factor of about two on the
//! structures' sizes) and ignore what is small.

use crate::engine::SimTime;
use crate::model::{FailureTiming, Load, WorldConfig};

/// One structure's estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Need {
    /// What it is.
    pub what: String,
    /// The keys that size it.
    pub keys: String,
    /// Bytes.
    pub bytes: f64,
}

/// Bytes of per-server state (the server, its queue's first block, statistics, series).
const PER_SERVER: f64 = 1024.0;
/// Bytes per slot of a server's room for requests in service (kept up to 1,024 slots).
const PER_SLOT_IN_SERVICE: f64 = 16.0;
/// Bytes per node per server (in-flight counts, pool entry, health and outlier state).
const PER_NODE_SERVER: f64 = 256.0;
/// Bytes per ring point (hash and owner, and the copy sorted while building).
const PER_POINT: f64 = 16.0;
/// Bytes per Maglev entry (the table and its build's scratch).
const PER_SLOT: f64 = 8.0;
/// Bytes per failure window recorded.
const PER_FAILURE: f64 = 128.0;
/// Bytes per client (cookies, session state, addresses, last seen).
const PER_CLIENT: f64 = 64.0;
/// Bytes per row of `servers.csv` while the results are written and read back for the
/// charts (its text, the parsed row and the aggregate it came from; measured: about 660
/// for 100,000 servers).
const PER_SERVER_ROW: f64 = 1024.0;
/// Bytes per cell (server × time bucket) of the per-server time series a replication keeps
/// (three 4-byte counters, handed to the results as they are: the rows are made as
/// `server_timeseries.csv` is written).
const PER_SERIES_CELL: f64 = 16.0;
/// A replication keeps the per-server time series only up to this many cells.
const MAX_SERIES_CELLS: f64 = 2_000_000.0;
/// Bytes per row of `server_timeseries.csv` (its text, and the row read back for the
/// charts); the file holds at most [`MAX_SERVER_SERIES_ROWS`](crate::report::csv_out::MAX_SERVER_SERIES_ROWS).
const PER_SERIES_ROW: f64 = 400.0;

/// Bytes per cached key (the key, its links and its index slots).
const PER_CACHED_KEY: f64 = 40.0;

/// The results one command writes: how many variants, each with how many replications.
#[derive(Copy, Clone, Debug)]
pub struct Outputs {
    /// Variants compared (1 for `lblab run`).
    pub variants: u32,
    /// Replications per variant.
    pub replications: u32,
}

/// The estimates of `w` run as `out` says, largest first.
pub fn estimate(w: &WorldConfig, out: Outputs) -> Vec<Need> {
    let n = w.n_servers() as f64;
    let nodes = f64::from(w.lb.nodes.max(1));
    let pools = 1.0 + w.classes.iter().filter(|c| c.pool.is_some()).count() as f64;
    // Each server also keeps room for the requests in service, up to 1,024 slots.
    let fleet: f64 = w
        .groups
        .iter()
        .map(|g| {
            f64::from(g.count + g.spare)
                * (PER_SERVER + f64::from(g.slots.min(1024)) * PER_SLOT_IN_SERVICE)
        })
        .sum();
    let mut needs = vec![
        Need {
            what: "per-server state".into(),
            keys: "servers.*.count × servers.*.slots".into(),
            bytes: fleet,
        },
        Need {
            what: "each load balancer node's view of each server".into(),
            keys: "lb.nodes × servers.*.count".into(),
            bytes: nodes * n * PER_NODE_SERVER * pools,
        },
        Need {
            what: "per-client state".into(),
            keys: "clients.population.clients".into(),
            bytes: f64::from(w.population.clients) * PER_CLIENT * pools,
        },
    ];
    let balancers = nodes * pools;
    let params = w.algorithm.params();
    if params.has("points_per_weight") {
        let weights: f64 = w
            .groups
            .iter()
            .map(|g| f64::from(g.count + g.spare) * f64::from(g.weight))
            .sum();
        let points = weights * params.int("points_per_weight") as f64;
        needs.push(Need {
            what: format!(
                "{} hash ring ({points:.0} points per balancer)",
                w.algorithm.name()
            ),
            keys: "servers.*.weight × balancer.points_per_weight".into(),
            bytes: balancers * points * PER_POINT,
        });
    }
    if params.has("table_size") {
        let slots = params.int("table_size") as f64;
        needs.push(Need {
            what: format!("Maglev table ({slots:.0} entries per balancer)"),
            keys: "balancer.table_size".into(),
            bytes: balancers * slots * PER_SLOT,
        });
    }
    for (i, f) in w.failures.iter().enumerate() {
        if let FailureTiming::Random { mtbf, mttr } = &f.timing {
            let cycle = (mtbf.mean() + mttr.mean()).max(1.0);
            let per_target = w.duration.as_nanos() as f64 / cycle;
            let targets = (f.servers.len() + f.lb_nodes.len()) as f64;
            needs.push(Need {
                what: format!("failures[{i}]'s windows ({:.0} per target)", per_target),
                keys: format!("failures[{i}].mtbf + failures[{i}].mttr over scenario.duration"),
                bytes: targets * per_target * PER_FAILURE,
            });
        }
    }
    // Caches fill lazily, up to their capacity or the distinct keys there are.
    let distinct: f64 = w
        .classes
        .iter()
        .filter_map(|c| c.keys.as_ref())
        .map(|k| {
            if k.by_client {
                f64::from(w.population.clients.max(1))
            } else {
                k.count as f64
            }
        })
        .sum();
    let cached: f64 = w
        .groups
        .iter()
        .filter_map(|g| {
            g.cache
                .map(|c| f64::from(g.count + g.spare) * f64::from(c).min(distinct))
        })
        .sum();
    // Each request puts at most one key in one cache (twice the expected arrivals of an
    // open load, for retries and chance).
    let cached = match &w.clients.load {
        Load::Open(rate) => cached.min(2.0 * rate.expected_arrivals(SimTime::ZERO, w.duration)),
        Load::Closed { .. } => cached,
    };
    if cached > 0.0 {
        needs.push(Need {
            what: "server caches (filled up to their size or the distinct keys)".into(),
            keys: "servers.*.cache × servers.*.count, at most classes.*.keys.count".into(),
            bytes: cached * PER_CACHED_KEY,
        });
    }
    // The results: servers.csv's rows (each replication's and four aggregated ones per
    // server and variant), and the per-server time series (capped per replication).
    let (variants, reps) = (
        f64::from(out.variants.max(1)),
        f64::from(out.replications.max(1)),
    );
    needs.push(Need {
        what: "per-server results (servers.csv and its charts)".into(),
        keys: "servers.*.count × variants × scenario.replications".into(),
        bytes: n * variants * (reps + 4.0) * PER_SERVER_ROW,
    });
    let buckets = crate::model::world::time_buckets(w) as f64;
    let cells = if n * buckets <= MAX_SERIES_CELLS {
        n * buckets
    } else {
        0.0
    };
    let rows = (cells * variants * reps)
        .min((cells * variants).max(crate::report::csv_out::MAX_SERVER_SERIES_ROWS as f64));
    needs.push(Need {
        what: "per-server time series".into(),
        keys: "servers.*.count × scenario.duration × variants × scenario.replications".into(),
        bytes: cells * variants * reps * PER_SERIES_CELL + rows * PER_SERIES_ROW,
    });
    needs.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));
    needs
}

/// `bytes` for people: `1.3 TB`, `512 MB`.
pub fn show_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut x = bytes;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < UNITS.len() {
        x /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}
