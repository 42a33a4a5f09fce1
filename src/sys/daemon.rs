//! Daemonizing: `fork` before any thread exists, and leaving the parent at once.

use std::io;

/// Which side of a fork we are on.
pub enum Forked {
    Parent,
    Child,
}

/// `fork()`. Only for daemonizing, before any thread (the tokio runtime included) exists.
pub fn fork_before_threads() -> io::Result<Forked> {
    // SAFETY: called while the process is single-threaded (before the runtime starts), so the
    // child inherits a consistent address space with no locks held by other threads.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        _ => Ok(Forked::Parent),
    }
}

/// Leaves the process without running destructors or atexit handlers (the daemonizing parent).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and needs no invariants.
    unsafe { libc::_exit(code) }
}

/// `PR_SET_CHILD_SUBREAPER`: orphans among the daemon's descendants are reparented to it, not
/// to init, so it can reap them and find what each program left.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}
