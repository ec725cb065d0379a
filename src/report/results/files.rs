//! One parser per file of the results directory: the CSV files and `manifest.toml`.

use super::table::Table;
use super::{
    Bucket, Change, Failover, HaEvent, HealthChange, LatencyPoint, LbFailover, LoadError, Manifest,
    ServerLoad, StatRow, Summary, Sweep, SweepRow,
};

fn push_unique(v: &mut Vec<String>, x: &str) {
    if !v.iter().any(|y| y == x) {
        v.push(x.to_string());
    }
}

pub(super) fn parse_summary(text: &str) -> Result<Summary, LoadError> {
    let t = Table::parse("summary.csv", text)?;
    let (sc, al, st, re) = (
        t.col("scenario")?,
        t.col("algorithm")?,
        t.col("stat")?,
        t.col("replication")?,
    );
    let first_metric = [sc, al, st, re].into_iter().max().unwrap_or(0) + 1;
    let metrics: Vec<String> = t.header[first_metric..].to_vec();
    let mut s = Summary {
        scenario: String::new(),
        metrics,
        algorithms: Vec::new(),
        rows: Vec::new(),
    };
    for r in t.rows() {
        if s.scenario.is_empty() {
            s.scenario = r.text(sc);
        }
        let algorithm = r.text(al);
        push_unique(&mut s.algorithms, &algorithm);
        let values = (first_metric..t.header.len())
            .map(|i| r.num(i))
            .collect::<Result<Vec<_>, _>>()?;
        s.rows.push(StatRow {
            algorithm,
            stat: r.text(st),
            replication: r.opt_int(re)?,
            values,
        });
    }
    Ok(s)
}

pub(super) fn parse_sweep(text: &str) -> Result<Sweep, LoadError> {
    let t = Table::parse("sweep.csv", text)?;
    let (al, pt, st, re) = (
        t.col("algorithm")?,
        t.col("point")?,
        t.col("stat")?,
        t.col("replication")?,
    );
    if !(pt < st && st < re) {
        return Err(LoadError {
            file: t.file.into(),
            line: Some(1),
            message: "expected the columns point, <swept keys>, stat, replication, <metrics>"
                .into(),
        });
    }
    let keys: Vec<String> = t.header[pt + 1..st].to_vec();
    let mut s = Sweep {
        keys,
        metrics: t.header[re + 1..].to_vec(),
        algorithms: Vec::new(),
        rows: Vec::new(),
    };
    for r in t.rows() {
        let algorithm = r.text(al);
        push_unique(&mut s.algorithms, &algorithm);
        let values = (re + 1..t.header.len())
            .map(|i| r.num(i))
            .collect::<Result<Vec<_>, _>>()?;
        s.rows.push(SweepRow {
            point: r.int(pt)?,
            settings: (pt + 1..st).map(|i| r.text(i)).collect(),
            row: StatRow {
                algorithm,
                stat: r.text(st),
                replication: r.opt_int(re)?,
                values,
            },
        });
    }
    Ok(s)
}

pub(super) fn parse_servers(text: &str) -> Result<Vec<ServerLoad>, LoadError> {
    let t = Table::parse("servers.csv", text)?;
    let c = |n| t.col(n);
    let (al, st, re, sv, gr) = (
        c("algorithm")?,
        c("stat")?,
        c("replication")?,
        c("server")?,
        c("group")?,
    );
    let (rq, sh, bs, bsh, ut, rj, ch) = (
        c("requests")?,
        c("share_pct")?,
        c("busy_s")?,
        c("busy_share_pct")?,
        c("utilization_pct")?,
        c("rejected")?,
        c("cache_hit_ratio_pct")?,
    );
    t.rows()
        .map(|r| {
            Ok(ServerLoad {
                algorithm: r.text(al),
                stat: r.text(st),
                replication: r.opt_int(re)?,
                server: r.text(sv),
                group: r.text(gr),
                requests: r.num(rq)?,
                share_pct: r.num(sh)?,
                busy_s: r.num(bs)?,
                busy_share_pct: r.num(bsh)?,
                utilization_pct: r.num(ut)?,
                rejected: r.num(rj)?,
                cache_hit_ratio_pct: r.num(ch)?,
            })
        })
        .collect()
}

pub(super) fn parse_latency(text: &str) -> Result<Vec<LatencyPoint>, LoadError> {
    let t = Table::parse("latency.csv", text)?;
    let (al, st, re, q, l) = (
        t.col("algorithm")?,
        t.col("stat")?,
        t.col("replication")?,
        t.col("quantile")?,
        t.col("latency_ms")?,
    );
    t.rows()
        .map(|r| {
            let quantile = r.num(q)?;
            if !(0.0..=1.0).contains(&quantile) {
                return Err(r.err(format!("quantile {quantile} is not in [0, 1]")));
            }
            Ok(LatencyPoint {
                algorithm: r.text(al),
                stat: r.text(st),
                replication: r.opt_int(re)?,
                quantile,
                latency_ms: r.num(l)?,
            })
        })
        .collect()
}

pub(super) fn parse_timeseries(text: &str) -> Result<Vec<Bucket>, LoadError> {
    let t = Table::parse("timeseries.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, ts, bs, th, er, p) = (
        c("algorithm")?,
        c("replication")?,
        c("t_s")?,
        c("bucket_s")?,
        c("throughput_rps")?,
        c("errors_per_s")?,
        c("p99_ms")?,
    );
    t.rows()
        .map(|r| {
            Ok(Bucket {
                algorithm: r.text(al),
                replication: r.int(re)?,
                t_s: r.num(ts)?,
                bucket_s: r.num(bs)?,
                throughput_rps: r.num(th)?,
                errors_per_s: r.num(er)?,
                p99_ms: r.num(p)?,
            })
        })
        .collect()
}

pub(super) fn parse_failovers(text: &str) -> Result<Vec<Failover>, LoadError> {
    let t = Table::parse("failovers.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, fa, ki, sv, no) = (
        c("algorithm")?,
        c("replication")?,
        c("failure")?,
        c("kind")?,
        c("server")?,
        c("node")?,
    );
    let (fs, de, dt, rp, rc, rt, se, fd) = (
        c("fault_s")?,
        c("detected_s")?,
        c("detection_s")?,
        c("repair_s")?,
        c("recovered_s")?,
        c("recovery_s")?,
        c("sent")?,
        c("failed")?,
    );
    t.rows()
        .map(|r| {
            Ok(Failover {
                algorithm: r.text(al),
                replication: r.int(re)?,
                failure: r.int(fa)?,
                kind: r.text(ki),
                server: r.text(sv),
                node: r.int(no)?,
                fault_s: r.num(fs)?,
                detected_s: r.num(de)?,
                detection_s: r.num(dt)?,
                repair_s: r.num(rp)?,
                recovered_s: r.num(rc)?,
                recovery_s: r.num(rt)?,
                sent: r.num(se)?,
                failed: r.num(fd)?,
            })
        })
        .collect()
}

pub(super) fn parse_health(text: &str) -> Result<Vec<HealthChange>, LoadError> {
    let t = Table::parse("health.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, at, no, sv, st, ca, fa) = (
        c("algorithm")?,
        c("replication")?,
        c("at_s")?,
        c("node")?,
        c("server")?,
        c("state")?,
        c("cause")?,
        c("false_alarm")?,
    );
    t.rows()
        .map(|r| {
            Ok(HealthChange {
                algorithm: r.text(al),
                replication: r.int(re)?,
                at_s: r.num(at)?,
                // Empty for the kubelet's rows (liveness kills and restarts).
                node: r.opt_int(no)?.unwrap_or(0),
                server: r.text(sv),
                state: r.text(st),
                cause: r.text(ca),
                false_alarm: r.bool(fa)?,
            })
        })
        .collect()
}

pub(super) fn parse_lb_failovers(text: &str) -> Result<Vec<LbFailover>, LoadError> {
    let t = Table::parse("lb_failovers.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, ki, no) = (c("algorithm")?, c("replication")?, c("kind")?, c("node")?);
    let (fs, fo, ll, rp, lo, rs) = (
        c("fault_s")?,
        c("failover_s")?,
        c("last_lost_s")?,
        c("repair_s")?,
        c("lost")?,
        c("reset")?,
    );
    t.rows()
        .map(|r| {
            Ok(LbFailover {
                algorithm: r.text(al),
                replication: r.int(re)?,
                kind: r.text(ki),
                node: r.text(no),
                fault_s: r.num(fs)?,
                failover_s: r.num(fo)?,
                last_lost_s: r.num(ll)?,
                repair_s: r.num(rp)?,
                lost: r.num(lo)?,
                reset: r.num(rs)?,
            })
        })
        .collect()
}

pub(super) fn parse_ha(text: &str) -> Result<Vec<HaEvent>, LoadError> {
    let t = Table::parse("ha.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, at, no, ev) = (
        c("algorithm")?,
        c("replication")?,
        c("at_s")?,
        c("node")?,
        c("event")?,
    );
    t.rows()
        .map(|r| {
            Ok(HaEvent {
                algorithm: r.text(al),
                replication: r.int(re)?,
                at_s: r.num(at)?,
                node: r.text(no),
                event: r.text(ev),
            })
        })
        .collect()
}

pub(super) fn parse_changes(text: &str) -> Result<Vec<Change>, LoadError> {
    let t = Table::parse("changes.csv", text)?;
    let c = |n| t.col(n);
    let (al, re, at, ac, me, kr) = (
        c("algorithm")?,
        c("replication")?,
        c("at_s")?,
        c("action")?,
        c("members")?,
        c("keys_remapped_pct")?,
    );
    t.rows()
        .map(|r| {
            Ok(Change {
                algorithm: r.text(al),
                replication: r.int(re)?,
                at_s: r.num(at)?,
                action: r.text(ac),
                members: r.num(me)?,
                keys_remapped_pct: r.num(kr)?,
            })
        })
        .collect()
}

pub(super) fn parse_manifest(text: &str) -> Result<Manifest, LoadError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| LoadError {
        file: "manifest.toml".into(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u64 + 1),
        message: e.message().to_string(),
    })?;
    let s = |k: &str| match table.get(k) {
        Some(toml::Value::String(v)) => Some(v.clone()),
        Some(toml::Value::Integer(i)) => Some(i.to_string()),
        Some(toml::Value::Float(f)) => Some(f.to_string()),
        _ => None,
    };
    let f = |k: &str| match table.get(k) {
        Some(toml::Value::Integer(i)) => Some(*i as f64),
        Some(toml::Value::Float(x)) => Some(*x),
        _ => None,
    };
    let list = |k: &str| match table.get(k) {
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Manifest {
        present: true,
        version: s("lblab_version"),
        command: s("command"),
        scenario: s("scenario"),
        scenario_file: s("scenario_file"),
        scenario_hash: s("scenario_hash"),
        description: s("description").filter(|d| !d.trim().is_empty()),
        parameters: list("parameters"),
        seed: s("seed"),
        replications: s("replications"),
        duration_s: f("duration_s"),
        warmup_s: f("warmup_s"),
        algorithms: list("algorithms"),
        files: list("files"),
        notes: list("notes"),
    })
}
