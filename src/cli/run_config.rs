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
use crate::import::Format;

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

/// The format of `config`: as given, else as its file name suggests.
fn format_of(config: &Path, given: Option<ConfigFormat>) -> Format {
    match given {
        Some(ConfigFormat::Nginx) => Format::Nginx,
        Some(ConfigFormat::Haproxy) => Format::Haproxy,
        Some(ConfigFormat::Envoy) => Format::Envoy,
        None => Format::of_path(config),
    }
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
    let fmt = format_of(config, format);
    let imported = fmt.import(config, upstream, &Disk).map_err(|e| {
        // A format guessed from the file's name may be the wrong one: say which it was,
        // and how to name another.
        let guessed = match format {
            Some(_) => String::new(),
            None => {
                let others: Vec<&str> = Format::ALL
                    .iter()
                    .filter(|&&f| f != fmt)
                    .map(|f| f.name())
                    .collect();
                format!(
                    " (read as {} configuration from its name; --config-format {} if it is not)",
                    fmt.name(),
                    others.join(" or ")
                )
            }
        };
        CliError::Input(format!("lblab: --config: {e}{guessed}"))
    })?;
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
