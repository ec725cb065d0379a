//! VRRP (keepalived) for an active-passive pair or group of load-balancer nodes, as a
//! sans-IO state machine: one [`Vrrp`] per node and virtual router.
//!
//! Each node is `Down` (keepalived not running: RFC 5798's Initialize), `Backup` or
//! `Master`. The Master multicasts an advertisement every `Advertisement_Interval`; a
//! Backup runs a `Master_Down_Timer` of
//! `Master_Down_Interval = 3 · Master_Adver_Interval + Skew_Time`, with
//! `Skew_Time = (256 − Priority) · Master_Adver_Interval / 256`, restarts it on every
//! accepted advert, and becomes Master (advertising at once) when it fires. The
//! skew makes the highest-priority backup fire first, so its advert stops the others. A
//! Master stepping down gracefully sends a priority-0 advert, which cuts the backups'
//! timers to `Skew_Time`. Sources: RFC 5798 §6.1 (parameters), §6.4.1–§6.4.3 (the
//! Initialize, Backup and Master states); `acassen/keepalived` `keepalived/vrrp/vrrp.c`
//! (`vrrp_state_backup`, `vrrp_state_master_rx`, `vrrp_state_master_tx`,
//! `vrrp_restore_interface`, which sends the priority-0 advert on stop),
//! `keepalived/vrrp/vrrp_scheduler.c` (`try_up_instance`: only the address owner starts as
//! Master, `state MASTER` on a lower priority still starts as Backup) and
//! `keepalived/include/vrrp.h` (`VRRP_TIMER_SKEW`).
//!
//! The machine never reads a clock: the owner passes `now`, delivers adverts with
//! [`Vrrp::handle_advert`], calls [`Vrrp::handle_timeout`] at [`Vrrp::poll_timeout`] and
//! multicasts whatever [`Vrrp::poll_transmit`] yields. All timer arithmetic is in integer
//! nanoseconds, so runs are exactly reproducible (at a 1 s interval every skew is an exact
//! multiple of 1/256 s = 3.90625 ms).
//!
//! What is *not* modelled (keepalived features or RFC details that change timings or
//! traffic, but not the election itself):
//! - `preempt_delay` (a Backup waits before preempting a lower-priority Master) and
//!   keepalived's `nopreempt`-requires-`state BACKUP` rule: preemption is on or off.
//! - Gratuitous ARP / unsolicited NA: the bursts on becoming Master (`garp_master_delay`,
//!   `garp_master_repeat`, `garp_master_refresh`), `garp_lower_prio_rep`, and the time the
//!   network takes to learn the new MAC. Becoming Master here *is* owning the address.
//! - `accept_mode`, virtual MACs, virtual routes/rules, sync groups, notify scripts.
//! - `track_script` / `track_interface` weights (effective priority is the configured
//!   priority) and the FAULT state; keepalived's owner-conflict workaround (two priority-255
//!   routers lowering themselves to 254).
//! - VRRPv2 (keepalived's default `vrrp_version 2`): integer-second intervals, adverts
//!   whose interval differs from ours being dropped, and `Skew_Time` fixed at
//!   `(256 − P)/256 s` whatever the interval. This models VRRPv3 (RFC 5798), which learns
//!   the Master's interval and scales the skew with it; at keepalived's default 1 s both
//!   give the same numbers. The RFC's centisecond granularity of the advert interval is not
//!   enforced either.
//! - Authentication (PASS/AH), TTL/checksum/VRID validation, unicast peers: every advert
//!   handed in is a valid advert for this virtual router.
//! - keepalived's reply to a lower-priority advert received as Master (it sends an advert
//!   at once unless `lower_prio_no_advert`); off by default here, as in the RFC and in
//!   keepalived's `strict_mode`, and available with
//!   [`Vrrp::set_reply_to_lower_priority`].
//! - `higher_prio_send_advert`, `vrrp_startup_delay`, scheduling and packet-processing
//!   latency inside keepalived (timers fire exactly on time).

use std::collections::VecDeque;

use crate::engine::SimTime;

/// The priority of the address owner (RFC 5798 §6.1): starts as Master at once.
pub const PRIORITY_OWNER: u8 = 255;

/// The priority a Master advertises when it stops (RFC 5798 §6.1, keepalived
/// `VRRP_PRIO_STOP`).
pub const PRIORITY_STOP: u8 = 0;

/// Configuration of one node's VRRP instance (`vrrp_instance` in `keepalived.conf`), with
/// keepalived's defaults.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct VrrpConfig {
    /// `priority`, 1..=255; 255 is the address owner (Master at startup). Default 100.
    pub priority: u8,
    /// `advert_int`: the interval between this node's adverts while Master, and its
    /// initial `Master_Adver_Interval` while Backup. Default 1 s.
    pub advert_interval: SimTime,
    /// Preemption (keepalived's default; `nopreempt` turns it off): a Backup ignores
    /// adverts from a lower-priority Master and takes over when its Master_Down_Timer
    /// fires. Default true.
    pub preempt: bool,
}

impl Default for VrrpConfig {
    fn default() -> Self {
        VrrpConfig {
            priority: 100,
            advert_interval: SimTime::SECOND,
            preempt: true,
        }
    }
}

/// The state of one VRRP instance.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum VrrpState {
    /// Initialize (RFC 5798 §6.4.1): keepalived is not running (never started, stopped or
    /// crashed). Sends nothing, ignores adverts, has no timer.
    Down,
    /// Backup (§6.4.2): monitors the Master, runs the Master_Down_Timer.
    Backup,
    /// Master (§6.4.3): owns the virtual address and advertises every interval.
    Master,
}

/// One VRRP advertisement as multicast to the group (the fields the election uses).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// The sender's priority; 0 means "the Master is stopping".
    pub priority: u8,
    /// The sender's advertisement interval (VRRPv3's `Max Adver Int`).
    pub interval: SimTime,
}

/// The VRRP state machine of one node (RFC 5798 §6.4, keepalived `vrrp.c`).
///
/// Created `Down`; [`start`](Vrrp::start) brings it up. While up it always has exactly one
/// timer: the Master_Down_Timer as Backup, the Adver_Timer as Master. Adverts are queued
/// at the instant they are sent and drained with [`poll_transmit`](Vrrp::poll_transmit);
/// the owner should drain after every call. Adverts from this node's own address are
/// ignored (a looped-back multicast).
#[derive(Clone, Debug)]
pub struct Vrrp {
    cfg: VrrpConfig,
    ip: u32,
    state: VrrpState,
    /// RFC 5798 `Master_Adver_Interval`: own interval at start, learned from accepted
    /// adverts as Backup.
    master_adver_interval: SimTime,
    /// The Master_Down_Timer (Backup) or Adver_Timer (Master) deadline; unused when Down.
    deadline: SimTime,
    /// keepalived's default (`!lower_prio_no_advert`): answer a lower-priority advert
    /// received as Master with an advert of our own.
    reply_to_lower: bool,
    out: VecDeque<Advert>,
}

impl Vrrp {
    /// A `Down` instance. `ip` is this router's primary address, used to break priority
    /// ties (larger wins).
    ///
    /// # Panics
    /// If `priority` is 0 or `advert_interval` is zero (keepalived rejects both).
    pub fn new(cfg: VrrpConfig, ip: u32) -> Vrrp {
        assert!(cfg.priority >= 1, "VRRP priority must be in 1..=255");
        assert!(
            cfg.advert_interval > SimTime::ZERO,
            "VRRP advert interval must be positive"
        );
        Vrrp {
            cfg,
            ip,
            state: VrrpState::Down,
            master_adver_interval: cfg.advert_interval,
            deadline: SimTime::MAX,
            reply_to_lower: false,
            out: VecDeque::with_capacity(2),
        }
    }

    /// Answer a lower-priority advert received as Master with an immediate advert, as
    /// keepalived does unless `vrrp_lower_prio_no_advert`/`strict_mode` (`vrrp_state_master_rx`:
    /// "forcing new election"). Off by default (RFC 5798: discard). It only shortens the
    /// time a split brain takes to heal.
    pub fn set_reply_to_lower_priority(&mut self, on: bool) {
        self.reply_to_lower = on;
    }

    /// Startup at `now` (ignored unless `Down`). `as_master == true`: the simulation starts
    /// with the group already settled and this node elected: it starts as Master and
    /// queues an advert. `as_master == false`: a cold start (RFC 5798 §6.4.1, keepalived
    /// `try_up_instance`): the address owner (priority 255) becomes Master at once,
    /// anyone else becomes Backup with its Master_Down_Timer at `now` + Master_Down_Interval
    /// (which is also the converged start of a non-elected node). Either way
    /// Master_Adver_Interval restarts from this node's own interval.
    pub fn start(&mut self, now: SimTime, as_master: bool) {
        if self.state != VrrpState::Down {
            return;
        }
        self.master_adver_interval = self.cfg.advert_interval;
        if as_master || self.cfg.priority == PRIORITY_OWNER {
            self.become_master(now);
        } else {
            self.become_backup(now);
        }
    }

    /// An advert from `from_ip` arrives at `now` (RFC 5798 §6.4.2 / §6.4.3, keepalived
    /// `vrrp_state_backup` / `vrrp_state_master_rx`).
    pub fn handle_advert(&mut self, now: SimTime, from_ip: u32, adv: Advert) {
        if from_ip == self.ip {
            return;
        }
        match self.state {
            VrrpState::Down => {}
            VrrpState::Backup => {
                if adv.priority == PRIORITY_STOP {
                    // The Master is stopping: take over after Skew_Time only.
                    self.deadline = now + self.skew_time();
                } else if !self.cfg.preempt || adv.priority >= self.cfg.priority {
                    self.learn_interval(adv.interval);
                    self.deadline = now + self.master_down_interval();
                }
                // Else: preempting and the sender has a lower priority: discard, so the
                // timer keeps running and fires unless a better Master shows up.
            }
            VrrpState::Master => {
                if adv.priority == PRIORITY_STOP {
                    // Another Master is stopping: advertise now so the backups re-arm.
                    self.send_advert(now);
                } else if adv.priority > self.cfg.priority
                    || (adv.priority == self.cfg.priority && from_ip > self.ip)
                {
                    self.learn_interval(adv.interval);
                    self.become_backup(now);
                } else if self.reply_to_lower {
                    // keepalived: "Received advert ... with lower priority ..., forcing new
                    // election". The Adver_Timer is left as it is.
                    self.out.push_back(self.own_advert());
                }
            }
        }
    }

    /// The deadline returned by [`poll_timeout`](Vrrp::poll_timeout) has passed. Calls
    /// before it (or while `Down`) are ignored; a late call reschedules from `now`.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if now < self.deadline {
            return;
        }
        match self.state {
            VrrpState::Down => {}
            // Master_Down_Timer fired: no advert for Master_Down_Interval.
            VrrpState::Backup => self.become_master(now),
            // Adver_Timer fired.
            VrrpState::Master => self.send_advert(now),
        }
    }

    /// Graceful stop at `now` (keepalived shutting down, `vrrp_restore_interface`): a
    /// Master queues a priority-0 advert; then the instance is `Down`. Already-queued
    /// adverts stay queued (they were sent before the stop).
    pub fn shutdown(&mut self, _now: SimTime) {
        if self.state == VrrpState::Master {
            self.out.push_back(Advert {
                priority: PRIORITY_STOP,
                interval: self.cfg.advert_interval,
            });
        }
        self.go_down();
    }

    /// Crash: `Down` at once; sends nothing, and adverts not yet drained are lost.
    pub fn crash(&mut self) {
        self.out.clear();
        self.go_down();
    }

    /// The next advert to multicast to every peer, oldest first (drain until `None`).
    pub fn poll_transmit(&mut self) -> Option<Advert> {
        self.out.pop_front()
    }

    /// The next deadline: the Master_Down_Timer (Backup) or the Adver_Timer (Master);
    /// `None` when `Down`.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        match self.state {
            VrrpState::Down => None,
            VrrpState::Backup | VrrpState::Master => Some(self.deadline),
        }
    }

    /// The current state.
    pub fn state(&self) -> VrrpState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &VrrpConfig {
        &self.cfg
    }

    /// This router's primary address.
    pub fn ip(&self) -> u32 {
        self.ip
    }

    /// RFC 5798 `Master_Adver_Interval`: the interval used for the Backup timers (own
    /// `advert_interval` until an advert taught another one).
    pub fn master_adver_interval(&self) -> SimTime {
        self.master_adver_interval
    }

    /// RFC 5798 `Skew_Time = ((256 − Priority) · Master_Adver_Interval) / 256`, rounded
    /// down to the nanosecond.
    pub fn skew_time(&self) -> SimTime {
        let weight = 256 - u128::from(self.cfg.priority);
        let ns = weight * u128::from(self.master_adver_interval.as_nanos()) / 256;
        SimTime(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// RFC 5798 `Master_Down_Interval = 3 · Master_Adver_Interval + Skew_Time`.
    pub fn master_down_interval(&self) -> SimTime {
        let mai = self.master_adver_interval;
        mai + mai + mai + self.skew_time()
    }

    fn own_advert(&self) -> Advert {
        Advert {
            priority: self.cfg.priority,
            interval: self.cfg.advert_interval,
        }
    }

    /// Queue an advert and restart the Adver_Timer.
    fn send_advert(&mut self, now: SimTime) {
        self.out.push_back(self.own_advert());
        self.deadline = now + self.cfg.advert_interval;
    }

    /// RFC 5798 §6.4.2 "Set Master_Adver_Interval to Adver Interval contained in the
    /// ADVERTISEMENT" (a zero interval, which no valid advert carries, is ignored).
    fn learn_interval(&mut self, interval: SimTime) {
        if interval > SimTime::ZERO {
            self.master_adver_interval = interval;
        }
    }

    fn become_master(&mut self, now: SimTime) {
        self.state = VrrpState::Master;
        self.send_advert(now);
    }

    fn become_backup(&mut self, now: SimTime) {
        self.state = VrrpState::Backup;
        self.deadline = now + self.master_down_interval();
    }

    fn go_down(&mut self) {
        self.state = VrrpState::Down;
        self.deadline = SimTime::MAX;
    }
}

#[cfg(test)]
mod tests;
