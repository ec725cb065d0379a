//! HAProxy's conditional blocks (`.if` / `.elif` / `.else` / `.endif`, HAProxy 2.4 and
//! later; `doc/configuration.txt` §2.4): the lines of the branches HAProxy would skip are
//! dropped, as its parser drops them, before sections are read.
//!
//! A condition is evaluated where it does not depend on the machine HAProxy runs on:
//! numbers (0 is false), the empty string (false), `streq`, `strneq` and `strstr` of
//! literal strings, with `!`, `&&`, `||` and parentheses. Predicates on the machine
//! (`defined`, `feature`, `version_atleast`, `enabled`, the SSL library ones) and `${VAR}`
//! expansions cannot be known here: such a block is left out and reported as
//! [`Unknown`]; the importer refuses it at its line if it lies in what it imports, rather
//! than guess. `.diag`, `.notice` and `.warning` print a message when HAProxy starts (they are
//! listed as not translated); an `.alert` in a branch that is taken stops HAProxy, and the
//! import too.

use super::super::{ImportError, Loc};
use super::lex::Word;

/// One open `.if`.
struct Frame {
    /// Where it opened.
    at: Loc,
    /// Whether the enclosing region is read at all.
    outer: bool,
    /// Whether the current branch is read.
    active: bool,
    /// Whether some branch of this block was taken already.
    taken: bool,
    /// After `.else`.
    in_else: bool,
    /// Index in the unknown blocks, when its condition could not be evaluated.
    unknown: Option<usize>,
}

/// A conditional block whose condition depends on the machine: all its branches are left
/// out.
pub(super) struct Unknown {
    /// Its `.if` (or `.elif`) line.
    pub at: Loc,
    /// That line as written.
    pub text: String,
    /// Why it cannot be evaluated, as the error to give if it matters.
    pub error: ImportError,
    /// Whether a branch starts a section (then the sections after it are unknown too).
    pub has_section: bool,
}

/// What [`resolve`] returns.
pub(super) struct Resolved {
    /// The lines HAProxy reads.
    pub lines: Vec<Vec<Word>>,
    /// Startup messages of the branches taken: (where, what).
    pub messages: Vec<(Loc, String)>,
    /// Blocks left out because their condition depends on the machine.
    pub unknown: Vec<Unknown>,
}

/// The lines HAProxy reads (conditional directives and skipped branches removed), the
/// startup messages of the branches taken, and the blocks that cannot be evaluated.
pub(super) fn resolve(lines: Vec<Vec<Word>>) -> Result<Resolved, ImportError> {
    let mut out = Vec::new();
    let mut messages = Vec::new();
    let mut unknown: Vec<Unknown> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // A condition on the machine: the whole block is left out and remembered.
    let cond = |l: &[Word], unknown: &mut Vec<Unknown>| -> Result<Option<bool>, ImportError> {
        match eval(l) {
            Ok(v) => Ok(Some(v)),
            Err((e, true)) => {
                unknown.push(Unknown {
                    at: l[0].at.clone(),
                    text: words(l),
                    error: e,
                    has_section: false,
                });
                Ok(None)
            }
            Err((e, false)) => Err(e),
        }
    };
    for l in lines {
        let active = stack.last().is_none_or(|f| f.active);
        let head = l[0].text.as_str();
        let at = l[0].at.clone();
        if let Some(u) = stack.iter().rev().find_map(|f| f.unknown)
            && super::lex::SECTIONS.contains(&head)
        {
            unknown[u].has_section = true;
        }
        match head {
            ".if" => {
                let value = if active {
                    cond(&l, &mut unknown)?
                } else {
                    Some(false)
                };
                stack.push(Frame {
                    at,
                    outer: active && value.is_some(),
                    active: active && value == Some(true),
                    taken: value != Some(false),
                    in_else: false,
                    unknown: value.is_none().then(|| unknown.len() - 1),
                });
            }
            ".elif" | ".else" => {
                let f = stack
                    .last_mut()
                    .ok_or_else(|| ImportError::at(&at, format!("{head} without .if")))?;
                if f.in_else {
                    return Err(ImportError::at(
                        &at,
                        format!("{head} after .else (the .if is at line {})", f.at.line),
                    ));
                }
                if head == ".else" {
                    f.in_else = true;
                    f.active = f.outer && !f.taken;
                    f.taken = true;
                } else {
                    let value = if f.outer && !f.taken {
                        cond(&l, &mut unknown)?
                    } else {
                        Some(false)
                    };
                    if value.is_none() {
                        // Which earlier branch ran is known, this one is not: all of the
                        // block from here is unknown.
                        f.outer = false;
                        f.unknown = Some(unknown.len() - 1);
                    }
                    f.active = f.outer && value == Some(true);
                    f.taken |= value != Some(false);
                }
            }
            ".endif" => {
                stack
                    .pop()
                    .ok_or_else(|| ImportError::at(&at, ".endif without .if"))?;
            }
            _ if !active => {}
            ".diag" | ".notice" | ".warning" => messages.push((at, words(&l))),
            ".alert" => {
                return Err(ImportError::at(
                    &at,
                    format!(
                        "HAProxy stops at this .alert in a branch it takes: {}",
                        words(&l[1..])
                    ),
                ));
            }
            _ => out.push(l),
        }
    }
    if let Some(f) = stack.last() {
        return Err(ImportError::at(&f.at, ".if without .endif"));
    }
    Ok(Resolved {
        lines: out,
        messages,
        unknown,
    })
}

fn words(l: &[Word]) -> String {
    l.iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Predicates whose value depends on the machine HAProxy runs on.
const MACHINE: &[&str] = &[
    "defined",
    "feature",
    "version_atleast",
    "version_before",
    "openssl_version_atleast",
    "openssl_version_before",
    "ssllib_name_startswith",
    "awslc_api_atleast",
    "awslc_api_before",
    "enabled",
];

/// The value of the condition of `.if`/`.elif` line `l`; an error flagged `true` when the
/// condition depends on the machine.
fn eval(l: &[Word]) -> Result<bool, (ImportError, bool)> {
    let at = &l[0].at;
    let cond = &l[1..];
    let text = words(cond);
    if cond.is_empty() {
        return Err((
            ImportError::at(at, format!("{} needs a condition", l[0].text)),
            false,
        ));
    }
    // A lone empty word (`.if ""`) is false.
    if cond.len() == 1 && cond[0].text.is_empty() {
        return Ok(false);
    }
    let machine = |why: &str| {
        ImportError::at(
            at,
            format!(
                "`{} {text}`: {why}, which depends on the machine HAProxy runs on and lblab cannot know; keep the branch you run and remove the conditional",
                l[0].text
            ),
        )
    };
    if text.contains('$') {
        return Err((machine("an environment variable"), true));
    }
    let mut p = Parser {
        s: text.chars().collect(),
        i: 0,
    };
    let v = p.or().map_err(|e| match e {
        Bad::Machine(name) => (machine(&format!("the predicate {name}()")), true),
        Bad::Syntax(m) => (
            ImportError::at(at, format!("`{} {text}`: {m}", l[0].text)),
            false,
        ),
    })?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err((
            ImportError::at(
                at,
                format!(
                    "`{} {text}`: unexpected `{}`",
                    l[0].text,
                    p.s[p.i..].iter().collect::<String>()
                ),
            ),
            false,
        ));
    }
    Ok(v)
}

enum Bad {
    Machine(String),
    Syntax(String),
}

struct Parser {
    s: Vec<char>,
    i: usize,
}

impl Parser {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, t: &str) -> bool {
        self.skip_ws();
        let t: Vec<char> = t.chars().collect();
        if self.s[self.i..].starts_with(&t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<bool, Bad> {
        let mut v = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, Bad> {
        let mut v = self.unary()?;
        while self.eat("&&") {
            let r = self.unary()?;
            v = v && r;
        }
        Ok(v)
    }

    fn unary(&mut self) -> Result<bool, Bad> {
        if self.eat("!") {
            return Ok(!self.unary()?);
        }
        if self.eat("(") {
            let v = self.or()?;
            if !self.eat(")") {
                return Err(Bad::Syntax("missing `)`".into()));
            }
            return Ok(v);
        }
        self.term()
    }

    fn term(&mut self) -> Result<bool, Bad> {
        self.skip_ws();
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        {
            self.i += 1;
        }
        let name: String = self.s[start..self.i].iter().collect();
        if name.is_empty() {
            return Err(Bad::Syntax("expected a number or a predicate".into()));
        }
        if !self.eat("(") {
            return match name.parse::<i64>() {
                Ok(n) => Ok(n != 0),
                Err(_) => Err(Bad::Syntax(format!("unknown term `{name}`"))),
            };
        }
        let close = self.s[self.i..]
            .iter()
            .position(|&c| c == ')')
            .ok_or_else(|| Bad::Syntax(format!("{name}( without `)`")))?;
        let args: String = self.s[self.i..self.i + close].iter().collect();
        self.i += close + 1;
        if MACHINE.contains(&name.as_str()) {
            return Err(Bad::Machine(name));
        }
        let two = || -> Result<(String, String), Bad> {
            args.split_once(',')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| Bad::Syntax(format!("{name}() takes two strings")))
        };
        match name.as_str() {
            "streq" => two().map(|(a, b)| a == b),
            "strneq" => two().map(|(a, b)| a != b),
            "strstr" => two().map(|(a, b)| a.contains(&b)),
            _ => Err(Bad::Syntax(format!("unknown predicate {name}()"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Vec<Word>> {
        super::super::lex::haproxy_lines("h.cfg", text).unwrap()
    }

    fn kept(text: &str) -> Vec<String> {
        resolve(lines(text))
            .unwrap()
            .lines
            .iter()
            .map(|l| words(l))
            .collect()
    }

    #[test]
    fn branches_follow_literal_conditions() {
        let t = ".if 1\na\n.elif 1\nb\n.else\nc\n.endif\n.if 0\nd\n.elif streq(x,x) && !0\ne\n.else\nf\n.endif\n\
                 .if 0\n.if defined(X)\ng\n.endif\n.else\nh\n.endif\n.if \"\"\ni\n.endif\n.if (0 || strstr(abc,b))\nj\n.endif\n";
        assert_eq!(kept(t), ["a", "e", "h", "j"]);
    }

    #[test]
    fn machine_predicates_and_bad_nesting_are_refused_at_their_line() {
        for (t, line, needle) in [
            (".if 1\n", 1, ".if without .endif"),
            (".endif\n", 1, ".endif without .if"),
            (".if 1\n.else\n.else\n.endif\n", 3, "after .else"),
            (".if frob(1)\n.endif\n", 1, "unknown predicate"),
            (".if 1\n.alert \"no\"\n.endif\n", 2, "stops"),
        ] {
            let e = resolve(lines(t)).err().expect(t);
            assert_eq!(e.line, Some(line), "{t}: {e}");
            assert!(e.message.contains(needle), "{t}: {e}");
        }
        // Not evaluated in a branch that is not read.
        assert_eq!(kept(".if 0\n.if feature(X)\na\n.endif\n.endif\nb\n"), ["b"]);
        let r = resolve(lines(".if 1\n.warning \"old\"\n.endif\n")).unwrap();
        assert_eq!(r.messages[0].1, ".warning old");
    }

    #[test]
    fn conditions_on_the_machine_leave_their_block_out_and_say_why() {
        for (t, line, needle, kept_lines, section) in [
            (
                "a\n.if defined(HOME)\nb\n.else\nc\n.endif\nd\n",
                2,
                "predicate defined()",
                vec!["a", "d"],
                false,
            ),
            (
                ".if 0\na\n.elif feature(OPENSSL)\nb\n.else\nc\n.endif\n",
                3,
                "predicate feature()",
                vec![],
                false,
            ),
            (
                ".if streq(${X},1)\nbackend x\n.endif\n",
                1,
                "environment variable",
                vec![],
                true,
            ),
        ] {
            let r = resolve(lines(t)).unwrap();
            let got: Vec<String> = r.lines.iter().map(|l| words(l)).collect();
            assert_eq!(got, kept_lines, "{t}");
            assert_eq!(r.unknown.len(), 1, "{t}");
            let u = &r.unknown[0];
            assert_eq!((u.at.line, u.has_section), (line, section), "{t}");
            assert!(u.error.message.contains(needle), "{t}: {}", u.error);
        }
    }
}
