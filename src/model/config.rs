//! The validated description of a world: what `scenario` produces and [`World`] consumes.
//!
//! These are plain typed values; every range check has already happened in
//! `scenario::spec`, so the world can trust them (and `debug_assert!`s where cheap).
//!
//! [`World`]: super::World

use crate::balancer::AlgorithmSpec;
use crate::engine::SimTime;

use super::dist::Dist;

/// Everything needed to run one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldConfig {
    /// Simulated time at which the run stops.
    pub duration: SimTime,
    /// Requests issued before this time are excluded from statistics.
    pub warmup: SimTime,
    /// Hard cap on processed events; reaching it fails the run.
    pub max_events: u64,
    /// Who sends requests and how.
    pub clients: ClientsConfig,
    /// The request mix (shares sum to 1).
    pub classes: Vec<ClassConfig>,
    /// Server groups, in scenario order; servers are numbered group by group.
    pub groups: Vec<ServerGroupConfig>,
    /// The balancing algorithm of the load balancer.
    pub algorithm: AlgorithmSpec,
}

/// The client side of the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientsConfig {
    /// Open or closed loop.
    pub load: Load,
    /// A client gives up on a request after this long (an error); `None` waits forever.
    pub timeout: Option<SimTime>,
}

/// How requests are generated.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Poisson arrivals whose rate follows a schedule (a constant rate is one point).
    Open(RateSchedule),
    /// `users` users, each waiting for its response and then thinking before the next.
    Closed {
        /// Number of users.
        users: u32,
        /// Think time between a response (or error) and the next request.
        think: Dist,
    },
}

/// A piecewise rate schedule: from each point's time the rate is the point's rate, held
/// constant (a step) or changing linearly to the next point's rate (a ramp).
#[derive(Clone, Debug, PartialEq)]
pub struct RateSchedule {
    /// Points in increasing time; the first is at time zero.
    pub points: Vec<RatePoint>,
}

/// One point of a [`RateSchedule`].
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct RatePoint {
    /// When this segment starts.
    pub at: SimTime,
    /// Arrival rate at `at`, requests per second.
    pub rate_per_s: f64,
    /// If true the rate moves linearly to the next point's rate; otherwise it holds.
    pub ramp: bool,
}

impl RateSchedule {
    /// A constant rate from time zero.
    pub fn constant(rate_per_s: f64) -> RateSchedule {
        RateSchedule {
            points: vec![RatePoint {
                at: SimTime::ZERO,
                rate_per_s,
                ramp: false,
            }],
        }
    }

    /// Expected number of arrivals in `[from, to)`.
    pub fn expected_arrivals(&self, from: SimTime, to: SimTime) -> f64 {
        let mut total = 0.0;
        for (i, p) in self.points.iter().enumerate() {
            let end = self.points.get(i + 1).map_or(SimTime::MAX, |n| n.at);
            let (a, b) = (p.at.max(from), end.min(to));
            if a >= b {
                continue;
            }
            let r_at = |t: SimTime| self.rate_at_in(i, t);
            total += 0.5 * (r_at(a) + r_at(b)) * (b - a).as_secs_f64();
        }
        total
    }

    /// The rate at time `t` within segment `i`.
    pub(crate) fn rate_at_in(&self, i: usize, t: SimTime) -> f64 {
        let p = self.points[i];
        match self.points.get(i + 1) {
            Some(n) if p.ramp => {
                let f = (t - p.at).as_secs_f64() / (n.at - p.at).as_secs_f64();
                p.rate_per_s + (n.rate_per_s - p.rate_per_s) * f.clamp(0.0, 1.0)
            }
            _ => p.rate_per_s,
        }
    }
}

/// A class of requests.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassConfig {
    /// Name (unique).
    pub name: String,
    /// Probability that a request is of this class.
    pub share: f64,
    /// Work at speed 1.0; a server of speed s takes `draw / s`.
    pub service: Dist,
    /// The server group that serves this class (index into `groups`), or `None` for all
    /// servers. Each distinct pool gets its own balancer instance.
    pub pool: Option<usize>,
}

/// A group of identical servers.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerGroupConfig {
    /// Group name; its servers are `name-1`, `name-2`, ...
    pub name: String,
    /// Number of servers.
    pub count: u32,
    /// Speed factor: service time is the class draw divided by it.
    pub speed: f64,
    /// Concurrent workers per server.
    pub slots: u32,
    /// Waiting-room capacity per server; a request arriving to a full queue is rejected.
    pub queue: u32,
    /// Balancer weight.
    pub weight: u32,
    /// One-way delay between the load balancer and each server, drawn per message.
    pub network_delay: Option<Dist>,
}

impl WorldConfig {
    /// Total number of servers.
    pub fn n_servers(&self) -> usize {
        self.groups.iter().map(|g| g.count as usize).sum()
    }

    /// `(server name, group index)` for every server in id order.
    pub fn server_names(&self) -> Vec<(String, usize)> {
        let mut out = Vec::with_capacity(self.n_servers());
        for (gi, g) in self.groups.iter().enumerate() {
            for i in 1..=g.count {
                out.push((format!("{}-{}", g.name, i), gi));
            }
        }
        out
    }

    /// The id range `[lo, hi)` of the servers of group `g`.
    pub fn group_range(&self, g: usize) -> (usize, usize) {
        let lo: usize = self.groups[..g].iter().map(|g| g.count as usize).sum();
        (lo, lo + self.groups[g].count as usize)
    }

    /// Mean work per request at speed 1, in nanoseconds.
    pub fn mean_service_ns(&self) -> f64 {
        self.classes
            .iter()
            .map(|c| c.share * c.service.mean())
            .sum()
    }

    /// Total service capacity in requests per second (Σ slots·speed / mean work).
    pub fn capacity_per_s(&self) -> f64 {
        let work = self.mean_service_ns() * 1e-9;
        let speed: f64 = self
            .groups
            .iter()
            .map(|g| f64::from(g.count) * f64::from(g.slots) * g.speed)
            .sum();
        if work > 0.0 {
            speed / work
        } else {
            f64::INFINITY
        }
    }
}
