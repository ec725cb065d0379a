//! Which worlds a command runs: the variants of `run`, `compare`, `sweep` and `trace`, each
//! as the ordered list of overrides that make it from the scenario file.
//!
//! Every variant is `file + [the algorithm it runs] + the user's --set + [its axis value or
//! sweep point]`, in that order, so an override is never thrown away by a later one. The
//! rules that keep overrides honest live here, once, for every command:
//!
//! * `-a NAME` / `--algorithms` / a `[compare]` entry replaces the whole `[balancer]` table
//!   (parameters written for another algorithm do not leak into it); the user's
//!   `--set balancer.KEY=V` is applied *after* it, to the algorithm it names.
//! * A `balancer.KEY` override (from `--set`, `--axis` or `--param`) that only some of the
//!   compared algorithms accept applies to those, and the output says so; one that none of
//!   them accepts is refused (exit 2) naming them.
//! * Choosing the algorithm twice (`--set balancer.algorithm=…` with `--algorithms`, or a
//!   key both `--set` and varied) is refused rather than resolved silently.

use std::path::Path;

use crate::balancer::{AlgorithmInfo, AlgorithmSpec, ParamValue};
use crate::engine::SimTime;
use crate::model::WorldConfig;
use crate::scenario::Scenario;

use super::CliError;
use super::run::load;

/// One thing to run and report.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Name in tables and charts: the algorithm, the varied value, or both.
    pub label: String,
    /// The algorithm's label (its name, with any parameter that differs from the default).
    pub algorithm: String,
    /// The varied keys and their values (`--axis` or a sweep point), in order.
    pub factors: Vec<(String, String)>,
    /// The world.
    pub world: WorldConfig,
    /// Every override that makes this variant from the scenario file, in the order
    /// applied (`lblab run FILE --set …` with these reproduces it).
    pub sets: Vec<String>,
}

/// Where a command's algorithms come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AlgSource<'a> {
    /// Named on the command line (`-a`, `--algorithms`).
    Named(&'a [String]),
    /// The scenario's `[compare] algorithms` list.
    Compare,
    /// The scenario's own `[balancer]`.
    Own,
}

/// One algorithm of a plan: the override that selects it (none for the scenario's own),
/// its catalogue entry, and its label in the scenario's `[compare]` list, if any.
#[derive(Clone, Debug)]
pub(crate) struct AlgChoice {
    set: Option<String>,
    info: &'static AlgorithmInfo,
}

/// The algorithms and user overrides of a command, checked against each other.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The scenario as the command sees it before variants (name, seed, replications,
    /// `[compare]`): loaded with the user's overrides, except `balancer.*` ones when the
    /// algorithms are replaced.
    pub meta: Scenario,
    /// The algorithms, in order.
    pub algs: Vec<AlgChoice>,
    /// The user's `--set`s.
    user: Vec<String>,
    /// What the output must say about the overrides (partial application, dropped file
    /// parameters).
    pub notes: Vec<String>,
}

/// The key path of an override `path=value`, as segments (`servers[1].slots` →
/// `servers`, `1`, `slots`).
fn key_of(set: &str) -> Vec<String> {
    let path = set.split_once('=').map_or(set, |(k, _)| k).trim();
    path.split(['.', '['])
        .map(|s| s.trim_end_matches(']').trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn key_str(set: &str) -> String {
    key_of(set).join(".")
}

/// `balancer.KEY` for a parameter override; `None` for other keys and for
/// `balancer` / `balancer.algorithm` themselves.
fn balancer_param(set: &str) -> Option<String> {
    let k = key_of(set);
    (k.len() >= 2 && k[0] == "balancer" && k[1] != "algorithm" && k[1] != "label")
        .then(|| k[1].clone())
}

/// Whether the override chooses the algorithm (`balancer=…`, `balancer.algorithm=…`).
fn chooses_algorithm(set: &str) -> bool {
    let k = key_of(set);
    k.first().is_some_and(|f| f == "balancer") && (k.len() == 1 || k[1] == "algorithm")
}

/// Whether two key paths overlap (equal, or one inside the other).
fn overlaps(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len());
    n > 0 && a[..n] == b[..n]
}

/// A duration exactly, in the largest unit that divides it.
fn exact_duration(t: SimTime) -> String {
    let ns = t.as_nanos();
    for (unit, scale) in [("s", 1_000_000_000u64), ("ms", 1_000_000), ("us", 1_000)] {
        if ns.is_multiple_of(scale) && ns > 0 {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The override that makes `spec` the algorithm: it replaces the whole `[balancer]` table
/// with `spec`'s name, its non-default parameters and its label (when it has its own).
pub(crate) fn balancer_set(spec: &AlgorithmSpec) -> String {
    let info = spec.info();
    let mut parts = vec![format!("algorithm = {}", toml_str(info.name))];
    for (k, v) in spec.params().non_default(info.params) {
        let v = match v {
            ParamValue::Int(x) => x.to_string(),
            ParamValue::Float(x) => format!("{x:?}"),
            ParamValue::Duration(t) => toml_str(&exact_duration(t)),
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Word(w) => toml_str(w),
        };
        parts.push(format!("{k} = {v}"));
    }
    let derived = AlgorithmSpec::new(info, spec.params().clone(), None).name();
    if spec.name() != derived {
        parts.push(format!("label = {}", toml_str(&spec.name())));
    }
    format!("balancer={{ {} }}", parts.join(", "))
}

/// The override that makes `name` the algorithm with its default parameters.
pub(crate) fn replace_balancer(name: &str) -> String {
    format!("balancer={{ algorithm = {} }}", toml_str(name))
}

fn accepts(info: &AlgorithmInfo, param: &str) -> bool {
    info.params.iter().any(|p| p.key == param)
}

/// Which of `algs` balancer parameter `param` (set by `what`) reaches: an error naming them
/// if none has it, a note if only some do (the others run without it).
fn reach(
    algs: &[AlgChoice],
    what: &str,
    param: &str,
    error_hint: &str,
    note_tail: &str,
) -> Result<Option<String>, CliError> {
    let (yes, no): (Vec<&AlgChoice>, Vec<&AlgChoice>) =
        algs.iter().partition(|a| accepts(a.info, param));
    if yes.is_empty() {
        return Err(CliError::Input(format!(
            "lblab: {what}: no algorithm here has a parameter `{param}` ({}){error_hint}",
            names(&no)
        )));
    }
    Ok((!no.is_empty()).then(|| {
        format!(
            "{what} applies to {} only ({} has no `{param}`){note_tail}",
            names(&yes),
            names(&no)
        )
    }))
}

fn names(algs: &[&AlgChoice]) -> String {
    algs.iter()
        .map(|a| a.info.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Plan {
    /// Resolves the algorithms of a command and checks the user's overrides against them.
    pub(crate) fn new(
        file: &Path,
        user: &[String],
        source: AlgSource<'_>,
        what: &str,
    ) -> Result<Plan, CliError> {
        let input = |m: String| CliError::Input(format!("lblab: {m}"));
        // The scenario without the user's balancer parameters: they may be meant for
        // algorithms other than the file's own.
        let no_bal: Vec<String> = user
            .iter()
            .filter(|s| key_of(s).first().map(String::as_str) != Some("balancer"))
            .cloned()
            .collect();
        let pre = load(file, &no_bal)?;
        if what != "trace" && !pre.world.preset.is_empty() {
            return Err(input(format!(
                "{}: [trace.preset] is for `lblab trace` (its phantom in-flight requests never complete and would distort every result); remove it to `lblab {what}` this scenario",
                file.display()
            )));
        }
        let source = match source {
            AlgSource::Compare if pre.compare.is_empty() => AlgSource::Own,
            s => s,
        };
        let mut notes = pre.warnings.clone();
        let algs: Vec<AlgChoice> = match source {
            AlgSource::Own => {
                let meta = load(file, user)?;
                let alg = AlgChoice {
                    set: None,
                    info: meta.world.algorithm.info(),
                };
                return Ok(Plan {
                    meta,
                    algs: vec![alg],
                    user: user.to_vec(),
                    notes,
                });
            }
            AlgSource::Named(list) => {
                if let Some(s) = user.iter().find(|s| chooses_algorithm(s)) {
                    return Err(input(format!(
                        "--set {s} chooses the algorithm, and so does {}; give the algorithm once",
                        if list.len() == 1 {
                            "-a"
                        } else {
                            "--algorithms"
                        }
                    )));
                }
                let own = &pre.world.algorithm;
                let dropped = own.params().non_default(own.info().params);
                if !dropped.is_empty() {
                    let kv: Vec<String> = dropped
                        .iter()
                        .filter(|(k, _)| {
                            !user
                                .iter()
                                .any(|s| balancer_param(s).as_deref() == Some(*k))
                        })
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect();
                    if !kv.is_empty() {
                        notes.push(format!(
                            "the scenario's [balancer] {} (for {}) is not carried over to the algorithms named on the command line; add --set balancer.KEY=VALUE to keep it",
                            kv.join(", "),
                            own.info().name
                        ));
                    }
                }
                let mut out = Vec::new();
                for name in list {
                    let info = crate::balancer::lookup(name).ok_or_else(|| {
                        // Let the scenario reader produce its located "did you mean".
                        match load(file, &[replace_balancer(name)]) {
                            Err(e) => e,
                            Ok(_) => input(format!("unknown algorithm \"{name}\"")),
                        }
                    })?;
                    out.push(AlgChoice {
                        set: Some(replace_balancer(name)),
                        info,
                    });
                }
                out
            }
            AlgSource::Compare => {
                if let Some(s) = user.iter().find(|s| chooses_algorithm(s)) {
                    return Err(input(format!(
                        "--set {s} chooses the algorithm, but `lblab {what}` runs the scenario's [compare] algorithms; name them with --algorithms instead"
                    )));
                }
                pre.compare
                    .iter()
                    .map(|spec| AlgChoice {
                        set: Some(balancer_set(spec)),
                        info: spec.info(),
                    })
                    .collect()
            }
        };
        // A balancer parameter applies to the algorithms that have it.
        for s in user.iter().filter(|s| balancer_param(s).is_some()) {
            let p = balancer_param(s).expect("filtered");
            let what = format!("--set {s}");
            notes.extend(reach(
                &algs,
                &what,
                &p,
                "; `lblab list algorithms` lists each one's parameters",
                "",
            )?);
        }
        let first = algs.first().and_then(|a| a.set.clone());
        let mut sets: Vec<String> = first.into_iter().collect();
        sets.extend(
            user.iter()
                .filter(|s| balancer_param(s).is_none_or(|p| accepts(algs[0].info, &p)))
                .cloned(),
        );
        let meta = load(file, &sets)?;
        Ok(Plan {
            meta,
            algs,
            user: user.to_vec(),
            notes,
        })
    }

    /// Checks varied keys (`--axis`, `--param`) against the user's overrides and the
    /// algorithms: a key set and varied at once, or a balancer parameter none of the
    /// algorithms has, is refused; one only some have is noted.
    pub(crate) fn check_varied(&mut self, keys: &[String], flag: &str) -> Result<(), CliError> {
        let input = |m: String| CliError::Input(format!("lblab: {m}"));
        for key in keys {
            let k = key_of(key);
            if let Some(s) = self.user.iter().find(|s| overlaps(&key_of(s), &k)) {
                return Err(input(format!(
                    "{flag} {} varies what --set {s} fixes; drop one of them",
                    k.join(".")
                )));
            }
            if chooses_algorithm(key) && self.algs.iter().any(|a| a.set.is_some()) {
                return Err(input(format!(
                    "{flag} {} varies the algorithm, which is already chosen by {}; use --algorithms to compare algorithms",
                    k.join("."),
                    if self.algs.len() == 1 {
                        "-a"
                    } else {
                        "the algorithm list"
                    }
                )));
            }
            if let Some(p) = balancer_param(key) {
                let what = format!("{flag} {}", k.join("."));
                let note = reach(
                    &self.algs,
                    &what,
                    &p,
                    "",
                    ": their rows repeat one configuration",
                )?;
                self.notes.extend(note);
            }
        }
        Ok(())
    }

    /// The overrides of algorithm `i` with the varied `extra` sets (`key=value`), in the
    /// order they are applied; balancer parameters the algorithm lacks are left out (the
    /// plan's notes say so).
    pub(crate) fn sets(&self, i: usize, extra: &[String]) -> Vec<String> {
        let a = &self.algs[i];
        let fits = |s: &&String| balancer_param(s).is_none_or(|p| accepts(a.info, &p));
        let mut out: Vec<String> = a.set.iter().cloned().collect();
        out.extend(self.user.iter().filter(fits).cloned());
        out.extend(extra.iter().filter(fits).cloned());
        out
    }

    /// Loads variant `i` × `extra` and labels it.
    pub(crate) fn variant(
        &self,
        file: &Path,
        i: usize,
        extra: &[String],
        apply: &dyn Fn(&mut Scenario),
    ) -> Result<(Variant, Scenario), CliError> {
        let sets = self.sets(i, extra);
        let mut sc = load(file, &sets)?;
        apply(&mut sc);
        // The algorithm's name without the varied keys (they have their own columns).
        let algorithm = if extra.iter().any(|s| balancer_param(s).is_some()) {
            load(file, &self.sets(i, &[]))?.world.algorithm.name()
        } else {
            sc.world.algorithm.name()
        };
        let factors: Vec<(String, String)> = extra
            .iter()
            .filter_map(|s| s.split_once('='))
            .map(|(k, v)| (key_str(k), v.trim().to_string()))
            .collect();
        let label = match (factors.is_empty(), self.algs.len()) {
            (true, _) => algorithm.clone(),
            (false, 1) => factor_label(&factors),
            (false, _) => format!("{algorithm} {}", factor_label(&factors)),
        };
        Ok((
            Variant {
                label,
                algorithm,
                factors,
                world: sc.world.clone(),
                sets,
            },
            sc,
        ))
    }
}

/// What `lblab compare FILE` runs: the scenario (for the run's identity, with `apply`d
/// seed and replications), its variants in order, and the notes the output must carry.
/// `algorithms` are `--algorithms` (empty: the scenario's `[compare]` list), `axis` is
/// `--axis KEY=V1,V2` (none: the scenario's `[compare] axis`, if any).
pub fn compare_variants(
    file: &Path,
    user: &[String],
    algorithms: &[String],
    axis: Option<&str>,
    apply: &dyn Fn(&mut Scenario),
) -> Result<(Scenario, Vec<Variant>, Vec<String>), CliError> {
    let source = if !algorithms.is_empty() {
        AlgSource::Named(algorithms)
    } else if axis.is_some() {
        AlgSource::Own
    } else {
        AlgSource::Compare
    };
    let mut plan = Plan::new(file, user, source, "compare")?;
    let mut s = plan.meta.clone();
    apply(&mut s);
    // The key to vary: --axis, else the scenario's [compare] axis.
    let axis_spec = axis.map(str::to_string).or_else(|| s.compare_axis.clone());
    if axis_spec.is_none() && algorithms.is_empty() && s.compare.is_empty() {
        return Err(CliError::Input(format!(
            "lblab: {} lists no algorithms to compare: add [compare] algorithms = [...], pass --algorithms a,b,c, or vary a key with --axis",
            file.display()
        )));
    }
    let mut varied: Vec<String> = Vec::new();
    let axis: Vec<Vec<String>> = match &axis_spec {
        None => vec![Vec::new()],
        Some(spec) => {
            let (key, values) = spec
                .split_once('=')
                .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
                .ok_or_else(|| {
                    CliError::Input(format!(
                        "lblab: --axis expects KEY=V1,V2,..., found \"{spec}\""
                    ))
                })?;
            if key.trim().starts_with("scenario.") {
                return Err(CliError::Input(format!(
                    "lblab: --axis cannot vary {}: a comparison shares its seed, replications and run length; run separately with --set",
                    key.trim()
                )));
            }
            varied.push(key.trim().to_string());
            plan.check_varied(&varied, "--axis")?;
            crate::scenario::overrides::split_values(values)
                .into_iter()
                .map(|v| vec![format!("{}={}", key.trim(), v.trim())])
                .collect()
        }
    };
    let mut variants = Vec::new();
    for i in 0..plan.algs.len() {
        for extra in &axis {
            variants.push(plan.variant(file, i, extra, apply)?.0);
        }
    }
    plan.notes.extend(hidden_differences(&variants, &varied));
    if varied.iter().any(|k| k == "lb.preset") {
        let names: Vec<&str> = axis
            .iter()
            .filter_map(|e| e.first())
            .filter_map(|s| s.split_once('=').map(|(_, v)| v))
            .collect();
        plan.notes.extend(preset_differences(&names));
    }
    let mut seen: Vec<&str> = Vec::new();
    for v in &variants {
        if seen.contains(&v.label.as_str()) {
            return Err(CliError::Input(format!(
                "lblab: \"{}\" appears twice in the comparison",
                v.label
            )));
        }
        seen.push(&v.label);
    }
    Ok((s, variants, plan.notes))
}

/// How the note on what compared presets set differently starts.
pub const PRESET_PREFIX: &str = "the presets set differently: ";

/// How the note on a scenario's `[import]` starts (what it could not translate).
pub const IMPORT_PREFIX: &str = crate::scenario::IMPORT_PREFIX;

/// Whether a comparison's note says what it compares, not a hidden difference: what the
/// presets it compares set differently, or what a scenario's `[import]` left out.
pub fn is_declared(note: &str) -> bool {
    note.starts_with(PRESET_PREFIX) || note.starts_with(IMPORT_PREFIX)
}

/// One line naming every setting that the presets `names` do not share (each preset's
/// value, "—" where it leaves the key to the scenario), so that a comparison of presets
/// says what it varies.
pub(crate) fn preset_differences(names: &[&str]) -> Option<String> {
    let presets: Vec<&crate::scenario::presets::Preset> = names
        .iter()
        .filter_map(|n| crate::scenario::presets::lookup(n))
        .collect();
    let mut keys: Vec<&str> = Vec::new();
    for p in &presets {
        for s in p.settings {
            let k = s.split_once('=').map_or(*s, |(k, _)| k);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let value = |p: &crate::scenario::presets::Preset, k: &str| {
        p.settings
            .iter()
            .find_map(|s| s.split_once('=').filter(|(kk, _)| *kk == k).map(|(_, v)| v))
    };
    let diffs: Vec<String> = keys
        .iter()
        .filter(|k| presets.windows(2).any(|w| value(w[0], k) != value(w[1], k)))
        .map(|k| {
            let each: Vec<String> = presets
                .iter()
                .map(|p| format!("{} {}", p.name, value(p, k).unwrap_or("—")))
                .collect();
            format!("{k} ({})", each.join(", "))
        })
        .collect();
    (!diffs.is_empty()).then(|| format!("{PRESET_PREFIX}{}", diffs.join("; ")))
}

/// nginx's passive check of a variant: `(max_fails, fail_timeout)`, or none.
type Check = Option<(u32, SimTime)>;

/// How the note on differences besides the compared factor starts.
pub(crate) const HIDDEN_PREFIX: &str = "not only the algorithm differs: ";

/// One line when the variants differ in more than what is compared: today, nginx's
/// passive `max_fails` check that the nginx algorithms carry by default and others do not.
pub(crate) fn hidden_differences(variants: &[Variant], varied: &[String]) -> Option<String> {
    // Varying the check itself (or the whole balancer table) is what is compared.
    if varied.iter().any(|k| {
        let k = key_of(k);
        k.first().is_some_and(|f| f == "balancer")
            && (k.len() == 1 || k[1] == "max_fails" || k[1] == "fail_timeout")
    }) {
        return None;
    }
    let checks: Vec<Check> = variants
        .iter()
        .map(|v| v.world.algorithm.passive_checks())
        .collect();
    if checks.windows(2).all(|w| w[0] == w[1]) {
        return None;
    }
    Some(describe_checks(variants, None))
}

/// The note on nginx's passive check: which variants have it (with `max_fails` /
/// `fail_timeout`, and how often it took a server out per replication when `acted` is
/// given, one number per variant) and which do not.
pub(crate) fn describe_checks(variants: &[Variant], acted: Option<&[f64]>) -> String {
    let mut on = Vec::new();
    let mut off = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        match v.world.algorithm.passive_checks() {
            Some((n, t)) => {
                let did = acted
                    .map(|a| format!("; took servers out {:.1}× per replication", a[i]))
                    .unwrap_or_default();
                on.push(format!("{} ({n}/{t}{did})", v.label));
            }
            None => off.push(v.label.as_str()),
        }
    }
    format!(
        "{HIDDEN_PREFIX}nginx's passive check (max_fails/fail_timeout) is on in {} and off in {}; --set balancer.max_fails=0 compares the algorithms alone",
        on.join(", "),
        off.join(", ")
    )
}

/// `key=value` pairs joined by spaces.
pub(crate) fn factor_label(f: &[(String, String)]) -> String {
    f.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--set` arguments, shell-quoted where needed, for a "reproduce with" line.
pub(crate) fn shell_sets(sets: &[String]) -> String {
    sets.iter()
        .map(|s| {
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-=/[],:".contains(c))
            {
                format!(" --set {s}")
            } else {
                format!(" --set '{}'", s.replace('\'', "'\\''"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_classes() {
        assert_eq!(key_of("servers[1].slots=2"), ["servers", "1", "slots"]);
        assert_eq!(
            balancer_param("balancer.max_fails=0").as_deref(),
            Some("max_fails")
        );
        assert_eq!(balancer_param("balancer.algorithm=x"), None);
        assert!(chooses_algorithm("balancer={ algorithm = \"x\" }"));
        assert!(chooses_algorithm("balancer.algorithm=x"));
        assert!(!chooses_algorithm("balancer.ties=fifo"));
        assert!(overlaps(&key_of("lb.topology"), &key_of("lb")));
        assert!(!overlaps(&key_of("lb.topology"), &key_of("lb.nodes")));
    }

    #[test]
    fn exact_durations_round_trip() {
        assert_eq!(exact_duration(SimTime::from_secs(30)), "30s");
        assert_eq!(exact_duration(SimTime::from_millis(1500)), "1500ms");
        assert_eq!(exact_duration(SimTime(1_234_567)), "1234567ns");
        assert_eq!(exact_duration(SimTime::ZERO), "0ns");
    }

    #[test]
    fn balancer_set_keeps_params_and_label() {
        let info = crate::balancer::lookup("weighted-round-robin").unwrap();
        let mut p = crate::balancer::Params::defaults(info.params);
        p.set("max_fails", ParamValue::Int(3));
        p.set(
            "fail_timeout",
            ParamValue::Duration(SimTime::from_millis(2500)),
        );
        let plain = AlgorithmSpec::new(info, p.clone(), None);
        assert_eq!(
            balancer_set(&plain),
            "balancer={ algorithm = \"weighted-round-robin\", max_fails = 3, fail_timeout = \"2500ms\" }"
        );
        let named = AlgorithmSpec::new(info, p, Some("nginx".into()));
        assert!(balancer_set(&named).ends_with(", label = \"nginx\" }"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_sets(&["a.b=1".into()]), " --set a.b=1");
        assert_eq!(
            shell_sets(&["balancer={ algorithm = \"x\" }".into()]),
            " --set 'balancer={ algorithm = \"x\" }'"
        );
    }
}
