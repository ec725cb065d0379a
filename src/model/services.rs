//! Services and the calls between them: the validated description of a multi-tier world.
//!
//! A scenario without `[[services]]` is one service: every server group behind the
//! load balancer tier of `[lb]`, every request ending at the server it reaches. With
//! `[[services]]`, each service has its server groups, its balancer, its health checks and
//! (when another service calls it) an internal load balancer tier in front of it. Clients
//! reach a class's *entry* service through the edge tier (`[lb]`, with its HA topology);
//! the instance that serves a request does its local work, then makes the calls of the
//! class's plan for that service (in sequence, or in parallel waiting for the first k),
//! each again through the callee's tier.

use crate::balancer::AlgorithmSpec;
use crate::engine::SimTime;

use super::config::{ClassConfig, HealthConfig, LbConfig, Placement, WorldConfig};
use super::dist::Dist;

/// One service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// Name (unique), used by calls, classes and every per-service output row.
    pub name: String,
    /// Its server groups (indices into `WorldConfig::groups`); every group belongs to
    /// exactly one service.
    pub groups: Vec<usize>,
    /// Its balancer (the scenario's `[balancer]` unless it names one): its internal tier's,
    /// and the edge's for this service when the service names its own.
    pub algorithm: AlgorithmSpec,
    /// The service names its own `balancer`.
    pub own_algorithm: bool,
    /// Its internal load balancer tier: nodes, layer, upstream timeout and retries
    /// (`topology` is always single and there is no CPU model: those belong to `[lb]`).
    pub lb: LbConfig,
    /// Health checking by its internal tier, and its servers' liveness probe (`[health]`
    /// unless it has its own; taken from `[health]` without `depends`, whose handler is
    /// the code of the services `[health]` checks).
    pub health: HealthConfig,
    /// The service has its own `health` table.
    pub own_health: bool,
    /// `traffic_policy = "local"`: a call goes only to the service's servers on the
    /// caller's own host (Kubernetes' `externalTrafficPolicy`/`internalTrafficPolicy:
    /// Local`); `false` ("cluster"): to any of them.
    pub local: bool,
    /// Local work of a call to it, when the class's plan does not say (`None`: the class
    /// must give it).
    pub work: Option<Dist>,
}

/// What a request of one class does at one service: local work, then calls.
#[derive(Clone, Debug, PartialEq)]
pub struct Hop {
    /// Local work at speed 1 (`None` for the entry hop: the class's `service`).
    pub work: Option<Dist>,
    /// Calls made after the local work.
    pub calls: Vec<CallSpec>,
    /// Calls go out together (fan-out) instead of one after another.
    pub parallel: bool,
    /// With `parallel`: the hop goes on once this many calls succeeded (the rest are
    /// abandoned) and fails once that is no longer possible. Always `calls.len()` in
    /// sequence.
    pub wait_for: u32,
}

impl Hop {
    /// A hop that only does local work.
    pub fn local(work: Option<Dist>) -> Hop {
        Hop {
            work,
            calls: Vec::new(),
            parallel: false,
            wait_for: 0,
        }
    }
}

/// One call from a hop to another service.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSpec {
    /// The service called (index into `WorldConfig::services`).
    pub to: usize,
    /// The caller gives up on a try after this long (`None`: it waits as long as it takes).
    pub timeout: Option<SimTime>,
    /// The caller's own retries of a failed or timed-out call (each a new request through
    /// the callee's tier, which may retry too).
    pub retries: u32,
    /// Which failures the caller retries: `[refused, timeout, 5xx]`. `refused`: connection
    /// refused or the tier's node lost; `timeout`: the call's own timeout or the tier's
    /// upstream timeout (504); `5xx`: a server error, a full queue or no backend (503).
    /// All three by default.
    pub retry_on: [bool; 3],
    /// Made only when the call before it (in sequence) missed: it was answered by a server
    /// whose cache did not hold the request's key, or it failed and was not `required`
    /// (cache-aside: a read goes to the database when the cache misses).
    pub when_miss: bool,
    /// Its failure fails the hop (`true`, the default); otherwise the hop goes on, as
    /// after a miss.
    pub required: bool,
}

/// Whether some class's hop calls service `s` (then it has an internal tier).
pub fn is_called(classes: &[ClassConfig], s: usize) -> bool {
    classes
        .iter()
        .any(|c| c.hops.iter().any(|h| h.calls.iter().any(|k| k.to == s)))
}

/// The call graph's and the placement's views of a world.
impl WorldConfig {
    /// Whether some class's hop calls service `s` (then it has an internal tier).
    pub fn is_called(&self, s: usize) -> bool {
        is_called(&self.classes, s)
    }

    /// The service named `name`.
    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    /// The services a deep check calls (its `depends`, resolved; names were checked when
    /// the scenario was read).
    pub fn deep(&self, depends: &[String]) -> Vec<usize> {
        depends
            .iter()
            .filter_map(|d| self.service_index(d))
            .collect()
    }

    /// Each allocated server's host (a global server id: itself unless its group runs
    /// `on` another group's servers).
    pub fn hosts(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.n_allocated());
        for (g, grp) in self.groups.iter().enumerate() {
            let lo = self.group_range(g).0 as u32;
            for i in 0..grp.count + grp.spare {
                out.push(match &grp.on {
                    None => lo + i,
                    Some(Placement::Spread(h)) => {
                        let n = self.groups[*h].count.max(1);
                        self.group_range(*h).0 as u32 + i % n
                    }
                    Some(Placement::List(l)) if !l.is_empty() => {
                        let (h, k) = l[i as usize % l.len()];
                        self.group_range(h).0 as u32 + k
                    }
                    Some(Placement::List(_)) => lo + i,
                });
            }
        }
        out
    }

    /// The service that group `g` serves (0 without `[[services]]`: the one service).
    pub fn service_of_group(&self, g: usize) -> usize {
        self.services
            .iter()
            .position(|s| s.groups.contains(&g))
            .unwrap_or(0)
    }

    /// With `[[services]]`: each service's offered work as a share of its workers'
    /// capacity at `rate` client requests per second — the work of every request that
    /// reaches it (calls counted once each, no retries), over Σ slots·speed of its
    /// servers. Workers held while a hop waits for its calls are not counted, so a
    /// service's real utilization can be higher.
    pub fn service_loads(&self, rate: f64) -> Vec<(String, f64)> {
        let n = self.services.len();
        let mut work_s = vec![0.0; n];
        for c in &self.classes {
            // Requests per client request reaching each service, walking the call plan
            // (acyclic: checked when the scenario was read).
            let mut visits = vec![0.0; n];
            let mut stack = vec![(c.entry, 1.0)];
            while let Some((s, v)) = stack.pop() {
                visits[s] += v;
                if let Some(h) = c.hops.get(s) {
                    for call in &h.calls {
                        stack.push((call.to, v));
                    }
                }
            }
            for s in 0..n {
                let mean = match c.hops.get(s).and_then(|h| h.work.as_ref()) {
                    Some(w) => w.mean(),
                    None if s == c.entry => c.service.mean(),
                    None => 0.0,
                };
                work_s[s] += c.share * visits[s] * mean * 1e-9;
            }
        }
        self.services
            .iter()
            .enumerate()
            .map(|(s, svc)| {
                let cap: f64 = svc
                    .groups
                    .iter()
                    .map(|&g| {
                        let g = &self.groups[g];
                        f64::from(g.count) * f64::from(g.slots) * g.speed
                    })
                    .sum();
                (svc.name.clone(), rate * work_s[s] / cap)
            })
            .collect()
    }
}
