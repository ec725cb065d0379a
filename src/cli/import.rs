//! `lblab import nginx|haproxy|envoy FILE`: the load-balancing part of a real configuration as a
//! scenario fragment, on stdout or written atomically to `-o OUT`.

use std::path::{Path, PathBuf};

use super::{CliError, files, out};
use crate::import::Format;

#[derive(clap::Args, Debug)]
pub(super) struct ImportArgs {
    #[command(subcommand)]
    system: System,
}

#[derive(clap::Subcommand, Debug)]
enum System {
    /// Import an nginx `upstream` block: its servers (weight, max_fails, fail_timeout,
    /// backup; down servers are left out), its method (least_conn, ip_hash, hash KEY
    /// [consistent], random [two [least_conn]]) and the proxy_next_upstream,
    /// proxy_next_upstream_tries and proxy_read_timeout in force where a proxy_pass sends
    /// requests to it. `include` is followed (relative to the main file's directory, globs
    /// in byte order).
    #[command(
        after_help = "Examples:\n  lblab import nginx /etc/nginx/nginx.conf --upstream api\n  lblab import nginx nginx.conf -o api.toml"
    )]
    Nginx {
        /// The nginx configuration file.
        file: PathBuf,
        /// The upstream to import (required when the configuration has several).
        #[arg(long, value_name = "NAME")]
        upstream: Option<String>,
        /// Write the fragment to OUT (atomically) instead of stdout.
        #[arg(short = 'o', long, value_name = "OUT")]
        out: Option<PathBuf>,
    },
    /// Import an HAProxy `backend` or `listen` section with the `defaults` in force for it:
    /// balance and hash-type, hash-balance-factor, server and default-server lines
    /// (weight, check, inter, fastinter, downinter, rise, fall, slowstart, backup, maxconn,
    /// observe, error-limit, on-error, disabled), timeout check, timeout server, retries,
    /// retry-on, option redispatch, option allbackups, option httpchk. Conditional blocks
    /// (.if/.elif/.else/.endif) are read as HAProxy reads them; a condition on the machine
    /// (defined(), feature(), version_atleast(), ...) is refused where it matters.
    #[command(
        after_help = "Examples:\n  lblab import haproxy /etc/haproxy/haproxy.cfg --backend app\n  lblab import haproxy haproxy.cfg -o app.toml"
    )]
    Haproxy {
        /// The HAProxy configuration file.
        file: PathBuf,
        /// The backend (or listen section) to import (required when there are several).
        #[arg(long, value_name = "NAME")]
        backend: Option<String>,
        /// Write the fragment to OUT (atomically) instead of stdout.
        #[arg(short = 'o', long, value_name = "OUT")]
        out: Option<PathBuf>,
    },
    /// Import an Envoy cluster from YAML or JSON (a cluster, a list of clusters, a
    /// bootstrap's static_resources.clusters, or a discovery response's resources):
    /// lb_policy or load_balancing_policy with its config (ROUND_ROBIN, LEAST_REQUEST,
    /// RANDOM, RING_HASH, MAGLEV), the load_assignment's endpoints with their weights and
    /// priorities, health_checks, outlier_detection, common_lb_config's
    /// healthy_panic_threshold, slow_start_config, and the timeout and retry_policy of a
    /// route in the file that sends requests to the cluster (with the retry circuit
    /// breakers).
    #[command(
        after_help = "Examples:\n  lblab import envoy envoy.yaml --cluster payments\n  lblab import envoy cds.json -o payments.toml"
    )]
    Envoy {
        /// The Envoy configuration file (YAML or JSON).
        file: PathBuf,
        /// The cluster to import (required when there are several).
        #[arg(long, value_name = "NAME")]
        cluster: Option<String>,
        /// Write the fragment to OUT (atomically) instead of stdout.
        #[arg(short = 'o', long, value_name = "OUT")]
        out: Option<PathBuf>,
    },
}

/// The filesystem, for the importer.
pub struct Disk;

impl crate::import::Files for Disk {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect()
    }
}

pub(super) fn import(a: ImportArgs) -> Result<(), CliError> {
    let (format, file, name, out_path) = match &a.system {
        System::Nginx {
            file,
            upstream,
            out,
        } => (Format::Nginx, file, upstream, out),
        System::Haproxy { file, backend, out } => (Format::Haproxy, file, backend, out),
        System::Envoy { file, cluster, out } => (Format::Envoy, file, cluster, out),
    };
    let result = format.import(file, name.as_deref(), &Disk);
    let imported = result.map_err(|e| CliError::Input(format!("lblab: import: {e}")))?;
    let text = imported.fragment.to_toml();
    match out_path {
        Some(p) => files::write_atomic(p, &text),
        None => out(&text),
    }
}
