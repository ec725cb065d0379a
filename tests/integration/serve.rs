//! `lblab serve`, the browser lab, over real HTTP on loopback (the page itself is driven in
//! Chromium by `tests/browser/lab.mjs`): the same checks and numbers as the command line,
//! and a local server that only answers locally and serves only its own files.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::scratch;

/// A running `lblab serve`, stopped (and its directory removed) when dropped.
struct Lab {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(tag: &str) -> Lab {
    start_on(tag, "127.0.0.1")
}

/// A lab bound to `host` (`--bind`), whose address it prints.
fn start_on(tag: &str, host: &str) -> Lab {
    let dir = scratch(&format!("serve-{tag}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args([
            "serve", "--bind", host, "--port", "0", "--jobs", "1", "--out",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first line says where it listens (it is printed once the socket is bound).
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split(&format!("http://{host}:"))
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no {host} address in {line:?}"));
    Lab { child, port, dir }
}

/// One request; returns the status and the body.
fn http(lab: &Lab, method: &str, path: &str, host: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", lab.port)).unwrap();
    let host = host.map_or(format!("127.0.0.1:{}", lab.port), str::to_string);
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn post(name: &str, toml: &str, extra: &str) -> String {
    format!(
        r#"{{"name":{},"toml":{}{extra}}}"#,
        serde_json::to_string(name).unwrap(),
        serde_json::to_string(toml).unwrap()
    )
}

const SMALL: &str = r#"
[scenario]
name = "small"
duration = "10s"
replications = 2
[clients]
rate = "300/s"
[[classes]]
service = { dist = "exponential", mean = "10ms" }
[[servers]]
name = "web"
count = 4
[compare]
algorithms = ["round-robin", "random"]
"#;

#[test]
fn the_page_and_the_bundled_scenarios_are_served_locally_only() {
    let lab = start("page");
    let (st, page) = http(&lab, "GET", "/", None, "");
    assert_eq!(st, 200);
    assert!(page.contains("<title>lblab lab</title>"));
    // Nothing is loaded from elsewhere: no external URL in a src or href.
    for attr in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(attr), "the page refers outside: {attr}");
    }
    let (st, list) = http(&lab, "GET", "/api/scenarios", None, "");
    assert_eq!(st, 200);
    let list = json(&list);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, lblab::scenario::bundled::names().collect::<Vec<_>>());
    assert!(list[0]["toml"].as_str().unwrap().contains("[scenario]"));
    // A page elsewhere that reaches the port through its own host name (DNS rebinding)
    // is refused.
    let (st, _) = http(&lab, "GET", "/api/scenarios", Some("evil.example:80"), "");
    assert_eq!(st, 403);
    let (st, _) = http(&lab, "GET", "/nothing", None, "");
    assert_eq!(st, 404);
    let (st, _) = http(&lab, "DELETE", "/", None, "");
    assert_eq!(st, 405);
}

#[test]
fn problems_come_back_with_their_line_and_key() {
    let lab = start("check");
    let broken = SMALL.replace("rate = \"300/s\"", "rate = \"lots\"");
    let line = broken.lines().position(|l| l.contains("lots")).unwrap() + 1;
    let (st, v) = http(
        &lab,
        "POST",
        "/api/check",
        None,
        &post("small", &broken, ""),
    );
    assert_eq!(st, 200);
    let v = json(&v);
    assert_eq!(v["ok"], false);
    let p = &v["problems"][0];
    assert_eq!(p["line"], line);
    assert_eq!(p["path"], "clients.rate");
    assert!(p["message"].as_str().unwrap().contains("not a rate"));
    // The same text does not run.
    let (st, v) = http(&lab, "POST", "/api/run", None, &post("small", &broken, ""));
    assert_eq!(st, 422);
    assert_eq!(json(&v)["problems"][0]["line"], line);
    let (st, _) = http(&lab, "POST", "/api/check", None, "{not json");
    assert_eq!(st, 400);
    let (st, v) = http(&lab, "POST", "/api/check", None, &post("small", SMALL, ""));
    assert_eq!((st, json(&v)["ok"].clone()), (200, serde_json::json!(true)));
}

#[test]
fn a_run_gives_the_command_lines_numbers_and_serves_only_its_own_files() {
    let lab = start("run");
    let (st, v) = http(
        &lab,
        "POST",
        "/api/run",
        None,
        &post("small", SMALL, r#","replications":3"#),
    );
    assert_eq!(st, 202, "{v}");
    let v = json(&v);
    assert_eq!(v["total"], 2 * 3);
    let id = v["id"].as_u64().unwrap();
    // Poll until done (the run takes well under a second; each poll is a round trip).
    let result = loop {
        let (_, s) = http(&lab, "GET", &format!("/api/runs/{id}"), None, "");
        let s = json(&s);
        match s["state"].as_str().unwrap() {
            "done" => break s["result"].clone(),
            "failed" => panic!("{s}"),
            _ => assert!(s["done"].as_u64().unwrap() <= 6),
        }
    };
    assert_eq!(
        result["variants"],
        serde_json::json!(["round-robin", "random"])
    );
    // The command line, on the same file, gives the same summary.
    let dir = scratch("serve-cli");
    std::fs::write(dir.join("small.toml"), SMALL).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args([
            "compare",
            "small.toml",
            "-r",
            "3",
            "--format",
            "json",
            "-o",
            "out",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success());
    let cli = json(&String::from_utf8(o.stdout).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(result["summary"]["algorithms"], cli["algorithms"]);
    // The table rows are the terminal's.
    let p99 = result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "latency_p99_ms")
        .unwrap();
    assert_eq!(p99["cells"].as_array().unwrap().len(), 2);
    assert!(
        result["table_text"]
            .as_str()
            .unwrap()
            .contains(p99["cells"][0]["mean"].as_str().unwrap())
    );
    // Files: charts and the report, and nothing outside the run's directory.
    let files: Vec<&str> = result["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in ["report.html", "summary.csv", "latency-summary.svg"] {
        assert!(files.contains(&f), "{files:?}");
    }
    let (st, html) = http(&lab, "GET", &format!("/runs/{id}/report.html"), None, "");
    assert_eq!(st, 200);
    assert!(html.contains("small"));
    for bad in [
        "../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "scenario/small.toml",
        ".hidden",
        "",
    ] {
        let (st, _) = http(&lab, "GET", &format!("/runs/{id}/{bad}"), None, "");
        assert_eq!(st, 404, "{bad}");
    }
    let (st, _) = http(&lab, "GET", "/runs/99/report.html", None, "");
    assert_eq!(st, 404);
}

#[test]
fn a_trace_is_the_command_lines_trace_with_the_servers_named() {
    let lab = start("trace");
    let (st, v) = http(
        &lab,
        "POST",
        "/api/trace",
        None,
        &post("small", SMALL, r#","requests":5,"from":"2s","variant":1"#),
    );
    assert_eq!(st, 200, "{v}");
    let v = json(&v);
    assert_eq!(v["variant"], "random");
    assert_eq!(
        v["servers"],
        serde_json::json!(["web-1", "web-2", "web-3", "web-4"])
    );
    let dir = scratch("serve-cli-trace");
    std::fs::write(dir.join("small.toml"), SMALL).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args([
            "trace",
            "small.toml",
            "-n",
            "5",
            "--from",
            "2s",
            "-a",
            "random",
            "--format",
            "json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(v["lines"], json(&String::from_utf8(o.stdout).unwrap()));
    let (st, _) = http(
        &lab,
        "POST",
        "/api/trace",
        None,
        &post("small", SMALL, r#","requests":0"#),
    );
    assert_eq!(st, 400);
    let (st, v) = http(
        &lab,
        "POST",
        "/api/trace",
        None,
        &post("small", SMALL, r#","from":"1h""#),
    );
    assert_eq!(st, 400);
    assert!(v.contains("not before the end"), "{v}");
}

/// `--bind` another loopback address (the whole of 127/8 is this machine on Linux): the
/// lab listens there, says so in the address it prints, and answers requests that name it
/// in `Host`, but still not a page elsewhere's.
#[cfg(target_os = "linux")]
#[test]
fn bind_listens_where_it_says_and_answers_that_host() {
    let lab = start_on("bind", "127.0.0.2");
    let port = lab.port;
    let get = |host: &str| {
        let mut s = TcpStream::connect(("127.0.0.2", port)).unwrap();
        write!(s, "GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split(' ').nth(1).and_then(|c| c.parse::<u16>().ok())
    };
    let (own, other) = (get(&format!("127.0.0.2:{port}")), get("evil.example"));
    assert_eq!((own, other), (Some(200), Some(403)));
}
