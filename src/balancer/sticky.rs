//! Sticky sessions by cookie over any base algorithm: the first request of a session is
//! placed by the base algorithm, later ones follow the cookie.

use super::{
    AlgorithmInfo, AlgorithmSpec, Balancer, Outcome, ParamDef, ParamKind, ParamValue,
    PassiveChange, PoolView, RequestInfo,
};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "sticky",
    aliases: &["sticky-cookie", "cookie"],
    summary: "sticky sessions by cookie: the base algorithm places a session's first request, the cookie pins the rest; a gone server breaks the session and it is re-pinned",
    source: "HAProxy `cookie SERVERID insert` + `option redispatch` (backend.c, assign_server); nginx Plus `sticky cookie`",
    params: &[ParamDef {
        key: "base",
        kind: ParamKind::Algorithm,
        default: ParamValue::Word("round-robin"),
        doc: "algorithm that places requests without a valid cookie (with its default parameters)",
    }],
    build: |p, rng| Box::new(Sticky::new(p.word("base"), rng)),
}];

/// Cookie-based session persistence over a base algorithm.
///
/// Follows HAProxy's `cookie <name> insert` with `option redispatch`: the load balancer
/// sets a cookie naming the server that answered; a request carrying a cookie for a server
/// that is in the pool and usable goes there, bypassing the base algorithm; otherwise (no
/// cookie, a removed server, a server marked down) the base algorithm chooses and the
/// response re-pins the session. The cookie itself lives in the client
/// ([`RequestInfo::cookie`]); the owner of the balancer updates it after each dispatch and
/// counts a *broken session* when the chosen server differs from the cookie's.
///
/// Defaults: base algorithm round robin (HAProxy's classic `balance roundrobin` +
/// `cookie SERVERID insert indirect nocache`).
pub struct Sticky {
    base: Box<dyn Balancer>,
}

impl Sticky {
    /// Stickiness over the catalogue algorithm `base` (default parameters).
    pub fn new(base: &str, rng: SimRng) -> Sticky {
        let spec = AlgorithmSpec::named(base)
            .unwrap_or_else(|| AlgorithmSpec::named("round-robin").expect("round-robin exists"));
        Sticky {
            base: spec.build(rng),
        }
    }
}

impl Balancer for Sticky {
    fn pick(&mut self, now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        if let Some(id) = req.cookie
            && let Some(i) = pool.index_of(id)
            && pool.backends[i].eligible()
        {
            return Some(i);
        }
        self.base.pick(now, pool, req)
    }

    fn on_response(&mut self, now: SimTime, pool: &PoolView<'_>, index: usize, outcome: Outcome) {
        self.base.on_response(now, pool, index, outcome);
    }

    fn poll_passive(&mut self) -> Option<PassiveChange> {
        self.base.poll_passive()
    }

    fn on_pool_change(&mut self, now: SimTime, pool: &PoolView<'_>) {
        self.base.on_pool_change(now, pool);
    }

    fn wants_in_flight(&self) -> bool {
        self.base.wants_in_flight()
    }

    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        self.base.on_in_flight(index, in_flight);
    }

    fn wants_key_hints(&self) -> bool {
        self.base.wants_key_hints()
    }

    fn hint_key(&mut self, key: u64) {
        self.base.hint_key(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{rng, weighted_available};

    fn req(cookie: Option<u32>) -> RequestInfo {
        RequestInfo {
            cookie,
            ..RequestInfo::default()
        }
    }

    #[test]
    fn cookie_pins_and_base_places() {
        let mut s = Sticky::new("round-robin", rng());
        let b = weighted_available(&[(1, true), (1, true), (1, true)]);
        let view = PoolView::new(&b);
        // Without a cookie: round robin a, b, c.
        let firsts: Vec<_> = (0..3)
            .map(|_| s.pick(SimTime::ZERO, &view, &req(None)))
            .collect();
        assert_eq!(firsts, [Some(0), Some(1), Some(2)]);
        // With a cookie for backend id 1 (index 1): always there.
        for _ in 0..5 {
            assert_eq!(s.pick(SimTime::ZERO, &view, &req(Some(1))), Some(1));
        }
        // The base algorithm's rotation was not advanced by pinned requests.
        assert_eq!(s.pick(SimTime::ZERO, &view, &req(None)), Some(0));
    }

    #[test]
    fn a_down_or_removed_server_breaks_the_session() {
        let mut s = Sticky::new("round-robin", rng());
        let b = weighted_available(&[(1, true), (1, false), (1, true)]);
        let view = PoolView::new(&b);
        // Cookie names id 1, which is down: the base algorithm chooses an eligible one.
        let got = s.pick(SimTime::ZERO, &view, &req(Some(1))).unwrap();
        assert_ne!(got, 1);
        assert!(b[got].eligible());
        // Cookie names id 7, which is not in the pool at all.
        let got = s.pick(SimTime::ZERO, &view, &req(Some(7))).unwrap();
        assert!(b[got].eligible());
    }

    #[test]
    fn any_base_algorithm_works() {
        for base in [
            "least-connections",
            "random",
            "power-of-two",
            "weighted-round-robin",
        ] {
            let mut s = Sticky::new(base, rng());
            let b = weighted_available(&[(1, true), (2, true)]);
            let view = PoolView::new(&b);
            assert_eq!(
                s.pick(SimTime::ZERO, &view, &req(Some(1))),
                Some(1),
                "{base}"
            );
            assert!(s.pick(SimTime::ZERO, &view, &req(None)).is_some(), "{base}");
        }
    }
}
