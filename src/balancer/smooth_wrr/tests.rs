use super::*;
use crate::balancer::testutil::{letter, sequence, weighted};

#[test]
fn nginx_sequence_5_1_1() {
    let b = weighted(&[5, 1, 1]);
    assert_eq!(
        sequence(&mut SmoothWeightedRoundRobin::new(), &b, 21),
        "aabacaaaabacaaaabacaa"
    );
}

#[test]
fn sequences_for_other_weights() {
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(
        sequence(&mut w, &weighted(&[4, 2, 1]), 14),
        "abacabaabacaba"
    );
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(sequence(&mut w, &weighted(&[3, 2, 1]), 12), "abacbaabacba");
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(sequence(&mut w, &weighted(&[1, 1, 1]), 6), "abcabc");
}

#[test]
fn current_weight_trace_5_1_1() {
    let b = weighted(&[5, 1, 1]);
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::new();
    let expected: [(char, [i64; 3]); 7] = [
        ('a', [-2, 1, 1]),
        ('a', [-4, 2, 2]),
        ('b', [1, -4, 3]),
        ('a', [-1, -3, 4]),
        ('c', [4, -2, -2]),
        ('a', [2, -1, -1]),
        ('a', [0, 0, 0]),
    ];
    for (who, cw) in expected {
        let got = letter(w.pick(SimTime::ZERO, &view, &RequestInfo::default()));
        assert_eq!((got, w.inner.current.as_slice()), (who, cw.as_slice()));
        assert_eq!(w.inner.current.iter().sum::<i64>(), 0);
    }
}

#[test]
fn current_weights_sum_to_zero_with_all_eligible() {
    let b = weighted(&[7, 3, 0, 2, 9, 1]);
    // Weight 0 is ineligible and never touched, so the sum over all stays 0.
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::new();
    let mut counts = [0u32; 6];
    for _ in 0..22 * 10 {
        let i = w
            .pick(SimTime::ZERO, &view, &RequestInfo::default())
            .unwrap();
        counts[i] += 1;
        assert_eq!(w.inner.current.iter().sum::<i64>(), 0);
    }
    // Exactly proportional over whole cycles of Σweight = 22 picks.
    assert_eq!(counts, [70, 30, 0, 20, 90, 10]);
}

#[test]
fn skips_ineligible_and_returns_none_when_nothing_is_eligible() {
    let mut b = weighted(&[5, 1, 1]);
    b[0].available = false;
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(sequence(&mut w, &b, 4), "bcbc");
    b[1].available = false;
    b[2].weight = 0;
    assert_eq!(sequence(&mut w, &b, 2), "--");
    assert_eq!(sequence(&mut w, &[], 2), "--");
}

#[test]
fn pool_change_resets_current_weights() {
    let b = weighted(&[5, 1, 1]);
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(sequence(&mut w, &b, 3), "aab");
    w.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
    assert_eq!(w.inner.current, [0, 0, 0]);
    assert_eq!(sequence(&mut w, &b, 7), "aabacaa");
    // A pool of a different length without a notification also resets.
    let b4 = weighted(&[1, 1, 1, 1]);
    assert_eq!(sequence(&mut w, &b4, 4), "abcd");
}

#[test]
fn step_over_a_subset_leaves_others_alone() {
    let mut current = [10, 0, 0, 0];
    let picks: Vec<Option<usize>> = (0..3)
        .map(|_| swrr_step(&mut current, [(1, 2), (3, 1)].into_iter()))
        .collect();
    // One full cycle (Σweight = 3 picks) returns the subset to zero.
    assert_eq!(picks, [Some(1), Some(3), Some(1)]);
    assert_eq!(current, [10, 0, 0, 0]);
    assert_eq!(swrr_step(&mut current, std::iter::empty()), None);
}

// -----------------------------------------------------------------------------------
// Passive checks (max_fails / fail_timeout): lb-semantics.md §1
// -----------------------------------------------------------------------------------

use super::driver::{ms_from, responders, serve};
use crate::balancer::params::ParamValue;
use crate::balancer::{AlgorithmSpec, OutcomeKind, lookup};

fn secs(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

fn outcome(kind: OutcomeKind) -> Outcome {
    Outcome::of(kind, SimTime::MILLISECOND)
}

fn checks(max_fails: u32, fail_timeout: SimTime) -> PassiveChecks {
    PassiveChecks {
        max_fails,
        fail_timeout,
    }
}

/// [run] vector: c is a closed port, weights 1,1,1.
#[test]
fn closed_port_1_1_1() {
    let b = weighted(&[1, 1, 1]);
    let mut w = SmoothWeightedRoundRobin::new();
    let attempts = serve(&mut w, &b, &[2], ms_from(SimTime::ZERO, 9));
    // The third request tries c, is refused, and is retried on a.
    assert_eq!(attempts, "abCabababa");
    assert_eq!(responders(&attempts), "ababababa");
    let c = w.inner.peers.peers[2];
    assert_eq!((c.fails, c.effective, c.checked, c.accessed), (1, 0, 0, 0));
}

/// [run] vector: c is a closed port, weights 5,1,1.
#[test]
fn closed_port_5_1_1() {
    let b = weighted(&[5, 1, 1]);
    let mut w = SmoothWeightedRoundRobin::new();
    let attempts = serve(&mut w, &b, &[2], ms_from(SimTime::ZERO, 14));
    assert_eq!(attempts, "aabaCaaaaaabaaa");
    assert_eq!(responders(&attempts), "aabaaaaaaabaaa");
}

/// [run] vector: c is a closed port, weights 1,1,5: the first pick is c, it fails, the
/// retry inside the same request picks a, and c is then unavailable for 10 s.
#[test]
fn closed_port_1_1_5() {
    let b = weighted(&[1, 1, 5]);
    let mut w = SmoothWeightedRoundRobin::new();
    let attempts = serve(&mut w, &b, &[2], ms_from(SimTime::ZERO, 8));
    assert_eq!(attempts, "Cabababab");
    assert_eq!(responders(&attempts), "abababab");
    // Still out at 10.999 s (whole second 10: 10 − 0 ≤ 10)...
    let attempts = serve(&mut w, &b, &[2], ms_from(SimTime(10_999_000_000), 1));
    assert!(!attempts.contains('C'), "{attempts}");
    // ... back at 11 s with effective weight 0, ramping by one per pass. Its first
    // attempt fails again: fails = 2 and a new 10 s window opens at 11.
    let attempts = serve(&mut w, &b, &[2], ms_from(secs(11), 20));
    assert_eq!(attempts.matches('C').count(), 1, "{attempts}");
    let c = w.inner.peers.peers[2];
    assert_eq!(
        (c.fails, c.effective, c.checked, c.accessed),
        (2, 0, 11, 11)
    );
    let attempts = serve(&mut w, &b, &[2], ms_from(secs(21), 20));
    assert!(!attempts.contains('C'), "{attempts}");
    let attempts = serve(&mut w, &b, &[2], ms_from(secs(22), 20));
    assert!(attempts.contains('C'), "{attempts}");
}

/// [model] vector: weights 5,1,1, a fails at t=0 (its request is retried on b); at
/// t=11 a is back with effective weight 0 and ramps up by one per pick.
#[test]
fn recovery_after_fail_timeout_5_1_1() {
    let b = weighted(&[5, 1, 1]);
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(serve(&mut w, &b, &[0], [SimTime::ZERO]), "Ab");
    let a = w.inner.peers.peers[0];
    assert_eq!((a.fails, a.effective, a.checked, a.accessed), (1, 0, 0, 0));
    // Excluded through t = 10 s (and 10.999 s: nginx's clock has whole seconds).
    for t in [secs(1), secs(10), SimTime(10_999_999_999)] {
        assert!(w.inner.peers.unavailable(0, whole_seconds(t)), "{t}");
    }
    assert!(!w.inner.peers.unavailable(0, whole_seconds(secs(11))));

    let mut picks = String::new();
    let mut effective = Vec::new();
    let mut fails = Vec::new();
    for _ in 0..12 {
        let i = w.pick(secs(11), &view, &RequestInfo::default());
        picks.push(letter(i));
        effective.push(w.inner.peers.peers[0].effective);
        let ok = outcome(OutcomeKind::Success);
        w.on_response(secs(11), &view, i.unwrap(), ok);
        fails.push(w.inner.peers.peers[0].fails);
    }
    assert_eq!(picks, "cbcaabaacaaa");
    assert_eq!(effective, [1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5]);
    // The first pick of a (the 4th) opens a new window (checked = 11 > accessed = 0),
    // so its success clears `fails`.
    assert_eq!(fails, [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(w.inner.peers.peers[0].checked, 11);
}

#[test]
fn max_fails_zero_never_excludes() {
    let b = weighted(&[1, 1, 1]);
    let mut w = SmoothWeightedRoundRobin::with_checks(checks(0, secs(10)));
    let attempts = serve(&mut w, &b, &[2], ms_from(SimTime::ZERO, 8));
    // c keeps its turns (and its weight); every refused request is retried.
    assert_eq!(attempts, "abCabCabaCb");
    let c = w.inner.peers.peers[2];
    // nginx still counts (and stamps) the failures, it just never acts on them.
    assert_eq!((c.fails, c.effective), (3, 1));
    assert!(!w.inner.peers.unavailable(2, 0));
}

#[test]
fn single_backend_ignores_max_fails() {
    let b = weighted(&[3]);
    let mut w = SmoothWeightedRoundRobin::new();
    // Refused every time, picked every time (the retry has nothing left: 502).
    let attempts = serve(&mut w, &b, &[0], ms_from(SimTime::ZERO, 3));
    assert_eq!(attempts, "A-A-A-");
    let a = w.inner.peers.peers[0];
    assert_eq!((a.fails, a.effective), (0, 3));
    // Only an ineligible single backend is skipped.
    let mut down = b.clone();
    down[0].available = false;
    assert_eq!(sequence(&mut w, &down, 1), "-");
}

#[test]
fn a_failed_backend_left_alone_in_the_pool_is_single() {
    let b = weighted(&[1, 1]);
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(serve(&mut w, &b, &[1], ms_from(SimTime::ZERO, 2)), "aBa");
    assert!(w.inner.peers.unavailable(1, 0));
    // a leaves the pool: b is now the single peer and is picked despite its failure.
    let only_b = [b[1]];
    let view = PoolView::new(&only_b);
    w.on_pool_change(SimTime::ZERO, &view);
    assert_eq!(w.inner.peers.peers[0].fails, 1);
    assert_eq!(
        w.pick(SimTime::ZERO, &view, &RequestInfo::default()),
        Some(0)
    );
    // Any completion clears `fails` for a single peer (even a failure).
    w.on_response(SimTime::ZERO, &view, 0, outcome(OutcomeKind::Refused));
    assert_eq!(w.inner.peers.peers[0].fails, 0);
}

#[test]
fn all_unavailable_gives_none_until_fail_timeout_passes() {
    let b = weighted(&[1, 1]);
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::new();
    // Both refuse: the request is a 502 after trying both.
    assert_eq!(serve(&mut w, &b, &[0, 1], [SimTime::ZERO]), "AB-");
    let current = w.inner.current.clone();
    // No quick recovery: None (nginx 502) through t = 10 s, changing nothing.
    for t in [0, 1, 5, 10] {
        assert_eq!(w.pick(secs(t), &view, &RequestInfo::default()), None, "{t}");
    }
    assert_eq!(w.inner.current, current);
    // At t = 11 each gets one trial request: picking it opens a new window
    // (checked = 11) in which it is unavailable again until a success clears `fails`.
    let mut trial = w.clone();
    assert_eq!(sequence_at(&mut trial, &b, secs(11), 4), "ba--");
    // With the trials answered, both are back (effective weight 0, then ramping).
    assert_eq!(serve(&mut w, &b, &[], ms_from(secs(11), 4)), "bbab");
    assert_eq!(
        (w.inner.peers.peers[0].fails, w.inner.peers.peers[1].fails),
        (0, 0)
    );
}

fn sequence_at(w: &mut dyn Balancer, b: &[Backend], now: SimTime, n: usize) -> String {
    let view = PoolView::new(b);
    (0..n)
        .map(|_| letter(w.pick(now, &view, &RequestInfo::default())))
        .collect()
}

#[test]
fn only_refusals_and_timeouts_count() {
    let b = weighted(&[2, 2]);
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::new();
    // nginx's default `proxy_next_upstream error timeout`: HTTP statuses are answers.
    for kind in [
        OutcomeKind::Success,
        OutcomeKind::Status(500),
        OutcomeKind::Status(502),
        OutcomeKind::Status(503),
        OutcomeKind::Status(504),
    ] {
        w.on_response(SimTime::ZERO, &view, 0, outcome(kind));
        assert_eq!(
            (
                w.inner.peers.peers[0].fails,
                w.inner.peers.peers[0].effective
            ),
            (0, 2)
        );
    }
    for (i, kind) in [(0, OutcomeKind::Refused), (1, OutcomeKind::TimedOut)] {
        w.on_response(SimTime::ZERO, &view, i, outcome(kind));
        assert_eq!(
            (
                w.inner.peers.peers[i].fails,
                w.inner.peers.peers[i].effective
            ),
            (1, 0)
        );
    }
    assert_eq!(sequence(&mut w, &b, 1), "-");
}

#[test]
fn max_fails_two_window_and_weight_loss() {
    let b = weighted(&[5, 1]);
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::with_checks(checks(2, secs(10)));
    let refused = outcome(OutcomeKind::Refused);
    let ok = outcome(OutcomeKind::Success);
    // First failure: effective 5 − 5/2 = 3; one failure of two, still available.
    w.on_response(SimTime::ZERO, &view, 0, refused);
    let a = w.inner.peers.peers[0];
    assert_eq!((a.fails, a.effective), (1, 3));
    assert!(!w.inner.peers.unavailable(0, 0));
    assert_eq!(
        w.poll_passive(),
        None,
        "one failure of two takes nothing out"
    );
    // A success inside the window (accessed = checked = 0) does not clear the count.
    assert_eq!(w.pick(secs(1), &view, &RequestInfo::default()), Some(0));
    w.on_response(secs(1), &view, 0, ok);
    assert_eq!(w.inner.peers.peers[0].fails, 1);
    // The second failure makes a unavailable until its window (from t = 2) passes.
    w.on_response(secs(2), &view, 0, refused);
    let a = w.inner.peers.peers[0];
    assert_eq!((a.fails, a.checked, a.accessed), (2, 2, 2));
    let out = Some(PassiveChange {
        server: b[0].id,
        up: false,
    });
    assert_eq!(w.poll_passive(), out, "reported once");
    assert_eq!(w.poll_passive(), None);
    assert!(w.inner.peers.unavailable(0, 12));
    assert_eq!(sequence_at(&mut w, &b, secs(12), 3), "bbb");
    assert!(!w.inner.peers.unavailable(0, 13));
    // Picked at 13: a new window opens, and a success clears the count.
    let mut picked_a = false;
    for _ in 0..10 {
        let i = w.pick(secs(13), &view, &RequestInfo::default()).unwrap();
        w.on_response(secs(13), &view, i, ok);
        let back = (i == 0).then_some(PassiveChange {
            server: b[0].id,
            up: true,
        });
        assert_eq!(w.poll_passive(), back);
        picked_a |= i == 0;
        if picked_a {
            break;
        }
    }
    assert!(picked_a);
    assert_eq!(
        (w.inner.peers.peers[0].checked, w.inner.peers.peers[0].fails),
        (13, 0)
    );
}

#[test]
fn late_success_does_not_revive_and_weight_floors_at_zero() {
    let b = weighted(&[1, 1, 1]);
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::new();
    // Two requests in flight to a; both fail: effective 1 − 1 − 1 floors at 0.
    w.on_response(SimTime::ZERO, &view, 0, outcome(OutcomeKind::TimedOut));
    w.on_response(SimTime::ZERO, &view, 0, outcome(OutcomeKind::Refused));
    assert_eq!(
        (
            w.inner.peers.peers[0].fails,
            w.inner.peers.peers[0].effective
        ),
        (2, 0)
    );
    // A third request, sent before the failures, succeeds at t = 3: it was not picked
    // in a new window (accessed = checked), so a stays out.
    w.on_response(secs(3), &view, 0, outcome(OutcomeKind::Success));
    assert_eq!(w.inner.peers.peers[0].fails, 2);
    assert_eq!(sequence_at(&mut w, &b, secs(3), 4), "bcbc");
}

#[test]
fn fail_timeout_compares_whole_seconds() {
    let b = weighted(&[1, 1]);
    let view = PoolView::new(&b);
    let mut w = SmoothWeightedRoundRobin::with_checks(checks(1, SimTime::from_millis(1500)));
    // Fails at 0.9 s: stamped 0. At 1.999 s the difference is 1 s ≤ 1.5 s: still out;
    // at 2.0 s it is 2 s > 1.5 s: back.
    w.on_response(
        SimTime::from_millis(900),
        &view,
        0,
        outcome(OutcomeKind::Refused),
    );
    assert_eq!(w.inner.peers.peers[0].checked, 0);
    assert!(
        w.inner
            .peers
            .unavailable(0, whole_seconds(SimTime::from_millis(1999)))
    );
    assert!(!w.inner.peers.unavailable(0, whole_seconds(secs(2))));
}

#[test]
fn passive_state_survives_pool_changes_by_id() {
    let b = weighted(&[5, 1, 1]);
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(serve(&mut w, &b, &[0], [SimTime::ZERO]), "Ab");
    // b (id 1) leaves, id 5 joins: a keeps its failure, id 5 starts fresh, and the
    // current weights are reset.
    let mut next = weighted(&[5, 1, 2]);
    next[1].id = 2;
    next[2].id = 5;
    w.on_pool_change(secs(1), &PoolView::new(&next));
    assert_eq!(w.inner.current, [0, 0, 0]);
    let ids: Vec<u32> = w.inner.peers.peers.iter().map(|p| p.id).collect();
    assert_eq!(ids, [0, 2, 5]);
    assert_eq!(
        (
            w.inner.peers.peers[0].fails,
            w.inner.peers.peers[0].effective
        ),
        (1, 0)
    );
    assert_eq!(w.inner.peers.peers[2], Peer::fresh(5, 2));
    assert_eq!(sequence_at(&mut w, &next, secs(1), 3), "cbc");
    // a is re-weighted 5 → 8: it keeps its penalty of 5 (effective 3); c, healthy,
    // takes its new weight at once.
    next[0].weight = 8;
    next[1].weight = 4;
    w.on_pool_change(secs(1), &PoolView::new(&next));
    assert_eq!(w.inner.peers.peers[0].effective, 3);
    assert_eq!(w.inner.peers.peers[1].effective, 4);
    // a leaves and returns: fresh.
    w.on_pool_change(secs(1), &PoolView::new(&next[1..]));
    w.on_pool_change(secs(1), &PoolView::new(&next));
    assert_eq!(w.inner.peers.peers[0], Peer::fresh(0, 8));
}

#[test]
fn unannounced_pool_change_remaps_by_id() {
    let b = weighted(&[1, 1, 1]);
    let mut w = SmoothWeightedRoundRobin::new();
    assert_eq!(serve(&mut w, &b, &[1], ms_from(SimTime::ZERO, 2)), "aBc");
    // Same length, a replaced by id 9 at the end, with no on_pool_change: b (now index
    // 0) is still out.
    let mut shifted = weighted(&[1, 1, 1]);
    shifted[0].id = 1;
    shifted[1].id = 2;
    shifted[2].id = 9;
    assert_eq!(sequence_at(&mut w, &shifted, SimTime::ZERO, 4), "bcbc");
    // A response is mapped by the pool it comes with.
    let view = PoolView::new(&shifted);
    w.on_response(SimTime::ZERO, &view, 2, outcome(OutcomeKind::Refused));
    assert_eq!(w.inner.peers.peers[2].id, 9);
    assert_eq!(w.inner.peers.peers[2].fails, 1);
}

#[test]
fn parameters_are_nginx_defaults() {
    let info = lookup("weighted-round-robin").unwrap();
    let defaults = Params::defaults(info.params);
    assert_eq!(
        PassiveChecks::from_params(&defaults),
        PassiveChecks::default()
    );
    assert_eq!(PassiveChecks::default(), checks(1, secs(10)));
    // Default parameters keep the plain name.
    assert_eq!(
        AlgorithmSpec::named("weighted-round-robin").unwrap().name(),
        "weighted-round-robin"
    );
    let max_fails = &info.params[0];
    assert!(max_fails.check(ParamValue::Int(0)).is_ok());
    assert!(max_fails.check(ParamValue::Int(1_000_001)).is_err());
    let fail_timeout = &info.params[1];
    assert!(
        fail_timeout
            .check(ParamValue::Duration(SimTime::ZERO))
            .is_err()
    );
    assert!(fail_timeout.check(ParamValue::Duration(secs(3600))).is_ok());
    assert!(
        fail_timeout
            .check(ParamValue::Duration(secs(3601)))
            .is_err()
    );
    let mut p = defaults.clone();
    p.set("max_fails", ParamValue::Int(3));
    p.set("fail_timeout", ParamValue::Duration(secs(30)));
    assert_eq!(PassiveChecks::from_params(&p), checks(3, secs(30)));
    let spec = AlgorithmSpec::new(info, p, None);
    assert_eq!(
        spec.name(),
        "weighted-round-robin(max_fails=3,fail_timeout=30s)"
    );
}

#[test]
fn the_index_chooses_as_the_scan() {
    use crate::balancer::least_conn::INDEX_MIN;
    use crate::balancer::testutil::index_agrees_with_scan;
    // Equal weights (the index) and now and then a re-weighted backend (the scan until
    // the weights are equal again), failures sending it back to the scan until clean.
    for (n, rare, seed) in [(INDEX_MIN, 0, 1), (300, 0, 2), (100, 300, 3)] {
        let picks = index_agrees_with_scan(
            || Box::new(SmoothWeightedRoundRobin::new()),
            n,
            |r| if rare > 0 && r.below(rare) == 0 { 5 } else { 3 },
            400,
            200_000,
            seed,
        );
        assert!(picks > 90_000, "{picks}");
    }
}
