//! Differential tests of the config reader: `supervisord --check -c FILE` against Python
//! Supervisor 4.3.0 reading the same file (`tests/py/dump_config.py`), output format per
//! `docs/check-format.md`.
//!
//! Battery: `tests/configs/good` and `tests/configs/bad`. A test file is a `*.conf` directly in
//! one of those folders, or a `main.conf` in a subfolder (other files in subfolders are include
//! fragments). `examples/supervisord.conf` is a good file too.
//!
//! - good: both exit 0, stdout identical line for line, identical `WARN ` lines on stderr.
//! - bad: both exit 2, nothing on our stdout, and both stderrs contain the phrase from the
//!   file's first line `; expect: <phrase>` (taken from Python's message, so verified here).
//!
//! Both programs run with the same small fixed environment, with cwd = the config's folder
//! and the config's absolute path after `-c`. Every file is run; all mismatches are reported
//! before the test fails.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every subprocess is killed after this long.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The environment both readers see (nothing else is inherited).
const ENV: &[(&str, &str)] = &[
    ("HOME", "/tmp"),
    ("TMPDIR", "/tmp"),
    ("LANG", "C.UTF-8"),
    ("PATH", "/usr/bin:/bin"),
    ("SUPERVISOR_TEST_ENV", "hello"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let Some(pyref) = std::env::var_os("SUPERVISOR_PYREF") else {
        panic!(
            "SUPERVISOR_PYREF is not set: it must name the virtualenv holding Python \
             Supervisor 4.3.0 (scripts/test.sh installs it into target/pyref and sets it)"
        );
    };
    let py = PathBuf::from(pyref).join("bin/python");
    assert!(
        py.exists(),
        "SUPERVISOR_PYREF: {} does not exist",
        py.display()
    );
    py
}

/// Test files of one battery folder, sorted.
fn battery(kind: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, top: bool, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, false, out);
            } else {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if (top && name.ends_with(".conf")) || name == "main.conf" {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("tests/configs").join(kind), true, &mut out);
    out.sort();
    out
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program args` in `cwd` with [`ENV`]; killed after [`TIMEOUT`].
fn run(program: &Path, args: &[&std::ffi::OsStr], cwd: &Path) -> Result<Output, String> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} timed out after {}s",
                    program.display(),
                    TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    Ok(Output {
        code: status.code(),
        stdout,
        stderr,
    })
}

fn run_python(file: &Path) -> Result<Output, String> {
    let dumper = repo().join("tests/py/dump_config.py");
    run(
        &python(),
        &[dumper.as_os_str(), file.as_os_str()],
        file.parent().unwrap(),
    )
}

fn run_rust(file: &Path) -> Result<Output, String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_supervisord"));
    run(
        bin,
        &["--check".as_ref(), "-c".as_ref(), file.as_os_str()],
        file.parent().unwrap(),
    )
}

/// The `WARN` lines, without our unknown-key warnings (Python has none: it ignores such keys).
fn warn_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("WARN ") && !l.starts_with("WARN unknown key '"))
        .collect()
}

/// A readable line diff (`-` Python only, `+` ours only), via longest common subsequence.
fn diff(py: &[&str], rs: &[&str]) -> String {
    let (n, m) = (py.len(), rs.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if py[i] == rs[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && py[i] == rs[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("    + rust:   {}\n", rs[j]));
            j += 1;
        } else {
            out.push_str(&format!("    - python: {}\n", py[i]));
            i += 1;
        }
    }
    out
}

fn describe(o: &Output) -> String {
    format!(
        "exit {:?}; stdout {} lines; stderr:\n{}",
        o.code,
        o.stdout.lines().count(),
        indent(&o.stderr)
    )
}

fn indent(s: &str) -> String {
    s.lines()
        .take(10)
        .map(|l| format!("        {l}\n"))
        .collect()
}

fn check_good(file: &Path) -> Result<(), String> {
    let py = run_python(file)?;
    let rs = run_rust(file)?;
    let mut problems = String::new();
    if py.code != Some(0) {
        problems.push_str(&format!(
            "  python did not accept it (battery bug): {}",
            describe(&py)
        ));
        return Err(problems);
    }
    if rs.code != Some(0) {
        problems.push_str(&format!("  ours did not exit 0: {}", describe(&rs)));
    }
    if py.stdout != rs.stdout {
        let p: Vec<&str> = py.stdout.lines().collect();
        let r: Vec<&str> = rs.stdout.lines().collect();
        problems.push_str("  stdout differs:\n");
        problems.push_str(&diff(&p, &r));
        if p == r {
            problems.push_str("    (only line endings / final newline differ)\n");
        }
    }
    let (pw, rw) = (warn_lines(&py.stderr), warn_lines(&rs.stderr));
    if pw != rw {
        problems.push_str("  WARN lines differ:\n");
        problems.push_str(&diff(&pw, &rw));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn expected_phrase(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("  cannot read: {e}"))?;
    let first = text.lines().next().unwrap_or("");
    match first.strip_prefix("; expect:") {
        Some(p) if !p.trim().is_empty() => Ok(p.trim().to_string()),
        _ => Err("  battery bug: first line must be `; expect: <phrase>`".to_string()),
    }
}

fn check_bad(file: &Path) -> Result<(), String> {
    let phrase = expected_phrase(file)?;
    let py = run_python(file)?;
    let rs = run_rust(file)?;
    let mut problems = String::new();
    if py.code != Some(2) || !py.stderr.contains(&phrase) {
        problems.push_str(&format!(
            "  battery bug: python should exit 2 with {phrase:?} in stderr: {}",
            describe(&py)
        ));
    }
    if rs.code != Some(2) {
        problems.push_str(&format!("  ours did not exit 2: {}", describe(&rs)));
    } else if !rs.stderr.contains(&phrase) {
        problems.push_str(&format!(
            "  our stderr lacks {phrase:?}:\n{}",
            indent(&rs.stderr)
        ));
    }
    if !rs.stdout.is_empty() {
        problems.push_str(&format!(
            "  ours printed on stdout:\n{}",
            indent(&rs.stdout)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Runs `check` over all files on a few threads; panics listing every failure.
fn run_battery(files: Vec<PathBuf>, check: fn(&Path) -> Result<(), String>) {
    assert!(!files.is_empty(), "empty config battery");
    python(); // fail early and clearly when SUPERVISOR_PYREF is missing
    let total = files.len();
    let queue = Mutex::new(files.into_iter().collect::<VecDeque<_>>());
    let failures = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .min(8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(file) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                if let Err(msg) = check(&file) {
                    let rel = file.strip_prefix(repo()).unwrap_or(&file).to_path_buf();
                    failures.lock().unwrap().push((rel, msg));
                }
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    if !failures.is_empty() {
        let mut report = format!(
            "{} of {} config files differ from Python Supervisor:\n",
            failures.len(),
            done.load(Ordering::Relaxed)
        );
        for (file, msg) in &failures {
            report.push_str(&format!("\n== {}\n{}", file.display(), msg));
        }
        panic!("{report}");
    }
    assert_eq!(done.load(Ordering::Relaxed), total);
}

#[test]
fn good_configs_match_python() {
    let mut files = battery("good");
    files.push(repo().join("examples/supervisord.conf"));
    run_battery(files, check_good);
}

#[test]
fn bad_configs_are_rejected_like_python() {
    run_battery(battery("bad"), check_bad);
}
