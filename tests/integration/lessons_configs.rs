//! Lessons of the scenarios about real load balancers' configurations: backup servers and
//! priority levels (and, as they come, imported configs and presets). Same rules as
//! `lessons.rs`: the shipped settings, the direction each scenario's comments state.

use lblab::metrics::M;

use crate::lessons::compare;

#[test]
fn backup_servers_envoy_spills_by_health_haproxy_piles_onto_one_backup() {
    let r = compare("backup-servers");
    let (nginx, haproxy, envoy) = (
        "lb.priority_rule=nginx",
        "lb.priority_rule=haproxy",
        "lb.priority_rule=envoy",
    );
    let est = |label: &str, m: M| *r[label].get(m);
    // Partial failure: nginx's three survivors saturate while Envoy spills 30% to the
    // backups, so Envoy's tail is far lower (interval against interval).
    let (n99, e99) = (est(nginx, M::LatencyP99), est(envoy, M::LatencyP99));
    assert!(
        n99.lo() > 2.0 * e99.hi(),
        "p99 nginx {n99:?} vs envoy {e99:?}"
    );
    let (ne, ee) = (est(nginx, M::ErrorRate), est(envoy, M::ErrorRate));
    assert!(
        ne.lo() > 3.0 * ee.hi(),
        "errors nginx {ne:?} vs envoy {ee:?}"
    );
    // Total outage: HAProxy's single backup fails far more requests than nginx's four.
    let he = est(haproxy, M::ErrorRate);
    assert!(
        he.lo() > 1.5 * ne.hi(),
        "errors haproxy {he:?} vs nginx {ne:?}"
    );
}

#[test]
fn alb_vs_nlb_http_checks_take_a_failing_target_out_tcp_checks_do_not() {
    let r = compare("alb-vs-nlb");
    let (alb, nlb) = ("lb.preset=aws-alb", "lb.preset=aws-nlb");
    let errors = |l: &str| *r[l].get(M::ErrorRate);
    let (a, n) = (errors(alb), errors(nlb));
    // The NLB sends the bad target a quarter of the requests for 300 of the 580 measured
    // seconds (≈ 13%); the ALB only until its check marks it down (≈ 30–60 s).
    assert!(n.lo() > 5.0 * a.hi(), "error rate nlb {n:?} vs alb {a:?}");
    assert!((11.0..15.0).contains(&n.mean), "nlb error rate {n:?}");
    // The ALB's HTTP check noticed; the NLB's TCP check never did.
    assert!(r[alb].get(M::DetectionMean).mean <= 60.0);
    assert!(r[nlb].get(M::DetectionMean).mean.is_nan());
}

#[test]
fn kube_proxy_modes_ipvs_round_robin_keeps_the_tail_shorter_than_iptables_random() {
    let r = compare("kube-proxy-modes");
    let p99 = |l: &str| *r[l].get(M::LatencyP99);
    let (random, rr) = (
        p99("lb.preset=kube-proxy-iptables"),
        p99("lb.preset=kube-proxy-ipvs"),
    );
    assert!(
        rr.hi() < 0.8 * random.lo(),
        "p99 ipvs {rr:?} vs iptables {random:?}"
    );
    let thr = |l: &str| r[l].get(M::Throughput).mean;
    let (a, b) = (
        thr("lb.preset=kube-proxy-iptables"),
        thr("lb.preset=kube-proxy-ipvs"),
    );
    assert!((a - b).abs() / a < 0.001, "throughput {a} vs {b}");
}

/// Share (a fraction) of the requests that server `name` got in variant `label`.
fn share(
    r: &std::collections::BTreeMap<String, lblab::metrics::Aggregate>,
    label: &str,
    name: &str,
) -> f64 {
    r[label]
        .servers
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no server {name}"))
        .share
        .mean
}

#[test]
fn nginx_upstream_default_read_timeout_lets_clients_time_out_on_a_hung_server() {
    let r = compare("nginx-upstream");
    let (slow, fast) = ("lb.upstream_timeout=60s", "lb.upstream_timeout=1s");
    let e = |l: &str| *r[l].get(M::ErrorRate);
    // A quarter of the requests for 120 of the 280 measured seconds: ≈ 10.7%.
    let (es, ef) = (e(slow), e(fast));
    assert!((9.5..12.0).contains(&es.mean), "60s: error rate {es:?}");
    assert!(ef.hi() < 0.1, "1s: error rate {ef:?}");
    // The clients gave up first, so nginx never counted a failure: never taken out.
    assert!(r[slow].get(M::DetectionMean).mean.is_nan());
    assert!(r[fast].get(M::DetectionMean).mean <= 1.5);
    // With 1s the requests that met the hung server were retried on another one.
    assert!(r[fast].get(M::Retries).mean > 20.0);
    assert_eq!(r[slow].get(M::Retries).mean, 0.0);
}

#[test]
fn haproxy_backend_observe_layer7_takes_down_a_server_tcp_checks_cannot_see() {
    let r = compare("haproxy-backend");
    let (none, l7) = ("health.active.observe=none", "health.active.observe=layer7");
    let (en, el) = (*r[none].get(M::ErrorRate), *r[l7].get(M::ErrorRate));
    // TCP checks alone: a quarter of the requests for 300 of 400 measured seconds.
    assert!((17.0..20.5).contains(&en.mean), "none: {en:?}");
    // observe layer7: many times fewer, but not none (the TCP check puts it back).
    assert!(en.lo() > 10.0 * el.hi(), "none {en:?} vs layer7 {el:?}");
    assert!(el.lo() > 0.2, "layer7: {el:?}");
    assert!(r[none].get(M::DetectionMean).mean.is_nan());
}

#[test]
fn envoy_cluster_default_max_ejection_percent_never_ejects_in_a_small_cluster() {
    let r = compare("envoy-cluster");
    let (d10, d20) = (
        "health.passive.max_ejection_percent=10",
        "health.passive.max_ejection_percent=20",
    );
    let (e10, e20) = (*r[d10].get(M::ErrorRate), *r[d20].get(M::ErrorRate));
    assert!(e10.lo() > 15.0, "10%: {e10:?}");
    assert!(e10.lo() > 100.0 * e20.hi(), "10% {e10:?} vs 20% {e20:?}");
    // Never ejected, and failing fast it draws more than its fifth under least request.
    assert!(r[d10].get(M::DetectionMean).mean.is_nan());
    let s = share(&r, d10, "10-0-4-13_8080-1");
    assert!(s > 0.22, "share of the failing host {s}");
    assert!(r[d20].get(M::DetectionMean).mean <= 1.0);
}
