//! Generated hostile input, through the binary. Proptest makes scenario files — the bundled
//! scenarios and small valid ones built from the documented keys — and mutates them: a
//! value of the wrong type, an out-of-range value, a key or a table deleted, duplicated or
//! renamed, the file truncated, random bytes (invalid UTF-8 among them). Each file goes
//! through `lblab validate` (as text and as JSON) and, if it is valid, a short `lblab run`.
//!
//! Asserted for every file:
//! - no panic and no signal: never exit 101 or death by a signal, never "panicked",
//!   "internal error", "thread '" or "RUST_BACKTRACE" on stderr;
//! - `validate` exits 0 or 2; on 2, stderr ends with `lblab: invalid scenario: FILE (N
//!   problems)` and every problem names the file: `error: FILE:LINE:COL: PATH: ...` for a
//!   problem in the file (its line within the file, its key path non-empty unless it is a
//!   TOML syntax error), `error: FILE: cannot read scenario: line L, column C ...` for text
//!   that is not UTF-8 (at the first bad byte);
//! - for a single targeted mutation, the problem is where the mutation is: a value of the
//!   wrong type is reported at its key path (or inside it) on its line, an unknown key at
//!   its new path on its line, a duplicated key or `[table]` as a syntax error on the
//!   duplicate's line; a generated scenario that was not mutated validates;
//! - `run` exits 0 and writes manifest.toml, or exits 2 naming the file, or exits 1 only
//!   at the event cap (`scenario.max_events`: generated input may ask for more events than
//!   the cap allows; exit 1 for a broken invariant is a bug); a run that fails leaves no
//!   manifest.toml.
//!
//! The bound on the work (this project's tests use no clocks): files of at most a few
//! kilobytes; `run` with 1 replication of 2 simulated seconds, at most 300,000 events
//! (`--set scenario.max_events`) and `--max-memory 32MB`, so an absurd size is refused
//! before it is allocated; 1,000 cases (about 230 of them run), about 16 s of CPU in
//! release. The seed is fixed (ChaCha), so CI sees the same files every time; a failure
//! prints the file. Found so far: a misspelt `dist` or `algorithm` in an inline table was
//! reported as missing but not as an unknown key (tests/integration/errors.rs).

mod mutate;
mod small;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{RngAlgorithm, RngSeed, TestCaseError};
use serde_json::Value;

use crate::support::{root, scratch};
use mutate::{Expect, Mutation, apply, line_of, mutation};
use small::{Gen, TRACE, small};

fn lblab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args(["--color", "never"])
        .args(args)
        .current_dir(root())
        .output()
        .expect("run lblab")
}

/// Fails the case if the process panicked or died by a signal.
fn no_panic(what: &str, o: &Output) -> Result<String, TestCaseError> {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    prop_assert!(
        o.status.code().is_some(),
        "{what}: killed by a signal\n{err}"
    );
    prop_assert_ne!(o.status.code(), Some(101), "{}: panicked\n{}", what, err);
    for sign in ["panicked", "internal error", "thread '", "RUST_BACKTRACE"] {
        prop_assert!(!err.contains(sign), "{what}: {sign:?} on stderr\n{err}");
    }
    Ok(err)
}

// ---------------------------------------------------------------------------------------
// The property.

/// The bundled scenarios' files, by name.
fn bundled() -> &'static [(String, String)] {
    static FILES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut paths: Vec<_> = std::fs::read_dir(root().join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let files: Vec<(String, String)> = paths
            .iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(p).unwrap())
            })
            .collect();
        assert!(files.len() >= 30, "{} bundled scenarios", files.len());
        files
    })
}

#[derive(Clone, Debug)]
enum Base {
    Bundled(Index),
    Generated(Gen),
}

/// What a `--format json` problem says.
struct Problem {
    line: Option<usize>,
    path: String,
    message: String,
}

/// `lblab validate FILE`, as text and as JSON: checks the format of a refusal and returns
/// `None` if the file is valid, else its problems.
fn validate(file: &str, bytes: &[u8]) -> Result<Option<Vec<Problem>>, TestCaseError> {
    let o = lblab(&["validate", file]);
    let err = no_panic("validate", &o)?;
    let code = o.status.code();
    prop_assert!(
        code == Some(0) || code == Some(2),
        "validate exit {code:?}\n{err}"
    );
    let j = lblab(&["validate", file, "--format", "json"]);
    no_panic("validate --format json", &j)?;
    prop_assert_eq!(j.status.code(), code, "text and JSON disagree");
    let v: Value = serde_json::from_slice(&j.stdout).expect("validate --format json is JSON");
    let v = &v[0];
    prop_assert_eq!(v["file"].as_str(), Some(file));
    if code == Some(0) {
        prop_assert!(err.is_empty(), "a valid file with a message: {err}");
        prop_assert_eq!(v["ok"].as_bool(), Some(true));
        return Ok(None);
    }
    let problems = v["problems"].as_array().expect("problems");
    prop_assert!(!problems.is_empty());
    let n = problems.len();
    let last = err.trim_end().lines().last().unwrap_or("");
    let plural = if n == 1 { "" } else { "s" };
    prop_assert_eq!(
        last,
        format!("lblab: invalid scenario: {file} ({n} problem{plural})"),
        "{}",
        err
    );
    prop_assert_eq!(
        err.lines().filter(|l| l.starts_with("error: ")).count(),
        n.min(50),
        "one `error:` per problem shown\n{}",
        err
    );
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
    // The decoder reads past a UTF-8 byte order mark and counts lines from there.
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let utf8 = std::str::from_utf8(body);
    let mut out = Vec::new();
    for p in problems {
        prop_assert_eq!(p["file"].as_str(), Some(file));
        let message = p["message"].as_str().unwrap_or("").to_string();
        let path = p["path"].as_str().unwrap_or("").to_string();
        let line = p["line"].as_u64().map(|l| l as usize);
        match (line, p["column"].as_u64()) {
            (Some(l), Some(c)) => {
                prop_assert!((1..=lines).contains(&l), "line {l} of {lines}: {message}");
                prop_assert!(
                    path.is_empty()
                        || err.contains(&format!("error: {file}:{l}:{c}: {path}: "))
                        || out.len() >= 50,
                    "text lacks {file}:{l}:{c}: {path}\n{err}"
                );
                prop_assert!(
                    !path.is_empty() || message.starts_with("TOML syntax error"),
                    "a problem without a key path: {message}"
                );
            }
            (None, None) => {
                // Only text that is not UTF-8 (or UTF-16) cannot be placed in the file:
                // its message names the line and column of the first bad byte.
                let e = utf8.as_ref().err();
                prop_assert!(
                    e.is_some() || message.contains("UTF-16"),
                    "no line: {message}"
                );
                if let Some(e) = e {
                    let l = line_of(body, e.valid_up_to());
                    prop_assert!(
                        message.contains(&format!("line {l}, column "))
                            && message.contains("is not UTF-8"),
                        "{message}"
                    );
                }
                let want = format!("error: {file}: cannot read scenario: ");
                prop_assert!(err.contains(&want), "{}", err);
            }
            _ => prop_assert!(false, "a line without a column: {p}"),
        }
        out.push(Problem {
            line,
            path,
            message,
        });
    }
    Ok(Some(out))
}

/// `lblab run FILE`, bounded: 1 replication of 2 s, at most 300,000 events, 32 MB.
fn run(file: &str, out: &Path) -> Result<(), TestCaseError> {
    let _ = std::fs::remove_dir_all(out);
    let o = lblab(&[
        "--max-memory",
        "32MB",
        "run",
        file,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "-r",
        "1",
        "-j",
        "1",
        "--set",
        "scenario.duration=2s",
        "--set",
        "scenario.warmup=0",
        "--set",
        "scenario.max_events=300000",
    ]);
    let err = no_panic("run", &o)?;
    let manifest = out.join("manifest.toml").exists();
    match o.status.code() {
        Some(0) => prop_assert!(manifest, "run succeeded without manifest.toml\n{err}"),
        Some(1) => {
            prop_assert!(
                err.contains("event cap of 300000 events reached"),
                "run exit 1\n{err}"
            );
            prop_assert!(!manifest, "a failed run wrote manifest.toml");
        }
        Some(2) => {
            prop_assert!(err.contains(file), "exit 2 without the file's name\n{err}");
            prop_assert!(!manifest, "a refused run wrote manifest.toml");
        }
        c => prop_assert!(false, "run exit {c:?}\n{err}"),
    }
    Ok(())
}

/// How the expectation of a single targeted mutation shows in the problems.
fn check_expect(expect: &Expect, problems: Option<&[Problem]>) -> Result<(), TestCaseError> {
    let shown = |ps: &[Problem]| {
        ps.iter()
            .map(|p| format!("  {:?} {}: {}", p.line, p.path, p.message))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match expect {
        Expect::Any => {}
        Expect::At { path, line } => {
            let Some(ps) = problems else {
                return Err(TestCaseError::fail(format!(
                    "valid, expected a problem at {path}"
                )));
            };
            let inside = |p: &str| {
                p == path
                    || p.strip_prefix(path.as_str())
                        .is_some_and(|r| r.starts_with(['.', '[']))
            };
            prop_assert!(
                ps.iter().any(|p| inside(&p.path) && p.line == Some(*line)),
                "no problem at {path} on line {line}:\n{}",
                shown(ps)
            );
        }
        Expect::Syntax { line } => {
            let Some(ps) = problems else {
                return Err(TestCaseError::fail(format!(
                    "valid, expected a syntax error on line {line}"
                )));
            };
            prop_assert!(
                ps.iter()
                    .any(|p| p.message.starts_with("TOML syntax error") && p.line == Some(*line)),
                "no syntax error on line {line}:\n{}",
                shown(ps)
            );
        }
    }
    Ok(())
}

fn case(base: &Base, mutations: &[Mutation]) -> Result<(), TestCaseError> {
    let dir = scratch_dir();
    let mut bytes = match base {
        Base::Bundled(i) => bundled()[i.index(bundled().len())].1.clone().into_bytes(),
        Base::Generated(g) => g.toml().into_bytes(),
    };
    let mut expect = Expect::Any;
    for m in mutations {
        expect = apply(&mut bytes, m);
    }
    if mutations.len() != 1 {
        expect = Expect::Any;
    }
    let file = dir.join("case.toml");
    std::fs::write(&file, &bytes).unwrap();
    let file = file.to_str().unwrap();
    let checked = (|| {
        let problems = validate(file, &bytes)?;
        if mutations.is_empty() {
            prop_assert!(problems.is_none(), "an unmutated scenario is refused");
        }
        check_expect(&expect, problems.as_deref())?;
        if problems.is_none() {
            run(file, &dir.join("out"))?;
        }
        Ok(())
    })();
    // A failure shows the file (its first 4 kB).
    checked.map_err(|e| {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned();
        TestCaseError::fail(format!("{e}\n--- the file:\n{text}\n---"))
    })
}

/// This process's directory for the cases (with the trace the generated scenarios read
/// and the configurations the bundled ones import).
fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch("generated");
        std::fs::write(d.join("trace.csv"), TRACE).unwrap();
        std::fs::create_dir_all(d.join("configs")).unwrap();
        for (path, text) in lblab::scenario::bundled::BUNDLED_CONFIGS {
            std::fs::write(d.join(path), text).unwrap();
        }
        d
    })
}

fn base() -> impl Strategy<Value = Base> {
    prop_oneof![
        any::<Index>().prop_map(Base::Bundled),
        small().prop_map(Base::Generated),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6c62_6c61_6215),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    /// See the module's comment for what is asserted and how the work is bounded.
    #[test]
    fn generated_scenarios_are_refused_cleanly_or_run(
        base in base(),
        mutations in prop_oneof![
            1 => Just(Vec::new()),
            4 => prop::collection::vec(mutation(), 1..=1),
            2 => prop::collection::vec(mutation(), 2..=3),
        ],
    ) {
        case(&base, &mutations)?;
    }
}
