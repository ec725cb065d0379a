//! Mutations of scenario files: the file's `key = value` pairs and tables found with
//! their spans, and what each mutation does and where its problem must be reported.

use std::ops::Range;

use proptest::prelude::*;
use proptest::sample::Index;
use toml::de::{DeTable, DeValue};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Str,
    Num,
    Bool,
    Array,
    Table,
    Date,
}

/// A `key = value` pair of the document.
#[derive(Clone, Debug)]
struct Leaf {
    /// The key path as lblab names it: `servers[1].slots`, `classes[0].service.mean`.
    path: String,
    /// The key as written, without quotes.
    name: String,
    key: Range<usize>,
    value: Range<usize>,
    kind: Kind,
    /// Inside an inline table or array (no line of its own).
    inline: bool,
}

fn kind(v: &DeValue<'_>) -> Kind {
    match v {
        DeValue::String(_) => Kind::Str,
        DeValue::Integer(_) | DeValue::Float(_) => Kind::Num,
        DeValue::Boolean(_) => Kind::Bool,
        DeValue::Array(_) => Kind::Array,
        DeValue::Table(_) => Kind::Table,
        DeValue::Datetime(_) => Kind::Date,
    }
}

fn leaves(text: &str) -> Vec<Leaf> {
    let mut out = Vec::new();
    if let Ok(doc) = DeTable::parse(text) {
        walk(text, "", doc.get_ref(), false, &mut out);
    }
    out
}

fn walk(text: &str, path: &str, t: &DeTable<'_>, inline: bool, out: &mut Vec<Leaf>) {
    for (k, v) in t.iter() {
        let p = if path.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{path}.{}", k.get_ref())
        };
        let (key, value) = (k.span(), v.span());
        // A header table's span is its header, a dotted key's table its key: no `=`.
        let pair = value.start >= key.end && text[key.end..value.start].trim() == "=";
        if pair {
            out.push(Leaf {
                path: p.clone(),
                name: k.get_ref().to_string(),
                key,
                value,
                kind: kind(v.get_ref()),
                inline,
            });
        }
        match v.get_ref() {
            DeValue::Table(t) => walk(text, &p, t, inline || pair, out),
            DeValue::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    if let DeValue::Table(t) = e.get_ref() {
                        walk(text, &format!("{p}[{i}]"), t, inline || pair, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Byte ranges of the `[table]` and `[[table]]` blocks (header to the next header) and
/// whether each is an array element.
fn tables(text: &str) -> Vec<(Range<usize>, bool)> {
    let mut starts = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let t = line.split('#').next().unwrap_or("").trim();
        if t.starts_with('[') && t.ends_with(']') && !t.contains([',', '=', ' ', '"']) {
            starts.push((at, t.starts_with("[[")));
        }
        at += line.len();
    }
    let ends = starts.iter().skip(1).map(|s| s.0).chain([text.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&(s, array), e)| (s..e, array))
        .collect()
}

/// 1-based line of byte `at`.
pub(super) fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------------------
// Mutations.

/// Values of another TOML type than the original's, none of which the original's key
/// accepts (a table's unknown key, a bool where no key takes one, ...).
fn wrong_type(k: Kind) -> &'static [&'static str] {
    match k {
        Kind::Str => &["true", "[true, 2]", "{ zz_generated = 1 }"],
        Kind::Num => &["true", "\"zz\"", "[1, 2]", "{ zz_generated = 1 }"],
        Kind::Bool => &["\"zz\"", "7", "[true]", "{ zz_generated = 1 }"],
        Kind::Array => &["true", "7", "{ zz_generated = 1 }"],
        Kind::Table => &["true", "7", "[true]"],
        Kind::Date => &["true"],
    }
}

/// Out-of-range and absurd values for a key whose original value is `orig`.
fn extreme(k: Kind, orig: &str) -> &'static [&'static str] {
    const NUM: &[&str] = &[
        "-1",
        "0",
        "-0.0",
        "1e-300",
        "100000",
        "1000000",
        "10000000",
        "4294967296",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "1e308",
        "nan",
        "inf",
        "-inf",
        "\"7\"",
    ];
    const DURATION: &[&str] = &[
        "\"-1s\"",
        "\"0s\"",
        "0",
        "\"1e-30ns\"",
        "\"1e18ns\"",
        "\"1e400s\"",
        "\"99999999999999h\"",
        "\"NaNs\"",
        "\"infms\"",
        "\"10\"",
        "5",
    ];
    const RATE: &[&str] = &[
        "\"-5/s\"",
        "\"0/s\"",
        "\"1e-300/s\"",
        "\"1e12/s\"",
        "\"1e300/s\"",
        "\"inf/s\"",
        "\"NaN/s\"",
        "1e9",
    ];
    const STR: &[&str] = &[
        "\"\"",
        "\"🦀\"",
        "\"power-of-0\"",
        "\"power-of-99999999999\"",
        "\"unlimited\"",
        "\"..\"",
        "7",
    ];
    const ARRAY: &[&str] = &["[]", "[[]]", "[\"\", \"zz\", \"zz\"]"];
    const TABLE: &[&str] = &[
        "{}",
        "{ dist = \"mixture\", parts = [] }",
        "{ dist = \"empirical\", file = \"no-such-trace.csv\" }",
        "{ dist = \"uniform\", min = \"2s\", max = \"1s\" }",
        "{ dist = \"lognormal\", median = \"1ns\", p99 = \"1e17ns\" }",
    ];
    match k {
        Kind::Num => NUM,
        Kind::Str if orig.contains('/') => RATE,
        Kind::Str if orig.trim_matches('"').ends_with('s') => DURATION,
        Kind::Str => STR,
        Kind::Array => ARRAY,
        Kind::Table => TABLE,
        Kind::Bool | Kind::Date => NUM,
    }
}

#[derive(Clone, Debug)]
pub(super) enum Mutation {
    Retype(Index, Index),
    Extreme(Index, Index),
    /// A number made as large as its key allows (or more): sizes, counts, rates.
    Huge(Index, Index),
    DeleteKey(Index),
    DuplicateKey(Index),
    RenameKey(Index, bool),
    DeleteTable(Index),
    DuplicateTable(Index),
    Truncate(Index),
    Bytes(Index, Vec<u8>, bool),
}

pub(super) fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"[]{}\"'=#,.\n\r\t\\\0".to_vec()),
        0x80u8..=0xFF,
    ];
    prop_oneof![
        3 => (any::<Index>(), any::<Index>()).prop_map(|(l, w)| Mutation::Retype(l, w)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(l, w)| Mutation::Extreme(l, w)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(l, w)| Mutation::Huge(l, w)),
        1 => any::<Index>().prop_map(Mutation::DeleteKey),
        1 => any::<Index>().prop_map(Mutation::DuplicateKey),
        2 => (any::<Index>(), any::<bool>()).prop_map(|(l, t)| Mutation::RenameKey(l, t)),
        1 => any::<Index>().prop_map(Mutation::DeleteTable),
        1 => any::<Index>().prop_map(Mutation::DuplicateTable),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), prop::collection::vec(byte, 1..12), any::<bool>())
            .prop_map(|(at, b, over)| Mutation::Bytes(at, b, over)),
    ]
}

/// Where a single mutation's problem must be reported.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expect {
    /// Nothing in particular (it may even be valid).
    Any,
    /// Refused, with a problem at `path` or inside it (`path.x`, `path[0]`) on `line`.
    At { path: String, line: usize },
    /// Refused with a TOML syntax error on `line`.
    Syntax { line: usize },
}

fn splice(bytes: &mut Vec<u8>, r: Range<usize>, with: &[u8]) {
    bytes.splice(r, with.iter().copied());
}

/// Applies `m` to `bytes`. Mutations of keys and tables need a file that parses; on one
/// that does not they change nothing and expect nothing.
pub(super) fn apply(bytes: &mut Vec<u8>, m: &Mutation) -> Expect {
    let text = std::str::from_utf8(bytes).map(str::to_string).ok();
    let ls = text.as_deref().map(leaves).unwrap_or_default();
    let leaf = |i: &Index| (!ls.is_empty()).then(|| ls[i.index(ls.len())].clone());
    let src = |l: &Leaf| text.as_deref().unwrap_or("")[l.value.clone()].to_string();
    match m {
        Mutation::Retype(i, w) => {
            let Some(l) = leaf(i) else { return Expect::Any };
            let with = wrong_type(l.kind);
            splice(bytes, l.value.clone(), with[w.index(with.len())].as_bytes());
            let line = line_of(bytes, l.value.start);
            Expect::At { path: l.path, line }
        }
        Mutation::Extreme(i, w) => {
            if let Some(l) = leaf(i) {
                let with = extreme(l.kind, &src(&l));
                splice(bytes, l.value.clone(), with[w.index(with.len())].as_bytes());
            }
            Expect::Any
        }
        Mutation::Huge(i, w) => {
            let nums: Vec<&Leaf> = ls.iter().filter(|l| l.kind == Kind::Num).collect();
            if !nums.is_empty() {
                let l = nums[i.index(nums.len())];
                let with = ["100000", "1000000", "10000000", "1e12"];
                splice(bytes, l.value.clone(), with[w.index(with.len())].as_bytes());
            }
            Expect::Any
        }
        Mutation::DeleteKey(i) => {
            if let Some(l) = leaf(i) {
                splice(bytes, l.key.start..l.value.end, b"");
            }
            Expect::Any
        }
        Mutation::DuplicateKey(i) => {
            let Some(l) = leaf(i) else { return Expect::Any };
            let t = text.as_deref().unwrap_or("");
            let line_start = t[..l.key.start].rfind('\n').map_or(0, |n| n + 1);
            let (copy, line) = if l.inline {
                let kv = format!(", {} = {}", &t[l.key.clone()], src(&l));
                (kv, line_of(bytes, l.value.end))
            } else {
                let kv = format!("\n{} = {}", &t[line_start..l.key.end], src(&l));
                (kv, line_of(bytes, l.value.end) + 1)
            };
            splice(bytes, l.value.end..l.value.end, copy.as_bytes());
            Expect::Syntax { line }
        }
        Mutation::RenameKey(i, typo) => {
            let Some(l) = leaf(i) else { return Expect::Any };
            if !l
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            {
                return Expect::Any;
            }
            let new = if *typo {
                format!("{}zz", l.name)
            } else {
                "zz_generated".to_string()
            };
            let parent = &l.path[..l.path.len() - l.name.len()];
            splice(bytes, l.key.clone(), new.as_bytes());
            let line = line_of(bytes, l.key.start);
            Expect::At {
                path: format!("{parent}{new}"),
                line,
            }
        }
        Mutation::DeleteTable(i) | Mutation::DuplicateTable(i) => {
            let ts = text.as_deref().map(tables).unwrap_or_default();
            if ts.is_empty() {
                return Expect::Any;
            }
            let (r, array) = ts[i.index(ts.len())].clone();
            if matches!(m, Mutation::DeleteTable(_)) {
                splice(bytes, r, b"");
                return Expect::Any;
            }
            let mut block = bytes[r.clone()].to_vec();
            if !block.ends_with(b"\n") {
                block.insert(0, b'\n');
            }
            let line = line_of(bytes, r.end) + usize::from(!bytes[r.clone()].ends_with(b"\n"));
            splice(bytes, r.end..r.end, &block);
            if array {
                Expect::Any
            } else {
                Expect::Syntax { line }
            }
        }
        Mutation::Truncate(i) => {
            let at = i.index(bytes.len() + 1);
            bytes.truncate(at);
            Expect::Any
        }
        Mutation::Bytes(i, b, overwrite) => {
            let at = i.index(bytes.len() + 1);
            let end = if *overwrite {
                (at + b.len()).min(bytes.len())
            } else {
                at
            };
            splice(bytes, at..end, b);
            Expect::Any
        }
    }
}
