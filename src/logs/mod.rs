//! Logging: the supervisord main log and the capture of child output into log files.
//!
//! - [`MainLog`]: Python's `%(asctime)s %(levelname)s %(message)s` main log, to a rotating
//!   file, syslog or nowhere, echoed to stdout in the foreground.
//! - [`ProcessLogs`]: one per process; `stdout_logfile`/`stderr_logfile` (`AUTO`, `NONE`,
//!   a path), rotation, `*_syslog`, `strip_ansi`; reader tasks drain the child's pipes.
//! - [`cleanup_auto_logs`]: remove old `AUTO` logs at startup.
//! - [`read_range`] and [`tail`]: the log reading of the XML-RPC API.

mod ansi;
mod auto;
mod main_log;
mod process;
mod read;
mod rotating;

pub use ansi::strip_ansi;
pub use auto::{cleanup_auto_logs, is_auto_log_name};
pub use main_log::{format_line, level_name, MainLog};
pub use process::{ProcessLogs, Tap, TapMessage, TapSender, Tapped, READ_CHUNK};
pub use read::{read_range, tail, ReadError};
