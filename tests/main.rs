//! Integration tests: the real binaries, real child processes, real sockets, and Python
//! Supervisor 4.3.0 as the reference (installed by `scripts/test.sh` into `target/pyref`).

mod ctl_diff;
mod engine_diff;
mod support;
