//! `lblab bench`: simulated requests per second and peak memory on the reference model.
//!
//! The model is the one the issue tracker and the README quote: 16 servers with one slot,
//! exponential service with mean 1 s, Poisson arrivals at λ = 14.4/s (ρ = 0.9), a warm-up of
//! 10,000 requests and then N requests (1,000,000 by default). `--model three-tier` puts
//! two tiers in front of it (web → app → db, 16 servers each; a worker waits for its
//! call), so each client request is three hop-requests. `--servers 16,1024,100000` runs
//! the one-tier model at each fleet size (λ = 0.9 × servers, so ρ stays 0.9) and prints
//! each algorithm's speed against its speed at the first size, and against a bare event
//! loop (`bench_bare.rs`) where one exists for the algorithm (random, least connections).
//! It runs on one thread and counts the CPU time that thread ran (Linux:
//! `/proc/thread-self/schedstat`, nanoseconds; the wall clock elsewhere), so that other
//! work on the machine does not count against the simulator; both clocks are read here,
//! in the CLI, never inside the simulation.

use std::time::Instant;

use crate::balancer::AlgorithmSpec;
use crate::engine::{SeedTree, SimTime};
use crate::metrics::M;
use crate::model::{
    ClassConfig, ClientsConfig, Dist, KeySpace, Load, RateSchedule, ServerGroupConfig, World,
    WorldConfig,
};

use super::bench_bare::{self, BarePick};
use super::{CliError, TextFormat, out};

#[derive(clap::Args, Debug)]
pub(super) struct BenchArgs {
    /// Algorithms to measure (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "random,least-connections"
    )]
    algorithms: Vec<String>,
    /// Requests measured after the warm-up.
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Warm-up requests.
    #[arg(long, default_value_t = 10_000)]
    warmup: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output: a text table, printed as each algorithm finishes, or one JSON document at
    /// the end.
    #[arg(long, value_enum, default_value_t = TextFormat::Text)]
    format: TextFormat,
    /// The reference model: one tier (16 servers), three tiers (web → app → db, 16
    /// servers each; every client request is three hop-requests), or one tier with and
    /// without keep-alive connections.
    #[arg(long, value_enum, default_value_t = Model::OneTier)]
    model: Model,
    /// Fleet sizes to measure the one-tier model at (comma-separated; λ = 0.9 × servers,
    /// so every size is 90% busy). Each algorithm's speed is also given relative to its
    /// speed at the first size, and to a bare event loop for random and least connections
    /// (whose own speed is also given relative to the first size: what the machine's
    /// caches cost a loop with nothing else to do). A run whose mean time in system is
    /// above 20 s (twice random choice's) is marked overloaded: its queues grew for the
    /// whole run, so its speed is a backlog's, not a pick's.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    servers: Vec<u32>,
    /// Skip the bare event loop.
    #[arg(long)]
    no_bare: bool,
    /// Give every request one of this many keys, uniformly (the one-tier model): the
    /// hashing algorithms then hash each request's key instead of falling back to their
    /// keyless pick. Without it requests carry no key.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    keys: Option<u64>,
    /// Run each measurement this many times and keep the fastest (a busy or shared
    /// machine only ever slows a run down). The repetitions take an algorithm's sizes and
    /// bare loops in turn, so a burst of load from elsewhere does not fall on one size
    /// alone (though it slows a large pool, which waits on memory more, the most); a ratio
    /// to the first size then also gives the range of the repetitions' own ratios, how far
    /// the machine moved it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
}

/// `lblab bench --model`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Model {
    /// 16 servers × 1 slot, exp(1) service, Poisson λ = 14.4 (ρ = 0.9).
    OneTier,
    /// Edge → web → app → db, 16 servers each: web and app 64 workers with exp(0.1 s) of
    /// work (a worker waits for its call), db 1 worker with exp(1 s) (ρ = 0.9); λ = 14.4.
    ThreeTier,
    /// The one-tier model with 100 clients twice per algorithm: connection-less, then with
    /// clients holding HTTP/1.1 keep-alive connections (`[connections]` defaults: one
    /// request at a time per connection), and the second's speed relative to the first.
    KeepAlive,
}

/// What one algorithm's benchmark measured.
#[derive(serde::Serialize)]
struct Measured {
    algorithm: String,
    /// Servers in the model.
    servers: u32,
    /// Requests issued in the measured window (after the warm-up).
    requests: u64,
    /// Requests simulated including the warm-up.
    simulated: u64,
    wall_s: f64,
    /// CPU seconds the run's thread ran (Linux; null elsewhere).
    cpu_s: Option<f64>,
    /// Millions of simulated requests (warm-up included) per CPU second (per wall-clock
    /// second where CPU time cannot be read).
    mreq_per_s: f64,
    mean_latency_s: f64,
    /// Hop-requests (requests to a service: a client's or a call) per client request: 1
    /// for one tier, 3 for three.
    hops_per_request: u64,
    /// Millions of simulated hop-requests per CPU second (as `mreq_per_s`).
    mhop_per_s: f64,
    /// Peak resident memory of the process so far (Linux; null elsewhere).
    peak_rss_mib: Option<f64>,
    /// Speed relative to the same algorithm at the first `--servers` size (a bare loop's:
    /// relative to that bare loop at the first size).
    vs_first_size: Option<f64>,
    /// With `--repeat` above 1: the smallest and the largest of the repetitions' own
    /// ratios to the first size (each repetition runs every size in turn). How far the
    /// machine moved the ratio; `vs_first_size`, the fastest runs' ratio, lies between them.
    vs_first_size_range: Option<[f64; 2]>,
    /// Speed relative to the bare loop at the same size (random, least connections).
    vs_bare: Option<f64>,
    /// The one-tier model ran overloaded (mean time in system above
    /// [`OVERLOADED_MEAN_S`]): its speed is a growing backlog's, not a pick's.
    overloaded: bool,
}

/// A one-tier run whose mean time in system exceeds this is overloaded: twice random
/// choice's 10 s (M/M/1 at ρ = 0.9 with mean service 1 s; the slowest stable algorithms of
/// the catalogue stay near it, at most 11 s). Above it some servers get more than they can
/// serve (an algorithm hashing the clients' addresses: 1,000 clients over the pool), their
/// queues grow for as long as the run lasts, and the requests in the system outnumber a
/// stable run's many times over. Such a mean grows with the run, so a run much shorter
/// than the default million requests may not reach it yet.
const OVERLOADED_MEAN_S: f64 = 20.0;

/// Printed under the table when a row was overloaded.
const OVERLOADED_NOTE: &str =
    "overloaded: mean time in system above 20 s, twice random choice's 10 s (M/M/1 at ρ = 0.9).
The algorithm sends some servers more than they can serve (here: it hashes the addresses of
the model's 1,000 clients; nginx's ip_hash also has only 6,271 hash values, so at 1,024
servers 127 of them get 7/6,271 of the load, ρ = 1.03, whatever the clients; consistent
hashing without bounded loads gives some servers longer arcs of its ring; least
response time herds), their queues grow for as long as the run lasts, and its speed is
the cost of that backlog, which differs from one size to the next, not the cost of a pick.
Compare its cost per pick by instructions (docs/benchmarks.md).
";

/// One table row.
fn row(m: &Measured) -> Result<(), CliError> {
    out(&format!(
        "{:<30} {:>8} {:>12} {:>10.3} {:>9.2} {:>11.2} {:>11.4} {:>13.1}\n",
        m.algorithm,
        m.servers,
        m.requests,
        m.cpu_s.unwrap_or(m.wall_s),
        m.mreq_per_s,
        m.mhop_per_s,
        m.mean_latency_s,
        m.peak_rss_mib.unwrap_or(f64::NAN)
    ))
}

/// A line under a row.
fn note(text: &str) -> Result<(), CliError> {
    out(&format!("{:<30} {:>8}   {text}\n", "", ""))
}

/// The reference world for `algorithm` with `warmup + requests` expected arrivals, over
/// 16 servers.
pub fn reference_world(algorithm: AlgorithmSpec, warmup: u64, requests: u64) -> WorldConfig {
    reference_world_n(algorithm, warmup, requests, 16)
}

/// The reference world over `n` servers (λ = 0.9 n).
pub fn reference_world_n(
    algorithm: AlgorithmSpec,
    warmup: u64,
    requests: u64,
    n: u32,
) -> WorldConfig {
    let lambda = 0.9 * f64::from(n);
    WorldConfig {
        duration: SimTime::from_secs_f64((warmup + requests) as f64 / lambda),
        warmup: SimTime::from_secs_f64(warmup as f64 / lambda),
        max_events: u64::MAX,
        clients: ClientsConfig {
            load: Load::Open(RateSchedule::constant(lambda)),
            timeout: None,
        },
        classes: vec![ClassConfig {
            name: "default".into(),
            share: 1.0,
            service: Dist::Exponential { mean_ns: 1e9 },
            pool: None,
            keys: None,
            hit_service: None,
            entry: 0,
            hops: Vec::new(),
            reconnect: None,
        }],
        groups: vec![ServerGroupConfig {
            priority: 0,
            name: "s".into(),
            count: n,
            speed: 1.0,
            slots: 1,
            queue: u32::MAX,
            weight: 1,
            network_delay: None,
            cache: None,
            spare: 0,
            balancer: None,
            on: None,
        }],
        algorithm,
        population: Default::default(),
        sessions: Default::default(),
        changes: Vec::new(),
        lb: Default::default(),
        failures: Vec::new(),
        health: Default::default(),
        preset: Vec::new(),
        services: Vec::new(),
        connections: None,
    }
}

/// The three-tier reference world for `algorithm` (every tier's balancer).
pub fn reference_three_tier(
    algorithm: AlgorithmSpec,
    warmup: u64,
    requests: u64,
) -> Result<WorldConfig, CliError> {
    let lambda = 14.4;
    let text = format!(
        r#"[scenario]
name = "bench-three-tier"
duration = "{}s"
warmup = "{}s"

[clients]
mode = "open"
rate = "{lambda}/s"

[[classes]]
service = {{ dist = "exponential", mean = "100ms" }}
calls = ["app"]

[classes.hops.app]
work = {{ dist = "exponential", mean = "100ms" }}
calls = ["db"]

[[servers]]
name = "web"
count = 16
slots = 64

[[servers]]
name = "app"
count = 16
slots = 64

[[servers]]
name = "db"
count = 16
slots = 1

[[services]]
name = "web"

[[services]]
name = "app"

[[services]]
name = "db"
work = {{ dist = "exponential", mean = "1s" }}
"#,
        (warmup + requests) as f64 / lambda,
        warmup as f64 / lambda
    );
    let read = |_: &std::path::Path| -> std::io::Result<String> { Ok(String::new()) };
    let s = crate::scenario::parse("bench", &text, std::path::Path::new("."), &[], &read)
        .map_err(|e| CliError::Sim(format!("lblab bench: the three-tier model: {e}")))?;
    let mut w = s.world;
    w.max_events = u64::MAX;
    w.algorithm = algorithm.clone();
    for svc in &mut w.services {
        svc.algorithm = algorithm.clone();
    }
    Ok(w)
}

/// One measurement of `lblab bench`: the simulator on a world, or the bare loop.
struct Job {
    label: String,
    n: u32,
    what: What,
    /// The plain run at its size (the keep-alive model adds a second run per size).
    first_of_size: bool,
    wall: f64,
    /// The fastest run's CPU time, if the thread's can be read.
    cpu: Option<f64>,
    requests: u64,
    mean_s: f64,
    /// The largest resident set seen across its runs (MiB).
    rss: Option<f64>,
    /// Each run's seconds (as [`Job::seconds`]), in the order they ran.
    runs: Vec<f64>,
}

enum What {
    Sim(Box<WorldConfig>),
    Bare(BarePick),
}

impl Job {
    fn new(label: String, n: u32, what: What, first_of_size: bool) -> Job {
        Job {
            label,
            n,
            what,
            first_of_size,
            wall: f64::INFINITY,
            cpu: None,
            requests: 0,
            mean_s: f64::NAN,
            rss: None,
            runs: Vec::new(),
        }
    }

    /// Requests simulated per run, warm-up included.
    fn simulated(&self, a: &BenchArgs) -> u64 {
        match self.what {
            What::Sim(_) => self.requests + a.warmup,
            What::Bare(_) => a.warmup + a.requests,
        }
    }

    /// The fastest run's seconds that speeds are per: CPU where it can be read, else wall.
    fn seconds(&self) -> f64 {
        self.cpu.unwrap_or(self.wall)
    }

    /// Each run's speed in millions of requests per second, in the order they ran.
    fn rates(&self, a: &BenchArgs) -> Vec<f64> {
        let simulated = self.simulated(a) as f64;
        self.runs.iter().map(|s| simulated / s / 1e6).collect()
    }

    /// Runs it once; keeps the fastest wall and CPU times.
    fn measure(&mut self, a: &BenchArgs) -> Result<(), CliError> {
        reset_peak_rss();
        let cpu0 = thread_cpu_s();
        #[allow(clippy::disallowed_methods)] // the benchmark measures wall time, in cli
        let start = Instant::now();
        match &self.what {
            What::Sim(cfg) => {
                let r = World::new(cfg, &SeedTree::new(a.seed), 0)
                    .run()
                    .map_err(|e| CliError::Sim(format!("lblab bench: {e}")))?;
                self.requests = r.get(M::Issued) as u64;
                self.mean_s = r.get(M::LatencyMean) / 1e3;
            }
            &What::Bare(pick) => {
                let lambda = 0.9 * f64::from(self.n);
                let (done, mean) =
                    bench_bare::run(pick, self.n as usize, lambda, a.warmup, a.requests, a.seed);
                self.requests = done;
                self.mean_s = mean;
            }
        }
        let wall = start.elapsed().as_secs_f64();
        self.wall = self.wall.min(wall);
        let cpu = match (cpu0, thread_cpu_s()) {
            (Some(t0), Some(t1)) => Some(t1 - t0),
            _ => None,
        };
        self.cpu = match (self.cpu, cpu) {
            (best, Some(c)) => Some(best.unwrap_or(f64::INFINITY).min(c)),
            _ => None,
        };
        self.runs.push(cpu.unwrap_or(wall));
        self.rss = match (self.rss, peak_rss_mib()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(())
    }
}

/// A run later ones are related to: its size, its speed (the fastest run's) and each
/// repetition's, and whether it ran overloaded.
#[derive(Clone)]
struct Base {
    n: u32,
    rate: f64,
    rates: Vec<f64>,
    overloaded: bool,
}

impl Base {
    /// `other`'s speed relative to this one's, and the range of the repetitions' own
    /// ratios.
    fn relate(&self, other: &Base) -> (f64, Option<[f64; 2]>) {
        (
            other.rate / self.rate,
            ratio_range(&self.rates, &other.rates),
        )
    }
}

/// The smallest and the largest of the repetitions' own ratios `rates[k] / first[k]`; none
/// for a single repetition.
fn ratio_range(first: &[f64], rates: &[f64]) -> Option<[f64; 2]> {
    (rates.len() > 1).then(|| {
        first
            .iter()
            .zip(rates)
            .map(|(f, r)| r / f)
            .fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], x| {
                [lo.min(x), hi.max(x)]
            })
    })
}

/// ` (its 5 repetitions: 0.79–0.88×)` after a ratio, for a range of `n` repetitions.
fn spread(range: Option<[f64; 2]>, n: usize) -> String {
    match range {
        Some([lo, hi]) => format!(" (its {n} repetitions: {lo:.2}–{hi:.2}×)"),
        None => String::new(),
    }
}

/// Everything `lblab bench` measures for algorithm `name`, in the order it prints them:
/// per size, the simulator (and its keep-alive variant), then the bare loop.
fn jobs_for(a: &BenchArgs, name: &str, spec: &AlgorithmSpec) -> Result<Vec<Job>, CliError> {
    let mut jobs = Vec::new();
    for &n in &a.servers {
        let keep_alive_world = |spec: AlgorithmSpec| {
            let mut cfg = reference_world(spec, a.warmup, a.requests);
            cfg.population.clients = 100;
            cfg
        };
        let cfg = match a.model {
            Model::OneTier => {
                let mut cfg = reference_world_n(spec.clone(), a.warmup, a.requests, n);
                cfg.classes[0].keys = a.keys.map(|count| KeySpace {
                    count,
                    zipf: 0.0,
                    by_client: false,
                });
                cfg
            }
            Model::KeepAlive => keep_alive_world(spec.clone()),
            Model::ThreeTier => reference_three_tier(spec.clone(), a.warmup, a.requests)?,
        };
        jobs.push(Job::new(
            name.to_string(),
            n,
            What::Sim(Box::new(cfg)),
            true,
        ));
        if a.model == Model::KeepAlive {
            let mut cfg = keep_alive_world(spec.clone());
            cfg.connections = Some(crate::model::ConnConfig::defaults(
                crate::model::Protocol::Http1,
            ));
            jobs.push(Job::new(
                format!("{name} keep-alive"),
                n,
                What::Sim(Box::new(cfg)),
                false,
            ));
        }
        if let (false, Model::OneTier, Some(pick)) =
            (a.no_bare, a.model, BarePick::for_algorithm(name))
        {
            jobs.push(Job::new(
                format!("bare loop, {name}"),
                n,
                What::Bare(pick),
                false,
            ));
        }
    }
    Ok(jobs)
}

/// CPU seconds this thread has run (Linux: the first field of
/// `/proc/thread-self/schedstat`, nanoseconds on the CPU; not time waiting for it). The
/// kernel brings that count up to date when the thread yields (else it can be a
/// scheduler tick, milliseconds, behind), so it yields first.
fn thread_cpu_s() -> Option<f64> {
    std::thread::yield_now();
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// The processor's model name (Linux: `/proc/cpuinfo`; null elsewhere).
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// The CPUs this process may run on.
fn cpus() -> Option<usize> {
    std::thread::available_parallelism().ok().map(|n| n.get())
}

/// What measured: lblab's version and the machine, so that figures from two machines or
/// two versions are not compared unawares.
fn machine_line() -> String {
    let cpu = cpu_model().unwrap_or_else(|| "an unknown processor".into());
    let cpus = cpus().map_or(String::new(), |n| {
        format!(", {n} CPU{} available", if n == 1 { "" } else { "s" })
    });
    let per = if thread_cpu_s().is_some() {
        "CPU second of the one thread"
    } else {
        "wall-clock second"
    };
    format!(
        "lblab {} on {cpu}{cpus}; speeds are per {per}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Resets the process's peak resident set (Linux: `clear_refs` 5), so that the next
/// [`peak_rss_mib`] is the peak of what ran since; elsewhere it is the process's peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

const MODEL_KA: &str = "16 servers × 1 slot, exp(1) service, Poisson λ = 14.4 (ρ = 0.9), 100 clients, one thread; each algorithm without connections, then with HTTP/1.1 keep-alive connections ([connections] defaults: a client's connection is reused, its requests a few seconds apart)";
const MODEL3: &str = "edge → web → app → db, 16 servers each (web, app: 64 workers, exp(0.1 s); db: 1 worker, exp(1 s), ρ = 0.9), Poisson λ = 14.4, one thread";

/// The most servers `--servers` takes (the reference model allocates a few hundred bytes
/// per server and node).
const MAX_SERVERS: u32 = 1_000_000;

pub(super) fn bench(a: BenchArgs) -> Result<(), CliError> {
    let text = a.format == TextFormat::Text;
    if a.servers.is_empty() || a.servers.iter().any(|&n| n == 0 || n > MAX_SERVERS) {
        return Err(CliError::Input(format!(
            "lblab bench: --servers takes fleet sizes from 1 to {MAX_SERVERS}"
        )));
    }
    if a.model != Model::OneTier && a.servers != [16] {
        return Err(CliError::Input(
            "lblab bench: --servers is for the one-tier model (--model one-tier)".into(),
        ));
    }
    let sizes = a
        .servers
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let model_one = if a.servers == [16] {
        "16 servers × 1 slot, exp(1) service, Poisson λ = 14.4 (ρ = 0.9), one thread".to_string()
    } else {
        format!(
            "{sizes} servers × 1 slot, exp(1) service, Poisson λ = 0.9 × servers (ρ = 0.9), one thread"
        )
    };
    if a.model != Model::OneTier && a.keys.is_some() {
        return Err(CliError::Input(
            "lblab bench: --keys is for the one-tier model (--model one-tier)".into(),
        ));
    }
    let model_one = match a.keys {
        Some(k) => format!("{model_one}; each request carries one of {k} keys, uniformly"),
        None => model_one,
    };
    let (model, hops) = match a.model {
        Model::OneTier => (model_one.as_str(), 1),
        Model::ThreeTier => (MODEL3, 3),
        Model::KeepAlive => (MODEL_KA, 1),
    };
    // Every name first: a typo in the last of many algorithms must not cost the
    // measurements before it.
    let specs = a
        .algorithms
        .iter()
        .map(|name| {
            AlgorithmSpec::named(name)
                .map(|s| (name, s))
                .ok_or_else(|| {
                    CliError::Input(format!(
                        "lblab bench: unknown algorithm \"{name}\" (see lblab list algorithms)"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if text {
        out(&format!(
            "lblab bench: {model}\n{}\n{:<30} {:>8} {:>12} {:>10} {:>9} {:>11} {:>11} {:>13}\n",
            machine_line(),
            "algorithm",
            "servers",
            "requests",
            if thread_cpu_s().is_some() {
                "CPU s"
            } else {
                "wall s"
            },
            "Mreq/s",
            "Mhop-req/s",
            "mean T (s)",
            "peak RSS MiB"
        ))?;
    }
    let mut all = Vec::new();
    for &(name, ref spec) in &specs {
        let mut jobs = jobs_for(&a, name, spec)?;
        // Each repetition runs every size (and bare loop) once, in turn: a burst of load
        // from elsewhere on the machine then does not fall on one size alone, the fastest
        // of the repetitions is kept for each, and each repetition's own ratios show how
        // far the machine moved them.
        for _ in 0..a.repeat {
            for job in &mut jobs {
                job.measure(&a)?;
            }
        }
        let mut first_size: Option<Base> = None;
        // The bare loop's own speed at the first size: what the machine's caches cost a
        // loop with nothing to dilute them, beside the simulator's ratio.
        let mut first_bare: Option<Base> = None;
        // This size's plain run (the keep-alive variant and the bare loop are related to it).
        let mut size: Option<Base> = None;
        for job in jobs {
            let simulated = job.simulated(&a);
            // The bare loop runs the one-tier model: one hop per request.
            let hops = if matches!(job.what, What::Sim(_)) {
                hops
            } else {
                1
            };
            let mut m = Measured {
                algorithm: job.label.clone(),
                servers: job.n,
                requests: job.requests,
                simulated,
                wall_s: job.wall,
                cpu_s: job.cpu,
                mreq_per_s: simulated as f64 / job.seconds() / 1e6,
                mean_latency_s: job.mean_s,
                overloaded: a.model == Model::OneTier && job.mean_s > OVERLOADED_MEAN_S,
                hops_per_request: hops,
                mhop_per_s: (simulated * hops) as f64 / job.seconds() / 1e6,
                peak_rss_mib: job.rss,
                vs_first_size: None,
                vs_first_size_range: None,
                vs_bare: None,
            };
            let this = Base {
                n: job.n,
                rate: m.mreq_per_s,
                rates: job.rates(&a),
                overloaded: m.overloaded,
            };
            match job.what {
                What::Sim(_) if job.first_of_size => {
                    // This size against the first one.
                    if text {
                        row(&m)?;
                    }
                    if let Some(first) = &first_size {
                        let (vs, range) = first.relate(&this);
                        (m.vs_first_size, m.vs_first_size_range) = (Some(vs), range);
                        if text {
                            let why = if first.overloaded || m.overloaded {
                                " (overloaded: a backlog's speed, not a pick's; see below)"
                            } else {
                                ""
                            };
                            note(&format!(
                                "{vs:.2}× its speed at {} servers{}{why}",
                                first.n,
                                spread(range, this.rates.len())
                            ))?;
                        }
                    }
                    first_size.get_or_insert_with(|| this.clone());
                    size = Some(this);
                }
                What::Sim(_) => {
                    if text {
                        row(&m)?;
                        if let Some(plain) = &size {
                            let (vs, range) = plain.relate(&this);
                            note(&format!(
                                "{vs:.2}× the connection-less speed{}",
                                spread(range, this.rates.len())
                            ))?;
                        }
                    }
                }
                What::Bare(_) => {
                    // The algorithm at this size against the bare loop.
                    let rate = size.as_ref().map_or(f64::NAN, |s| s.rate);
                    if let Some(sim) = all
                        .iter_mut()
                        .rev()
                        .find(|x: &&mut Measured| x.algorithm == *name && x.servers == job.n)
                    {
                        sim.vs_bare = Some(rate / m.mreq_per_s);
                    }
                    if let Some(first) = &first_bare {
                        let (vs, range) = first.relate(&this);
                        (m.vs_first_size, m.vs_first_size_range) = (Some(vs), range);
                    }
                    if text {
                        row(&m)?;
                        let own = match (m.vs_first_size, &first_bare) {
                            (Some(v), Some(first)) => format!(
                                " (the bare loop: {v:.2}× its speed at {} servers)",
                                first.n
                            ),
                            _ => String::new(),
                        };
                        note(&format!(
                            "lblab runs at {:.2}× the bare loop's speed{own}",
                            rate / m.mreq_per_s
                        ))?;
                    }
                    first_bare.get_or_insert(this);
                }
            }
            all.push(m);
        }
    }
    if text && all.iter().any(|m| m.overloaded) {
        out(&format!("\n{OVERLOADED_NOTE}"))?;
    }
    if !text {
        let doc = serde_json::json!({
            "model": model,
            "seed": a.seed,
            "keys": a.keys,
            "warmup_requests": a.warmup,
            "lblab_version": env!("CARGO_PKG_VERSION"),
            "cpu": cpu_model(),
            "cpus": cpus(),
            "results": all,
        });
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("JSON values serialise")
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ratio_range;

    /// Each repetition's ratio is its own size's speed over the first size's in the same
    /// repetition, not over the fastest.
    #[test]
    fn the_range_is_of_each_repetitions_own_ratio() {
        assert_eq!(
            ratio_range(&[2.0, 4.0, 5.0], &[1.0, 3.0, 4.0]),
            Some([0.5, 0.8])
        );
        assert_eq!(ratio_range(&[2.0], &[1.0]), None);
    }
}
