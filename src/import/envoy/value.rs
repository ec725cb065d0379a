//! Reading Envoy's protobuf values from YAML/JSON nodes, as Envoy's JSON mapping accepts
//! them: durations as `"1.5s"` (or `{seconds, nanos}`), integers as numbers or strings,
//! wrapper types plain or as `{value: …}`, `Percent` as `{value: …}`, `RuntimeDouble` as
//! `{default_value: …}`.

use super::super::ImportError;
use super::yaml::Node;

const SEC: u64 = 1_000_000_000;

/// A scalar's text, or an error naming `what`.
pub(crate) fn text<'a>(n: &'a Node, what: &str) -> Result<&'a str, ImportError> {
    n.text().ok_or_else(|| {
        ImportError::at(
            &n.at,
            format!("{what}: expected a value, found {}", n.what()),
        )
    })
}

/// A wrapper (`UInt32Value`, …) written as `{value: N}` stands for N.
fn unwrap(n: &Node) -> &Node {
    match n.get("value") {
        Some(v) if n.entries().len() == 1 => v,
        _ => n,
    }
}

/// A non-negative integer up to `max`.
pub(crate) fn uint(n: &Node, what: &str, max: u64) -> Result<u64, ImportError> {
    let n = unwrap(n);
    let t = text(n, what)?;
    let v: u64 = t.parse().map_err(|_| {
        ImportError::at(
            &n.at,
            format!("{what}: \"{t}\" is not a whole number (expected 0 to {max})"),
        )
    })?;
    if v > max {
        return Err(ImportError::at(
            &n.at,
            format!("{what}: {v} is out of range (at most {max})"),
        ));
    }
    Ok(v)
}

/// A boolean (`true`/`false`, or a `BoolValue` wrapper).
pub(crate) fn boolean(n: &Node, what: &str) -> Result<bool, ImportError> {
    let n = unwrap(n);
    match text(n, what)? {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        t => Err(ImportError::at(
            &n.at,
            format!("{what}: expected true or false, not \"{t}\""),
        )),
    }
}

/// A finite number from `lo` to `hi` as its TOML literal: a plain number, a `Percent`
/// (`{value: …}`) or a `RuntimeDouble` (`{default_value: …}`).
pub(crate) fn number(n: &Node, what: &str, lo: f64, hi: f64) -> Result<String, ImportError> {
    let n = n.get("default_value").unwrap_or_else(|| unwrap(n));
    let t = text(n, what)?;
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(if v.fract() == 0.0 {
            format!("{v:.1}")
        } else {
            format!("{v}")
        }),
        _ => Err(ImportError::at(
            &n.at,
            format!("{what}: expected a number from {lo} to {hi}, not \"{t}\""),
        )),
    }
}

/// A `google.protobuf.Duration` in nanoseconds: `"5s"`, `"0.25s"`, or
/// `{seconds: 5, nanos: 0}`.
pub(crate) fn duration(n: &Node, what: &str) -> Result<u64, ImportError> {
    if n.get("seconds").is_some() || n.get("nanos").is_some() {
        let s = n
            .get("seconds")
            .map_or(Ok(0), |s| uint(s, what, 315_576_000_000))?;
        let ns = n
            .get("nanos")
            .map_or(Ok(0), |s| uint(s, what, 999_999_999))?;
        return Ok(s.saturating_mul(SEC).saturating_add(ns));
    }
    let t = text(n, what)?;
    let bad = || {
        ImportError::at(
            &n.at,
            format!(
                "{what}: \"{t}\" is not a protobuf duration (seconds with an `s`, like \"5s\" or \"0.25s\")"
            ),
        )
    };
    let num = t.strip_suffix('s').ok_or_else(bad)?;
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > 9
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let nanos: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    if secs > 315_576_000_000 {
        return Err(bad());
    }
    Ok(secs * SEC + nanos)
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;
    use super::*;

    fn v(s: &str) -> Node {
        parse("t.yaml", &format!("x: {s}\n"))
            .unwrap()
            .get("x")
            .unwrap()
            .clone()
    }

    #[test]
    fn durations_follow_the_protobuf_json_mapping() {
        assert_eq!(duration(&v("5s"), "d").unwrap(), 5 * SEC);
        assert_eq!(duration(&v("\"0.250s\""), "d").unwrap(), 250_000_000);
        assert_eq!(duration(&v(".5s"), "d").unwrap(), 500_000_000);
        assert_eq!(
            duration(&v("{seconds: 2, nanos: 5}"), "d").unwrap(),
            2 * SEC + 5
        );
        for bad in ["5", "5m", "1.0000000001s", "-1s", "s", "[1]"] {
            assert!(duration(&v(bad), "d").is_err(), "{bad}");
        }
    }

    #[test]
    fn wrappers_percents_and_runtime_doubles_unwrap() {
        assert_eq!(uint(&v("3"), "n", 10).unwrap(), 3);
        assert_eq!(uint(&v("'3'"), "n", 10).unwrap(), 3);
        assert_eq!(uint(&v("{value: 7}"), "n", 10).unwrap(), 7);
        assert!(uint(&v("11"), "n", 10).is_err());
        assert!(uint(&v("-1"), "n", 10).is_err());
        assert_eq!(number(&v("{value: 50}"), "p", 0.0, 100.0).unwrap(), "50.0");
        assert_eq!(
            number(&v("{default_value: 1.5, runtime_key: a}"), "a", 0.0, 100.0).unwrap(),
            "1.5"
        );
        assert!(number(&v("{value: 150}"), "p", 0.0, 100.0).is_err());
        assert!(boolean(&v("{value: true}"), "b").unwrap());
        assert!(boolean(&v("yes"), "b").is_err());
    }
}
