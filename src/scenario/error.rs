//! Scenario problems, reported the way a compiler reports them: file, line, column, the
//! TOML key path, what was expected, and a hint where one helps.

use std::fmt;
use std::ops::Range;

/// Where a problem comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A byte range of the scenario file.
    File(Range<usize>),
    /// A `--set` argument from the command line.
    Override(String),
    /// The file as a whole (for example it could not be read).
    Whole,
}

/// One problem found in a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// TOML key path, e.g. `servers[1].slots` (empty for the document itself).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// A suggestion, e.g. "did you mean `slots`?".
    pub hint: Option<String>,
    /// Where it is.
    pub origin: Origin,
}

/// Every problem found in one scenario file (never empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file as the user named it.
    pub file: String,
    /// Its text (for line numbers and snippets; empty if it could not be read).
    pub source: String,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    /// A single problem about the whole file.
    pub fn whole(file: &str, message: String) -> ScenarioError {
        ScenarioError {
            file: file.to_string(),
            source: String::new(),
            problems: vec![Problem {
                path: String::new(),
                message,
                hint: None,
                origin: Origin::Whole,
            }],
        }
    }

    /// `(line, column)`, both 1-based, of a problem located in the file.
    pub fn line_col(&self, p: &Problem) -> Option<(usize, usize)> {
        match &p.origin {
            Origin::File(r) => Some(line_col(&self.source, r.start)),
            _ => None,
        }
    }

    /// [`line_col`](Self::line_col) of every problem, in order, from one pass over the
    /// text (a file with many problems costs its length once, not once per problem).
    pub fn line_cols(&self) -> Vec<Option<(usize, usize)>> {
        let index = LineIndex::new(&self.source);
        self.problems
            .iter()
            .map(|p| match &p.origin {
                Origin::File(r) => Some(index.line_col(&self.source, r.start)),
                _ => None,
            })
            .collect()
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src` (one lookup; many
/// go through a [`LineIndex`]).
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..floor_char_boundary(src, offset.min(src.len()))];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where each line of a text starts, for line numbers by binary search.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of byte `offset` in `src`.
    fn line_col(&self, src: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(src, offset.min(src.len()));
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, src[start..offset].chars().count() + 1)
    }

    /// The text of 1-based line `line` (without its line break).
    fn line<'s>(&self, src: &'s str, line: usize) -> Option<&'s str> {
        let start = *self.starts.get(line - 1)?;
        let end = self.starts.get(line).map_or(src.len(), |&e| e - 1);
        src.get(start..end.max(start))
    }
}

/// At most this many problems are shown; the rest are counted.
pub const MAX_SHOWN: usize = 50;

/// A snippet line longer than this (in characters) is cut to a window around the column.
const MAX_SNIPPET: usize = 160;

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The parts of a rendered [`ScenarioError`] that a terminal may style. `Display` leaves
/// them plain; the CLI paints them (colour is its business: scenario does no terminal IO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The `error:` label.
    Error,
    /// The line-number gutter and its `|` bars.
    Gutter,
    /// The `^^^` under the offending text.
    Caret,
    /// The `= help:` label.
    Help,
}

impl ScenarioError {
    /// Renders the problems like `Display`, passing each stylable [`Part`] through `paint`.
    pub fn render(&self, paint: &dyn Fn(Part, &str) -> String) -> String {
        let mut f = String::new();
        let _ = self.write(&mut f, paint);
        f
    }

    fn write(&self, f: &mut impl fmt::Write, paint: &dyn Fn(Part, &str) -> String) -> fmt::Result {
        let error = paint(Part::Error, "error:");
        let index = LineIndex::new(&self.source);
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if i == MAX_SHOWN {
                let more = self.problems.len() - MAX_SHOWN;
                write!(
                    f,
                    "… and {more} more problem{} (the first {MAX_SHOWN} are shown)",
                    if more == 1 { "" } else { "s" }
                )?;
                break;
            }
            let path = if p.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", p.path)
            };
            match &p.origin {
                Origin::File(r) => {
                    let (line, col) = index.line_col(&self.source, r.start);
                    writeln!(
                        f,
                        "{error} {}:{}:{}: {}{}",
                        self.file, line, col, path, p.message
                    )?;
                    if let Some(text) = index.line(&self.source, line) {
                        let width = (line.to_string()).len();
                        let (text, col) = window(text.trim_end(), col);
                        let len = self
                            .source
                            .get(r.clone())
                            .and_then(|s| s.lines().next())
                            .map_or(1, |s| s.chars().count().max(1));
                        let len = len.min(text.chars().count().saturating_sub(col - 1).max(1));
                        let bar = paint(Part::Gutter, &format!("{:width$} |", ""));
                        writeln!(f, "{bar}")?;
                        writeln!(f, "{} {text}", paint(Part::Gutter, &format!("{line} |")))?;
                        write!(
                            f,
                            "{bar} {}{}",
                            " ".repeat(col - 1),
                            paint(Part::Caret, &"^".repeat(len))
                        )?;
                    }
                }
                Origin::Override(arg) => write!(
                    f,
                    "{error} {} (--set {}): {}{}",
                    self.file, arg, path, p.message
                )?,
                Origin::Whole => write!(f, "{error} {}: {}{}", self.file, path, p.message)?,
            }
            if let Some(h) = &p.hint {
                write!(f, "\n  {} {h}", paint(Part::Help, "= help:"))?;
            }
        }
        Ok(())
    }
}

/// A long line cut to a window of [`MAX_SNIPPET`] characters around 1-based column `col`,
/// with `…` where it was cut, and the column within the window.
fn window(text: &str, col: usize) -> (std::borrow::Cow<'_, str>, usize) {
    let n = text.chars().count();
    if n <= MAX_SNIPPET {
        return (text.into(), col);
    }
    let from = col.saturating_sub(1 + MAX_SNIPPET / 3).min(n - MAX_SNIPPET);
    let mut cut: String = text.chars().skip(from).take(MAX_SNIPPET).collect();
    let mut col = col - from;
    if from > 0 {
        cut.insert(0, '…');
        col += 1;
    }
    if from + MAX_SNIPPET < n {
        cut.push('…');
    }
    (cut.into(), col)
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, &|_, s| s.to_string())
    }
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance (insertions, deletions, substitutions).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("slot", ["slots", "speed", "queue"]),
            Some("slots")
        );
        assert_eq!(
            did_you_mean("algoritm", ["algorithm", "d"]),
            Some("algorithm")
        );
        assert_eq!(did_you_mean("zzzzzz", ["slots", "speed"]), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn line_and_column() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
        assert_eq!(line_col(src, 999), (3, 1));
    }
}
