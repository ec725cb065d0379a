//! The "Services" section of report.html (scenarios with `[[services]]`): the latency
//! breakdown by service, then one panel per service with its figures per variant and its
//! chart over time.

use std::fmt::Write as _;

use super::charts::{Chart, colour_hex};
use super::html::{cell, esc};
use super::results::Results;

/// Whether the report has a Services section.
pub(super) fn has_services(r: &Results) -> bool {
    r.services.as_ref().is_some_and(|s| !s.is_empty())
}

/// Whether chart `c` belongs to the Services section rather than Charts.
pub(super) fn is_service_chart(c: &Chart) -> bool {
    c.name == "latency-breakdown" || c.name.starts_with("service-")
}

fn figure(o: &mut String, c: &Chart) {
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

/// The section: breakdown chart, then a panel per service.
pub(super) fn services(o: &mut String, r: &Results, charts: &[Chart]) {
    let Some(rows) = r.services.as_ref().filter(|s| !s.is_empty()) else {
        return;
    };
    let all = r.algorithms();
    o.push_str("<section id=\"services\">\n<h2>Services</h2>\n");
    o.push_str("<p class=\"note\">Every request to a service counts: clients’ and other services’ calls, each caller’s retry as a request. Means over replications ± their 95% confidence interval (services.csv; the classes are in classes.csv, the time per hop in hops.csv).</p>\n");
    if let Some(c) = charts.iter().find(|c| c.name == "latency-breakdown") {
        figure(o, c);
    }
    let mut names: Vec<&str> = Vec::new();
    for s in rows {
        if !names.contains(&s.service.as_str()) {
            names.push(&s.service);
        }
    }
    for name in names {
        let _ = writeln!(
            o,
            "<div class=\"panel\" id=\"service-{0}\">\n<h3>{0}</h3>",
            esc(name)
        );
        o.push_str("<div class=\"table-wrap\"><table>\n<thead><tr><th>variant</th><th>requests per client request</th><th>latency p50 (ms)</th><th>latency p99 (ms)</th><th>error rate (%)</th><th>answered (req/s)</th><th>utilization (%)</th></tr></thead>\n<tbody>\n");
        for s in rows.iter().filter(|s| s.service == name) {
            let i = all.iter().position(|a| *a == s.algorithm).unwrap_or(0);
            if s.requests.mean == 0.0 {
                let _ = writeln!(
                    o,
                    "<tr><td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td colspan=\"6\" class=\"unit\">no requests</td></tr>",
                    colour_hex(i, &all),
                    esc(&s.algorithm)
                );
                continue;
            }
            let _ = writeln!(
                o,
                "<tr><td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                colour_hex(i, &all),
                esc(&s.algorithm),
                cell(&s.attempts_per_client_request, 3),
                cell(&s.p50_ms, 3),
                cell(&s.p99_ms, 3),
                cell(&s.error_rate_pct, 2),
                cell(&s.throughput_rps, 1),
                cell(&s.utilization_pct, 1),
            );
        }
        o.push_str("</tbody></table></div>\n");
        if let Some(c) = charts.iter().find(|c| c.name == format!("service-{name}")) {
            figure(o, c);
        }
        o.push_str("</div>\n");
    }
    o.push_str("</section>\n");
}
