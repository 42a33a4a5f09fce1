//! `echo_supervisord_conf`: prints Supervisor's sample configuration, as Python's does (it
//! ignores its arguments too), so `echo_supervisord_conf > /etc/supervisord.conf` works.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(supervisor::config::SAMPLE.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_supervisord_conf: {e}");
            ExitCode::FAILURE
        }
    }
}
