//! `lblab run WORKLOAD --config CONFIG`: a real nginx, HAProxy or Envoy configuration run
//! against a workload file without an intermediate scenario file. The upstream, backend or
//! cluster is
//! imported as `lblab import` would (`crate::import`), appended to the workload's text,
//! and the combined text stands in for the workload file for the rest of the command
//! (`files::set_overlay`), so the scenario reader checks it like any scenario: a problem
//! in the workload is reported at its own line, one in the imported part at a line past
//! the workload's end, under a comment that says it was imported.

use std::path::Path;

use super::import::Disk;
use super::{CliError, files};

/// The configuration's format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigFormat {
    /// An nginx configuration (its `upstream` blocks).
    Nginx,
    /// An HAProxy configuration (its `backend` and `listen` sections).
    Haproxy,
    /// An Envoy configuration in YAML or JSON (a cluster, or a bootstrap's clusters).
    Envoy,
}

/// The format of `config`: as given, or haproxy for a `.cfg` file, envoy for `.yaml`,
/// `.yml` and `.json`, else nginx.
fn format_of(config: &Path, given: Option<ConfigFormat>) -> ConfigFormat {
    given.unwrap_or_else(
        || match config.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "cfg" => ConfigFormat::Haproxy,
            "yaml" | "yml" | "json" => ConfigFormat::Envoy,
            _ => ConfigFormat::Nginx,
        },
    )
}

/// Imports `config`'s `upstream` (block), appends it to `workload`'s text and makes that
/// the text of `workload` for this command. Untranslated directives are printed as
/// warnings unless `quiet`.
pub(super) fn overlay(
    workload: &Path,
    config: &Path,
    format: Option<ConfigFormat>,
    upstream: Option<&str>,
    quiet: bool,
) -> Result<(), CliError> {
    let w = workload.display();
    if !workload.is_file() {
        return Err(CliError::Input(format!(
            "lblab: --config runs a configuration against a workload file, and {w} is not a file"
        )));
    }
    let text = files::read(workload)
        .map_err(|e| CliError::Input(format!("lblab: cannot read {w}: {e}")))?;
    let imported = match format_of(config, format) {
        ConfigFormat::Nginx => crate::import::nginx::import(config, upstream, &Disk),
        ConfigFormat::Haproxy => crate::import::haproxy::import(config, upstream, &Disk),
        ConfigFormat::Envoy => crate::import::envoy::import(config, upstream, &Disk),
    }
    .map_err(|e| CliError::Input(format!("lblab: --config: {e}")))?;
    let f = &imported.fragment;
    // The workload may not set what the configuration provides (TOML would refuse the
    // table twice anyway; say why).
    if let Ok(doc) = text.parse::<toml::Table>() {
        let provided = [
            ("servers", true),
            ("balancer", !f.balancer.is_empty()),
            ("lb", !f.lb.is_empty()),
            (
                "health",
                !f.health.is_empty()
                    || !f.active.is_empty()
                    || !f.passive.is_empty()
                    || !f.slow_start.is_empty(),
            ),
        ];
        if let Some((key, _)) = provided
            .iter()
            .find(|(k, provides)| *provides && doc.contains_key(*k))
        {
            return Err(CliError::Input(format!(
                "lblab: {w} sets [{key}], which the configuration {} provides: remove it from the workload (or change the imported value with --set {key}.KEY=VALUE)",
                config.display()
            )));
        }
    }
    if !quiet {
        for n in &f.notes {
            eprintln!("warning: {}: approximated: {n}", config.display());
        }
        for u in &f.untranslated {
            eprintln!("warning: {}: not translated: `{}`: {}", u.at, u.what, u.why);
        }
    }
    let combined = format!(
        "{text}\n\n# ---- imported from {} by `lblab run --config` (the lines below are not in {w}) ----\n{}",
        config.display(),
        f.to_toml()
    );
    files::set_overlay(workload, combined);
    Ok(())
}
