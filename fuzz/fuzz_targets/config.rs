//! Fuzz target; the per-input code is `supervisor::config::fuzz::run`, which
//! `tests/fuzz_replay.rs` also runs over `fuzz/corpus/config` and `fuzz/regressions/config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::config::fuzz::run(data));
