//! The client population: arrivals (open loop) and users (closed loop), request classes and keys.

use super::Ev;
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
