//! Who the clients are: a population of clients with stable ids and IPv4 addresses, and
//! which of them sends each request.
//!
//! Address models (what ip-hash and source hashing key on):
//! * `unique`: one address per client;
//! * `nat`: clients share `public_ips` addresses with a Zipf-skewed number of clients per
//!   address (a few carrier NATs carry most users);
//! * `subnets`: clients cluster in `subnets` /24 networks, Zipf-skewed (nginx `ip_hash`
//!   keys on the /24, so this is what it sees);
//! * `mobile`: each client's address changes periodically (every `change_every`, with a
//!   random phase per client).
//!
//! Request-rate skew: with `activity_zipf = s > 0`, client `k` (0-based) sends a share of
//! requests proportional to `1/(k+1)^s` (heavy users); `0` is uniform.

use rand_distr::{Distribution, Zipf};

use crate::engine::rng::splitmix64;
use crate::engine::{SimRng, SimTime};

use super::config::{IpModel, PopulationConfig};

/// A bijective scramble of 32-bit indices into addresses that look random and spread over
/// the whole space (so distinct indices give distinct addresses).
#[inline]
fn scramble(idx: u32, salt: u32) -> u32 {
    idx.wrapping_mul(0x9E37_79B1)
        .wrapping_add(salt)
        .rotate_left(13)
        .wrapping_mul(0x85EB_CA77)
        ^ salt
}

/// Draws from Zipf over `{0, …, n−1}` with exponent `s` (uniform when `s == 0`).
pub struct ZipfIndex {
    n: u64,
    zipf: Option<Zipf<f64>>,
}

impl ZipfIndex {
    /// `n ≥ 1` items, exponent `s ≥ 0`.
    pub fn new(n: u64, s: f64) -> ZipfIndex {
        let zipf = (s > 0.0 && n > 1).then(|| Zipf::new(n as f64, s).expect("n ≥ 1 and s > 0"));
        ZipfIndex { n: n.max(1), zipf }
    }

    /// One index.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        match &self.zipf {
            Some(z) => (z.sample(rng) as u64).clamp(1, self.n) - 1,
            None => rng.below(self.n),
        }
    }
}

/// The built population of one replication.
pub struct Population {
    /// Static address per client (unused for `mobile`).
    ips: Vec<u32>,
    mobile: Option<(SimTime, Vec<u64>, u32)>,
    activity: ZipfIndex,
}

impl Population {
    /// Builds the population with randomness from `rng` (the "population" stream).
    pub fn new(cfg: &PopulationConfig, rng: &mut SimRng) -> Population {
        let n = cfg.clients as usize;
        let salt = rng.next_u64() as u32;
        let mut mobile = None;
        let ips = match cfg.ips {
            IpModel::Unique => (0..n as u32).map(|i| scramble(i, salt)).collect(),
            IpModel::Nat { public_ips, zipf } => {
                let z = ZipfIndex::new(u64::from(public_ips), zipf);
                (0..n)
                    .map(|_| scramble(z.sample(rng) as u32, salt))
                    .collect()
            }
            IpModel::Subnets { subnets, zipf } => {
                let z = ZipfIndex::new(u64::from(subnets), zipf);
                (0..n)
                    .map(|_| {
                        // A bijection on 24-bit network numbers: distinct subnets never collide.
                        let idx = z.sample(rng) as u32;
                        let net =
                            (idx.wrapping_mul(0x9E37_79B1).wrapping_add(salt) & 0x00ff_ffff) << 8;
                        net | (1 + rng.below(254) as u32)
                    })
                    .collect()
            }
            IpModel::Mobile { change_every } => {
                let phases = (0..n)
                    .map(|_| rng.below(change_every.as_nanos().max(1)))
                    .collect();
                mobile = Some((change_every, phases, salt));
                Vec::new()
            }
        };
        Population {
            ips,
            mobile,
            activity: ZipfIndex::new(n as u64, cfg.activity_zipf),
        }
    }

    /// The client that sends the next open-loop request.
    #[inline]
    pub fn next_client(&self, rng: &mut SimRng) -> u32 {
        self.activity.sample(rng) as u32
    }

    /// Client `c`'s address at time `now`.
    #[inline]
    pub fn ip(&self, c: u32, now: SimTime) -> u32 {
        match &self.mobile {
            None => self.ips[c as usize],
            Some((period, phases, salt)) => {
                let epoch = (now.as_nanos() + phases[c as usize]) / period.as_nanos().max(1);
                let h = splitmix64(u64::from(c) << 32 ^ epoch ^ u64::from(*salt));
                h as u32
            }
        }
    }

    /// Number of distinct addresses in use at time zero (for reporting).
    pub fn distinct_ips(&self) -> usize {
        let mut v = self.ips.clone();
        v.sort_unstable();
        v.dedup();
        v.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SeedTree;

    fn pop(ips: IpModel, clients: u32, activity_zipf: f64) -> Population {
        let cfg = PopulationConfig {
            clients,
            ips,
            activity_zipf,
        };
        Population::new(&cfg, &mut SeedTree::new(1).stream(0, "population"))
    }

    #[test]
    fn unique_addresses_are_distinct() {
        let p = pop(IpModel::Unique, 50_000, 0.0);
        assert_eq!(p.distinct_ips(), 50_000);
    }

    #[test]
    fn nat_concentrates_clients_on_few_addresses() {
        let p = pop(
            IpModel::Nat {
                public_ips: 300,
                zipf: 1.1,
            },
            20_000,
            0.0,
        );
        assert!(p.distinct_ips() <= 300);
        // The busiest address carries far more than an even 1/300 share: under Zipf(300,
        // 1.1) the top rank has probability 1/H ≈ 0.19 (H = Σ k^-1.1 ≈ 5.2).
        let mut ips = p.ips.clone();
        ips.sort_unstable();
        let mut best = 0;
        let mut run = 1;
        for w in ips.windows(2) {
            run = if w[0] == w[1] { run + 1 } else { 1 };
            best = best.max(run);
        }
        let share = best as f64 / 20_000.0;
        // Binomial sd at p = 0.19, n = 20000 is 0.0028; allow the harmonic-number error.
        assert!(share > 0.15 && share < 0.23, "{share}");
    }

    #[test]
    fn subnets_share_their_first_three_octets() {
        let p = pop(
            IpModel::Subnets {
                subnets: 10,
                zipf: 0.0,
            },
            5_000,
            0.0,
        );
        let mut nets: Vec<u32> = p.ips.iter().map(|ip| ip >> 8).collect();
        nets.sort_unstable();
        nets.dedup();
        assert_eq!(nets.len(), 10);
        assert!(p.ips.iter().all(|ip| (1..=254).contains(&(ip & 0xff))));
    }

    #[test]
    fn mobile_addresses_change_once_per_period() {
        let p = pop(
            IpModel::Mobile {
                change_every: SimTime::from_secs(60),
            },
            100,
            0.0,
        );
        for c in 0..100 {
            let changes = (0..600)
                .filter(|&s| p.ip(c, SimTime::from_secs(s)) != p.ip(c, SimTime::from_secs(s + 1)))
                .count();
            assert_eq!(changes, 10, "client {c}: 600 s at one change per 60 s");
        }
    }

    #[test]
    fn heavy_users_send_more() {
        let p = pop(IpModel::Unique, 1000, 1.0);
        let mut rng = SeedTree::new(2).stream(0, "who");
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[p.next_client(&mut rng) as usize] += 1;
        }
        // Zipf(1000, 1): P(rank 1) = 1/H_1000 = 0.1336; P(rank 2) = 0.0668.
        let (p0, p1) = (counts[0] as f64 / 1e5, counts[1] as f64 / 1e5);
        assert!(
            (p0 - 0.1336).abs() < 5.0 * (0.1336f64 * 0.8664 / 1e5).sqrt(),
            "{p0}"
        );
        assert!(
            (p1 - 0.0668).abs() < 5.0 * (0.0668f64 * 0.9332 / 1e5).sqrt(),
            "{p1}"
        );
    }
}
