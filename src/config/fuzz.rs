//! The config fuzz target's per-input code (`fuzz/fuzz_targets/config.rs`), also run on stable
//! over the kept corpus and crashes by `tests/fuzz_replay.rs`. Not an API.
//!
//! One input is the text of a `supervisord.conf`: the whole read runs on it (ini syntax,
//! `%(...)s` expansion, every datatype and section builder), then `--check`'s rendering of the
//! result or the wording of every error.

use std::path::Path;

use super::expand::MAX_FIELD;
use super::ini::Ini;
use super::{check, load_str, Options};
use crate::py;

/// Where the input pretends to live: a directory that does not exist, so `%(here)s` is the
/// same everywhere and relative `[include]` patterns match nothing.
const CONFIGFILE: &str = "/nonexistent/supervisor-rs-fuzz/supervisord.conf";

/// The most processes an input may ask for, all sections together (see [`affordable`]).
const MAX_PROCESSES: i64 = 256;

/// The most padding an input's `%(...)s` specs may ask for, all together (see [`affordable`]).
const MAX_PADDING: usize = 10_000;

/// Reads one config text; panics only on a bug.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if !affordable(&text) {
        return;
    }
    let configfile = Path::new(CONFIGFILE);
    match load_str(&text, configfile, &Options::for_file(configfile)) {
        Ok(config) => {
            let _ = check::render(&config);
            let _ = config.default_serverurl();
        }
        Err(errors) => {
            let _ = errors.first();
            let _ = errors.to_string();
        }
    }
}

/// False for the inputs whose cost is the machine's, not the reader's, as it would be Python's:
/// an `[include]` of absolute or expanded patterns reads whatever files they match (`/dev/zero`
/// never ends); `numprocs=1000000000`, or a `[DEFAULT]` numprocs over many sections, builds that
/// many process configs; and a padded spec (`%(here)9999s`) repeated in a value that many
/// processes share multiplies into gigabytes.
fn affordable(text: &str) -> bool {
    let mut ini = Ini::new();
    if ini.read_str(text, Path::new(CONFIGFILE)).is_err() {
        // The read stops at the same syntax error.
        return true;
    }
    if let Some(files) = ini.get("include", "files") {
        let value = &files.value;
        if value.contains('%') || value.split_whitespace().any(|p| p.starts_with('/')) {
            return false;
        }
    }
    let mut processes = 0i64;
    for s in ini.sections() {
        let Some(n) = ini.get(&s.name, "numprocs") else {
            processes += 1;
            continue;
        };
        match py::parse_int(&n.value, 10) {
            Some(n) => processes = processes.saturating_add(n.max(1)),
            // An expanded count could be anything.
            None if n.value.contains('%') => return false,
            // An error.
            None => {}
        }
    }
    processes <= MAX_PROCESSES && padding(text) <= MAX_PADDING
}

/// Roughly what the text's `%` specs pad to, all together: their widths and precisions, but
/// not those too big to be honoured (the expansion refuses them before padding anything).
fn padding(text: &str) -> usize {
    let mut total = 0usize;
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        rest = &rest[at + 1..];
        if let Some(key) = rest.strip_prefix('(') {
            rest = key.find(')').map_or("", |end| &key[end + 1..]);
        }
        rest = rest.trim_start_matches(['-', '+', ' ', '#', '0']);
        for field in 0..2 {
            if field == 1 {
                let Some(precision) = rest.strip_prefix('.') else {
                    break;
                };
                rest = precision;
            }
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let n = rest[..digits].parse::<usize>().unwrap_or(usize::MAX);
            if digits > 0 && n <= MAX_FIELD {
                total = total.saturating_add(n);
            }
            rest = &rest[digits..];
        }
    }
    total
}
