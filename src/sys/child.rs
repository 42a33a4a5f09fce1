//! The child side of spawning (what runs between `clone` and `execve`), reaping with the raw
//! wait status, and `kill` with any signal number.
//!
//! The child shares the daemon's memory (`CLONE_VM`, see [`super::spawn`]), so everything it
//! does is an async-signal-safe syscall on data prepared before the clone: it allocates
//! nothing, takes no lock and never unwinds.

use std::ffi::{c_char, CString};
use std::io;
// The credential switch uses the raw setuid/setgid/setgroups syscalls, which take 32-bit ids
// only on 64-bit Linux (32-bit targets need the `*32` variants).
#[cfg(not(target_pointer_width = "64"))]
compile_error!("supervisor-rs's child setup supports 64-bit Linux only");

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// Credentials a child switches to, resolved in the daemon before the child is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildUser {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups, the primary gid first (as Python's `drop_privileges` orders them).
    pub groups: Vec<libc::gid_t>,
}

/// What a child does for itself between clone and exec, in Python's order: new process group,
/// user, directory, umask; then (our addition) `PR_SET_PDEATHSIG` = SIGKILL, so no child
/// outlives a daemon that was killed outright. Failures are reported on the child's stderr with
/// Python's wording and the child exits 127, so they show up as a too-quick exit.
#[derive(Debug, Default)]
pub struct ChildSetup {
    /// `Ok(Some)` to switch user, `Ok(None)` to stay; `Err(text)` = Python's `couldn't setuid`
    /// reason (e.g. `Can't drop privilege as nonroot user`), reported by the child.
    pub user: Option<Result<ChildUser, String>>,
    /// The `uid` shown in `couldn't setuid to <uid>` (Python prints the configured value).
    pub user_label: String,
    pub directory: Option<CString>,
    pub umask: Option<libc::mode_t>,
}

/// A [`ChildSetup`] with every message the child may write already formatted, so the child
/// only copies bytes.
#[derive(Debug)]
pub(super) struct PreparedSetup {
    prefix: Vec<u8>,
    user: Option<ChildUser>,
    user_error: Option<Vec<u8>>,
    directory: Option<(CString, Vec<u8>)>,
    umask: Option<libc::mode_t>,
}

impl PreparedSetup {
    pub(super) fn new(setup: ChildSetup) -> PreparedSetup {
        let (user, user_error) = match setup.user {
            Some(Ok(user)) => (Some(user), None),
            Some(Err(reason)) => (None, Some(format!("{reason}\n").into_bytes())),
            None => (None, None),
        };
        let directory = setup.directory.map(|dir| {
            let prefix = format!("supervisor: couldn't chdir to {}: ", dir.to_string_lossy());
            (dir, prefix.into_bytes())
        });
        PreparedSetup {
            prefix: format!("supervisor: couldn't setuid to {}: ", setup.user_label).into_bytes(),
            user,
            user_error,
            directory,
            umask: setup.umask,
        }
    }
}

/// Everything the child reads, borrowed from the frame of the thread that cloned it (suspended
/// until the child has exec'd or exited, so the borrows outlive the child's use of them).
pub(super) struct ChildArgs<'a> {
    pub program: &'a CString,
    /// NULL-terminated.
    pub argv: &'a [*const c_char],
    /// NULL-terminated `KEY=value` strings.
    pub envp: &'a [*const c_char],
    /// The fds to install as the child's 0, 1 and 2.
    pub stdio: [RawFd; 3],
    /// A `cgroup.procs` to write `0` to (join that cgroup), or -1.
    pub cgroup: RawFd,
    pub setup: &'a PreparedSetup,
    /// The daemon's pid: a different parent after `prctl` means the daemon died in between,
    /// and the death signal was armed too late to fire.
    pub parent: libc::pid_t,
    /// Set by the child when `execve` (or installing stdio) failed, before it exits; 0 when the
    /// child exec'd or exited on its own terms.
    pub exec_errno: AtomicI32,
}

const NOT_SPAWNED: &[u8] = b"supervisor: child process was not spawned\n";

/// The child's entry point, as `clone` wants it: `arg` is a [`ChildArgs`]. It never returns:
/// the child either execs or exits 127.
pub(super) extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the spawner passes a pointer to a live `ChildArgs` and stays suspended
    // (CLONE_VFORK) while the child runs, so the reference is valid and nothing mutates it.
    let args = unsafe { &*arg.cast::<ChildArgs>() };
    let errno = exec_child(args);
    args.exec_errno.store(errno, Ordering::Release);
    // SAFETY: _exit ends the child without running the daemon's atexit handlers or flushing
    // its (shared) stdio buffers.
    unsafe { libc::_exit(127) }
}

/// Installs stdio, runs the setup and execs; returns the errno when stdio or `execve` failed.
/// Setup failures are reported by [`fail`] and end the child here.
fn exec_child(args: &ChildArgs) -> i32 {
    // First, before it can start anything: the child's descendants are then in its cgroup
    // too. A failure leaves it where the daemon is (the tree is then not tracked).
    if args.cgroup >= 0 {
        // SAFETY: writes one byte from a static to an fd the suspended spawner keeps open.
        unsafe { libc::write(args.cgroup, b"0".as_ptr().cast(), 1) };
    }
    if let Err(errno) = own_fd_table(args.stdio) {
        return errno;
    }
    for (target, &source) in args.stdio.iter().enumerate() {
        if let Err(errno) = install_fd(source, target as RawFd) {
            return errno;
        }
    }
    close_inherited();
    apply_setup(args.setup, args.parent);
    reset_signals();
    // SAFETY: `program` is NUL-terminated and `argv`/`envp` are NULL-terminated arrays of
    // NUL-terminated strings, all owned by the suspended spawner's frame.
    unsafe {
        libc::execve(
            args.program.as_ptr(),
            args.argv.as_ptr(),
            args.envp.as_ptr(),
        )
    };
    last_errno()
}

/// Gives the child its own fd table. It starts out sharing the daemon's (`CLONE_FILES`), and
/// `close_range(.., CLOSE_RANGE_UNSHARE)` copies only the fds below the range, so the table is
/// copied up to the child's stdio and no further: the daemon's per-child fds sit above it (see
/// [`super::fd`]) and are neither copied nor closed one by one at `execve`. Kernels without
/// `close_range` (before 5.9) copy the whole table instead.
fn own_fd_table(stdio: [RawFd; 3]) -> Result<(), i32> {
    let first_not_copied = stdio.iter().max().map_or(3, |&fd| fd + 1).max(3);
    // SAFETY: close_range only affects the fd table, which the UNSHARE flag first makes this
    // child's own; the fds it drops are copies.
    let unshared = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first_not_copied as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_UNSHARE,
        )
    } == 0;
    // SAFETY: unshare(CLONE_FILES) gives this child a private copy of the shared fd table.
    if unshared || unsafe { libc::unshare(libc::CLONE_FILES) } == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// Closes every fd above stdio, as Python's child does (`os.close` of 3..minfds): an fd the
/// daemon inherited without CLOEXEC must not reach its children either. Best effort: before
/// Linux 5.9 (no `close_range`) only CLOEXEC fds go, at `execve`.
fn close_inherited() {
    // SAFETY: close_range only closes this child's own copies of fds (its table is private by
    // now); nothing in the child uses an fd above 2 afterwards.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    };
}

/// Makes `target` a copy of `source` that survives exec (`dup2` leaves CLOEXEC off; when the
/// two are already the same fd, the flag is cleared instead).
fn install_fd(source: RawFd, target: RawFd) -> Result<(), i32> {
    // SAFETY: dup2 and fcntl(F_SETFD) on integers only touch this child's own fd table.
    let ok = unsafe {
        if source == target {
            libc::fcntl(target, libc::F_SETFD, 0) != -1
        } else {
            libc::dup2(source, target) != -1
        }
    };
    if ok {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// Python's child-side setup, then the death signal. User switching uses raw syscalls: glibc's
/// `setuid`/`setgid`/`setgroups` wrappers would apply the change to every thread listed in the
/// (shared) memory, i.e. to the daemon's threads.
fn apply_setup(setup: &PreparedSetup, parent: libc::pid_t) {
    // SAFETY: setpgid(0, 0) only changes this child's process group.
    unsafe { libc::setpgid(0, 0) };
    if let Some(reason) = &setup.user_error {
        fail(&[&setup.prefix, reason, NOT_SPAWNED]);
    }
    if let Some(user) = &setup.user {
        let failure: Option<&[u8]> =
            // SAFETY: the pointer and length describe `user.groups`, alive for the call.
            if unsafe { libc::syscall(libc::SYS_setgroups, user.groups.len(), user.groups.as_ptr()) } != 0 {
                Some(b"Could not set groups of effective user\n")
            // SAFETY: a syscall on an integer, changing only this child's credentials.
            } else if unsafe { libc::syscall(libc::SYS_setgid, user.gid) } != 0 {
                Some(b"Could not set group id of effective user\n")
            // SAFETY: a syscall on an integer, changing only this child's credentials.
            } else if unsafe { libc::syscall(libc::SYS_setuid, user.uid) } != 0 {
                Some(errno_name(last_errno()))
            } else {
                None
            };
        if let Some(reason) = failure {
            fail(&[&setup.prefix, reason, b"\n", NOT_SPAWNED]);
        }
    }
    if let Some((dir, chdir_prefix)) = &setup.directory {
        // SAFETY: `dir` is a valid NUL-terminated string owned by the suspended spawner.
        if unsafe { libc::chdir(dir.as_ptr()) } != 0 {
            fail(&[chdir_prefix, errno_name(last_errno()), b"\n", NOT_SPAWNED]);
        }
    }
    if let Some(mask) = setup.umask {
        // SAFETY: umask only changes this child's file mode mask.
        unsafe { libc::umask(mask) };
    }
    // Armed last: a credential change (setuid/setgid above) clears the death signal.
    // SAFETY: prctl with integer arguments only changes this child's attributes; getppid and
    // _exit have no preconditions.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != parent {
            libc::_exit(127);
        }
    }
}

/// Starts the program with the signal dispositions a child of Python's supervisord has, and an
/// empty mask: every handler the daemon installed goes back to the default (a handler running
/// in this child would run on the daemon's memory); SIGPIPE and SIGXFSZ are ignored, as the
/// Python interpreter ignores them at startup and its children inherit that; then the signals
/// the spawner blocked around the clone are unblocked.
fn reset_signals() {
    // SAFETY: sigaction and sigprocmask with valid pointers to local structs only change this
    // child's dispositions and mask (no CLONE_SIGHAND: the handler table is a copy).
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        for signal in 1..=libc::SIGRTMAX() {
            if signal == libc::SIGPIPE || signal == libc::SIGXFSZ {
                libc::sigaction(signal, &ignore, std::ptr::null_mut());
                continue;
            }
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) != 0 {
                continue;
            }
            let handled =
                current.sa_sigaction != libc::SIG_DFL && current.sa_sigaction != libc::SIG_IGN;
            if handled {
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// Writes the pieces to fd 2 and exits 127, as Python's failed child does.
fn fail(pieces: &[&[u8]]) -> ! {
    for piece in pieces {
        // SAFETY: writing a valid buffer to fd 2; errors are irrelevant.
        unsafe { libc::write(2, piece.as_ptr().cast(), piece.len()) };
    }
    // SAFETY: _exit ends the child without running the daemon's atexit handlers.
    unsafe { libc::_exit(127) }
}

/// The calling thread's errno, read without allocating.
fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Python's `errno.errorcode` names for the errors a child's setup can meet, without allocating.
fn errno_name(code: i32) -> &'static [u8] {
    match code {
        libc::ENOENT => b"ENOENT",
        libc::EACCES => b"EACCES",
        libc::ENOTDIR => b"ENOTDIR",
        libc::EPERM => b"EPERM",
        libc::EINVAL => b"EINVAL",
        libc::EAGAIN => b"EAGAIN",
        libc::ELOOP => b"ELOOP",
        libc::ENAMETOOLONG => b"ENAMETOOLONG",
        libc::EIO => b"EIO",
        _ => b"EUNKNOWN",
    }
}

/// One reaped child: its pid and raw wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    pub pid: u32,
    pub status: i32,
}

/// `waitpid(-1, WNOHANG)`: the next exited child, or `None` when no child has exited (or there
/// are no children at all).
pub fn reap_one() -> Option<Reaped> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the duration of the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            return Some(Reaped {
                pid: pid as u32,
                status,
            });
        }
        if pid < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// `kill(pid, sig)` with any signal number (realtime ones included); a negative pid signals the
/// process group.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
