//! `lblab trace`: the step-by-step story of the first requests is the story the simulation
//! actually ran — nginx's smooth weighted round robin shows its reference order, every
//! followed request is told from issue to answer, and failures and failovers appear where
//! they happened.

use std::process::Command;

use lblab::engine::{SeedTree, SimTime};
use lblab::model::{TraceLine, World};

use crate::support::{parse, root};

fn trace(text: &str, n: u64, from: SimTime) -> Vec<TraceLine> {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&s.world, &SeedTree::new(s.seed), 0)
        .trace(n, from)
        .unwrap()
}

/// The server each pick line chose, in order.
fn picks(lines: &[TraceLine]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.event.contains(" pick: "))
        .map(|l| l.event.rsplit("→ ").next().unwrap().to_string())
        .collect()
}

/// lb-semantics §1: nginx smooth WRR over weights 5, 1, 1 picks a a b a c a a. At 1
/// request per second with 1 ms of service every request is alone, so the order is the
/// balancer's alone.
#[test]
fn smooth_wrr_trace_shows_the_nginx_order_and_its_current_weights() {
    let text = r#"
        [scenario]
        duration = "60s"
        [clients]
        rate = "1/s"
        [[classes]]
        service = { dist = "constant", value = "1ms" }
        [[servers]]
        name = "a"
        count = 1
        weight = 5
        [[servers]]
        name = "b"
        count = 1
        [[servers]]
        name = "c"
        count = 1
        [balancer]
        algorithm = "weighted-round-robin"
    "#;
    let lines = trace(text, 14, SimTime::ZERO);
    assert_eq!(
        picks(&lines),
        ["a-1", "a-1", "b-1", "a-1", "c-1", "a-1", "a-1"].repeat(2)
    );
    // Before the second pick nginx's current weights are a −2, b 1, c 1 (after the first:
    // +5/+1/+1, a chosen, −7).
    let second = lines
        .iter()
        .filter(|l| l.event.contains(" pick: "))
        .nth(1)
        .unwrap();
    assert!(
        second.event.contains("a-1 0 w5 [-2]")
            && second.event.contains("b-1 0 [1]")
            && second.event.contains("c-1 0 [1]"),
        "{}",
        second.event
    );
}

/// Every followed request is told from issue to exactly one answer, in time order, and
/// no other request appears. After the answer only its orphaned work may still show (a
/// server finishing an attempt nobody waits for any more).
#[test]
fn every_followed_request_is_told_from_issue_to_answer() {
    let text = r#"
        [scenario]
        duration = "30s"
        seed = 5
        [clients]
        rate = "300/s"
        timeout = "50ms"
        [[classes]]
        service = { dist = "exponential", mean = "10ms" }
        [[servers]]
        name = "web"
        count = 3
        slots = 1
        queue = 2
        [lb]
        retries = 1
        retry_on = ["5xx"]
    "#;
    let n = 200;
    let lines = trace(text, n, SimTime::from_secs(5));
    assert!(lines.windows(2).all(|w| w[0].at <= w[1].at), "time order");
    for id in 1..=n {
        let mine: Vec<&TraceLine> = lines.iter().filter(|l| l.request == Some(id)).collect();
        assert!(
            mine[0].event.starts_with("issued by client"),
            "#{id}: {:?}",
            mine[0]
        );
        assert!(mine[0].at >= SimTime::from_secs(5));
        let ends: Vec<_> = mine
            .iter()
            .filter(|l| l.event.starts_with("completed") || l.event.starts_with("failed"))
            .collect();
        assert_eq!(ends.len(), 1, "#{id}: {mine:?}");
        let end = mine
            .iter()
            .position(|l| std::ptr::eq(*l, *ends[0]))
            .unwrap();
        assert!(
            mine[end + 1..]
                .iter()
                .all(|l| l.event.contains("(orphaned")),
            "#{id}: {mine:?}"
        );
    }
    assert!(lines.iter().all(|l| l.request.is_some_and(|r| r <= n)));
    // At ρ = 1 with tiny queues some requests are rejected or time out: the trace shows it.
    let all: String = lines.iter().map(|l| l.event.as_str()).collect();
    assert!(all.contains("queue full") && all.contains("retrying after rejected"));
    assert!(all.contains("the client gives up waiting") && all.contains("(orphaned"));
}

/// A traced crash of the active load balancer: the crash, the requests sent into the
/// black hole, the VRRP takeover 3.609375 s after the last advert (60 s), and the lost
/// requests failing at the client timeout.
#[test]
fn a_load_balancer_failover_is_told_where_it_happens() {
    let s = crate::support::load("lb-failover", &[]);
    let lines = World::new(&s.world, &SeedTree::new(s.seed), 0)
        .trace(3, SimTime::from_millis(63_550))
        .unwrap();
    let sys: Vec<(f64, &str)> = lines
        .iter()
        .filter(|l| l.request.is_none())
        .map(|l| (l.at.as_secs_f64(), l.event.as_str()))
        .collect();
    assert_eq!(
        sys,
        [(63.609375, "lb-2 becomes VRRP master (takes the virtual IP)")]
    );
    for id in 1..=3 {
        let mine: Vec<&str> = lines
            .iter()
            .filter(|l| l.request == Some(id))
            .map(|l| l.event.as_str())
            .collect();
        assert!(mine[1].starts_with("lost: sent to lb-1"), "{mine:?}");
        assert_eq!(mine.last().unwrap(), &"failed after 2000.000 ms: lb_lost");
    }
}

#[test]
fn the_cli_prints_a_table_csv_or_json_and_rejects_a_late_start() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lblab"))
            .arg("trace")
            .args(args)
            .current_dir(root())
            .output()
            .unwrap()
    };
    let o = run(&["scenarios/quick-start.toml", "-n", "3"]);
    assert!(o.status.success());
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(
        t.contains("#3") && !t.contains("#4") && t.contains(" pick: "),
        "{t}"
    );
    let o = run(&["scenarios/quick-start.toml", "-n", "2", "--format", "csv"]);
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.starts_with("time_s,request,event\n"), "{t}");
    let o = run(&["scenarios/quick-start.toml", "-n", "1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["request"], 1);
    let o = run(&["scenarios/quick-start.toml", "--from", "1h"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from 1h is not before the end"));
}

/// Health checking step by step: after the crash at 100.4 s, lb-1's probes of app-3 are
/// refused, and it marks app-3 down after `fall = 3` of them (HAProxy's health counter):
/// at the third refused probe, not before.
#[test]
fn health_checks_are_told_probe_by_probe() {
    let s = crate::support::load("crash-failover", &["health.active.loss=0"]);
    let lines = World::new(&s.world, &SeedTree::new(s.seed), 0)
        .trace(4000, SimTime::from_millis(100_300))
        .unwrap();
    let sys: Vec<&str> = lines
        .iter()
        .filter(|l| l.request.is_none())
        .map(|l| l.event.as_str())
        .collect();
    let crash = sys.iter().position(|e| *e == "app-3 fails: crash").unwrap();
    let down = sys
        .iter()
        .position(|e| *e == "lb-1 marks app-3 down (health checks)")
        .unwrap_or_else(|| panic!("{sys:?}"));
    let refused: Vec<usize> = (crash..down)
        .filter(|&i| sys[i] == "lb-1 health check of app-3 is refused")
        .collect();
    assert_eq!(refused.len(), 3, "{:?}", &sys[crash..=down]);
    // The healthy servers' probes pass meanwhile.
    assert!(sys[crash..down].iter().any(|e| e.ends_with("passes")));
}
