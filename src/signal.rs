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

    /// Parses `TERM`, `sigterm`, `Hup` or a number (`15`), as `datatypes.signal_number` does.
    pub fn parse(value: &str) -> Option<Signal> {
        let v = value.trim();
        if let Ok(n) = v.parse::<i32>() {
            return Signal::from_number(n);
        }
        let upper = v.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        NAMES
            .iter()
            .find(|(name, _)| *name == bare)
            .map(|&(_, n)| Signal(n))
    }

    /// A signal from its number, if the platform has it (1..=SIGRTMAX).
    pub fn from_number(n: i32) -> Option<Signal> {
        (1..=libc::SIGRTMAX()).contains(&n).then_some(Signal(n))
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
    fn names_any_case_with_or_without_prefix() {
        assert_eq!(Signal::parse("TERM"), Some(Signal::TERM));
        assert_eq!(Signal::parse("sigterm"), Some(Signal::TERM));
        assert_eq!(Signal::parse("Hup"), Some(Signal::HUP));
        assert_eq!(Signal::parse("9"), Some(Signal::KILL));
    }

    #[test]
    fn rejects_unknown_names_and_numbers() {
        assert_eq!(Signal::parse("FOO"), None);
        assert_eq!(Signal::parse("0"), None);
        assert_eq!(Signal::parse("999"), None);
    }

    #[test]
    fn displays_like_python_signame() {
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        assert_eq!(Signal::TERM.name(), "TERM");
    }
}
