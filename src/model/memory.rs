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

use crate::model::{FailureTiming, WorldConfig};

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

/// The estimates of `w`, largest first.
pub fn estimate(w: &WorldConfig) -> Vec<Need> {
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
