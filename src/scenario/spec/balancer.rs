//! `[balancer]` and `[compare]` (`algorithms`, `axis`): algorithm names, algorithm tables and
//! their parameters, also for a server group's own `balancer`.

use toml::de::DeValue;

use crate::balancer::{
    AlgorithmInfo, AlgorithmSpec, ParamDef, ParamKind, ParamValue, Params, catalogue, lookup,
};
use crate::scenario::doc::{Tbl, V, join};
use crate::scenario::error::did_you_mean;

use super::{Reader, span_of};

impl Reader<'_> {
    pub(super) fn balancer(
        &mut self,
        root: Tbl<'_, '_>,
        n_servers: usize,
    ) -> Option<AlgorithmSpec> {
        let Some(v) = root.t.get("balancer") else {
            return AlgorithmSpec::named("round-robin");
        };
        let t = self.cx.table("balancer", v)?;
        self.algorithm_table("balancer", t, n_servers, false)
    }

    /// Resolves an algorithm name: the catalogue entry and, for `power-of-N` and the
    /// power-of-two aliases, the `d` the name implies.
    pub(super) fn resolve_algorithm(
        &mut self,
        path: &str,
        span: &std::ops::Range<usize>,
        name: &str,
    ) -> Option<(&'static AlgorithmInfo, Option<i64>)> {
        let numbered = name
            .strip_prefix("power-of-")
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            .and_then(|n| n.parse::<i64>().ok());
        if let Some(k) = numbered {
            if k == 0 {
                self.cx
                    .err(path, span, "power-of-0 samples no server: expected d ≥ 1");
                return None;
            }
            return lookup("power-of-d").map(|i| (i, Some(k)));
        }
        let Some(info) = lookup(name) else {
            let names =
                catalogue().flat_map(|a| std::iter::once(a.name).chain(a.aliases.iter().copied()));
            let hint = match did_you_mean(name, names) {
                Some(s) => format!("did you mean `{s}`? (`lblab list algorithms` lists them all)"),
                None => "`lblab list algorithms` lists them all".to_string(),
            };
            self.cx.err_hint(
                path,
                span,
                format!("unknown algorithm \"{name}\""),
                Some(hint),
            );
            return None;
        };
        let implied = (info.name == "power-of-d" && name != "power-of-d").then_some(2);
        Some((info, implied))
    }

    /// An algorithm given as a table: `algorithm`, its parameters, and an optional `label`
    /// (the name in tables and CSVs). In `[compare]` (`in_compare`) `algorithm` is required;
    /// elsewhere it defaults to round robin.
    pub(super) fn algorithm_table(
        &mut self,
        path: &str,
        t: Tbl<'_, '_>,
        n_servers: usize,
        in_compare: bool,
    ) -> Option<AlgorithmSpec> {
        let apath = join(path, "algorithm");
        let named = match t.t.get("algorithm") {
            Some(v) => self.cx.string(&apath, v).map(|name| (name, v.span())),
            None if in_compare => {
                self.cx.err(
                    &apath,
                    &span_of(t),
                    "missing key `algorithm`: expected an algorithm name",
                );
                None
            }
            None => Some(("round-robin".to_string(), span_of(t))),
        };
        let Some((name, span, (info, implied_d))) = named.and_then(|(name, span)| {
            let found = self.resolve_algorithm(&apath, &span, &name)?;
            Some((name, span, found))
        }) else {
            // Still report unknown keys that no algorithm could accept.
            let mut allowed = vec!["algorithm", "label"];
            allowed.extend(catalogue().flat_map(|a| a.params.iter().map(|d| d.key)));
            allowed.sort_unstable();
            allowed.dedup();
            self.cx.check_keys(t, &allowed);
            return None;
        };
        let mut allowed: Vec<&str> = vec!["algorithm", "label"];
        allowed.extend(info.params.iter().map(|d| d.key));
        self.check_algorithm_keys(t, &allowed, info);
        let mut params = Params::defaults(info.params);
        let mut ok = true;
        for def in info.params {
            if let Some(v) = t.t.get(def.key) {
                match self.param_value(&join(path, def.key), v, def) {
                    Some(x) => params.set(def.key, x),
                    None => ok = false,
                }
            }
        }
        if let Some(k) = implied_d {
            match t.t.get("d") {
                Some(v) if params.int("d") != k => {
                    self.cx.err(
                        &join(path, "d"),
                        &v.span(),
                        format!(
                            "\"{name}\" means d = {k}, but d = {}; use algorithm = \"power-of-d\"",
                            params.int("d")
                        ),
                    );
                    ok = false;
                }
                _ => params.set("d", ParamValue::Int(k)),
            }
        }
        if info.name == "power-of-d"
            && !params.bool("replacement")
            && n_servers > 0
            && params.int("d") as usize > n_servers
        {
            let (p, sp) = match t.t.get("d") {
                Some(v) => (join(path, "d"), v.span()),
                None => (apath.clone(), span.clone()),
            };
            self.cx.err(
                &p,
                &sp,
                format!("d = {} exceeds the {n_servers} servers", params.int("d")),
            );
            ok = false;
        }
        let label = match t.t.get("label") {
            Some(v) => match self.cx.string(&join(path, "label"), v)? {
                l if l.trim().is_empty() => {
                    self.cx.err(
                        &join(path, "label"),
                        &v.span(),
                        "expected a non-empty label",
                    );
                    return None;
                }
                l => Some(l),
            },
            None => None,
        };
        ok.then(|| AlgorithmSpec::new(info, params, label))
    }

    pub(super) fn check_algorithm_keys(
        &mut self,
        t: Tbl<'_, '_>,
        allowed: &[&str],
        info: &AlgorithmInfo,
    ) {
        for (k, _) in t.t.iter() {
            let key: &str = k.get_ref();
            if allowed.contains(&key) {
                continue;
            }
            let hint = match did_you_mean(key, allowed.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if info.params.is_empty() => format!("\"{}\" takes no parameters", info.name),
                None => format!(
                    "parameters of \"{}\": {}",
                    info.name,
                    info.params
                        .iter()
                        .map(|d| d.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            self.cx.err_hint(
                &join(t.path, key),
                &k.span(),
                format!("unknown key `{key}` for algorithm \"{}\"", info.name),
                Some(hint),
            );
        }
    }

    /// One parameter value, checked against its definition.
    pub(super) fn param_value(
        &mut self,
        path: &str,
        v: &V<'_>,
        def: &ParamDef,
    ) -> Option<ParamValue> {
        let raw = match def.kind {
            ParamKind::Int { min, max } => ParamValue::Int(self.cx.int(path, v, min, max)?),
            ParamKind::Float { min, max } => ParamValue::Float(self.cx.number(
                path,
                v,
                &format!("a number from {min} to {max}"),
                |x| (min..=max).contains(&x),
            )?),
            ParamKind::Duration { .. } => ParamValue::Duration(self.cx.duration(path, v)?),
            ParamKind::Bool => ParamValue::Bool(self.cx.boolean(path, v)?),
            ParamKind::Choice(words) => {
                let w = self.cx.string(path, v)?;
                match words.iter().find(|x| **x == w) {
                    Some(x) => ParamValue::Word(x),
                    None => {
                        let hint = did_you_mean(&w, words.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"));
                        self.cx.err_hint(
                            path,
                            &v.span(),
                            format!("expected one of {}, found \"{w}\"", words.join(", ")),
                            hint,
                        );
                        return None;
                    }
                }
            }
            ParamKind::Algorithm => {
                let w = self.cx.string(path, v)?;
                let (info, implied_d) = self.resolve_algorithm(path, &v.span(), &w)?;
                if implied_d.is_some_and(|d| d != 2) {
                    self.cx.err(path, &v.span(), format!("a base algorithm takes its default parameters: \"{w}\" is not available as a base (power-of-two is)"));
                    return None;
                }
                if info
                    .params
                    .iter()
                    .any(|d| matches!(d.kind, ParamKind::Algorithm))
                {
                    self.cx.err(
                        path,
                        &v.span(),
                        format!(
                            "\"{}\" wraps another algorithm and cannot be a base itself",
                            info.name
                        ),
                    );
                    return None;
                }
                ParamValue::Word(info.name)
            }
        };
        match def.check(raw) {
            Ok(x) => Some(x),
            Err(expected) => {
                self.cx.err(
                    path,
                    &v.span(),
                    format!(
                        "expected {expected}, found {}",
                        crate::scenario::doc::describe(v.get_ref())
                    ),
                );
                None
            }
        }
    }

    /// `[compare] axis = { key = "...", values = [...] }`: what `lblab compare` varies by
    /// default, as `key=v1,v2,...` (the `--axis` syntax). The values are checked when each
    /// variant is loaded.
    pub(super) fn compare_axis(&mut self, root: Tbl<'_, '_>) -> Option<Option<String>> {
        let Some(t) = root.t.get("compare").and_then(|v| match v.get_ref() {
            DeValue::Table(_) => self.cx.table("compare", v),
            _ => None,
        }) else {
            return Some(None);
        };
        let Some(v) = t.t.get("axis") else {
            return Some(None);
        };
        let at = self.cx.table("compare.axis", v)?;
        self.cx.check_keys(at, &["key", "values"]);
        let key = self
            .cx
            .require(at, "key", "the scenario key to vary, like \"lb.topology\"")
            .and_then(|k| self.cx.string("compare.axis.key", k).map(|s| (s, k.span())));
        let values = self
            .cx
            .require(
                at,
                "values",
                "the values to compare, like [\"single\", \"anycast\"]",
            )
            .and_then(|vv| {
                self.cx
                    .array("compare.axis.values", vv)
                    .map(|a| (a, vv.span()))
            });
        let (Some((key, kspan)), Some((arr, vspan))) = (key, values) else {
            return None;
        };
        let mut ok = true;
        if key.trim().is_empty() || key.starts_with("scenario.") {
            self.cx.err(
                "compare.axis.key",
                &kspan,
                "expected a scenario key outside [scenario] (a comparison shares its seed, replications and run length)",
            );
            ok = false;
        }
        if t.t.contains_key("algorithms") {
            self.cx.err(
                "compare.axis",
                &v.span(),
                "give either `algorithms` or `axis` in [compare]; to cross them, pass --algorithms a,b on the command line",
            );
            ok = false;
        }
        let mut vals = Vec::new();
        for (i, e) in arr.iter().enumerate() {
            let path = format!("compare.axis.values[{i}]");
            let s = match e.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                _ => {
                    self.cx.err(
                        &path,
                        &e.span(),
                        "expected a string, written as after --set (\"2s\", \"3\", \"true\")",
                    );
                    None
                }
            };
            match s {
                Some(s) if crate::scenario::overrides::split_values(&s).len() > 1 => {
                    self.cx.err(
                        &path,
                        &e.span(),
                        "a value may not contain a comma outside brackets, braces or quotes",
                    );
                    ok = false;
                }
                Some(s) => vals.push(s),
                None => ok = false,
            }
        }
        if vals.is_empty() && ok {
            self.cx
                .err("compare.axis.values", &vspan, "expected at least one value");
            ok = false;
        }
        ok.then(|| Some(format!("{}={}", key.trim(), vals.join(","))))
    }

    pub(super) fn compare(
        &mut self,
        root: Tbl<'_, '_>,
        n_servers: usize,
    ) -> Option<Vec<AlgorithmSpec>> {
        let Some(v) = root.t.get("compare") else {
            return Some(Vec::new());
        };
        let t = self.cx.table("compare", v)?;
        self.cx.check_keys(t, &["algorithms", "axis"]);
        let Some(av) = t.t.get("algorithms") else {
            return Some(Vec::new());
        };
        let arr = self.cx.array("compare.algorithms", av)?;
        let mut out: Vec<AlgorithmSpec> = Vec::new();
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let path = format!("compare.algorithms[{i}]");
            let spec = match e.get_ref() {
                DeValue::String(name) => {
                    self.resolve_algorithm(&path, &e.span(), name)
                        .map(|(info, d)| {
                            let mut params = Params::defaults(info.params);
                            if let Some(d) = d {
                                params.set("d", ParamValue::Int(d));
                            }
                            AlgorithmSpec::new(info, params, None)
                        })
                }
                DeValue::Table(_) => self
                    .cx
                    .table(&path, e)
                    .and_then(|t| self.algorithm_table(&path, t, n_servers, true)),
                _ => {
                    self.cx.err(&path, &e.span(), format!("expected an algorithm name or a table like {{ algorithm = \"power-of-d\", d = 3 }}, found {}", crate::scenario::doc::describe(e.get_ref())));
                    None
                }
            };
            // (power-of-d's d against the number of servers is checked when an entry is
            // run: it becomes [balancer], so `lblab run --set servers.web.count=1` is not
            // refused for an entry it does not use.)
            match spec {
                Some(a) if out.iter().any(|o| o.name() == a.name()) => {
                    self.cx.err(
                        &path,
                        &e.span(),
                        format!(
                            "\"{}\" is listed twice (give one a different `label`)",
                            a.name()
                        ),
                    );
                    ok = false;
                }
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}
