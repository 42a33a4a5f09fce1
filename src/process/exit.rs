//! How a child ended, decoded from a `waitpid` status the way Python's `decode_wait_status` does.

use crate::signal::Signal;

/// The end of one child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessEnd {
    /// Exited on its own with this code.
    Exited(i32),
    /// Killed by a signal (the number, which may have no name), maybe leaving a core dump.
    Signaled { signal: i32, core_dumped: bool },
}

impl ProcessEnd {
    /// Decodes a raw `waitpid` status word.
    pub fn from_wait_status(status: i32) -> ProcessEnd {
        if libc::WIFEXITED(status) {
            ProcessEnd::Exited(libc::WEXITSTATUS(status))
        } else {
            ProcessEnd::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            }
        }
    }

    /// The `exitstatus` Supervisor records: the exit code, or -1 for a signal death, which is
    /// therefore never an expected exit code.
    pub fn code(self) -> i32 {
        match self {
            ProcessEnd::Exited(code) => code,
            ProcessEnd::Signaled { .. } => -1,
        }
    }

    /// The parenthesised part of `exited: x (exit status 3; not expected)` and
    /// `stopped: x (terminated by SIGTERM)`.
    pub fn describe(self) -> String {
        match self {
            ProcessEnd::Exited(code) => format!("exit status {code}"),
            ProcessEnd::Signaled {
                signal,
                core_dumped,
            } => {
                let name = Signal::from_number(signal)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("signal {signal}"));
                let core = if core_dumped { " (core dumped)" } else { "" };
                format!("terminated by {name}{core}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exit_and_signal_statuses() {
        assert_eq!(ProcessEnd::from_wait_status(3 << 8), ProcessEnd::Exited(3));
        assert_eq!(
            ProcessEnd::from_wait_status(libc::SIGTERM),
            ProcessEnd::Signaled {
                signal: libc::SIGTERM,
                core_dumped: false
            }
        );
    }

    #[test]
    fn describes_like_python() {
        assert_eq!(ProcessEnd::Exited(0).describe(), "exit status 0");
        let killed = ProcessEnd::Signaled {
            signal: libc::SIGKILL,
            core_dumped: true,
        };
        assert_eq!(killed.describe(), "terminated by SIGKILL (core dumped)");
        assert_eq!(killed.code(), -1);
    }
}
