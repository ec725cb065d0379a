//! The two configuration syntaxes: nginx's directives and blocks (`name args;`,
//! `name args { ... }`, `include`), and HAProxy's lines of words. Also the text decoding,
//! numbers and durations both use. Positions are kept on every word for messages.

use std::path::{Path, PathBuf};

use super::{Files, ImportError, Loc};

/// A word as written (quotes and escapes resolved) and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub at: Loc,
}

/// The UTF-8 text of a file (a byte order mark dropped), or an error at the first byte that
/// is not UTF-8.
pub(crate) fn decode(file: &str, bytes: Vec<u8>) -> Result<String, ImportError> {
    let body = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes[3..].to_vec()
    } else {
        bytes
    };
    String::from_utf8(body).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let b = e.as_bytes();
        let before = &b[..at];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        let col = std::str::from_utf8(&before[start..]).map_or(1, |s| s.chars().count() + 1);
        ImportError::at(
            &Loc {
                file: file.to_string(),
                line,
                col,
            },
            format!(
                "byte 0x{:02X} is not UTF-8 (lblab reads UTF-8 text)",
                b.get(at).copied().unwrap_or(0)
            ),
        )
    })
}

/// Parses a non-negative decimal integer up to `max`, or says what is wrong.
pub(crate) fn number(w: &Word, what: &str, max: u64) -> Result<u64, ImportError> {
    let t = w.text.as_str();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ImportError::at(
            &w.at,
            format!("{what}: \"{t}\" is not a whole number"),
        ));
    }
    match t.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(ImportError::at(
            &w.at,
            format!("{what}: {t} is out of range (at most {max})"),
        )),
    }
}

/// Parses a duration such as `10s`, `1m30s` or `250ms` into nanoseconds. `bare` is the
/// unit of a number without one (nginx: seconds; HAProxy: milliseconds); `units` lists the
/// accepted units with their nanoseconds, `several` allows `1m30s` (nginx).
pub(crate) fn duration(
    w: &Word,
    what: &str,
    bare_ns: u64,
    units: &[(&str, u64)],
    several: bool,
) -> Result<u64, ImportError> {
    let t = w.text.as_str();
    let names: Vec<&str> = units.iter().map(|(u, _)| *u).collect();
    let bad = |m: String| ImportError::at(&w.at, format!("{what}: {m}"));
    if t.is_empty() {
        return Err(bad("empty duration".into()));
    }
    let mut total: u64 = 0;
    let mut rest = t;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad(format!("\"{t}\" is not a duration")));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad(format!("\"{t}\" is too long")))?;
        rest = &rest[digits..];
        let ulen = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        let unit = &rest[..ulen];
        rest = &rest[ulen..];
        let scale = if unit.is_empty() {
            bare_ns
        } else {
            match units.iter().find(|(u, _)| *u == unit) {
                Some((_, s)) => *s,
                None => {
                    return Err(bad(format!(
                        "unknown unit \"{unit}\" in \"{t}\" (expected one of {})",
                        names.join(", ")
                    )));
                }
            }
        };
        parts += 1;
        if (parts > 1 && !several) || (unit.is_empty() && !rest.is_empty()) {
            return Err(bad(format!("\"{t}\" is not a duration")));
        }
        total = n
            .checked_mul(scale)
            .and_then(|x| x.checked_add(total))
            .filter(|x| *x <= 1_000_000_000_000_000_000)
            .ok_or_else(|| bad(format!("\"{t}\" is too long")))?;
    }
    Ok(total)
}

// ===== nginx =====

/// An nginx directive: its name, arguments and block (if it has one), `include`s expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Directive {
    pub name: Word,
    pub args: Vec<Word>,
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    /// The directive as written, on one line (`server 10.0.0.1 weight=2`).
    pub fn text(&self) -> String {
        let mut s = self.name.text.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.text);
        }
        s
    }
}

/// The deepest nesting of blocks and of includes accepted.
const MAX_DEPTH: usize = 64;
const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads the nginx configuration at `path` and everything it includes. Relative include
/// paths are resolved against `prefix`, the directory of the main file (nginx's
/// configuration prefix).
pub(crate) fn nginx_file(
    path: &Path,
    prefix: &Path,
    files: &dyn Files,
    include_depth: usize,
    from: Option<&Loc>,
) -> Result<Vec<Directive>, ImportError> {
    let name = path.display().to_string();
    let bytes = files.read(path).map_err(|e| match from {
        Some(at) => ImportError::at(at, format!("cannot open included file {name}: {e}")),
        None => ImportError::whole(&name, format!("cannot read: {e}")),
    })?;
    let text = decode(&name, bytes)?;
    let mut p = NginxParser {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
        file: name,
        prefix,
        files,
        include_depth,
    };
    p.block(None, 0)
}

struct NginxParser<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    file: String,
    prefix: &'a Path,
    files: &'a dyn Files,
    include_depth: usize,
}

/// One token.
enum Tok {
    Word(Word),
    Semi(Loc),
    Open(Loc),
    Close(Loc),
    Eof,
}

impl NginxParser<'_> {
    fn loc(&self) -> Loc {
        Loc {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = *self.chars.get(self.i)?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn token(&mut self) -> Result<Tok, ImportError> {
        loop {
            match self.peek() {
                None => return Ok(Tok::Eof),
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                Some(_) => break,
            }
        }
        let at = self.loc();
        match self.peek() {
            Some(';') => {
                self.bump();
                return Ok(Tok::Semi(at));
            }
            Some('{') => {
                self.bump();
                return Ok(Tok::Open(at));
            }
            Some('}') => {
                self.bump();
                return Ok(Tok::Close(at));
            }
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let mut text = String::new();
                loop {
                    match self.bump() {
                        None => {
                            return Err(ImportError::at(
                                &at,
                                "unexpected end of file, expecting the closing quote of this string",
                            ));
                        }
                        Some('\\') => match self.bump() {
                            Some(c @ ('"' | '\'' | '\\')) => text.push(c),
                            Some('t') => text.push('\t'),
                            Some('r') => text.push('\r'),
                            Some('n') => text.push('\n'),
                            Some(c) => {
                                text.push('\\');
                                text.push(c);
                            }
                            None => continue,
                        },
                        Some(c) if c == q => break,
                        Some(c) => text.push(c),
                    }
                }
                match self.peek() {
                    None | Some(';' | '{' | '}') => {}
                    Some(c) if c.is_whitespace() => {}
                    Some(c) => {
                        return Err(ImportError::at(
                            &self.loc(),
                            format!("unexpected \"{c}\" after a quoted string"),
                        ));
                    }
                }
                return Ok(Tok::Word(Word { text, at }));
            }
            _ => {}
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ';' || c == '{' {
                // `${name}` is a variable, not a block.
                if c == '{' && text.ends_with('$') {
                    while let Some(c) = self.bump() {
                        text.push(c);
                        if c == '}' {
                            break;
                        }
                    }
                    continue;
                }
                break;
            }
            if c == '}' && text.is_empty() {
                break;
            }
            self.bump();
            if c == '\\' {
                match self.bump() {
                    Some(c @ ('"' | '\'' | '\\')) => text.push(c),
                    Some('t') => text.push('\t'),
                    Some('r') => text.push('\r'),
                    Some('n') => text.push('\n'),
                    Some(n) => {
                        text.push('\\');
                        text.push(n);
                    }
                    None => text.push('\\'),
                }
            } else {
                text.push(c);
            }
        }
        Ok(Tok::Word(Word { text, at }))
    }

    /// Directives up to the end of the file (`open` is None) or up to the `}` that closes
    /// the block opened at `open`.
    fn block(&mut self, open: Option<&Loc>, depth: usize) -> Result<Vec<Directive>, ImportError> {
        if depth > MAX_DEPTH {
            return Err(ImportError::at(
                open.unwrap_or(&self.loc()),
                format!("blocks nested more than {MAX_DEPTH} deep"),
            ));
        }
        let mut out = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        loop {
            match self.token()? {
                Tok::Word(w) => words.push(w),
                Tok::Semi(at) => {
                    let Some(name) = (!words.is_empty()).then(|| words.remove(0)) else {
                        return Err(ImportError::at(&at, "unexpected \";\""));
                    };
                    let d = Directive {
                        name,
                        args: std::mem::take(&mut words),
                        block: None,
                    };
                    if d.name.text == "include" {
                        out.extend(self.include(&d)?);
                    } else {
                        out.push(d);
                    }
                }
                Tok::Open(at) => {
                    let Some(name) = (!words.is_empty()).then(|| words.remove(0)) else {
                        return Err(ImportError::at(&at, "unexpected \"{\""));
                    };
                    let args = std::mem::take(&mut words);
                    let inner = self.block(Some(&at), depth + 1)?;
                    out.push(Directive {
                        name,
                        args,
                        block: Some(inner),
                    });
                }
                Tok::Close(at) => {
                    if let Some(w) = words.first() {
                        return Err(ImportError::at(
                            &w.at,
                            format!("directive \"{}\" is not terminated by \";\"", w.text),
                        ));
                    }
                    if open.is_none() {
                        return Err(ImportError::at(
                            &at,
                            "unexpected \"}\": no block is open here",
                        ));
                    }
                    return Ok(out);
                }
                Tok::Eof => {
                    if let Some(w) = words.first() {
                        return Err(ImportError::at(
                            &w.at,
                            format!(
                                "unexpected end of file: directive \"{}\" is not terminated by \";\"",
                                w.text
                            ),
                        ));
                    }
                    if let Some(o) = open {
                        return Err(ImportError::at(
                            &self.loc(),
                            format!(
                                "unexpected end of file, expecting \"}}\" to close the block opened at line {}",
                                o.line
                            ),
                        ));
                    }
                    return Ok(out);
                }
            }
        }
    }

    /// The directives of the files an `include` names (a glob in the last path component
    /// matches in byte order, as glob(3) in the C locale; no match is not an error, a
    /// missing plain file is).
    fn include(&mut self, d: &Directive) -> Result<Vec<Directive>, ImportError> {
        let [arg] = d.args.as_slice() else {
            return Err(ImportError::at(
                &d.name.at,
                "\"include\" takes exactly one file name",
            ));
        };
        if self.include_depth >= MAX_INCLUDE_DEPTH {
            return Err(ImportError::at(
                &d.name.at,
                format!("includes nested more than {MAX_INCLUDE_DEPTH} deep (an include loop?)"),
            ));
        }
        let raw = Path::new(&arg.text);
        let full = if raw.is_absolute() {
            raw.to_path_buf()
        } else {
            self.prefix.join(raw)
        };
        let pattern = full
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let paths: Vec<PathBuf> = if arg.text.contains(['*', '?', '[']) {
            let dir = full.parent().unwrap_or(Path::new("."));
            if dir.to_string_lossy().contains(['*', '?', '[']) {
                return Err(ImportError::at(
                    &arg.at,
                    "a wildcard in a directory of an include path is not supported (only in the file name)",
                ));
            }
            let mut found: Vec<PathBuf> = match self.files.list(dir) {
                Ok(entries) => entries
                    .into_iter()
                    .filter(|p| {
                        p.file_name().is_some_and(|n| {
                            let n = n.to_string_lossy();
                            (pattern.starts_with('.') || !n.starts_with('.'))
                                && glob_match(&pattern, &n)
                        })
                    })
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => {
                    return Err(ImportError::at(
                        &arg.at,
                        format!("cannot list {}: {e}", dir.display()),
                    ));
                }
            };
            found.sort_by(|a, b| {
                a.as_os_str()
                    .as_encoded_bytes()
                    .cmp(b.as_os_str().as_encoded_bytes())
            });
            found
        } else {
            vec![full]
        };
        let mut out = Vec::new();
        for p in paths {
            out.extend(nginx_file(
                &p,
                self.prefix,
                self.files,
                self.include_depth + 1,
                Some(&arg.at),
            )?);
        }
        Ok(out)
    }
}

/// glob(3) matching of one path component: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(&p, pi, n[ni]),
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == n[ni]).then_some(pi + 2),
            Some(&c) => (c == n[ni]).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket class starting at `p[start] == '['`: the index after
/// the class if it matches.
fn class(p: &[char], start: usize, c: char) -> Option<usize> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    if i >= p.len() {
        // No closing bracket: '[' is a literal.
        return (c == '[').then_some(start + 1);
    }
    (hit != negate).then_some(i + 1)
}

// ===== HAProxy =====

/// One HAProxy configuration line split into words (quotes and escapes resolved, `#`
/// comments removed); lines without words are left out.
pub(crate) fn haproxy_lines(file: &str, text: &str) -> Result<Vec<Vec<Word>>, ImportError> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut words = Vec::new();
        let chars: Vec<char> = line.chars().collect();
        let mut j = 0;
        let at = |col: usize| Loc {
            file: file.to_string(),
            line: i + 1,
            col: col + 1,
        };
        while j < chars.len() {
            if chars[j].is_whitespace() {
                j += 1;
                continue;
            }
            if chars[j] == '#' {
                break;
            }
            let start = j;
            let mut text = String::new();
            while j < chars.len() && !chars[j].is_whitespace() {
                match chars[j] {
                    '#' => break,
                    '\\' => {
                        match chars.get(j + 1) {
                            Some(&c) => text.push(c),
                            None => text.push('\\'),
                        }
                        j += 2;
                    }
                    q @ ('"' | '\'') => {
                        let open = j;
                        j += 1;
                        loop {
                            match chars.get(j) {
                                None => {
                                    return Err(ImportError::at(
                                        &at(open),
                                        format!("unterminated quoted string (opened with {q})"),
                                    ));
                                }
                                Some(&c) if c == q => {
                                    j += 1;
                                    break;
                                }
                                Some('\\') if q == '"' => {
                                    if let Some(&c) = chars.get(j + 1) {
                                        text.push(c);
                                    }
                                    j += 2;
                                }
                                Some(&c) => {
                                    text.push(c);
                                    j += 1;
                                }
                            }
                        }
                    }
                    c => {
                        text.push(c);
                        j += 1;
                    }
                }
            }
            words.push(Word {
                text,
                at: at(start),
            });
        }
        if !words.is_empty() {
            out.push(words);
        }
    }
    Ok(out)
}

// ----- HAProxy sections and server parameters -----

/// Words that start a section.
pub(crate) const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "crt-store",
    "traces",
    "log-forward",
    "acme",
];

/// Server keywords that take no value (every other keyword takes one).
const FLAGS: &[&str] = &[
    "backup",
    "check",
    "check-send-proxy",
    "check-ssl",
    "disabled",
    "enabled",
    "no-backup",
    "no-check",
    "no-check-ssl",
    "no-send-proxy",
    "no-send-proxy-v2",
    "no-ssl",
    "no-ssl-reuse",
    "no-tls-tickets",
    "no-verifyhost",
    "no-tfo",
    "non-stick",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl",
    "ssl-reuse",
    "stick",
    "tfo",
    "tls-tickets",
    "agent-check",
    "no-agent-check",
    "allow-0rtt",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "check-reuse-pool",
    "no-check-reuse-pool",
];

pub(crate) type Line = Vec<Word>;

pub(crate) struct Section {
    pub kind: String,
    pub name: Option<Word>,
    pub head: Line,
    pub lines: Vec<Line>,
    /// Index of the defaults section in force.
    pub defaults: Option<usize>,
}

/// Splits the lines into sections; duplicate backend names are refused.
pub(crate) fn sections(lines: Vec<Line>) -> Result<Vec<Section>, ImportError> {
    let mut out: Vec<Section> = Vec::new();
    let mut current_defaults: Option<usize> = None;
    for l in lines {
        let kw = l[0].text.as_str();
        if !SECTIONS.contains(&kw) {
            if let Some(s) = out.last_mut() {
                s.lines.push(l);
            }
            // Lines before any section: nothing to import from them.
            continue;
        }
        let name = l.get(1).filter(|w| w.text != "from").cloned();
        let mut defaults = current_defaults;
        if let Some(i) = l.iter().position(|w| w.text == "from") {
            let Some(dn) = l.get(i + 1) else {
                return Err(ImportError::at(
                    &l[i].at,
                    "\"from\" needs the name of a defaults section",
                ));
            };
            defaults = Some(
                out.iter()
                    .position(|s| {
                        s.kind == "defaults" && s.name.as_ref().is_some_and(|n| n.text == dn.text)
                    })
                    .ok_or_else(|| {
                        ImportError::at(
                            &dn.at,
                            format!("no defaults section named \"{}\" before this line", dn.text),
                        )
                    })?,
            );
        }
        if (kw == "backend" || kw == "listen" || kw == "frontend") && name.is_none() {
            return Err(ImportError::at(&l[0].at, format!("\"{kw}\" needs a name")));
        }
        if kw == "backend" || kw == "listen" {
            let n = name.as_ref().map(|w| w.text.as_str());
            if let Some(o) = out.iter().find(|s| {
                (s.kind == "backend" || s.kind == "listen")
                    && s.name.as_ref().map(|w| w.text.as_str()) == n
            }) {
                return Err(ImportError::at(
                    &l[1].at,
                    format!(
                        "backend \"{}\" is defined twice (first at {})",
                        l[1].text, o.head[0].at
                    ),
                ));
            }
        }
        if kw == "defaults" {
            // The backends after it take this one (its own `from` is not followed).
            current_defaults = Some(out.len());
        }
        out.push(Section {
            kind: kw.to_string(),
            name,
            head: l,
            lines: Vec::new(),
            defaults,
        });
    }
    Ok(out)
}

/// A server line's (or default-server line's) parameters as (keyword, value).
pub(crate) fn params(words: &[Word]) -> Result<Vec<(Word, Option<Word>)>, ImportError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let k = &words[i];
        if FLAGS.contains(&k.text.as_str()) {
            out.push((k.clone(), None));
            i += 1;
        } else {
            let v = words
                .get(i + 1)
                .ok_or_else(|| ImportError::at(&k.at, format!("\"{}\" needs a value", k.text)))?;
            out.push((k.clone(), Some(v.clone())));
            i += 2;
        }
    }
    Ok(out)
}

/// A line as written, with its place.
pub(crate) fn line_text(l: &Line) -> String {
    let t: Vec<&str> = l.iter().map(|w| w.text.as_str()).collect();
    format!("{} ({})", t.join(" "), l[0].at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Word {
        Word {
            text: text.into(),
            at: Loc {
                file: "f".into(),
                line: 1,
                col: 1,
            },
        }
    }

    #[test]
    fn globs_match_like_glob3() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(!glob_match("*.conf", "a.conf.bak"));
        assert!(glob_match("up-?.conf", "up-1.conf"));
        assert!(glob_match("[ab]*.conf", "b2.conf"));
        assert!(!glob_match("[!ab]*.conf", "b2.conf"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("x[", "xy"));
    }

    #[test]
    fn durations_take_units_and_refuse_unknown_ones() {
        let nginx = [
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
        ];
        assert_eq!(
            duration(&w("1m30s"), "t", 1_000_000_000, &nginx, true),
            Ok(90_000_000_000)
        );
        assert_eq!(
            duration(&w("30"), "t", 1_000_000_000, &nginx, true),
            Ok(30_000_000_000)
        );
        let e = duration(&w("3x"), "t", 1, &nginx, true).unwrap_err();
        assert!(e.message.contains("unknown unit \"x\""), "{e}");
        assert!(duration(&w("1m30s"), "t", 1, &nginx, false).is_err());
        assert!(duration(&w("99999999999999999999s"), "t", 1, &nginx, true).is_err());
    }

    #[test]
    fn haproxy_words_resolve_quotes_escapes_and_comments() {
        let l = haproxy_lines("f", "  server \"a b\" 'c\\d' e\\ f # x\n\n#c\n").unwrap();
        let t: Vec<&str> = l[0].iter().map(|w| w.text.as_str()).collect();
        assert_eq!(t, ["server", "a b", "c\\d", "e f"]);
        assert_eq!(l.len(), 1);
        let e = haproxy_lines("f", "a\n b \"open").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(4)));
    }
}
