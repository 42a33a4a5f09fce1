//! Fuzz target; the per-input code is `supervisor::rpc::fuzz::run`, which
//! `tests/fuzz_replay.rs` also runs over `fuzz/corpus/xmlrpc` and `fuzz/regressions/xmlrpc`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::rpc::fuzz::run(data));
