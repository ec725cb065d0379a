//! Hosts and traffic policy: servers placed `on` other servers' hosts, node-local tiers
//! (`traffic_policy = "local"`), and deep checks that reach a dependency on their own host.

use lblab::metrics::M;
use lblab::metrics::slices::S;

use crate::services::{GOOD, scenario_w};
use crate::support::{parse, problem_at, run, values};

#[test]
fn placement_and_traffic_policy_errors_name_their_key() {
    // Pods on nodes: db runs on the app servers, local to its callers.
    let placed = GOOD.replace(
        "name = \"db\"\ncount = 1",
        "name = \"db\"\ncount = 2\non = [\"app-1\", \"app-2\"]",
    );
    let local = placed.replace(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\ntraffic_policy = \"local\"",
    );
    parse(&local).unwrap_or_else(|e| panic!("{e}"));
    let problem = |text: &str, path: &str, needle: &str| {
        problem_at(text, path, needle);
    };
    problem(
        &placed.replace("\"app-2\"]", "\"app-3\"]"),
        "servers[2].on[1]",
        "no server named \"app-3\"",
    );
    // Server 0 does not exist (found by the fuzz target: `n - 1` was computed before the
    // range check, an overflow that panicked in builds with overflow checks).
    problem(
        &placed.replace("\"app-1\"", "\"app-0\""),
        "servers[2].on[0]",
        "no server named \"app-0\"",
    );
    problem(
        &placed.replace("[\"app-1\", \"app-2\"]", "[\"app-1\"]"),
        "servers[2].on",
        "one host per server",
    );
    problem(
        &placed.replace("[\"app-1\", \"app-2\"]", "\"ap\""),
        "servers[2].on",
        "did you mean `app`?",
    );
    problem(
        &placed.replace("[\"app-1\", \"app-2\"]", "\"db\""),
        "servers[2].on",
        "its own servers",
    );
    problem(
        &GOOD.replace(
            "name = \"db\"\nwork = \"3ms\"",
            "name = \"db\"\nwork = \"3ms\"\ntraffic_policy = \"local\"",
        ),
        "services[2].traffic_policy",
        "`on`",
    );
    problem(
        &local.replace("\"local\"", "\"locall\""),
        "services[2].traffic_policy",
        "did you mean `local`?",
    );
}

/// Node-local calls: a caller reaches only the callee servers on its own host, and one
/// whose host has none gets "no backend" at once; calls within a host cross no network.
#[test]
fn a_local_tier_keeps_calls_on_the_callers_host() {
    let s = scenario_w(
        "200/s",
        "50s",
        2,
        false,
        r#"[[classes]]
service = "1ms"
calls = ["pod"]

[[servers]]
name = "node"
count = 3
slots = 1000
network_delay = "1ms"

[[servers]]
name = "pod"
count = 3
slots = 1000
network_delay = "10ms"
on = ["node-1", "node-1", "node-2"]

[balancer]
algorithm = "round-robin"

[[services]]
name = "node"

[[services]]
name = "pod"
work = "2ms"
traffic_policy = "local"
"#,
    );
    let a = run(&s);
    for r in &a.reps {
        let share = |n: &str| r.servers.iter().find(|x| x.name == n).unwrap().share;
        // node-1's calls split over pod-1 and pod-2, node-2's all go to pod-3.
        assert!((share("pod-3") / (share("pod-1") + share("pod-2")) - 1.0).abs() < 0.05);
        // node-3 has no pod: its calls find no backend at once, and a third of the
        // requests fail (node-3 answers 500).
        let e = r.get(M::ErrorsServer) / r.get(M::Issued);
        assert!((0.30..0.37).contains(&e), "server errors {e}");
        let pod = r.slices.iter().find(|x| x.name == "pod").unwrap();
        assert_eq!(pod.get(S::ErrorsNoBackend), pod.get(S::Errors));
    }
    // The ones that succeed: 1 ms there + 1 ms node work + 2 ms pod work + 1 ms back, no
    // 10 ms hop to the pod.
    for m in values(&a, M::LatencyMean) {
        assert!((m - 5.0).abs() < 0.1, "latency {m}");
    }
}

/// A deep check's call to a dependency on the prober's own host crosses no network, as a
/// request's call does not: with pods 10 ms away over the network and a 5 ms probe
/// timeout, nodes whose pods run on them pass; moved to other hosts, the same pods make
/// every probe time out and every node leaves rotation.
#[test]
fn a_deep_check_reaches_a_dependency_on_its_own_host_without_the_network() {
    let body = |on: &str| {
        format!(
            r#"[[classes]]
service = "1ms"
calls = ["pod"]

[[servers]]
name = "node"
count = 2
slots = 1000
network_delay = "100us"

[[servers]]
name = "other"
count = 2
slots = 1

[[servers]]
name = "pod"
count = 2
slots = 1000
network_delay = "5ms"
on = {on}

[balancer]
algorithm = "round-robin"

[[services]]
name = "node"

[[services]]
name = "other"

[[services]]
name = "pod"
work = "1ms"
traffic_policy = "local"
health = {{}}

[health.active]
check = "http"
inter = "1s"
timeout = "5ms"
fall = 2
depends = ["pod"]
"#
        )
    };
    let local = run(&scenario_w(
        "50/s",
        "20s",
        1,
        false,
        &body(r#"["node-1", "node-2"]"#),
    ));
    let away = run(&scenario_w(
        "50/s",
        "20s",
        1,
        false,
        &body(r#"["other-1", "other-2"]"#),
    ));
    // On their own hosts: every probe passes, nobody leaves, nothing fails.
    assert_eq!(values(&local, M::FalseEjections), [0.0]);
    assert_eq!(values(&local, M::Errors), [0.0]);
    // Elsewhere the node has no local pod at all; with a cluster-wide policy the probes'
    // 10 ms round trips to the pods exceed the 5 ms timeout and both nodes leave.
    assert_eq!(values(&away, M::FalseEjections), [2.0]);
    let cluster = run(&scenario_w(
        "50/s",
        "20s",
        1,
        false,
        &body(r#"["other-1", "other-2"]"#).replace("traffic_policy = \"local\"\n", ""),
    ));
    assert_eq!(values(&cluster, M::FalseEjections), [2.0]);
    assert!(values(&cluster, M::ErrorsNoBackend)[0] > 0.0);
}
