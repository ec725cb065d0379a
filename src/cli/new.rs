//! `lblab new NAME [--from BUNDLED]`: an editable copy of a bundled scenario.

use std::path::{Path, PathBuf};

use super::{CliError, files, out};

#[derive(clap::Args, Debug)]
pub(super) struct NewArgs {
    /// The new scenario: a file name (`mine.toml`) or a name (`mine` writes `mine.toml`).
    name: PathBuf,
    /// The bundled scenario to copy (`lblab list scenarios` lists them).
    #[arg(long, value_name = "BUNDLED", default_value = "quick-start")]
    from: String,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
}

pub(super) fn new(a: NewArgs) -> Result<(), CliError> {
    let input = |m: String| CliError::Input(format!("lblab: {m}"));
    let text = crate::scenario::bundled::find(&a.from).ok_or_else(|| {
        let hint = crate::scenario::error::did_you_mean(&a.from, crate::scenario::bundled::names())
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        input(format!(
            "--from {}: no bundled scenario of that name{hint}; `lblab list scenarios` lists them",
            a.from
        ))
    })?;
    let path = if a.name.extension().is_some_and(|x| x == "toml") {
        a.name.clone()
    } else {
        a.name.with_extension("toml")
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.is_empty()
        || stem.starts_with('.')
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(input(format!(
            "{}: a scenario name is letters, digits, '-', '_' or '.', not starting with '.' (it names the results directory)",
            path.display()
        )));
    }
    if path.exists() && !a.force {
        return Err(input(format!(
            "{} exists; choose another name or pass --force to overwrite it",
            path.display()
        )));
    }
    let from = a.from.strip_suffix(".toml").unwrap_or(&a.from);
    let copy = rename(text, from, &stem);
    let dir = path.parent().unwrap_or(Path::new(""));
    // The copy must read exactly like the original (a bug otherwise), with the bundled
    // configurations it imports.
    crate::scenario::parse(&path.display().to_string(), &copy, dir, &[], &|p| match p
        .strip_prefix(dir)
        .ok()
        .and_then(crate::scenario::bundled::config)
    {
        Some(t) => Ok(t.to_string()),
        None => files::read(p),
    })
    .map_err(|e| input(format!("the copy does not parse (a bug in lblab): {e}")))?;
    files::write_atomic(&path, &copy)?;
    // Its imported configurations go beside it (an existing file is kept: it may be the
    // user's edited copy).
    let mut also = Vec::new();
    for (rel, text) in crate::scenario::bundled::configs_of(&copy) {
        let dest = dir.join(rel);
        if dest.exists() {
            also.push(format!("{} exists: kept", dest.display()));
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CliError::Input(format!("lblab: cannot create {}: {e}", parent.display()))
            })?;
        }
        files::write_atomic(&dest, text)?;
        also.push(format!(
            "wrote {} (the configuration it imports)",
            dest.display()
        ));
    }
    let also: String = also.iter().map(|l| format!("{l}\n")).collect();
    out(&format!(
        "wrote {} (a copy of the bundled scenario {from}, renamed {stem}); edit it, then:\n  lblab validate {0}\n  lblab compare {0}\n{also}",
        path.display()
    ))
}

/// `text` with its `[scenario] name = "from"` line naming `to` instead.
fn rename(text: &str, from: &str, to: &str) -> String {
    let old = format!("name = \"{from}\"");
    match text.find(&old) {
        Some(i) => format!("{}name = \"{to}\"{}", &text[..i], &text[i + old.len()..]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rename_changes_only_the_scenario_name() {
        let t = "[scenario]\nname = \"quick-start\"\n[[servers]]\nname = \"web\"\n";
        assert_eq!(
            super::rename(t, "quick-start", "mine"),
            "[scenario]\nname = \"mine\"\n[[servers]]\nname = \"web\"\n"
        );
    }
}
