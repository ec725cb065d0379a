//! `report.html`: one self-contained page per results directory. Inline CSS, the charts
//! as inline SVG, no scripts and no external resources, so it opens offline, attaches to
//! an email and archives with the CSVs.
//!
//! Sections: the scenario (title, description, parameters, run shape), what stands out
//! (generated: best and worst algorithm per key metric, and differences whose 95%
//! confidence intervals do not overlap), the comparison table (mean ± 95% CI, best per row
//! highlighted), the charts, failovers (when the scenario injects failures) and how the
//! run was made (command line, seed, version). The page is a pure function of the results
//! and the charts: the same inputs give the same bytes.

use std::fmt::Write;

use super::charts::{Chart, colour_hex, fmt_num};

use super::highlights::{best_classes, better, bullets, failing_in_summary, flattered_by_failure};
use super::results::{Estimate, Results};
use crate::metrics::METRICS;

/// Label, unit and decimals of a metric column (from [`METRICS`], else from its name).
pub(super) fn describe(key: &str) -> (String, String, usize) {
    if let Some(m) = METRICS.iter().find(|m| m.key == key) {
        return (m.label.trim().to_string(), m.unit.to_string(), m.decimals);
    }
    let unit = [("_ms", "ms"), ("_pct", "%"), ("_rps", "req/s"), ("_s", "s")]
        .iter()
        .find(|(suffix, _)| key.ends_with(suffix))
        .map_or("", |(_, u)| u);
    (key.replace('_', " "), unit.to_string(), 3)
}

pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Escaped, with line-break opportunities after the separators of key paths and values.
fn breakable(s: &str) -> String {
    esc(s)
        .replace('.', ".<wbr>")
        .replace('=', "=<wbr>")
        .replace(',', ",<wbr>")
}

pub(super) fn possessive(name: &str) -> String {
    if name.ends_with('s') {
        format!("{name}’")
    } else {
        format!("{name}’s")
    }
}

pub(super) fn pct(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}%")
    } else if x >= 1.0 {
        format!("{x:.1}%")
    } else {
        format!("{x:.2}%")
    }
}

/// `v` to four significant digits (whole numbers from 1000 up).
pub(super) fn sig4(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a >= 1000.0 || a == 0.0 {
        return format!("{v:.0}");
    }
    let d = (3 - a.log10().floor() as i32).clamp(0, 8) as usize;
    format!("{v:.d$}")
}

pub(super) fn with_unit(v: f64, unit: &str) -> String {
    match unit {
        "" => sig4(v),
        "x" => format!("{}×", sig4(v)),
        "%" => format!("{}%", sig4(v)),
        u => format!("{} {u}", sig4(v)),
    }
}

const CSS: &str = "
:root { --ink: #222; --muted: #666; --rule: #ddd; --best: #e3eef8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
.desc { font-size: 17px; margin: 4px 0 12px; }
.facts, .note, .files, footer { color: var(--muted); font-size: 13px; }
nav { font-size: 14px; margin: 12px 0; }
nav a { margin-right: 14px; }
a { color: #0062a0; }
code { font: 13px/1.4 ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace;
  background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
ul.params { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 6px 8px; }
ul.params li code { font-size: 13px; }
ul.stand-out li { margin: 6px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { font-weight: 600; vertical-align: bottom; border-bottom: 2px solid var(--rule);
  white-space: normal; overflow-wrap: break-word; max-width: 11em; }
th:first-child, td:first-child { text-align: left; }
td.sub { padding-left: 26px; color: var(--muted); }
td.unit { color: var(--muted); text-align: left; }
td.best { background: var(--best); }
td.best.clear { font-weight: 700; }
.ci { color: var(--muted); font-weight: 400; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 5px; vertical-align: baseline; }
figure { margin: 26px 0; }
figcaption { margin-bottom: 6px; }
figure svg { width: 100%; height: auto; max-width: 900px; display: block; border: 1px solid #eee; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
h3 { font-size: 17px; margin: 24px 0 6px; }
.panel { border-top: 1px solid #eee; margin-top: 18px; }
footer { margin-top: 40px; border-top: 1px solid var(--rule); padding-top: 8px; }
";

/// Formats the mean and its 95% interval at `decimals`: `12.3 ± 0.4`, or `1339 −120/+134`
/// where the interval is asymmetric (see [`super::table::interval_text`]).
pub(super) fn cell(e: &Estimate, decimals: usize) -> String {
    if !e.mean.is_finite() {
        return "n/a".into();
    }
    let (mean, ci) = super::table::interval_text(e.mean, e.lo, e.hi, decimals);
    if ci.is_empty() {
        mean
    } else {
        format!("{mean} <span class=\"ci\">{ci}</span>")
    }
}

fn alg_header(o: &mut String, algs: &[String], all: &[String]) {
    for a in algs {
        let i = all.iter().position(|x| x == a).unwrap_or(0);
        let _ = write!(
            o,
            "<th><span class=\"sw\" style=\"background:{}\"></span>{}</th>",
            colour_hex(i, all),
            breakable(a)
        );
    }
}

fn comparison(o: &mut String, r: &Results) {
    let all = r.algorithms();
    if let Some(s) = &r.summary {
        let algs: Vec<String> = all
            .iter()
            .filter(|a| s.algorithms.contains(a))
            .cloned()
            .collect();
        o.push_str("<p class=\"note\">Means over replications ± their 95% confidence interval (−below/+above where it is asymmetric: intervals stay in each metric’s range, positive for latencies and times, on a log scale where skewed); the best value of each row is highlighted, in bold where its 95% CI overlaps no other variant’s.</p>\n");
        let failing = failing_in_summary(r);
        o.push_str("<div class=\"table-wrap\"><table>\n<thead><tr><th>metric</th>");
        alg_header(o, &algs, &all);
        o.push_str("<th>unit</th></tr></thead>\n<tbody>\n");
        let mut zero = Vec::new();
        let mut marked = false;
        for key in &s.metrics {
            let ests: Vec<Option<Estimate>> = algs.iter().map(|a| s.estimate(a, key)).collect();
            let (label, unit, decimals) = describe(key);
            if super::table::uninformative(ests.iter().map(|e| e.map_or(f64::NAN, |e| e.mean))) {
                zero.push(label);
                continue;
            }
            let excluded: Vec<bool> = algs
                .iter()
                .map(|a| flattered_by_failure(key) && failing.excludes(a))
                .collect();
            let sub = METRICS
                .iter()
                .any(|m| m.key == key && m.label.starts_with(' '));
            let classes = best_classes(&ests, better(key), &excluded);
            let _ = write!(
                o,
                "<tr><td{}>{}</td>",
                if sub { " class=\"sub\"" } else { "" },
                esc(&label)
            );
            for (i, e) in ests.iter().enumerate() {
                let mut c = e.map_or_else(|| "n/a".to_string(), |e| cell(&e, decimals));
                if excluded[i] && e.is_some_and(|e| e.mean.is_finite()) {
                    c.push_str("<sup>†</sup>");
                    marked = true;
                }
                let _ = write!(o, "<td{}>{c}</td>", classes[i]);
            }
            let _ = writeln!(o, "<td class=\"unit\">{}</td></tr>", esc(&unit));
        }
        o.push_str("</tbody></table></div>\n");
        if !zero.is_empty() {
            let _ = writeln!(
                o,
                "<p class=\"note\">Zero or n/a for every variant (not shown): {}.</p>",
                esc(&zero.join(", "))
            );
        }
        if let Some(why) = failing.sentence().filter(|_| marked) {
            let _ = writeln!(o, "<p class=\"note\">† Not marked best: {why}</p>");
        }
    }
    if let Some(sw) = &r.sweep {
        let algs: Vec<String> = all
            .iter()
            .filter(|a| sw.algorithms.contains(a))
            .cloned()
            .collect();
        for key in ["latency_p99_ms", "throughput_rps"] {
            if !sw.metrics.iter().any(|m| m == key) {
                continue;
            }
            let (label, unit, decimals) = describe(key);
            let _ = write!(
                o,
                "<h3>{} ({}) at each sweep point</h3>\n<div class=\"table-wrap\"><table>\n<thead><tr>",
                esc(&label),
                esc(&unit)
            );
            for k in &sw.keys {
                let _ = write!(o, "<th>{}</th>", breakable(k));
            }
            alg_header(o, &algs, &all);
            o.push_str("</tr></thead>\n<tbody>\n");
            for (p, settings) in sw.points() {
                o.push_str("<tr>");
                for v in &settings {
                    let _ = write!(o, "<td>{}</td>", esc(v));
                }
                let ests: Vec<Option<Estimate>> =
                    algs.iter().map(|a| sw.estimate(a, p, key)).collect();
                let classes = best_classes(&ests, better(key), &[]);
                for (i, e) in ests.iter().enumerate() {
                    let c = e.map_or_else(|| "n/a".to_string(), |e| cell(&e, decimals));
                    let _ = write!(o, "<td{}>{c}</td>", classes[i]);
                }
                o.push_str("</tr>\n");
            }
            o.push_str("</tbody></table></div>\n");
        }
    }
}

fn failovers(o: &mut String, r: &Results) {
    let Some(fs) = &r.failovers else { return };
    o.push_str("<section id=\"failovers\">\n<h2>Failovers</h2>\n");
    o.push_str("<p class=\"note\">Per algorithm, over all injected failures, load balancer nodes and replications: how long until a node marked the failed server down (detection) and back up after the repair (recovery), and the attempts sent to it meanwhile. False ejections: healthy servers marked down.</p>\n");
    o.push_str("<div class=\"table-wrap\"><table>\n<thead><tr><th>algorithm</th><th>faults × nodes per replication</th><th>detected</th><th>detection mean</th><th>detection max</th><th>recovery mean</th><th>sent to failed server per replication</th><th>of which failed</th><th>false ejections per replication</th></tr></thead>\n<tbody>\n");
    let all = r.algorithms();
    for (i, a) in all.iter().enumerate() {
        let rows: Vec<_> = fs.iter().filter(|f| &f.algorithm == a).collect();
        if rows.is_empty() {
            continue;
        }
        let mut reps: Vec<u32> = rows.iter().map(|f| f.replication).collect();
        if let Some(s) = &r.summary {
            reps.extend(
                s.rows
                    .iter()
                    .filter(|x| &x.algorithm == a && x.stat == "value")
                    .filter_map(|x| x.replication),
            );
        }
        reps.sort_unstable();
        reps.dedup();
        let n_reps = reps.len().max(1) as f64;
        let det: Vec<f64> = rows.iter().map(|f| f.detection_s).collect();
        let rec: Vec<f64> = rows.iter().map(|f| f.recovery_s).collect();
        let detected = det.iter().filter(|x| x.is_finite()).count();
        let det_max = det
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max);
        let sent: f64 = rows.iter().map(|f| f.sent).filter(|x| x.is_finite()).sum();
        let failed: f64 = rows
            .iter()
            .map(|f| f.failed)
            .filter(|x| x.is_finite())
            .sum();
        let false_ej = r
            .health
            .iter()
            .flatten()
            .filter(|h| &h.algorithm == a && h.false_alarm && h.state == "down")
            .count();
        let _ = writeln!(
            o,
            "<tr><td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td></tr>",
            colour_hex(i, &all),
            esc(a),
            rows.len() as f64 / n_reps,
            pct(100.0 * detected as f64 / rows.len() as f64),
            secs(finite_mean(det.iter().copied())),
            secs(det_max),
            secs(finite_mean(rec.iter().copied())),
            sent / n_reps,
            failed / n_reps,
            false_ej as f64 / n_reps
        );
    }
    o.push_str("</tbody></table></div>\n</section>\n");
}

/// Seconds with three decimals, or "n/a".
pub(super) fn secs(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3} s")
    } else {
        "n/a".into()
    }
}

/// Mean of the finite values (NaN if none).
pub(super) fn finite_mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs
        .filter(|x| x.is_finite())
        .fold((0.0, 0u32), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / f64::from(n) }
}

/// Per algorithm: failures of load balancer nodes and how the tier handled them.
fn lb_failovers(o: &mut String, r: &Results) {
    let Some(fs) = &r.lb_failovers else { return };
    o.push_str("<section id=\"lb-failovers\">\n<h2>Load balancer failovers</h2>\n");
    o.push_str("<p class=\"note\">Per algorithm (or variant), over all failures of load balancer nodes and replications. <b>Failover</b>: from the fault until the tier routed around the node (a backup took the virtual IP, its DNS record was removed, or its anycast route was withdrawn); n/a where nothing routes around it (<code>single</code>). <b>Outage</b>: from the fault until the last request was sent into the dead path. <b>Lost</b>: requests in flight on the node when it crashed or sent to it while down. <b>Reset</b>: requests on other nodes whose connections broke because routing moved their flows.</p>\n");
    o.push_str("<div class=\"table-wrap\"><table>\n<thead><tr><th>algorithm</th><th>node failures</th><th>routed around</th><th>failover mean</th><th>failover max</th><th>outage mean</th><th>lost per failure</th><th>reset per failure</th></tr></thead>\n<tbody>\n");
    for (i, a) in r.algorithms().iter().enumerate() {
        let rows: Vec<_> = fs.iter().filter(|f| &f.algorithm == a).collect();
        if rows.is_empty() {
            continue;
        }
        let fo: Vec<f64> = rows.iter().map(|f| f.failover_s - f.fault_s).collect();
        let routed = fo.iter().filter(|x| x.is_finite()).count();
        let fo_max = fo
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max);
        let outage = finite_mean(rows.iter().map(|f| {
            if f.last_lost_s.is_finite() {
                (f.last_lost_s - f.fault_s).max(0.0)
            } else {
                0.0
            }
        }));
        let n = rows.len() as f64;
        let _ = writeln!(
            o,
            "<tr><td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            colour_hex(i, &r.algorithms()),
            esc(a),
            rows.len(),
            pct(100.0 * routed as f64 / n),
            secs(finite_mean(fo.iter().copied())),
            secs(fo_max),
            secs(outage),
            rows.iter().map(|f| f.lost).sum::<f64>() / n,
            rows.iter().map(|f| f.reset).sum::<f64>() / n,
        );
    }
    o.push_str("</tbody></table></div>\n</section>\n");
}

fn run_facts(o: &mut String, r: &Results, charts: &[Chart]) {
    let m = &r.manifest;
    o.push_str("<section id=\"run\">\n<h2>Run</h2>\n<dl>\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    };
    if !m.present {
        row(
            "manifest",
            "no manifest.toml in this directory: the run is incomplete or the files were copied without it".into(),
        );
    }
    if let Some(c) = &m.command {
        row("command", format!("<code>{}</code>", esc(c)));
    }
    if let Some(f) = &m.scenario_file {
        row("scenario file", format!("<code>{}</code>", esc(f)));
    }
    if let Some(h) = &m.scenario_hash {
        row("scenario hash", format!("<code>{}</code>", esc(h)));
    }
    if let Some(s) = &m.seed {
        row("seed", esc(s));
    }
    if let Some(n) = &m.replications {
        row("replications", esc(n));
    }
    if let Some(d) = m.duration_s {
        row("duration", format!("{} s", fmt_num(d)));
    }
    if let Some(w) = m.warmup_s {
        row("warm-up (excluded)", format!("{} s", fmt_num(w)));
    }
    if let Some(v) = &m.version {
        row("lblab version", esc(v));
    }
    let mut files: Vec<String> = m.files.clone();
    files.push("manifest.toml".into());
    for c in charts {
        files.push(format!("{}.svg", c.name));
        files.push(format!("{}.png", c.name));
    }
    files.push("report.html".into());
    row(
        "files",
        files
            .iter()
            .map(|f| format!("<a href=\"{0}\">{0}</a>", esc(f)))
            .collect::<Vec<_>>()
            .join(" · "),
    );
    o.push_str("</dl>\n<p class=\"note\">Rerun the command to reproduce the CSV files byte for byte (same seed, any number of threads).</p>\n</section>\n");
}

/// Renders `report.html` from the results and their charts.
pub fn report_html(r: &Results, charts: &[Chart]) -> String {
    let m = &r.manifest;
    let scenario = r.scenario();
    let algs = r.algorithms();
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · lblab report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&scenario)
    );
    // Title, description, parameters.
    let _ = writeln!(o, "<header>\n<h1>{}</h1>", esc(&scenario));
    if let Some(d) = &m.description {
        let _ = writeln!(o, "<p class=\"desc\">{}</p>", esc(d));
    }
    for n in &m.notes {
        let _ = writeln!(o, "<p class=\"note\"><b>Note:</b> {}</p>", esc(n));
    }
    if !m.parameters.is_empty() {
        o.push_str("<ul class=\"params\" aria-label=\"parameters\">");
        for p in &m.parameters {
            let _ = write!(o, "<li><code>{}</code></li>", esc(p));
        }
        o.push_str("</ul>\n");
    }
    // Variants of a scenario key (`compare --axis`) are labelled `key=value`.
    let is_axis = |a: &String| {
        a.split_once('=')
            .is_some_and(|(k, _)| k.contains('.') && !k.contains('('))
    };
    let noun = if algs.iter().any(is_axis) {
        "variant"
    } else {
        "algorithm"
    };
    let mut facts = vec![format!(
        "{} {noun}{}: {}",
        algs.len(),
        if algs.len() == 1 { "" } else { "s" },
        algs.iter()
            .enumerate()
            .map(|(i, a)| format!(
                "<span class=\"sw\" style=\"background:{}\"></span>{}",
                colour_hex(i, &algs),
                esc(a)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    if let Some(n) = &m.replications {
        let mut f = format!(
            "{} replication{}",
            esc(n),
            if n.trim() == "1" { "" } else { "s" }
        );
        if let Some(d) = m.duration_s {
            let _ = write!(f, " × {} s", fmt_num(d));
        }
        if let Some(w) = m.warmup_s.filter(|w| *w > 0.0) {
            let _ = write!(f, " ({} s warm-up excluded)", fmt_num(w));
        }
        facts.push(f);
    }
    if let Some(s) = &m.seed {
        facts.push(format!("seed {}", esc(s)));
    }
    let _ = writeln!(o, "<p class=\"facts\">{}</p>\n</header>", facts.join(" · "));
    o.push_str("<nav><a href=\"#stands-out\">What stands out</a><a href=\"#comparison\">Comparison</a><a href=\"#charts\">Charts</a>");
    if super::html_services::has_services(r) {
        o.push_str("<a href=\"#services\">Services</a>");
    }
    if r.failovers.is_some() {
        o.push_str("<a href=\"#failovers\">Failovers</a>");
    }
    if r.lb_failovers.is_some() {
        o.push_str("<a href=\"#lb-failovers\">LB failovers</a>");
    }
    o.push_str("<a href=\"#run\">Run</a></nav>\n");

    // What stands out.
    o.push_str("<section id=\"stands-out\">\n<h2>What stands out</h2>\n");
    let bs = bullets(r);
    if bs.is_empty() {
        o.push_str("<p>Nothing to compare: a single algorithm without key metrics.</p>\n");
    } else {
        o.push_str("<ul class=\"stand-out\">\n");
        for b in bs {
            let _ = writeln!(o, "<li>{b}</li>");
        }
        o.push_str("</ul>\n");
    }
    o.push_str("<p class=\"note\">Generated from the 95% confidence intervals over replications: “CIs do not overlap” means the difference is very unlikely to be chance.</p>\n</section>\n");

    // Comparison.
    o.push_str("<section id=\"comparison\">\n<h2>Comparison</h2>\n");
    comparison(&mut o, r);
    o.push_str("</section>\n");

    // Charts (those of services go to their section).
    o.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    if charts.is_empty() {
        o.push_str("<p>No chart inputs in this directory.</p>\n");
    }
    if super::html_services::has_services(r) {
        o.push_str("<p class=\"note\">The latency breakdown by service and each service’s chart are under <a href=\"#services\">Services</a>.</p>\n");
    }
    for c in charts.iter().filter(|c| {
        !(super::html_services::has_services(r) && super::html_services::is_service_chart(c))
    }) {
        let _ = write!(
            o,
            "<figure id=\"chart-{0}\">\n<figcaption><b>{1}.</b> {2}</figcaption>\n{3}\n\
             <div class=\"files\"><a href=\"{0}.png\">{0}.png</a> · <a href=\"{0}.svg\">{0}.svg</a></div>\n</figure>\n",
            esc(&c.name),
            esc(&c.title),
            esc(&c.caption),
            c.svg.trim_end()
        );
    }
    o.push_str("</section>\n");

    super::html_services::services(&mut o, r, charts);
    failovers(&mut o, r);
    lb_failovers(&mut o, r);
    run_facts(&mut o, r, charts);
    let _ = write!(
        o,
        "<footer>Generated by lblab {} from the files in this directory; rebuild it with <code>lblab report DIR</code>.</footer>\n</main>\n</body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION"))
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts;
    use crate::report::highlights::Better;
    use crate::report::results::fixture;

    fn page(files: &[(&'static str, String)]) -> (String, Vec<Chart>) {
        let r = fixture::load(files);
        let cs = charts::all(&r).unwrap();
        (report_html(&r, &cs), cs)
    }

    #[test]
    fn has_every_section_and_an_inline_svg_per_chart() {
        let (html, cs) = page(&fixture::compare());
        for h in [
            "<h1>fixture</h1>",
            "<h2>What stands out</h2>",
            "<h2>Comparison</h2>",
            "<h2>Charts</h2>",
            "<h2>Failovers</h2>",
            "<h2>Load balancer failovers</h2>",
            "<h2>Run</h2>",
        ] {
            assert!(html.contains(h), "missing {h}");
        }
        assert_eq!(html.matches("<svg ").count(), cs.len());
        assert_eq!(cs.len(), 4);
        for c in &cs {
            assert!(html.contains(&format!("id=\"chart-{}\"", c.name)));
        }
        // Description (escaped), parameters, command line and seed.
        assert!(html.contains("A &lt;small&gt; fixture &amp; friends."));
        assert!(html.contains("<code>clients.rate=900/s</code>"));
        assert!(html.contains("<code>lblab compare fixture.toml</code>"));
        assert!(html.contains("<dt>seed</dt><dd>7</dd>"));
        assert!(html.contains("3 algorithms: "));
    }

    #[test]
    fn is_self_contained() {
        for files in [fixture::compare(), fixture::sweep()] {
            let (html, cs) = page(&files);
            let xmlns = "xmlns=\"http://www.w3.org/2000/svg\"";
            let http = html.matches("http://").count() + html.matches("https://").count();
            assert_eq!(http, html.matches(xmlns).count());
            assert_eq!(html.matches(xmlns).count(), cs.len());
            for bad in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
                assert!(!html.contains(bad), "{bad}");
            }
        }
    }

    #[test]
    fn stand_out_names_best_worst_and_significant_differences() {
        let (html, _) = page(&fixture::compare());
        // round-robin fails 6% of requests, the others none: its latency is left out.
        assert!(
            html.contains("<b>round-robin</b> fails significantly more requests than <b>least-connections</b> (error rate 6.000% vs 0%"),
            "{html}"
        );
        assert!(html.contains("<b>p99 latency</b>: best <b>least-connections</b>"));
        assert!(html.contains("worst <b>power-of-two</b>"));
        assert!(html.contains(
            "least-connections’ p99 latency is 33.3% lower than power-of-two’s (CIs do not overlap)"
        ));
        assert!(html.contains(
            "least-connections’ error rate is 6.00 points lower than round-robin’s (CIs do not overlap)"
        ));
        // round-robin's latency cells carry the mark and the note says why.
        assert!(html.contains("<sup>†</sup>"));
        assert!(html.contains("<p class=\"note\">† Not marked best: <b>round-robin</b> fails"));
        // The best cell of the p99 row is highlighted.
        let row = html
            .lines()
            .find(|l| l.starts_with("<tr><td>latency p99</td>"))
            .unwrap();
        assert_eq!(row.matches("class=\"best").count(), 1);
        let cells: Vec<&str> = row.split("<td").collect();
        assert!(cells[3].starts_with(" class=\"best clear\""), "{row}");
        // Rows that are NaN everywhere are dropped.
        assert!(!html.contains("<td>cache hit ratio</td>"));
    }

    #[test]
    fn sweep_only_directory_has_tables_and_bullets() {
        let (html, cs) = page(&fixture::sweep());
        assert_eq!(cs.len(), 3);
        assert!(html.contains("<h3>latency p99 (ms) at each sweep point</h3>"));
        assert!(html.contains("At <code>clients.rate=900/s, servers.web.slots=2</code>"));
        assert!(!html.contains("<h2>Failovers</h2>"));
    }

    #[test]
    fn rendering_twice_gives_identical_bytes() {
        let (a, _) = page(&fixture::compare());
        let (b, _) = page(&fixture::compare());
        assert_eq!(a, b);
    }

    #[test]
    fn helpers() {
        assert_eq!(better("latency_p99_ms"), Some(Better::Lower));
        assert_eq!(better("throughput_rps"), Some(Better::Higher));
        assert_eq!(better("imbalance_busy_jain"), Some(Better::Higher));
        assert_eq!(better("imbalance_busy_cov"), Some(Better::Lower));
        assert_eq!(better("issued"), None);
        assert_eq!(possessive("least-connections"), "least-connections’");
        assert_eq!(possessive("random"), "random’s");
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(
            describe("foo_bar_ms"),
            ("foo bar ms".into(), "ms".into(), 3)
        );
        assert_eq!(sig4(409.567), "409.6");
        assert_eq!(sig4(1.00512), "1.005");
        assert_eq!(sig4(0.026669), "0.02667");
        assert_eq!(sig4(56120.4), "56120");
        assert_eq!(with_unit(1.0, "x"), "1.000×");
    }
}
