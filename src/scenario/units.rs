//! Durations and rates as scenario files write them: `"250us"`, `"10ms"`, `"2s"`, `"900/s"`.

use crate::engine::SimTime;

/// The time units a duration may use, as listed in messages.
pub const UNITS: &str = "ns, us or µs, ms, s or sec, m or min, h";

/// Nanoseconds in one `unit`, if it is a time unit.
pub fn unit_ns(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" | "sec" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return None,
    })
}

/// Parses a duration with a unit (`ns`, `us`/`µs`, `ms`, `s`/`sec`, `m`/`min`, `h`).
/// A bare `0` is accepted; any other number needs a unit.
pub fn parse_duration(s: &str) -> Result<SimTime, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(SimTime::ZERO);
    }
    let numeric = |c: char| c.is_ascii_digit() || "._eE+-".contains(c);
    let split = t
        .find(|c: char| !numeric(c))
        .ok_or_else(|| format!("`{t}` has no unit (write e.g. \"{t}ms\" or \"{t}s\")"))?;
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let scale =
        unit_ns(unit).ok_or_else(|| format!("unknown duration unit `{unit}` (use {UNITS})"))?;
    let ns = non_negative(num, t, "duration")? * scale;
    if ns > 1e18 {
        return Err(format!(
            "duration `{t}` is too long (the limit is about 31 years)"
        ));
    }
    Ok(SimTime::from_nanos_f64(ns))
}

/// Parses a rate such as `"900/s"`, `"15/min"`, `"2/ms"` into requests per second; the
/// unit after the slash is any duration unit.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = t
        .split_once('/')
        .ok_or_else(|| format!("`{t}` is not a rate (write e.g. \"900/s\")"))?;
    let per = per.trim();
    let per_ns = unit_ns(per).ok_or_else(|| {
        format!("unknown rate unit `/{per}` (use /s, /ms, /min, ... : any of {UNITS})")
    })?;
    Ok(non_negative(num, t, "rate")? * 1e9 / per_ns)
}

/// `num` as a finite non-negative number (underscores allowed), or a message about `whole`.
fn non_negative(num: &str, whole: &str, what: &str) -> Result<f64, String> {
    let x: f64 = num
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{}` is not a number", num.trim()))?;
    if !x.is_finite() || x < 0.0 {
        return Err(format!(
            "{what} must be a finite non-negative number, found `{whole}`"
        ));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250us"), Ok(SimTime(250_000)));
        assert_eq!(parse_duration("10ms"), Ok(SimTime(10_000_000)));
        assert_eq!(parse_duration("1.5s"), Ok(SimTime(1_500_000_000)));
        assert_eq!(parse_duration("5m"), Ok(SimTime::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(SimTime::from_secs(7200)));
        assert_eq!(parse_duration("0"), Ok(SimTime::ZERO));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1e300s").is_err());
        assert!(parse_duration("nans").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("900/s"), Ok(900.0));
        assert_eq!(parse_rate("60/min"), Ok(1.0));
        assert_eq!(parse_rate("2/ms"), Ok(2000.0));
        assert!(parse_rate("900").is_err());
        assert!(parse_rate("-1/s").is_err());
        assert!(parse_rate("x/s").is_err());
    }
}
