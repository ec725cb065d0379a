//! Files: reading scenarios, writing results atomically, listing bundled scenarios.
//!
//! A results directory is complete when its `manifest.toml` exists: the manifest is removed
//! first and written last, and every file is written to a temporary name and renamed, so an
//! interrupted run never leaves a directory that looks complete but holds a mix of files.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::CliError;

/// Reads a text file (the scenario loader's file reader).
pub(crate) fn read(path: &Path) -> std::io::Result<String> {
    fs::read_to_string(path)
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> CliError {
    CliError::Input(format!("lblab: cannot {what} {}: {e}", path.display()))
}

pub(crate) fn write_atomic(path: &Path, contents: &str) -> Result<(), CliError> {
    write_atomic_bytes(path, contents.as_bytes())
}

/// Writes `contents` to `path` under a temporary name, then renames it into place.
pub(crate) fn write_atomic_bytes(path: &Path, contents: &[u8]) -> Result<(), CliError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write", path, e));
    }
    Ok(())
}

/// Result files a run writes only when it has something to put in them. A run that does
/// not write one removes the copy an earlier run left, so charts and reports never mix runs.
const OPTIONAL_RESULTS: [&str; 6] = [
    "changes.csv",
    "failovers.csv",
    "health.csv",
    "lb_failovers.csv",
    "ha.csv",
    "paired.csv",
];

/// Writes `files` (name, contents) into `dir`, then `manifest.toml` last.
pub(crate) fn write_results(
    dir: &Path,
    files: &[(&str, String)],
    manifest: &str,
) -> Result<(), CliError> {
    fs::create_dir_all(dir).map_err(|e| io_err("create directory", dir, e))?;
    let m = dir.join("manifest.toml");
    match fs::remove_file(&m) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("replace", &m, e)),
    }
    for name in OPTIONAL_RESULTS {
        if !files.iter().any(|(n, _)| *n == name) {
            let p = dir.join(name);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove stale", &p, e)),
            }
        }
    }
    for (name, contents) in files {
        write_atomic(&dir.join(name), contents)?;
    }
    write_atomic(&m, manifest)
}

/// One bundled scenario, for `lblab list scenarios`.
pub(crate) struct ScenarioEntry {
    /// Its name (what `lblab run NAME` takes).
    pub name: String,
    /// Description, question and lesson, or `None` if it does not parse (a bug).
    pub loaded: Option<(String, String, String)>,
}

/// The scenarios embedded in the binary, by name: the same from any directory.
pub(crate) fn list_scenarios() -> Result<Vec<ScenarioEntry>, CliError> {
    Ok(crate::scenario::bundled::BUNDLED
        .iter()
        .map(|(name, text)| ScenarioEntry {
            name: name.to_string(),
            loaded: crate::scenario::parse(name, text, Path::new("."), &[], &read)
                .ok()
                .map(|s| (s.description, s.question, s.lesson)),
        })
        .collect())
}
