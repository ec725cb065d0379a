//! Reading a spanned TOML document: typed getters that record every problem they meet
//! (with its key path and source span) instead of stopping at the first.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::engine::SimTime;

use super::error::{Origin, Problem, did_you_mean};
use super::units::{parse_duration, parse_rate};

/// A spanned TOML value.
pub(crate) type V<'i> = Spanned<DeValue<'i>>;

/// Spans at or above this mark belong to `--set` values: `SET_MARK + k` is override `k`.
pub(crate) const SET_MARK: usize = usize::MAX / 2;

/// Collects problems while a document is read.
#[derive(Default)]
pub(crate) struct Cx {
    pub problems: Vec<Problem>,
    /// The `--set` arguments, indexed as in [`SET_MARK`] spans.
    pub overrides: Vec<String>,
}

/// A table being read, with its path for messages.
#[derive(Copy, Clone)]
pub(crate) struct Tbl<'a, 'i> {
    pub path: &'a str,
    pub t: &'a DeTable<'i>,
    /// Byte range of the table (start, end).
    pub span: (usize, usize),
}

/// Joins a table path and a key.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Cx {
    /// Records a problem at `span`.
    pub fn err(&mut self, path: &str, span: &Range<usize>, message: impl Into<String>) {
        self.err_hint(path, span, message, None);
    }

    /// Records a problem with a hint.
    pub fn err_hint(
        &mut self,
        path: &str,
        span: &Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let origin = if span.start >= SET_MARK {
            Origin::Override(
                self.overrides
                    .get(span.start - SET_MARK)
                    .cloned()
                    .unwrap_or_default(),
            )
        } else {
            Origin::File(span.clone())
        };
        self.problems.push(Problem {
            path: path.to_string(),
            message: message.into(),
            hint,
            origin,
        });
    }

    /// Reports keys of `t` not in `allowed`, suggesting the closest allowed one.
    pub fn check_keys(&mut self, t: Tbl<'_, '_>, allowed: &[&str]) {
        for (k, _) in t.t.iter() {
            let key: &str = k.get_ref();
            if !allowed.contains(&key) {
                let hint = match did_you_mean(key, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected one of: {}", allowed.join(", ")),
                };
                let where_ = match t.path {
                    "" => "at the top level".to_string(),
                    p if p.contains('[') => format!("in {p}"),
                    p => format!("in [{p}]"),
                };
                self.err_hint(
                    &join(t.path, key),
                    &k.span(),
                    format!("unknown key `{key}` {where_}"),
                    Some(hint),
                );
            }
        }
    }

    /// A required key: records "missing" and returns `None` if absent.
    pub fn require<'a, 'i>(&mut self, t: Tbl<'a, 'i>, key: &str, what: &str) -> Option<&'a V<'i>> {
        let v = t.t.get(key);
        if v.is_none() {
            let where_ = if t.path.is_empty() {
                "the scenario".to_string()
            } else {
                format!("[{}]", t.path)
            };
            self.err(
                &join(t.path, key),
                &(t.span.0..t.span.1),
                format!("missing key `{key}` in {where_}: expected {what}"),
            );
        }
        v
    }

    fn wrong_type(&mut self, path: &str, v: &V<'_>, expected: &str) {
        self.err(
            path,
            &v.span(),
            format!("expected {expected}, found {}", describe(v.get_ref())),
        );
    }

    /// A string value.
    pub fn string(&mut self, path: &str, v: &V<'_>) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(path, v, "a string");
                None
            }
        }
    }

    /// A string that must be one of `words`: which one, or a problem with "did you mean"
    /// (`expected "a" or "b"` for two words, `expected one of a, b, c` for more).
    pub fn one_of(
        &mut self,
        path: &str,
        v: &V<'_>,
        words: &[&'static str],
    ) -> Option<&'static str> {
        let s = self.string(path, v)?;
        if let Some(w) = words.iter().find(|w| **w == s) {
            return Some(w);
        }
        let expected = match words {
            [a, b] => format!("\"{a}\" or \"{b}\""),
            _ => format!("one of {}", words.join(", ")),
        };
        let hint = did_you_mean(&s, words.iter().copied()).map(|w| format!("did you mean `{w}`?"));
        self.err_hint(
            path,
            &v.span(),
            format!("expected {expected}, found \"{s}\""),
            hint,
        );
        None
    }

    /// A boolean value.
    pub fn boolean(&mut self, path: &str, v: &V<'_>) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(path, v, "true or false");
                None
            }
        }
    }

    /// An integer in `[min, max]`.
    pub fn int(&mut self, path: &str, v: &V<'_>, min: i64, max: i64) -> Option<i64> {
        let range = || {
            if max == i64::MAX {
                format!("an integer ≥ {min}")
            } else {
                format!("an integer from {min} to {max}")
            }
        };
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(x) if (min..=max).contains(&x) => Some(x),
                _ => {
                    self.err(
                        path,
                        &v.span(),
                        format!("expected {}, found {}", range(), describe(v.get_ref())),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(path, v, &range());
                None
            }
        }
    }

    /// A finite number (integer or float) satisfying `ok`, described as `expected`.
    pub fn number(
        &mut self,
        path: &str,
        v: &V<'_>,
        expected: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Option<f64> {
        let x = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|x| x as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if x.is_finite() && ok(x) => Some(x),
            _ => {
                self.err(
                    path,
                    &v.span(),
                    format!("expected {expected}, found {}", describe(v.get_ref())),
                );
                None
            }
        }
    }

    /// A duration string such as `"10ms"`.
    pub fn duration(&mut self, path: &str, v: &V<'_>) -> Option<SimTime> {
        match v.get_ref() {
            DeValue::String(s) => match parse_duration(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.err(
                        path,
                        &v.span(),
                        format!("expected a duration like \"10ms\": {e}"),
                    );
                    None
                }
            },
            DeValue::Integer(i) if i.as_str() == "0" => Some(SimTime::ZERO),
            _ => {
                self.wrong_type(
                    path,
                    v,
                    "a duration string with a unit, like \"250ms\" or \"2s\"",
                );
                None
            }
        }
    }

    /// A rate string such as `"900/s"` (a bare number means per second).
    pub fn rate(&mut self, path: &str, v: &V<'_>) -> Option<f64> {
        let r = match v.get_ref() {
            DeValue::String(s) => parse_rate(s),
            DeValue::Integer(_) | DeValue::Float(_) => {
                return self.number(path, v, "a non-negative rate like \"900/s\"", |x| x >= 0.0);
            }
            _ => {
                self.wrong_type(path, v, "a rate like \"900/s\"");
                return None;
            }
        };
        match r {
            Ok(x) => Some(x),
            Err(e) => {
                self.err(
                    path,
                    &v.span(),
                    format!("expected a rate like \"900/s\": {e}"),
                );
                None
            }
        }
    }

    /// A table value.
    pub fn table<'a, 'i>(&mut self, path: &'a str, v: &'a V<'i>) -> Option<Tbl<'a, 'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(Tbl {
                path,
                t,
                span: (v.span().start, v.span().end),
            }),
            _ => {
                self.wrong_type(path, v, "a table");
                None
            }
        }
    }

    /// An array value.
    pub fn array<'a, 'i>(&mut self, path: &str, v: &'a V<'i>) -> Option<&'a DeArray<'i>> {
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => {
                self.wrong_type(path, v, "an array");
                None
            }
        }
    }
}

/// A short description of a value for "found ..." messages.
pub(crate) fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => {
            let s: &str = s;
            if s.chars().count() > 40 {
                format!("string \"{}…\"", s.chars().take(40).collect::<String>())
            } else {
                format!("string \"{s}\"")
            }
        }
        DeValue::Integer(i) => format!("integer {}", i.as_str()),
        DeValue::Float(f) => format!("float {}", f.as_str()),
        DeValue::Boolean(b) => format!("boolean {b}"),
        DeValue::Datetime(d) => format!("datetime {d}"),
        DeValue::Array(a) => format!("an array of {}", a.len()),
        DeValue::Table(_) => "a table".to_string(),
    }
}
