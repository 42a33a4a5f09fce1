//! `pidproxy PIDFILE COMMAND [ARGS]`: runs COMMAND and forwards its signals to the pid in
//! PIDFILE, as Supervisor's `pidproxy` does; the work is in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    supervisor::pidproxy::main(std::env::args_os().collect())
}
