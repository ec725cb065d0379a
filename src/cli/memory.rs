//! `--max-memory`: the limit on what a scenario may need (estimated by
//! `model::memory` before anything is allocated), and the check against it.

use std::sync::OnceLock;

use crate::model::WorldConfig;
use crate::model::memory::{Outputs, estimate, show_bytes};

use super::CliError;

static LIMIT: OnceLock<f64> = OnceLock::new();

/// Sets the limit (`None`: [`default_limit`]).
pub(super) fn set_limit(limit: Option<f64>) {
    let _ = LIMIT.set(limit.unwrap_or_else(default_limit));
}

fn limit() -> f64 {
    *LIMIT.get_or_init(default_limit)
}

/// Half of `MemTotal` in /proc/meminfo (4 GB where it is not known), and at most half
/// of the process's address-space limit (`ulimit -v`, `prlimit --as`) when it has one:
/// the estimate leaves room for what it does not count.
fn default_limit() -> f64 {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024.0 / 2.0)
        })
        .unwrap_or(4e9);
    let address_space = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            let line = l.lines().find(|l| l.starts_with("Max address space"))?;
            line.split_whitespace().nth(3)?.parse::<f64>().ok()
        })
        .map_or(f64::INFINITY, |b| b / 2.0);
    machine.min(address_space)
}

/// A size like `4GB`, `512MB`, `2GiB`, `1e9` (bytes).
pub(super) fn parse_size(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let x: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a size like 4GB or 512MB, found `{s}`"))?;
    let f = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown unit in `{s}`: use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ));
        }
    };
    let bytes = x * f;
    if !(bytes.is_finite() && bytes > 0.0) {
        return Err(format!("expected a positive size, found `{s}`"));
    }
    Ok(bytes)
}

/// Refuses the worlds of one command (its variants, each run `replications` times) if the
/// largest one's estimate exceeds the limit, naming what needs it.
pub(crate) fn check_run(
    file: &str,
    worlds: &[&WorldConfig],
    replications: u32,
) -> Result<(), CliError> {
    let out = Outputs {
        variants: worlds.len().max(1) as u32,
        replications,
    };
    let total = |w: &WorldConfig| estimate(w, out).iter().map(|n| n.bytes).sum::<f64>();
    match worlds.iter().max_by(|a, b| total(a).total_cmp(&total(b))) {
        Some(w) => check(file, w, out),
        None => Ok(()),
    }
}

/// Refuses a scenario whose estimate exceeds the limit, naming what needs it.
pub(crate) fn check(file: &str, w: &WorldConfig, out: Outputs) -> Result<(), CliError> {
    let needs = estimate(w, out);
    let total: f64 = needs.iter().map(|n| n.bytes).sum();
    let max = limit();
    if total <= max {
        return Ok(());
    }
    let mut msg = format!(
        "lblab: {file}: the scenario would need about {} of memory, more than the limit of {} (--max-memory):",
        show_bytes(total),
        show_bytes(max)
    );
    for n in needs.iter().filter(|n| n.bytes >= total / 100.0).take(5) {
        msg.push_str(&format!(
            "\n  {} for {} ({})",
            show_bytes(n.bytes),
            n.what,
            n.keys
        ));
    }
    msg.push_str("\nmake those keys smaller, or raise --max-memory if the machine has the memory");
    Err(CliError::Input(msg))
}
