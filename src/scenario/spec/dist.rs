//! Distributions wherever a key takes one: `{ dist = "...", ... }` tables, constant
//! durations and `empirical` traces (read through the injected file reader).

use toml::de::DeValue;

use crate::model::Dist;
use crate::scenario::doc::{Cx, Tbl, V, join};
use crate::scenario::error::did_you_mean;
use crate::scenario::units::parse_duration;

use super::{Reader, span_of};

/// The keys of every kind of distribution (besides `dist`).
const ANY_KIND_KEYS: &[&str] = &[
    "value", "mean", "min", "max", "median", "p99", "mu", "sigma", "alpha", "parts", "file",
    "column", "unit",
];

impl Reader<'_> {
    /// A distribution: a table `{ dist = "...", ... }`, or a duration string (a constant).
    pub(super) fn dist(&mut self, path: &str, v: &V<'_>) -> Option<Dist> {
        match v.get_ref() {
            DeValue::String(_) => {
                return self.cx.duration(path, v).map(|t| Dist::Constant {
                    ns: t.as_nanos() as f64,
                });
            }
            DeValue::Table(_) => {}
            _ => {
                self.cx.err(path, &v.span(), format!("expected a distribution like {{ dist = \"exponential\", mean = \"10ms\" }} or a duration, found {}", crate::scenario::doc::describe(v.get_ref())));
                return None;
            }
        }
        let t = self.cx.table(path, v)?;
        self.dist_table(path, t, &[])
    }

    pub(super) fn dist_table(
        &mut self,
        path: &str,
        t: Tbl<'_, '_>,
        extra: &[&str],
    ) -> Option<Dist> {
        let kinds = [
            "constant",
            "exponential",
            "uniform",
            "lognormal",
            "bounded-pareto",
            "mixture",
            "empirical",
        ];
        let kind = self
            .cx
            .require(
                t,
                "dist",
                &format!("the distribution kind, one of: {}", kinds.join(", ")),
            )
            .and_then(|kv| Some((self.cx.string(&join(path, "dist"), kv)?, kv.span())));
        let keys: Option<&[&str]> = match kind.as_ref().map(|(k, _)| k.as_str()) {
            Some("constant") => Some(&["value"]),
            Some("exponential") => Some(&["mean"]),
            Some("uniform") => Some(&["min", "max"]),
            Some("lognormal") => Some(&["median", "p99", "mu", "sigma"]),
            Some("bounded-pareto") => Some(&["alpha", "min", "max"]),
            Some("mixture") => Some(&["parts"]),
            Some("empirical") => Some(&["file", "column", "unit"]),
            Some(other) => {
                let hint = did_you_mean(other, kinds).map(|s| format!("did you mean `{s}`?"));
                let span = kind.as_ref().map_or(0..0, |(_, s)| s.clone());
                self.cx.err_hint(
                    &join(path, "dist"),
                    &span,
                    format!(
                        "unknown distribution \"{other}\" (expected one of: {})",
                        kinds.join(", ")
                    ),
                    hint,
                );
                None
            }
            None => None,
        };
        let (Some(keys), Some((kind, _))) = (keys, kind) else {
            // Without a known kind, a key that no distribution has (a misspelt `dist`, say)
            // is still reported.
            let mut allowed = vec!["dist"];
            allowed.extend_from_slice(ANY_KIND_KEYS);
            allowed.extend_from_slice(extra);
            self.cx.check_keys(t, &allowed);
            return None;
        };
        let mut allowed = vec!["dist"];
        allowed.extend_from_slice(keys);
        allowed.extend_from_slice(extra);
        self.cx.check_keys(t, &allowed);
        let dur = |cx: &mut Cx, key: &str, what: &str| -> Option<f64> {
            let v = cx.require(t, key, what)?;
            cx.duration(&join(path, key), v)
                .map(|d| d.as_nanos() as f64)
        };
        let positive = |cx: &mut Cx, key: &str, x: Option<f64>| -> Option<f64> {
            match x {
                Some(x) if x > 0.0 => Some(x),
                Some(_) => {
                    cx.err(
                        &join(path, key),
                        &t.t.get(key).map_or(0..0, |v| v.span()),
                        "expected a positive duration, found 0",
                    );
                    None
                }
                None => None,
            }
        };
        match kind.as_str() {
            "constant" => Some(Dist::Constant {
                ns: dur(&mut self.cx, "value", "the constant duration")?,
            }),
            "exponential" => {
                let m = dur(&mut self.cx, "mean", "the mean duration");
                Some(Dist::Exponential {
                    mean_ns: positive(&mut self.cx, "mean", m)?,
                })
            }
            "uniform" => {
                let lo = dur(&mut self.cx, "min", "the lower bound");
                let hi = dur(&mut self.cx, "max", "the upper bound");
                let (lo, hi) = (lo?, hi?);
                if hi < lo {
                    self.cx.err(
                        &join(path, "max"),
                        &t.t.get("max").map_or(0..0, |v| v.span()),
                        "expected max ≥ min",
                    );
                    return None;
                }
                Some(Dist::Uniform {
                    lo_ns: lo,
                    hi_ns: hi,
                })
            }
            "lognormal" => {
                let has = |k: &str| t.t.get(k).is_some();
                if has("mu") || has("sigma") {
                    if has("median") || has("p99") {
                        self.cx.err(
                            path,
                            &span_of(t),
                            "give either median and p99, or mu and sigma, not both",
                        );
                        return None;
                    }
                    let mu = self
                        .cx
                        .require(t, "mu", "the mean of ln(seconds)")
                        .and_then(|v| {
                            self.cx.number(
                                &join(path, "mu"),
                                v,
                                "a number between -50 and 50 (mean of ln of seconds)",
                                |x| x.abs() < 50.0,
                            )
                        });
                    let sigma = self
                        .cx
                        .require(t, "sigma", "the standard deviation of ln(seconds)")
                        .and_then(|v| {
                            self.cx
                                .number(&join(path, "sigma"), v, "a number from 0 to 10", |x| {
                                    (0.0..=10.0).contains(&x)
                                })
                        });
                    // mu is in log-seconds; the model works in log-nanoseconds.
                    Some(Dist::LogNormal {
                        mu: mu? + 1e9f64.ln(),
                        sigma: sigma?,
                    })
                } else {
                    let med = dur(
                        &mut self.cx,
                        "median",
                        "the median duration (or mu and sigma)",
                    );
                    let med = positive(&mut self.cx, "median", med);
                    let p99 = dur(&mut self.cx, "p99", "the 99th-percentile duration");
                    let (med, p99) = (med?, p99?);
                    if p99 <= med {
                        self.cx.err(
                            &join(path, "p99"),
                            &t.t.get("p99").map_or(0..0, |v| v.span()),
                            "expected p99 above the median",
                        );
                        return None;
                    }
                    let d = Dist::lognormal_from_median_p99(med, p99);
                    if let Dist::LogNormal { sigma, .. } = d
                        && sigma > 10.0
                    {
                        self.cx.err(
                            &join(path, "p99"),
                            &t.t.get("p99").map_or(0..0, |v| v.span()),
                            "p99 is too far above the median (sigma > 10)",
                        );
                        return None;
                    }
                    Some(d)
                }
            }
            "bounded-pareto" => {
                let alpha = self
                    .cx
                    .require(t, "alpha", "the shape (tail index) > 0")
                    .and_then(|v| {
                        self.cx.number(
                            &join(path, "alpha"),
                            v,
                            "a shape from 0 to 100 (exclusive of 0)",
                            |x| x > 0.0 && x <= 100.0,
                        )
                    });
                let lo = dur(&mut self.cx, "min", "the lower bound");
                let lo = positive(&mut self.cx, "min", lo);
                let hi = dur(&mut self.cx, "max", "the upper bound");
                let (alpha, lo, hi) = (alpha?, lo?, hi?);
                if hi <= lo {
                    self.cx.err(
                        &join(path, "max"),
                        &t.t.get("max").map_or(0..0, |v| v.span()),
                        "expected max above min",
                    );
                    return None;
                }
                Some(Dist::BoundedPareto {
                    alpha,
                    lo_ns: lo,
                    hi_ns: hi,
                })
            }
            "mixture" => {
                let pv =
                    self.cx
                        .require(t, "parts", "an array of { weight = ..., dist = ..., ... }")?;
                let arr = self.cx.array(&join(path, "parts"), pv)?;
                if arr.is_empty() {
                    self.cx.err(
                        &join(path, "parts"),
                        &pv.span(),
                        "expected at least one part",
                    );
                    return None;
                }
                let mut parts = Vec::new();
                let mut weights = Vec::new();
                let mut ok = true;
                for (i, e) in arr.iter().enumerate() {
                    let pp = format!("{path}.parts[{i}]");
                    let Some(pt) = self.cx.table(&pp, e) else {
                        ok = false;
                        continue;
                    };
                    let w = self
                        .cx
                        .require(pt, "weight", "this part's probability")
                        .and_then(|v| {
                            self.cx
                                .number(&join(&pp, "weight"), v, "a weight in (0, 1]", |x| {
                                    x > 0.0 && x <= 1.0
                                })
                        });
                    let d = self.dist_table(&pp, pt, &["weight"]);
                    match (w, d) {
                        (Some(w), Some(d)) => {
                            weights.push(w);
                            parts.push(d);
                        }
                        _ => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                let sum: f64 = weights.iter().sum();
                if (sum - 1.0).abs() > 1e-6 {
                    self.cx.err(
                        &join(path, "parts"),
                        &pv.span(),
                        format!("expected weights that sum to 1, found {sum}"),
                    );
                    return None;
                }
                let mut acc = 0.0;
                let cumulative = weights
                    .iter()
                    .map(|w| {
                        acc += w;
                        acc
                    })
                    .collect();
                Some(Dist::Mixture { cumulative, parts })
            }
            "empirical" => self.empirical(path, t),
            _ => None,
        }
    }

    pub(super) fn empirical(&mut self, path: &str, t: Tbl<'_, '_>) -> Option<Dist> {
        let fv = self
            .cx
            .require(t, "file", "a CSV file path (relative to the scenario)")?;
        let file = self.cx.string(&join(path, "file"), fv)?;
        let column = match t.t.get("column") {
            Some(v) => Some(self.cx.string(&join(path, "column"), v)?),
            None => None,
        };
        let unit_ns = match t.t.get("unit") {
            Some(v) => {
                let u = self.cx.string(&join(path, "unit"), v)?;
                match crate::scenario::units::unit_ns(&u) {
                    Some(ns) => ns,
                    None => {
                        self.cx.err(
                            &join(path, "unit"),
                            &v.span(),
                            format!(
                                "expected a time unit ({}), found \"{u}\"",
                                crate::scenario::units::UNITS
                            ),
                        );
                        return None;
                    }
                }
            }
            None => 1e9,
        };
        let full = self.base_dir.join(&file);
        let fpath = join(path, "file");
        let span = fv.span();
        let text = match (self.read)(&full) {
            Ok(t) => t,
            Err(e) => {
                self.cx.err(
                    &fpath,
                    &span,
                    format!("cannot read {}: {e}", full.display()),
                );
                return None;
            }
        };
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = match rdr.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                self.cx.err(
                    &fpath,
                    &span,
                    format!("{}: not a CSV file: {e}", full.display()),
                );
                return None;
            }
        };
        let col = match &column {
            Some(c) => match headers.iter().position(|h| h == c) {
                Some(i) => i,
                None => {
                    let hint =
                        did_you_mean(c, headers.iter()).map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        &join(path, "column"),
                        &t.t.get("column").map_or(0..0, |v| v.span()),
                        format!(
                            "{} has no column \"{c}\" (columns: {})",
                            full.display(),
                            headers.iter().collect::<Vec<_>>().join(", ")
                        ),
                        hint,
                    );
                    return None;
                }
            },
            None => 0,
        };
        let mut values = Vec::new();
        for (row, rec) in rdr.records().enumerate() {
            let line = row + 2;
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    self.cx.err(
                        &fpath,
                        &span,
                        format!("{} line {line}: {e}", full.display()),
                    );
                    return None;
                }
            };
            let Some(cell) = rec.get(col) else {
                self.cx.err(
                    &fpath,
                    &span,
                    format!("{} line {line}: missing column {}", full.display(), col + 1),
                );
                return None;
            };
            let ns = match cell.parse::<f64>() {
                Ok(x) => x * unit_ns,
                Err(_) => {
                    match parse_duration(cell) {
                        Ok(d) => d.as_nanos() as f64,
                        Err(_) => {
                            self.cx.err(&fpath, &span, format!("{} line {line}: expected a number or a duration, found \"{cell}\"", full.display()));
                            return None;
                        }
                    }
                }
            };
            if !ns.is_finite() || !(0.0..=1e18).contains(&ns) {
                self.cx.err(
                    &fpath,
                    &span,
                    format!(
                        "{} line {line}: expected a non-negative duration, found \"{cell}\"",
                        full.display()
                    ),
                );
                return None;
            }
            values.push(ns);
        }
        if values.is_empty() {
            self.cx.err(
                &fpath,
                &span,
                format!("{} has no data rows", full.display()),
            );
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Dist::Empirical { values_ns: values })
    }
}
