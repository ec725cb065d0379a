//! Records the commit lblab is built from, for `lblab --version` and manifest.toml.
//!
//! Sets `LBLAB_COMMIT` (12 hex digits, with `-dirty` if tracked files differ from it),
//! `LBLAB_COMMIT_DATE` (the commit's date, `YYYY-MM-DD`: the date of the code, not of the
//! build, so builds stay reproducible) and `LBLAB_VERSION_LONG`, e.g.
//! `0.1.0 (commit 1a2b3c4d5e6f, 2026-12-06)`. Without git — a tarball, a crates.io download, no
//! `git` program, or a directory inside some other repository — it falls back to the
//! `.cargo_vcs_info.json` that `cargo package` writes, else to "unknown". It never fails
//! the build.
//!
//! Cargo reruns this script only when HEAD, the branch it points to or the index move
//! (a checkout, commit or `git add`), not on every build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    bundle_scenarios();
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let (commit, date) = from_git(&dir)
        .or_else(|| from_vcs_info(&dir))
        .unwrap_or_else(|| ("unknown".into(), String::new()));
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let long = if date.is_empty() {
        format!("{version} (commit {commit})")
    } else {
        format!("{version} (commit {commit}, {date})")
    };
    println!("cargo:rustc-env=LBLAB_COMMIT={commit}");
    println!("cargo:rustc-env=LBLAB_COMMIT_DATE={date}");
    println!("cargo:rustc-env=LBLAB_VERSION_LONG={long}");
}

/// Runs `git args` in `dir`; its trimmed stdout if it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        // `git status` must not refresh the index: a rewritten index would rerun this
        // script, and rebuild lblab, on every build.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

fn from_git(dir: &Path) -> Option<(String, String)> {
    // Only this crate's own repository: an unpacked tarball inside someone's home
    // directory repository must not report that repository's commit.
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    watch_git_files(dir);
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    let date = git(dir, &["log", "-1", "--format=%cs", "HEAD"]).unwrap_or_default();
    let dirty =
        git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some((
        if dirty {
            format!("{commit}-dirty")
        } else {
            commit
        },
        date,
    ))
}

/// Asks cargo to rerun this script when HEAD, the branch it names, packed refs or the index
/// change. Works in a linked worktree too (HEAD and index live in its own git dir, refs in
/// the common one).
fn watch_git_files(dir: &Path) {
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { dir.join(p) }
    };
    let Some(git_dir) = git(dir, &["rev-parse", "--git-dir"]).map(abs) else {
        return;
    };
    let common = git(dir, &["rev-parse", "--git-common-dir"])
        .map(abs)
        .unwrap_or_else(|| git_dir.clone());
    let mut watch = vec![git_dir.join("HEAD"), git_dir.join("index")];
    if let Some(r) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(common.join(r));
    }
    watch.push(common.join("packed-refs"));
    for p in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

/// `.cargo_vcs_info.json` (written by `cargo package`): `{"git": {"sha1": "..."}, ...}`.
/// Read with a string search; a build script has no JSON parser and needs none here.
fn from_vcs_info(dir: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let rest = &text[text.find("\"sha1\"")? + 6..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    (sha.len() >= 12).then(|| (sha[..12].to_string(), String::new()))
}

/// Writes `$OUT_DIR/bundled.rs`: every `scenarios/*.toml`, sorted by name, as
/// `(name, include_str!(file))`, for `scenario::bundled`.
fn bundle_scenarios() {
    let dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    // By name, not file name: `retry-storm` before `retry-storm-tiers`.
    files.sort_by_key(|f| f.file_stem().map(|s| s.to_os_string()));
    let mut out = String::from(
        "/// `(name, text)` of every bundled scenario, sorted by name.\npub const BUNDLED: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let name = f.file_stem().unwrap_or_default().to_string_lossy();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("];\n");
    // The real configurations that bundled scenarios import (`[import] file`), by their
    // path relative to the scenarios directory.
    let configs_dir = dir.join("configs");
    println!("cargo:rerun-if-changed={}", configs_dir.display());
    let mut configs: Vec<PathBuf> = std::fs::read_dir(&configs_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    configs.sort();
    out.push_str(
        "/// `(path, text)` of every configuration bundled scenarios import, sorted by path.\npub const BUNDLED_CONFIGS: &[(&str, &str)] = &[\n",
    );
    for f in &configs {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        out.push_str(&format!(
            "    (\"configs/{name}\", include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("bundled.rs");
    if std::fs::read_to_string(&dest).ok().as_deref() != Some(out.as_str()) {
        std::fs::write(&dest, out).expect("write bundled.rs");
    }
}
