//! `[health]`: `active` checks (HAProxy and Envoy styles), `passive` outlier detection,
//! `panic_threshold` and `slow_start`.

use crate::engine::SimTime;
use crate::model::{ActiveHealth, ActiveStyle, CheckType, HealthConfig};
use crate::model::{SlowStart, SlowStartStyle};
use crate::scenario::doc::{Cx, Tbl, join};
use crate::scenario::error::did_you_mean;

use super::{Reader, span_of};

impl Reader<'_> {
    /// `[health]`: active checks, outlier detection, panic threshold.
    pub(super) fn health(&mut self, root: Tbl<'_, '_>) -> Option<HealthConfig> {
        use crate::health::envoy::EnvoyCheckConfig;
        use crate::health::haproxy::{HaproxyCheckConfig, Observe, OnError};
        use crate::health::outlier::OutlierConfig;
        let mut cfg = HealthConfig::default();
        let Some(v) = root.t.get("health") else {
            return Some(cfg);
        };
        let t = self.cx.table("health", v)?;
        self.cx.check_keys(
            t,
            &[
                "active",
                "passive",
                "panic_threshold",
                "slow_start",
                "liveness",
            ],
        );
        let mut ok = true;
        match self.liveness(t) {
            Some(l) => cfg.liveness = l,
            None => ok = false,
        }
        if let Some(v) = t.t.get("panic_threshold") {
            match self.cx.number(
                "health.panic_threshold",
                v,
                "a percentage from 0 (off) to 100",
                |x| (0.0..=100.0).contains(&x),
            ) {
                Some(x) => cfg.panic_threshold = x,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("slow_start") {
            let path = "health.slow_start";
            let st = self.cx.table(path, v)?;
            self.cx
                .check_keys(st, &["window", "style", "aggression", "min_weight_percent"]);
            let window = self
                .cx
                .require(st, "window", "the ramp length, like \"30s\"")
                .and_then(|v| self.cx.duration(&join(path, "window"), v));
            let style = match st.t.get("style") {
                Some(v) => self
                    .cx
                    .string(&join(path, "style"), v)
                    .map(|s| (s, v.span())),
                None => Some(("haproxy".to_string(), 0..0)),
            };
            let aggression = match st.t.get("aggression") {
                Some(v) => self.cx.number(
                    &join(path, "aggression"),
                    v,
                    "a number above 0 (1.0 = linear)",
                    |x| x > 0.0 && x <= 100.0,
                ),
                None => Some(1.0),
            };
            let min_pct = match st.t.get("min_weight_percent") {
                Some(v) => self.cx.number(
                    &join(path, "min_weight_percent"),
                    v,
                    "a percentage from 0 to 100",
                    |x| (0.0..=100.0).contains(&x),
                ),
                None => Some(10.0),
            };
            let style = match (style, aggression, min_pct) {
                (Some((s, _)), _, _) if s == "haproxy" => Some(SlowStartStyle::Haproxy),
                (Some((s, _)), Some(aggression), Some(min_weight_percent)) if s == "envoy" => {
                    Some(SlowStartStyle::Envoy {
                        aggression,
                        min_weight_percent,
                    })
                }
                (Some((s, span)), _, _) if s != "envoy" => {
                    self.cx.err(
                        &join(path, "style"),
                        &span,
                        format!("expected \"haproxy\" or \"envoy\", found \"{s}\""),
                    );
                    None
                }
                _ => None,
            };
            match (window, style) {
                (Some(window), Some(style)) if window > SimTime::ZERO => {
                    cfg.slow_start = Some(SlowStart { window, style })
                }
                (Some(_), Some(_)) => {
                    self.cx.err(
                        &join(path, "window"),
                        &span_of(st),
                        "expected a positive duration",
                    );
                    ok = false;
                }
                _ => ok = false,
            }
        }
        if let Some(v) = t.t.get("active") {
            let path = "health.active";
            let at = self.cx.table(path, v)?;
            let style = match at.t.get("style") {
                Some(v) => self
                    .cx
                    .string("health.active.style", v)
                    .map(|s| (s, v.span())),
                None => Some(("haproxy".to_string(), 0..0)),
            };
            let common = ["style", "check", "probe_time", "timeout", "loss", "depends"];
            let haproxy_keys = [
                "inter",
                "fastinter",
                "downinter",
                "rise",
                "fall",
                "spread_checks",
                "observe",
                "error_limit",
                "on_error",
                "check_overhead",
            ];
            let envoy_keys = [
                "interval",
                "unhealthy_threshold",
                "healthy_threshold",
                "unhealthy_interval",
                "unhealthy_edge_interval",
                "healthy_edge_interval",
                "no_traffic_interval",
                "no_traffic_healthy_interval",
                "initial_jitter",
                "interval_jitter",
                "interval_jitter_percent",
            ];
            let check = match at.t.get("check") {
                Some(v) => match self.cx.string("health.active.check", v).as_deref() {
                    Some("tcp") => Some(CheckType::Tcp),
                    Some("http") => Some(CheckType::Http),
                    Some(other) => {
                        let hint = did_you_mean(other, ["tcp", "http"])
                            .map(|s| format!("did you mean `{s}`?"));
                        self.cx.err_hint(
                            "health.active.check",
                            &v.span(),
                            format!("expected \"tcp\" or \"http\", found \"{other}\""),
                            hint,
                        );
                        None
                    }
                    None => None,
                },
                None => Some(CheckType::Tcp),
            };
            let probe_time = match at.t.get("probe_time") {
                Some(v) => self.cx.duration("health.active.probe_time", v),
                None => Some(SimTime::MILLISECOND),
            };
            let d = |cx: &mut Cx, key: &str| -> Option<Option<SimTime>> {
                match at.t.get(key) {
                    Some(v) => match cx.duration(&join(path, key), v) {
                        Some(x) if x > SimTime::ZERO => Some(Some(x)),
                        Some(_) => {
                            cx.err(&join(path, key), &v.span(), "expected a positive duration");
                            None
                        }
                        None => None,
                    },
                    None => Some(None),
                }
            };
            // Durations that may be zero (jitters).
            let d0 = |cx: &mut Cx, key: &str| -> Option<Option<SimTime>> {
                match at.t.get(key) {
                    Some(v) => cx.duration(&join(path, key), v).map(Some),
                    None => Some(None),
                }
            };
            let n = |cx: &mut Cx, key: &str, lo: i64, hi: i64| -> Option<Option<u32>> {
                match at.t.get(key) {
                    Some(v) => cx.int(&join(path, key), v, lo, hi).map(|x| Some(x as u32)),
                    None => Some(None),
                }
            };
            let style = match style.as_ref().map(|(s, sp)| (s.as_str(), sp.clone())) {
                Some(("haproxy", _)) => {
                    let mut allowed: Vec<&str> = common.to_vec();
                    allowed.extend(haproxy_keys);
                    self.cx.check_keys(at, &allowed);
                    let mut c = HaproxyCheckConfig::default();
                    let inter = d(&mut self.cx, "inter");
                    let fastinter = d(&mut self.cx, "fastinter");
                    let downinter = d(&mut self.cx, "downinter");
                    let timeout = d(&mut self.cx, "timeout");
                    let rise = n(&mut self.cx, "rise", 1, 1000);
                    let fall = n(&mut self.cx, "fall", 1, 1000);
                    let spread = n(&mut self.cx, "spread_checks", 0, 50);
                    let error_limit = n(&mut self.cx, "error_limit", 1, 1_000_000);
                    let overhead = d0(&mut self.cx, "check_overhead");
                    let observe = match at.t.get("observe") {
                        Some(v) => match self.cx.string("health.active.observe", v).as_deref() {
                            Some("none") => Some(Observe::None),
                            Some("layer4") => Some(Observe::Layer4),
                            Some("layer7") => Some(Observe::Layer7),
                            Some(other) => {
                                self.cx.err("health.active.observe", &v.span(), format!("expected \"none\", \"layer4\" or \"layer7\", found \"{other}\""));
                                None
                            }
                            None => None,
                        },
                        None => Some(Observe::None),
                    };
                    let on_error = match at.t.get("on_error") {
                        Some(v) => match self.cx.string("health.active.on_error", v).as_deref() {
                            Some("fastinter") => Some(OnError::FastInter),
                            Some("fail-check") => Some(OnError::FailCheck),
                            Some("sudden-death") => Some(OnError::SuddenDeath),
                            Some("mark-down") => Some(OnError::MarkDown),
                            Some(other) => {
                                self.cx.err("health.active.on_error", &v.span(), format!("expected \"fastinter\", \"fail-check\", \"sudden-death\" or \"mark-down\", found \"{other}\""));
                                None
                            }
                            None => None,
                        },
                        None => Some(OnError::FailCheck),
                    };
                    match (
                        inter,
                        fastinter,
                        downinter,
                        timeout,
                        rise,
                        fall,
                        spread,
                        error_limit,
                        observe,
                        on_error,
                    ) {
                        (
                            Some(inter),
                            Some(fastinter),
                            Some(downinter),
                            Some(timeout),
                            Some(rise),
                            Some(fall),
                            Some(spread),
                            Some(error_limit),
                            Some(observe),
                            Some(on_error),
                        ) => {
                            if let Some(x) = inter {
                                c.inter = x;
                            }
                            c.fastinter = fastinter;
                            c.downinter = downinter;
                            c.timeout_check = timeout;
                            if let Some(x) = rise {
                                c.rise = x;
                            }
                            if let Some(x) = fall {
                                c.fall = x;
                            }
                            if let Some(x) = spread {
                                c.spread_checks_pct = x;
                            }
                            if let Some(x) = error_limit {
                                c.error_limit = x;
                            }
                            c.observe = observe;
                            c.on_error = on_error;
                            match overhead {
                                Some(x) => c.check_overhead = x.unwrap_or(SimTime::ZERO),
                                None => return None,
                            }
                            Some(ActiveStyle::Haproxy(c))
                        }
                        _ => None,
                    }
                }
                Some(("envoy", _)) => {
                    let mut allowed: Vec<&str> = common.to_vec();
                    allowed.extend(envoy_keys);
                    self.cx.check_keys(at, &allowed);
                    let mut c = EnvoyCheckConfig::default();
                    let vals = (
                        d(&mut self.cx, "interval"),
                        d(&mut self.cx, "timeout"),
                        n(&mut self.cx, "unhealthy_threshold", 1, 1000),
                        n(&mut self.cx, "healthy_threshold", 1, 1000),
                        d(&mut self.cx, "unhealthy_interval"),
                        d(&mut self.cx, "unhealthy_edge_interval"),
                        d(&mut self.cx, "healthy_edge_interval"),
                        d(&mut self.cx, "no_traffic_interval"),
                        d(&mut self.cx, "no_traffic_healthy_interval"),
                        d0(&mut self.cx, "initial_jitter"),
                        d0(&mut self.cx, "interval_jitter"),
                        n(&mut self.cx, "interval_jitter_percent", 0, 100),
                    );
                    match vals {
                        (
                            Some(iv),
                            Some(to),
                            Some(ut),
                            Some(ht),
                            Some(ui),
                            Some(uei),
                            Some(hei),
                            Some(nti),
                            Some(nthi),
                            Some(ij),
                            Some(ivj),
                            Some(ijp),
                        ) => {
                            if let Some(x) = iv {
                                c.interval = x;
                            }
                            if let Some(x) = to {
                                c.timeout = x;
                            }
                            if let Some(x) = ut {
                                c.unhealthy_threshold = x;
                            }
                            if let Some(x) = ht {
                                c.healthy_threshold = x;
                            }
                            c.unhealthy_interval = ui;
                            c.unhealthy_edge_interval = uei;
                            c.healthy_edge_interval = hei;
                            if let Some(x) = nti {
                                c.no_traffic_interval = x;
                            }
                            c.no_traffic_healthy_interval = nthi;
                            if let Some(x) = ij {
                                c.initial_jitter = x;
                            }
                            if let Some(x) = ivj {
                                c.interval_jitter = x;
                            }
                            if let Some(x) = ijp {
                                c.interval_jitter_percent = x;
                            }
                            Some(ActiveStyle::Envoy(c))
                        }
                        _ => None,
                    }
                }
                Some(("kubernetes", _)) => {
                    let mut allowed: Vec<&str> = common.to_vec();
                    allowed.extend(super::probes::KUBE_KEYS);
                    self.cx.check_keys(at, &allowed);
                    self.kube_probe(path, at).map(ActiveStyle::Kubernetes)
                }
                Some((other, span)) => {
                    let hint = did_you_mean(other, ["haproxy", "envoy", "kubernetes"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        "health.active.style",
                        &span,
                        format!(
                            "expected \"haproxy\", \"envoy\" or \"kubernetes\", found \"{other}\""
                        ),
                        hint,
                    );
                    None
                }
                None => None,
            };
            let loss = match at.t.get("loss") {
                Some(v) => {
                    self.cx
                        .number("health.active.loss", v, "a probability from 0 to 1", |x| {
                            (0.0..=1.0).contains(&x)
                        })
                }
                None => Some(0.0),
            };
            let depends = self.depends(path, at, check);
            match (style, check, probe_time, loss, depends) {
                (Some(style), Some(check), Some(probe_time), Some(loss), Some(depends)) => {
                    cfg.active = Some(ActiveHealth {
                        style,
                        check,
                        probe_time,
                        loss,
                        depends,
                    })
                }
                _ => ok = false,
            }
        }
        if let Some(v) = t.t.get("passive") {
            let path = "health.passive";
            let pt = self.cx.table(path, v)?;
            let ints = [
                "consecutive_5xx",
                "enforcing_consecutive_5xx",
                "consecutive_gateway_failure",
                "enforcing_consecutive_gateway_failure",
                "max_ejection_percent",
                "success_rate_minimum_hosts",
                "success_rate_request_volume",
                "success_rate_stdev_factor",
                "enforcing_success_rate",
                "failure_percentage_threshold",
                "enforcing_failure_percentage",
                "failure_percentage_minimum_hosts",
                "failure_percentage_request_volume",
            ];
            let durs = [
                "interval",
                "base_ejection_time",
                "max_ejection_time",
                "max_ejection_time_jitter",
            ];
            let bools = [
                "always_eject_one_host",
                "successful_active_health_check_uneject_host",
            ];
            let mut allowed = vec!["mode"];
            allowed.extend(ints);
            allowed.extend(durs);
            allowed.extend(bools);
            self.cx.check_keys(pt, &allowed);
            if let Some(m) = pt.t.get("mode") {
                match self.cx.string("health.passive.mode", m).as_deref() {
                    Some("outlier") => {}
                    Some(other) => {
                        self.cx.err_hint("health.passive.mode", &m.span(), format!("expected \"outlier\" (Envoy outlier detection), found \"{other}\""), Some("nginx's max_fails/fail_timeout are parameters of the nginx algorithms in [balancer]".into()));
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            let mut c = OutlierConfig::default();
            for key in ints {
                if let Some(v) = pt.t.get(key) {
                    let max = if key.starts_with("enforcing")
                        || key == "max_ejection_percent"
                        || key == "failure_percentage_threshold"
                    {
                        100
                    } else {
                        1_000_000
                    };
                    match self.cx.int(&join(path, key), v, 0, max) {
                        Some(x) => {
                            let x = x as u32;
                            match key {
                                "consecutive_5xx" => c.consecutive_5xx = x,
                                "enforcing_consecutive_5xx" => c.enforcing_consecutive_5xx = x,
                                "consecutive_gateway_failure" => c.consecutive_gateway_failure = x,
                                "enforcing_consecutive_gateway_failure" => {
                                    c.enforcing_consecutive_gateway_failure = x
                                }
                                "max_ejection_percent" => c.max_ejection_percent = x,
                                "success_rate_minimum_hosts" => c.success_rate_minimum_hosts = x,
                                "success_rate_request_volume" => c.success_rate_request_volume = x,
                                "success_rate_stdev_factor" => c.success_rate_stdev_factor = x,
                                "enforcing_success_rate" => c.enforcing_success_rate = x,
                                "failure_percentage_threshold" => {
                                    c.failure_percentage_threshold = x
                                }
                                "enforcing_failure_percentage" => {
                                    c.enforcing_failure_percentage = x
                                }
                                "failure_percentage_minimum_hosts" => {
                                    c.failure_percentage_minimum_hosts = x
                                }
                                _ => c.failure_percentage_request_volume = x,
                            }
                        }
                        None => ok = false,
                    }
                }
            }
            for key in durs {
                if let Some(v) = pt.t.get(key) {
                    match self.cx.duration(&join(path, key), v) {
                        Some(x) if key == "max_ejection_time_jitter" || x > SimTime::ZERO => {
                            match key {
                                "interval" => c.interval = x,
                                "base_ejection_time" => c.base_ejection_time = x,
                                "max_ejection_time" => c.max_ejection_time = Some(x),
                                _ => c.max_ejection_time_jitter = x,
                            }
                        }
                        Some(_) => {
                            self.cx.err(
                                &join(path, key),
                                &v.span(),
                                "expected a positive duration",
                            );
                            ok = false;
                        }
                        None => ok = false,
                    }
                }
            }
            for key in bools {
                if let Some(v) = pt.t.get(key) {
                    match self.cx.boolean(&join(path, key), v) {
                        Some(b) if key == "always_eject_one_host" => c.always_eject_one_host = b,
                        Some(b) => c.successful_active_health_check_uneject_host = b,
                        None => ok = false,
                    }
                }
            }
            cfg.outlier = Some(c);
        }
        ok.then_some(cfg)
    }
}
