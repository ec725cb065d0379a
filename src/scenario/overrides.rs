//! `--set key.path=value`: edits the parsed document before it is read, so an override is
//! checked exactly like the same key written in the file.
//!
//! Paths are dotted TOML keys. Elements of arrays of tables are addressed by index
//! (`servers[1].slots`, `servers.1.slots`) or by their `name` (`servers.web.slots`). The
//! value is parsed as TOML if it can be (`8`, `true`, `["a", "b"]`, `{ dist = "constant",
//! value = "1ms" }`) and is otherwise taken as a string (`900/s`, `10ms`, `least-connections`).

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::doc::{Cx, SET_MARK, V};

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Option<Vec<Seg<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return None;
        }
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            out.push(Seg::Index(r[..close].trim().parse().ok()?));
            rest = &r[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// Gives every span in `v` the mark of override `k`.
fn remark<'i>(v: &V<'i>, mark: usize) -> V<'i> {
    let r = mark..mark;
    let inner = match v.get_ref() {
        DeValue::Array(a) => {
            let mut out = DeArray::new();
            for e in a.iter() {
                out.push(remark(e, mark));
            }
            DeValue::Array(out)
        }
        DeValue::Table(t) => {
            let mut out = DeTable::new();
            for (k, e) in t.iter() {
                out.insert(
                    Spanned::new(r.clone(), k.get_ref().clone()),
                    remark(e, mark),
                );
            }
            DeValue::Table(out)
        }
        other => other.clone(),
    };
    Spanned::new(r, inner)
}

/// Applies override number `k` (`arg` is `path=value`) to `doc`, recording problems in `cx`.
pub(crate) fn apply<'i>(doc: &mut DeTable<'i>, k: usize, arg: &'i str, cx: &mut Cx) {
    let mark = SET_MARK + k;
    let span = mark..mark;
    let Some((path, raw)) = arg.split_once('=') else {
        cx.err("", &span, "expected key.path=value");
        return;
    };
    let (path, raw) = (path.trim(), raw.trim());
    let Some(segs) = segments(path) else {
        cx.err(
            path,
            &span,
            "not a valid key path (write e.g. servers.web.slots or classes[0].share)",
        );
        return;
    };
    let value: V<'i> = match DeValue::parse(raw) {
        Ok(v) => remark(&v, mark),
        Err(_) => Spanned::new(span.clone(), DeValue::String(Cow::Borrowed(raw))),
    };
    let mut root = DeValue::Table(std::mem::take(doc));
    let result = set_in(&mut root, &segs, value, mark);
    if let DeValue::Table(t) = root {
        *doc = t;
    }
    if let Err(msg) = result {
        cx.err(path, &span, msg);
    }
}

fn set_in<'i>(
    cur: &mut DeValue<'i>,
    segs: &[Seg<'_>],
    value: V<'i>,
    mark: usize,
) -> Result<(), String> {
    let Some((first, rest)) = segs.split_first() else {
        *cur = value.into_inner();
        return Ok(());
    };
    match (cur, first) {
        (DeValue::Table(t), Seg::Key(key)) => {
            if rest.is_empty() {
                t.insert(Spanned::new(mark..mark, Cow::Owned(key.to_string())), value);
                return Ok(());
            }
            if t.get(*key).is_none() {
                t.insert(
                    Spanned::new(mark..mark, Cow::Owned(key.to_string())),
                    Spanned::new(mark..mark, DeValue::Table(DeTable::new())),
                );
            }
            let next = t.get_mut(*key).expect("just inserted");
            set_in(next.get_mut(), rest, value, mark)
        }
        (DeValue::Array(a), Seg::Index(i)) => {
            let n = a.len();
            let e = a
                .get_mut(*i)
                .ok_or_else(|| format!("index {i} is out of range ({n} elements)"))?;
            set_in(e.get_mut(), rest, value, mark)
        }
        (DeValue::Array(a), Seg::Key(key)) => {
            if let Ok(i) = key.parse::<usize>() {
                let n = a.len();
                let e = a
                    .get_mut(i)
                    .ok_or_else(|| format!("index {i} is out of range ({n} elements)"))?;
                return set_in(e.get_mut(), rest, value, mark);
            }
            let names: Vec<String> = a
                .iter()
                .filter_map(|e| {
                    e.get_ref()
                        .get("name")
                        .and_then(|n| n.get_ref().as_str())
                        .map(str::to_string)
                })
                .collect();
            let pos = a.iter().position(|e| {
                e.get_ref().get("name").and_then(|n| n.get_ref().as_str()) == Some(key)
            });
            match pos {
                Some(i) => set_in(
                    a.get_mut(i).expect("position is in range").get_mut(),
                    rest,
                    value,
                    mark,
                ),
                None => Err(format!(
                    "no element named `{key}` (names: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )),
            }
        }
        (other, _) => Err(format!(
            "cannot set a key inside {}",
            super::doc::describe(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        let s = segments("servers[1].slots").unwrap();
        assert!(matches!(
            s.as_slice(),
            [Seg::Key("servers"), Seg::Index(1), Seg::Key("slots")]
        ));
        assert!(segments("a..b").is_none());
        assert!(segments("a[x]").is_none());
    }
}

/// Splits an `--axis` value list at its top-level commas: a comma inside brackets, braces
/// or quotes belongs to its value (`[],["db", "redis"]` is two values).
pub fn split_values(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod split_tests {
    use super::split_values;

    #[test]
    fn commas_inside_brackets_braces_and_quotes_stay_in_their_value() {
        assert_eq!(split_values("1,2, 3"), ["1", "2", " 3"]);
        assert_eq!(
            split_values(r#"[],["db", "redis"]"#),
            ["[]", r#"["db", "redis"]"#]
        );
        assert_eq!(
            split_values(r#"{ dist = "constant", value = "1ms" },"a,b""#),
            [r#"{ dist = "constant", value = "1ms" }"#, r#""a,b""#]
        );
    }
}
