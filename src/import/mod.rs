//! Importing real load balancer configurations: the `upstream` blocks of nginx and the
//! `backend` sections of HAProxy, turned into a scenario fragment (`[[servers]]`,
//! `[balancer]`, `[lb]`, `[health]`) that a workload completes (`lblab import`).
//!
//! Reading goes parse → config model → [`Fragment`] → TOML text, all pure: files are read
//! through the injected [`Files`] (nginx `include`), so nothing here touches the
//! filesystem. Every directive and parameter of the chosen upstream or backend ends up
//! either in the fragment, with a `# from FILE:LINE` comment, or in a
//! `# not translated: FILE:LINE: ...` comment saying why: nothing is dropped silently.
//! Defaults of the real system that the fragment writes out are listed in its header.
//!
//! Malformed input is an [`ImportError`] with the file, line and (where known) column,
//! never a panic. The same input always gives the same bytes.

pub mod envoy;
pub mod haproxy;
mod lex;
pub mod nginx;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

/// The configuration formats lblab imports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// nginx: an `upstream` block.
    Nginx,
    /// HAProxy: a `backend` or `listen` section.
    Haproxy,
    /// Envoy: a cluster, in YAML or JSON.
    Envoy,
}

impl Format {
    /// Every format, in the order messages list them.
    pub const ALL: [Format; 3] = [Format::Nginx, Format::Haproxy, Format::Envoy];

    /// Its name (`lblab import NAME`, `[import] format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Nginx => "nginx",
            Format::Haproxy => "haproxy",
            Format::Envoy => "envoy",
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format a file's name suggests: haproxy for `.cfg`, envoy for `.yaml`, `.yml`
    /// and `.json`, else nginx.
    pub fn of_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "cfg" => Format::Haproxy,
            "yaml" | "yml" | "json" => Format::Envoy,
            _ => Format::Nginx,
        }
    }

    /// The option that names the block to import (`--upstream`, `--backend`, `--cluster`).
    pub fn name_flag(self) -> &'static str {
        match self {
            Format::Nginx => "--upstream",
            Format::Haproxy => "--backend",
            Format::Envoy => "--cluster",
        }
    }

    /// Imports block `name` (or the only one) of the configuration at `path`.
    pub fn import(
        self,
        path: &Path,
        name: Option<&str>,
        files: &dyn Files,
    ) -> Result<Imported, ImportError> {
        match self {
            Format::Nginx => nginx::import(path, name, files),
            Format::Haproxy => haproxy::import(path, name, files),
            Format::Envoy => envoy::import(path, name, files),
        }
    }
}

/// How the importer reads files: the configuration and what it includes.
pub trait Files {
    /// The bytes of the file at `path`.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// The entries of directory `dir` (full paths, any order).
    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
}

/// A place in a configuration file (1-based line and column).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    /// The file as the importer names it (the path given, or an include's resolved path).
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Why a configuration could not be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    /// The file the problem is in.
    pub file: String,
    /// Its line, if the problem has one (choosing among several upstreams has none).
    pub line: Option<usize>,
    /// Its column, where known.
    pub column: Option<usize>,
    /// What is wrong (lowercase, no trailing period).
    pub message: String,
}

impl ImportError {
    pub(crate) fn at(loc: &Loc, message: impl Into<String>) -> ImportError {
        ImportError {
            file: loc.file.clone(),
            line: Some(loc.line),
            column: Some(loc.col),
            message: message.into(),
        }
    }

    pub(crate) fn whole(file: &str, message: impl Into<String>) -> ImportError {
        ImportError {
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ImportError {}

/// A value in the fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An integer.
    Int(u64),
    /// A string (written quoted; durations too).
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An array of strings.
    List(Vec<String>),
    /// A TOML literal written as is (a number, an inline table), already checked.
    Raw(String),
}

impl Value {
    fn toml(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Str(s) => quote(s),
            Value::Bool(b) => b.to_string(),
            Value::Raw(n) => n.clone(),
            Value::List(l) => format!(
                "[{}]",
                l.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// A key of a table with where it came from (`from`: a short text such as
/// `least_conn (nginx.conf:12)` or `nginx default`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// Where it comes from, written as a trailing comment.
    pub from: String,
}

/// One `[[servers]]` group (one configured server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Group name (letters, digits, '-', '_').
    pub name: String,
    /// The server's weight.
    pub weight: u32,
    /// A backup server.
    pub backup: bool,
    /// Its priority level (Envoy), 0 for the first.
    pub priority: u32,
    /// The server line as written, with its place, for the comment above the group.
    pub from: String,
}

/// A directive or parameter that was not translated, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Untranslated {
    /// Where it is.
    pub at: Loc,
    /// What it is, as written (`keepalive 32`, `max_conns=100`).
    pub what: String,
    /// Why it is not in the fragment.
    pub why: String,
}

/// The scenario fragment an import produces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    /// First header line: what was imported from where.
    pub title: String,
    /// Defaults of the real system written into the fragment although the file does not
    /// say them.
    pub defaults: Vec<String>,
    /// Approximations: where lblab's key means nearly, not exactly, the directive.
    pub notes: Vec<String>,
    /// Everything left out.
    pub untranslated: Vec<Untranslated>,
    /// The servers, primaries first, then backups, each in file order.
    pub groups: Vec<Group>,
    /// `[balancer]`: `algorithm` first.
    pub balancer: Vec<Entry>,
    /// `[lb]`.
    pub lb: Vec<Entry>,
    /// `[health]` itself (`panic_threshold`).
    pub health: Vec<Entry>,
    /// `[health.active]`.
    pub active: Vec<Entry>,
    /// `[health.passive]` (Envoy outlier detection).
    pub passive: Vec<Entry>,
    /// `[health.slow_start]`.
    pub slow_start: Vec<Entry>,
    /// Every directive of the upstream or backend (for the accounting test): each is
    /// mentioned in the output, translated or not.
    pub directives: Vec<Loc>,
}

impl Fragment {
    /// The fragment as TOML with its comments.
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        o.push_str(&format!("# {}\n", self.title));
        o.push_str(
            "# A scenario fragment: add [scenario], [clients] and [[classes]] to run it \
             (docs/import.md).\n",
        );
        if !self.defaults.is_empty() {
            o.push_str("#\n# Defaults applied (not written in the configuration):\n");
            for d in &self.defaults {
                o.push_str(&format!("#   - {d}\n"));
            }
        }
        if !self.notes.is_empty() {
            o.push_str("#\n# Approximations:\n");
            for n in &self.notes {
                o.push_str(&format!("#   - {n}\n"));
            }
        }
        if !self.untranslated.is_empty() {
            o.push_str("#\n");
            let mut sorted: Vec<&Untranslated> = self.untranslated.iter().collect();
            sorted.sort_by(|a, b| (&a.at, &a.what).cmp(&(&b.at, &b.what)));
            for u in sorted {
                o.push_str(&format!(
                    "# not translated: {}: `{}`: {}\n",
                    u.at,
                    one_line(&u.what),
                    one_line(&u.why)
                ));
            }
        }
        for g in &self.groups {
            o.push_str(&format!("\n# {}\n[[servers]]\n", one_line(&g.from)));
            o.push_str(&format!("name = {}\ncount = 1\n", quote(&g.name)));
            o.push_str(&format!("weight = {}\n", g.weight));
            if g.backup {
                o.push_str("backup = true\n");
            }
            if g.priority > 0 {
                o.push_str(&format!("priority = {}\n", g.priority));
            }
        }
        for (title, entries) in [
            ("balancer", &self.balancer),
            ("lb", &self.lb),
            ("health", &self.health),
            ("health.active", &self.active),
            ("health.passive", &self.passive),
            ("health.slow_start", &self.slow_start),
        ] {
            if entries.is_empty() {
                continue;
            }
            o.push_str(&format!("\n[{title}]\n"));
            for e in entries {
                o.push_str(&format!(
                    "{} = {}  # {}\n",
                    e.key,
                    e.value.toml(),
                    one_line(&e.from)
                ));
            }
        }
        o
    }

    pub(crate) fn skip(&mut self, at: &Loc, what: impl Into<String>, why: impl Into<String>) {
        let what = what.into();
        if self
            .untranslated
            .iter()
            .any(|u| &u.at == at && u.what == what)
        {
            return;
        }
        self.untranslated.push(Untranslated {
            at: at.clone(),
            what,
            why: why.into(),
        });
    }
}

/// What an import returns: the fragment and the name of the upstream or backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The upstream's or backend's name.
    pub name: String,
    /// The fragment.
    pub fragment: Fragment,
}

/// The file's name as the importer writes it, and its UTF-8 text.
pub(crate) fn read_text(path: &Path, files: &dyn Files) -> Result<(String, String), ImportError> {
    let file = path.display().to_string();
    let bytes = files
        .read(path)
        .map_err(|e| ImportError::whole(&file, format!("cannot read: {e}")))?;
    let text = lex::decode(&file, bytes)?;
    Ok((file, text))
}

/// The block to import among those `found` (name, place, block): the one named `want`,
/// or the only one. Otherwise an error: none found (`none`, e.g. "upstream block", and a
/// `hint` of what lblab imports), no such name (listing them), or several and no `flag`
/// given (at the second one's line).
pub(crate) fn choose<T: Copy>(
    file: &str,
    what: &str,
    flag: &str,
    none: &str,
    hint: &str,
    found: &[(&str, &Loc, T)],
    want: Option<&str>,
) -> Result<T, ImportError> {
    let listed = || {
        found
            .iter()
            .map(|(n, at, _)| format!("{n} ({at})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match want {
        Some(n) => found
            .iter()
            .find(|(name, _, _)| *name == n)
            .map(|x| x.2)
            .ok_or_else(|| {
                ImportError::whole(
                    file,
                    if found.is_empty() {
                        format!("no {what} \"{n}\": the configuration has no {none}")
                    } else {
                        format!("no {what} \"{n}\"; the {what}s are: {}", listed())
                    },
                )
            }),
        None => match found {
            [one] => Ok(one.2),
            [] => Err(ImportError::whole(
                file,
                format!("no {none} found ({hint})"),
            )),
            [_, second, ..] => {
                let mut e = ImportError::at(
                    second.1,
                    format!("several {what}s: choose one with {flag} NAME: {}", listed()),
                );
                e.column = None;
                Err(e)
            }
        },
    }
}

/// A key with its value and origin.
pub(crate) fn entry(k: &str, v: Value, from: String) -> Entry {
    Entry {
        key: k.to_string(),
        value: v,
        from,
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `s` on one comment line: control characters (newlines included) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A group name from a server's address or name: letters, digits, '-' and '_' kept, '.'
/// as '-' (so that `--set servers.NAME.KEY=…` can address the group), anything else '_',
/// no leading '-' or '_', unique among `taken` (a `-2`, `-3`… suffix).
pub(crate) fn group_name(raw: &str, taken: &[Group]) -> String {
    let mut n: String = raw
        .chars()
        .map(|c| match c {
            '.' => '-',
            c if c.is_ascii_alphanumeric() || "-_".contains(c) => c,
            _ => '_',
        })
        .collect();
    let trimmed = n.trim_start_matches(['-', '_']).to_string();
    n = if trimmed.is_empty() {
        "server".to_string()
    } else {
        trimmed
    };
    if n.len() > 60 {
        n.truncate(60);
    }
    let mut name = n.clone();
    let mut k = 2;
    while taken.iter().any(|g| g.name == name) {
        name = format!("{n}-{k}");
        k += 1;
    }
    name
}

/// A duration in nanoseconds as lblab writes it: whole seconds, else milliseconds, else
/// microseconds (`"10s"`, `"250ms"`, `"1500us"`), else nanoseconds.
pub(crate) fn duration(ns: u64) -> String {
    if ns == 0 {
        "0s".to_string()
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        format!("{}us", ns / 1_000)
    } else {
        format!("{ns}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_follow_the_name_rules_and_stay_unique() {
        let mut taken = Vec::new();
        for raw in [
            "10.0.0.1:8080",
            "unix:/tmp/a.sock",
            "10.0.0.1:8080",
            "..x",
            "é",
        ] {
            let name = group_name(raw, &taken);
            taken.push(Group {
                name,
                weight: 1,
                backup: false,
                priority: 0,
                from: String::new(),
            });
        }
        let names: Vec<&str> = taken.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "10-0-0-1_8080",
                "unix__tmp_a-sock",
                "10-0-0-1_8080-2",
                "x",
                "server"
            ]
        );
    }

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(duration(10_000_000_000), "10s");
        assert_eq!(duration(250_000_000), "250ms");
        assert_eq!(duration(1_500_000), "1500us");
        assert_eq!(duration(7), "7ns");
    }

    #[test]
    fn quoting_escapes_what_toml_needs() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000Ad\"");
    }
}
