//! High-availability machines for the load-balancer tier itself: VRRP (keepalived) for
//! active-passive pairs, ECMP next-hop selection for anycast, and the DNS health check that
//! takes a dead node's record out of a round-robin answer.
//!
//! Like the balancers and health checkers, these are sans-IO: they take `now` and their
//! inputs, and return decisions and their next deadline; `model::world` moves their
//! messages and owns the clock.

pub mod dns;
pub mod ecmp;
pub mod vrrp;
