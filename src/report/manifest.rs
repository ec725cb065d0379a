//! `manifest.toml`: what produced a results directory, so it can be reproduced.

use super::RunInfo;

/// Facts recorded in the manifest besides the [`RunInfo`].
#[derive(Clone, Debug)]
pub struct ManifestExtra<'a> {
    /// The command line as typed (arguments joined by spaces).
    pub command: &'a str,
    /// The scenario file as named on the command line.
    pub scenario_file: &'a str,
    /// FNV-1a hash of the scenario text and overrides.
    pub scenario_hash: u64,
    /// Algorithms in the results.
    pub algorithms: &'a [String],
    /// Files in the directory (besides the manifest).
    pub files: &'a [&'a str],
    /// The `--set` overrides applied to the scenario.
    pub parameters: &'a [String],
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Renders `manifest.toml`.
pub fn manifest_toml(info: &RunInfo, x: &ManifestExtra<'_>) -> String {
    let list = |xs: &mut dyn Iterator<Item = String>| xs.collect::<Vec<_>>().join(", ");
    format!(
        "# Written by lblab; rerun the command below to reproduce these files byte for byte.\n\
         lblab_version = {}\n\
         command = {}\n\
         scenario = {}\n\
         description = {}\n\
         scenario_file = {}\n\
         scenario_hash = \"fnv1a64:{:016x}\"\n\
         seed = {}\n\
         replications = {}\n\
         duration_s = {}\n\
         warmup_s = {}\n\
         algorithms = [{}]\n\
         files = [{}]\n\
         parameters = [{}]\n",
        q(env!("LBLAB_VERSION_LONG")),
        q(x.command),
        q(&info.scenario),
        q(&info.description),
        q(x.scenario_file),
        x.scenario_hash,
        info.seed,
        info.replications,
        info.duration_s,
        info.warmup_s,
        list(&mut x.algorithms.iter().map(|a| q(a))),
        list(&mut x.files.iter().map(|f| q(f))),
        list(&mut x.parameters.iter().map(|p| q(p))),
    )
}
