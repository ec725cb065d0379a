//! Every bundled scenario is valid and deterministic: two runs give identical results.

use lblab::engine::SeedTree;
use lblab::model::World;
use lblab::report::csv_out::summary_csv;
use lblab::report::{RunInfo, csv_out::servers_csv};

use crate::support::{load, root};

fn names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn every_scenario_runs_twice_to_identical_bytes() {
    for name in names() {
        let s = load(&name, &[]);
        // A short version of each: two replications of at most 5,000 expected requests.
        let mut w = s.world.clone();
        let cap = lblab::engine::SimTime::from_secs_f64(match &w.clients.load {
            lblab::model::Load::Open(sched) => {
                5_000.0
                    / (sched.expected_arrivals(w.warmup, w.duration)
                        / (w.duration - w.warmup).as_secs_f64())
                    .max(1e-9)
            }
            lblab::model::Load::Closed { .. } => 60.0,
        });
        w.duration = w.duration.min(w.warmup + cap);
        let info = RunInfo {
            scenario: name.clone(),
            description: String::new(),
            seed: s.seed,
            replications: 2,
            duration_s: 0.0,
            warmup_s: 0.0,
            n_servers: w.n_servers(),
            notes: Vec::new(),
            variants: Vec::new(),
        };
        let mut outs = Vec::new();
        for _ in 0..2 {
            let reps = (0..2)
                .map(|r| World::new(&w, &SeedTree::new(s.seed), r).run().unwrap())
                .collect();
            let agg = vec![lblab::metrics::Aggregate::new(w.algorithm.name(), reps)];
            outs.push((summary_csv(&info, &agg), servers_csv(&info, &agg)));
        }
        assert_eq!(
            outs[0], outs[1],
            "{name}: rerun with seed {} differs",
            s.seed
        );
        // A different seed gives different results (the seed is actually used).
        let other = World::new(&w, &SeedTree::new(s.seed + 1), 0).run().unwrap();
        let first = World::new(&w, &SeedTree::new(s.seed), 0).run().unwrap();
        assert_ne!(first, other, "{name}: seed has no effect");
    }
}

#[test]
fn every_scenario_has_a_name_and_description() {
    for name in names() {
        let s = load(&name, &[]);
        assert_eq!(s.name, name, "scenario.name should match the file name");
        assert!(s.description.len() > 20, "{name} needs a description");
    }
}
