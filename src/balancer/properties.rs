//! Properties every algorithm in the catalogue must have, checked on random pools:
//! a pick is always an eligible index, `None` comes back exactly when nothing is eligible,
//! and the same inputs and seed give the same picks.

use super::{AlgorithmSpec, Backend, Balancer, Params, PoolView, RequestInfo, catalogue};
use crate::engine::{SeedTree, SimRng, SimTime};

/// Every catalogue entry at its defaults, plus power-of-d with other `d`.
fn specs() -> Vec<AlgorithmSpec> {
    let mut v: Vec<AlgorithmSpec> = catalogue()
        .map(|i| AlgorithmSpec::new(i, Params::defaults(i.params), None))
        .collect();
    for d in [1, 3, 16] {
        let info = super::lookup("power-of-d").expect("power-of-d exists");
        let mut p = Params::defaults(info.params);
        p.set("d", super::ParamValue::Int(d));
        v.push(AlgorithmSpec::new(info, p, None));
    }
    v
}

fn random_pool(draws: &mut SimRng, backends: &mut Vec<Backend>) {
    let len = draws.below(9) as usize;
    backends.clear();
    let mut id = 0;
    for _ in 0..len {
        id += 1 + draws.below(3) as u32; // ids sorted but not dense, as after removals
        backends.push(Backend {
            id,
            weight: draws.below(5) as u32,
            in_flight: draws.below(6) as u32,
            available: draws.below(4) != 0,
        });
    }
}

fn random_request(draws: &mut SimRng) -> RequestInfo {
    RequestInfo {
        client_ip: draws.next_u64() as u32,
        client: draws.below(100) as u32,
        key: (draws.below(4) != 0).then(|| draws.below(1000)),
        cookie: (draws.below(2) == 0).then(|| draws.below(30) as u32),
        class: 0,
        attempt: 0,
    }
}

/// Runs `rounds` random pools through one balancer; returns every pick.
fn exercise(spec: &AlgorithmSpec, seed: u64, rounds: u64) -> Vec<Option<usize>> {
    let tree = SeedTree::new(seed);
    let mut draws = tree.stream(0, "pools");
    let mut lb: Box<dyn Balancer> = spec.build(tree.stream(0, "balancer"));
    let mut backends = Vec::new();
    let mut picks = Vec::new();
    for round in 0..rounds {
        random_pool(&mut draws, &mut backends);
        let any_eligible = backends.iter().any(|b| b.eligible());
        lb.on_pool_change(SimTime(round), &PoolView::new(&backends));
        for k in 0..4 {
            // In-flight counts change between picks without a pool change.
            if k > 0 && !backends.is_empty() {
                let i = draws.below(backends.len() as u64) as usize;
                backends[i].in_flight = draws.below(6) as u32;
            }
            let view = PoolView::new(&backends);
            let req = random_request(&mut draws);
            let got = lb.pick(SimTime(round * 10 + k), &view, &req);
            match got {
                Some(i) => {
                    assert!(
                        i < backends.len() && backends[i].eligible(),
                        "{}: picked {i} from {backends:?}",
                        spec.name()
                    );
                    let ok = draws.below(5) != 0;
                    lb.on_response(
                        SimTime(round * 10 + k + 1),
                        &view,
                        i,
                        super::Outcome {
                            ok,
                            rtt: SimTime(draws.below(1_000_000)),
                        },
                    );
                }
                None => assert!(!any_eligible, "{} gave None for {backends:?}", spec.name()),
            }
            picks.push(got);
        }
    }
    picks
}

#[test]
fn every_algorithm_picks_only_eligible_backends() {
    for spec in specs() {
        let picks = exercise(&spec, 1, 2000);
        assert!(
            picks.iter().filter(|p| p.is_some()).count() > 4000,
            "{}: too few picks to mean anything",
            spec.name()
        );
    }
}

#[test]
fn every_algorithm_is_deterministic() {
    for spec in specs() {
        assert_eq!(
            exercise(&spec, 7, 300),
            exercise(&spec, 7, 300),
            "{} is not deterministic",
            spec.name()
        );
    }
}

#[cfg(test)]
mod explore {
    use super::super::{AlgorithmSpec, Backend, PoolView, RequestInfo};
    use crate::engine::{SeedTree, SimTime};

    fn pool(ws: &[u32]) -> Vec<Backend> {
        ws.iter()
            .enumerate()
            .map(|(i, &w)| Backend {
                id: i as u32,
                weight: w,
                in_flight: 0,
                available: true,
            })
            .collect()
    }

    fn owners(name: &str, b: &[Backend], keys: u64) -> Vec<u32> {
        let mut lb = AlgorithmSpec::named(name)
            .unwrap()
            .build(SeedTree::new(1).stream(0, "b"));
        let v = PoolView::new(b);
        lb.on_pool_change(SimTime::ZERO, &v);
        (0..keys)
            .map(|k| {
                b[lb.pick(
                    SimTime::ZERO,
                    &v,
                    &RequestInfo {
                        key: Some(k),
                        ..RequestInfo::default()
                    },
                )
                .unwrap()]
                .id
            })
            .collect()
    }

    fn ids_pool(ids: &[u32]) -> Vec<Backend> {
        ids.iter()
            .map(|&id| Backend {
                id,
                weight: 1,
                in_flight: 0,
                available: true,
            })
            .collect()
    }

    #[test]
    fn remap() {
        let k = 3000u64;
        let mut rng = SeedTree::new(11).stream(0, "ids");
        let mut other = Vec::new();
        for trial in 0..1500 {
            let n = 2 + (trial % 19) as usize;
            let mut ids: Vec<u32> = Vec::new();
            while ids.len() < n + 1 {
                let x = rng.below(1000) as u32;
                if !ids.contains(&x) {
                    ids.push(x);
                }
            }
            ids.sort();
            let new_id = ids[rng.below(n as u64 + 1) as usize];
            let old: Vec<u32> = ids.iter().copied().filter(|&x| x != new_id).collect();
            let before = owners("maglev", &ids_pool(&old), k);
            let after = owners("maglev", &ids_pool(&ids), k);
            other.push((
                (0..k as usize)
                    .filter(|&i| before[i] != after[i] && after[i] != new_id)
                    .count(),
                n,
            ));
        }
        other.sort();
        other.reverse();
        let mean = other.iter().map(|o| o.0 as f64).sum::<f64>() / other.len() as f64;
        println!("maglev collateral top: {:?} mean {mean}", &other[..12]);
        for name in ["hash"] {
            let mut s = String::new();
            for n in 2..=20usize {
                let ids: Vec<u32> = (0..=n as u32).collect();
                let before = owners(name, &ids_pool(&ids[..n]), k);
                let after = owners(name, &ids_pool(&ids), k);
                let moved = (0..k as usize).filter(|&i| before[i] != after[i]).count();
                let q = n as f64 / (n as f64 + 1.0);
                s += &format!(" {n}:{:+.1}", 100.0 * (moved as f64 / k as f64 - q));
            }
            println!("{name}: frac - n/(n+1) pp: {s}");
        }
    }
}
