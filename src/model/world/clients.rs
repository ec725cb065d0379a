//! The client population: arrivals (open loop) and users (closed loop), request classes and keys.

use super::Ev;
use super::NO_KEY;
use super::NONE;
use super::World;
use crate::engine::SimRng;
use crate::engine::SimTime;
use crate::model::config::Load;
use crate::model::config::RateSchedule;
use crate::model::config::WorldConfig;
use crate::model::population::Population;
use crate::model::population::ZipfIndex;
use rand_distr::Distribution;
use rand_distr::Exp1;

pub(super) const NO_USER: u32 = u32::MAX;

/// How a class draws its request keys.
pub(super) enum KeyDraw {
    /// `keys = { count, zipf }`: a Zipf-skewed draw.
    Zipf(ZipfIndex),
    /// `keys = { by = "client" }`: the client is the key.
    Client,
}

/// Piecewise Poisson arrival process, sampled exactly by inverting the integrated rate.
pub(super) struct Arrivals {
    pub(super) t_ns: f64,
    pub(super) seg: usize,
    /// Mean gap for a single constant segment (the fast path).
    pub(super) const_gap_ns: Option<f64>,
}

impl Arrivals {
    pub(super) fn new(s: &RateSchedule) -> Arrivals {
        let const_gap_ns = match s.points.as_slice() {
            [p] if p.rate_per_s > 0.0 => Some(1e9 / p.rate_per_s),
            _ => None,
        };
        Arrivals {
            t_ns: 0.0,
            seg: 0,
            const_gap_ns,
        }
    }

    /// The next arrival time in nanoseconds, or `None` if the rate stays zero forever.
    pub(super) fn next(&mut self, s: &RateSchedule, rng: &mut SimRng) -> Option<f64> {
        let e: f64 = Exp1.sample(rng);
        if let Some(gap) = self.const_gap_ns {
            self.t_ns += e * gap;
            return Some(self.t_ns);
        }
        let mut e = e;
        loop {
            let p = s.points[self.seg];
            let next = s.points.get(self.seg + 1);
            let end = next.map_or(f64::INFINITY, |n| n.at.as_nanos() as f64);
            let r_now = s.rate_at_in(self.seg, SimTime::from_nanos_f64(self.t_ns)) * 1e-9;
            match next {
                Some(n) if p.ramp => {
                    let r_end = n.rate_per_s * 1e-9;
                    let len = end - self.t_ns;
                    let mass = 0.5 * (r_now + r_end) * len;
                    if mass > e {
                        let k = (r_end - r_now) / len;
                        let disc = (r_now * r_now + 2.0 * k * e).max(0.0);
                        self.t_ns += 2.0 * e / (r_now + disc.sqrt());
                        return Some(self.t_ns);
                    }
                    e -= mass;
                }
                _ => {
                    if r_now > 0.0 {
                        let dt = e / r_now;
                        if self.t_ns + dt < end {
                            self.t_ns += dt;
                            return Some(self.t_ns);
                        }
                        e -= r_now * (end - self.t_ns);
                    } else if end.is_infinite() {
                        return None;
                    }
                }
            }
            self.t_ns = end;
            self.seg += 1;
        }
    }
}

/// A class's next keys, drawn ahead: the stream's order is kept, so a request gets the
/// key it would have drawn itself.
#[derive(Copy, Clone, Debug)]
pub(super) struct KeysAhead {
    /// The edge tier's route (its only node's, the class's pool) that hears of each key.
    route: u32,
    next: [u64; 2],
}

/// The client population and what it asks for.
pub(super) struct Clients {
    pub(super) population: Population,
    pub(super) arrivals: Option<Arrivals>,
    pub(super) class_cum: Vec<f64>,
    /// Per class: how its request keys are drawn, and its first key number.
    pub(super) class_keys: Vec<Option<(KeyDraw, u64)>>,
    pub(super) rng_arrivals: SimRng,
    pub(super) rng_class: SimRng,
    pub(super) rng_service: Vec<SimRng>,
    pub(super) rng_hit: Vec<SimRng>,
    pub(super) rng_keys: Vec<SimRng>,
    /// Per class: its next two keys, drawn ahead of its requests, and the edge route whose
    /// balancer is told of each key as it is drawn (`None`: keys are drawn as requests
    /// come; see [`World::arm_key_hints`]).
    pub(super) keys_ahead: Vec<Option<KeysAhead>>,
    /// Per (class, service): the work of a call to that service (`class * n_services + s`).
    pub(super) rng_hop: Vec<SimRng>,
    pub(super) rng_think: SimRng,
    pub(super) rng_who: SimRng,
    /// Per client: time of its last request (`SimTime::MAX`: never).
    pub(super) last_seen: Vec<SimTime>,
    /// Per (client, pool): the server named by the client's cookie, or `NONE`.
    pub(super) cookies: Vec<u32>,
    /// Per (client, pool): the server holding the client's session state, or `NONE`.
    pub(super) session_server: Vec<u32>,
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Draws keys ahead for every class whose pool's balancer takes key hints
    /// ([`Balancer::hint_key`](crate::balancer::Balancer::hint_key)), so that it can load
    /// what a pick will read two picks early: a key-hashing balancer over a large pool (a
    /// 1.3 MB ketama ring at 1,024 servers) would otherwise wait for memory on each pick.
    /// Only with one load-balancer node: with more, a request's node is not known ahead.
    /// Called once, when the world is built and its routes are.
    pub(super) fn arm_key_hints(&mut self) {
        let edge = &mut self.tiers[0];
        if edge.nodes != 1 {
            return;
        }
        for (class, keys) in self.clients.class_keys.iter().enumerate() {
            let Some((KeyDraw::Zipf(z), base)) = keys else {
                continue;
            };
            let route = edge.class_route[class];
            let balancer = &mut edge.routes[route].balancer;
            if !balancer.wants_key_hints() {
                continue;
            }
            let rng = &mut self.clients.rng_keys[class];
            let next = [base + z.sample(rng), base + z.sample(rng)];
            next.iter().for_each(|&k| balancer.hint_key(k));
            self.clients.keys_ahead[class] = Some(KeysAhead {
                route: route as u32,
                next,
            });
        }
    }

    /// The key of a new request of `class` (`NO_KEY` if the class has none). With keys
    /// drawn ahead it is the older one, and the new draw is told to the balancer.
    #[inline]
    pub(super) fn draw_key(&mut self, class: usize, client: u32) -> u64 {
        let c = &mut self.clients;
        match &c.class_keys[class] {
            Some((KeyDraw::Client, base)) => base + u64::from(client),
            Some((KeyDraw::Zipf(z), base)) => {
                let drawn = base + z.sample(&mut c.rng_keys[class]);
                match &mut c.keys_ahead[class] {
                    None => drawn,
                    Some(ahead) => {
                        let key = ahead.next[0];
                        ahead.next = [ahead.next[1], drawn];
                        let route = ahead.route as usize;
                        self.tiers[0].routes[route].balancer.hint_key(drawn);
                        key
                    }
                }
            }
            None => NO_KEY,
        }
    }

    pub(super) fn schedule_arrival(&mut self) {
        let Load::Open(s) = &self.cfg.clients.load else {
            return;
        };
        let arrivals = self
            .clients
            .arrivals
            .as_mut()
            .expect("open loop has an arrival process");
        if let Some(t_ns) = arrivals.next(s, &mut self.clients.rng_arrivals) {
            // One arrival is pending at a time: it takes the queue's slot, not the heap.
            self.q.push_slot(SimTime::from_nanos_f64(t_ns), Ev::Arrival);
        }
    }

    /// A closed-loop user thinks, then sends its next request.
    pub(super) fn user_next(&mut self, user: u32) {
        if user == NO_USER {
            return;
        }
        if let Load::Closed { think, .. } = &self.cfg.clients.load {
            let t = SimTime::from_nanos_f64(think.sample(&mut self.clients.rng_think));
            self.q.push(self.now + t, Ev::UserReady { user });
        }
    }
}

impl Clients {
    pub(super) fn new(
        cfg: &WorldConfig,
        n_pools: usize,
        stream: &dyn Fn(&str) -> SimRng,
    ) -> Clients {
        let mut acc = 0.0;
        let mut class_cum: Vec<f64> = cfg
            .classes
            .iter()
            .map(|c| {
                acc += c.share;
                acc
            })
            .collect();
        if let Some(last) = class_cum.last_mut() {
            *last = f64::INFINITY; // rounding never leaves a draw without a class
        }
        let mut key_base = 0u64;
        let class_keys = cfg
            .classes
            .iter()
            .map(|c| {
                c.keys.map(|k| {
                    let base = key_base;
                    key_base += k.span();
                    let draw = if k.by_client {
                        KeyDraw::Client
                    } else {
                        KeyDraw::Zipf(ZipfIndex::new(k.count, k.zipf))
                    };
                    (draw, base)
                })
            })
            .collect();
        let per_class = |prefix: &str| -> Vec<SimRng> {
            cfg.classes
                .iter()
                .map(|c| stream(&format!("{prefix}/{}", c.name)))
                .collect()
        };
        let n_clients = cfg.population.clients as usize;
        Clients {
            population: Population::new(&cfg.population, &mut stream("population")),
            arrivals: match &cfg.clients.load {
                Load::Open(s) => Some(Arrivals::new(s)),
                Load::Closed { .. } => None,
            },
            class_cum,
            class_keys,
            rng_arrivals: stream("arrivals"),
            rng_class: stream("classes"),
            rng_service: per_class("service"),
            rng_hit: per_class("hit"),
            rng_keys: per_class("keys"),
            keys_ahead: vec![None; cfg.classes.len()],
            rng_hop: cfg
                .classes
                .iter()
                .flat_map(|c| {
                    cfg.services
                        .iter()
                        .map(move |s| stream(&format!("service/{}/{}", c.name, s.name)))
                })
                .collect(),
            rng_think: stream("think"),
            rng_who: stream("clients"),
            last_seen: vec![SimTime::MAX; n_clients],
            cookies: vec![NONE; n_clients * n_pools],
            session_server: vec![NONE; n_clients * n_pools],
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::SeedTree;
    use crate::model::World;
    use std::path::Path;

    /// Keys drawn ahead are the keys the requests would have drawn themselves: a run whose
    /// ketama balancer is told keys ahead equals the same run drawing each key as its
    /// request comes. Two classes with keys of their own, interleaved, and a third
    /// without keys; ketama spreads keys over the servers, so a shifted or reordered key
    /// stream would move requests between servers.
    #[test]
    fn keys_drawn_ahead_are_the_keys_drawn_in_place() {
        let text = r#"
[scenario]
name = "keys-ahead"
seed = 11
duration = "60s"
replications = 1
[clients]
rate = "400/s"
[[classes]]
name = "a"
share = 0.5
service = { dist = "exponential", mean = "10ms" }
keys = { count = 5000, zipf = 0.8 }
[[classes]]
name = "b"
share = 0.3
service = { dist = "exponential", mean = "10ms" }
keys = { count = 300 }
[[classes]]
name = "c"
share = 0.2
service = { dist = "exponential", mean = "10ms" }
[[servers]]
count = 12
[balancer]
algorithm = "ketama"
"#;
        let no_files = |_: &Path| Err(std::io::Error::other("no files here"));
        let s = crate::scenario::parse("keys-ahead.toml", text, Path::new("."), &[], &no_files)
            .unwrap_or_else(|e| panic!("{e}"));
        let seeds = SeedTree::new(s.seed);
        let ahead = World::new(&s.world, &seeds, 0);
        let armed = ahead.clients.keys_ahead.iter().map(Option::is_some);
        assert_eq!(armed.collect::<Vec<_>>(), [true, true, false]);
        let ahead = ahead.run().expect("runs");
        let in_place = World::without_key_hints(&s.world, &seeds, 0)
            .run()
            .expect("runs");
        let requests = |r: &crate::metrics::RepResult| -> Vec<u64> {
            r.servers.iter().map(|s| s.requests).collect()
        };
        assert!(requests(&ahead).iter().all(|&n| n > 500));
        assert_eq!(requests(&ahead), requests(&in_place));
        // Every other measurement too (compared as text: some are NaN, unequal to itself).
        let same = format!("{ahead:?}") == format!("{in_place:?}");
        assert!(same, "the runs differ beyond their servers' rows");
    }
}
