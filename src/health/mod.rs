//! Health checking: sans-IO state machines that decide whether a load balancer considers a
//! server up, the way HAProxy, Envoy and nginx decide it.
//!
//! * Active checkers ([`ActiveChecker`]; [`haproxy::HaproxyChecker`],
//!   [`envoy::EnvoyChecker`]) probe one server on a timer. The owner drives them like
//!   quinn's connections: call [`handle_timeout`](ActiveChecker::handle_timeout) at
//!   [`poll_timeout`](ActiveChecker::poll_timeout), deliver probe results with
//!   [`handle_probe_result`](ActiveChecker::handle_probe_result), then drain
//!   [`poll_action`](ActiveChecker::poll_action) and carry the actions out (send the probe,
//!   mark the server up or down). The checker never touches the world: the owner decides
//!   what a probe finds from the server's true state and the check type.
//! * Envoy outlier detection ([`outlier::OutlierDetector`]) watches responses to every
//!   host of a cluster and ejects outliers on interval ticks.
//! * nginx's passive `max_fails`/`fail_timeout` lives where nginx keeps it, in the
//!   round-robin peer state of the nginx balancers (`balancer::smooth_wrr`,
//!   `balancer::least_conn`).
//!
//! **Architecture invariant:** this module imports only `engine::{time, rng}` and the
//! balancer's outcome types; it never sees the world or the event queue.

use crate::engine::SimTime;

pub mod envoy;
pub mod haproxy;
pub mod kubernetes;
pub mod outlier;

/// What a probe found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// Connected and, for an HTTP check, got an expected status.
    Pass,
    /// Connection refused or reset: a fast, hard (layer-4) failure.
    Refused,
    /// No answer within the check timeout (black hole, partition, hung server). The owner
    /// never reports this itself: the checker notices its own probe deadline passing.
    TimedOut,
    /// An HTTP check got this status, outside the expected set (a layer-7 failure).
    BadStatus(u16),
}

/// Something the owner of an active checker must do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CheckAction {
    /// Send probe number `probe` now; report its result with that number.
    SendProbe {
        /// Probe sequence number (results for older probes are ignored).
        probe: u64,
    },
    /// The server is now considered up (it may receive traffic).
    MarkUp,
    /// The server is now considered down (no new traffic).
    MarkDown,
}

/// An active health checker for one server.
pub trait ActiveChecker: Send {
    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the next probe
    /// or the deadline of the probe in flight.
    fn poll_timeout(&self) -> Option<SimTime>;
    /// Time has reached `now`: send a due probe, or time out the one in flight. Calls
    /// before [`poll_timeout`](Self::poll_timeout) are no-ops.
    fn handle_timeout(&mut self, now: SimTime);
    /// The result of probe `probe` arrived at `now` (ignored if that probe already timed
    /// out or is not the one in flight).
    fn handle_probe_result(&mut self, now: SimTime, probe: u64, result: ProbeResult);
    /// The next action to carry out, in order; `None` when there is nothing to do.
    fn poll_action(&mut self) -> Option<CheckAction>;
    /// Whether the checker currently considers the server up.
    fn is_up(&self) -> bool;
    /// Passive observation of live traffic to this server (HAProxy `observe`; Envoy's
    /// "cluster has seen traffic"). Default: ignored.
    fn observe_traffic(&mut self, _now: SimTime, _ok: bool) {}
    /// A Kubernetes prober (whose container restarts reach it from the kubelet), or
    /// `None`.
    fn as_kube(&mut self) -> Option<&mut kubernetes::KubeProber> {
        None
    }
}
