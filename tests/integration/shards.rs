//! The cluster templates in `deploy/` run a sweep's shards and the merge, and give what the
//! unsharded sweep gives: the same `sweep.csv` bytes, charts, report and table.
//!
//! The schedulers are stood in for. Slurm: `deploy/slurm/submit.sh` runs against an
//! `sbatch` that records its arguments; then, as Slurm would, a copy of the batch script
//! runs once per index of the `--array` it was given, with the `SLURM_*` variables Slurm
//! sets, and the merge script after it. Kubernetes: `deploy/k8s/submit.sh` runs against a
//! `kubectl` that records its arguments; the ConfigMap it creates and the results volume
//! become local directories, and the Jobs' commands and environments, read from
//! `deploy/k8s/sweep-job.yaml` (by the simple layout its header describes), run with
//! `JOB_COMPLETION_INDEX` = 0..completions−1, then the merge Job's.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{root, scratch};

/// The sweep, small and fast: 8 points × 2 algorithms × 2 replications of 20 s. The
/// templates read these from deploy/sweep.env; the environment overrides them.
const SETTINGS: &[(&str, &str)] = &[
    ("SCENARIO", "scenarios/quick-start.toml"),
    (
        "PARAMS",
        "clients.rate=300/s..600/s:100/s servers.web.slots=3,4",
    ),
    ("ALGORITHMS", "round-robin,least-connections"),
    ("SETS", "scenario.duration=20s"),
    ("REPLICATIONS", "2"),
    ("SEED", ""),
];

/// The same sweep, unsharded: its directory and what it printed.
fn reference(d: &Path) -> (PathBuf, String) {
    let out = d.join("reference");
    let o = Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args([
            "sweep",
            "scenarios/quick-start.toml",
            "--param",
            "clients.rate=300/s..600/s:100/s",
            "--param",
            "servers.web.slots=3,4",
            "--algorithms",
            "round-robin,least-connections",
            "--set",
            "scenario.duration=20s",
            "-r",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (out, String::from_utf8(o.stdout).unwrap())
}

/// `program` in a clean environment: PATH (with `bin` first, where the stand-ins for
/// sbatch and kubectl are), LBLAB (this build's binary) and the sweep's settings.
fn command(program: impl AsRef<std::ffi::OsStr>, bin: &Path) -> Command {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", format!("{}:{path}", bin.display()))
        .env("LBLAB", env!("CARGO_BIN_EXE_lblab"));
    for (k, v) in SETTINGS {
        c.env(k, v);
    }
    c
}

fn run(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A stand-in for a scheduler's command: records its arguments in `<name>.log`, one call
/// per line, and runs `reply` (shell) to answer.
fn stand_in(bin: &Path, name: &str, reply: &str) -> PathBuf {
    std::fs::create_dir_all(bin).unwrap();
    let log = bin.join(format!("{name}.log"));
    let script = bin.join(name);
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n{reply}\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

fn calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The files of a directory, sorted; charts are `.svg` and `.png`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `report.html` without the rows that name the command and the scenario file's path.
fn report(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("report.html"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("<dt>command</dt>") && !l.starts_with("<dt>scenario file</dt>"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `merged` holds what the unsharded sweep wrote in `reference` and that
/// merge printed the table the unsharded sweep printed.
fn assert_unsharded(merged: &Path, reference: &Path, ref_stdout: &str, merge_stdout: &str) {
    for f in ["sweep.csv", "sweep.toml"] {
        assert_eq!(
            std::fs::read(merged.join(f)).unwrap(),
            std::fs::read(reference.join(f)).unwrap(),
            "{f} differs from the unsharded sweep's"
        );
    }
    let files = names(reference);
    assert_eq!(names(merged), files);
    let charts: Vec<&String> = files
        .iter()
        .filter(|f| f.ends_with(".svg") || f.ends_with(".png"))
        .collect();
    assert!(charts.len() >= 4, "{files:?}");
    for c in charts {
        assert_eq!(
            std::fs::read(merged.join(c)).unwrap(),
            std::fs::read(reference.join(c)).unwrap(),
            "{c}"
        );
    }
    assert_eq!(report(merged), report(reference));
    let manifest = std::fs::read_to_string(merged.join("manifest.toml")).unwrap();
    assert!(manifest.contains(" merge "), "{manifest}");
    let table = ref_stdout.split("\nresults: ").next().unwrap();
    assert!(table.contains("clients.rate"), "{ref_stdout}");
    assert_eq!(merge_stdout.split("\nmerged ").next().unwrap(), table);
}

/// Each shard's directory says which shard it holds.
fn assert_shards(out: &Path, n: usize) {
    for k in 1..=n {
        let t = std::fs::read_to_string(out.join(format!("shard-{k}/shard.toml"))).unwrap();
        assert!(t.contains(&format!("\nshard = \"{k}/{n}\"\n")), "{t}");
    }
    assert!(!out.join(format!("shard-{}", n + 1)).exists());
}

#[test]
fn the_slurm_array_and_its_merge_give_the_unsharded_sweep() {
    let d = scratch("shards-slurm");
    let (reference, ref_stdout) = reference(&d);
    let out = d.join("results");
    let bin = d.join("bin");
    // sbatch --parsable answers JOBID;CLUSTER: 101 for the array, 102 for the merge.
    let log = stand_in(
        &bin,
        "sbatch",
        "echo \"$((100 + $(wc -l < \"$0.log\")));cluster\"",
    );
    let o = run(command("sh", &bin)
        .arg("deploy/slurm/submit.sh")
        .current_dir(root())
        .env("SHARDS", "3")
        .env("OUT", &out));
    assert!(String::from_utf8_lossy(&o.stdout).contains("array job 101 (3 shards"));
    let sb = calls(&log);
    assert_eq!(sb.len(), 2, "{sb:?}");
    assert_eq!(
        sb[0],
        "--parsable --array=1-3 --export=ALL,SHARDS=3 deploy/slurm/sweep.sbatch"
    );
    assert_eq!(
        sb[1],
        "--parsable --dependency=afterok:101 deploy/slurm/merge.sbatch"
    );
    // Slurm runs a copy of each batch script (from its spool directory, here not in the
    // repository) in the submission directory.
    let spool = d.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    for s in ["sweep.sbatch", "merge.sbatch"] {
        let text = std::fs::read_to_string(root().join("deploy/slurm").join(s)).unwrap();
        assert!(text.contains("\n#SBATCH --job-name=lblab-"), "{s}");
        std::fs::write(spool.join(s), text).unwrap();
    }
    // The array: one task per index of --array=1-3, with the variables Slurm sets and
    // those --export=ALL,SHARDS=3 passes on.
    for k in 1..=3 {
        run(command("bash", &bin)
            .arg(spool.join("sweep.sbatch"))
            .current_dir(&spool)
            .env("SHARDS", "3")
            .env("OUT", &out)
            .env("SLURM_SUBMIT_DIR", root())
            .env("SLURM_JOB_ID", (200 + k).to_string())
            .env("SLURM_ARRAY_JOB_ID", "101")
            .env("SLURM_ARRAY_TASK_ID", k.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_MAX", "3")
            .env("SLURM_CPUS_PER_TASK", "1"));
    }
    assert_shards(&out, 3);
    // A task outside 1..SHARDS (an array too long for SHARDS) is refused.
    let o = command("bash", &bin)
        .arg(spool.join("sweep.sbatch"))
        .env("SHARDS", "3")
        .env("OUT", &out)
        .env("SLURM_SUBMIT_DIR", root())
        .env("SLURM_ARRAY_TASK_ID", "4")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shard 4 is not in 1..3"));
    // The merge, once the array succeeded.
    let o = run(command("bash", &bin)
        .arg(spool.join("merge.sbatch"))
        .current_dir(&spool)
        .env("OUT", &out)
        .env("SLURM_SUBMIT_DIR", root())
        .env("SLURM_JOB_ID", "102"));
    assert_unsharded(
        &out.join("merged"),
        &reference,
        &ref_stdout,
        &String::from_utf8_lossy(&o.stdout),
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// A Job of sweep-job.yaml, as its header lays it out.
#[derive(Default, Debug)]
struct Job {
    name: String,
    fields: Vec<(String, String)>,
    command: Vec<String>,
    env: Vec<(String, String)>,
    mounts: Vec<(String, String)>,
}

impl Job {
    fn field(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} has no {key}", self.name))
    }
    fn env(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} sets no {key}", self.name))
    }
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// The Jobs of a YAML file laid out as deploy/k8s/sweep-job.yaml says: a Job's first
/// `name:` is its name; `command` is one line `["a", "b"]`; an `env` entry is `- name: K`
/// then `value: V`; a volume mount is one line `- { name: N, mountPath: P, ... }`.
fn jobs(yaml: &str) -> Vec<Job> {
    let mut out = Vec::new();
    for doc in yaml.split("\n---\n") {
        let lines: Vec<&str> = doc
            .lines()
            .map(|l| l.split(" #").next().unwrap().trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        if !lines.contains(&"kind: Job") {
            continue;
        }
        let mut job = Job::default();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            if let Some(v) = l.strip_prefix("name: ").filter(|_| job.name.is_empty()) {
                job.name = v.to_string();
            } else if let Some(v) = l.strip_prefix("command: ") {
                let v = v
                    .trim()
                    .strip_prefix('[')
                    .unwrap()
                    .strip_suffix(']')
                    .unwrap();
                job.command = v.split(',').map(unquote).collect();
            } else if let Some(k) = l.strip_prefix("- name: ")
                && let Some(v) = lines.get(i + 1).and_then(|n| n.strip_prefix("value: "))
            {
                job.env.push((k.to_string(), unquote(v)));
                i += 1;
            } else if l.starts_with("- {") && l.contains("mountPath:") {
                let part = |key: &str| {
                    l.split(['{', '}', ','])
                        .find_map(|p| p.trim().strip_prefix(key))
                        .map(unquote)
                        .unwrap()
                };
                job.mounts.push((part("name:"), part("mountPath:")));
            } else if let Some((k, v)) = l.split_once(": ")
                && ["completionMode", "completions", "parallelism", "suspend"].contains(&k)
            {
                job.fields.push((k.to_string(), unquote(v)));
            }
            i += 1;
        }
        out.push(job);
    }
    out
}

#[test]
fn the_kubernetes_indexed_job_and_its_merge_give_the_unsharded_sweep() {
    let d = scratch("shards-k8s");
    let (reference, ref_stdout) = reference(&d);
    let yaml = std::fs::read_to_string(root().join("deploy/k8s/sweep-job.yaml")).unwrap();
    let jobs = jobs(&yaml);
    let job = |name: &str| {
        jobs.iter()
            .find(|j| j.name == name)
            .unwrap_or_else(|| panic!("no Job {name} in {jobs:?}"))
    };
    let (sweep, merge) = (job("lblab-sweep"), job("lblab-merge"));
    assert_eq!(sweep.field("completionMode"), "Indexed");
    let n: usize = sweep.field("completions").parse().unwrap();
    assert_eq!(sweep.env("SHARDS"), n.to_string(), "SHARDS ≠ completions");
    assert_eq!(merge.field("suspend"), "true", "the merge must wait");
    assert_eq!(sweep.env("OUT"), merge.env("OUT"));
    assert_eq!(
        sweep.command,
        ["/bin/sh", "/etc/lblab/run-shard.sh", "shard"]
    );
    assert_eq!(
        merge.command,
        ["/bin/sh", "/etc/lblab/run-shard.sh", "merge"]
    );
    assert_eq!(sweep.mounts, merge.mounts);
    let bin = d.join("bin");
    // submit.sh: the ConfigMap, the Jobs, the wait for the shards, then the merge.
    let log = stand_in(
        &bin,
        "kubectl",
        "case \"$1 $2\" in \"get job\") echo 'SuccessCriteriaMet Complete' ;; \"apply -f\") cat > /dev/null ;; esac",
    );
    run(command("sh", &bin)
        .arg("deploy/k8s/submit.sh")
        .current_dir(root()));
    let kc = calls(&log);
    let at = |prefix: &str| {
        kc.iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no kubectl {prefix} in {kc:?}"))
    };
    assert!(at("delete job lblab-sweep lblab-merge") < at("apply -f deploy/k8s/sweep-job.yaml"));
    assert!(at("apply -f deploy/k8s/sweep-job.yaml") < at("get job lblab-sweep"));
    assert!(at("get job lblab-sweep") < at("patch job lblab-merge"));
    assert!(at("patch job lblab-merge") < at("get job lblab-merge"));
    assert!(kc[at("patch job lblab-merge")].contains("\"suspend\":false"));
    // The ConfigMap, as a directory: KEY=FILE of each --from-file.
    let create = &kc[at("create configmap lblab-sweep")];
    let config = d.join("configmap");
    std::fs::create_dir_all(&config).unwrap();
    let mut keys = Vec::new();
    for arg in create.split(' ') {
        if let Some((k, f)) = arg
            .strip_prefix("--from-file=")
            .and_then(|a| a.split_once('='))
        {
            std::fs::copy(root().join(f), config.join(k)).unwrap();
            keys.push(k);
        }
    }
    keys.sort();
    assert_eq!(keys, ["run-shard.sh", "scenario.toml", "sweep.env"]);
    // The mounts, as local directories: the ConfigMap and the results volume.
    let volume = d.join("volume");
    let mount = |name: &str| {
        sweep
            .mounts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("no mount {name}"))
    };
    let (config_at, results_at) = (mount("config"), mount("results"));
    let local = |s: &str| {
        s.replace(&config_at, config.to_str().unwrap())
            .replace(&results_at, volume.to_str().unwrap())
    };
    let pod = |job: &Job, index: Option<usize>| {
        let mut c = command(&job.command[0], &bin);
        c.args(job.command[1..].iter().map(|a| local(a)))
            .current_dir(&d)
            .env_remove("SCENARIO");
        for (k, v) in &job.env {
            c.env(k, local(v));
        }
        if let Some(i) = index {
            c.env("JOB_COMPLETION_INDEX", i.to_string());
        }
        run(&mut c)
    };
    for i in 0..n {
        pod(sweep, Some(i));
    }
    let out = PathBuf::from(local(sweep.env("OUT")));
    assert!(out.starts_with(&volume));
    assert_shards(&out, n);
    let o = pod(merge, None);
    assert_unsharded(
        &out.join("merged"),
        &reference,
        &ref_stdout,
        &String::from_utf8_lossy(&o.stdout),
    );
    let _ = std::fs::remove_dir_all(&d);
}
