//! `[lb]`: nodes, view, layer, report interval, upstream timeout, retries and their budget,
//! CPU (`cores`, `request_cost`), and `topology` with its `[lb.vrrp]`, `[lb.dns]` and
//! `[lb.anycast]` tables.

use toml::de::DeValue;

use crate::engine::SimTime;
use crate::model::{
    AnycastConfig, Dist, DnsConfig, Layer, LbConfig, LbCpu, LbView, RetryBudget, Topology,
};
use crate::scenario::doc::{Tbl, V};
use crate::scenario::error::did_you_mean;

use super::Reader;

/// Keys of `[lb]`.
pub(super) const LB_KEYS: &[&str] = &[
    "nodes",
    "view",
    "report_interval",
    "upstream_timeout",
    "retries",
    "retry_on",
    "retry_budget",
    "topology",
    "vrrp",
    "dns",
    "anycast",
    "layer",
    "cores",
    "request_cost",
    "forwarding",
    "reply_cost",
    "priority_rule",
    "allbackups",
    "overprovisioning_factor",
    "preset",
    "drain_delay",
];

/// Keys of `[lb]` that only the edge tier has: its HA topology and its CPU model.
pub(super) const EDGE_ONLY_LB_KEYS: &[&str] = &[
    "topology",
    "vrrp",
    "dns",
    "anycast",
    "cores",
    "request_cost",
    "forwarding",
    "reply_cost",
    "priority_rule",
    "allbackups",
    "overprovisioning_factor",
    "preset",
    "drain_delay",
];

impl Reader<'_> {
    /// `[lb]`: how many load balancer nodes, and what their balancers see.
    pub(super) fn lb(&mut self, root: Tbl<'_, '_>) -> Option<LbConfig> {
        let mut cfg = LbConfig::default();
        let Some(v) = root.t.get("lb") else {
            return Some(cfg);
        };
        let t = self.cx.table("lb", v)?;
        self.cx.check_keys(t, LB_KEYS);
        let mut ok = true;
        if let Some(v) = t.t.get("preset") {
            let names: Vec<&'static str> = crate::scenario::presets::PRESETS
                .iter()
                .map(|p| p.name)
                .collect();
            if self.cx.one_of("lb.preset", v, &names).is_none() {
                ok = false;
            }
        }
        if let Some(v) = t.t.get("nodes") {
            match self.cx.int("lb.nodes", v, 1, 100_000) {
                Some(n) => cfg.nodes = n as u32,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("drain_delay") {
            match self.positive_duration("lb.drain_delay", v) {
                Some(d) => self.drain_delay = d,
                None => ok = false,
            }
        }
        let interval = match t.t.get("report_interval") {
            Some(v) => match self.positive_duration("lb.report_interval", v) {
                Some(d) => Some((d, v.span())),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if let Some(v) = t.t.get("upstream_timeout") {
            match self.positive_duration("lb.upstream_timeout", v) {
                Some(d) => cfg.upstream_timeout = Some(d),
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("retries") {
            match self.cx.int("lb.retries", v, 0, 100) {
                Some(n) => cfg.retry.retries = n as u32,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("retry_on") {
            match self.retry_on("lb.retry_on", v) {
                Some([refused, timeout, x5]) => {
                    cfg.retry.on_refused = refused;
                    cfg.retry.on_timeout = timeout;
                    cfg.retry.on_5xx = x5;
                }
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("retry_budget") {
            match self.cx.table("lb.retry_budget", v) {
                Some(bt) => {
                    self.cx.check_keys(bt, &["percent", "min_concurrency"]);
                    let percent = match bt.t.get("percent") {
                        Some(v) => self.cx.number(
                            "lb.retry_budget.percent",
                            v,
                            "a percentage from 0 to 100",
                            |x| (0.0..=100.0).contains(&x),
                        ),
                        None => Some(20.0),
                    };
                    let min_concurrency = match bt.t.get("min_concurrency") {
                        Some(v) => self
                            .cx
                            .int("lb.retry_budget.min_concurrency", v, 0, 1_000_000)
                            .map(|x| x as u32),
                        None => Some(3),
                    };
                    match (percent, min_concurrency) {
                        (Some(percent), Some(min_concurrency)) => {
                            cfg.retry.budget = Some(RetryBudget {
                                percent,
                                min_concurrency,
                            })
                        }
                        _ => ok = false,
                    }
                }
                None => ok = false,
            }
        }
        let view_v = t.t.get("view");
        let view = match view_v {
            None => Some("own".to_string()),
            Some(v) => self.cx.string("lb.view", v),
        };
        match view.as_deref() {
            // `report_interval` is kept but unused, so `--set lb.view=own` works on a
            // scenario written for reported views.
            Some("own") => {}
            Some("reported") => {
                cfg.view = LbView::Reported {
                    interval: interval.map_or(SimTime::SECOND, |(d, _)| d),
                }
            }
            Some(other) => {
                let hint = did_you_mean(other, ["own", "reported"])
                    .map(|s| format!("did you mean `{s}`?"));
                let span = view_v.map_or(0..0, |v| v.span());
                self.cx.err_hint(
                    "lb.view",
                    &span,
                    format!("expected \"own\" or \"reported\", found \"{other}\""),
                    hint,
                );
                ok = false;
            }
            None => ok = false,
        }
        match self.topology(t, cfg.nodes) {
            Some(topology) => cfg.topology = topology,
            None => ok = false,
        }
        if let Some(v) = t.t.get("layer") {
            match self.cx.string("lb.layer", v).as_deref() {
                Some("l4") => cfg.layer = Layer::L4,
                Some("l7") => cfg.layer = Layer::L7,
                Some(other) => {
                    self.cx.err(
                        "lb.layer",
                        &v.span(),
                        format!("expected \"l4\" or \"l7\", found \"{other}\""),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        // The CPU: on when `cores` is given; the cost defaults by layer.
        let cost = match t.t.get("request_cost") {
            Some(v) => match self.dist("lb.request_cost", v) {
                Some(d) => Some(d),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if let Some(v) = t.t.get("cores") {
            match self.cx.int("lb.cores", v, 1, 1024) {
                Some(n) => {
                    let cost = cost.unwrap_or(Dist::Constant {
                        ns: match cfg.layer {
                            Layer::L4 => 5_000.0,
                            Layer::L7 => 25_000.0,
                        },
                    });
                    cfg.cpu = Some(LbCpu {
                        cores: n as u32,
                        cost,
                        reply_cost: None,
                    });
                }
                None => ok = false,
            }
        }
        // Layer 4's forwarding: NAT sends replies back through the node.
        let nat = match t.t.get("forwarding") {
            None => false,
            Some(v) => match self.cx.one_of("lb.forwarding", v, &["nat", "dr", "tunnel"]) {
                Some(f) if cfg.layer == Layer::L4 => f == "nat",
                Some(_) => {
                    self.cx.err_hint(
                        "lb.forwarding",
                        &v.span(),
                        "a layer-7 node is the end of the client's connection: every reply comes back through it",
                        Some("forwarding is for lb.layer = \"l4\" (IPVS -m, -g, -i)".into()),
                    );
                    ok = false;
                    false
                }
                None => {
                    ok = false;
                    false
                }
            },
        };
        // What a reply costs the node when it passes through it: with NAT; with DR or a
        // tunnel replies go around it (the key still describes the replies, so a
        // comparison of forwarding modes keeps one file).
        match (t.t.get("reply_cost"), &mut cfg.cpu) {
            (Some(v), Some(cpu)) if cfg.layer == Layer::L4 => match self.dist("lb.reply_cost", v) {
                Some(d) if nat => cpu.reply_cost = Some(d),
                Some(_) => {}
                None => ok = false,
            },
            (Some(v), _) if ok => {
                self.cx.err_hint(
                    "lb.reply_cost",
                    &v.span(),
                    "a reply's pass through the node is a layer-4 node's cost (forwarding = \"nat\") and needs its CPU model (cores)",
                    Some("set lb.layer = \"l4\" and cores, or leave reply_cost out".into()),
                );
                ok = false;
            }
            (None, Some(cpu)) if nat => cpu.reply_cost = Some(cpu.cost.clone()),
            _ => {}
        }
        ok.then_some(cfg)
    }

    /// A duration of at least `min` at `path` (`why` says where the floor comes from).
    pub(super) fn duration_at_least(
        &mut self,
        path: &str,
        v: &V<'_>,
        min: SimTime,
        why: &str,
    ) -> Option<SimTime> {
        match self.cx.duration(path, v) {
            Some(d) if d >= min => Some(d),
            Some(_) => {
                self.cx
                    .err(path, &v.span(), format!("expected at least {min} ({why})"));
                None
            }
            None => None,
        }
    }

    /// A positive duration at `path`.
    pub(super) fn positive_duration(&mut self, path: &str, v: &V<'_>) -> Option<SimTime> {
        match self.cx.duration(path, v) {
            Some(d) if d > SimTime::ZERO => Some(d),
            Some(_) => {
                self.cx.err(path, &v.span(), "expected a positive duration");
                None
            }
            None => None,
        }
    }

    /// `lb.topology` and its tables (`[lb.vrrp]`, `[lb.dns]`, `[lb.anycast]`). Every table
    /// is checked even when another topology is chosen, so `--set lb.topology=…` can switch
    /// between them.
    pub(super) fn topology(&mut self, t: Tbl<'_, '_>, nodes: u32) -> Option<Topology> {
        use crate::ha::ecmp::EcmpMode;
        use crate::ha::vrrp::VrrpConfig;
        let mut ok = true;
        // [lb.vrrp]
        let mut vrrp = vec![VrrpConfig::default(); nodes as usize];
        if let Some(v) = t.t.get("vrrp") {
            let vt = self.cx.table("lb.vrrp", v)?;
            self.cx
                .check_keys(vt, &["priority", "advert_interval", "preempt"]);
            if let Some(v) = vt.t.get("priority") {
                match v.get_ref() {
                    DeValue::Array(a) => {
                        if a.len() != nodes as usize {
                            self.cx.err(
                                "lb.vrrp.priority",
                                &v.span(),
                                format!(
                                    "expected one priority per node ({nodes}, see lb.nodes), found {}",
                                    a.len()
                                ),
                            );
                            ok = false;
                        } else {
                            for (i, e) in a.iter().enumerate() {
                                match self.cx.int(&format!("lb.vrrp.priority[{i}]"), e, 1, 255) {
                                    Some(p) => vrrp[i].priority = p as u8,
                                    None => ok = false,
                                }
                            }
                        }
                    }
                    _ => match self.cx.int("lb.vrrp.priority", v, 1, 255) {
                        Some(p) => vrrp.iter_mut().for_each(|c| c.priority = p as u8),
                        None => ok = false,
                    },
                }
            }
            if vrrp.iter().filter(|c| c.priority == 255).count() > 1
                && let Some(v) = vt.t.get("priority")
            {
                self.cx.err(
                    "lb.vrrp.priority",
                    &v.span(),
                    "at most one node may have priority 255 (the address owner)",
                );
                ok = false;
            }
            if let Some(v) = vt.t.get("advert_interval") {
                match self.duration_at_least(
                    "lb.vrrp.advert_interval",
                    v,
                    SimTime::from_millis(10),
                    "VRRPv3 counts in centiseconds",
                ) {
                    Some(d) => vrrp.iter_mut().for_each(|c| c.advert_interval = d),
                    None => ok = false,
                }
            }
            if let Some(v) = vt.t.get("preempt") {
                match self.cx.boolean("lb.vrrp.preempt", v) {
                    Some(b) => vrrp.iter_mut().for_each(|c| c.preempt = b),
                    None => ok = false,
                }
            }
        }
        // [lb.dns]
        let mut dns = DnsConfig::default();
        if let Some(v) = t.t.get("dns") {
            let dt = self.cx.table("lb.dns", v)?;
            self.cx
                .check_keys(dt, &["ttl", "check_interval", "failure_threshold"]);
            if let Some(v) = dt.t.get("ttl") {
                match self.positive_duration("lb.dns.ttl", v) {
                    Some(d) => dns.ttl = d,
                    None => ok = false,
                }
            }
            if let Some(v) = dt.t.get("check_interval") {
                match self.duration_at_least(
                    "lb.dns.check_interval",
                    v,
                    SimTime::SECOND,
                    "DNS health checks run seconds apart; Route 53 allows 10 s or 30 s",
                ) {
                    Some(d) => dns.check_interval = d,
                    None => ok = false,
                }
            }
            if let Some(v) = dt.t.get("failure_threshold") {
                match self.cx.int("lb.dns.failure_threshold", v, 1, 10) {
                    Some(n) => dns.failure_threshold = n as u32,
                    None => ok = false,
                }
            }
        }
        // [lb.anycast]
        let mut any = AnycastConfig::default();
        if let Some(v) = t.t.get("anycast") {
            let at = self.cx.table("lb.anycast", v)?;
            self.cx.check_keys(
                at,
                &[
                    "ecmp",
                    "buckets",
                    "detection",
                    "bfd_interval",
                    "bfd_multiplier",
                    "bgp_hold_time",
                    "bgp_keepalive",
                    "converge",
                ],
            );
            // Linux's default table size, grown to one bucket per node at least.
            let mut buckets = 128u32.max(nodes);
            if let Some(v) = at.t.get("buckets") {
                match self.cx.int("lb.anycast.buckets", v, 1, 65_536) {
                    Some(b) if b as u32 >= nodes => buckets = b as u32,
                    Some(_) => {
                        self.cx.err(
                            "lb.anycast.buckets",
                            &v.span(),
                            format!("expected at least one bucket per node ({nodes})"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            if let Some(v) = at.t.get("ecmp") {
                let words = ["modulo", "hash-threshold", "resilient"];
                match self.cx.string("lb.anycast.ecmp", v).as_deref() {
                    Some("modulo") => any.ecmp = EcmpMode::Modulo,
                    Some("hash-threshold") => any.ecmp = EcmpMode::HashThreshold,
                    Some("resilient") => any.ecmp = EcmpMode::Resilient { buckets },
                    Some(other) => {
                        let hint =
                            did_you_mean(other, words).map(|s| format!("did you mean `{s}`?"));
                        self.cx.err_hint(
                            "lb.anycast.ecmp",
                            &v.span(),
                            format!("expected one of {}, found \"{other}\"", words.join(", ")),
                            hint,
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            let get_dur =
                |cx: &mut Self, key: &str, default: SimTime, min: SimTime, why: &str| match at
                    .t
                    .get(key)
                {
                    Some(v) => cx.duration_at_least(&format!("lb.anycast.{key}"), v, min, why),
                    None => Some(default),
                };
            let ms = SimTime::from_millis;
            let bfd_interval = get_dur(
                self,
                "bfd_interval",
                ms(300),
                ms(1),
                "BFD timers are in milliseconds and up",
            );
            let hold = get_dur(
                self,
                "bgp_hold_time",
                SimTime::from_secs(90),
                SimTime::from_secs(3),
                "RFC 4271: a hold time is 0 or at least 3 s",
            );
            let keepalive = get_dur(
                self,
                "bgp_keepalive",
                SimTime::from_secs(30),
                SimTime::SECOND,
                "RFC 4271 counts in seconds",
            );
            let converge = get_dur(
                self,
                "converge",
                SimTime::SECOND,
                SimTime::from_nanos(1),
                "a positive duration",
            );
            let multiplier = match at.t.get("bfd_multiplier") {
                Some(v) => self.cx.int("lb.anycast.bfd_multiplier", v, 1, 255),
                None => Some(3),
            };
            let detection = match at.t.get("detection") {
                Some(v) => match self.cx.string("lb.anycast.detection", v).as_deref() {
                    Some(d @ ("bfd" | "bgp")) => Some(d == "bfd"),
                    Some(other) => {
                        self.cx.err(
                            "lb.anycast.detection",
                            &v.span(),
                            format!("expected \"bfd\" or \"bgp\", found \"{other}\""),
                        );
                        None
                    }
                    None => None,
                },
                None => Some(true),
            };
            match (
                bfd_interval,
                hold,
                keepalive,
                converge,
                multiplier,
                detection,
            ) {
                (Some(bi), Some(hold), Some(ka), Some(converge), Some(m), Some(bfd)) => {
                    if ka >= hold {
                        let span = at.t.get("bgp_keepalive").map_or(v.span(), |v| v.span());
                        self.cx.err(
                            "lb.anycast.bgp_keepalive",
                            &span,
                            "expected a keepalive shorter than bgp_hold_time (RFC 4271 suggests a third of it)",
                        );
                        ok = false;
                    }
                    any.converge = converge;
                    if bfd {
                        any.hello = bi;
                        any.detect = SimTime::from_nanos(bi.as_nanos() * m as u64);
                    } else {
                        any.hello = ka;
                        any.detect = hold;
                    }
                }
                _ => ok = false,
            }
        }
        let words = ["single", "active-passive", "active-active-dns", "anycast"];
        let topology = match t.t.get("topology") {
            None => Some(Topology::Single),
            Some(v) => match self.cx.string("lb.topology", v).as_deref() {
                Some("single") => Some(Topology::Single),
                Some("active-passive") if nodes < 2 => {
                    self.cx.err(
                        "lb.topology",
                        &v.span(),
                        "\"active-passive\" needs at least 2 nodes: set lb.nodes = 2",
                    );
                    None
                }
                Some("active-passive") => Some(Topology::ActivePassive { vrrp }),
                Some("active-active-dns") => Some(Topology::Dns(dns)),
                Some("anycast") => Some(Topology::Anycast(any)),
                Some(other) => {
                    let hint = did_you_mean(other, words).map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        "lb.topology",
                        &v.span(),
                        format!("expected one of {}, found \"{other}\"", words.join(", ")),
                        hint,
                    );
                    None
                }
                None => None,
            },
        };
        if ok { topology } else { None }
    }

    /// A `retry_on` list: which of `refused`, `timeout` and `5xx` it names, in that order.
    pub(super) fn retry_on(&mut self, path: &str, v: &V<'_>) -> Option<[bool; 3]> {
        let words = ["refused", "timeout", "5xx"];
        let arr = self.cx.array(path, v)?;
        let mut on = [false; 3];
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            match self.cx.one_of(&format!("{path}[{i}]"), e, &words) {
                Some(w) => on[words.iter().position(|x| *x == w).unwrap_or(0)] = true,
                None => ok = false,
            }
        }
        ok.then_some(on)
    }
}
