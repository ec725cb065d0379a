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
    // --replication k tells replication k's story: its own random streams, another
    // story than replication 0's.
    let s = crate::support::load("quick-start", &[]);
    let events = |k: u32| {
        let o = run(&[
            "scenarios/quick-start.toml",
            "-n",
            "3",
            "--format",
            "json",
            "--replication",
            &k.to_string(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let cli: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["event"].as_str().unwrap().to_string())
            .collect();
        let world: Vec<String> = World::new(&s.world, &SeedTree::new(s.seed), k)
            .trace(3, SimTime::ZERO)
            .unwrap()
            .into_iter()
            .map(|l| l.event)
            .collect();
        assert_eq!(cli, world, "replication {k}");
        cli
    };
    assert_ne!(events(0), events(3));
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

// ---------------------------------------------------------------------------------------
// The arithmetic behind a pick, and [trace.preset] worked examples
// ---------------------------------------------------------------------------------------

/// Three single-server groups A, B, C (weights given), one request a second, 1 ms of work:
/// each request is alone, so only the presets load the servers.
fn abc(weights: [u32; 3], algorithm: &str, preset: &str) -> String {
    let mut t = String::from(
        "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"1/s\"\n[[classes]]\nservice = { dist = \"constant\", value = \"1ms\" }\n",
    );
    for (name, w) in ["A", "B", "C"].iter().zip(weights) {
        t.push_str(&format!(
            "[[servers]]\nname = \"{name}\"\ncount = 1\nweight = {w}\n"
        ));
    }
    t.push_str(&format!(
        "[balancer]\nalgorithm = \"{algorithm}\"\n[trace.preset]\n{preset}\n"
    ));
    t
}

/// Runs the binary on scenario `text` (written to a temporary file) with `args`.
fn lblab(cmd: &str, text: &str, args: &[&str]) -> std::process::Output {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = crate::support::scratch(&format!("trace-{}", N.fetch_add(1, Ordering::Relaxed)));
    let file = dir.join("worked.toml");
    std::fs::write(&file, text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lblab"))
        .arg(cmd)
        .arg(&file)
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    o
}

/// The first pick line `lblab trace` prints.
fn first_pick(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.contains(" pick: "))
        .unwrap_or_else(|| panic!("no pick line"))
        .to_string()
}

/// The textbook's weighted least-connections example: weights 5, 3, 2 with 50, 30 and 18
/// connections score 10, 10 and 9, so C is chosen.
#[test]
fn wlc_worked_example_replays_with_its_scores() {
    let text = abc(
        [5, 3, 2],
        "weighted-least-connections",
        "A = { in_flight = 50 }\nB = { in_flight = 30 }\n\"C-1\" = { in_flight = 18 }",
    );
    let line = first_pick(&lblab("trace", &text, &["-n", "1"]));
    assert!(
        line.contains("[in_flight/weight, lowest wins]: A-1 50 w5 [50/5=10] · B-1 30 w3 [30/3=10] · C-1 18 w2 [18/2=9] → C-1"),
        "{line}"
    );
    // The phantom requests never complete: the second pick still sees them (and the first
    // request's own answer has come back).
    let o = lblab("trace", &text, &["-n", "2"]);
    let second = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(" pick: "))
        .nth(1)
        .unwrap()
        .to_string();
    assert!(second.contains("C-1 18 w2 [18/2=9] → C-1"), "{second}");
    // Without the presets the same servers are idle: 0/5, 0/3, 0/2, and smooth WRR breaks
    // the tie for A.
    let idle = abc([5, 3, 2], "weighted-least-connections", "").replace("[trace.preset]\n", "");
    let line = first_pick(&lblab("trace", &idle, &["-n", "1"]));
    assert!(
        line.contains("A-1 0 w5 [0/5=0]") && line.ends_with("→ A-1"),
        "{line}"
    );
}

/// The textbook's least-response-time example: averages of 50, 30 and 100 ms pick B; in
/// the connections form the in-flight presets weigh in: (4+1)×30 = 150 loses to
/// (1+1)×50 = 100 and (0+1)×100 = 100, and that tie goes to the fewest in flight, C.
#[test]
fn lrt_worked_example_replays_with_its_averages() {
    let text = abc(
        [1, 1, 1],
        "least-response-time",
        "A = { response_time = \"50ms\" }\nB = { response_time = \"30ms\" }\nC = { response_time = \"100ms\" }",
    );
    let line = first_pick(&lblab("trace", &text, &["-n", "1"]));
    assert!(
        line.contains(
            "[mean response time, lowest wins]: A-1 0 [50ms] · B-1 0 [30ms] · C-1 0 [100ms] → B-1"
        ),
        "{line}"
    );
    let text = abc(
        [1, 1, 1],
        "least-response-time-conns",
        "A = { in_flight = 1, response_time = \"50ms\" }\nB = { in_flight = 4, response_time = \"30ms\" }\nC = { response_time = \"100ms\" }",
    );
    let line = first_pick(&lblab("trace", &text, &["-n", "1"]));
    assert!(
        line.contains(
            "A-1 1 [(1+1)×50ms=100ms] · B-1 4 [(4+1)×30ms=150ms] · C-1 0 [(0+1)×100ms=100ms] → C-1"
        ),
        "{line}"
    );
}

/// nginx ip_hash: the note's hash is the recurrence over the first three octets
/// (`h = (h·113 + octet) % 6271` from 89), its index `h % 3`, and the server chosen is
/// that index — computed here independently for every traced request.
#[test]
fn ip_hash_trace_shows_the_hash_and_its_modulo() {
    let text = abc([1, 1, 1], "ip-hash", "").replace("[trace.preset]\n", "");
    let o = lblab("trace", &text, &["-n", "8"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let mut ips = Vec::new();
    for l in out.lines() {
        if let Some(rest) = l.split("issued by client ").nth(1) {
            let ip = rest.split(['(', ')']).nth(1).unwrap().to_string();
            ips.push(ip);
        }
    }
    let picks: Vec<&str> = out.lines().filter(|l| l.contains(" pick: ")).collect();
    assert_eq!((ips.len(), picks.len()), (8, 8), "{out}");
    for (ip, pick) in ips.iter().zip(&picks) {
        let oct: Vec<u64> = ip.split('.').map(|x| x.parse().unwrap()).collect();
        let h = oct[..3].iter().fold(89u64, |h, &b| (h * 113 + b) % 6271);
        let i = h % 3;
        let want = format!(
            "ip_hash({}.{}.{}) = {h}, {h} % 3 = {i} → #{}",
            oct[0],
            oct[1],
            oct[2],
            i + 1
        );
        assert!(pick.contains(&want), "{pick}\nwant {want}");
        assert!(
            pick.ends_with(&format!("→ {}-1", ["A", "B", "C"][i as usize])),
            "{pick}"
        );
    }
}

/// Presets are for `trace`: `run` and `compare` refuse them with exit 2, and bad presets
/// are located errors (exit 2), never ignored.
#[test]
fn presets_are_validated_and_refused_outside_trace() {
    let good = abc([5, 3, 2], "wlc", "A = { in_flight = 50 }");
    for cmd in ["run", "compare"] {
        let o = lblab(cmd, &good, &["-r", "2"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("[trace.preset] is for `lblab trace`"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let cases = [
        ("Q = { in_flight = 5 }", "unknown server or group \"Q\""),
        ("\"A-2\" = { in_flight = 5 }", "did you mean \"A-1\"?"),
        ("A = { in_flight = -1 }", "trace.preset.A.in_flight"),
        ("A = { in_flght = 5 }", "did you mean `in_flight`?"),
        (
            "A = { response_time = \"0s\" }",
            "expected a positive duration",
        ),
        ("A = {}", "found an empty table"),
        (
            "A = { in_flight = 1 }\n\"A-1\" = { in_flight = 2 }",
            "server A-1 is preset twice",
        ),
    ];
    for (preset, msg) in cases {
        let o = lblab("trace", &abc([1, 1, 1], "wlc", preset), &["-n", "1"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{preset}: {err}");
        assert!(err.contains(msg), "{preset}: want {msg:?} in\n{err}");
    }
    let reported = abc([1, 1, 1], "wlc", "A = { in_flight = 5 }")
        + "[lb]\nview = \"reported\"\nreport_interval = \"1s\"\n";
    let o = lblab("trace", &reported, &["-n", "1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("lb.view = \"reported\""), "{err}");
}

/// The library runs a preset world to the end: the books check counts the phantom
/// requests (they stay in flight) and they keep the balancer away from the loaded server.
#[test]
fn a_preset_world_keeps_its_books_and_its_phantom_load() {
    let text = abc([1, 1, 1], "least-connections", "A = { in_flight = 1000 }");
    let s = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let lines = trace(&text, 9, SimTime::ZERO);
    assert!(
        picks(&lines).iter().all(|p| p != "A-1"),
        "{:?}",
        picks(&lines)
    );
    World::new(&s.world, &SeedTree::new(s.seed), 0)
        .run()
        .expect("books balance with phantom requests");
}

/// Slow start: after app-3 comes back, pick lines show its ramping weight against the
/// full one (HAProxy's ramp starts at 1/16 and only grows), and only while it ramps.
#[test]
fn slow_start_ramps_show_in_pick_lines() {
    let s = crate::support::load(
        "crash-failover",
        &["health.slow_start.window=30s", "health.active.loss=0"],
    );
    let lines = World::new(&s.world, &SeedTree::new(s.seed), 0)
        .trace(3000, SimTime::from_secs(160))
        .unwrap();
    let up = lines
        .iter()
        .find(|l| l.event.contains("marks app-3 up"))
        .expect("app-3 is marked up again")
        .at;
    let ramps: Vec<(SimTime, u32)> = lines
        .iter()
        .filter(|l| l.event.contains(" pick: "))
        .filter_map(|l| {
            let rest = l.event.split("app-3 ").nth(1)?;
            let k = rest.split("(slow start ").nth(1)?.split('/').next()?;
            Some((l.at, k.parse().unwrap()))
        })
        .collect();
    assert!(!ramps.is_empty());
    assert!(
        ramps
            .iter()
            .all(|&(at, k)| at >= up && (1..16).contains(&k))
    );
    assert_eq!(ramps[0].1, 1, "{ramps:?}");
    assert!(ramps.windows(2).all(|w| w[0].1 <= w[1].1), "{ramps:?}");
    assert!(ramps.last().unwrap().1 > 1, "the ramp grows: {ramps:?}");
}

/// The lesson pack's worked-example files replay the textbook's picks.
#[test]
fn lesson_worked_examples_pick_what_the_textbook_says() {
    for (file, want) in [
        ("wlc-worked-example.toml", "C-1 18 w2 [18/2=9] → C-1"),
        ("lrt-worked-example.toml", "C-1 0 [100ms] → B-1"),
    ] {
        let path = crate::support::root()
            .join("docs/lessons/examples")
            .join(file);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_lblab"))
            .args(["trace", path.to_str().unwrap(), "-n", "1"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success() && out.contains(want), "{file}: {out}");
    }
}

/// The structured fields the browser lab animates agree with the story in words: every
/// request's steps run issue → pick → … → completed/failed; a server starts only what was
/// last picked for it, and holds it then; a crash shows as `fault` on that server from the
/// `fails` line until `recovers`, and lb-1 stops picking it once it is marked down.
#[test]
fn structured_steps_agree_with_the_words() {
    let text = r#"
        [scenario]
        duration = "20s"
        seed = 3
        [clients]
        rate = "200/s"
        [[classes]]
        service = { dist = "exponential", mean = "10ms" }
        [[servers]]
        name = "web"
        count = 3
        [health.active]
        inter = "1s"
        fall = 2
        [[failures]]
        target = "web-2"
        kind = "crash"
        at = "5s"
        duration = "6s"
        [balancer]
        algorithm = "round-robin"
    "#;
    let lines = trace(text, 2000, SimTime::from_millis(4_000));
    let mut crashed = false;
    let mut marked = false;
    let mut last_pick: std::collections::BTreeMap<u64, u32> = Default::default();
    for l in &lines {
        match (l.kind, l.request) {
            ("fails", None) => {
                assert_eq!(l.server, Some(1));
                crashed = true;
            }
            ("recovers", None) => crashed = false,
            ("marked-down", None) => {
                assert_eq!(l.server, Some(1), "{l:?}");
                marked = true;
            }
            ("marked-up", None) => marked = false,
            (_, Some(id)) => {
                assert_eq!(l.servers.len(), 3, "{l:?}");
                assert_eq!(l.servers[1].fault == "crashed", crashed, "{l:?}");
                assert!(!l.servers[0].out && !l.servers[2].out);
                match l.kind {
                    "issue" => assert!(l.event.starts_with("issued by")),
                    "pick" | "retry" => {
                        let s = l.server.expect("a pick names its server");
                        assert!(l.event.ends_with(&format!("web-{}", s + 1)), "{l:?}");
                        assert!(!(marked && s == 1), "picked a server marked down: {l:?}");
                        last_pick.insert(id, s);
                    }
                    "start" => {
                        let s = l.server.unwrap();
                        assert_eq!(last_pick.get(&id), Some(&s), "{l:?}");
                        assert!(l.servers[s as usize].in_flight >= 1, "{l:?}");
                    }
                    "completed" => assert!(l.event.starts_with("completed")),
                    "failed" => assert!(l.event.starts_with("failed")),
                    _ => {}
                }
            }
            _ => {}
        }
        if marked {
            assert!(l.servers.is_empty() || l.servers[1].out, "{l:?}");
        }
    }
    let kinds: std::collections::BTreeSet<&str> = lines.iter().map(|l| l.kind).collect();
    for k in [
        "issue",
        "pick",
        "start",
        "completed",
        "fails",
        "recovers",
        "marked-down",
    ] {
        assert!(kinds.contains(k), "no {k} step in {kinds:?}");
    }
}

/// Calls are followed under the number of the client request they serve: web's call to
/// db is told from the call through db's tier's pick (`db-lb-1`) to its end, a call
/// that fails while db is crashed is tried again by its caller, and the client request
/// still has exactly one answer.
#[test]
fn calls_are_told_under_the_client_request_they_serve() {
    let text = r#"
        [scenario]
        duration = "20s"
        seed = 9
        [clients]
        rate = "100/s"
        [[classes]]
        service = { dist = "exponential", mean = "1ms" }
        calls = [{ to = "db", timeout = "50ms", retries = 1 }]
        [[servers]]
        name = "web"
        count = 2
        [[servers]]
        name = "db"
        count = 2
        [[services]]
        name = "web"
        [[services]]
        name = "db"
        work = { dist = "exponential", mean = "2ms" }
        [[failures]]
        target = "db-1"
        kind = "crash"
        at = "5s"
        duration = "5s"
        [balancer]
        algorithm = "round-robin"
    "#;
    let n = 300;
    let lines = trace(text, n, SimTime::from_millis(4_900));
    let mut retried = 0;
    for id in 1..=n {
        let mine: Vec<&TraceLine> = lines.iter().filter(|l| l.request == Some(id)).collect();
        let kinds: Vec<&str> = mine.iter().map(|l| l.kind).collect();
        assert_eq!(kinds[0], "issue", "#{id}: {mine:?}");
        let ends = kinds
            .iter()
            .filter(|k| **k == "completed" || **k == "failed")
            .count();
        assert_eq!(ends, 1, "#{id}: {mine:?}");
        // Each call: the call line, then db's tier picks a db server for it.
        let calls = kinds.iter().filter(|k| **k == "call").count();
        assert_eq!(calls, 1, "#{id}: {mine:?}");
        let at = kinds.iter().position(|k| *k == "call").unwrap();
        let pick = mine[at + 1];
        assert_eq!(pick.kind, "pick", "#{id}: {mine:?}");
        assert!(
            pick.event.starts_with("db-lb-1 round-robin pick"),
            "{pick:?}"
        );
        assert!(pick.event.ends_with("db-1") || pick.event.ends_with("db-2"));
        // Tries of the call: the first, plus one per "tries again"; each ends once.
        let again = mine
            .iter()
            .filter(|l| l.event.contains("the caller tries again"))
            .count();
        retried += again;
        let call_ends = kinds
            .iter()
            .filter(|k| **k == "call-completed" || **k == "call-failed")
            .count();
        assert_eq!(call_ends, 1 + again, "#{id}: {mine:?}");
        let web = mine
            .iter()
            .find(|l| l.kind == "pick")
            .expect("the edge picks a web server");
        assert!(web.event.starts_with("lb-1 round-robin pick"), "{web:?}");
    }
    // db-1 is crashed from 5 s: calls it gets are refused and tried again on db-2.
    assert!(retried > 10, "{retried} calls tried again");
    assert!(
        lines
            .iter()
            .any(|l| l.event.contains("call to db failed") && l.event.ends_with("refused"))
    );
}
