//! The child side of spawning (the `pre_exec` setup between fork and exec), the thread every
//! child is forked from, reaping with the raw wait status, and `kill` with any signal number.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{mpsc, LazyLock, Mutex};

/// Credentials a child switches to, resolved in the parent before forking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildUser {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups, the primary gid first (as Python's `drop_privileges` orders them).
    pub groups: Vec<libc::gid_t>,
}

/// What a child does for itself between fork and exec, in Python's order: new process group,
/// user, directory, umask; then (our addition) `PR_SET_PDEATHSIG` = SIGKILL, so no child
/// outlives a daemon that was killed outright. Failures are reported on the child's stderr with Python's wording and
/// the child exits 127, so they show up as a too-quick exit.
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

/// Installs the child-side setup on `command` as a `pre_exec` hook.
pub fn install_child_setup(command: &mut Command, setup: ChildSetup) {
    // Everything the hook writes is prepared here, so the hook itself only copies bytes.
    let prefix = format!("supervisor: couldn't setuid to {}: ", setup.user_label).into_bytes();
    let not_spawned = b"supervisor: child process was not spawned\n";
    let (user, user_error) = match setup.user {
        Some(Ok(user)) => (Some(user), None),
        Some(Err(reason)) => (None, Some(format!("{reason}\n").into_bytes())),
        None => (None, None),
    };
    let chdir_prefix = setup
        .directory
        .as_ref()
        .map(|d| format!("supervisor: couldn't chdir to {}: ", d.to_string_lossy()).into_bytes());
    let directory = setup.directory;
    let umask = setup.umask;
    // The daemon's pid, taken before the fork: a different parent after `prctl` means the daemon
    // died in between, and the death signal was armed too late to fire.
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let hook = move || -> io::Result<()> {
        // SAFETY: setpgid(0, 0) only changes this (forked) process's group; async-signal-safe.
        unsafe { libc::setpgid(0, 0) };
        if let Some(reason) = &user_error {
            fail(&[&prefix, reason, not_spawned]);
        }
        if let Some(user) = &user {
            let failure: Option<&[u8]> =
                // SAFETY: the pointer and length describe `user.groups`, alive for the call;
                // setgroups is async-signal-safe.
                if unsafe { libc::setgroups(user.groups.len(), user.groups.as_ptr()) } != 0 {
                    Some(b"Could not set groups of effective user\n")
                // SAFETY: plain syscall on an integer; async-signal-safe.
                } else if unsafe { libc::setgid(user.gid) } != 0 {
                    Some(b"Could not set group id of effective user\n")
                // SAFETY: plain syscall on an integer; async-signal-safe.
                } else if unsafe { libc::setuid(user.uid) } != 0 {
                    Some(errno_name(io::Error::last_os_error().raw_os_error()))
                } else {
                    None
                };
            if let Some(reason) = failure {
                fail(&[&prefix, reason, b"\n", not_spawned]);
            }
        }
        if let (Some(dir), Some(chdir_prefix)) = (&directory, &chdir_prefix) {
            // SAFETY: `dir` is a valid NUL-terminated string owned by the closure.
            if unsafe { libc::chdir(dir.as_ptr()) } != 0 {
                let code = errno_name(io::Error::last_os_error().raw_os_error());
                fail(&[chdir_prefix, code, b"\n", not_spawned]);
            }
        }
        if let Some(mask) = umask {
            // SAFETY: umask only changes this process's file mode mask; async-signal-safe.
            unsafe { libc::umask(mask) };
        }
        // Armed last: a credential change (setuid/setgid above) clears the death signal.
        // SAFETY: prctl with integer arguments only changes this process's attributes;
        // getppid and _exit are async-signal-safe.
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
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec; it only makes async-signal-safe syscalls
    // (setpgid, setgroups, setgid, setuid, chdir, umask, prctl, getppid, write, _exit) on data
    // prepared before the fork, and allocates nothing.
    unsafe { command.pre_exec(hook) };
}

/// A spawn request for the spawner thread, with where to send the result.
type SpawnJob = (Command, mpsc::SyncSender<io::Result<Child>>);

/// The spawner thread: it forks every child and never exits. `PR_SET_PDEATHSIG` fires when
/// the *thread* that forked the child exits, not the process, so children must not be forked
/// from runtime threads that may come and go (`block_in_place` turns a worker into a blocking
/// thread that later retires). Started lazily, i.e. after daemonizing.
static SPAWNER: LazyLock<Mutex<mpsc::Sender<SpawnJob>>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<SpawnJob>();
    std::thread::Builder::new()
        .name("spawner".into())
        .spawn(move || {
            // `SPAWNER` holds the sender for the life of the process, so `recv` never fails.
            while let Ok((mut command, reply)) = rx.recv() {
                let result = command.spawn();
                // The parent's copies of the child's pipe ends close here, so EOF can arrive.
                drop(command);
                let _ = reply.send(result);
            }
        })
        .expect("start the spawner thread");
    Mutex::new(tx)
});

/// `command.spawn()` on the spawner thread (see [`SPAWNER`]); the command is consumed so the
/// parent's copies of the child's ends of its pipes are closed on return.
pub fn spawn_command(command: Command) -> io::Result<Child> {
    let (reply, result) = mpsc::sync_channel(1);
    let sender = SPAWNER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    sender
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    result
        .recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

/// Writes the pieces to fd 2 and exits 127, as Python's failed child does.
fn fail(pieces: &[&[u8]]) -> ! {
    for piece in pieces {
        // SAFETY: writing a valid buffer to fd 2 is async-signal-safe; errors are irrelevant.
        unsafe { libc::write(2, piece.as_ptr().cast(), piece.len()) };
    }
    // SAFETY: _exit ends the forked child without running the parent's atexit handlers.
    unsafe { libc::_exit(127) }
}

/// Python's `errno.errorcode` names for the errors a child's setup can meet, without allocating.
fn errno_name(code: Option<i32>) -> &'static [u8] {
    match code {
        Some(libc::ENOENT) => b"ENOENT",
        Some(libc::EACCES) => b"EACCES",
        Some(libc::ENOTDIR) => b"ENOTDIR",
        Some(libc::EPERM) => b"EPERM",
        Some(libc::EINVAL) => b"EINVAL",
        Some(libc::EAGAIN) => b"EAGAIN",
        Some(libc::ELOOP) => b"ELOOP",
        Some(libc::ENAMETOOLONG) => b"ENAMETOOLONG",
        Some(libc::EIO) => b"EIO",
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
