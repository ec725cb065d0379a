//! Kubernetes probes in `[health]`: the `kubernetes` style of `[health.active]` (a
//! readiness probe), `[health.liveness]` (the kubelet restarts a server that fails it),
//! and `depends` (a deep check: the probe handler calls the named services). Dependency
//! names are checked against `[[services]]` once those are read
//! ([`Reader::check_depends`]).

use toml::de::DeValue;

use crate::engine::SimTime;
use crate::health::kubernetes::KubeProbeConfig;
use crate::model::{CheckType, Liveness, ServiceConfig};
use crate::scenario::doc::{Tbl, V, join};
use crate::scenario::error::did_you_mean;

use super::Reader;

/// Keys of a Kubernetes probe's timing (`[health.active]` with `style = "kubernetes"`, and
/// `[health.liveness]`).
pub(super) const KUBE_KEYS: &[&str] = &[
    "period",
    "timeout",
    "failure_threshold",
    "success_threshold",
    "initial_delay",
];

impl Reader<'_> {
    /// A Kubernetes probe's period, timeout, thresholds and initial delay at `path`.
    pub(super) fn kube_probe(&mut self, path: &str, t: Tbl<'_, '_>) -> Option<KubeProbeConfig> {
        let mut c = KubeProbeConfig::default();
        let mut ok = true;
        for (key, slot) in [("period", &mut c.period), ("timeout", &mut c.timeout)] {
            if let Some(v) = t.t.get(key) {
                match self.positive_duration(&join(path, key), v) {
                    Some(d) => *slot = d,
                    None => ok = false,
                }
            }
        }
        if let Some(v) = t.t.get("initial_delay") {
            match self.cx.duration(&join(path, "initial_delay"), v) {
                Some(d) => c.initial_delay = d,
                None => ok = false,
            }
        }
        for (key, slot) in [
            ("failure_threshold", &mut c.failure_threshold),
            ("success_threshold", &mut c.success_threshold),
        ] {
            if let Some(v) = t.t.get(key) {
                match self.cx.int(&join(path, key), v, 1, 1000) {
                    Some(n) => *slot = n as u32,
                    None => ok = false,
                }
            }
        }
        ok.then_some(c)
    }

    /// `depends` at `path`: the services a deep check's handler calls (names; checked
    /// later). Only an HTTP check can be deep.
    pub(super) fn depends(
        &mut self,
        path: &str,
        t: Tbl<'_, '_>,
        check: Option<CheckType>,
    ) -> Option<Vec<String>> {
        let Some(v) = t.t.get("depends") else {
            return Some(Vec::new());
        };
        let p = join(path, "depends");
        let arr = self.cx.array(&p, v)?;
        let mut out = Vec::new();
        for (i, e) in arr.iter().enumerate() {
            out.push(self.cx.string(&format!("{p}[{i}]"), e)?);
        }
        if check == Some(CheckType::Tcp) && !out.is_empty() {
            self.cx.err_hint(
                &p,
                &v.span(),
                "a TCP check only connects: it cannot call dependencies",
                Some("set check = \"http\" for a deep check".into()),
            );
            return None;
        }
        Some(out)
    }

    /// `[health.liveness]`: the kubelet's liveness probe on every server of the service.
    pub(super) fn liveness(&mut self, t: Tbl<'_, '_>) -> Option<Option<Liveness>> {
        let Some(v) = t.t.get("liveness") else {
            return Some(None);
        };
        let path = "health.liveness";
        let lt = self.cx.table(path, v)?;
        let mut keys = KUBE_KEYS.to_vec();
        keys.extend(["check", "probe_time", "depends", "restart"]);
        self.cx.check_keys(lt, &keys);
        let probe = self.kube_probe(path, lt);
        if let Some(s) = lt.t.get("success_threshold")
            && probe.is_some_and(|p| p.success_threshold != 1)
        {
            self.cx.err_hint(
                &join(path, "success_threshold"),
                &s.span(),
                "a liveness probe's success threshold must be 1",
                Some("Kubernetes refuses any other value: one pass means the process lives".into()),
            );
            return None;
        }
        let check = match lt.t.get("check") {
            Some(v) => match self.cx.string(&join(path, "check"), v).as_deref() {
                Some("http") => Some(CheckType::Http),
                Some("tcp") => Some(CheckType::Tcp),
                Some(other) => {
                    let hint = did_you_mean(other, ["tcp", "http"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        &join(path, "check"),
                        &v.span(),
                        format!("expected \"tcp\" or \"http\", found \"{other}\""),
                        hint,
                    );
                    None
                }
                None => None,
            },
            None => Some(CheckType::Http),
        };
        let probe_time = match lt.t.get("probe_time") {
            Some(v) => self.cx.duration(&join(path, "probe_time"), v),
            None => Some(SimTime::MILLISECOND),
        };
        let depends = self.depends(path, lt, check);
        let restart = match lt.t.get("restart") {
            Some(v) => self.cx.duration(&join(path, "restart"), v),
            None => Some(SimTime::from_secs(10)),
        };
        Some(Some(Liveness {
            probe: probe?,
            check: check?,
            probe_time: probe_time?,
            depends: depends?,
            restart: restart?,
        }))
    }

    /// Every deep check's `depends` names a service, other than the one it checks.
    pub(super) fn check_depends(
        &mut self,
        root: Tbl<'_, '_>,
        services: &[ServiceConfig],
        entries: &[usize],
    ) -> bool {
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        // (path of a [health] table, the table, the services whose servers it checks)
        let mut places = vec![(
            "health".to_string(),
            table(root.t.get("health")),
            entries.to_vec(),
        )];
        if let Some(DeValue::Array(a)) = root.t.get("services").map(|v| v.get_ref()) {
            for (i, s) in a.iter().enumerate() {
                if let DeValue::Table(st) = s.get_ref() {
                    places.push((
                        format!("services[{i}].health"),
                        table(st.get("health")),
                        vec![i],
                    ));
                }
            }
        }
        let mut ok = true;
        for (path, health, own) in places {
            let Some(h) = health else { continue };
            for probe in ["active", "liveness"] {
                let Some(DeValue::Table(pt)) = h.get(probe).map(|v| v.get_ref()) else {
                    continue;
                };
                let Some(DeValue::Array(deps)) = pt.get("depends").map(|v| v.get_ref()) else {
                    continue;
                };
                for (i, d) in deps.iter().enumerate() {
                    let DeValue::String(name) = d.get_ref() else {
                        continue;
                    };
                    let p = format!("{path}.{probe}.depends[{i}]");
                    if services.is_empty() {
                        self.cx.err_hint(
                            &p,
                            &d.span(),
                            "a deep check calls services, and this scenario has no [[services]]",
                            Some(
                                "declare the dependencies with [[services]] entries (name, groups)"
                                    .into(),
                            ),
                        );
                        ok = false;
                        continue;
                    }
                    match names.iter().position(|n| n == name) {
                        Some(s) if own.contains(&s) => {
                            self.cx.err(&p, &d.span(), format!("the check of service \"{name}\" cannot depend on \"{name}\" itself: its probe would call its own tier"));
                            ok = false;
                        }
                        Some(_) => {}
                        None => {
                            let hint = match did_you_mean(name, names.iter().copied()) {
                                Some(s) => format!("did you mean `{s}`?"),
                                None => format!("services: {}", names.join(", ")),
                            };
                            self.cx.err_hint(
                                &p,
                                &d.span(),
                                format!("no service named \"{name}\" for this deep check to call"),
                                Some(hint),
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        ok
    }
}

fn table<'a, 'i>(v: Option<&'a V<'i>>) -> Option<&'a toml::de::DeTable<'i>> {
    match v.map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) => Some(t),
        _ => None,
    }
}
