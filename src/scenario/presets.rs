//! `[lb] preset = "NAME"`: the balancer and health behaviour of a load balancer people run,
//! with its documented defaults, as scenario keys.
//!
//! A preset is a list of `key.path = value` settings that the scenario gets *unless it sets
//! them itself*: the preset's `[balancer]` applies only if the scenario has no
//! `[balancer]` table, its `[health.active]` only if the scenario has none, and every other
//! key one by one. They are applied to the parsed document like `--set` (after the
//! scenario's own `--set`s, so `--set lb.preset=aws-nlb` works), and checked exactly like
//! the same keys written in the file; an error in one names the preset.
//!
//! Each preset cites where its defaults come from, and says what lblab does not model or
//! what the vendor does not publish (`lblab list presets`; `docs/lb-semantics.md`).

use toml::de::{DeTable, DeValue};

use super::doc::Cx;
use super::overrides;

/// One preset.
#[derive(Debug)]
pub struct Preset {
    /// The name a scenario writes.
    pub name: &'static str,
    /// One line: what it is.
    pub summary: &'static str,
    /// Where the defaults come from.
    pub source: &'static str,
    /// The settings, `key.path=value` as `--set` takes them.
    pub settings: &'static [&'static str],
    /// What is approximated, not modelled or not public.
    pub notes: &'static str,
}

/// Every preset, in the order `lblab list presets` prints them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "nginx",
        summary: "nginx (open source) upstream: smooth weighted round robin with the passive max_fails=1 / fail_timeout=10s check",
        source: "nginx src/http/ngx_http_upstream_round_robin.c; ngx_http_upstream_module docs (server weight=1 max_fails=1 fail_timeout=10s)",
        settings: &[
            "balancer.algorithm=weighted-round-robin",
            "balancer.max_fails=1",
            "balancer.fail_timeout=10s",
            "lb.retry_on=[\"refused\", \"timeout\"]",
        ],
        notes: "nginx retries on the next server by default (proxy_next_upstream error timeout, proxy_next_upstream_tries 0 = each server once): set [lb] retries = servers - 1 for that; the preset leaves retries at 0. No active health checks (nginx Plus only).",
    },
    Preset {
        name: "haproxy",
        summary: "HAProxy backend with `check` on every server: balance random (the default since 3.3: random(2), the less loaded of two draws), active checks inter 2s rise 2 fall 3",
        source: "HAProxy doc/configuration.txt (balance random, draws 2; default-server inter 2s rise 2 fall 3); src/backend.c, src/check.c; lb-semantics §3",
        settings: &[
            "balancer.algorithm=power-of-d",
            "balancer.d=2",
            "health.active.style=haproxy",
            "health.active.inter=2s",
            "health.active.rise=2",
            "health.active.fall=3",
        ],
        notes: "Before 3.3 the default balance is roundrobin (use [balancer] algorithm = \"haproxy-roundrobin\"). HAProxy's `retries 3` retries a connection on the same server unless `option redispatch`; not applied. Without `check` HAProxy has no health checks.",
    },
    Preset {
        name: "envoy",
        summary: "Envoy cluster: ROUND_ROBIN (EDF for unequal weights), healthy_panic_threshold 50%",
        source: "Envoy api/envoy/config/cluster/v3/cluster.proto (lb_policy ROUND_ROBIN, common_lb_config.healthy_panic_threshold 50); source/extensions/load_balancing_policies/round_robin",
        settings: &[
            "balancer.algorithm=envoy-round-robin",
            "health.panic_threshold=50",
        ],
        notes: "Envoy has no active health check or outlier detection unless configured: add [health.active] style = \"envoy\" or [health.passive].",
    },
    Preset {
        name: "aws-alb",
        summary: "AWS Application Load Balancer: round robin per request, HTTP health checks every 30 s (timeout 5 s, 5 healthy / 2 unhealthy), fail open when every target is unhealthy",
        source: "AWS ELB API CreateTargetGroup (HealthCheckIntervalSeconds 30, HealthyThresholdCount 5, UnhealthyThresholdCount 2); ALB user guide, target group health checks (timeout 5 s, fail open) and attributes (load_balancing.algorithm.type round_robin, deregistration_delay.timeout_seconds 300)",
        settings: &[
            "balancer.algorithm=round-robin",
            "health.active.style=envoy",
            "health.active.check=http",
            "health.active.interval=30s",
            "health.active.timeout=5s",
            "health.active.unhealthy_threshold=2",
            "health.active.healthy_threshold=5",
            "health.panic_threshold=0.001",
            "lb.drain_delay=300s",
        ],
        notes: "Fail open is modelled as a panic threshold just above 0% (every target unhealthy). The deregistration delay (deregistration_delay.timeout_seconds, 300 s) is the default delay of a `drain` failure (lb.drain_delay): [[changes]] removals are immediate. Slow start is off by default. least_outstanding_requests is the aws-alb-lor preset; weighted_random and anomaly mitigation are not public in enough detail to model. Cross-zone and connection reuse to targets are not modelled here.",
    },
    Preset {
        name: "aws-alb-lor",
        summary: "AWS ALB with load_balancing.algorithm.type = least_outstanding_requests (otherwise as aws-alb)",
        source: "ALB user guide, target group attributes (least_outstanding_requests); health checks as aws-alb",
        settings: &[
            "balancer.algorithm=least-connections",
            "balancer.max_fails=0",
            "health.active.style=envoy",
            "health.active.check=http",
            "health.active.interval=30s",
            "health.active.timeout=5s",
            "health.active.unhealthy_threshold=2",
            "health.active.healthy_threshold=5",
            "health.panic_threshold=0.001",
            "lb.drain_delay=300s",
        ],
        notes: "AWS does not publish how least outstanding requests breaks ties; lblab's least-connections breaks them round robin (nginx's rule).",
    },
    Preset {
        name: "aws-nlb",
        summary: "AWS Network Load Balancer: a target per flow by hash (modelled as uniform random per new connection), TCP health checks every 30 s (timeout 10 s, 5 / 2), fail open",
        source: "ELB user guide \"How Elastic Load Balancing works\" (flow hash on protocol, addresses, ports, TCP sequence number); AWS ELB API CreateTargetGroup (interval 30, thresholds 5/2); NLB target group health checks (timeout 10 s for TCP, fail open); target group attributes (deregistration_delay.timeout_seconds 300)",
        settings: &[
            "lb.layer=l4",
            "balancer.algorithm=random",
            "health.active.style=envoy",
            "health.active.check=tcp",
            "health.active.interval=30s",
            "health.active.timeout=10s",
            "health.active.unhealthy_threshold=2",
            "health.active.healthy_threshold=5",
            "health.panic_threshold=0.001",
            "lb.drain_delay=300s",
        ],
        notes: "The hash function is not public: a 5-tuple hash with the TCP sequence number is modelled as a uniform random choice per new flow. NLB's always-on passive checks, RST to existing connections of an unhealthy target, cross-zone (off) and the idle timeouts (TCP 350 s, UDP 120 s) are not modelled by the preset.",
    },
    Preset {
        name: "aws-gwlb",
        summary: "AWS Gateway Load Balancer (GENEVE target group): a virtual appliance per flow by 5-tuple hash (modelled as uniform random per new connection), TCP health checks every 10 s (timeout 5 s, 5 / 2), fail open",
        source: "Gateway Load Balancer user guide: target groups (flow stickiness 5-tuple default; deregistration_delay.timeout_seconds 300; target_failover no_rebalance default) and health checks (HealthCheckProtocol TCP, port 80); ELB API CreateTargetGroup (GENEVE: HealthCheckIntervalSeconds 10, HealthCheckTimeoutSeconds 5, HealthyThresholdCount 5, UnhealthyThresholdCount 2)",
        settings: &[
            "lb.layer=l4",
            "balancer.algorithm=random",
            "health.active.style=envoy",
            "health.active.check=tcp",
            "health.active.interval=10s",
            "health.active.timeout=5s",
            "health.active.unhealthy_threshold=2",
            "health.active.healthy_threshold=5",
            "health.panic_threshold=0.001",
            "lb.drain_delay=300s",
        ],
        notes: "The flow hash is not public: a 5-tuple hash is modelled as a uniform random choice per new flow (the 3- and 2-tuple stickiness options hash the addresses: algorithm = \"maglev\", hash_on = \"ip\"). By default (target_failover no_rebalance) existing flows stay on a failed or deregistered appliance and are dropped; lblab's layer-4 node keeps a connection on its backend until the backend closes it, which is close for a crash but not for a drain. GENEVE encapsulation and the appliances' return path are not modelled.",
    },
    Preset {
        name: "aws-clb",
        summary: "AWS Classic Load Balancer, HTTP listener: least outstanding requests, health checks every 30 s (timeout 5 s, healthy 10, unhealthy 2)",
        source: "ELB user guide \"How Elastic Load Balancing works\" (HTTP/HTTPS listeners: least outstanding requests; TCP listeners: round robin); CLB console health-check defaults (30 s, 5 s, 10, 2)",
        settings: &[
            "balancer.algorithm=least-connections",
            "balancer.max_fails=0",
            "health.active.style=envoy",
            "health.active.check=http",
            "health.active.interval=30s",
            "health.active.timeout=5s",
            "health.active.unhealthy_threshold=2",
            "health.active.healthy_threshold=10",
        ],
        notes: "The API requires every health-check field (no API defaults); these are the console's. A TCP listener balances round robin: set [balancer] algorithm = \"round-robin\" and [lb] layer = \"l4\".",
    },
    Preset {
        name: "gcp-passthrough-nlb",
        summary: "Google Cloud passthrough Network Load Balancer: Maglev-style consistent hashing of the client, health checks every 5 s (timeout 5 s, 2 / 2)",
        source: "Google Cloud docs: passthrough NLB traffic distribution (Maglev; session affinity), health check defaults (check_interval 5 s, timeout 5 s, healthy 2, unhealthy 2)",
        settings: &[
            "lb.layer=l4",
            "balancer.algorithm=maglev",
            "balancer.hash_on=ip",
            "health.active.style=envoy",
            "health.active.check=tcp",
            "health.active.interval=5s",
            "health.active.timeout=5s",
            "health.active.unhealthy_threshold=2",
            "health.active.healthy_threshold=2",
        ],
        notes: "Hashes the client address (CLIENT_IP affinity). The default affinity (NONE) hashes the 5-tuple, i.e. a source port of its own per connection: with [connections], set five_tuple = true. Google's table size and hash function are not public (Envoy's Maglev is used). Connection tracking is not modelled.",
    },
    Preset {
        name: "gcp-alb",
        summary: "Google Cloud Application Load Balancer (Envoy-based): ROUND_ROBIN locality policy, health checks every 5 s (timeout 5 s, 2 / 2)",
        source: "Google Cloud docs: backend services (localityLbPolicy ROUND_ROBIN default), health check defaults (5 s, 5 s, 2, 2)",
        settings: &[
            "balancer.algorithm=envoy-round-robin",
            "health.active.style=envoy",
            "health.active.check=http",
            "health.active.interval=5s",
            "health.active.timeout=5s",
            "health.active.unhealthy_threshold=2",
            "health.active.healthy_threshold=2",
        ],
        notes: "Balancing modes (UTILIZATION, RATE) across backends and the 30 s backend service timeout are not applied.",
    },
    Preset {
        name: "azure-lb",
        summary: "Azure Load Balancer: 5-tuple hash per flow (modelled as uniform random per new connection), probes every 5 s",
        source: "Azure Load Balancer docs: distribution modes (5-tuple hash default; Client IP and Client IP and protocol persistence), health probes (interval 5 s)",
        settings: &[
            "lb.layer=l4",
            "balancer.algorithm=random",
            "health.active.style=envoy",
            "health.active.check=tcp",
            "health.active.interval=5s",
            "health.active.unhealthy_threshold=1",
            "health.active.healthy_threshold=1",
        ],
        notes: "The hash function is not public: a 5-tuple hash is modelled as uniform random per flow; Client IP persistence is hashing the client address (algorithm = \"maglev\", hash_on = \"ip\"). The 5 s interval is the portal's; the REST API's ProbePropertiesFormat documents intervalInSeconds with a default of 15 s (minimum 5). probeThreshold (which replaces the deprecated numberOfProbes) is documented as the consecutive successes or failures that mark an instance, without a stated default: 1 is assumed. TCP idle timeout (4 min) is not applied.",
    },
    Preset {
        name: "lvs-rr",
        summary: "Linux IPVS director (ipvsadm -s rr), layer 4: IPVS round robin: the next destination in list order (round-robin follows ip_vs_rr.c)",
        source: "Linux net/netfilter/ipvs/ip_vs_rr.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=round-robin",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied. Like IPVS, lblab's round-robin keeps its place in the list when servers are removed (after the one chosen last, or the nearest one before it if that one went).",
    },
    Preset {
        name: "lvs-wrr",
        summary: "Linux IPVS director (ipvsadm -s wrr), layer 4: IPVS interleaved weighted round robin (not smooth: 5,1,1 gives a a a a a b c)",
        source: "Linux net/netfilter/ipvs/ip_vs_wrr.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-wrr",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied.",
    },
    Preset {
        name: "lvs-lc",
        summary: "Linux IPVS director (ipvsadm -s lc), layer 4: IPVS least connections (active·256 + inactive), weights ignored except 0",
        source: "Linux net/netfilter/ipvs/ip_vs_lc.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-lc",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied.",
    },
    Preset {
        name: "lvs-wlc",
        summary: "Linux IPVS director (ipvsadm -s wlc), layer 4: IPVS weighted least connections, ipvsadm's default scheduler",
        source: "Linux net/netfilter/ipvs/ip_vs_wlc.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-wlc",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied.",
    },
    Preset {
        name: "lvs-sed",
        summary: "Linux IPVS director (ipvsadm -s sed), layer 4: IPVS shortest expected delay: (active + 1) / weight",
        source: "Linux net/netfilter/ipvs/ip_vs_sed.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-sed",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied.",
    },
    Preset {
        name: "lvs-nq",
        summary: "Linux IPVS director (ipvsadm -s nq), layer 4: IPVS never queue: an idle destination first, else sed",
        source: "Linux net/netfilter/ipvs/ip_vs_nq.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-nq",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied.",
    },
    Preset {
        name: "lvs-sh",
        summary: "Linux IPVS director (ipvsadm -s sh), layer 4: IPVS source hashing: a 256-bucket table on the client address; a down target drops its clients unless sh-fallback",
        source: "Linux net/netfilter/ipvs/ip_vs_sh.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-sh",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied.",
    },
    Preset {
        name: "lvs-mh",
        summary: "Linux IPVS director (ipvsadm -s mh), layer 4: IPVS Maglev hashing (4093 slots); a down target drops its clients unless mh-fallback",
        source: "Linux net/netfilter/ipvs/ip_vs_mh.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-mh",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied.",
    },
    Preset {
        name: "lvs-lblc",
        summary: "Linux IPVS director (ipvsadm -s lblc), layer 4: IPVS locality-based least connections, keyed here on the request key",
        source: "Linux net/netfilter/ipvs/ip_vs_lblc.c; ipvsadm(8); connections-and-presets §B",
        settings: &[
            "lb.layer=l4",
            "lb.forwarding=dr",
            "balancer.algorithm=ipvs-lblc",
        ],
        notes: "lblab counts the balancer's in-flight requests or connections as activeconns and has no inactive count (UDP flows, which IPVS counts as inactive, are not told apart). Forwarding is IPVS's default, direct routing ([lb] forwarding = \"nat\" with cores for NAT's CPU cost). Persistence (-p) and thresholds are not applied. lblab has no destination address: lblc is keyed on the request key; the >16384-entry garbage collection is not modelled.",
    },
    Preset {
        name: "kube-proxy-iptables",
        summary: "Kubernetes Service through kube-proxy in iptables (or nftables) mode: uniform random per new connection",
        source: "kubernetes/kubernetes pkg/proxy/iptables/proxier.go (statistic --mode random --probability 1/(n-i)), pkg/proxy/nftables/proxier.go (numgen random mod n)",
        settings: &["lb.layer=l4", "balancer.algorithm=random"],
        notes: "Readiness comes from the pods' probes: use [health.active] style = \"kubernetes\". sessionAffinity ClientIP (10800 s) and conntrack are not applied by the preset.",
    },
    Preset {
        name: "kube-proxy-ipvs",
        summary: "Kubernetes Service through kube-proxy in IPVS mode: IPVS rr (the default scheduler when none is set)",
        source: "kubernetes/kubernetes pkg/proxy/ipvs/proxier.go (\"IPVS scheduler not specified, use rr by default\"); Linux net/netfilter/ipvs/ip_vs_rr.c",
        settings: &["lb.layer=l4", "balancer.algorithm=round-robin"],
        notes: "kube-proxy's IPVS mode uses NAT forwarding ([lb] forwarding = \"nat\" with a CPU model). The IPVS mode is deprecated in recent Kubernetes in favour of nftables.",
    },
    Preset {
        name: "docker-swarm",
        summary: "Docker Swarm routing mesh: IPVS rr per connection in the ingress sandbox",
        source: "moby/moby libnetwork service_linux.go (SchedName: ipvs.RoundRobin); Docker docs \"Use Swarm mode routing mesh\"",
        settings: &["lb.layer=l4", "balancer.algorithm=round-robin"],
        notes: "Container HEALTHCHECK defaults (interval 30 s, timeout 30 s, retries 3) gate which tasks are in the service; add them as [health.active] if the scenario needs them.",
    },
    Preset {
        name: "f5-round-robin",
        summary: "F5 BIG-IP LTM pool, load-balancing-mode round-robin (the default): the next member in order",
        source: "F5 BIG-IP LTM \"Load balancing methods\" (Local Traffic Manager: Implementations / K42275060)",
        settings: &["balancer.algorithm=round-robin"],
        notes: "Monitors (health checks) are per pool and not applied: add [health.active].",
    },
    Preset {
        name: "f5-ratio",
        summary: "F5 BIG-IP ratio (member): requests in proportion to each member's ratio (weight)",
        source: "F5 BIG-IP LTM \"Load balancing methods\" (Ratio (member))",
        settings: &[
            "balancer.algorithm=weighted-round-robin",
            "balancer.max_fails=0",
        ],
        notes: "F5 does not publish the order within a ratio cycle (smooth or in bursts): nginx's smooth weighted round robin is used; shares per cycle are exact either way. Ratios are the groups' weights.",
    },
    Preset {
        name: "f5-least-connections",
        summary: "F5 BIG-IP least connections (member): the member with the fewest current connections",
        source: "F5 BIG-IP LTM \"Load balancing methods\" (Least Connections (member))",
        settings: &[
            "lb.layer=l4",
            "balancer.algorithm=least-connections",
            "balancer.max_fails=0",
        ],
        notes: "F5 does not publish how ties are broken: lblab's least-connections breaks them round robin (nginx's rule).",
    },
    Preset {
        name: "f5-fastest",
        summary: "F5 BIG-IP fastest (application): the member with the fewest outstanding layer-7 requests",
        source: "F5 BIG-IP LTM \"Load balancing methods\" (Fastest (application), needs an HTTP profile)",
        settings: &[
            "balancer.algorithm=least-connections",
            "balancer.max_fails=0",
        ],
        notes: "Outstanding requests are the balancer's in-flight count at layer 7; the tie-break is not public (round robin here).",
    },
    Preset {
        name: "f5-observed",
        summary: "F5 BIG-IP observed (member), APPROXIMATE: ratios from connection counts recomputed each second, modelled as least connections",
        source: "F5 BIG-IP LTM \"Load balancing methods\" (Observed (member))",
        settings: &[
            "balancer.algorithm=least-connections",
            "balancer.max_fails=0",
        ],
        notes: "The ratio formula and its 1 s smoothing are not public: approximated as least connections on the current count. Treat results as indicative.",
    },
    Preset {
        name: "f5-predictive",
        summary: "F5 BIG-IP predictive (member), APPROXIMATE: like observed, favouring members whose count improves, modelled as least connections",
        source: "F5 BIG-IP LTM \"Load balancing methods\" (Predictive (member))",
        settings: &[
            "balancer.algorithm=least-connections",
            "balancer.max_fails=0",
        ],
        notes: "The formula is not public: approximated as least connections on the current count (no trend term). Treat results as indicative.",
    },
    Preset {
        name: "citrix-netscaler",
        summary: "Citrix NetScaler ADC virtual server, lbMethod LEASTCONNECTION (the default)",
        source: "Citrix ADC docs: load balancing algorithms (set lb vserver -lbMethod, default LEASTCONNECTION)",
        settings: &[
            "balancer.algorithm=least-connections",
            "balancer.max_fails=0",
        ],
        notes: "NetScaler's startup round robin (round robin for a while after the vserver comes up or a service is added, -startupRRFactor) is not modelled; its tie-break is not public (round robin here).",
    },
    Preset {
        name: "keepalived",
        summary: "keepalived VRRP pair in front of the servers: two nodes, active-passive, priority 100, advert 1 s (failover after 3 missed adverts + skew)",
        source: "RFC 5798 §6.1, §6.4; acassen/keepalived keepalived/vrrp (priority 100, advert_int 1, preempt on); lb-semantics §7",
        settings: &["lb.nodes=2", "lb.topology=active-passive"],
        notes: "The balancer behind the VIP is the scenario's (keepalived's virtual_server lb_algo is an IPVS scheduler). keepalived's health checkers (delay_loop) are not applied.",
    },
];

/// The preset called `name`.
pub fn lookup(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Whether `doc` has a value at dotted `path` (tables only).
fn has(doc: &DeTable<'_>, path: &str) -> bool {
    let mut t = doc;
    let mut parts = path.split('.').peekable();
    while let Some(k) = parts.next() {
        let Some(v) = t.get(k) else { return false };
        if parts.peek().is_none() {
            return true;
        }
        match v.get_ref() {
            DeValue::Table(inner) => t = inner,
            _ => return true,
        }
    }
    false
}

/// The table a setting belongs to as a whole (`balancer`, `health.active`), or `None` for
/// a key applied on its own.
fn whole_table(path: &str) -> Option<&'static str> {
    if path.starts_with("balancer.") {
        Some("balancer")
    } else if path.starts_with("health.active.") {
        Some("health.active")
    } else {
        None
    }
}

/// Applies the preset `[lb] preset` names (if any, and known: an unknown name is reported
/// by the `[lb]` reader) to `doc`, below the scenario's own settings.
pub(super) fn apply(doc: &mut DeTable<'_>, cx: &mut Cx) {
    let name = match doc.get("lb").map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) => match t.get("preset").map(|v| v.get_ref()) {
            Some(DeValue::String(s)) => s.to_string(),
            _ => return,
        },
        _ => return,
    };
    let Some(p) = lookup(&name) else { return };
    let own: Vec<bool> = p
        .settings
        .iter()
        .map(|s| {
            let path = s.split_once('=').map_or(*s, |(k, _)| k);
            match whole_table(path) {
                Some(t) => has(doc, t),
                None => has(doc, path),
            }
        })
        .collect();
    for (s, own) in p.settings.iter().zip(own) {
        if own {
            continue;
        }
        let k = cx.overrides.len();
        cx.overrides.push(format!("{s} (preset {})", p.name));
        overrides::apply(doc, k, s, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_preset_parses_alone() {
        let mut names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PRESETS.len());
        for p in PRESETS {
            let text = format!(
                "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"10/s\"\n[[classes]]\nservice = \"10ms\"\n[[servers]]\ncount = 3\n[lb]\npreset = \"{}\"\n",
                p.name
            );
            let r =
                crate::scenario::parse("p.toml", &text, std::path::Path::new("."), &[], &|_| {
                    Err(std::io::Error::other("no files"))
                });
            assert!(
                r.is_ok(),
                "{}: {}",
                p.name,
                r.err().map(|e| e.to_string()).unwrap_or_default()
            );
        }
    }
}
