//! `lblab trace`: the first requests of one replication, step by step.

use std::path::PathBuf;

use crate::engine::{SeedTree, SimTime};
use crate::model::{TraceLine, World};

use super::variants::{AlgSource, Plan};
use super::{CliError, out};

/// Output of `lblab trace`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// One aligned line per step, for people.
    Table,
    /// `time_s,request,event` rows.
    Csv,
    /// A JSON array, one object per line: `time_s`, `request`, `event`, `kind` (issue, pick,
    /// start, completed, marked-down, …), `server` and, on a followed request's lines,
    /// `servers` (every server's `in_flight`, `out`, `fault`).
    Json,
}

#[derive(clap::Args, Debug)]
pub(super) struct TraceArgs {
    /// The scenario file (TOML), or the name of a bundled scenario when no such file exists.
    file: PathBuf,
    /// How many requests to follow, from the first one issued at or after --from.
    #[arg(short = 'n', long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    requests: u64,
    /// Start following requests at this simulated time (e.g. 59s, just before a failure).
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    from: String,
    /// Balancing algorithm: replaces [balancer] with NAME and its default parameters;
    /// --set balancer.KEY=V then sets NAME's parameters.
    #[arg(short = 'a', long, value_name = "NAME")]
    algorithm: Option<String>,
    /// Master seed (overrides scenario.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Which replication's random streams to use (0-based).
    #[arg(long, default_value_t = 0)]
    replication: u32,
    /// Override any scenario key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TraceFormat::Table)]
    format: TraceFormat,
}

pub(super) fn trace(a: TraceArgs) -> Result<(), CliError> {
    let from = crate::scenario::units::parse_duration(&a.from)
        .map_err(|e| CliError::Input(format!("lblab: --from {}: {e}", a.from)))?;
    let named: Vec<String> = a.algorithm.iter().cloned().collect();
    let source = if named.is_empty() {
        AlgSource::Own
    } else {
        AlgSource::Named(&named)
    };
    super::run::announce(&a.file, false);
    let plan = Plan::new(&a.file, &a.set, source, "trace")?;
    let (_, s) = plan.variant(&a.file, 0, &[], &|_| {})?;
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    if from >= s.world.duration {
        return Err(CliError::Input(format!(
            "lblab: --from {} is not before the end of the run ({})",
            a.from, s.world.duration
        )));
    }
    let seed = a.seed.unwrap_or(s.seed);
    let world = World::new(&s.world, &SeedTree::new(seed), a.replication);
    let lines = world
        .trace(a.requests, from)
        .map_err(|e| CliError::Sim(format!("lblab: {}: {e}", s.name)))?;
    let text = match a.format {
        TraceFormat::Table => table(
            &s.name,
            &s.world.algorithm.name(),
            seed,
            a.replication,
            from,
            &lines,
        ),
        TraceFormat::Csv => csv(&lines),
        TraceFormat::Json => {
            let names: Vec<String> = s.world.server_names().into_iter().map(|n| n.0).collect();
            // One line per step: a trace is read, and diffed, line by line.
            let items: Vec<String> = match json_lines(&lines, &names) {
                serde_json::Value::Array(v) => v.iter().map(|x| format!("  {x}")).collect(),
                _ => unreachable!("json_lines returns an array"),
            };
            if items.is_empty() {
                "[]\n".to_string()
            } else {
                format!("[\n{}\n]\n", items.join(",\n"))
            }
        }
    };
    out(&text)
}

fn time(t: SimTime) -> String {
    format!("{:.6}", t.as_secs_f64())
}

fn table(name: &str, alg: &str, seed: u64, rep: u32, from: SimTime, lines: &[TraceLine]) -> String {
    let mut o = format!(
        "{name} ({alg}), seed {seed}, replication {rep}: the first requests issued from {:.3} s on, step by step\n\
         pick lines list each backend as the node sees it: requests in flight, wN its weight if not 1,\n\
         [what the algorithm compares], (out) if not eligible; · marks health, failure and failover events\n\n",
        from.as_secs_f64()
    );
    if lines.is_empty() {
        o.push_str("no request was issued in the run after --from\n");
        return o;
    }
    let w = lines
        .iter()
        .map(|l| time(l.at).len())
        .max()
        .unwrap_or(8)
        .max(8);
    o.push_str(&format!("{:>w$}  {:>5}  event\n", "time (s)", "req"));
    for l in lines {
        let req = l.request.map_or(String::from("·"), |r| format!("#{r}"));
        o.push_str(&format!("{:>w$}  {req:>5}  {}\n", time(l.at), l.event));
    }
    o
}

fn csv(lines: &[TraceLine]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["time_s", "request", "event"])
        .expect("in-memory write");
    for l in lines {
        let req = l.request.map_or(String::new(), |r| r.to_string());
        w.write_record([time(l.at), req, l.event.clone()])
            .expect("in-memory write");
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("utf-8 csv")
}

/// The lines as JSON objects: `time_s`, `request`, `event`, `kind`, `server` (a name or
/// null) and, on the lines of traced requests, `servers`: every server's `in_flight`,
/// `out` (lb-1 may not pick it) and `fault`.
pub(crate) fn json_lines(lines: &[TraceLine], names: &[String]) -> serde_json::Value {
    let v: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            let mut o = serde_json::json!({
                "time_s": l.at.as_secs_f64(),
                "request": l.request,
                "event": l.event,
                "kind": l.kind,
                "server": l.server.map(|i| names[i as usize].as_str()),
            });
            if !l.servers.is_empty() {
                o["servers"] = l
                    .servers
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "in_flight": m.in_flight,
                            "out": m.out,
                            "fault": m.fault,
                        })
                    })
                    .collect();
            }
            o
        })
        .collect();
    serde_json::Value::Array(v)
}
