use super::*;

const S: SimTime = SimTime::SECOND;

fn ms(x: u64) -> SimTime {
    SimTime::from_millis(x)
}

fn secs(x: u64) -> SimTime {
    SimTime::from_secs(x)
}

fn ns(x: u64) -> SimTime {
    SimTime(x)
}

fn cfg(priority: u8) -> VrrpConfig {
    VrrpConfig {
        priority,
        ..VrrpConfig::default()
    }
}

/// The reference table: `(backup priority, Skew_Time ns, Master_Down_Interval ns)` at
/// a 1 s advert interval.
const TABLE: [(u8, u64, u64); 4] = [
    (100, 609_375_000, 3_609_375_000),
    (150, 414_062_500, 3_414_062_500),
    (200, 218_750_000, 3_218_750_000),
    (254, 7_812_500, 3_007_812_500),
];

/// A LAN of VRRP nodes with zero-delay multicast, and a clock that jumps to the
/// earliest deadline. Every advert is checked to come from a Master (or from a node
/// that just shut down, with priority 0).
struct Lan {
    nodes: Vec<Vrrp>,
    now: SimTime,
    /// While true, adverts are sent but reach nobody.
    partitioned: bool,
    /// `(time, sender, advert)` of every advert sent.
    sent: Vec<(SimTime, usize, Advert)>,
    /// `(time, node, new state)` of every state change.
    changes: Vec<(SimTime, usize, VrrpState)>,
}

impl Lan {
    /// Nodes `(config, ip)`, all `Down`.
    fn new(nodes: &[(VrrpConfig, u32)]) -> Lan {
        Lan {
            nodes: nodes.iter().map(|&(c, ip)| Vrrp::new(c, ip)).collect(),
            now: SimTime::ZERO,
            partitioned: false,
            sent: Vec::new(),
            changes: Vec::new(),
        }
    }

    fn state(&self, i: usize) -> VrrpState {
        self.nodes[i].state()
    }

    /// Runs `f` on node `i` at the current time, then delivers what it (and whoever
    /// it triggers) sends.
    fn with(&mut self, i: usize, f: impl FnOnce(&mut Vrrp, SimTime)) {
        let now = self.now;
        let before = self.nodes[i].state();
        f(&mut self.nodes[i], now);
        self.note_change(i, before);
        self.deliver_from(i);
    }

    fn note_change(&mut self, i: usize, before: VrrpState) {
        let after = self.nodes[i].state();
        if after != before {
            self.changes.push((self.now, i, after));
        }
    }

    /// Drains node `first`'s transmit queue and multicasts, breadth first, until no
    /// node has anything left to send.
    fn deliver_from(&mut self, first: usize) {
        let mut senders = VecDeque::from([first]);
        while let Some(i) = senders.pop_front() {
            while let Some(adv) = self.nodes[i].poll_transmit() {
                let st = self.nodes[i].state();
                assert!(
                    st == VrrpState::Master
                        || (st == VrrpState::Down && adv.priority == PRIORITY_STOP),
                    "node {i} in {st:?} sent {adv:?} at {}",
                    self.now
                );
                self.sent.push((self.now, i, adv));
                if self.partitioned {
                    continue;
                }
                let from_ip = self.nodes[i].ip();
                for j in 0..self.nodes.len() {
                    if j == i {
                        continue;
                    }
                    let before = self.nodes[j].state();
                    self.nodes[j].handle_advert(self.now, from_ip, adv);
                    self.note_change(j, before);
                    senders.push_back(j);
                }
            }
        }
    }

    /// Processes every deadline up to and including `t`, then sets the clock to `t`.
    fn run_until(&mut self, t: SimTime) {
        loop {
            let next = self.nodes.iter().filter_map(Vrrp::poll_timeout).min();
            match next {
                Some(d) if d <= t => {
                    assert!(d >= self.now, "deadline {d} in the past at {}", self.now);
                    self.now = d;
                    for i in 0..self.nodes.len() {
                        if self.nodes[i].poll_timeout() == Some(d) {
                            self.with(i, |v, now| v.handle_timeout(now));
                            let after = self.nodes[i].poll_timeout();
                            assert!(after.is_none_or(|a| a > d), "node {i} stuck at {d}");
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = t;
    }

    /// Times at which node `i` entered `state`.
    fn entered(&self, i: usize, state: VrrpState) -> Vec<SimTime> {
        self.changes
            .iter()
            .filter(|&&(_, n, s)| n == i && s == state)
            .map(|&(t, _, _)| t)
            .collect()
    }

    /// Send times of node `i`'s adverts.
    fn adverts_of(&self, i: usize) -> Vec<SimTime> {
        self.sent
            .iter()
            .filter(|&&(_, n, _)| n == i)
            .map(|&(t, _, _)| t)
            .collect()
    }
}

/// A settled pair started at t = 0: node 0 (`master`, ip 2) as Master, node 1
/// (`backup`, ip 1) as Backup, started first so that it hears the Master's first
/// advert.
fn settled_pair(master: VrrpConfig, backup: VrrpConfig) -> Lan {
    let mut lan = Lan::new(&[(master, 2), (backup, 1)]);
    lan.with(1, |v, now| v.start(now, false));
    lan.with(0, |v, now| v.start(now, true));
    lan
}

#[test]
fn skew_and_master_down_interval_match_the_reference_table() {
    for (prio, skew, mdi) in TABLE {
        let v = Vrrp::new(cfg(prio), 1);
        assert_eq!(v.skew_time(), ns(skew), "priority {prio}");
        assert_eq!(v.master_down_interval(), ns(mdi), "priority {prio}");
    }
    // 156/256 s exactly, and the extremes.
    assert_eq!(
        Vrrp::new(cfg(100), 1).skew_time().as_nanos() * 256,
        156 * S.0
    );
    assert_eq!(Vrrp::new(cfg(255), 1).skew_time(), ns(3_906_250));
    assert_eq!(Vrrp::new(cfg(1), 1).skew_time(), ns(996_093_750));
    // keepalived's defaults.
    let d = VrrpConfig::default();
    assert_eq!((d.priority, d.advert_interval, d.preempt), (100, S, true));
    let v = Vrrp::new(d, 7);
    assert_eq!((v.state(), v.ip(), *v.config()), (VrrpState::Down, 7, d));
    assert_eq!(v.master_adver_interval(), S);
}

#[test]
fn crash_failover_is_last_advert_plus_master_down_interval() {
    // Crash offsets within the master's advert cycle (adverts at whole seconds); 0 is
    // right after the advert at 10 s.
    let offsets = [ns(0), ns(1), ms(250), ms(500), ms(750), ns(999_999_999)];
    for (prio, skew, mdi) in TABLE {
        let (skew, mdi) = (ns(skew), ns(mdi));
        for off in offsets {
            let mut lan = settled_pair(cfg(prio.max(200).saturating_add(1)), cfg(prio));
            let crash_at = secs(10) + off;
            lan.run_until(crash_at);
            lan.with(0, |v, _| v.crash());
            lan.run_until(secs(30));

            let last = *lan.adverts_of(0).last().unwrap();
            assert_eq!(last, secs(10), "master adverts every second");
            assert_eq!(lan.adverts_of(0).len(), 11);
            let took_over = lan.entered(1, VrrpState::Master);
            assert_eq!(took_over, vec![last + mdi], "priority {prio}, offset {off}");
            // The new Master advertises at once and every second after.
            assert_eq!(lan.adverts_of(1)[..2], [last + mdi, last + mdi + S]);
            let delay = took_over[0] - crash_at;
            assert!(
                delay > mdi - S && delay <= mdi,
                "priority {prio}: delay {delay} outside ({}, {mdi}]",
                mdi - S
            );
            assert_eq!(mdi - S, ns(2 * S.0) + skew);
            assert_eq!(lan.state(0), VrrpState::Down);
            assert_eq!(lan.nodes[0].poll_timeout(), None);
        }
    }
}

#[test]
fn failover_windows_match_the_reference_table() {
    // (backup priority, window start, window end) in ms, rounded as in the table.
    let windows = [
        (100, 2609, 3610),
        (150, 2414, 3415),
        (200, 2218, 3219),
        (254, 2007, 3008),
    ];
    for (prio, lo, hi) in windows {
        for off_ms in (0..1000).step_by(125) {
            let mut lan = settled_pair(cfg(255), cfg(prio));
            let crash_at = secs(5) + ms(off_ms);
            lan.run_until(crash_at);
            lan.with(0, |v, _| v.crash());
            lan.run_until(secs(20));
            let delay = lan.entered(1, VrrpState::Master)[0] - crash_at;
            assert!(delay >= ms(lo) && delay <= ms(hi), "{prio}: {delay}");
        }
    }
}

#[test]
fn a_tenth_of_the_interval_scales_every_timer_by_a_tenth() {
    let fast = VrrpConfig {
        advert_interval: ms(100),
        ..cfg(100)
    };
    let v = Vrrp::new(fast, 1);
    assert_eq!(v.skew_time(), ns(60_937_500));
    assert_eq!(v.master_down_interval(), ns(360_937_500));
    for (prio, skew, mdi) in TABLE {
        let v = Vrrp::new(
            VrrpConfig {
                priority: prio,
                ..fast
            },
            1,
        );
        assert_eq!(v.skew_time(), ns(skew / 10));
        assert_eq!(v.master_down_interval(), ns(mdi / 10));
    }

    // A backup configured with 1 s learns the master's 0.1 s from its first advert.
    let master = VrrpConfig {
        advert_interval: ms(100),
        ..cfg(200)
    };
    let mut lan = settled_pair(master, cfg(100));
    assert_eq!(lan.nodes[1].master_adver_interval(), ms(100));
    assert_eq!(lan.nodes[1].master_down_interval(), ns(360_937_500));
    lan.run_until(ms(1050));
    assert_eq!(lan.adverts_of(0).len(), 11); // 0, 0.1, …, 1.0 s
    lan.with(0, |v, _| v.crash());
    lan.run_until(secs(5));
    assert_eq!(
        lan.entered(1, VrrpState::Master),
        vec![secs(1) + ns(360_937_500)]
    );
    // As Master the backup advertises at its own configured 1 s.
    let t = secs(1) + ns(360_937_500);
    assert_eq!(lan.adverts_of(1)[..3], [t, t + S, t + S + S]);
}

#[test]
fn graceful_shutdown_hands_over_after_skew_time() {
    for (prio, skew, _) in TABLE {
        let mut lan = settled_pair(cfg(255), cfg(prio));
        lan.run_until(ms(10_300));
        lan.with(0, |v, now| v.shutdown(now));
        let last = lan.sent.last().unwrap();
        assert_eq!(last.1, 0);
        assert_eq!(last.2.priority, 0);
        assert_eq!(lan.state(0), VrrpState::Down);
        assert_eq!(lan.nodes[1].poll_timeout(), Some(ms(10_300) + ns(skew)));
        lan.run_until(secs(20));
        assert_eq!(
            lan.entered(1, VrrpState::Master),
            vec![ms(10_300) + ns(skew)]
        );
    }

    // Three nodes: the higher-priority backup's skew fires first, its advert stops the
    // other backup's timer.
    let mut lan = Lan::new(&[(cfg(200), 3), (cfg(150), 2), (cfg(100), 1)]);
    lan.with(0, |v, now| v.start(now, true));
    lan.with(1, |v, now| v.start(now, false));
    lan.with(2, |v, now| v.start(now, false));
    lan.run_until(ms(4_500));
    lan.with(0, |v, now| v.shutdown(now));
    lan.run_until(secs(30));
    assert_eq!(
        lan.entered(1, VrrpState::Master),
        vec![ms(4_500) + ns(414_062_500)]
    );
    assert!(lan.entered(2, VrrpState::Master).is_empty());
    assert_eq!(lan.state(2), VrrpState::Backup);
    // Node 2 now follows node 1's adverts.
    let last1 = *lan.adverts_of(1).last().unwrap();
    assert_eq!(lan.nodes[2].poll_timeout(), Some(last1 + ns(3_609_375_000)));
}

#[test]
fn a_restarted_higher_priority_node_preempts_after_its_master_down_interval() {
    for preempt in [true, false] {
        let high = VrrpConfig {
            preempt,
            ..cfg(200)
        };
        let mut lan = settled_pair(high, cfg(100));
        lan.run_until(ms(5_500));
        lan.with(0, |v, _| v.crash());
        lan.run_until(ms(20_250));
        let b_master = secs(5) + ns(3_609_375_000);
        assert_eq!(lan.entered(1, VrrpState::Master), vec![b_master]);

        // Cold restart of the higher-priority node (not the owner): Backup first.
        lan.with(0, |v, now| v.start(now, false));
        assert_eq!(lan.state(0), VrrpState::Backup);
        lan.run_until(secs(60));
        if preempt {
            // It discards the lower-priority adverts, so its timer runs out.
            let t = ms(20_250) + ns(3_218_750_000);
            assert_eq!(lan.entered(0, VrrpState::Master), [SimTime::ZERO, t]);
            assert_eq!(lan.entered(1, VrrpState::Backup), [SimTime::ZERO, t]);
            assert_eq!(
                (lan.state(0), lan.state(1)),
                (VrrpState::Master, VrrpState::Backup)
            );
            // The old Master's last advert was before the takeover.
            assert!(*lan.adverts_of(1).last().unwrap() < t);
        } else {
            assert_eq!(lan.entered(0, VrrpState::Master), [SimTime::ZERO]);
            assert_eq!(
                (lan.state(0), lan.state(1)),
                (VrrpState::Backup, VrrpState::Master)
            );
            // It follows node 1's adverts.
            let last1 = *lan.adverts_of(1).last().unwrap();
            assert_eq!(lan.nodes[0].poll_timeout(), Some(last1 + ns(3_218_750_000)));
        }
    }
}

#[test]
fn the_address_owner_preempts_at_once() {
    let mut lan = settled_pair(cfg(255), cfg(100));
    lan.run_until(ms(5_500));
    lan.with(0, |v, _| v.crash());
    lan.run_until(ms(20_250));
    assert_eq!(lan.state(1), VrrpState::Master);
    lan.with(0, |v, now| v.start(now, false));
    assert_eq!(lan.state(0), VrrpState::Master);
    assert_eq!(lan.state(1), VrrpState::Backup);
    assert_eq!(
        lan.entered(1, VrrpState::Backup),
        [SimTime::ZERO, ms(20_250)]
    );
    assert_eq!(
        lan.sent.last().unwrap(),
        &(
            ms(20_250),
            0,
            Advert {
                priority: 255,
                interval: S
            }
        )
    );
    assert_eq!(
        lan.nodes[1].poll_timeout(),
        Some(ms(20_250) + ns(3_609_375_000))
    );
    lan.run_until(secs(40));
    assert_eq!(
        (lan.state(0), lan.state(1)),
        (VrrpState::Master, VrrpState::Backup)
    );

    // A cold start of the owner alone is also Master at once.
    let mut v = Vrrp::new(cfg(255), 9);
    v.start(secs(3), false);
    assert_eq!(v.state(), VrrpState::Master);
    assert_eq!(
        v.poll_transmit(),
        Some(Advert {
            priority: 255,
            interval: S
        })
    );
    assert_eq!(v.poll_timeout(), Some(secs(4)));
}

#[test]
fn a_cold_start_without_a_master_elects_the_highest_priority_after_its_mdi() {
    let mut lan = Lan::new(&[(cfg(100), 1), (cfg(150), 2), (cfg(200), 3)]);
    for i in 0..3 {
        lan.with(i, |v, now| v.start(now, false));
    }
    assert!(lan.sent.is_empty());
    lan.run_until(secs(20));
    assert_eq!(lan.entered(2, VrrpState::Master), vec![ns(3_218_750_000)]);
    assert!(lan.entered(0, VrrpState::Master).is_empty());
    assert!(lan.entered(1, VrrpState::Master).is_empty());
}

#[test]
fn split_brain_between_equal_priorities_resolves_to_the_larger_ip() {
    // Two equal-priority nodes that both start as Master behind a partition; node
    // `late` starts 0.5 s after the other. The partition heals at 5.3 s; the lower
    // address steps down at the first advert it hears from the larger one.
    for (ips, expect_master, expect_at) in [
        ([10, 20], 1, ms(5_500)), // larger ip advertises at x.5 s
        ([20, 10], 0, secs(6)),   // larger ip advertises at whole seconds
    ] {
        let mut lan = Lan::new(&[(cfg(100), ips[0]), (cfg(100), ips[1])]);
        lan.partitioned = true;
        lan.with(0, |v, now| v.start(now, true));
        lan.run_until(ms(500));
        lan.with(1, |v, now| v.start(now, true));
        lan.run_until(ms(5_300));
        assert_eq!(
            (lan.state(0), lan.state(1)),
            (VrrpState::Master, VrrpState::Master)
        );
        lan.partitioned = false;
        lan.run_until(secs(30));
        let loser = 1 - expect_master;
        assert_eq!(lan.state(expect_master), VrrpState::Master);
        assert_eq!(lan.state(loser), VrrpState::Backup);
        assert_eq!(lan.entered(loser, VrrpState::Backup), vec![expect_at]);
        assert!(lan.entered(expect_master, VrrpState::Backup).is_empty());
        // The loser never advertised after stepping down.
        assert!(*lan.adverts_of(loser).last().unwrap() < expect_at);
    }
}

#[test]
fn keepalived_lower_priority_reply_heals_split_brain_at_the_first_crossing_advert() {
    // The second case of the previous test (larger ip advertising at whole seconds,
    // smaller at x.5 s), with keepalived's reply: the larger ip answers the smaller
    // one's advert at 5.5 s at once instead of waiting for its own at 6 s.
    let mut lan = Lan::new(&[(cfg(100), 20), (cfg(100), 10)]);
    for v in &mut lan.nodes {
        v.set_reply_to_lower_priority(true);
    }
    lan.partitioned = true;
    lan.with(0, |v, now| v.start(now, true));
    lan.run_until(ms(500));
    lan.with(1, |v, now| v.start(now, true));
    lan.run_until(ms(5_300));
    lan.partitioned = false;
    lan.run_until(secs(30));
    // Without the reply node 1 would step down at 6.0 s (previous test).
    assert_eq!(lan.entered(1, VrrpState::Backup), vec![ms(5_500)]);
    assert_eq!(
        lan.adverts_of(0)
            .iter()
            .filter(|&&t| t == ms(5_500))
            .count(),
        1
    );
    assert_eq!(lan.state(0), VrrpState::Master);
}

#[test]
fn a_backup_never_advertises() {
    let mut v = Vrrp::new(cfg(150), 5);
    v.start(SimTime::ZERO, false);
    assert_eq!(v.state(), VrrpState::Backup);
    let mut now = SimTime::ZERO;
    for prio in [0, 1, 100, 149, 150, 151, 255] {
        now += ms(100);
        v.handle_advert(
            now,
            7,
            Advert {
                priority: prio,
                interval: S,
            },
        );
        v.handle_advert(
            now,
            3,
            Advert {
                priority: prio,
                interval: S,
            },
        );
        v.handle_timeout(now); // before the deadline: ignored
        assert_eq!(v.state(), VrrpState::Backup);
        assert_eq!(v.poll_transmit(), None, "after a priority-{prio} advert");
    }
    // A long mixed run: the Lan checks every advert's sender.
    let mut lan = Lan::new(&[(cfg(200), 3), (cfg(150), 2), (cfg(100), 1)]);
    lan.with(0, |v, now| v.start(now, true));
    lan.with(1, |v, now| v.start(now, false));
    lan.with(2, |v, now| v.start(now, false));
    lan.run_until(ms(7_300));
    lan.with(0, |v, _| v.crash());
    lan.run_until(ms(15_100));
    lan.with(1, |v, now| v.shutdown(now));
    lan.run_until(ms(22_000));
    lan.with(0, |v, now| v.start(now, false));
    lan.with(1, |v, now| v.start(now, false));
    lan.run_until(secs(40));
    assert_eq!(
        [lan.state(0), lan.state(1), lan.state(2)],
        [VrrpState::Master, VrrpState::Backup, VrrpState::Backup]
    );
    // Node 1 took over at 7 s + 3.4140625 s, node 2 at 15.1 s + 0.609375 s, node 0 at
    // 22 s + 3.21875 s (node 1's timer, 22 s + 3.4140625 s, was re-armed by it).
    assert_eq!(lan.entered(1, VrrpState::Master), vec![ns(10_414_062_500)]);
    assert_eq!(lan.entered(2, VrrpState::Master), vec![ns(15_709_375_000)]);
    assert_eq!(
        lan.entered(0, VrrpState::Master),
        vec![SimTime::ZERO, ns(25_218_750_000)]
    );
    // Node 0 is the only one advertising since.
    let tail: Vec<_> = lan.sent.iter().filter(|s| s.0 >= secs(30)).collect();
    assert!(tail.iter().all(|s| s.1 == 0));
    assert_eq!(tail.len(), 10);
}

#[test]
fn down_emits_nothing_and_has_no_deadline() {
    let mut v = Vrrp::new(cfg(255), 1);
    assert_eq!(v.state(), VrrpState::Down);
    assert_eq!(v.poll_timeout(), None);
    v.handle_timeout(SimTime::MAX);
    v.handle_advert(
        secs(1),
        2,
        Advert {
            priority: 0,
            interval: S,
        },
    );
    v.handle_advert(
        secs(1),
        2,
        Advert {
            priority: 1,
            interval: S,
        },
    );
    assert_eq!(v.poll_transmit(), None);
    assert_eq!(v.state(), VrrpState::Down);

    // A crash loses what was not drained yet and sends nothing.
    v.start(secs(2), true);
    assert_eq!(v.poll_timeout(), Some(secs(3)));
    v.crash();
    assert_eq!(
        (v.state(), v.poll_timeout(), v.poll_transmit()),
        (VrrpState::Down, None, None)
    );
    v.handle_timeout(secs(3));
    assert_eq!(v.poll_transmit(), None);

    // Shutdown of a Master: one priority-0 advert, then silence.
    v.start(secs(4), false); // the owner: Master at once
    assert_eq!(
        v.poll_transmit(),
        Some(Advert {
            priority: 255,
            interval: S
        })
    );
    v.shutdown(ms(4_500));
    assert_eq!(
        v.poll_transmit(),
        Some(Advert {
            priority: 0,
            interval: S
        })
    );
    assert_eq!(v.poll_transmit(), None);
    assert_eq!(v.poll_timeout(), None);
    v.handle_timeout(secs(100));
    assert_eq!(v.poll_transmit(), None);

    // Shutdown of a Backup sends nothing.
    let mut b = Vrrp::new(cfg(100), 2);
    b.start(SimTime::ZERO, false);
    b.shutdown(secs(1));
    assert_eq!(
        (b.state(), b.poll_timeout(), b.poll_transmit()),
        (VrrpState::Down, None, None)
    );
}

#[test]
fn timeouts_before_the_deadline_are_ignored_and_late_ones_reschedule_from_now() {
    let mut v = Vrrp::new(cfg(100), 1);
    v.start(SimTime::ZERO, true);
    assert!(v.poll_transmit().is_some());
    v.handle_timeout(ms(999));
    assert_eq!((v.poll_transmit(), v.poll_timeout()), (None, Some(S)));
    v.handle_timeout(ms(1_200)); // late
    assert!(v.poll_transmit().is_some());
    assert_eq!(v.poll_timeout(), Some(ms(2_200)));

    let mut b = Vrrp::new(cfg(100), 1);
    b.start(SimTime::ZERO, false);
    let d = b.poll_timeout().unwrap();
    assert_eq!(d, ns(3_609_375_000));
    b.handle_timeout(d - ns(1));
    assert_eq!(b.state(), VrrpState::Backup);
    b.handle_timeout(d + ms(10));
    assert_eq!(b.state(), VrrpState::Master);
    assert_eq!(b.poll_timeout(), Some(d + ms(10) + S));
    // start() while running is ignored.
    b.start(secs(50), false);
    assert_eq!(b.state(), VrrpState::Master);
    assert_eq!(b.poll_timeout(), Some(d + ms(10) + S));
}

#[test]
fn master_answers_a_priority_zero_advert_and_steps_down_for_a_better_one() {
    let mut m = Vrrp::new(cfg(100), 5);
    m.start(SimTime::ZERO, true);
    m.poll_transmit();
    // Priority 0: advertise now, Adver_Timer restarts.
    m.handle_advert(
        ms(300),
        9,
        Advert {
            priority: 0,
            interval: S,
        },
    );
    assert_eq!(
        m.poll_transmit(),
        Some(Advert {
            priority: 100,
            interval: S
        })
    );
    assert_eq!(m.poll_timeout(), Some(ms(1_300)));
    // Lower priority, or equal from a smaller address: discarded (RFC behaviour).
    m.handle_advert(
        ms(400),
        9,
        Advert {
            priority: 99,
            interval: S,
        },
    );
    m.handle_advert(
        ms(400),
        4,
        Advert {
            priority: 100,
            interval: S,
        },
    );
    assert_eq!((m.state(), m.poll_transmit()), (VrrpState::Master, None));
    assert_eq!(m.poll_timeout(), Some(ms(1_300)));
    // Higher priority with a 0.1 s interval: Backup, interval learned, MDI armed.
    m.handle_advert(
        ms(500),
        9,
        Advert {
            priority: 101,
            interval: ms(100),
        },
    );
    assert_eq!(m.state(), VrrpState::Backup);
    assert_eq!(m.master_adver_interval(), ms(100));
    assert_eq!(m.poll_timeout(), Some(ms(500) + ns(360_937_500)));
    assert_eq!(m.poll_transmit(), None);
    // Equal priority from a larger address also wins.
    let mut m = Vrrp::new(cfg(100), 5);
    m.start(SimTime::ZERO, true);
    m.handle_advert(
        ms(10),
        6,
        Advert {
            priority: 100,
            interval: S,
        },
    );
    assert_eq!(m.state(), VrrpState::Backup);
    // Own looped-back advert: ignored.
    let mut m = Vrrp::new(cfg(100), 5);
    m.start(SimTime::ZERO, true);
    m.handle_advert(
        ms(10),
        5,
        Advert {
            priority: 200,
            interval: S,
        },
    );
    assert_eq!(m.state(), VrrpState::Master);
}

#[test]
fn backup_timer_rules() {
    // Preempting backup: a lower-priority advert does not touch the timer; an equal
    // or higher one re-arms it (learning the interval); priority 0 cuts it to skew.
    let mut b = Vrrp::new(cfg(150), 1);
    b.start(SimTime::ZERO, false);
    let mdi = ns(3_414_062_500);
    assert_eq!(b.poll_timeout(), Some(mdi));
    b.handle_advert(
        secs(1),
        2,
        Advert {
            priority: 149,
            interval: ms(100),
        },
    );
    assert_eq!(
        (b.poll_timeout(), b.master_adver_interval()),
        (Some(mdi), S)
    );
    b.handle_advert(
        secs(2),
        2,
        Advert {
            priority: 150,
            interval: S,
        },
    );
    assert_eq!(b.poll_timeout(), Some(secs(2) + mdi));
    b.handle_advert(
        secs(3),
        2,
        Advert {
            priority: 0,
            interval: S,
        },
    );
    assert_eq!(b.poll_timeout(), Some(secs(3) + ns(414_062_500)));

    // Non-preempting backup: any advert re-arms it.
    let mut b = Vrrp::new(
        VrrpConfig {
            preempt: false,
            ..cfg(150)
        },
        1,
    );
    b.start(SimTime::ZERO, false);
    b.handle_advert(
        secs(1),
        2,
        Advert {
            priority: 1,
            interval: ms(100),
        },
    );
    assert_eq!(b.master_adver_interval(), ms(100));
    assert_eq!(b.poll_timeout(), Some(secs(1) + ns(341_406_250)));

    // A restart forgets the learned interval.
    b.shutdown(secs(2));
    b.start(secs(3), false);
    assert_eq!(b.master_adver_interval(), S);
    assert_eq!(b.poll_timeout(), Some(secs(3) + mdi));
}
