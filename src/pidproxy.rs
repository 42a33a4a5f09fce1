//! `pidproxy PIDFILE COMMAND [ARGS]`: runs a command and forwards the signals it receives to the
//! pid written in PIDFILE, as Supervisor's `pidproxy` does, so that supervisord can manage a
//! program that daemonizes itself (supervisord signals pidproxy, pidproxy signals the daemon).
//!
//! Where this differs from Python's (see docs/compatibility.md): it follows the pid in PIDFILE
//! after the command exits instead of exiting with it, falls back to a PATH search for a bare
//! command name, reports a command it cannot execute, and also forwards SIGALRM and SIGWINCH.
//!
//! No signal handlers: the forwarded signals (and SIGCHLD) are blocked before anything starts
//! and taken with `sigwait` on a thread of their own, which hands them to the main loop over a
//! channel. That keeps this module free of `unsafe` and of async-signal-safety concerns.

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::spawn::{
    posix_spawn, posix_spawnp, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags,
};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::py;

/// Python's module docstring, which its `usage()` prints with `%s` replaced by `argv[0]`.
const USAGE: &str = "pidproxy -- run command and proxy signals to it via its pidfile.

This executable runs a command and then monitors a pidfile.  When this
executable receives a signal, it sends the same signal to the pid
in the pidfile.

Usage: %s <pidfile name> <command> [<cmdarg1> ...]
";

/// The signals passed on to the pid in the pidfile: Python's six, plus SIGALRM (whose default
/// action would kill pidproxy and leave the daemon unsupervised) and SIGWINCH (Apache httpd's
/// graceful stop, which would otherwise be dropped).
const FORWARDED: [Signal; 8] = [
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGQUIT,
    Signal::SIGALRM,
    Signal::SIGWINCH,
];

/// After forwarding one of these, pidproxy exits 0 at once, as Python's does.
const EXITING: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGQUIT];

/// How often the pid in the pidfile is checked once the command has exited (and the longest a
/// signal-less wait lasts).
const POLL: Duration = Duration::from_millis(200);

/// How long after the command exits pidproxy waits for a live pid to appear in the pidfile: a
/// launcher may exit before its daemon has written the file.
const GRACE: Duration = Duration::from_secs(1);

/// What can stop pidproxy with exit status 1.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("can't block signals: {0}")]
    BlockSignals(Errno),
    #[error("can't start the signal thread: {0}")]
    SignalThread(io::Error),
    #[error("the signal thread stopped")]
    SignalThreadGone,
    #[error("can't execute {}: {errno}", .command.display())]
    Spawn { command: PathBuf, errno: Errno },
    #[error("can't send {signal} to pid {pid} from {}: {errno}", .pidfile.display())]
    Kill {
        signal: Signal,
        pid: Pid,
        pidfile: PathBuf,
        errno: Errno,
    },
}

/// Runs pidproxy with `args` (`argv`, program name first) and returns its exit status: 1 for
/// usage (printed to stdout, as Python does) and errors (one line on stderr).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let [argv0, pidfile, command @ ..] = args.as_slice() else {
        usage(args.first().map_or(OsStr::new(""), OsString::as_os_str));
        return ExitCode::FAILURE;
    };
    if command.is_empty() {
        usage(argv0);
        return ExitCode::FAILURE;
    }
    match run(Path::new(pidfile), command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pidproxy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `print(__doc__ % sys.argv[0])`: the docstring, then `print`'s own newline.
fn usage(argv0: &OsStr) {
    let (head, tail) = USAGE.split_once("%s").unwrap_or((USAGE, ""));
    let mut text = head.as_bytes().to_vec();
    text.extend_from_slice(argv0.as_bytes());
    text.extend_from_slice(tail.as_bytes());
    text.push(b'\n');
    let mut out = io::stdout().lock();
    // Nothing useful to do when stdout is gone; the exit status still says "usage".
    let _ = out.write_all(&text).and_then(|()| out.flush());
}

/// Starts `command` and proxies signals to the pid in `pidfile` until [`Watch::finished`] or a
/// forwarded SIGTERM/SIGINT/SIGQUIT says to exit; returns the exit status.
fn run(pidfile: &Path, command: &[OsString]) -> Result<u8, Error> {
    let signals = listen()?;
    let launcher = spawn(command)?;
    let mut watch = Watch {
        pidfile,
        launcher,
        exited: None,
        target: None,
        daemon_seen: false,
    };
    loop {
        match signals.recv_timeout(POLL) {
            // SIGCHLD only wakes the loop, so the launcher is reaped at once.
            Ok(Signal::SIGCHLD) | Err(RecvTimeoutError::Timeout) => {}
            Ok(signal) => {
                if let Some(code) = forward(pidfile, signal)? {
                    return Ok(code);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Err(Error::SignalThreadGone),
        }
        watch.reap();
        if let Some(code) = watch.finished() {
            return Ok(code);
        }
    }
}

/// The forwarded signals and SIGCHLD.
fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(signal);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the handled signals in this thread (before any other thread exists, so every thread
/// inherits the mask and none gets them delivered) and starts the thread that `sigwait`s for
/// them.
fn listen() -> Result<Receiver<Signal>, Error> {
    let set = handled();
    set.thread_block().map_err(Error::BlockSignals)?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            // `sigwait` fails only for an invalid set; the main loop sees the channel close.
            while let Ok(signal) = set.wait() {
                if tx.send(signal).is_err() {
                    break;
                }
            }
        })
        .map_err(Error::SignalThread)?;
    Ok(rx)
}

/// Starts the command and returns its pid.
///
/// `posix_spawn` rather than `std::process::Command`, for the child's signal state to be what
/// Python's child gets: an empty mask, the signals pidproxy handles at their defaults, and the
/// rest inherited, SIGPIPE included, which the Rust runtime ignores as the Python interpreter
/// does (`Command` would reset SIGPIPE to its default).
fn spawn(command: &[OsString]) -> Result<Pid, Error> {
    let program = resolve(&command[0]);
    let failed = |errno| Error::Spawn {
        command: program
            .clone()
            .unwrap_or_else(|| PathBuf::from(&command[0])),
        errno,
    };
    let argv = command
        .iter()
        .map(|arg| cstring(arg.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    let env = std::env::vars_os()
        .map(|(key, value)| {
            let mut entry = key.into_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            cstring(entry)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    let mut attr = PosixSpawnAttr::init().map_err(failed)?;
    attr.set_sigmask(&SigSet::empty()).map_err(failed)?;
    attr.set_sigdefault(&handled()).map_err(failed)?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )
    .map_err(failed)?;
    let actions = PosixSpawnFileActions::init().map_err(failed)?;
    match &program {
        Some(path) => posix_spawn(path.as_path(), &actions, &attr, &argv, &env),
        None => posix_spawnp(&argv[0], &actions, &attr, &argv, &env),
    }
    .map_err(failed)
}

/// The file to execute: Python's `os.path.abspath(COMMAND)` when the name has a `/` or names a
/// file in the working directory (so what Python runs, we run), else `None` for a PATH search,
/// where Python would fail: `pidproxy mongod.pid mongod` then works as a shell would run it.
fn resolve(name: &OsStr) -> Option<PathBuf> {
    let path = Path::new(name);
    if !name.as_bytes().contains(&b'/') && !path.is_file() {
        return None;
    }
    Some(match name.to_str() {
        Some(s) => PathBuf::from(py::abspath(s)),
        // Not text: no textual normalisation; the kernel resolves the relative path the same
        // way except for `..` after a symlink.
        None => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    })
}

/// `bytes` for `execve`; an interior NUL (impossible in a real argv or environment) is EINVAL.
fn cstring(bytes: impl Into<Vec<u8>>) -> Result<CString, Errno> {
    CString::new(bytes).map_err(|_| Errno::EINVAL)
}

/// Passes `signal` to the pid in the pidfile, as Python's `passtochild`: an unreadable pidfile
/// is reported on stdout and the signal dropped (pidproxy carries on, even for SIGTERM).
/// `Some(0)` when pidproxy must now exit.
fn forward(pidfile: &Path, signal: Signal) -> Result<Option<u8>, Error> {
    let Some(pid) = read_pid(pidfile) else {
        let mut line = b"Can't read child pidfile ".to_vec();
        line.extend_from_slice(pidfile.as_os_str().as_bytes());
        line.extend_from_slice(b"!\n");
        let mut out = io::stdout().lock();
        // Flushed at once, for supervisord's log to show it when it happens; a closed stdout
        // must not stop the proxy.
        let _ = out.write_all(&line).and_then(|()| out.flush());
        return Ok(None);
    };
    kill(pid, signal).map_err(|errno| Error::Kill {
        signal,
        pid,
        pidfile: pidfile.to_path_buf(),
        errno,
    })?;
    Ok(EXITING.contains(&signal).then_some(0))
}

/// The pid in the pidfile: Python's `int(f.read().strip())`, and positive, since 0 and negative
/// numbers would signal whole process groups (`-1`: every process we may signal).
fn read_pid(pidfile: &Path) -> Option<Pid> {
    let bytes = std::fs::read(pidfile).ok()?;
    let n = py::parse_int(std::str::from_utf8(&bytes).ok()?, 10)?;
    i32::try_from(n).ok().filter(|&n| n > 0).map(Pid::from_raw)
}

/// Alive, for pidproxy's purposes: `kill(pid, 0)` succeeds or is refused (EPERM: it exists but
/// belongs to another user), and it is not a zombie that nobody has reaped yet (a container's
/// init may never reap the orphaned daemon).
fn is_alive(pid: Pid) -> bool {
    match kill(pid, None) {
        Ok(()) | Err(Errno::EPERM) => !crate::proctree::is_zombie(pid.as_raw() as u32),
        Err(_) => false,
    }
}

/// The launcher (the command pidproxy ran) and the pid it leaves in the pidfile.
struct Watch<'a> {
    pidfile: &'a Path,
    launcher: Pid,
    /// When the launcher exited, and its exit status (`128 + n` when killed by signal `n`).
    exited: Option<(Instant, u8)>,
    /// The last pid read from the pidfile after the launcher exited: a daemon may remove the
    /// file before it is gone.
    target: Option<Pid>,
    /// A live pid other than the launcher's has been seen in the pidfile.
    daemon_seen: bool,
}

impl Watch<'_> {
    /// Reaps every exited child (as Python's `waitpid(-1)`: a process that exec'd pidproxy may
    /// have left children), noting the launcher's exit status.
    fn reap(&mut self) {
        loop {
            let code = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.launcher => {
                    u8::try_from(code).unwrap_or(u8::MAX)
                }
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == self.launcher => {
                    u8::try_from(128 + signal as i32).unwrap_or(u8::MAX)
                }
                // No child at all before the launcher was reaped: pidproxy was started with
                // SIGCHLD ignored, so the kernel reaped it, and its status is lost.
                Err(Errno::ECHILD) if self.exited.is_none() => 0,
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            self.exited = Some((Instant::now(), code));
        }
    }

    /// `Some(exit status)` once nothing is left to proxy for: while the launcher runs, never;
    /// then when the pid in the pidfile is gone: 0 for a daemon (as Python exits 0), the
    /// launcher's status when the file names the launcher itself (it stayed in the foreground)
    /// or when no live pid has appeared in it within [`GRACE`].
    fn finished(&mut self) -> Option<u8> {
        let (since, code) = self.exited?;
        if let Some(pid) = read_pid(self.pidfile) {
            self.target = Some(pid);
        }
        match self.target {
            Some(pid) if is_alive(pid) => {
                self.daemon_seen |= pid != self.launcher;
                None
            }
            Some(pid) if pid == self.launcher => Some(code),
            _ if self.daemon_seen => Some(0),
            _ if since.elapsed() < GRACE => None,
            _ => Some(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid_of(content: &str) -> Option<i32> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pid");
        std::fs::write(&path, content).unwrap();
        read_pid(&path).map(Pid::as_raw)
    }

    #[test]
    fn pidfile_is_read_as_python_int_of_stripped_text() {
        assert_eq!(pid_of("1234\n"), Some(1234));
        assert_eq!(pid_of("  +1_234 \t\n"), Some(1234));
        assert_eq!(pid_of(""), None);
        assert_eq!(pid_of("12a"), None);
        assert_eq!(pid_of("1 2"), None);
    }

    #[test]
    fn pidfile_pids_that_would_signal_groups_are_refused() {
        assert_eq!(pid_of("0"), None);
        assert_eq!(pid_of("-1"), None);
        assert_eq!(pid_of("4294967297"), None);
    }

    #[test]
    fn missing_pidfile_has_no_pid() {
        assert_eq!(read_pid(Path::new("/nonexistent/pidproxy.pid")), None);
    }

    #[test]
    fn resolve_keeps_python_paths_and_searches_path_for_bare_names() {
        assert_eq!(
            resolve(OsStr::new("/bin/sh")),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(
            resolve(OsStr::new("/usr/../bin/./sh")),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(resolve(OsStr::new("surely-not-a-file-here")), None);
    }
}
