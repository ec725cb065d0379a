//! Linux IPVS `lblc` (locality-based least-connection): a cache maps each destination
//! address to a server, reused until that server is unusable or overloaded while another
//! is under half its weight; otherwise a weighted least-connection pick, re-cached. IPVS
//! keys it on the packet's *destination* IP (for cache clusters); lblab has no destination
//! address, so it is keyed on the request key.

use std::collections::BTreeMap;

use super::ipvs_lc::{IpvsLeastConn, Rule};
use super::least_conn::INDEX_MIN;
use super::{
    AlgorithmInfo, Backend, Balancer, Explanation, NO_EPOCH, ParamDef, ParamKind, ParamValue,
    PoolView, RequestInfo,
};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "ipvs-lblc",
    aliases: &["lvs-lblc"],
    summary: "IPVS lblc keyed on the request key: the key's cached server unless down or overloaded (active > weight while another has 2·active < weight), else IPVS wlc and re-cache",
    source: "Linux IPVS net/netfilter/ipvs/ip_vs_lblc.c (ip_vs_lblc_schedule, is_overloaded, __ip_vs_lblc_schedule)",
    params: &[ParamDef {
        key: "lblc_expiration",
        kind: ParamKind::Duration {
            min: SimTime(1),
            max: SimTime::from_secs(365 * 24 * 3600),
        },
        default: ParamValue::Duration(SimTime::from_secs(24 * 3600)),
        doc: "a cache entry unused this long is forgotten (sysctl net.ipv4.vs.lblc_expiration, 24 h)",
    }],
    build: |p, _| Box::new(IpvsLblc::new(p.duration("lblc_expiration"))),
}];

/// The other half of `is_overloaded` in `ip_vs_lblc.c`: a destination counts if
/// `2·active < weight` (any destination of the list: flags not checked).
#[inline]
fn under_half(in_flight: u32, weight: u32) -> bool {
    u64::from(in_flight) * 2 < u64::from(weight)
}

/// Linux IPVS locality-based least-connection (`lblc`), keyed on the request key.
///
/// Transcribed from `net/netfilter/ipvs/ip_vs_lblc.c`: `ip_vs_lblc_schedule` looks the
/// address up in its cache (`ip_vs_lblc_get`; a hash table of 1024 buckets, chained, so
/// not a size limit) and, if there is an entry, refreshes its `lastuse` and returns its
/// server when that is available, has weight > 0 and is not [`is_overloaded`]. Otherwise
/// `__ip_vs_lblc_schedule` picks by the weighted least-connection rule (the same as
/// `wlc`: overhead `active·256 + inactive`, first of equals; see
/// [`IpvsLeastConn`](super::ipvs_lc::IpvsLeastConn)) and `ip_vs_lblc_new` caches it.
///
/// How lblab differs: IPVS keys the cache on the packet's **destination IP** (a cache
/// cluster in front of many origin addresses); lblab requests have no destination
/// address, so the cache is keyed on the request **key** (`RequestInfo::key`). A request
/// without a key gets the wlc pick and is not cached. As in the other IPVS schedulers,
/// `activeconns` is the backend's in-flight count and `inactconns` is 0 (exact for TCP
/// connections in ESTABLISHED; UDP flows, which IPVS counts as inactive, are not
/// distinguished). The kernel reuses a cached server flagged `OVERLOAD` (it checks
/// `IP_VS_DEST_F_AVAILABLE`, membership in the service, not the overload flag); lblab
/// never picks an unavailable backend, so an unavailable cached server is rescheduled as a
/// removed one would be. Expiry: an entry unused for `lblc_expiration` (24 h by default)
/// is treated as gone at its next use; the kernel reclaims it in its full check (every
/// 30 × 60 s), so up to 30 minutes later. Not modelled: the garbage collection of
/// 6-minute-idle entries when the cache holds more than 16 384 entries
/// (`ip_vs_lblc_check_expire`), so the cache here never evicts an entry still younger
/// than the expiration.
///
/// Cost per pick: a lookup in an ordered map (O(log k) for k cached keys); the wlc pick
/// is [`IpvsLeastConn`]'s (an index in pools of [`INDEX_MIN`] or more whose owner reports
/// in-flight changes, else the kernel's scan). In such pools `is_overloaded`'s "some
/// destination under half its weight" is a count kept up to date on every in-flight
/// change, O(1) per pick; smaller or untracked pools scan for it when the cached server
/// has more in flight than its weight. A new key inserts into the cache (one node
/// allocation). Both ways choose the same backend (`the_index_chooses_as_the_scan`).
#[derive(Clone, Debug)]
pub struct IpvsLblc {
    expiration: SimTime,
    /// Request key → (server id, last use).
    cache: BTreeMap<u64, (u32, SimTime)>,
    /// IPVS `wlc`: the pick for a key not cached or whose server may not be reused.
    wlc: IpvsLeastConn,
    /// Large tracked pools: each backend's (in flight, weight) as last reported, for pool
    /// epoch `epoch` ([`NO_EPOCH`]: not kept).
    loads: Vec<(u32, u32)>,
    /// How many of `loads` are under half their weight.
    n_under_half: usize,
    epoch: u64,
}

impl IpvsLblc {
    /// `lblc` whose entries expire after `expiration` unused.
    pub fn new(expiration: SimTime) -> Self {
        IpvsLblc {
            expiration,
            cache: BTreeMap::new(),
            wlc: IpvsLeastConn::new(Rule::Wlc),
            loads: Vec::new(),
            n_under_half: 0,
            epoch: NO_EPOCH,
        }
    }

    /// Keeps the under-half count for `pool` if it is large and tracked (rebuilt when the
    /// pool's epoch changed).
    fn track(&mut self, pool: &PoolView<'_>) {
        if !pool.tracked() || pool.len() < INDEX_MIN || self.epoch == pool.epoch() {
            return;
        }
        self.loads.clear();
        self.loads
            .extend(pool.backends.iter().map(|b| (b.in_flight, b.weight)));
        self.n_under_half = self
            .loads
            .iter()
            .filter(|&&(a, w)| under_half(a, w))
            .count();
        self.epoch = pool.epoch();
    }

    /// `is_overloaded` in `ip_vs_lblc.c`: more active connections than its weight while
    /// some destination of the list has `2·active < weight`.
    fn is_overloaded(&self, d: &Backend, pool: &PoolView<'_>) -> bool {
        if d.in_flight <= d.weight {
            return false;
        }
        if pool.tracked() && self.epoch == pool.epoch() {
            return self.n_under_half > 0;
        }
        pool.backends
            .iter()
            .any(|x| under_half(x.in_flight, x.weight))
    }

    /// The cached server's index if it may be reused at `now` (no state change).
    fn cached(&self, now: SimTime, pool: &PoolView<'_>, key: u64) -> Option<usize> {
        let &(id, last) = self.cache.get(&key)?;
        if now.saturating_sub(last) >= self.expiration {
            return None;
        }
        let i = pool.index_of(id)?;
        let d = &pool.backends[i];
        (d.eligible() && !self.is_overloaded(d, pool)).then_some(i)
    }
}

impl Balancer for IpvsLblc {
    fn pick(&mut self, now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        let Some(key) = req.key else {
            return self.wlc.pick(now, pool, req);
        };
        self.track(pool);
        if let Some(i) = self.cached(now, pool, key) {
            if let Some(e) = self.cache.get_mut(&key) {
                e.1 = now;
            }
            return Some(i);
        }
        let i = self.wlc.pick(now, pool, req)?;
        self.cache.insert(key, (pool.backends[i].id, now));
        Some(i)
    }

    fn wants_in_flight(&self) -> bool {
        true
    }

    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        self.wlc.on_in_flight(index, in_flight);
        if self.epoch != NO_EPOCH
            && let Some(l) = self.loads.get_mut(index)
        {
            let was = under_half(l.0, l.1);
            l.0 = in_flight;
            let is = under_half(l.0, l.1);
            self.n_under_half = self.n_under_half + usize::from(is) - usize::from(was);
        }
    }

    fn on_pool_change(&mut self, now: SimTime, pool: &PoolView<'_>) {
        // The under-half count follows the pool's epoch on its own (`track`).
        self.wlc.on_pool_change(now, pool);
    }

    fn explain(&self, now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<Explanation> {
        let key = req.key?;
        let note = match (self.cache.get(&key), self.cached(now, pool, key)) {
            (None, _) => format!("key {key}: not cached → wlc"),
            (Some(&(id, _)), Some(_)) => format!("key {key}: cached server {id}, reused"),
            (Some(&(id, _)), None) => {
                format!("key {key}: cached server {id} expired, down or overloaded → wlc")
            }
        };
        Some(Explanation::note(note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{backends, loaded};

    fn pick_key(lb: &mut IpvsLblc, b: &[Backend], key: u64, t: u64) -> Option<usize> {
        let req = RequestInfo {
            key: Some(key),
            ..RequestInfo::default()
        };
        lb.pick(SimTime::from_secs(t), &PoolView::new(b), &req)
    }

    fn day() -> IpvsLblc {
        IpvsLblc::new(SimTime::from_secs(24 * 3600))
    }

    #[test]
    fn a_key_sticks_to_its_server_while_not_overloaded() {
        let mut lb = day();
        let mut b = loaded(&[(2, 0), (2, 0)]);
        assert_eq!(pick_key(&mut lb, &b, 7, 0), Some(0)); // wlc: tie → a
        b[0].in_flight = 2; // active = weight: not overloaded
        assert_eq!(pick_key(&mut lb, &b, 7, 1), Some(0));
        // Another key goes by wlc: b (0/2 < 512/2).
        assert_eq!(pick_key(&mut lb, &b, 8, 1), Some(1));
        // a above its weight, and b has 2·0 < 2: overloaded → rescheduled to b, re-cached.
        b[0].in_flight = 3;
        assert_eq!(pick_key(&mut lb, &b, 7, 2), Some(1));
        b[0].in_flight = 0;
        assert_eq!(pick_key(&mut lb, &b, 7, 3), Some(1));
    }

    #[test]
    fn above_weight_is_not_overloaded_unless_another_is_under_half() {
        let mut lb = day();
        let mut b = loaded(&[(2, 0), (2, 0)]);
        assert_eq!(pick_key(&mut lb, &b, 1, 0), Some(0));
        // a: 5 > 2; b: 2·1 = 2, not < 2: nobody under half, a is kept.
        b[0].in_flight = 5;
        b[1].in_flight = 1;
        assert_eq!(pick_key(&mut lb, &b, 1, 1), Some(0));
        // A down backend with 2·0 < 4 counts too (the kernel does not check flags).
        let mut c = backends(&[(2, 5, true), (2, 1, true), (4, 0, false)]);
        assert_eq!(
            pick_key(&mut lb, &c, 1, 2),
            Some(1),
            "a overloaded → wlc: b"
        );
        c[2].weight = 0;
        assert_eq!(pick_key(&mut lb, &c, 1, 3), Some(1), "b is cached now");
    }

    #[test]
    fn down_removed_or_expired_servers_are_rescheduled() {
        let mut lb = day();
        let mut b = loaded(&[(1, 0), (1, 1), (1, 2)]);
        assert_eq!(pick_key(&mut lb, &b, 9, 0), Some(0));
        b[0].available = false;
        assert_eq!(pick_key(&mut lb, &b, 9, 1), Some(1));
        b[0].available = true;
        assert_eq!(pick_key(&mut lb, &b, 9, 2), Some(1), "re-cached on b");
        // b leaves the pool: rescheduled by wlc over the rest (a, idle).
        let rest = vec![b[0], b[2]];
        assert_eq!(pick_key(&mut lb, &rest, 9, 3), Some(0));
        // An entry unused for a day is forgotten and the key goes by wlc again.
        let mut lb = day();
        let mut b = loaded(&[(1, 1), (1, 0)]);
        assert_eq!(pick_key(&mut lb, &b, 4, 0), Some(1));
        b[1].in_flight = 1;
        b[0].in_flight = 0;
        assert_eq!(
            pick_key(&mut lb, &b, 4, 24 * 3600 - 1),
            Some(1),
            "still cached"
        );
        assert_eq!(
            pick_key(&mut lb, &b, 4, 2 * 24 * 3600 - 2),
            Some(1),
            "use refreshed it"
        );
        assert_eq!(pick_key(&mut lb, &b, 4, 3 * 24 * 3600), Some(0), "expired");
    }

    #[test]
    fn the_index_chooses_as_the_scan() {
        use crate::balancer::testutil::index_agrees_with_scan;
        for (n, seed) in [(INDEX_MIN, 1), (300, 2)] {
            let picks = index_agrees_with_scan(
                || Box::new(day()),
                n,
                |r| r.below(4) as u32,
                0,
                100_000,
                seed,
            );
            assert!(picks > 40_000, "{n}: {picks}");
        }
    }

    #[test]
    fn keyless_requests_are_wlc_and_not_cached() {
        let mut lb = day();
        let b = loaded(&[(1, 1), (1, 0)]);
        let got = lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default());
        assert_eq!(got, Some(1));
        assert!(lb.cache.is_empty());
        assert_eq!(pick_key(&mut lb, &[], 1, 0), None);
    }
}
