//! Integration tests: the real binaries, real child processes, real sockets, and Python
//! Supervisor 4.3.0 as the reference (installed by `scripts/test.sh` into `target/pyref`).

mod config_cli;
mod config_diff;
mod ctl_diff;
mod ctl_rs_diff;
mod ctl_shell;
mod depends;
mod engine;
mod engine_diff;
mod envfile;
mod events_diff;
mod fcgi;
mod fuzz_replay;
mod health;
mod http_diff;
mod lifecycle;
mod logs;
mod notify;
mod pidproxy;
mod rpc;
mod rpc_diff;
mod schedule;
mod seed_session;
mod superlance;
mod support;
mod trees;
mod web;
