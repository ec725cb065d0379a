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
    /// Every variant that ran, with all the overrides that made it.
    pub variants: &'a [ManifestVariant<'a>],
    /// What the output says about the comparison (overrides applied to some variants
    /// only, factors besides the compared one that differ).
    pub notes: &'a [String],
}

/// One variant in the manifest.
#[derive(Clone, Debug)]
pub struct ManifestVariant<'a> {
    /// Its name in tables and CSVs.
    pub label: &'a str,
    /// The algorithm (with non-default parameters).
    pub algorithm: &'a str,
    /// Varied keys and their values.
    pub factors: &'a [(String, String)],
    /// Every override applied to the scenario file to make it, in order.
    pub sets: &'a [String],
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
         parameters = [{}]\n\
         notes = [{}]\n{}",
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
        list(&mut x.notes.iter().map(|p| q(p))),
        variants_toml(x.variants),
    )
}

/// `[[variants]]` tables: what exactly ran.
fn variants_toml(vs: &[ManifestVariant<'_>]) -> String {
    let mut o = String::new();
    for v in vs {
        o.push_str(&format!(
            "\n[[variants]]\nlabel = {}\nalgorithm = {}\nfactors = {{ {} }}\nsets = [{}]\n",
            q(v.label),
            q(v.algorithm),
            v.factors
                .iter()
                .map(|(k, val)| format!("{} = {}", q(k), q(val)))
                .collect::<Vec<_>>()
                .join(", "),
            v.sets.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
        ));
    }
    o
}

/// The manifest of a merged sweep: `manifest` (one that [`manifest_toml`] wrote for a shard)
/// with `command` in place of the shard's command, followed by `shard_commands`, the
/// commands that ran the shards.
pub fn merged_manifest(manifest: &str, command: &str, shard_commands: &[String]) -> String {
    let mut o = String::new();
    let mut done = false;
    for line in manifest.split_inclusive('\n') {
        if line.starts_with("shard_commands = ") {
            // A manifest that was merged already: its shards' commands are replaced.
            continue;
        }
        if !done && line.starts_with("command = ") {
            done = true;
            o.push_str(&format!(
                "command = {}\nshard_commands = [{}]\n",
                q(command),
                shard_commands
                    .iter()
                    .map(|c| q(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            o.push_str(line);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_manifest_names_the_merge_and_the_shards_commands() {
        let info = RunInfo {
            scenario: "s".into(),
            description: "d".into(),
            seed: 1,
            replications: 2,
            duration_s: 10.0,
            warmup_s: 1.0,
            n_servers: 2,
            notes: Vec::new(),
            variants: Vec::new(),
        };
        let text = manifest_toml(
            &info,
            &ManifestExtra {
                command: "lblab sweep s.toml --shard 1/2",
                scenario_file: "s.toml",
                scenario_hash: 7,
                algorithms: &["random".into()],
                files: &["sweep.csv"],
                parameters: &[],
                variants: &[],
                notes: &[],
            },
        );
        let merged = merged_manifest(
            &text,
            "lblab merge a b",
            &["lblab sweep s.toml --shard 1/2".into(), "x \"y\"".into()],
        );
        let t: toml::Table = merged.parse().unwrap();
        assert_eq!(t["command"].as_str(), Some("lblab merge a b"));
        assert_eq!(
            t["shard_commands"].as_array().unwrap()[1].as_str(),
            Some("x \"y\"")
        );
        // Everything else is the shard's manifest, line for line.
        let rest = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("command = ") && !l.starts_with("shard_commands = "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(rest(&merged), rest(&text));
    }
}
