//! Linux IPVS `wrr`: classic LVS *interleaved* weighted round robin (not smooth): passes
//! over the destination list with a falling weight threshold, each pass taking every
//! destination whose weight reaches it.

use super::{AlgorithmInfo, Balancer, Explanation, PoolSnapshot, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "ipvs-wrr",
    aliases: &["lvs-wrr", "interleaved-wrr"],
    summary: "IPVS wrr: interleaved passes with a falling threshold cw (not smooth): weights 5,1,1 give `a a a a a b c`",
    source: "Linux IPVS net/netfilter/ipvs/ip_vs_wrr.c (ip_vs_wrr_schedule, ip_vs_wrr_dest_changed)",
    params: &[],
    build: |_, _| Box::new(IpvsWrr::new()),
}];

/// Linux IPVS interleaved weighted round robin.
///
/// Transcribed from `net/netfilter/ipvs/ip_vs_wrr.c`. State (`struct ip_vs_wrr_mark`): `cl`,
/// the destination chosen last (or the list head), `cw` the current weight threshold, `mw`
/// = max weight − (di − 1) and `di` = the gcd of the positive weights (1 if none).
/// `ip_vs_wrr_schedule` scans on from `cl` for a destination that is not overloaded and
/// has `weight ≥ cw`; at the end of the list `cw −= di`, and when `cw ≤ 0` it wraps to
/// `mw`. It gives up ("all destinations are overloaded") once every destination was
/// checked in a last pass (`cw ≤ di`) — the `last_pass`/`restarted`/`stop` logic is
/// transcribed as is. `mw == 0` (no positive weight) means no destination.
///
/// Vectors (connections-and-presets §B.2): weights 4,3,2 give `aababcabc` (passes cw = 4:
/// a; 3: a b; 2: a b c; 1: a b c); 5,1,1 give `aaaaabc` (nginx's smooth WRR gives
/// `aabacaa`); 4,2 (gcd 2) give `aab` (mw = 3, passes cw = 3 and 1).
///
/// Pool changes: `ip_vs_wrr_dest_changed` runs on every add, delete or edit of a
/// destination: `cl` goes back to the list head, `di` and `mw` are recomputed, and `cw`
/// becomes `mw` if it exceeded `mw` or was 0, else (if `di > 1`) `(cw/di)·di + 1`. lblab
/// does this whenever a backend's id or weight changes. An unavailable backend is an IPVS
/// destination flagged `OVERLOAD` (skipped, still in the list, its weight still counted
/// in `mw` and `di`, no reset), as with a health checker that quiesces rather than removes
/// failed servers; a scenario that removes the server gets the kernel's `del_dest` reset.
///
/// Defaults: no parameters; the first pick scans from the head with `cw = mw`. Cost per
/// pick: the kernel's scan. A cycle of `Σw/di` picks makes about `mw/di` passes over the
/// `n` backends, so about `n·mw/Σw` positions per pick amortised: O(1) for equal
/// weights, up to O(n) when one weight dominates; no index.
#[derive(Clone, Debug)]
pub struct IpvsWrr {
    /// Index of the destination chosen last; `None` is the list head.
    cl: Option<usize>,
    cw: i64,
    mw: i64,
    di: i64,
    /// The ids and weights the state was computed for.
    seen: PoolSnapshot,
}

impl Default for IpvsWrr {
    fn default() -> Self {
        Self::new()
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl IpvsWrr {
    /// The scheduler before it has seen a pool (`ip_vs_wrr_init_svc` runs at the first).
    pub fn new() -> Self {
        IpvsWrr {
            cl: None,
            cw: 0,
            mw: 0,
            di: 1,
            seen: PoolSnapshot::new(false),
        }
    }

    /// `ip_vs_wrr_dest_changed` (and, with `cw = 0`, `ip_vs_wrr_init_svc`) if the ids or
    /// weights differ from the last pool seen.
    fn sync(&mut self, pool: &PoolView<'_>) {
        if !self.seen.update(pool) {
            return;
        }
        self.cl = None;
        // ip_vs_wrr_gcd_weight: gcd of the positive weights, 1 if none.
        let g = pool
            .backends
            .iter()
            .map(|b| i64::from(b.weight))
            .filter(|&w| w > 0)
            .fold(0, gcd);
        self.di = if g > 0 { g } else { 1 };
        // ip_vs_wrr_max_weight, reduced by di − 1 so that the last pass has cw = 1.
        let max = pool
            .backends
            .iter()
            .map(|b| i64::from(b.weight))
            .max()
            .unwrap_or(0);
        self.mw = max - (self.di - 1);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
    }
}

impl Balancer for IpvsWrr {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        self.sync(pool);
        if self.mw <= 0 {
            return None; // err_noavail
        }
        let n = pool.len();
        let last = self.cl;
        let mut dest = self.cl;
        let mut stop: Option<usize> = None;
        let (mut last_pass, mut restarted) = (false, false);
        loop {
            // list_for_each_entry_continue: the dests after `dest`, up to the head.
            let mut i = dest.map_or(0, |c| c + 1);
            while i < n {
                let d = &pool.backends[i];
                if d.available && i64::from(d.weight) >= self.cw {
                    self.cl = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    self.cl = Some(i);
                    return None; // err_over
                }
                i += 1;
            }
            dest = None;
            self.cw -= self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                // Stop if the last pass already ran from the head, or started there.
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None; // err_over
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                // The first traversal for w ≥ 1 covered only the dests after `last`; now
                // the ones up to it.
                stop = last;
            }
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.sync(pool);
    }

    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<Explanation> {
        let mut e = Explanation::per_backend(
            "weight (taken iff ≥ cw, scanning on after ▶)",
            pool.backends
                .iter()
                .enumerate()
                .filter(|(_, b)| b.eligible())
                .map(|(i, b)| {
                    let mark = if self.cl == Some(i) { " ▶" } else { "" };
                    (b.id, format!("{}{mark}", b.weight))
                })
                .collect(),
        );
        e.note = format!("cw = {}, mw = {}, di = {}", self.cw, self.mw, self.di);
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{sequence, weighted, weighted_available};

    #[test]
    fn reference_vectors() {
        assert_eq!(
            sequence(&mut IpvsWrr::new(), &weighted(&[4, 3, 2]), 18),
            "aababcabc".repeat(2)
        );
        assert_eq!(
            sequence(&mut IpvsWrr::new(), &weighted(&[5, 1, 1]), 14),
            "aaaaabc".repeat(2)
        );
        assert_eq!(
            sequence(&mut IpvsWrr::new(), &weighted(&[4, 2]), 9),
            "aab".repeat(3)
        );
        // Equal weights: plain rotation.
        assert_eq!(
            sequence(&mut IpvsWrr::new(), &weighted(&[2, 2, 2]), 6),
            "abcabc"
        );
    }

    #[test]
    fn the_state_is_reset_on_a_weight_change() {
        let mut lb = IpvsWrr::new();
        let mut b = weighted(&[4, 3, 2]);
        assert_eq!(sequence(&mut lb, &b, 4), "aaba"); // cw = 2 after a, at a.
        // c's weight goes 2 → 4: mw = 4 (gcd 1); cw = 2 ≤ mw stays; pointer to the head:
        // the pass with cw = 2 restarts from a: a b c, then cw = 1: a b c, then cw = 4: a c.
        b[2].weight = 4;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut lb, &b, 8), "abcabcac");
        // A change to weights with gcd 2 while cw = 4: mw = 4 − 1 = 3 and cw > mw, so
        // cw = mw.
        let mut lb = IpvsWrr::new();
        let b = weighted(&[4, 3, 2]);
        assert_eq!(sequence(&mut lb, &b, 1), "a"); // cw = 4
        let b2 = weighted(&[4, 2, 2]);
        // di = 2, mw = 3; cw = 4 > mw → 3: passes 3 (a), 1 (a b c).
        assert_eq!(sequence(&mut lb, &b2, 8), "aabcaabc");
    }

    #[test]
    fn unavailable_is_skipped_without_a_reset() {
        let mut lb = IpvsWrr::new();
        let mut b = weighted(&[4, 3, 2]);
        assert_eq!(sequence(&mut lb, &b, 2), "aa"); // cw = 3, at a.
        b[1].available = false; // b overloaded: skipped, cw and the pointer stay.
        assert_eq!(sequence(&mut lb, &b, 4), "acac");
        // Now at c with cw = 1: the list ends, cw wraps to 4 and the cycle starts afresh.
        b[1].available = true;
        assert_eq!(sequence(&mut lb, &b, 9), "aababcabc");
    }

    #[test]
    fn none_when_nothing_is_eligible() {
        assert_eq!(sequence(&mut IpvsWrr::new(), &[], 2), "--");
        assert_eq!(sequence(&mut IpvsWrr::new(), &weighted(&[0, 0]), 2), "--");
        let mut lb = IpvsWrr::new();
        let mut b = weighted_available(&[(2, true), (1, true)]);
        assert_eq!(sequence(&mut lb, &b, 2), "aa");
        b[0].available = false;
        b[1].available = false;
        assert_eq!(sequence(&mut lb, &b, 2), "--");
        b[1].available = true;
        assert_eq!(sequence(&mut lb, &b, 3), "bbb");
    }
}
