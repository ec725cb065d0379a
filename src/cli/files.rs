//! Files: reading scenarios, writing results atomically, listing bundled scenarios.
//!
//! A results directory is complete when its `manifest.toml` exists: the manifest is removed
//! first and written last, and every file is written to a temporary name and renamed, so an
//! interrupted run never leaves a directory that looks complete but holds a mix of files.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::CliError;

/// Reads a text file (the scenario loader's file reader): UTF-8, with or without a byte
/// order mark. Anything else is refused with where the first bad byte is.
pub(crate) fn read(path: &Path) -> std::io::Result<String> {
    if let Some(text) = overlaid(path) {
        return Ok(text);
    }
    decode(fs::read(path)?)
}

/// Reads a file for a bundled scenario: the configurations it imports
/// (`./configs/NAME`) are bundled too; anything else is read as [`read`] does.
pub(crate) fn read_bundled(path: &Path) -> std::io::Result<String> {
    match crate::scenario::bundled::config(path) {
        Some(t) => Ok(t.to_string()),
        None => read(path),
    }
}

/// Texts that stand in for files for the rest of the command (`lblab run --config`: the
/// workload file followed by the imported configuration).
static OVERLAY: std::sync::Mutex<Vec<(std::path::PathBuf, String)>> =
    std::sync::Mutex::new(Vec::new());

/// From now on, reading `path` gives `text`.
pub(crate) fn set_overlay(path: &Path, text: String) {
    let mut o = OVERLAY.lock().unwrap_or_else(|e| e.into_inner());
    o.retain(|(p, _)| p != path);
    o.push((path.to_path_buf(), text));
}

fn overlaid(path: &Path) -> Option<String> {
    let o = OVERLAY.lock().unwrap_or_else(|e| e.into_inner());
    o.iter().find(|(p, _)| p == path).map(|(_, t)| t.clone())
}

/// The UTF-8 text of `bytes` (a UTF-8 byte order mark dropped), or an `InvalidData` error
/// naming the line, column and byte of the first byte that is not UTF-8, or saying that
/// the file is UTF-16 or UTF-32.
pub fn decode(bytes: Vec<u8>) -> std::io::Result<String> {
    let bad = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    let wide = match bytes.as_slice() {
        [0xFF, 0xFE, 0, 0, ..] | [0, 0, 0xFE, 0xFF, ..] => Some("UTF-32"),
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => Some("UTF-16"),
        // No byte order mark, but a NUL in every other byte of the first characters.
        [a, 0, b, 0, ..] | [0, a, 0, b, ..] if *a != 0 && *b != 0 => Some("UTF-16"),
        _ => None,
    };
    if let Some(enc) = wide {
        return Err(bad(format!(
            "the file is {enc} (it starts with the bytes {}); lblab reads UTF-8: save it as UTF-8",
            bytes
                .iter()
                .take(4)
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    let mut body = bytes;
    let bom = body.starts_with(&[0xEF, 0xBB, 0xBF]);
    if bom {
        body.drain(..3);
    }
    match String::from_utf8(body) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let body = e.as_bytes();
            let before = &body[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = std::str::from_utf8(&before[start..]).map_or(1, |s| s.chars().count() + 1);
            Err(bad(format!(
                "line {line}, column {column} (byte {}): byte 0x{:02X} is not UTF-8; lblab reads UTF-8 text",
                at + if bom { 3 } else { 0 },
                body[at]
            )))
        }
    }
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

/// Removes the file at `path` if there is one.
pub(crate) fn remove_if_present(path: &Path) -> Result<(), CliError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path, e)),
    }
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
    remove_if_present(&m)?;
    for name in OPTIONAL_RESULTS {
        if !files.iter().any(|(n, _)| *n == name) {
            remove_if_present(&dir.join(name))?;
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
            loaded: crate::scenario::parse(name, text, Path::new("."), &[], &read_bundled)
                .ok()
                .map(|s| (s.description, s.question, s.lesson)),
        })
        .collect())
}
