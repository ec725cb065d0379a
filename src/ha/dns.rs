//! Round-robin DNS in front of the load balancer nodes: the health check that takes a dead
//! node's record out of the answer, and which record a resolving client gets.
//!
//! Semantics (Amazon Route 53 health checks and multivalue/simple routing; see
//! `docs/lb-semantics.md` §7 "DNS round robin"):
//! * a record's health changes after `failure_threshold` consecutive checks that disagree
//!   with its current state, every `interval` (Route 53 defaults: 30 s and 3, so a dead node
//!   is removed 60–90 s after it died);
//! * the answer holds the healthy records; when none is healthy Route 53 answers with all
//!   of them ("fail open");
//! * a client uses the first address of the answer, whose order rotates (round robin);
//! * failover for one client then takes detection + the rest of its cached TTL.
//!
//! Not modelled: Route 53's many checker regions voting (one checker here), the
//! authoritative update delay, resolvers clamping TTLs, and clients that try a second
//! address after a failure (Happy Eyeballs, RFC 8305): each client sticks to its one address
//! until its cache expires.

use crate::engine::SimTime;

/// A DNS health check on one record (a Route 53 health check), sans-IO: the owner asks it
/// when to probe ([`poll_timeout`](DnsCheck::poll_timeout)) and hands it each result.
#[derive(Clone, Debug)]
pub struct DnsCheck {
    interval: SimTime,
    threshold: u32,
    healthy: bool,
    /// Consecutive results that disagree with `healthy`.
    streak: u32,
    next: SimTime,
}

impl DnsCheck {
    /// A check that starts healthy and probes first at `first` (checkers are not in phase
    /// with each other), then every `interval`. `threshold ≥ 1`.
    pub fn new(interval: SimTime, threshold: u32, first: SimTime) -> DnsCheck {
        debug_assert!(threshold >= 1 && interval > SimTime::ZERO);
        DnsCheck {
            interval,
            threshold,
            healthy: true,
            streak: 0,
            next: first,
        }
    }

    /// When the next probe is due.
    pub fn poll_timeout(&self) -> SimTime {
        self.next
    }

    /// Whether the record is in the answer.
    pub fn healthy(&self) -> bool {
        self.healthy
    }

    /// The probe due now came back `ok`; returns the new health if it changed.
    pub fn handle_probe(&mut self, now: SimTime, ok: bool) -> Option<bool> {
        self.next = now + self.interval;
        if ok == self.healthy {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak < self.threshold {
            return None;
        }
        self.streak = 0;
        self.healthy = ok;
        Some(ok)
    }
}

/// The record a resolving client uses: the `rotation`-th healthy record (round robin), or
/// the `rotation`-th of all records when none is healthy (fail open). `healthy` must not be
/// empty.
pub fn pick_record(healthy: &[bool], rotation: u64) -> usize {
    let n_healthy = healthy.iter().filter(|&&h| h).count();
    if n_healthy == 0 {
        return (rotation % healthy.len() as u64) as usize;
    }
    let k = (rotation % n_healthy as u64) as usize;
    healthy
        .iter()
        .enumerate()
        .filter(|(_, h)| **h)
        .nth(k)
        .map(|(i, _)| i)
        .expect("k < number of healthy records")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> SimTime {
        SimTime::from_secs(x)
    }

    /// Route 53 defaults: a node dead from t = 100 s with checks at 15 s + 30 s·k is removed
    /// at the third failed check (105, 135, 165 s): 60–90 s after death in general; back
    /// after three passing checks (315, 345, 375 s).
    #[test]
    fn route53_defaults_remove_after_three_failures() {
        let mut c = DnsCheck::new(s(30), 3, s(15));
        let mut changes = Vec::new();
        while c.poll_timeout() <= s(400) {
            let t = c.poll_timeout();
            let alive = !(s(100)..s(300)).contains(&t);
            if let Some(h) = c.handle_probe(t, alive) {
                changes.push((t, h));
            }
        }
        assert_eq!(changes, vec![(s(165), false), (s(375), true)]);
    }

    #[test]
    fn a_single_failure_does_not_remove() {
        let mut c = DnsCheck::new(s(10), 3, s(0));
        assert_eq!(c.handle_probe(s(0), false), None);
        assert_eq!(c.handle_probe(s(10), false), None);
        assert_eq!(c.handle_probe(s(20), true), None, "streak reset");
        assert_eq!(c.handle_probe(s(30), false), None);
        assert_eq!(c.handle_probe(s(40), false), None);
        assert_eq!(c.handle_probe(s(50), false), Some(false));
        assert!(!c.healthy());
        assert_eq!(c.poll_timeout(), s(60));
    }

    #[test]
    fn records_rotate_over_the_healthy_ones_and_fail_open() {
        let h = [true, false, true, true];
        let picks: Vec<usize> = (0..6).map(|r| pick_record(&h, r)).collect();
        assert_eq!(picks, vec![0, 2, 3, 0, 2, 3]);
        let none = [false, false, false];
        let picks: Vec<usize> = (0..4).map(|r| pick_record(&none, r)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0]);
    }
}
