//! `lblab import`: nginx upstreams and HAProxy backends from the configurations in
//! tests/data/import/ become scenario fragments that, completed with a workload, parse and
//! run; every directive is translated or commented; malformed files are refused at their
//! line; no input panics the importer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lblab::balancer::priority::PriorityRule;
use lblab::engine::SeedTree;
use lblab::health::haproxy::Observe;
use lblab::import::{Files, ImportError, Imported, haproxy, nginx};
use lblab::model::{ActiveStyle, CheckType, World};
use lblab::scenario::Scenario;

use crate::support::{lblab, parse, root, scratch};

/// The filesystem, with some files' bytes replaced (for the mutation test).
pub(crate) struct Disk(pub BTreeMap<PathBuf, Vec<u8>>);

impl Files for Disk {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self.0.get(path) {
            Some(b) => Ok(b.clone()),
            None => std::fs::read(path),
        }
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect()
    }
}

pub(crate) fn data(rel: &str) -> PathBuf {
    root().join("tests/data/import").join(rel)
}

fn ngx(rel: &str, upstream: Option<&str>) -> Result<Imported, ImportError> {
    nginx::import(&data(rel), upstream, &Disk(BTreeMap::new()))
}

fn hap(rel: &str, backend: Option<&str>) -> Result<Imported, ImportError> {
    haproxy::import(&data(rel), backend, &Disk(BTreeMap::new()))
}

/// The fragment with a small workload (keyed requests, so hashing has keys), parsed and
/// run for one short replication.
pub(crate) fn scenario(imported: &Imported) -> (Scenario, String) {
    let text = format!(
        "{}\n[scenario]\nname = \"imported\"\nseed = 5\nduration = \"20s\"\nreplications = 1\n\n\
         [clients]\nrate = \"200/s\"\ntimeout = \"5s\"\n\n[[classes]]\n\
         service = {{ dist = \"exponential\", mean = \"5ms\" }}\nkeys = {{ count = 1000 }}\n",
        imported.fragment.to_toml()
    );
    let s = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let rep = World::new(&s.world, &SeedTree::new(s.seed), 0)
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    let served: u64 = rep.servers.iter().map(|r| r.requests).sum();
    assert!(served > 3000, "{served} requests served\n{text}");
    (s, text)
}

pub(crate) fn weights(s: &Scenario) -> Vec<(String, u32, u8)> {
    s.world
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.weight, g.priority))
        .collect()
}

#[test]
fn nginx_least_conn_upstream_with_a_backup_from_an_include() {
    let i = ngx("nginx/nginx.conf", Some("api")).unwrap();
    let (s, text) = scenario(&i);
    // The down server (10.0.1.13) is left out; the backup comes last.
    assert_eq!(
        weights(&s),
        [
            ("10-0-1-11_8080".to_string(), 3, 0),
            ("10-0-1-12_8080".to_string(), 2, 0),
            ("10-0-9-10_8080".to_string(), 1, 1)
        ]
    );
    let alg = &s.world.algorithm;
    assert_eq!(alg.info().name, "weighted-least-connections");
    assert_eq!(alg.params().int("max_fails"), 3);
    assert_eq!(alg.params().duration("fail_timeout").as_secs_f64(), 30.0);
    assert_eq!(s.world.lb.priority, Some(PriorityRule::Nginx));
    // proxy_next_upstream_tries 3 in the location; http_503 from the http block.
    assert_eq!(s.world.lb.retry.retries, 2);
    assert!(s.world.lb.retry.on_refused && s.world.lb.retry.on_timeout && s.world.lb.retry.on_5xx);
    assert_eq!(
        s.world.lb.upstream_timeout.map(|t| t.as_secs_f64()),
        Some(30.0)
    );
    for needle in [
        "# not translated: ",
        "`max_conns=200`",
        "`keepalive 32`",
        "`zone api 64k`",
        "`proxy_next_upstream_timeout 5s`",
        "down`: a down server",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

#[test]
fn nginx_consistent_hash_and_retries_off() {
    let i = ngx("nginx/nginx.conf", Some("static")).unwrap();
    let (s, text) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "ketama");
    assert_eq!(s.world.algorithm.params().word("hash_on"), "key");
    let w: Vec<u32> = s.world.groups.iter().map(|g| g.weight).collect();
    assert_eq!(w, [1, 2, 1]);
    assert_eq!(s.world.lb.retry.retries, 0, "proxy_next_upstream off");
    assert!(text.contains("`slow_start=30s`: nginx Plus only"), "{text}");
    // The upstream in conf.d/notes.conf.bak does not match the include's *.conf.
    let e = ngx("nginx/nginx.conf", Some("not_included")).unwrap_err();
    assert!(e.message.contains("the upstreams are: api"), "{e}");
}

#[test]
fn nginx_defaults_give_every_server_one_try_and_smooth_wrr_by_weight() {
    let i = ngx("nginx/simple.conf", None).unwrap();
    let (s, text) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "weighted-round-robin");
    assert_eq!(s.world.algorithm.params().int("max_fails"), 1);
    assert_eq!(
        s.world.lb.retry.retries, 2,
        "3 servers: proxy_next_upstream_tries 0"
    );
    assert!(!s.world.lb.retry.on_5xx);
    assert_eq!(
        s.world.lb.upstream_timeout.map(|t| t.as_secs_f64()),
        Some(60.0)
    );
    assert!(
        text.contains("#   - proxy_next_upstream error timeout\n"),
        "{text}"
    );
    // Weights 5, 1, 1: the first server takes 5/7 of the requests.
    let rep = World::new(&s.world, &SeedTree::new(s.seed), 0)
        .run()
        .unwrap();
    let first = rep.servers[0].requests as f64;
    let all: u64 = rep.servers.iter().map(|r| r.requests).sum();
    assert!(
        (first / all as f64 - 5.0 / 7.0).abs() < 0.01,
        "{first} of {all}"
    );
}

#[test]
fn nginx_ip_hash_and_random_two() {
    let i = ngx("nginx/iphash.conf", None).unwrap();
    let (s, text) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "ip-hash");
    assert_eq!(s.world.lb.retry.retries, 1);
    assert!(
        text.contains("`max_fails=2`: lblab's ip-hash has no passive check"),
        "{text}"
    );
    let i = ngx("nginx/random.conf", None).unwrap();
    let (s, _) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "power-of-d");
    assert_eq!(s.world.algorithm.params().int("d"), 2);
    assert_eq!(s.world.lb.retry.retries, 3);
}

#[test]
fn haproxy_backend_with_defaults_default_server_and_backups() {
    let i = hap("haproxy/haproxy.cfg", Some("app")).unwrap();
    let (s, text) = scenario(&i);
    assert_eq!(
        weights(&s),
        [
            ("app1".to_string(), 30, 0),
            ("app2".to_string(), 20, 0),
            ("spare1".to_string(), 1, 1),
            ("spare2".to_string(), 1, 1)
        ]
    );
    assert_eq!(s.world.algorithm.info().name, "haproxy-leastconn");
    assert_eq!(
        s.world.lb.priority,
        Some(PriorityRule::Haproxy { all_backups: true })
    );
    // retries 3 with option redispatch (from defaults): the last retry goes elsewhere.
    assert_eq!(s.world.lb.retry.retries, 1);
    assert!(s.world.lb.retry.on_refused && !s.world.lb.retry.on_timeout);
    let active = s.world.health.active.as_ref().expect("checks");
    assert_eq!(active.check, CheckType::Http);
    let ActiveStyle::Haproxy(c) = &active.style else {
        panic!("{:?}", active.style)
    };
    // default-server inter 3s fall 2 rise 3 (defaults), observe on the servers.
    assert_eq!((c.inter.as_secs_f64(), c.rise, c.fall), (3.0, 3, 2));
    assert_eq!(c.observe, Observe::Layer7);
    assert_eq!(c.error_limit, 5);
    assert_eq!(c.timeout_check.map(|t| t.as_secs_f64()), Some(2.0));
    assert_eq!(c.spread_checks_pct, 5);
    let ss = s.world.health.slow_start.expect("slowstart");
    assert_eq!(ss.window.as_secs_f64(), 20.0);
    assert!(
        text.contains("`server app3 10.0.0.13:8080 weight 10 disabled`"),
        "{text}"
    );
    assert!(text.contains("`cookie a1`"), "{text}");
}

#[test]
fn haproxy_hashing_backends() {
    let i = hap("haproxy/haproxy.cfg", Some("static")).unwrap();
    let (s, _) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "haproxy-consistent");
    assert_eq!(s.world.algorithm.params().int("balance_factor"), 150);
    assert_eq!(s.world.algorithm.params().word("hash_on"), "key");
    // A listen section with its named defaults: balance source, no redispatch.
    let i = hap("haproxy/haproxy.cfg", Some("mysql")).unwrap();
    let (s, _) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "haproxy-source");
    assert_eq!(s.world.lb.retry.retries, 0);
    assert_eq!(
        s.world.lb.upstream_timeout.map(|t| t.as_secs_f64()),
        Some(300.0)
    );
    let ActiveStyle::Haproxy(c) = &s.world.health.active.as_ref().unwrap().style else {
        panic!()
    };
    assert_eq!((c.inter.as_secs_f64(), c.rise, c.fall), (10.0, 2, 3));
}

#[test]
fn haproxy_first_random_and_retry_on() {
    let i = hap("haproxy/first.cfg", None).unwrap();
    let (s, _) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "haproxy-first");
    assert_eq!(s.world.algorithm.params().int("maxconn"), 50);
    assert_eq!(
        s.world.lb.retry.retries, 2,
        "option redispatch 1: every retry elsewhere"
    );
    assert!(s.world.lb.retry.on_timeout && s.world.lb.retry.on_5xx);
    let i = hap("haproxy/random.cfg", None).unwrap();
    let (s, text) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "power-of-d");
    assert_eq!(s.world.algorithm.params().int("d"), 2, "{text}");
    assert!(s.world.algorithm.params().bool("replacement"));
}

/// Every directive of the upstream or backend is mentioned in the output, translated
/// (`# from` comments name its line) or not.
#[test]
fn every_directive_is_translated_or_commented() {
    let cases = [
        (ngx("nginx/nginx.conf", Some("api")).unwrap(), 7),
        (ngx("nginx/nginx.conf", Some("static")).unwrap(), 4),
        (hap("haproxy/haproxy.cfg", Some("app")).unwrap(), 9),
        (hap("haproxy/haproxy.cfg", Some("mysql")).unwrap(), 3),
    ];
    for (i, n) in cases {
        let f = &i.fragment;
        assert_eq!(f.directives.len(), n, "{}: {:?}", i.name, f.directives);
        let text = f.to_toml();
        for at in &f.directives {
            let short = format!(
                "{}:{}",
                Path::new(&at.file).file_name().unwrap().to_string_lossy(),
                at.line
            );
            // FILE:LINE not followed by another digit (line 1 is not line 15).
            let mentioned = text
                .match_indices(&short)
                .any(|(k, _)| !text[k + short.len()..].starts_with(|c: char| c.is_ascii_digit()));
            assert!(mentioned, "{}: {short} not in the output:\n{text}", i.name);
        }
    }
}

#[test]
fn malformed_files_are_refused_at_their_line() {
    let nginx_cases = [
        (
            "unclosed.conf",
            4,
            "expecting \"}\" to close the block opened at line 1",
        ),
        ("extra-brace.conf", 4, "unexpected \"}\""),
        ("no-semicolon.conf", 4, "not terminated by \";\""),
        ("bad-number.conf", 2, "\"abc\" is not a whole number"),
        ("bad-unit.conf", 2, "unknown unit \"x\""),
        ("no-address.conf", 3, "without an address"),
        ("invalid-utf8.conf", 2, "not UTF-8"),
        (
            "backup-iphash.conf",
            4,
            "does not allow backup servers with ip_hash",
        ),
        ("missing-include.conf", 2, "cannot open included file"),
        ("open-quote.conf", 2, "closing quote"),
    ];
    for (file, line, needle) in nginx_cases {
        let e = ngx(&format!("nginx/bad/{file}"), None).unwrap_err();
        assert_eq!(e.line, Some(line), "{file}: {e}");
        assert!(e.column.is_some(), "{file}: {e}");
        assert!(e.message.contains(needle), "{file}: {e}");
    }
    let haproxy_cases = [
        ("bad-number.cfg", 2, 34, "\"abc\" is not a whole number"),
        ("bad-unit.cfg", 2, 39, "unknown unit \"x\""),
        ("no-address.cfg", 3, 5, "needs a name and an address"),
        ("open-quote.cfg", 2, 15, "unterminated quoted string"),
        ("invalid-utf8.cfg", 1, 16, "not UTF-8"),
        (
            "unknown-balance.cfg",
            2,
            5,
            "unknown balance algorithm \"fastest\"",
        ),
        ("missing-value.cfg", 2, 27, "\"weight\" needs a value"),
    ];
    for (file, line, col, needle) in haproxy_cases {
        let e = hap(&format!("haproxy/bad/{file}"), None).unwrap_err();
        assert_eq!((e.line, e.column), (Some(line), Some(col)), "{file}: {e}");
        assert!(e.message.contains(needle), "{file}: {e}");
    }
}

/// HAProxy's `.if` blocks: literal conditions choose the branch; a condition on the
/// machine outside the backend is commented, inside it refused at its line.
#[test]
fn haproxy_conditional_blocks_keep_the_branch_haproxy_reads() {
    let i = hap("haproxy/conditional.cfg", None).unwrap();
    let names: Vec<&str> = i.fragment.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["app1", "app2"]);
    let text = i.fragment.to_toml();
    for needle in [
        "conditional.cfg:8: `.if defined(HAPROXY_LOCALPEER) ... .endif`",
        "conditional.cfg:24: `.warning app: two servers`",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    let e = hap("haproxy/bad/machine-if.cfg", None).unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("version_atleast()"), "{e}");
}

#[test]
fn several_upstreams_need_a_choice_on_the_command_line() {
    let path = data("nginx/nginx.conf");
    let o = lblab(&["import", "nginx", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--upstream NAME: api (") && err.contains("static ("),
        "{err}"
    );
    let path = data("haproxy/haproxy.cfg");
    let o = lblab(&["import", "haproxy", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("app (") && err.contains("static (") && err.contains("mysql ("),
        "{err}"
    );
    let o = lblab(&[
        "import",
        "nginx",
        data("nginx/bad/unclosed.conf").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unclosed.conf:4:1: "));
}

#[test]
fn output_goes_to_stdout_or_atomically_to_a_file_and_is_byte_identical() {
    let dir = scratch("import-out");
    let path = data("haproxy/haproxy.cfg");
    let args = [
        "import",
        "haproxy",
        path.to_str().unwrap(),
        "--backend",
        "app",
    ];
    let a = lblab(&args);
    let b = lblab(&args);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let out = dir.join("app.toml");
    let mut with_o = args.to_vec();
    with_o.extend(["-o", out.to_str().unwrap()]);
    let c = lblab(&with_o);
    assert!(c.status.success() && c.stdout.is_empty());
    assert_eq!(std::fs::read(&out).unwrap(), a.stdout);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(names.len(), 1);
}

/// The files of `tests/data/import/SUB` for each of `subs`, sorted.
pub(crate) fn files_in(subs: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in subs {
        for e in std::fs::read_dir(data(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Feeds `import` each of `files` cut after each line, and 40 copies with 1–4 bytes
/// replaced by bytes of `table` (from a fixed seed): it must return a fragment (which
/// renders) or an error with a line (or one that starts with one of `no_line`), and
/// never panic. Returns the number of cases.
pub(crate) fn never_panics(
    files: &[PathBuf],
    mut seed: u64,
    table: &[u8],
    no_line: &[&str],
    import: &dyn Fn(&Path, &Disk) -> Result<Imported, ImportError>,
) -> usize {
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut n_cases = 0;
    for p in files {
        let bytes = std::fs::read(p).unwrap();
        let mut variants: Vec<Vec<u8>> = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| bytes[..i].to_vec())
            .collect();
        for _ in 0..40 {
            let mut v = bytes.clone();
            for _ in 0..1 + next() % 4 {
                if !v.is_empty() {
                    let i = (next() % v.len() as u64) as usize;
                    v[i] = table[(next() % table.len() as u64) as usize];
                }
            }
            variants.push(v);
        }
        for v in variants {
            n_cases += 1;
            let disk = Disk(BTreeMap::from([(p.clone(), v.clone())]));
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                import(p, &disk).map(|i| i.fragment.to_toml())
            }));
            let shown = String::from_utf8_lossy(&v).into_owned();
            match r {
                Err(_) => panic!("{} panicked on:\n{shown}", p.display()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => assert!(
                    e.line.is_some() || no_line.iter().any(|n| e.message.starts_with(n)),
                    "{}: an error without a line: {e}\n{shown}",
                    p.display()
                ),
            }
        }
    }
    n_cases
}

/// Every nginx and HAProxy test configuration cut after each line, and with bytes
/// replaced at random: the importer returns a fragment or an error with a line, and never
/// panics.
#[test]
fn truncated_and_corrupted_configs_never_panic() {
    let files = files_in(&[
        "nginx",
        "nginx/conf.d",
        "nginx/bad",
        "haproxy",
        "haproxy/bad",
    ]);
    let n = never_panics(
        &files,
        0x9E37_79B9_7F4A_7C15,
        b"{};\"'#\\ \n\xff\x00x5s=*",
        &["no upstream", "no backend"],
        &|p, disk| {
            if p.to_string_lossy().contains("haproxy") {
                haproxy::import(p, None, disk)
            } else {
                nginx::import(p, None, disk)
            }
        },
    );
    assert!(n > 1000, "{n}");
}

/// The requests server `NAME-1` (of one-server group `NAME`) got, from a servers.csv.
pub(crate) fn requests(servers: &str, name: &str) -> u64 {
    // (The variant column holds commas, quoted: read the field after the group.)
    let key = format!(",{name}-1,{name},");
    servers
        .lines()
        .find_map(|l| l.split_once(&key).map(|(_, rest)| rest))
        .and_then(|rest| rest.split(',').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in\n{servers}"))
}

/// `lblab run WORKLOAD --config CONFIG`: the imported upstream runs against the workload
/// (servers, weights and the backup as the config says), untranslated directives come out
/// as warnings, and a workload that sets what the config provides is refused (exit 2)
/// before anything is written.
#[test]
fn run_config_runs_an_upstream_against_a_workload() {
    let dir = scratch("import-run-config");
    let workload = dir.join("workload.toml");
    std::fs::write(
        &workload,
        "[scenario]\nname = \"shop\"\nduration = \"30s\"\n\n[clients]\nrate = \"20/s\"\n\n[[classes]]\nservice = \"5ms\"\n",
    )
    .unwrap();
    let out = dir.join("out");
    let (w, o) = (workload.to_str().unwrap(), out.to_str().unwrap());
    let cfg = "tests/data/import/nginx/nginx.conf";
    let r = lblab(&[
        "run",
        w,
        "--config",
        cfg,
        "--upstream",
        "api",
        "-r",
        "1",
        "--out",
        o,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("not translated: `keepalive 32`"), "{err}");
    let servers = std::fs::read_to_string(out.join("servers.csv")).unwrap();
    // Weights 3 and 2 (least_conn at a light load spreads by weight); the backup idle.
    let count = |name: &str| requests(&servers, name) as f64;
    let (a, b, backup) = (
        count("10-0-1-11_8080"),
        count("10-0-1-12_8080"),
        count("10-0-9-10_8080"),
    );
    assert!(a > b && b > 0.0 && backup == 0.0, "{a} {b} {backup}");
    // Several upstreams and no --upstream: exit 2 naming them.
    let r = lblab(&["run", w, "--config", cfg, "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("api"));
    // The workload may not set [lb] when the config provides it.
    std::fs::write(
        &workload,
        format!(
            "{}\n[lb]\nretries = 1\n",
            std::fs::read_to_string(&workload).unwrap()
        ),
    )
    .unwrap();
    let fresh = dir.join("fresh");
    let r = lblab(&[
        "run",
        w,
        "--config",
        cfg,
        "--upstream",
        "api",
        "--out",
        fresh.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("sets [lb]"));
    assert!(!fresh.exists());
}

/// `--config-format` names the configuration's format when its file name suggests another
/// (`.conf` reads as nginx); without it, the error says which format was guessed and how to
/// name the right one.
#[test]
fn config_format_overrides_the_format_the_name_suggests() {
    let dir = scratch("import-config-format");
    let workload = dir.join("workload.toml");
    std::fs::write(
        &workload,
        "[scenario]\nname = \"shop\"\nduration = \"30s\"\n\n[clients]\nrate = \"20/s\"\n\n[[classes]]\nservice = \"5ms\"\n",
    )
    .unwrap();
    let config = dir.join("lb.conf");
    std::fs::write(
        &config,
        "backend app\n    balance roundrobin\n    server a 10.0.0.1:80\n    server b 10.0.0.2:80 weight 3\n",
    )
    .unwrap();
    let (w, c) = (workload.to_str().unwrap(), config.to_str().unwrap());
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let r = lblab(&["run", w, "--config", c, "-r", "1", "-q", "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("(read as nginx configuration from its name; --config-format haproxy or envoy if it is not)"),
        "{err}"
    );
    assert!(!out.exists());
    let r = lblab(&[
        "run",
        w,
        "--config",
        c,
        "--config-format",
        "haproxy",
        "-r",
        "1",
        "-q",
        "--out",
        o,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // HAProxy's roundrobin over weights 1 and 3: a quarter and three quarters.
    let servers = std::fs::read_to_string(out.join("servers.csv")).unwrap();
    let (a, b) = (requests(&servers, "a"), requests(&servers, "b"));
    // (Within one round of four of exact: the run may end mid-round.)
    assert!(a > 0 && (3 * a).abs_diff(b) <= 3, "a {a}, b {b}");
    // Naming the format the name suggests changes nothing but the message.
    let r = lblab(&[
        "run",
        w,
        "--config",
        c,
        "--config-format",
        "nginx",
        "-r",
        "1",
        "-q",
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        !String::from_utf8_lossy(&r.stderr).contains("from its name"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}
