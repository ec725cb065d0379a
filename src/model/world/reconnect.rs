//! Long-lived connections that reconnect (a class with `reconnect`): a WebSocket or a
//! stream whose connection is reset (its server crashed, drained or refused it) comes back
//! after its policy's delay, as a new request of the same client and class for the rest of
//! its duration. A try that fails within the policy's first delay of being sent counts as
//! a consecutive failure (the delay grows); a connection that lasted longer resets it, as
//! gRPC's backoff resets after a successful connection.

use super::Ev;
use super::World;
use super::book::ClientReq;
use super::clients::NO_USER;
use crate::engine::{SimRng, SimTime};
use crate::model::WorldConfig;

/// Reconnect counts in 100 ms buckets over the run (for the peak rate and storms).
pub(super) struct Reconnects {
    rng: SimRng,
    buckets: Vec<u32>,
}

/// Width of a reconnect-rate bucket.
const BUCKET_NS: u64 = 100_000_000;

impl Reconnects {
    pub(super) fn new(cfg: &WorldConfig, rng: SimRng) -> Option<Reconnects> {
        let sockets = cfg
            .connections
            .as_ref()
            .is_some_and(|c| c.reconnect.is_some());
        (sockets || cfg.classes.iter().any(|c| c.reconnect.is_some())).then(|| {
            let n = cfg.duration.as_nanos() / BUCKET_NS + 1;
            Reconnects {
                rng,
                buckets: vec![0; n as usize],
            }
        })
    }

    /// One reconnect at `at`.
    pub(super) fn count(&mut self, at: SimTime) {
        let b = (at.as_nanos() / BUCKET_NS) as usize;
        if let Some(x) = self.buckets.get_mut(b) {
            *x += 1;
        }
    }

    /// The measured reconnects, the peak rate per second (over 100 ms buckets), and the
    /// longest storm: the longest span from a reconnect to the last one after it with no
    /// gap of a second or more between them.
    pub(super) fn summary(&self, warmup: SimTime) -> (f64, f64, f64) {
        let first = (warmup.as_nanos().div_ceil(BUCKET_NS)) as usize;
        let window = self.buckets.get(first..).unwrap_or(&[]);
        let total: u64 = window.iter().map(|&b| u64::from(b)).sum();
        let peak = window.iter().copied().max().unwrap_or(0);
        let (mut longest, mut start, mut last) = (0usize, None::<usize>, 0usize);
        for (i, &b) in window.iter().enumerate() {
            if b == 0 {
                continue;
            }
            match start {
                Some(_) if i - last < 10 => {}
                _ => start = Some(i),
            }
            last = i;
            longest = longest.max(i + 1 - start.unwrap_or(i));
        }
        let storm = if total == 0 {
            f64::NAN
        } else {
            longest as f64 * BUCKET_NS as f64 * 1e-9
        };
        (total as f64, f64::from(peak) * 10.0, storm)
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Client request `r` (of a class with `reconnect`) failed: its client reconnects for
    /// the rest of its duration. `false` if nothing is left of it.
    pub(super) fn reconnect(&mut self, r: ClientReq) -> bool {
        let Some(policy) = self.cfg.classes[r.class as usize].reconnect else {
            return false;
        };
        let lived = self.now - r.issued;
        let remaining = r.work_ns - lived.as_nanos() as f64;
        if remaining <= 0.0 {
            return false;
        }
        let tries = if lived < policy.initial {
            r.tries.saturating_add(1)
        } else {
            1
        };
        let rc = self.reconnects.as_mut().expect("reconnects");
        let f = 1.0 + policy.jitter * (2.0 * rc.rng.next_f64() - 1.0);
        let delay = SimTime::from_nanos_f64(policy.nominal(u32::from(tries)).as_nanos() as f64 * f);
        let at = self.now + delay;
        rc.count(at);
        self.q.push(
            at,
            Ev::Reconnect {
                client: r.client,
                class: r.class,
                tries,
                remaining_ns: remaining as u64,
            },
        );
        true
    }

    /// A client reconnects its long-lived connection.
    pub(super) fn reconnected(&mut self, client: u32, class: u16, tries: u16, remaining_ns: u64) {
        let user = match self.cfg.clients.load {
            crate::model::Load::Closed { .. } => client,
            _ => NO_USER,
        };
        let work = remaining_ns as f64;
        self.issue_with(client, user, class as usize, work, work, tries);
    }
}
