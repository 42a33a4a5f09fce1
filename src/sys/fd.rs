//! Keeping the daemon's per-child fds out of the way of spawning.
//!
//! A new child starts with a copy of the daemon's fd table and closes the copies at `execve`
//! (they are all CLOEXEC): with three pipe ends (and up to two log files) kept per child,
//! starting the thousandth child copied and closed thousands of fds. So the fds the daemon
//! keeps per child live at or above [`LOW_ZONE`], and a child copies only the fds below its
//! own stdio ([`super::child`]): the daemon's few long-lived fds and whatever else happens to
//! be open down there.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Where long-lived per-child fds go: fds below it are the daemon's own and transient ones.
pub const LOW_ZONE: libc::c_int = 256;

/// `fd` moved to the lowest free number at or above [`LOW_ZONE`] (still CLOEXEC); unchanged
/// when that is impossible (`RLIMIT_NOFILE` at or below it, or no free number left there),
/// which only costs speed.
pub fn move_above_low_zone(fd: OwnedFd) -> OwnedFd {
    if fd.as_raw_fd() >= LOW_ZONE {
        return fd;
    }
    // SAFETY: F_DUPFD_CLOEXEC on a valid fd touches no memory; it returns a new fd or -1.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, LOW_ZONE) };
    if moved < 0 {
        return fd;
    }
    // SAFETY: `moved` is a fresh fd that nothing else owns; the original closes on drop.
    unsafe { OwnedFd::from_raw_fd(moved) }
}

/// `fd` with `O_NONBLOCK` set, as an async reader needs it. It must be a pipe end the daemon
/// just made (no other status flag is kept).
pub fn nonblocking(fd: OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: F_SETFL on a valid fd touches no memory of ours.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// [`move_above_low_zone`] for a file a child's logs are kept in (open as long as the child).
pub fn file_above_low_zone(file: File) -> File {
    File::from(move_above_low_zone(OwnedFd::from(file)))
}
