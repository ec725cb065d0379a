//! CLI conventions: shell completions and man pages from the clap definitions, JSON from
//! list/validate/bench, coloured diagnostics (`--color`, `NO_COLOR`) and `--version`.

use std::process::{Command, Output};

use serde_json::Value;

use crate::support::root;

fn lblab_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lblab"));
    c.args(args).current_dir(root());
    // The tests' own environment must not decide colour.
    for var in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    c.output().expect("run lblab")
}

fn lblab(args: &[&str]) -> Output {
    lblab_env(args, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// The subcommands as `lblab --help` lists them.
fn subcommands() -> Vec<String> {
    let help = stdout(&lblab(&["--help"]));
    let cmds: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(cmds.len() >= 11, "{cmds:?}");
    cmds
}

#[test]
fn completion_scripts_come_from_the_clap_definitions() {
    let cmds = subcommands();
    let o = lblab(&["completions", "bash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bash = stdout(&o);
    assert!(
        bash.contains("complete -F _lblab"),
        "not a bash completion script"
    );
    for c in &cmds {
        assert!(
            bash.contains(&format!("lblab,{c})")),
            "bash script misses {c}"
        );
    }
    for flag in [
        "--replications",
        "--algorithms",
        "--axis",
        "--param",
        "--color",
    ] {
        assert!(bash.contains(flag), "bash script misses {flag}");
    }
    for (shell, marker) in [
        ("zsh", "#compdef lblab"),
        ("fish", "complete -c lblab"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let o = lblab(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let s = stdout(&o);
        assert!(s.contains(marker), "{shell}: no {marker}");
        assert!(
            s.contains("replications") && s.contains("compare"),
            "{shell}"
        );
    }
    let o = lblab(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bash"), "{}", stderr(&o));
}

#[test]
fn man_pages_name_every_command() {
    let o = lblab(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    let th = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
    assert!(th.is_some_and(|l| l.starts_with(".TH lblab 1 ")), "{th:?}");
    for c in subcommands() {
        assert!(
            page.contains(&format!("lblab\\-{c}(1)")),
            "lblab(1) misses {c}"
        );
        let sub = stdout(&lblab(&["man", &c]));
        assert!(
            sub.lines()
                .any(|l| l.starts_with(&format!(".TH lblab-{c} 1 "))),
            "{c}: {sub}"
        );
    }
    assert!(stdout(&lblab(&["man", "compare"])).contains("\\-\\-axis"));
    let o = lblab(&["man", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected one of run, compare"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn list_as_json() {
    let algs = json(&lblab(&["list", "algorithms", "--format", "json"]));
    let algs = algs.as_array().unwrap();
    let text = stdout(&lblab(&["list", "algorithms"]));
    assert_eq!(
        algs.len(),
        text.lines().filter(|l| l.contains("source: ")).count(),
        "JSON and text list the same algorithms"
    );
    let find = |name: &str| {
        algs.iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(
        find("round-robin")["aliases"]
            .as_array()
            .unwrap()
            .contains(&"rr".into())
    );
    let p2c = find("power-of-d");
    let d = p2c["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "d")
        .expect("power-of-d has d");
    assert_eq!(d["kind"], "integer");
    assert!(d["default"].as_i64().unwrap() >= 2);
    assert!(d["min"].as_i64().unwrap() <= d["default"].as_i64().unwrap());
    for a in algs {
        assert!(a["source"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
    }
    let dists = json(&lblab(&["list", "distributions", "--format", "json"]));
    let names: Vec<&str> = dists
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"exponential") && names.contains(&"lognormal"),
        "{names:?}"
    );
    let scen = json(&lblab(&["list", "scenarios", "--format", "json"]));
    let qs = scen
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "quick-start")
        .expect("quick-start listed");
    assert_eq!(qs["ok"], true);
    assert!(qs["description"].as_str().unwrap().contains("round robin"));
    assert!(!qs["question"].as_str().unwrap().is_empty());
    assert!(!qs["lesson"].as_str().unwrap().is_empty());
}

#[test]
fn validate_as_json_has_every_problem_and_keeps_the_exit_code() {
    let dir = crate::support::scratch("conv-validate");
    let bad = dir.join("typo.toml");
    let text = std::fs::read_to_string(root().join("scenarios/quick-start.toml")).unwrap();
    assert!(text.contains("\nslots = 4\n"));
    std::fs::write(&bad, text.replace("\nslots = 4\n", "\nslotz = 4\n")).unwrap();
    let bad_s = bad.to_str().unwrap();
    let o = lblab(&[
        "validate",
        "scenarios/quick-start.toml",
        bad_s,
        "--set",
        "clients.rate=banana",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v = json(&o);
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 2);
    // The valid file is not valid with a bad --set either.
    let problems = |f: &Value| f["problems"].as_array().unwrap().clone();
    assert_eq!(files[0]["ok"], false);
    assert_eq!(files[1]["file"], bad_s);
    let ps = problems(&files[1]);
    let typo = ps
        .iter()
        .find(|p| p["path"] == "servers[0].slotz")
        .expect("the typo");
    let line = 1 + text[..text.find("\nslots = 4\n").unwrap() + 1]
        .matches('\n')
        .count();
    assert_eq!(typo["line"].as_u64(), Some(line as u64));
    assert_eq!(typo["column"].as_u64(), Some(1));
    assert_eq!(typo["hint"], "did you mean `slots`?");
    assert!(typo["message"].as_str().unwrap().contains("unknown key"));
    let set = ps.iter().find(|p| p["path"] == "clients.rate").unwrap();
    assert_eq!(set["set"], "clients.rate=banana");
    assert!(set["line"].is_null() && set["column"].is_null());
    // Without the bad override the good file is ok, with what it describes.
    let o = lblab(&["validate", "scenarios/quick-start.toml", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["scenario"], "quick-start");
    assert_eq!(v[0]["servers"], 6);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_as_json() {
    let o = lblab(&[
        "bench",
        "--requests",
        "20000",
        "--warmup",
        "1000",
        "--algorithms",
        "round-robin,least-connections",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["warmup_requests"], 1000);
    // What measured: this build, and the machine's CPUs (its model where /proc/cpuinfo
    // names it; ARM kernels do not).
    assert_eq!(v["lblab_version"], env!("CARGO_PKG_VERSION"));
    assert!(v["cpus"].as_u64().is_some_and(|n| n >= 1), "{v}");
    let named = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|s| s.contains("model name"));
    assert_eq!(
        v["cpu"].as_str().is_some_and(|c| !c.is_empty()),
        named,
        "{v}"
    );
    let rs = v["results"].as_array().unwrap();
    // Least connections has a bare event loop beside it; round robin has none.
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0]["algorithm"], "round-robin");
    assert_eq!(rs[1]["algorithm"], "least-connections");
    assert_eq!(rs[2]["algorithm"], "bare loop, least-connections");
    assert!(rs[0]["vs_bare"].is_null());
    let vs = rs[1]["vs_bare"].as_f64().unwrap();
    let ratio = rs[1]["mreq_per_s"].as_f64().unwrap() / rs[2]["mreq_per_s"].as_f64().unwrap();
    assert!((vs - ratio).abs() < 1e-9 * ratio, "{vs} vs {ratio}");
    for r in &rs[..2] {
        assert_eq!(r["servers"], 16);
        let req = r["requests"].as_u64().unwrap();
        // Poisson arrivals: the count is near 20,000 (well within ±5 standard deviations).
        assert!(req.abs_diff(20_000) < 5 * 142, "{r}");
        assert_eq!(r["simulated"].as_u64(), Some(req + 1000));
        // The speed is per CPU second of the run's thread (Linux), never more than its
        // wall-clock time.
        let (wall, cpu, rate) = (
            r["wall_s"].as_f64().unwrap(),
            r["cpu_s"].as_f64(),
            r["mreq_per_s"].as_f64().unwrap(),
        );
        let secs = cpu.unwrap_or(wall);
        assert!((rate * secs * 1e6 - (req + 1000) as f64).abs() < 1.0, "{r}");
        if cfg!(target_os = "linux") {
            let cpu = cpu.expect("Linux reads the thread's CPU time");
            assert!(cpu > 0.0 && cpu <= wall * 1.01 + 1e-3, "{r}");
        }
        // Mean response time is at least the mean service time (1 s), give or take noise.
        assert!(r["mean_latency_s"].as_f64().unwrap() > 0.9, "{r}");
    }
    // Same seed, same simulation: only the clocks' figures may differ.
    let again = json(&lblab(&[
        "bench",
        "--requests",
        "20000",
        "--warmup",
        "1000",
        "--algorithms",
        "round-robin",
        "--format",
        "json",
    ]));
    assert_eq!(again["results"][0]["requests"], rs[0]["requests"]);
    assert_eq!(
        again["results"][0]["mean_latency_s"],
        rs[0]["mean_latency_s"]
    );
}

/// `lblab bench` of `algorithms` at 16 and 64 servers, 40,000 requests, no bare loop.
fn bench_16_and_64(algorithms: &str, format: &str) -> Output {
    lblab(&[
        "bench",
        "--servers",
        "16,64",
        "--requests",
        "40000",
        "--warmup",
        "1000",
        "--algorithms",
        algorithms,
        "--no-bare",
        "--format",
        format,
    ])
}

/// `--servers` runs the reference model at each size (λ = 0.9 × servers: random choice
/// keeps every server an M/M/1 queue at ρ = 0.9, so the mean stays near 10 s), relates
/// each size's speed to the first's, and refuses sizes it cannot run.
#[test]
fn bench_measures_several_fleet_sizes() {
    let o = bench_16_and_64("random", "json");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let rs = v["results"].as_array().unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(
        (rs[0]["servers"].clone(), rs[1]["servers"].clone()),
        (16.into(), 64.into())
    );
    assert!(rs[0]["vs_first_size"].is_null());
    let r = rs[1]["mreq_per_s"].as_f64().unwrap() / rs[0]["mreq_per_s"].as_f64().unwrap();
    assert!((rs[1]["vs_first_size"].as_f64().unwrap() - r).abs() < 1e-9 * r);
    for x in rs {
        // A short run from empty: the mean is below the steady state's 10 s, not near 0.
        let t = x["mean_latency_s"].as_f64().unwrap();
        assert!((3.0..12.0).contains(&t), "{x}");
        // One repetition: no range of repetitions.
        assert!(x["vs_first_size_range"].is_null(), "{x}");
    }
    // Random at 16 and 64 servers with the bare loop, run `repeat` times.
    let random_16_64 = |repeat: &str, format: &str| {
        lblab(&[
            "bench",
            "--servers",
            "16,64",
            "--requests",
            "20000",
            "--warmup",
            "1000",
            "--algorithms",
            "random",
            "--repeat",
            repeat,
            "--format",
            format,
        ])
    };
    // With repetitions, the fastest runs' ratio lies within the range of each
    // repetition's own (the fastest 16-server run's repetition gives at most it, the
    // fastest 64-server run's at least it), and the text gives the range.
    let v = json(&random_16_64("3", "json"));
    for x in v["results"].as_array().unwrap() {
        let Some(r) = x["vs_first_size"].as_f64() else {
            assert!(x["vs_first_size_range"].is_null(), "{x}");
            continue;
        };
        let range = &x["vs_first_size_range"];
        let (lo, hi) = (range[0].as_f64().unwrap(), range[1].as_f64().unwrap());
        assert!(
            lo <= hi && lo <= r * (1.0 + 1e-12) && r <= hi * (1.0 + 1e-12),
            "{x}"
        );
    }
    let text = String::from_utf8_lossy(&random_16_64("3", "text").stdout).into_owned();
    assert!(
        text.contains("× its speed at 16 servers (its 3 repetitions: "),
        "{text}"
    );
    // The bare loop's rows relate it to itself at the first size, as the text says.
    let o = random_16_64("1", "text");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("× the bare loop's speed (the bare loop: ")
            && text.contains("× its speed at 16 servers)"),
        "{text}"
    );
    let o = random_16_64("1", "json");
    let v = json(&o);
    let bare: Vec<&Value> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["algorithm"].as_str().unwrap().starts_with("bare loop"))
        .collect();
    assert_eq!(bare.len(), 2);
    assert!(bare[0]["vs_first_size"].is_null());
    let r = bare[1]["mreq_per_s"].as_f64().unwrap() / bare[0]["mreq_per_s"].as_f64().unwrap();
    assert!((bare[1]["vs_first_size"].as_f64().unwrap() - r).abs() < 1e-9 * r);
    for bad in [
        vec!["bench", "--servers", "0"],
        vec!["bench", "--servers", "2000000"],
        vec!["bench", "--servers", "64", "--model", "three-tier"],
    ] {
        let o = lblab(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(stderr(&o).contains("--servers"), "{}", stderr(&o));
    }
}

/// `--keys` gives every request a key, so the hashing algorithms hash it instead of
/// falling back: nginx's `hash` without a key is round robin (at ρ = 0.9 its mean time in
/// system is well below random choice's 10 s), with 1,000 keys it spreads them unevenly
/// (above it). The key count is in the model line and the JSON; other models refuse it.
#[test]
fn bench_keys_make_the_hash_family_hash_keys() {
    let mean = |keys: &[&str]| {
        let mut args = vec![
            "bench",
            "--requests",
            "40000",
            "--warmup",
            "1000",
            "--algorithms",
            "hash",
            "--format",
            "json",
        ];
        args.extend_from_slice(keys);
        let v = json(&lblab(&args));
        let keys = v["keys"].clone();
        (v["results"][0]["mean_latency_s"].as_f64().unwrap(), keys)
    };
    let (keyless, k0) = mean(&[]);
    let (keyed, k1) = mean(&["--keys", "1000"]);
    assert!(k0.is_null() && k1 == 1000, "{k0} {k1}");
    assert!(keyless < 7.0 && keyed > 9.0, "{keyless} {keyed}");
    let o = lblab(&[
        "bench",
        "--requests",
        "1000",
        "--warmup",
        "0",
        "--keys",
        "7",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("each request carries one of 7 keys"),
        "{text}"
    );
    for bad in [
        vec!["bench", "--keys", "0"],
        vec!["bench", "--keys", "5", "--model", "three-tier"],
    ] {
        let o = lblab(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(stderr(&o).contains("--keys"), "{}", stderr(&o));
    }
}

/// A run whose mean time in system passes twice random choice's 10 s is flagged as
/// overloaded and its size ratio is not presented as a cost per pick: hashing the 1,000
/// clients' full addresses overloads some servers (means of 45 s and 27 s here), random
/// choice does not (about 9.5 s).
#[test]
fn bench_flags_overloaded_runs() {
    let run = |format: &str| bench_16_and_64("random,ip-hash-full", format);
    let o = run("json");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let rs = v["results"].as_array().unwrap();
    let flags: Vec<(&str, bool)> = rs
        .iter()
        .map(|r| {
            (
                r["algorithm"].as_str().unwrap(),
                r["overloaded"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("random", false),
            ("random", false),
            ("ip-hash-full", true),
            ("ip-hash-full", true)
        ]
    );
    for r in rs {
        let t = r["mean_latency_s"].as_f64().unwrap();
        assert_eq!(t > 20.0, r["overloaded"].as_bool().unwrap(), "{r}");
    }
    let o = run("text");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        text.matches("(overloaded: a backlog's speed").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("\noverloaded: mean time in system above 20 s"),
        "{text}"
    );
}

#[test]
fn bench_three_tier_counts_three_hop_requests_per_request() {
    let o = lblab(&[
        "bench",
        "--model",
        "three-tier",
        "--requests",
        "20000",
        "--warmup",
        "1000",
        "--algorithms",
        "least-connections",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert!(
        v["model"]
            .as_str()
            .unwrap()
            .starts_with("edge → web → app → db")
    );
    let r = &v["results"][0];
    assert_eq!(r["hops_per_request"], 3);
    let (hop, req) = (
        r["mhop_per_s"].as_f64().unwrap(),
        r["mreq_per_s"].as_f64().unwrap(),
    );
    assert!((hop / req - 3.0).abs() < 1e-9, "{r}");
    // Two 0.1 s hops above a database at ρ = 0.9: well above the 1 s of its work alone.
    assert!(r["mean_latency_s"].as_f64().unwrap() > 1.2, "{r}");
}

/// Every algorithm name is checked before anything is measured: a typo in the last one
/// costs nothing, and nothing is printed as if measured.
#[test]
fn bench_checks_every_algorithm_name_before_measuring() {
    let o = lblab(&[
        "bench",
        "--requests",
        "20000",
        "--algorithms",
        "random,least-connections,leastconn",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown algorithm \"leastconn\""),
        "{}",
        stderr(&o)
    );
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// The keep-alive model runs each algorithm on one workload twice, without connections and
/// then with keep-alive ones: the same requests, routed differently (random picks once per
/// connection instead of once per request), and the second's speed relative to the first.
#[test]
fn bench_keep_alive_runs_each_algorithm_without_then_with_connections() {
    let run = |format: &str| {
        lblab(&[
            "bench",
            "--model",
            "keep-alive",
            "--requests",
            "20000",
            "--warmup",
            "1000",
            "--algorithms",
            "random",
            "--no-bare",
            "--repeat",
            "2",
            "--format",
            format,
        ])
    };
    let o = run("json");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let rs = v["results"].as_array().unwrap();
    assert_eq!(rs.len(), 2, "{v}");
    assert_eq!(
        (rs[0]["algorithm"].as_str(), rs[1]["algorithm"].as_str()),
        (Some("random"), Some("random keep-alive"))
    );
    assert_eq!(rs[0]["requests"], rs[1]["requests"]);
    assert_ne!(rs[0]["mean_latency_s"], rs[1]["mean_latency_s"]);
    let text = String::from_utf8_lossy(&run("text").stdout).into_owned();
    assert!(
        text.contains("× the connection-less speed (its 2 repetitions: "),
        "{text}"
    );
}

const ESC: &str = "\u{1b}[";

/// Removes ANSI SGR sequences (`ESC [ ... m`).
fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(ESC) {
        out.push_str(&rest[..i]);
        let tail = &rest[i + ESC.len()..];
        rest = &tail[tail.find('m').map_or(tail.len(), |j| j + 1)..];
    }
    out.push_str(rest);
    out
}

#[test]
fn diagnostics_are_coloured_only_when_asked_or_on_a_terminal() {
    let bad = [
        "validate",
        "scenarios/quick-start.toml",
        "--set",
        "servers.web.slotz=4",
    ];
    let with = |color: Option<&str>, env: &[(&str, &str)], args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        if let Some(c) = color {
            a.extend(["--color", c]);
        }
        let o = lblab_env(&a, env);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        stderr(&o)
    };
    let plain = with(None, &[], &bad);
    assert!(
        plain.contains("error:") && plain.contains("= help:"),
        "{plain}"
    );
    assert!(
        !plain.contains(ESC),
        "piped output has no colour by default: {plain:?}"
    );
    let always = with(Some("always"), &[], &bad);
    assert!(always.contains(ESC), "{always:?}");
    assert_eq!(strip(&always), plain, "colour changes nothing but colour");
    assert!(!with(Some("never"), &[], &bad).contains(ESC));
    assert!(!with(Some("auto"), &[("NO_COLOR", "1")], &bad).contains(ESC));
    // CLICOLOR_FORCE turns auto on when piped; NO_COLOR wins over it; always wins over both.
    assert!(with(None, &[("CLICOLOR_FORCE", "1")], &bad).contains(ESC));
    assert!(!with(None, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &bad).contains(ESC));
    assert!(with(Some("always"), &[("NO_COLOR", "1")], &bad).contains(ESC));
    assert!(!with(Some("never"), &[("CLICOLOR_FORCE", "1")], &bad).contains(ESC));
    // A problem located in a file: its caret is styled too.
    let dir = crate::support::scratch("conv-colour");
    let bad_file = dir.join("zero.toml");
    let text = std::fs::read_to_string(root().join("scenarios/quick-start.toml")).unwrap();
    std::fs::write(&bad_file, text.replace("\nslots = 4\n", "\nslots = 0\n")).unwrap();
    let run = ["run", bad_file.to_str().unwrap()];
    let file_err = with(Some("always"), &[], &run);
    assert!(
        file_err.contains(&format!("{ESC}31m^{ESC}0m")),
        "{file_err:?}"
    );
    assert_eq!(strip(&file_err), with(Some("never"), &[], &run));
    let _ = std::fs::remove_dir_all(&dir);
    // clap's own usage errors follow the same choice.
    let usage = ["run", "--no-such-flag"];
    assert!(with(Some("always"), &[], &usage).contains(ESC));
    assert!(!with(Some("never"), &[], &usage).contains(ESC));
    assert!(!with(None, &[], &usage).contains(ESC));
    let o = lblab(&["--color", "sometimes", "list", "algorithms"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("always"), "{}", stderr(&o));
}

#[test]
fn version_names_the_commit() {
    let o = lblab(&["--version"]);
    assert!(o.status.success());
    let v = stdout(&o);
    let v = v.trim_end();
    let rest = v
        .strip_prefix(&format!("lblab {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected --version: {v}"));
    let (commit, date) = match rest.split_once(", ") {
        Some((c, d)) => (c, Some(d)),
        None => (rest, None),
    };
    if commit != "unknown" {
        let hex = commit.strip_suffix("-dirty").unwrap_or(commit);
        assert!(
            hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "commit: {commit}"
        );
    }
    if let Some(d) = date {
        let b = d.as_bytes();
        assert!(
            b.len() == 10
                && b[4] == b'-'
                && b[7] == b'-'
                && d.chars().filter(char::is_ascii_digit).count() == 8,
            "date: {d}"
        );
    }
    assert_eq!(v, format!("lblab {}", env!("LBLAB_VERSION_LONG")));
}
