//! The command line: argument parsing (clap), the rayon fan-out over replications, files,
//! progress bars and exit codes. This is the only module that touches the filesystem, the
//! wall clock, threads or the terminal.
//!
//! Exit codes: 0 success, 1 a simulation failed (an invariant or the event cap), 2 bad
//! input (usage, scenario, IO).

mod bench;
mod bench_bare;
mod color;
mod completions;
mod files;
mod import;
mod list;
mod memory;
mod merge;
mod new;
mod progress;
mod report;
mod run;
mod run_config;
mod serve;
mod sweep;
mod trace;
mod validate;
pub mod variants;

/// How `lblab` reads a scenario file's bytes (for the scenario reader's fuzz target,
/// fuzz/fuzz_targets/scenario.rs): UTF-8 with or without a byte order mark, else an error
/// naming the first bad byte's line and column.
pub use files::decode;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// An error with the exit code it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Bad input: usage, scenario problems, unreadable or unwritable files (exit 2).
    Input(String),
    /// A simulation failed: invariant violation or event cap (exit 1).
    Sim(String),
}

impl CliError {
    fn code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            CliError::Sim(_) => 1,
        }
    }
}

/// Deterministic discrete-event simulator and algorithm lab for load balancing.
///
/// Scenario files describe clients, request classes, servers and a balancing algorithm;
/// lblab simulates them with the real algorithms' semantics and reports latency tails,
/// errors and imbalance with 95% confidence intervals. The same scenario and seed always
/// give byte-identical CSV files.
#[derive(Parser, Debug)]
#[command(
    name = "lblab",
    version = env!("LBLAB_VERSION_LONG"),
    max_term_width = 100,
    after_help = "Examples:\n  lblab compare scenarios/quick-start.toml\n  lblab run scenarios/slow-query.toml --algorithm least-connections --set clients.rate=500/s\n  lblab validate scenarios/*.toml\n  lblab list algorithms\n  lblab completions bash > ~/.local/share/bash-completion/completions/lblab\n\nScenario format: docs/scenario-reference.md. Exit codes: 0 ok, 1 simulation failed, 2 bad input."
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// When to colour errors and help. --color always/never win over the environment.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = color::ColorWhen::Auto)]
    color: color::ColorWhen,
    /// The most memory a scenario may need, estimated from its keys before anything is
    /// allocated (like 4GB, 512MB, 2GiB): a scenario that needs more is refused, naming
    /// the keys. Default: half of this machine's memory (4 GB where it is not known), and
    /// at most half of the process's address-space limit (ulimit -v) if it has one.
    #[arg(long, global = true, value_name = "SIZE", value_parser = memory::parse_size)]
    max_memory: Option<f64>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a scenario with its configured algorithm: print a summary table and write
    /// summary.csv, servers.csv and manifest.toml under results/<scenario>/run/.
    Run(RunArgs),
    /// Run the same workload under several algorithms (common random numbers: every
    /// algorithm sees the same arrivals and service times) and print them side by side.
    Compare(CompareArgs),
    /// Run a grid of scenario parameters (e.g. --param clients.rate=100/s..1000/s:100/s)
    /// crossed with algorithms; one CSV row per point × algorithm × replication plus
    /// aggregates. --shard k/n runs a slice for a cluster; `lblab merge` joins the slices.
    Sweep(sweep::SweepArgs),
    /// Merge the results directories of a sharded sweep into the unsharded result: checks
    /// that they are one sweep (scenario digest, grid, seed, replications, algorithms, lblab
    /// version) with no shard missing, given twice or unfinished, then writes sweep.csv,
    /// manifest.toml, the charts and report.html and prints the sweep's table.
    Merge(merge::MergeArgs),
    /// Follow the first requests of a run step by step (for teaching): which node each
    /// reaches, what the balancer saw (in-flight counts, weights, its own state such as
    /// nginx's current weights) and chose, queueing and service, answers, retries and
    /// timeouts, and the calls each makes to other services through their tiers, with
    /// health checks, failures and load balancer failovers in between. Prints to stdout;
    /// writes no files.
    #[command(
        after_help = "Examples:\n  lblab trace scenarios/heterogeneous.toml -a weighted-round-robin -n 8\n  lblab trace scenarios/lb-failover.toml --from 60s -n 5 --set lb.topology=anycast"
    )]
    Trace(trace::TraceArgs),
    /// Check scenario files and report every problem with its file, line and key path.
    /// Exit code 2 if any file is invalid.
    Validate {
        /// Scenario files to check (or bundled scenario names).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// key.path=value overrides applied before checking (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Output: text (diagnostics on stderr) or json (one object per file on stdout,
        /// with every problem's file, line, column, key path, message and hint).
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Translate the load-balancing part of a real nginx, HAProxy or Envoy configuration
    /// (an upstream, a backend or a cluster) into a scenario fragment: [[servers]],
    /// [balancer], [lb] and [health], with a `# not translated` comment (file:line and why)
    /// for everything left out. Add [scenario], [clients] and [[classes]] to run it. Exit
    /// code 2 on a malformed file (with its line) or when the configuration has several
    /// upstreams, backends or clusters and none is chosen.
    #[command(
        after_help = "Examples:\n  lblab import nginx /etc/nginx/nginx.conf --upstream api -o api.toml\n  lblab import haproxy haproxy.cfg --backend app\n  lblab import envoy envoy.yaml --cluster payments\n\nMapping and limits: docs/import.md."
    )]
    Import(import::ImportArgs),
    /// List what exists: balancing algorithms, distributions or bundled scenarios.
    List {
        /// What to list.
        what: ListWhat,
        /// Output: text or json.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Measure simulation speed and memory on the reference model
    /// (16 servers × 1 slot, exponential service mean 1, Poisson λ = 14.4; other fleet
    /// sizes with --servers, beside a bare event loop). Speed is simulated requests per
    /// CPU second of the run's thread on Linux (time it waited for the CPU does not
    /// count), per wall-clock second elsewhere.
    Bench(bench::BenchArgs),
    /// Write an editable copy of a bundled scenario (default: quick-start) to NAME.toml in
    /// this directory, renamed NAME; then `lblab validate NAME.toml` and run it.
    #[command(
        after_help = "Examples:\n  lblab new mine\n  lblab new failover-lab --from crash-failover\n  lblab list scenarios"
    )]
    New(new::NewArgs),
    /// Rebuild the charts (SVG and PNG) and report.html of a results directory from its
    /// CSV files and manifest.toml alone; nothing is simulated.
    ///
    /// Charts are drawn for the inputs present: latency percentiles (latency.csv),
    /// p50/p99/p99.9 (summary.csv), per-server load (servers.csv), time series
    /// (timeseries.csv, with failovers.csv, health.csv, changes.csv and ha.csv as markers) and
    /// sweep curves and heatmaps (sweep.csv). report.html is self-contained: inline CSS
    /// and SVG, no network. The same files always give the same bytes.
    #[command(
        after_help = "Example:\n  lblab compare scenarios/quick-start.toml --out /tmp/qs\n  lblab report /tmp/qs"
    )]
    Report {
        /// The results directory (as written by run, compare or sweep).
        dir: PathBuf,
    },
    /// Start the browser lab: a local web page to pick or edit a scenario (problems shown
    /// at their line), run it with a progress bar, read the table, charts and report, and
    /// step through a trace as an animation. Listens on 127.0.0.1 only unless --bind says
    /// otherwise; needs no network.
    #[command(
        after_help = "Examples:\n  lblab serve                 then open http://127.0.0.1:8437/\n  lblab serve --port 0        any free port (printed)\n  lblab serve --out lab-runs  keep every run's results in ./lab-runs"
    )]
    Serve(serve::ServeArgs),
    /// Print a shell completion script, generated from these very definitions.
    #[command(
        after_help = "Install, e.g.:\n  bash: lblab completions bash > ~/.local/share/bash-completion/completions/lblab\n  zsh:  lblab completions zsh > ~/.zfunc/_lblab   (with fpath+=~/.zfunc before compinit)\n  fish: lblab completions fish > ~/.config/fish/completions/lblab.fish\n  PowerShell: lblab completions powershell | Out-String | Invoke-Expression"
    )]
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) of lblab, or of one command with `lblab man COMMAND`.
    #[command(
        after_help = "Example:\n  lblab man | man -l -\n  lblab man compare > lblab-compare.1"
    )]
    Man(completions::ManArgs),
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum ListWhat {
    /// Balancing algorithms and their parameters.
    Algorithms,
    /// Service/think/network time distributions.
    Distributions,
    /// The scenarios bundled in the binary: name, the question each answers, its lesson.
    Scenarios,
    /// Presets for `[lb] preset`: load balancers people run, their settings and sources.
    Presets,
}

/// Output format of list, validate and bench.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TextFormat {
    /// Text for people.
    #[value(alias = "table")]
    Text,
    /// JSON for scripts.
    Json,
}

/// Output format of the summary on stdout.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table for people.
    Table,
    /// JSON document for scripts.
    Json,
    /// summary.csv on stdout.
    Csv,
}

/// Flags shared by the commands that run simulations.
#[derive(clap::Args, Debug)]
struct CommonArgs {
    /// The scenario file (TOML), or the name of a bundled scenario (`lblab list scenarios`)
    /// when no such file exists.
    file: PathBuf,
    /// Master seed (overrides scenario.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of replications (overrides scenario.replications).
    #[arg(short = 'r', long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    replications: Option<u32>,
    /// Override any scenario key, e.g. --set clients.rate=1200/s or
    /// --set servers.web.slots=8 (repeatable). Applied after the algorithm is chosen, so
    /// --set balancer.KEY=V sets the chosen algorithm's parameters (in a comparison, of
    /// those that have KEY; refused if none has it). Never dropped: it takes effect or
    /// lblab exits 2 saying why.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Results directory (default: results/<scenario>/<command>).
    #[arg(short = 'o', long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// Print nothing but errors (results files are still written).
    #[arg(short = 'q', long)]
    quiet: bool,
}

impl CommonArgs {
    /// Applies --seed and --replications.
    fn apply(&self, s: &mut crate::scenario::Scenario) {
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        if let Some(r) = self.replications {
            s.replications = r;
        }
    }
}

/// How the summary table on the terminal is laid out (run and compare).
#[derive(clap::Args, Debug)]
struct TableArgs {
    /// Rows of the summary table, in this order: metric keys as in summary.csv
    /// (latency_p99_ms), the same without the unit suffix (error_rate, utilization) or
    /// p50, p90, p99, p999, max, mean, rps, attempts, detection, recovery, cpu; `all` for
    /// every row. Without it, rows that are zero or n/a for every variant are hidden (and
    /// counted). --format json and csv always hold every metric.
    #[arg(long, value_delimiter = ',', value_name = "M1,M2,..")]
    metrics: Vec<String>,
    /// Do not split the table to fit the width (default width: $COLUMNS, else the
    /// terminal's, else 100 columns).
    #[arg(long)]
    wide: bool,
}

impl TableArgs {
    /// The layout: rows from --metrics (exit 2 on an unknown name), width from --wide,
    /// $COLUMNS or the terminal.
    fn layout(&self) -> Result<crate::report::table::Layout, CliError> {
        let metrics = if self.metrics.is_empty() {
            None
        } else {
            Some(
                crate::report::table::metrics_by_names(&self.metrics)
                    .map_err(|e| CliError::Input(format!("lblab: --metrics: {e}")))?,
            )
        };
        let width = if self.wide {
            usize::MAX
        } else {
            terminal_width().unwrap_or(crate::report::table::DEFAULT_WIDTH)
        };
        Ok(crate::report::table::Layout { width, metrics })
    }
}

/// The width to fit: $COLUMNS if set, else the terminal's (`stty size` on /dev/tty) when
/// stdout is one; at least 40.
fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    let cols = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .or_else(|| {
            if !std::io::stdout().is_terminal() {
                return None;
            }
            let tty = std::fs::File::open("/dev/tty").ok()?;
            let o = std::process::Command::new("stty")
                .arg("size")
                .stdin(tty)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            String::from_utf8(o.stdout)
                .ok()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })?;
    Some(cols.max(40))
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    table: TableArgs,
    /// Balancing algorithm: replaces [balancer] with NAME and its default parameters;
    /// --set balancer.KEY=V then sets NAME's parameters.
    #[arg(short = 'a', long, value_name = "NAME")]
    algorithm: Option<String>,
    /// Run a real load balancer configuration (nginx, HAProxy or Envoy) against FILE's
    /// workload: FILE holds [scenario], [clients], [[classes]] (and failures, ...) but no
    /// [[servers]]; CONFIG's upstream, backend or cluster supplies [[servers]], [balancer],
    /// [lb] and [health] exactly as `lblab import` writes them, and what could not be
    /// translated is printed as warnings. `--workload FILE` may name FILE.
    #[arg(long, value_name = "CONFIG")]
    config: Option<PathBuf>,
    /// CONFIG's format (default: haproxy for a file whose name ends in .cfg, envoy for
    /// .yaml, .yml or .json, else nginx).
    #[arg(long, value_enum, value_name = "FORMAT", requires = "config")]
    config_format: Option<run_config::ConfigFormat>,
    /// The upstream (nginx), backend (HAProxy) or cluster (Envoy) of CONFIG to run, when it
    /// has several.
    #[arg(
        long,
        visible_aliases = ["backend", "cluster"],
        value_name = "NAME",
        requires = "config"
    )]
    upstream: Option<String>,
}

#[derive(clap::Args, Debug)]
struct CompareArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    table: TableArgs,
    /// Algorithms to compare (default: the scenario's [compare] algorithms). Each
    /// replaces [balancer]; --set balancer.KEY=V applies to those that have KEY, and a
    /// note under the table says which.
    #[arg(long, value_delimiter = ',', value_name = "A,B,..")]
    algorithms: Vec<String>,
    /// The variant the others are compared with, pair by pair (default: the first).
    #[arg(long, value_name = "LABEL")]
    baseline: Option<String>,
    /// Vary one scenario key instead of (or crossed with) the algorithm, e.g.
    /// --axis sessions.state=server,shared,token or --axis clients.rate=500/s,900/s
    /// (default: the scenario's [compare] axis, if any). The key gets its own column in
    /// every CSV; it may not also be given with --set.
    #[arg(long, value_name = "KEY=V1,V2,..")]
    axis: Option<String>,
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> ExitCode {
    install_panic_hook();
    // --color is read before parsing so that clap's own errors and help follow it too.
    let args = workload_spelling(std::env::args_os().collect());
    let when = color::from_args(&args);
    color::init(when);
    let parsed = Cli::command()
        .color(when.clap())
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = match &e {
                CliError::Input(m) | CliError::Sim(m) => m,
            };
            color::eprint(&format!("{}\n", color::failure(msg.trim_end())));
            ExitCode::from(e.code())
        }
    }
}

/// `lblab run --config CONFIG --workload FILE` (the spelling of issue and docs alike) is
/// `lblab run FILE --config CONFIG`: the value of `--workload` becomes the positional FILE.
fn workload_spelling(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(run) = args.iter().position(|a| a == "run") else {
        return args;
    };
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let Some(i) = (run + 1..end).find(|&i| {
        let a = args[i].to_string_lossy();
        a == "--workload" || a.starts_with("--workload=")
    }) else {
        return args;
    };
    let flag = args.remove(i).to_string_lossy().into_owned();
    let value = match flag.strip_prefix("--workload=") {
        Some(v) => v.into(),
        None if i < args.len() => args.remove(i),
        // `--workload` without a value: leave it for clap to report.
        None => {
            args.insert(i, flag.into());
            return args;
        }
    };
    args.insert(run + 1, value);
    args
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    memory::set_limit(cli.max_memory);
    match cli.cmd {
        Cmd::Run(a) => run::run(a),
        Cmd::Compare(a) => run::compare(a),
        Cmd::Sweep(a) => sweep::sweep(a),
        Cmd::Merge(a) => merge::merge(a),
        Cmd::Trace(a) => trace::trace(a),
        Cmd::Validate { files, set, format } => validate::validate(&files, &set, format),
        Cmd::List { what, format } => list::list(what, format),
        Cmd::Import(a) => import::import(a),
        Cmd::Bench(a) => bench::bench(a),
        Cmd::Report { dir } => report::report(&dir),
        Cmd::New(a) => new::new(a),
        Cmd::Serve(a) => serve::serve(a),
        Cmd::Completions(a) => completions::completions(a),
        Cmd::Man(a) => completions::man(a),
    }
}

/// Writes to stdout; a closed pipe (`lblab ... | head`) is not an error.
pub(crate) fn out(s: &str) -> Result<(), CliError> {
    let mut o = std::io::stdout().lock();
    match o.write_all(s.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Input(format!(
            "lblab: cannot write to stdout: {e}"
        ))),
    }
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "lblab: internal error (a bug in lblab; please report it with the scenario): {msg}{at}"
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::workload_spelling;

    fn args(s: &str) -> Vec<std::ffi::OsString> {
        s.split(' ').map(Into::into).collect()
    }

    #[test]
    fn workload_option_becomes_the_scenario_file() {
        for (given, want) in [
            (
                "lblab run --config n.conf --workload w.toml -r 1",
                "lblab run w.toml --config n.conf -r 1",
            ),
            (
                "lblab --color never run --workload=w.toml --config n.conf",
                "lblab --color never run w.toml --config n.conf",
            ),
            (
                "lblab run w.toml --config n.conf",
                "lblab run w.toml --config n.conf",
            ),
            (
                "lblab run --config n.conf --workload",
                "lblab run --config n.conf --workload",
            ),
            (
                "lblab run w.toml -- --workload x",
                "lblab run w.toml -- --workload x",
            ),
        ] {
            assert_eq!(workload_spelling(args(given)), args(want), "{given}");
        }
    }
}
