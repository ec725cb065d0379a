use crate::metrics::METRICS;

const ALGS: [&str; 3] = ["round-robin", "least-connections", "power-of-two"];

fn q(i: u32) -> f64 {
    1.0 - 10f64.powf(-f64::from(i) / 10.0)
}

/// A compare directory with every file, including the new latency and time series.
pub(crate) fn compare() -> Vec<(&'static str, String)> {
    let mut files = Vec::new();
    files.push((
        "manifest.toml",
        "lblab_version = \"0.1.0\"\ncommand = \"lblab compare fixture.toml\"\nscenario = \"fixture\"\n\
         scenario_file = \"fixture.toml\"\nscenario_hash = \"fnv1a64:0000000000000001\"\n\
         description = \"A <small> fixture & friends.\"\nparameters = [\"clients.rate=900/s\", \"servers.web.count=4\"]\n\
         seed = 7\nreplications = 3\nduration_s = 60\nwarmup_s = 5\n\
         algorithms = [\"round-robin\", \"least-connections\", \"power-of-two\"]\n\
         files = [\"summary.csv\", \"servers.csv\"]\n"
            .to_string(),
    ));
    // summary.csv: every metric; round-robin is worst at latency, least-connections best.
    let mut s = String::from("scenario,algorithm,stat,replication");
    for m in METRICS {
        s.push(',');
        s.push_str(m.key);
    }
    s.push('\n');
    for (a, alg) in ALGS.iter().enumerate() {
        let scale = [10.0, 1.0, 1.5][a];
        let val = |m: usize, rep: f64| -> f64 {
            let key = METRICS[m].key;
            if key.starts_with("latency_") || key.ends_with("_ms") {
                scale * (m as f64) * (1.0 + 0.01 * rep)
            } else if key == "throughput_rps" {
                400.0 - a as f64 + 0.1 * rep
            } else if key.starts_with("errors") || key == "error_rate_pct" {
                if a == 0 { 5.0 + rep } else { 0.0 }
            } else if key == "cache_hit_ratio_pct" {
                f64::NAN
            } else {
                1.0 + 0.1 * a as f64 + 0.001 * rep
            }
        };
        let fmt = |x: f64| {
            if x.is_finite() {
                format!("{x:.6}")
            } else {
                String::new()
            }
        };
        for rep in 0..3 {
            s.push_str(&format!("fixture,{alg},value,{rep}"));
            for m in 0..METRICS.len() {
                s.push(',');
                s.push_str(&fmt(val(m, f64::from(rep))));
            }
            s.push('\n');
        }
        for (stat, d) in [
            ("mean", 0.0),
            ("ci95_half", f64::NAN),
            ("ci95_lo", -1.0),
            ("ci95_hi", 1.0),
            ("sd", f64::NAN),
        ] {
            s.push_str(&format!("fixture,{alg},{stat},"));
            for m in 0..METRICS.len() {
                let mean = val(m, 1.0);
                let half = 0.01 * mean.abs();
                let x = if d.is_nan() { half } else { mean + d * half };
                s.push(',');
                s.push_str(&fmt(x));
            }
            s.push('\n');
        }
    }
    files.push(("summary.csv", s));
    // servers.csv: four servers; round-robin uneven busy time.
    let mut s = String::from(
        "scenario,algorithm,stat,replication,server,group,requests,share_pct,busy_s,busy_share_pct,utilization_pct,rejected,cache_hit_ratio_pct\n",
    );
    for (a, alg) in ALGS.iter().enumerate() {
        for (stat, d) in [
            ("value", 0.0),
            ("mean", 0.0),
            ("ci95_lo", -1.0),
            ("ci95_hi", 1.0),
        ] {
            for srv in 0..4 {
                let busy = if a == 0 {
                    [40.0, 20.0, 20.0, 20.0][srv]
                } else {
                    25.0
                };
                let rep = if stat == "value" { "0" } else { "" };
                s.push_str(&format!(
                    "fixture,{alg},{stat},{rep},web-{},web,{},{:.6},{:.6},{:.6},{:.6},0,\n",
                    srv + 1,
                    1000 + srv,
                    25.0 + d * 0.5,
                    busy * 2.0,
                    busy + d,
                    busy * 1.5,
                ));
            }
        }
    }
    files.push(("servers.csv", s));
    // latency.csv
    let mut s = String::from("scenario,algorithm,stat,replication,quantile,latency_ms\n");
    for (a, alg) in ALGS.iter().enumerate() {
        let tail = [100.0, 2.0, 4.0][a];
        let curve = |qi: Option<u32>, f: f64| {
            let x = qi.map_or(6.0, |i| f64::from(i) / 10.0);
            f * (5.0 + x * x * tail)
        };
        for (stat, f, rep) in [
            ("value", 1.0, "0"),
            ("value", 1.02, "1"),
            ("mean", 1.01, ""),
            ("ci95_lo", 0.95, ""),
            ("ci95_hi", 1.07, ""),
        ] {
            for i in 0..=50 {
                s.push_str(&format!(
                    "fixture,{alg},{stat},{rep},{:.6},{:.6}\n",
                    q(i),
                    curve(Some(i), f)
                ));
            }
            s.push_str(&format!(
                "fixture,{alg},{stat},{rep},1.000000,{:.6}\n",
                curve(None, f)
            ));
        }
    }
    files.push(("latency.csv", s));
    // timeseries.csv: 60 one-second buckets; a dip at 20-30 s.
    let mut s = String::from(
        "scenario,algorithm,replication,t_s,bucket_s,throughput_rps,errors_per_s,p99_ms\n",
    );
    for (a, alg) in ALGS.iter().enumerate() {
        for rep in 0..2 {
            for t in 0..60 {
                let down = (20..30).contains(&t);
                let thr =
                    400.0 + f64::from((t * 7 + a as u32 * 3) % 11) - if down { 60.0 } else { 0.0 };
                let err = if down && a == 0 { 50.0 } else { 0.0 };
                let p99 = if t == 45 && a == 2 {
                    String::new()
                } else {
                    format!(
                        "{:.6}",
                        20.0 * (a as f64 + 1.0) + if down { 200.0 } else { 0.0 }
                    )
                };
                s.push_str(&format!(
                    "fixture,{alg},{rep},{t}.000000,1.000000,{thr:.6},{err:.6},{p99}\n"
                ));
            }
        }
    }
    files.push(("timeseries.csv", s));
    // failovers.csv and health.csv: one crash at 20 s, repaired at 30 s.
    let mut f = String::from(
        "scenario,algorithm,replication,failure,kind,server,node,fault_s,detected_s,detection_s,repair_s,recovered_s,recovery_s,sent,failed\n",
    );
    let mut h =
        String::from("scenario,algorithm,replication,at_s,node,server,state,cause,false_alarm\n");
    for (a, alg) in ALGS.iter().enumerate() {
        for rep in 0..2 {
            let det = 1.0 + a as f64 * 0.5 + f64::from(rep) * 0.1;
            f.push_str(&format!(
                "fixture,{alg},{rep},0,crash,web-2,1,20.000000,{:.6},{det:.6},30.000000,{:.6},1.000000,{},{}\n",
                20.0 + det,
                31.0,
                10 + a,
                10 + a
            ));
            h.push_str(&format!(
                "fixture,{alg},{rep},{:.6},1,web-2,down,active,false\nfixture,{alg},{rep},31.000000,1,web-2,up,active,false\n",
                20.0 + det
            ));
        }
    }
    h.push_str("fixture,power-of-two,0,50.000000,1,web-3,down,active,true\n");
    files.push(("failovers.csv", f));
    files.push(("health.csv", h));
    // lb_failovers.csv and ha.csv: lb-1 crashes at 40 s, lb-2 takes over, lb-1 is back
    // at 50 s and takes the virtual IP back.
    let mut lf = String::from(
        "scenario,algorithm,replication,failure,kind,node,fault_s,failover_s,last_lost_s,repair_s,lost,reset\n",
    );
    let mut ha = String::from("scenario,algorithm,replication,at_s,node,event\n");
    for (a, alg) in ALGS.iter().enumerate() {
        for rep in 0..2 {
            let fo = 43.0 + a as f64 * 0.25;
            lf.push_str(&format!(
                "fixture,{alg},{rep},1,crash,lb-1,40.000000,{fo:.6},{:.6},50.000000,{},0\n",
                fo - 0.01,
                1200 + a
            ));
            ha.push_str(&format!(
                "fixture,{alg},{rep},40.000000,lb-1,crash\nfixture,{alg},{rep},{fo:.6},lb-2,master\n\
                 fixture,{alg},{rep},50.000000,lb-1,restart\nfixture,{alg},{rep},53.400000,lb-1,master\n\
                 fixture,{alg},{rep},53.400000,lb-2,backup\n"
            ));
        }
    }
    files.push(("lb_failovers.csv", lf));
    files.push(("ha.csv", ha));
    files.push((
        "changes.csv",
        "scenario,algorithm,replication,at_s,action,members,keys_remapped_pct,sessions_remapped_pct\n\
         fixture,round-robin,0,40.000000,add web-5,5,80.000000,\n"
            .to_string(),
    ));
    files
}

/// A sweep directory: two swept keys, two algorithms.
pub(crate) fn sweep() -> Vec<(&'static str, String)> {
    let algs = ["round-robin", "least-connections"];
    let rates = ["300/s", "600/s", "900/s"];
    let slots = ["1", "2"];
    let mut s = String::from(
        "scenario,algorithm,point,clients.rate,servers.web.slots,stat,replication,throughput_rps,latency_p99_ms\n",
    );
    for (a, alg) in algs.iter().enumerate() {
        let mut point = 0;
        for (i, rate) in rates.iter().enumerate() {
            for (j, sl) in slots.iter().enumerate() {
                let rho = (i as f64 + 1.0) * 0.3 / (j as f64 + 1.0);
                let p99 = 10.0 / (1.0 - rho) * (1.0 + a as f64);
                let thr = 300.0 * (i as f64 + 1.0);
                for rep in 0..2 {
                    s.push_str(&format!(
                        "sweep,{alg},{point},{rate},{sl},value,{rep},{thr:.6},{:.6}\n",
                        p99 * (1.0 + 0.01 * f64::from(rep))
                    ));
                }
                for (stat, d) in [("mean", 0.0), ("ci95_lo", -1.0), ("ci95_hi", 1.0)] {
                    s.push_str(&format!(
                        "sweep,{alg},{point},{rate},{sl},{stat},,{:.6},{:.6}\n",
                        thr + d,
                        p99 * (1.0 + 0.05 * d)
                    ));
                }
                point += 1;
            }
        }
    }
    vec![
        ("sweep.csv", s),
        (
            "manifest.toml",
            "scenario = \"sweep\"\nseed = 1\nreplications = 2\n".to_string(),
        ),
    ]
}

/// Loads in-memory files.
pub(crate) fn load(files: &[(&'static str, String)]) -> super::Results {
    super::Results::load(&|name| {
        Ok(files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.clone()))
    })
    .expect("fixture loads")
}
