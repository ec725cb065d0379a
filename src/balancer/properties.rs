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

    fn period(p: &[usize], warm: usize) -> Option<usize> {
        (1..(p.len() - warm) / 2).find(|&q| (warm..p.len() - q).all(|i| p[i] == p[i + q]))
    }

    #[test]
    fn periods() {
        let mut rng = SeedTree::new(5).stream(0, "w");
        for name in ["haproxy-roundrobin"] {
            for case in 0..300 {
                let n = 2 + rng.below(5) as usize;
                let ws: Vec<u32> = (0..n).map(|_| 1 + rng.below(10) as u32).collect();
                let w: usize = ws.iter().map(|&x| x as usize).sum();
                let b = pool(&ws);
                let v = PoolView::new(&b);
                let mut lb = AlgorithmSpec::named(name)
                    .unwrap()
                    .build(SeedTree::new(case).stream(0, "b"));
                lb.on_pool_change(SimTime::ZERO, &v);
                let picks: Vec<usize> = (0..w * 200)
                    .map(|_| lb.pick(SimTime::ZERO, &v, &RequestInfo::default()).unwrap())
                    .collect();
                let per = period(&picks, 0).unwrap();
                if per % w != 0 && per > 50 {
                    let mut c = vec![0usize; n];
                    for &p in &picks[..per] {
                        c[p] += 1;
                    }
                    let mut cw = vec![0usize; n];
                    for &p in &picks[..w] {
                        cw[p] += 1;
                    }
                    println!(
                        "{ws:?} W={w} period={per} counts/period={c:?} expected={:?} first W: {cw:?}",
                        ws.iter()
                            .map(|&x| x as f64 * per as f64 / w as f64)
                            .collect::<Vec<_>>()
                    );
                }
            }
        }
    }
}
