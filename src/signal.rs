//! Signal names and numbers as Supervisor spells them (`TERM`, `SIGTERM`, `15`).
//!
//! A small newtype rather than `nix::sys::signal::Signal` because Supervisor accepts any
//! number the OS knows (realtime signals included) and prints names without the `SIG` prefix.

use std::fmt;

/// A POSIX signal number, validated against the platform's signal table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// Name (without `SIG`) ↔ number, the Linux table Python's `signal` module exposes.
const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

impl Signal {
    pub const HUP: Signal = Signal(libc::SIGHUP);
    pub const INT: Signal = Signal(libc::SIGINT);
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    pub const KILL: Signal = Signal(libc::SIGKILL);
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    pub const CHLD: Signal = Signal(libc::SIGCHLD);

    /// The signal called `name` (upper case, without `SIG`: `TERM`, `CLD`), if there is one.
    /// Python's full `signal_number` rules are `config::types::signal`.
    pub fn from_name(name: &str) -> Option<Signal> {
        NAMES
            .iter()
            .find(|&&(n, _)| n == name)
            .map(|&(_, n)| Signal(n))
    }

    /// A signal from its number, if the platform has it (0..=SIGRTMAX; 0 is `kill`'s existence
    /// check, which Python accepts through its `SIG_DFL`/`SIG_BLOCK` constants).
    pub fn from_number(n: i32) -> Option<Signal> {
        (0..=libc::SIGRTMAX()).contains(&n).then_some(Signal(n))
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// The name without `SIG` (`TERM`), or the number for signals without one.
    pub fn name(self) -> String {
        NAMES
            .iter()
            .find(|&&(_, n)| n == self.0)
            .map(|(name, _)| (*name).to_string())
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl fmt::Display for Signal {
    /// `SIGTERM`, as Python's `signame()` prints it in log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match NAMES.iter().find(|&&(_, n)| n == self.0) {
            Some((name, _)) => write!(f, "SIG{name}"),
            None => write!(f, "signal {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(Signal::from_name("TERM"), Some(Signal::TERM));
        assert_eq!(Signal::from_name("CLD"), Some(Signal::CHLD));
        assert_eq!(Signal::from_name("SIGTERM"), None);
        assert_eq!(Signal::from_name("FOO"), None);
        assert_eq!(Signal::from_number(9), Some(Signal::KILL));
        assert_eq!(Signal::from_number(0).map(Signal::number), Some(0));
        assert_eq!(Signal::from_number(999), None);
    }

    #[test]
    fn displays_like_python_signame() {
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        assert_eq!(Signal::TERM.name(), "TERM");
    }
}
