//! The fuzz targets' kept inputs, replayed on stable: every file of `fuzz/corpus/<target>` and
//! `fuzz/regressions/<target>` goes through the same per-input function the target runs
//! (`supervisor::{config,rpc,http}::fuzz::run`), which panics on a bug. See `fuzz/README.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One input taking longer than this (in a debug build) is a regression.
const PER_INPUT: Duration = Duration::from_secs(2);

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        files.extend(
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file()),
        );
    }
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no kept inputs for {target}");
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(|| run(&data));
        let took = start.elapsed();
        assert!(outcome.is_ok(), "{} panicked", file.display());
        assert!(took < PER_INPUT, "{} took {took:?}", file.display());
    }
}

#[test]
fn config_inputs() {
    replay("config", supervisor::config::fuzz::run);
}

#[test]
fn xmlrpc_inputs() {
    replay("xmlrpc", supervisor::rpc::fuzz::run);
}

#[test]
fn http_inputs() {
    replay("http", supervisor::http::fuzz::run);
}
