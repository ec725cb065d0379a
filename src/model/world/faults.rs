//! Injected failures on servers: crash, hang, slow, errors, flap, partition, drain.

use super::Ev;
use super::NONE;
use super::World;
use crate::engine::SimRng;
use crate::engine::SimTime;
use crate::model::config::FailureKind;
use crate::model::config::FailureTiming;
use crate::model::config::WorldConfig;

/// A failure as it happened, for the failover report.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FaultRecord {
    /// Index of the failure in the scenario.
    pub spec: usize,
    /// Server id.
    pub server: u32,
    /// When it started.
    pub start: SimTime,
    /// When it ended (`None`: still failed at the end).
    pub end: Option<SimTime>,
    /// Attempts sent to the server while it was failed.
    pub sent: u64,
    /// Of those, attempts that failed.
    pub failed: u64,
}

/// Injected failures as they happened.
pub(super) struct Faults {
    pub(super) records: Vec<FaultRecord>,
    /// Per server: index in `records` of the fault it is in, or `NONE` (set through
    /// [`Faults::set_open`], which keeps `n_open`).
    open: Vec<u32>,
    /// Servers whose `open` is not `NONE`: while 0, an attempt need not look its server
    /// up in `open` (a cache miss per attempt in a large pool).
    n_open: usize,
    /// Per failure: its random timings.
    pub(super) rng: Vec<SimRng>,
    /// Which requests an erroring server fails.
    pub(super) rng_errors: SimRng,
}

impl Faults {
    /// The record of the fault server `s` is in, if any (without a lookup while no fault
    /// is open).
    #[inline]
    pub(super) fn open_record(&mut self, s: u32) -> Option<&mut FaultRecord> {
        if self.n_open == 0 {
            return None;
        }
        let f = self.open[s as usize];
        (f != NONE).then(|| &mut self.records[f as usize])
    }

    /// The record of the fault server `s` is in, if any.
    pub(super) fn open_of(&self, s: usize) -> Option<&FaultRecord> {
        let f = self.open[s];
        (f != NONE).then(|| &self.records[f as usize])
    }

    /// Server `s` is now in fault record `record` (`None`: in none).
    fn set_open(&mut self, s: usize, record: Option<u32>) {
        let was = self.open[s] != NONE;
        self.open[s] = record.unwrap_or(NONE);
        self.n_open = self.n_open + usize::from(record.is_some()) - usize::from(was);
    }

    pub(super) fn new(cfg: &WorldConfig, n: usize, stream: &dyn Fn(&str) -> SimRng) -> Faults {
        Faults {
            records: Vec::new(),
            open: vec![NONE; n],
            n_open: 0,
            rng: (0..cfg.failures.len())
                .map(|i| stream(&format!("failures/{i}")))
                .collect(),
            rng_errors: stream("failures/errors"),
        }
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// When failure `i` first strikes a target: its `at`, or a draw of its `mtbf`.
    pub(super) fn first_failure_at(&mut self, i: usize) -> SimTime {
        match &self.cfg.failures[i].timing {
            FailureTiming::At { at, .. } => *at,
            FailureTiming::Random { mtbf, .. } => {
                SimTime::from_nanos_f64(mtbf.sample(&mut self.faults.rng[i]))
            }
        }
    }

    /// Failure `spec` starts or ends on `server`.
    pub(super) fn fault(&mut self, spec: usize, server: u32, recover: bool) {
        let f = &self.cfg.failures[spec];
        let s = server as usize;
        if !recover {
            let record = self.faults.records.len() as u32;
            self.faults.set_open(s, Some(record));
            self.faults.records.push(FaultRecord {
                spec,
                server,
                start: self.now,
                end: None,
                sent: 0,
                failed: 0,
            });
            match f.kind {
                FailureKind::Crash => {
                    self.servers[s].crashed = true;
                    self.reset_server(s);
                }
                FailureKind::Hang => {
                    self.servers[s].hung = true;
                    self.freeze_server(s);
                }
                FailureKind::Slow { factor } => self.servers[s].slow = factor,
                FailureKind::Errors { rate, status } => {
                    self.servers[s].err_rate = rate;
                    self.servers[s].err_status = status;
                }
                FailureKind::Flap { down, .. } => {
                    self.servers[s].flapping = true;
                    self.servers[s].crashed = true;
                    self.reset_server(s);
                    self.q.push(
                        self.now + down,
                        Ev::Flap {
                            server,
                            down: false,
                        },
                    );
                }
                FailureKind::Partition { from: 0 } => self.servers[s].partitioned = true,
                FailureKind::Partition { from } => self.servers[s].cut_from |= from,
                FailureKind::Stop => unreachable!("only load balancer nodes stop"),
                FailureKind::Drain { delay } => {
                    self.servers[s].draining = true;
                    self.conn_server_gone(s, false);
                    self.refresh_availability();
                    let epoch = self.servers[s].epoch;
                    self.q
                        .push(self.now + delay, Ev::DrainCut { server, epoch });
                }
            }
            let end = match &f.timing {
                FailureTiming::At { duration, .. } => duration.map(|d| self.now + d),
                FailureTiming::Random { mttr, .. } => Some(
                    self.now + SimTime::from_nanos_f64(mttr.sample(&mut self.faults.rng[spec])),
                ),
            };
            if let Some(end) = end {
                self.q.push(
                    end,
                    Ev::Fault {
                        spec: spec as u16,
                        server,
                        recover: true,
                    },
                );
            }
        } else {
            if let Some(r) = self
                .faults
                .records
                .iter_mut()
                .rev()
                .find(|r| r.spec == spec && r.server == server && r.end.is_none())
            {
                r.end = Some(self.now);
            }
            self.faults.set_open(s, None);
            match f.kind {
                FailureKind::Crash | FailureKind::Hang => self.restart(s),
                FailureKind::Slow { .. } => self.servers[s].slow = 1.0,
                FailureKind::Errors { .. } => self.servers[s].err_rate = 0.0,
                FailureKind::Flap { .. } => {
                    self.servers[s].flapping = false;
                    self.restart(s);
                }
                FailureKind::Partition { from: 0 } => self.servers[s].partitioned = false,
                FailureKind::Partition { from } => self.servers[s].cut_from &= !from,
                FailureKind::Stop => unreachable!("only load balancer nodes stop"),
                FailureKind::Drain { .. } => {
                    self.servers[s].draining = false;
                    self.restart(s);
                    self.refresh_availability();
                }
            }
            if let FailureTiming::Random { mtbf, .. } = &f.timing {
                let next =
                    self.now + SimTime::from_nanos_f64(mtbf.sample(&mut self.faults.rng[spec]));
                self.q.push(
                    next,
                    Ev::Fault {
                        spec: spec as u16,
                        server,
                        recover: false,
                    },
                );
            }
        }
    }

    /// A flapping server goes down (like a crash) or comes back, until the flap ends.
    pub(super) fn flap(&mut self, server: u32, down: bool) {
        let s = server as usize;
        if !self.servers[s].flapping {
            return;
        }
        // Find the flap's up/down times from the failure that is active on this server.
        let Some((up_t, down_t)) = self
            .cfg
            .failures
            .iter()
            .enumerate()
            .find_map(|(i, f)| match f.kind {
                FailureKind::Flap { up, down }
                    if self
                        .faults
                        .records
                        .iter()
                        .any(|r| r.spec == i && r.server == server && r.end.is_none()) =>
                {
                    Some((up, down))
                }
                _ => None,
            })
        else {
            return;
        };
        if down {
            self.servers[s].crashed = true;
            self.reset_server(s);
            self.q.push(
                self.now + down_t,
                Ev::Flap {
                    server,
                    down: false,
                },
            );
        } else {
            self.restart(s);
            self.q
                .push(self.now + up_t, Ev::Flap { server, down: true });
        }
    }
}
