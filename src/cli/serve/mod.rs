//! `lblab serve`: the browser lab. A local web app on one page: pick a bundled scenario or
//! edit TOML (problems shown at their line as you type), run the comparison with a
//! progress bar, read the table, charts and report, and step through a trace as an
//! animation.
//!
//! The simulation runs here, in this process, through the very functions `lblab compare`
//! and `lblab trace` use (no WebAssembly build: the toolchain has no wasm32 standard
//! library). HTTP: a thread per connection on std's `TcpListener`, requests parsed by
//! `httparse` (no dependencies, the parser under hyper), one request per connection
//! (`Connection: close`). No async runtime for a handful of requests a minute. tiny_http was
//! tried first and dropped: its connection pool can leave a new connection waiting behind
//! idle keep-alive ones (a race in its `TaskPool`; the browser test caught a chart that
//! never loaded), and it will not let a response close the connection.
//!
//! Safety of a local server: it listens on 127.0.0.1 unless `--bind` says otherwise, and
//! answers only requests whose `Host` is the address it listens on (a web page elsewhere
//! cannot reach it through DNS rebinding). The page loads nothing from the network.

mod api;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::CliError;

/// The page: HTML, CSS and script in one file, no external resources.
const PAGE: &str = include_str!("lab.html");

/// Bodies larger than this are refused (a scenario file is a few kilobytes).
const MAX_BODY: usize = 1 << 20;

/// Request heads larger than this are refused.
const MAX_HEAD: usize = 64 << 10;

#[derive(clap::Args, Debug)]
pub(super) struct ServeArgs {
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(short = 'p', long, default_value_t = 8437)]
    port: u16,
    /// Address to listen on. The default serves this machine only; another address makes
    /// the lab (and the files it reads) reachable from the network.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Where runs write their results (one directory per run, `run-N`; those of an earlier
    /// lab there are kept). Default: a new directory under the system's temporary directory.
    #[arg(short = 'o', long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads per run (default: all cores). Results do not depend on it.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
}

/// What every request handler shares.
pub(super) struct Lab {
    /// Where runs and traces write.
    dir: PathBuf,
    jobs: Option<u32>,
    /// `Host` header values this server answers.
    hosts: Vec<String>,
    /// Runs, numbered from 1 by their index + 1.
    runs: Mutex<Vec<Arc<api::RunState>>>,
    /// Run N writes to `run-(N + skip)`: directories of an earlier lab in `--out` are kept.
    skip: usize,
    /// One simulation at a time: the machine's cores go to the run in progress.
    busy: Mutex<()>,
}

pub(super) fn serve(a: ServeArgs) -> Result<(), CliError> {
    let addr = SocketAddr::new(a.bind, a.port);
    let listener = TcpListener::bind(addr).map_err(|e| {
        CliError::Input(format!(
            "lblab: serve: cannot listen on {addr}: {e}{}",
            if a.port != 0 {
                " (is another program using the port? --port 0 picks a free one)"
            } else {
                ""
            }
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Input(format!("lblab: serve: {e}")))?;
    let dir = match a.out {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("lblab-lab-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::Input(format!(
            "lblab: serve: cannot create {}: {e}",
            dir.display()
        ))
    })?;
    let port = local.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    // The address it is bound to (another loopback address than 127.0.0.1 too: the whole
    // of 127/8 is this machine's).
    if !hosts.contains(&local.to_string()) {
        hosts.push(local.to_string());
    }
    if !a.bind.is_loopback() {
        if a.bind.is_unspecified() {
            hosts.clear(); // every address of the machine: the Host check cannot know them
        }
        eprintln!(
            "lblab: serve: listening on {local}, reachable from the network; anyone who reaches it can run simulations and read files this user can read"
        );
    }
    let url = format!("http://{local}/");
    println!(
        "lblab lab: {url}  (Ctrl-C stops it; results go to {})",
        dir.display()
    );
    // Runs of an earlier lab with the same --out stay: number after them.
    let skip = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.strip_prefix("run-")?.parse().ok())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let lab = Arc::new(Lab {
        skip,
        dir,
        jobs: a.jobs,
        hosts,
        runs: Mutex::new(Vec::new()),
        busy: Mutex::new(()),
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            continue; // a connection that failed before it was accepted
        };
        let lab = Arc::clone(&lab);
        std::thread::spawn(move || handle(&lab, stream));
    }
    Ok(())
}

/// A response: status, content type and body.
pub(super) struct Reply {
    status: u16,
    kind: &'static str,
    body: Vec<u8>,
}

impl Reply {
    pub(super) fn json(status: u16, v: &serde_json::Value) -> Reply {
        Reply {
            status,
            kind: "application/json; charset=utf-8",
            body: serde_json::to_vec(v).expect("JSON values serialise"),
        }
    }

    pub(super) fn error(status: u16, msg: &str) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": msg }))
    }
}

/// One request, parsed from the connection.
struct Incoming {
    method: String,
    path: String,
    host: Option<String>,
    body: String,
}

fn handle(lab: &Arc<Lab>, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let reply = match read_request(&mut stream) {
        Ok(req) => route(lab, &req),
        Err(r) => r,
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        reply.status,
        reason(reply.status),
        reply.kind,
        reply.body.len()
    );
    // The browser may have gone; nothing to do then.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(&reply.body))
        .and_then(|_| stream.flush());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Reads one request: its head (parsed by httparse) and a body of `Content-Length` bytes.
fn read_request(stream: &mut TcpStream) -> Result<Incoming, Reply> {
    let bad = |m: &str| Reply::error(400, m);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .map_err(|_| bad("the request did not arrive"))?;
        if n == 0 {
            return Err(bad("the connection closed before the request ended"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Err(Reply::error(431, "the request head is too large"));
                }
            }
            Ok(httparse::Status::Complete(head_len)) => {
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
                };
                let len: usize = match header("Content-Length") {
                    None => 0,
                    Some(v) => v.parse().map_err(|_| bad("bad Content-Length"))?,
                };
                if len > MAX_BODY {
                    return Err(Reply::error(413, "the body is larger than 1 MiB"));
                }
                if header("Transfer-Encoding").is_some() {
                    return Err(bad("send the body with a Content-Length"));
                }
                let mut body = buf[head_len..].to_vec();
                body.truncate(len);
                while body.len() < len {
                    let n = stream
                        .read(&mut chunk)
                        .map_err(|_| bad("the body did not arrive"))?;
                    if n == 0 {
                        return Err(bad("the connection closed before the body ended"));
                    }
                    body.extend_from_slice(&chunk[..n.min(len - body.len())]);
                }
                return Ok(Incoming {
                    method: req.method.unwrap_or("").to_string(),
                    path: req.path.unwrap_or("/").to_string(),
                    host: header("Host").map(|h| h.to_ascii_lowercase()),
                    body: String::from_utf8(body).map_err(|_| bad("the body is not UTF-8 text"))?,
                });
            }
            Err(e) => return Err(bad(&format!("not an HTTP request: {e}"))),
        }
    }
}

fn route(lab: &Arc<Lab>, req: &Incoming) -> Reply {
    if !lab.hosts.is_empty() && !req.host.as_ref().is_some_and(|h| lab.hosts.contains(h)) {
        return Reply::error(403, "this lab answers only on the address it listens on");
    }
    let path = req.path.split('?').next().unwrap_or("");
    let body = req.body.as_str();
    match (req.method.as_str(), path) {
        ("GET", "/") | ("GET", "/index.html") => Reply {
            status: 200,
            kind: "text/html; charset=utf-8",
            body: PAGE.as_bytes().to_vec(),
        },
        ("GET", "/api/scenarios") => api::scenarios(),
        ("GET", "/api/algorithms") => api::algorithms(),
        ("POST", "/api/check") => api::check(lab, body),
        ("POST", "/api/run") => api::start_run(lab, body),
        ("POST", "/api/trace") => api::trace(lab, body),
        ("GET", p) if p.starts_with("/api/runs/") => api::run_status(lab, &p[10..]),
        ("GET", p) if p.starts_with("/runs/") => run_file(lab, &p[6..]),
        ("GET", _) | ("POST", _) => Reply::error(404, "no such page"),
        _ => Reply::error(405, "GET or POST"),
    }
}

/// `/runs/N/FILE`: a file a finished run wrote (chart, report, CSV, manifest).
fn run_file(lab: &Lab, rest: &str) -> Reply {
    let Some((n, name)) = rest.split_once('/') else {
        return Reply::error(404, "no such file");
    };
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let Some(run) = api::find_run(lab, n) else {
        return Reply::error(404, "no such run");
    };
    if !plain {
        return Reply::error(404, "no such file");
    }
    let path = run.dir.join(name);
    match std::fs::read(&path) {
        Ok(body) => Reply {
            status: 200,
            kind: content_type(&path),
            body,
        },
        Err(_) => Reply::error(404, "no such file"),
    }
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("toml") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
