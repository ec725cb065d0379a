//! `lblab report DIR`: charts and `report.html` rebuilt from a results directory's files.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::report::results::Results;
use crate::report::{charts, html};

use super::{CliError, files, out};

/// Reads `name` in `dir`: `None` if it does not exist.
fn reader(dir: &Path) -> impl Fn(&str) -> std::io::Result<Option<String>> + '_ {
    move |name| match fs::read_to_string(dir.join(name)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Loads `dir`, renders every chart whose input exists (`<name>.svg`, `<name>.png`) and
/// `report.html` into it, each written atomically, and returns the paths written. `run`,
/// `compare` and `sweep` can call it once their results are on disk.
pub(crate) fn render_all(dir: &Path) -> Result<Vec<String>, CliError> {
    if !dir.is_dir() {
        return Err(CliError::Input(format!(
            "lblab: {} is not a directory (expected a results directory written by run, compare or sweep)",
            dir.display()
        )));
    }
    let results = Results::load(&reader(dir))
        .map_err(|e| CliError::Input(format!("lblab: {}: {e}", dir.display())))?;
    let charts = charts::all(&results).map_err(|e| {
        CliError::Input(format!(
            "lblab: cannot draw the charts of {}: {e}",
            dir.display()
        ))
    })?;
    let page = html::report_html(&results, &charts);
    remove_stale_charts(dir, &charts)?;
    let mut written = Vec::new();
    for c in &charts {
        for (ext, bytes) in [("svg", c.svg.as_bytes()), ("png", c.png.as_slice())] {
            let path = dir.join(format!("{}.{ext}", c.name));
            files::write_atomic_bytes(&path, bytes)?;
            written.push(path.display().to_string());
        }
    }
    let path = dir.join("report.html");
    files::write_atomic_bytes(&path, page.as_bytes())?;
    written.push(path.display().to_string());
    Ok(written)
}

/// Whether `stem` is a name lblab gives its charts.
fn is_chart_stem(stem: &str) -> bool {
    matches!(
        stem,
        "latency-percentiles" | "latency-summary" | "server-load" | "timeseries"
    ) || stem.starts_with("sweep-")
        || stem.starts_with("heatmap-")
}

/// Removes charts an earlier run left in `dir` that this one does not draw (a rerun
/// without failures, a sweep over other metrics), so the directory shows one run only.
fn remove_stale_charts(dir: &Path, charts: &[charts::Chart]) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Input(format!("lblab: cannot read {}: {e}", dir.display())))?;
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        if (ext == "svg" || ext == "png")
            && is_chart_stem(stem)
            && !charts.iter().any(|c| c.name == stem)
        {
            stale.push(path);
        }
    }
    stale.sort();
    for path in stale {
        std::fs::remove_file(&path).map_err(|e| {
            CliError::Input(format!("lblab: cannot remove {}: {e}", path.display()))
        })?;
    }
    Ok(())
}

/// `lblab report DIR`: renders and prints the paths written, one per line.
pub(super) fn report(dir: &Path) -> Result<(), CliError> {
    let written = render_all(dir)?;
    let mut s = String::new();
    for p in written {
        s.push_str(&p);
        s.push('\n');
    }
    out(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::check_svg;
    use crate::report::results::fixture;
    use std::path::PathBuf;

    fn tmp(name: &str, files: &[(&str, String)]) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lblab-report-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        for (n, t) in files {
            fs::write(d.join(n), t).unwrap();
        }
        d
    }

    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn renders_charts_and_report_into_the_directory_deterministically() {
        let d = tmp("compare", &fixture::compare());
        let written = render_all(&d).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| {
                Path::new(p)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "latency-percentiles.svg",
                "latency-percentiles.png",
                "latency-summary.svg",
                "latency-summary.png",
                "server-load.svg",
                "server-load.png",
                "timeseries.svg",
                "timeseries.png",
                "report.html"
            ]
        );
        for n in &names {
            let bytes = fs::read(d.join(n)).unwrap();
            if n.ends_with(".png") {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
                // IHDR: width and height, big-endian, right after the chunk header.
                assert_eq!(&bytes[12..16], b"IHDR");
                let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
                let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
                assert_eq!((w, h), charts::SIZE);
            } else if n.ends_with(".svg") {
                check_svg(&String::from_utf8(bytes).unwrap()).unwrap();
            }
        }
        let first = snapshot(&d);
        render_all(&d).unwrap();
        assert_eq!(first, snapshot(&d), "a second rendering changed some bytes");
        // No temporary files are left behind.
        assert!(first.iter().all(|(n, _)| !n.starts_with('.')));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn charts_of_an_earlier_run_that_this_one_does_not_draw_are_removed() {
        let d = tmp("stale", &fixture::compare());
        for stale in ["heatmap-latency_p99_ms.svg", "sweep-throughput_rps.png"] {
            fs::write(d.join(stale), "old").unwrap();
        }
        // Not lblab's chart names: left alone.
        fs::write(d.join("my-notes.png"), "mine").unwrap();
        render_all(&d).unwrap();
        assert!(!d.join("heatmap-latency_p99_ms.svg").exists());
        assert!(!d.join("sweep-throughput_rps.png").exists());
        assert!(d.join("my-notes.png").exists());
        assert!(d.join("timeseries.png").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_malformed_file_is_an_input_error_naming_it() {
        let mut files = fixture::compare();
        files.retain(|(n, _)| *n != "latency.csv");
        files.push((
            "latency.csv",
            "scenario,algorithm,stat,replication,quantile,latency_ms\nx,a,value,0,0.5,fast\n"
                .into(),
        ));
        let d = tmp("bad", &files);
        match render_all(&d) {
            Err(CliError::Input(m)) => {
                assert!(
                    m.contains("latency.csv:2: column latency_ms: `fast` is not a number"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(!d.join("report.html").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_report_subcommand_parses_and_runs() {
        use clap::Parser;
        let d = tmp("cli", &fixture::sweep());
        let cli =
            super::super::Cli::try_parse_from(["lblab", "report", d.to_str().unwrap()]).unwrap();
        super::super::dispatch(cli).unwrap();
        assert!(d.join("report.html").exists());
        assert!(d.join("heatmap-latency_p99_ms.png").exists());
        assert!(super::super::Cli::try_parse_from(["lblab", "report"]).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_missing_directory_or_summary_is_an_input_error() {
        let d = std::env::temp_dir().join(format!("lblab-report-{}-none", std::process::id()));
        assert!(matches!(render_all(&d), Err(CliError::Input(_))));
        let d = tmp("empty", &[]);
        match render_all(&d) {
            Err(CliError::Input(m)) => assert!(m.contains("summary.csv"), "{m}"),
            other => panic!("{other:?}"),
        }
        fs::remove_dir_all(&d).unwrap();
    }
}
