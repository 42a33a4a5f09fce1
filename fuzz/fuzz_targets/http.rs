//! Fuzz target; the per-input code is `supervisor::http::fuzz::run`, which
//! `tests/fuzz_replay.rs` also runs over `fuzz/corpus/http` and `fuzz/regressions/http`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::http::fuzz::run(data));
