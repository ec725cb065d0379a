//! Backup servers and priority levels: nginx `backup`, HAProxy `backup` with and without
//! `option allbackups`, Envoy priority levels with overprovisioning and panic (see
//! `balancer::priority` for the rules and their sources), run end to end.

use lblab::engine::SeedTree;
use lblab::metrics::RepResult;
use lblab::model::World;

use crate::support::{parse, problem_at};

/// `primaries` servers of group "p" and `backups` of group "b" (with `level`, e.g.
/// `backup = true`), crashes from `extra`, HAProxy-style active checks (detection within
/// 3 s), `[lb]` lines from `lb`.
fn scenario(primaries: u32, backups: u32, level: &str, lb: &str, extra: &str) -> String {
    with_health(primaries, backups, level, lb, extra, "")
}

/// [`scenario`] with `[health]` keys `health`.
fn with_health(
    primaries: u32,
    backups: u32,
    level: &str,
    lb: &str,
    extra: &str,
    health: &str,
) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 3
duration = "200s"
warmup = "10s"

[clients]
rate = "500/s"
timeout = "2s"

[[classes]]
service = {{ dist = "exponential", mean = "5ms" }}

[[servers]]
name = "p"
count = {primaries}
slots = 4

[[servers]]
name = "b"
count = {backups}
slots = 4
{level}

[health]
{health}

[health.active]
style = "haproxy"
check = "tcp"
inter = "1s"
rise = 2
fall = 3

[balancer]
algorithm = "round-robin"

[lb]
{lb}

{extra}
"#
    )
}

/// Every server of group `p` from 1 to `k` crashes at `at` for the rest of the run.
fn crash(k: u32, at: &str) -> String {
    let targets: Vec<String> = (1..=k).map(|i| format!("\"p-{i}\"")).collect();
    format!(
        "[[failures]]\ntarget = [{}]\nkind = \"crash\"\nat = \"{at}\"\nduration = \"1000s\"\n",
        targets.join(", ")
    )
}

fn run(text: &str) -> RepResult {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&s.world, &SeedTree::new(s.seed), 0)
        .run()
        .unwrap()
}

/// Requests each server of group `g` received (measured window).
fn requests(r: &RepResult, g: &str) -> Vec<u64> {
    r.servers
        .iter()
        .filter(|s| s.group == g)
        .map(|s| s.requests)
        .collect()
}

#[test]
fn nginx_backups_take_traffic_only_when_no_primary_is_usable() {
    let rule = "priority_rule = \"nginx\"";
    // No failure, and half the primaries down: the backups stay idle.
    for extra in [String::new(), crash(2, "20s")] {
        let r = run(&scenario(4, 2, "backup = true", rule, &extra));
        assert_eq!(requests(&r, "b"), [0, 0], "{extra}");
    }
    // Every primary down (from 20 s, detected within 3 s): the backups share the load
    // by their own round robin, both of them.
    let r = run(&scenario(4, 2, "backup = true", rule, &crash(4, "20s")));
    let b = requests(&r, "b");
    let total: u64 = requests(&r, "p").iter().sum::<u64>() + b.iter().sum::<u64>();
    assert!(
        b.iter().sum::<u64>() as f64 > 0.85 * total as f64,
        "{b:?} of {total}"
    );
    assert!(
        b[0].abs_diff(b[1]) <= 1,
        "round robin over the backups: {b:?}"
    );
}

#[test]
fn haproxy_sends_to_the_first_backup_only_unless_allbackups() {
    let r = run(&scenario(
        3,
        3,
        "backup = true",
        "priority_rule = \"haproxy\"",
        &crash(3, "20s"),
    ));
    let b = requests(&r, "b");
    assert!(b[0] > 50_000 && b[1] == 0 && b[2] == 0, "{b:?}");
    let r = run(&scenario(
        3,
        3,
        "backup = true",
        "priority_rule = \"haproxy\"\nallbackups = true",
        &crash(3, "20s"),
    ));
    let b = requests(&r, "b");
    assert!(b.iter().all(|&x| x > 15_000), "{b:?}");
    // One primary still up: no backup is used.
    let r = run(&scenario(
        3,
        3,
        "backup = true",
        "priority_rule = \"haproxy\"",
        &crash(2, "20s"),
    ));
    assert_eq!(requests(&r, "b"), [0, 0, 0]);
}

/// Envoy's documented example: P0 with 4 of 10 healthy has health 56 (4/10 × 140%), so
/// P0 takes 56% and P1 44%. The priority is drawn per request, so the share is binomial:
/// over the ~90,000 requests after the crash is detected its standard deviation is
/// √(0.44·0.56/90,000) ≈ 0.17%; the tolerance of 1% is six of them.
#[test]
fn envoy_spills_to_the_next_priority_by_health() {
    let text = scenario(
        10,
        10,
        "priority = 1",
        "priority_rule = \"envoy\"",
        &crash(6, "1s"),
    );
    let r = run(&text);
    let p: u64 = requests(&r, "p").iter().sum();
    let b: u64 = requests(&r, "b").iter().sum();
    let share = b as f64 / (p + b) as f64;
    assert!((share - 0.44).abs() < 0.01, "P1 share {share}");
    // No panic (the total availability is 100): the crashed primaries get nothing after
    // detection (the warm-up covers it).
    assert!(
        requests(&r, "p")[..6].iter().all(|&x| x == 0),
        "{:?}",
        requests(&r, "p")
    );
    // The overprovisioning factor moves the split: at 200%, 4/10 healthy is health 80.
    let r = run(&scenario(
        10,
        10,
        "priority = 1",
        "priority_rule = \"envoy\"\noverprovisioning_factor = 200",
        &crash(6, "1s"),
    ));
    let b: u64 = requests(&r, "b").iter().sum();
    let share = b as f64 / r.servers.iter().map(|s| s.requests).sum::<u64>() as f64;
    assert!((share - 0.20).abs() < 0.01, "P1 share at 200%: {share}");
    // Nothing crashed: P1 idle.
    let r = run(&scenario(
        10,
        10,
        "priority = 1",
        "priority_rule = \"envoy\"",
        "",
    ));
    assert_eq!(requests(&r, "b").iter().sum::<u64>(), 0);
}

/// Panic per level: P0 2/10 healthy (health 28) and P1 5/10 (health 70) make the total
/// availability 98 < 100, so with `[health] panic_threshold = 50` P0 (20% healthy) panics
/// and sends to all its hosts, the crashed ones too, while P1 (50%) does not.
#[test]
fn envoy_panics_per_level_below_the_threshold() {
    let both = format!(
        "{}\n[[failures]]\ntarget = [\"b-1\", \"b-2\", \"b-3\", \"b-4\", \"b-5\"]\nkind = \"crash\"\nat = \"1s\"\nduration = \"1000s\"\n",
        crash(8, "1s")
    );
    let text = with_health(
        10,
        10,
        "priority = 1",
        "priority_rule = \"envoy\"",
        &both,
        "panic_threshold = 50",
    );
    let r = run(&text);
    let p = requests(&r, "p");
    let b = requests(&r, "b");
    // P0 in panic: its crashed servers still get their round-robin share of P0's 29%.
    assert!(p[..8].iter().all(|&x| x > 1_000), "P0 {p:?}");
    // P1 not in panic: its crashed servers get nothing once detected.
    assert!(b[..5].iter().all(|&x| x == 0), "P1 {b:?}");
    let total = (p.iter().sum::<u64>() + b.iter().sum::<u64>()) as f64;
    let share0 = p.iter().sum::<u64>() as f64 / total;
    assert!((share0 - 0.29).abs() < 0.01, "P0 share {share0}");
}

#[test]
fn bad_priority_settings_are_refused_with_their_key() {
    let s = |level: &str, lb: &str| scenario(2, 2, level, lb, "");
    problem_at(
        &s("backup = true\npriority = 2", ""),
        "servers[1].backup",
        "not both",
    );
    problem_at(
        &s("", "priority_rule = \"nginx\""),
        "lb.priority_rule",
        "no effect",
    );
    problem_at(
        &s(
            "backup = true",
            "priority_rule = \"nginx\"\nallbackups = true",
        ),
        "lb.allbackups",
        "HAProxy",
    );
    problem_at(
        &s(
            "backup = true",
            "priority_rule = \"haproxy\"\noverprovisioning_factor = 150",
        ),
        "lb.overprovisioning_factor",
        "Envoy",
    );
    problem_at(
        &s(
            "priority = 5",
            "priority_rule = \"envoy\"\noverprovisioning_factor = 0",
        ),
        "lb.overprovisioning_factor",
        "1",
    );
    // round-robin follows no system with backups: the rule must be named.
    problem_at(
        &s("backup = true", ""),
        "servers[1].backup",
        "priority_rule",
    );
    problem_at(
        &s("backup = true", "priority_rule = \"envoyy\""),
        "lb.priority_rule",
        "envoy",
    );
    // The algorithm's system is the default rule.
    let t = s("backup = true", "").replace("\"round-robin\"", "\"haproxy-roundrobin\"");
    let sc = parse(&t).unwrap();
    assert_eq!(
        sc.world.lb.priority,
        Some(lblab::balancer::priority::PriorityRule::Haproxy { all_backups: false })
    );
    // nginx refuses backup with hash and ip_hash.
    let t = s("backup = true", "").replace("\"round-robin\"", "\"ip-hash\"");
    problem_at(&t, "servers[1].backup", "ip_hash");
    // Three levels: Envoy only.
    let three = s("priority = 1", "priority_rule = \"haproxy\"").replace(
        "[health.active]",
        "[[servers]]\nname = \"c\"\npriority = 2\n\n[health.active]",
    );
    problem_at(&three, "servers[2].priority", "one backup level");
    let three = three.replace("priority_rule = \"haproxy\"", "priority_rule = \"envoy\"");
    assert!(parse(&three).is_ok());
}
