//! Tests of the charts.

use super::heatmap::viridis;
use super::percentiles::{Curve, band_polygons, curves, latency_axis, nines_label};
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

/// Every chart's title names the scenario and what varies, and the SVG draws it.
#[test]
fn titles_name_the_scenario_and_what_varies() {
    for (files, varies) in [
        (fixture::compare(), "by algorithm"),
        (fixture::sweep(), "vs clients.rate, by algorithm"),
    ] {
        let r = fixture::load(&files);
        let scenario = r.scenario();
        for c in all(&r).unwrap() {
            assert!(
                c.title.starts_with(&format!("{scenario} · ")),
                "{}: {}",
                c.name,
                c.title
            );
            assert!(
                c.title.contains(if c.name.starts_with("heatmap") {
                    "by algorithm"
                } else {
                    varies
                }),
                "{}: {}",
                c.name,
                c.title
            );
            check(&c);
        }
    }
    // A comparison over a scenario key says so, and its legends drop the repeated key.
    let renamed: Vec<(&str, String)> = fixture::compare()
        .into_iter()
        .map(|(n, t)| {
            let t = t
                .replace("round-robin", "lb.topology=single")
                .replace("least-connections", "lb.topology=anycast")
                .replace("power-of-two", "lb.topology=active-passive");
            (n, t)
        })
        .collect();
    let r = fixture::load(&renamed);
    let c = percentile_curves(&r).unwrap().unwrap();
    assert_eq!(c.title, "fixture · latency percentiles by lb.topology");
    assert!(c.svg.contains("\nanycast\n") && !c.svg.contains("lb.topology=anycast"));
}

/// A name keeps its colour whatever else is compared and in whatever order; colours in
/// one set are distinct, beyond eight names too.
#[test]
fn a_name_keeps_its_colour_across_comparisons() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let a = s(&["round-robin", "random", "least-connections", "power-of-two"]);
    let b = s(&["peak-ewma", "least-connections", "maglev", "round-robin"]);
    let hex =
        |name: &str, set: &[String]| colour_hex(set.iter().position(|x| x == name).unwrap(), set);
    for name in ["round-robin", "least-connections"] {
        assert_eq!(hex(name, &a), hex(name, &b), "{name}");
    }
    // Names outside the catalogue too (they hash), and parameters keep the algorithm's.
    let c = s(&["lb.retries=0", "lb.retries=1", "lb.retries=3"]);
    let d = s(&["lb.retries=3", "lb.retries=0"]);
    for name in ["lb.retries=0", "lb.retries=3"] {
        assert_eq!(hex(name, &c), hex(name, &d), "{name}");
    }
    let e = s(&["ip-hash", "ketama(ip)"]);
    let f = s(&["ketama", "round-robin"]);
    assert_eq!(hex("ketama(ip)", &e), hex("ketama", &f));
    // Two names asking for one colour: the one sorting first keeps it.
    let g = s(&["ketama(ip)", "ketama"]);
    assert_eq!(hex("ketama", &g), hex("ketama", &f));
    assert_ne!(hex("ketama(ip)", &g), hex("ketama", &g));
    // The order of the set does not matter either.
    let mut rev = a.clone();
    rev.reverse();
    for name in &a {
        assert_eq!(hex(name, &a), hex(name, &rev), "{name}");
    }
    // The charts draw a name in the colour the report's swatch shows.
    let r = fixture::load(&fixture::compare());
    let algs = r.algorithms();
    let c = percentile_curves(&r).unwrap().unwrap();
    for (i, a) in algs.iter().enumerate() {
        let hex = colour_hex(i, &algs).to_uppercase();
        assert!(c.svg.to_uppercase().contains(&hex), "{a} {hex}");
    }
}

#[test]
fn more_than_eight_series_get_distinct_colours() {
    let names: Vec<String> = [
        "round-robin",
        "weighted-round-robin",
        "haproxy-roundrobin",
        "envoy-round-robin",
        "static-rr",
        "naive-weighted-round-robin",
        "least-connections",
        "weighted-least-connections",
        "power-of-two",
        "peak-ewma",
        "maglev",
        "ketama",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    let mut hexes: Vec<String> = (0..names.len()).map(|i| colour_hex(i, &names)).collect();
    hexes.sort();
    hexes.dedup();
    assert_eq!(hexes.len(), 12, "{hexes:?}");
    // Past the palette, a repeated colour comes with a dashed line.
    let mut more = names.clone();
    more.push("random".into());
    let lk = looks(&more);
    assert_eq!(lk.iter().filter(|l| l.dashed).count(), 1);
}

fn curve(mean: &[(f64, f64)], band: &[(f64, f64, f64)]) -> Curve {
    Curve {
        look: look(0),
        alg: "a".into(),
        mean: mean.to_vec(),
        band: band.to_vec(),
        max: Some(400.0),
    }
}

/// The latency axis follows the data, not the bands or a lone tiny minimum; the bands are
/// clipped to it and break where a bound is not positive.
#[test]
fn latency_axis_follows_the_data_and_bands_stay_inside() {
    // Data from 5 ms; one band reaching 0.001 ms, one negative; a minimum of 0.0004 ms.
    let c = curve(
        &[
            (0.0, 0.0004),
            (0.1, 5.0),
            (1.0, 40.0),
            (2.0, 120.0),
            (3.0, 300.0),
        ],
        &[
            (0.0, -0.01, 0.002),
            (0.1, 0.001, 9.0),
            (1.0, -6855.0, 90.0),
            (2.0, 100.0, 150.0),
            (3.0, 250.0, 360.0),
        ],
    );
    let y = latency_axis(std::slice::from_ref(&c));
    assert!(y.log);
    let (lo, hi) = (10f64.powf(y.lo), 10f64.powf(y.hi));
    assert!((1.0..=5.0).contains(&lo), "axis from {lo} ms");
    assert!((400.0..=1000.0).contains(&hi), "axis to {hi} ms");
    let polys = band_polygons(&c.band, &y);
    // The band breaks at each non-positive bound (min and p90): what is left is a lone
    // point at 0.1, too short for a band, and the run p99..p99.9.
    for p in &polys {
        assert!(p.len() >= 4);
        for (_, v) in p {
            assert!(
                *v >= y.lo - 1e-12 && *v <= y.hi + 1e-12,
                "{v} outside the axis"
            );
        }
    }
    let xs: Vec<f64> = polys.iter().flatten().map(|p| p.0).collect();
    assert!(!xs.contains(&1.0), "a band drawn from a negative bound");
    assert_eq!(polys.len(), 1);
}

/// The rendered chart: a negative lower bound in latency.csv neither sets the axis nor
/// reaches the floor, and the axis starts near the data.
#[test]
fn negative_ci_bounds_do_not_stretch_the_latency_axis() {
    let base = percentile_curves(&fixture::load(&fixture::compare()))
        .unwrap()
        .unwrap();
    let files: Vec<(&str, String)> = fixture::compare()
        .into_iter()
        .map(|(n, t)| {
            if n != "latency.csv" {
                return (n, t);
            }
            let t = t
                .lines()
                .map(|l| {
                    let cells: Vec<&str> = l.split(',').collect();
                    if cells.get(2) == Some(&"ci95_lo") {
                        format!("{},-5.000000\n", cells[..5].join(","))
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            (n, t)
        })
        .collect();
    let r = fixture::load(&files);
    let cs = curves(&r);
    let y = latency_axis(&cs);
    let ys: Vec<f64> = cs.iter().flat_map(|c| c.mean.iter().map(|p| p.1)).collect();
    let data_lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        10f64.powf(y.lo) > data_lo / 10.0,
        "axis floor far below the data"
    );
    for c in &cs {
        assert!(band_polygons(&c.band, &y).is_empty());
    }
    let chart = percentile_curves(&r).unwrap().unwrap();
    check(&chart);
    assert_ne!(chart.svg, base.svg);
}

#[test]
fn time_series_shade_the_warm_up() {
    let r = fixture::load(&fixture::compare());
    assert_eq!(r.manifest.warmup_s, Some(5.0));
    let c = time_series(&r).unwrap().unwrap();
    assert!(c.svg.contains("warm-up (excluded)"));
    let RGBColor(wr, wg, wb) = WARMUP;
    let fill = format!("fill=\"#{wr:02X}{wg:02X}{wb:02X}\"");
    let shaded = c.svg.matches(&fill).count();
    // One span per panel and the legend's key.
    assert_eq!(shaded, 4, "{fill}");
    // Without a warm-up in the manifest, no span.
    let files: Vec<(&str, String)> = fixture::compare()
        .into_iter()
        .map(|(n, t)| (n, t.replace("warmup_s = 5\n", "")))
        .collect();
    let c = time_series(&fixture::load(&files)).unwrap().unwrap();
    assert!(!c.svg.contains("warm-up") && !c.svg.contains(&fill));
}

#[test]
fn an_all_zero_panel_is_left_out() {
    let full = time_series(&fixture::load(&fixture::compare()))
        .unwrap()
        .unwrap();
    assert!(full.svg.contains("errors (req/s)"));
    // No request failed in any bucket.
    let files: Vec<(&str, String)> = fixture::compare()
        .into_iter()
        .map(|(n, t)| {
            if n != "timeseries.csv" {
                return (n, t);
            }
            let t = t
                .lines()
                .map(|l| {
                    let mut cells: Vec<String> = l.split(',').map(String::from).collect();
                    if cells[6] != "errors_per_s" {
                        cells[6] = "0.000000".into();
                    }
                    cells.join(",") + "\n"
                })
                .collect();
            (n, t)
        })
        .collect();
    let c = time_series(&fixture::load(&files)).unwrap().unwrap();
    assert!(!c.svg.contains("errors (req/s)"));
    assert!(c.svg.contains("p99 (ms)"));
    assert!(
        c.caption.contains("errors panel is left out"),
        "{}",
        c.caption
    );
    assert!(!c.title.contains("errors"), "{}", c.title);
    check(&c);
}

#[test]
fn one_tick_label_style_per_axis() {
    assert_eq!(tick_labels(&[10.0, 100.0, 1000.0]), ["10", "100", "1000"]);
    assert_eq!(
        tick_labels(&[100.0, 1000.0, 3000.0, 10_000.0]),
        ["100", "1k", "3k", "10k"]
    );
    let a = Axis::log(5.0, 20_000.0, "");
    let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
    assert!(
        labels.contains(&"1k") && !labels.contains(&"1000"),
        "{labels:?}"
    );
}

#[test]
fn steps_of_one_two_five() {
    assert_eq!(step_125(5.9, false), 5.0);
    assert_eq!(step_125(5.0, false), 5.0);
    assert_eq!(step_125(0.0042, false), 0.002);
    assert_eq!(step_125(4671.0, true), 5000.0);
    assert_eq!(step_125(101.0, true), 200.0);
    assert_eq!(step_125(100.0, true), 100.0);
}

/// A server's first "up" with no "down" before it (Envoy-style checks start every server
/// down and bring it up at its first passed check) is not drawn as a recovery; later
/// changes are.
#[test]
fn initial_check_results_are_not_drawn_as_recoveries() {
    let mut files = fixture::compare();
    let algs = fixture::load(&files).algorithms();
    for (n, t) in &mut files {
        if *n == "health.csv" {
            let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
            let alg = &algs[0];
            lines.insert(
                1,
                format!("fixture,{alg},0,0.001000,1,web-1,up,active,false"),
            );
            lines.insert(
                2,
                format!("fixture,{alg},0,0.001000,1,web-2,up,active,false"),
            );
            *t = lines.join("\n") + "\n";
        }
    }
    let m = markers(&fixture::load(&files), &algs, 60.0);
    let first: Vec<(f64, bool)> = m
        .health
        .iter()
        .filter(|h| h.2 == 0)
        .map(|h| (h.0, h.1))
        .collect();
    // Only the crash of web-2 (detected at 21 s) and its recovery at 31 s.
    assert_eq!(first, vec![(21.0, true), (31.0, false)]);
}
