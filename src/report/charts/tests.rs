//! Tests of the charts.

use super::heatmap::viridis;
use super::percentiles::nines_label;
use super::sweep::sweep_axis;
use super::timeseries::markers;
use super::*;
use crate::report::results::fixture;

/// Decodes a PNG: (width, height, distinct colours, share of non-white pixels).
fn decode(png_bytes: &[u8]) -> (u32, u32, usize, f64) {
    let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = dec.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    let mut colours: Vec<[u8; 3]> = px.clone();
    colours.sort_unstable();
    colours.dedup();
    let ink = px.iter().filter(|p| **p != [255, 255, 255]).count();
    (
        info.width,
        info.height,
        colours.len(),
        ink as f64 / px.len() as f64,
    )
}

fn check(c: &Chart) {
    let (w, h, colours, ink) = decode(&c.png);
    assert_eq!((w, h), SIZE, "{}", c.name);
    assert!(colours > 20, "{}: only {colours} colours", c.name);
    assert!(ink > 0.02 && ink < 0.9, "{}: ink {ink}", c.name);
    let n = check_svg(&c.svg).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    assert!(n > 50, "{}: only {n} SVG elements", c.name);
    assert!(c.svg.contains(&c.title.replace('&', "&amp;")), "{}", c.name);
}

#[test]
fn every_compare_chart_renders_to_size_and_is_not_blank() {
    let r = fixture::load(&fixture::compare());
    let charts = all(&r).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "latency-percentiles",
            "latency-summary",
            "server-load",
            "timeseries"
        ]
    );
    for c in &charts {
        check(c);
    }
    // Every algorithm is in the legends.
    for c in &charts {
        for a in r.algorithms() {
            assert!(c.svg.contains(&a), "{} lacks {a}", c.name);
        }
    }
    // The nines axis and the markers.
    assert!(charts[0].svg.contains("99.9%") && charts[0].svg.contains("max"));
    assert!(charts[3].svg.contains("add web-5") && charts[3].svg.contains("marked down"));
    assert!(charts[3].svg.contains("LB node down") && charts[3].svg.contains("LB failover"));
}

/// A sweep charts errors and failover times only where some point has them.
#[test]
fn sweeps_chart_errors_and_failover_times_only_when_present() {
    let mut files = fixture::sweep();
    let csv = &mut files[0].1;
    let mut out = String::new();
    for (i, line) in csv.lines().enumerate() {
        out.push_str(line);
        out.push_str(match i {
            0 => ",error_rate_pct,lb_failover_mean_s\n",
            // Point 5 of round-robin has errors; no point has a failover time.
            _ if line.starts_with("sweep,round-robin,5,") => ",2.5,\n",
            _ => ",0,\n",
        });
    }
    *csv = out;
    let charts = all(&fixture::load(&files)).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sweep-latency_p99_ms",
            "sweep-throughput_rps",
            "sweep-error_rate_pct",
            "heatmap-latency_p99_ms"
        ]
    );
}

/// The load balancer tier's events become markers: the node's down span once (all
/// variants share the failure), and each variant's takeovers in its own colour.
#[test]
fn lb_failovers_are_marked_on_the_timeline() {
    let r = fixture::load(&fixture::compare());
    let algs = r.algorithms();
    let m = markers(&r, &algs, 60.0);
    assert_eq!(m.lb_down, vec![(40.0, 50.0, "lb-1 crash".to_string())]);
    // Replication 0 of each algorithm: lb-2 master at 43 + 0.25·a, lb-1 master at 53.4.
    let mut want = Vec::new();
    for a in 0..3 {
        want.push((43.0 + a as f64 * 0.25, a, true));
        want.push((53.4, a, true));
    }
    let mut got = m.ha.clone();
    got.sort_by(|x, y| (x.1, x.0).partial_cmp(&(y.1, y.0)).unwrap());
    assert_eq!(got, want);
    // A node still down at the end is shaded to the end.
    let mut files = fixture::compare();
    for (n, t) in &mut files {
        if *n == "ha.csv" {
            *t = t
                .lines()
                .filter(|l| !l.contains("restart"))
                .collect::<Vec<_>>()
                .join("\n");
        }
    }
    let m = markers(&fixture::load(&files), &algs, 60.0);
    assert_eq!(m.lb_down, vec![(40.0, 60.0, "lb-1 crash".to_string())]);
}

#[test]
fn sweep_charts_render() {
    let r = fixture::load(&fixture::sweep());
    let charts = all(&r).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sweep-latency_p99_ms",
            "sweep-throughput_rps",
            "heatmap-latency_p99_ms"
        ]
    );
    for c in &charts {
        check(c);
    }
    assert!(charts[0].svg.contains("clients.rate (req/s)"));
}

#[test]
fn undefined_sweep_points_are_shown_as_gaps_and_explained() {
    let full = all(&fixture::load(&fixture::sweep())).unwrap();
    assert!(full.iter().all(|c| !c.caption.contains("undefined")));
    // Round robin's p99 at point 4 (900/s, 1 slot) is undefined: no request completed.
    let files: Vec<(&str, String)> = fixture::sweep()
        .into_iter()
        .map(|(n, t)| {
            if n != "sweep.csv" {
                return (n, t);
            }
            let t = t
                .lines()
                .map(|l| {
                    if l.starts_with("sweep,round-robin,4,") {
                        let cut = l.rfind(',').unwrap();
                        format!("{},\n", &l[..cut])
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            (n, t)
        })
        .collect();
    let charts = all(&fixture::load(&files)).unwrap();
    let curve = charts
        .iter()
        .find(|c| c.name == "sweep-latency_p99_ms")
        .unwrap();
    let heat = charts
        .iter()
        .find(|c| c.name == "heatmap-latency_p99_ms")
        .unwrap();
    assert!(
        curve.caption.contains("A missing point is undefined"),
        "{}",
        curve.caption
    );
    assert!(heat.caption.contains("Grey cells"), "{}", heat.caption);
    // Throughput is still defined everywhere.
    let thr = charts
        .iter()
        .find(|c| c.name == "sweep-throughput_rps")
        .unwrap();
    assert!(!thr.caption.contains("undefined"));
    check(heat);
    assert_ne!(heat.svg, full[2].svg);
}

#[test]
fn only_charts_with_inputs_are_drawn() {
    let files: Vec<_> = fixture::compare()
        .into_iter()
        .filter(|(n, _)| *n == "summary.csv")
        .collect();
    let r = fixture::load(&files);
    let names: Vec<String> = all(&r).unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["latency-summary"]);
}

#[test]
fn rendering_is_deterministic() {
    let r = fixture::load(&fixture::compare());
    let a = all(&r).unwrap();
    let b = all(&r).unwrap();
    assert_eq!(a, b);
}

#[test]
fn ticks_and_labels() {
    assert_eq!(nines_label(0), "min");
    assert_eq!(nines_label(2), "99%");
    assert_eq!(nines_label(3), "99.9%");
    assert_eq!(nines_label(5), "99.999%");
    assert_eq!(fmt_num(0.05), "0.05");
    assert_eq!(fmt_num(2.5), "2.5");
    assert_eq!(fmt_num(43.837), "43.84");
    assert_eq!(fmt_num(980.2), "980");
    assert_eq!(fmt_num(12_000.0), "12k");
    assert_eq!(fmt_num(2_500_000.0), "2.5M");
    assert_eq!(log_ticks(1.0, 1000.0), [1.0, 10.0, 100.0, 1000.0]);
    assert_eq!(log_ticks(8.0, 60.0), [10.0, 15.0, 20.0, 30.0, 50.0]);
    let a = Axis::linear(0.0, 100.0, "");
    let t: Vec<f64> = a.ticks.iter().map(|t| t.0).collect();
    assert_eq!(t, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
    assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
}

#[test]
fn swept_values_become_numbers() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (x, a) = sweep_axis("clients.rate", &s(&["300/s", "1/ms"]));
    assert_eq!(x, [300.0, 1000.0]);
    assert_eq!(a.desc, "clients.rate (req/s)");
    let (x, a) = sweep_axis("health.active.inter", &s(&["250ms", "1s", "2s"]));
    assert_eq!(x, [0.25, 1.0, 2.0]);
    assert_eq!(a.desc, "health.active.inter (s)");
    let (x, a) = sweep_axis("sessions.state", &s(&["server", "shared"]));
    assert_eq!(x, [0.0, 1.0]);
    assert_eq!(a.ticks[1].1, "shared");
}

#[test]
fn the_svg_checker_catches_broken_documents() {
    assert_eq!(check_svg("<svg a=\"1\"><g><line/></g></svg>"), Ok(3));
    assert!(check_svg("<svg><g></svg>").is_err());
    assert!(check_svg("<svg><g>").is_err());
    assert!(check_svg("<div></div>").is_err());
    assert!(check_svg("<svg></svg><svg></svg>").is_err());
}
