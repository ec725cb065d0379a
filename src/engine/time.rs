//! Simulated time as integer nanoseconds.
//!
//! Floating-point clocks drift and compare badly; an integer clock is exact and totally
//! ordered, which is what makes the event order (and so every output) reproducible.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds since the start of the scenario (or a span of nanoseconds).
///
/// `u64` nanoseconds cover 584 years, far beyond any scenario; arithmetic saturates rather
/// than wraps so a pathological draw cannot make time run backwards.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Time zero: the start of every replication.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable time; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);
    /// One microsecond.
    pub const MICROSECOND: SimTime = SimTime(1_000);
    /// One millisecond.
    pub const MILLISECOND: SimTime = SimTime(1_000_000);
    /// One second.
    pub const SECOND: SimTime = SimTime(1_000_000_000);

    /// Nanoseconds as a plain integer.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole nanoseconds.
    pub const fn from_nanos(ns: u64) -> SimTime {
        SimTime(ns)
    }

    /// Whole seconds (for building times in tests and examples).
    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s * 1_000_000_000)
    }

    /// Whole milliseconds.
    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    /// Converts seconds to the nearest nanosecond, saturating at the representable range
    /// (negative and NaN inputs give zero).
    #[inline]
    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime::from_nanos_f64(s * 1e9)
    }

    /// Rounds a nanosecond count to the nearest integer, saturating (negative/NaN give 0).
    #[inline]
    pub fn from_nanos_f64(ns: f64) -> SimTime {
        // `as` saturates for out-of-range floats and maps NaN to 0.
        SimTime((ns + 0.5) as u64)
    }

    /// Seconds as a float, for reporting only (never for ordering).
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Milliseconds as a float, for reporting only.
    #[inline]
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 * 1e-6
    }

    /// `self - earlier`, or zero if `earlier` is later.
    #[inline]
    pub fn saturating_sub(self, earlier: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(earlier.0))
    }
}

impl Add for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, rhs: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for SimTime {
    #[inline]
    fn add_assign(&mut self, rhs: SimTime) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub for SimTime {
    type Output = SimTime;
    /// Saturating: a span is never negative.
    #[inline]
    fn sub(self, rhs: SimTime) -> SimTime {
        self.saturating_sub(rhs)
    }
}

impl fmt::Display for SimTime {
    /// Human units: `1.5s`, `250ms`, `40us`, `12ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns >= 1_000_000_000 {
            write!(f, "{}s", trim(ns as f64 / 1e9))
        } else if ns >= 1_000_000 {
            write!(f, "{}ms", trim(ns as f64 / 1e6))
        } else if ns >= 1_000 {
            write!(f, "{}us", trim(ns as f64 / 1e3))
        } else {
            write!(f, "{ns}ns")
        }
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_print_as_whole_seconds() {
        // `ns * 1e-9` would give 120.00000000000001: 1e-9 is not exact in binary.
        assert_eq!(SimTime::from_secs(120).as_secs_f64().to_string(), "120");
        assert_eq!(SimTime::from_millis(2500).as_secs_f64(), 2.5);
        assert_eq!(SimTime::from_nanos_f64(1.0).as_secs_f64(), 1e-9);
    }

    #[test]
    fn conversions_round_and_saturate() {
        assert_eq!(SimTime::from_secs_f64(1.5), SimTime(1_500_000_000));
        assert_eq!(SimTime::from_nanos_f64(0.49), SimTime(0));
        assert_eq!(SimTime::from_nanos_f64(0.5), SimTime(1));
        assert_eq!(SimTime::from_nanos_f64(-3.0), SimTime(0));
        assert_eq!(SimTime::from_nanos_f64(f64::NAN), SimTime(0));
        assert_eq!(SimTime::from_nanos_f64(1e30), SimTime::MAX);
        assert_eq!(SimTime(5) - SimTime(7), SimTime::ZERO);
        assert_eq!(SimTime::MAX + SimTime(1), SimTime::MAX);
    }

    #[test]
    fn display_picks_a_readable_unit() {
        assert_eq!(SimTime::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimTime::from_millis(250).to_string(), "250ms");
        assert_eq!(SimTime(40_000).to_string(), "40us");
        assert_eq!(SimTime(12).to_string(), "12ns");
    }
}
