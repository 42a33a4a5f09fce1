//! Starting a child the way glibc's `posix_spawn` does: `clone(CLONE_VM | CLONE_VFORK)` on a
//! small dedicated stack, from a thread that lives as long as the process.
//!
//! Why not `fork`: the daemon's page tables would be copied for every child only to be thrown
//! away at `execve`, and every page the daemon writes while the child lives takes a
//! copy-on-write fault. With `CLONE_VM` the child borrows the daemon's memory until it execs,
//! and `CLONE_VFORK` suspends the spawning thread until then, so an exec failure is read from
//! shared memory once `clone` returns (no error pipe) and the pid is known before the child
//! can have exited.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{mpsc, LazyLock, Mutex};

use super::child::{child_main, ChildArgs, ChildSetup, PreparedSetup};

/// Everything a child is started with.
#[derive(Debug)]
pub struct Exec {
    /// The file to exec (already resolved on PATH).
    pub program: CString,
    pub argv: Vec<CString>,
    /// `KEY=value` strings.
    pub env: Vec<CString>,
    /// The child's ends of its pipes (`stdin`: or a copy of an fcgi-program's socket); closed
    /// in the daemon once the child has them.
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    /// `None`: stderr goes to the stdout pipe.
    pub stderr: Option<OwnedFd>,
    /// The directory of the cgroup the child starts in (see `crate::cgroup`), so that
    /// everything it starts is in it too.
    pub cgroup: Option<OwnedFd>,
    pub setup: ChildSetup,
}

/// The child's stack: it only runs [`child_main`], whose frames are small; generous so that
/// unoptimised (test) builds fit too.
const CHILD_STACK_BYTES: usize = 256 * 1024;

/// `CLONE_FILES`: the child starts on the daemon's fd table and copies only its low end (see
/// `child::own_fd_table`). Not when `SUPERVISOR_RS_COPY_FD_TABLE` is set: valgrind emulates
/// only the plain vfork form of `clone`, so scripts/orderfile.sh, which runs the daemon under
/// callgrind, sets it (the child then copies the whole table, only slower).
static SHARE_FDS: LazyLock<libc::c_int> = LazyLock::new(|| {
    if std::env::var_os("SUPERVISOR_RS_COPY_FD_TABLE").is_some() {
        0
    } else {
        libc::CLONE_FILES
    }
});

/// A spawn request for the spawner thread, with where to send the pid.
type SpawnJob = (Exec, PreparedSetup, mpsc::SyncSender<io::Result<u32>>);

/// The spawner thread: children of threads other than the main one are cloned from it, and it
/// never exits. `PR_SET_PDEATHSIG` fires when the *thread* that created the child exits, not
/// the process, so children must not come from runtime threads that may come and go
/// (`block_in_place` turns a worker into a blocking thread that later retires). Started
/// lazily, i.e. after daemonizing.
static SPAWNER: LazyLock<Mutex<mpsc::Sender<SpawnJob>>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<SpawnJob>();
    std::thread::Builder::new()
        .name("spawner".into())
        .spawn(move || {
            // u128: the stack must be 16-byte aligned.
            let mut stack = vec![0u128; CHILD_STACK_BYTES / 16];
            // `SPAWNER` holds the sender for the life of the process, so `recv` never fails.
            while let Ok((exec, setup, reply)) = rx.recv() {
                let result = clone_child(&exec, &setup, &mut stack);
                // The daemon's copies of the child's pipe ends close here, so EOF can arrive.
                drop(exec);
                let _ = reply.send(result);
            }
        })
        .expect("start the spawner thread");
    Mutex::new(tx)
});

thread_local! {
    /// The child stack of the main thread, which clones its children itself.
    static MAIN_STACK: RefCell<Vec<u128>> = RefCell::new(vec![0; CHILD_STACK_BYTES / 16]);
}

/// Starts `exec` and returns the child's pid. `Err`: the clone failed (no child), or installing
/// stdio or `execve` failed (the child has been reaped already).
///
/// The main thread lives as long as the process, so it clones its children itself, saving the
/// two thread switches of a round trip to the spawner thread (the daemon's supervisor runs on
/// it); any other thread hands the work to the spawner thread (see [`SPAWNER`]).
pub fn spawn(mut exec: Exec) -> io::Result<u32> {
    let setup = PreparedSetup::new(std::mem::take(&mut exec.setup));
    if nix::unistd::gettid() == nix::unistd::getpid() {
        return MAIN_STACK.with_borrow_mut(|stack| clone_child(&exec, &setup, stack));
    }
    let (reply, result) = mpsc::sync_channel(1);
    let sender = SPAWNER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    sender
        .send((exec, setup, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    result
        .recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

/// NULL-terminated pointers to `strings`, as `execve` takes them.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Whether `clone3` with `CLONE_INTO_CGROUP` is there (Linux 5.7; a seccomp filter may
/// answer ENOSYS, as Docker's did): once it is not, children join their cgroup themselves.
static CLONE3_INTO_CGROUP: AtomicBool = AtomicBool::new(cfg!(target_arch = "x86_64"));

/// One `clone` with every signal blocked around it (the child unblocks them once its handlers
/// are back to the defaults). A child with a cgroup is cloned into it (`clone3`): joining it
/// by a write to `cgroup.procs` takes the kernel's cgroup-wide write lock and an RCU grace
/// period, 6–15 ms per child where the clone takes under 2.
fn clone_child(exec: &Exec, setup: &PreparedSetup, stack: &mut [u128]) -> io::Result<u32> {
    let argv = pointers(&exec.argv);
    let envp = pointers(&exec.env);
    let stdout = exec.stdout.as_raw_fd();
    let into = exec
        .cgroup
        .as_ref()
        .filter(|_| CLONE3_INTO_CGROUP.load(Ordering::Relaxed));
    // Without clone3, the child writes `0` to this `cgroup.procs` before anything else.
    let procs = match (&exec.cgroup, into) {
        (Some(dir), None) => nix::fcntl::openat(
            dir,
            "cgroup.procs",
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok(),
        _ => None,
    };
    let args = ChildArgs {
        program: &exec.program,
        argv: &argv,
        envp: &envp,
        stdio: [
            exec.stdin.as_raw_fd(),
            stdout,
            exec.stderr.as_ref().map_or(stdout, AsRawFd::as_raw_fd),
        ],
        cgroup: procs.as_ref().map_or(-1, AsRawFd::as_raw_fd),
        setup,
        // SAFETY: getpid has no preconditions.
        parent: unsafe { libc::getpid() },
        exec_errno: AtomicI32::new(0),
    };
    let old = block_all_signals();
    if let Some(dir) = into {
        let result = clone3_into_cgroup(dir.as_raw_fd(), &args, stack);
        // SAFETY: restores the mask saved above, a valid sigset.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        match result {
            Ok(pid) => return exec_outcome(pid, &args),
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSYS)
                    || e.raw_os_error() == Some(libc::E2BIG) =>
            {
                CLONE3_INTO_CGROUP.store(false, Ordering::Relaxed);
                return clone_child(exec, setup, stack);
            }
            Err(e) => return Err(e),
        }
    }
    let top = stack.as_mut_ptr_range().end.cast::<libc::c_void>();
    // SAFETY: `top` is the 16-byte-aligned end of a stack nothing else uses while this thread
    // is suspended (CLONE_VFORK), `args` lives in this frame until clone returns, and
    // `child_main` only makes async-signal-safe syscalls on that data, then execs or exits. The
    // fd table is shared (CLONE_FILES) only until the child has made its own copy; before that
    // the child only writes to its cgroup's fd, which leaves the table as it is.
    let pid = unsafe {
        libc::clone(
            child_main,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | *SHARE_FDS | libc::SIGCHLD,
            std::ptr::from_ref(&args).cast_mut().cast(),
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above, a valid sigset.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if pid < 0 {
        return Err(clone_error);
    }
    exec_outcome(pid, &args)
}

/// The clone is back (the child has exec'd or exited): its pid, or why its exec failed.
fn exec_outcome(pid: libc::pid_t, args: &ChildArgs) -> io::Result<u32> {
    match args.exec_errno.load(Ordering::Acquire) {
        0 => Ok(pid as u32),
        errno => {
            reap(pid);
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// `struct clone_args` of `<linux/sched.h>`, up to `cgroup` (its version 2, Linux 5.7).
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP)`: the same child as `libc::clone`
/// makes, started in the cgroup of the directory `cgroup`. libc has no wrapper that runs a
/// function on the new stack, so the child's side is the few instructions glibc's own
/// `clone` wrapper has: on its stack, call [`child_main`] with `args`, then exit.
#[cfg(target_arch = "x86_64")]
fn clone3_into_cgroup(
    cgroup: i32,
    args: &ChildArgs,
    stack: &mut [u128],
) -> io::Result<libc::pid_t> {
    let range = stack.as_mut_ptr_range();
    let cl = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK | *SHARE_FDS) as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: range.start as u64,
        stack_size: (range.end as u64) - (range.start as u64),
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup as u64,
    };
    let entry: extern "C" fn(*mut libc::c_void) -> libc::c_int = child_main;
    let mut ret: i64 = libc::SYS_clone3;
    // SAFETY: as for `libc::clone` in `clone_child`: the child runs on `stack` (16-byte
    // aligned at both ends, used by nothing else while this thread is suspended by
    // CLONE_VFORK), and `args` outlives it. In the child, `syscall` returns 0 with the stack
    // pointer at the top of `stack`; it calls `child_main(args)` (which execs or `_exit`s and
    // never returns; `exit` and `ud2` are there in case) and never runs the code after this
    // block. In the parent, the syscall clobbers only rax (the result), rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "mov edi, eax",
            "mov eax, 60",
            "syscall",
            "ud2",
            "2:",
            inout("rax") ret,
            in("rdi") std::ptr::from_ref(&cl),
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") std::ptr::from_ref(args),
            in("r13") entry,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(ret as libc::pid_t)
}

/// No clone3 child entry here: children join their cgroup by `cgroup.procs`.
#[cfg(not(target_arch = "x86_64"))]
fn clone3_into_cgroup(_: i32, _: &ChildArgs, _: &mut [u128]) -> io::Result<libc::pid_t> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Blocks every signal on this thread (so no handler runs in the child before it has reset
/// them) and returns the previous mask.
fn block_all_signals() -> libc::sigset_t {
    // SAFETY: both sigsets are valid local structs; the mask only affects this thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

/// Waits for a child that failed to exec: it never becomes a supervised process, so the
/// supervisor's reaper must not meet it.
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer; `pid` is our own exited child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
    {}
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// `Exec` of `argv` with fresh pipes, and the daemon's end of stdout.
    fn exec_of(argv: &[&str]) -> (Exec, std::fs::File) {
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (stdin, _) = pipe();
        let (stdout_read, stdout) = pipe();
        let c = |s: &str| CString::new(s).unwrap();
        let exec = Exec {
            program: c(argv[0]),
            argv: argv.iter().map(|a| c(a)).collect(),
            env: vec![c("GREETING=hi")],
            stdin,
            stdout,
            stderr: None,
            cgroup: None,
            setup: ChildSetup::default(),
        };
        (exec, stdout_read.into())
    }

    #[test]
    fn runs_the_program_with_its_environment_and_stdio() {
        let (exec, mut stdout) = exec_of(&["/bin/sh", "-c", "echo $GREETING; echo err >&2"]);
        let pid = spawn(exec).unwrap();
        let mut output = String::new();
        stdout.read_to_string(&mut output).unwrap();
        assert_eq!(output, "hi\nerr\n");
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
        assert!(matches!(
            status,
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        ));
    }

    /// Both ways into a cgroup (clone3, and the child's write to `cgroup.procs` where clone3
    /// is missing) start the child in it. Where cgroup v2 is not writable, nothing to check.
    #[test]
    fn a_child_starts_in_its_cgroup_either_way() {
        let Some(tree) = crate::cgroup::Tree::open("spawn-unit-test") else {
            return;
        };
        let cgroup_of = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for (n, clone3) in [(1, true), (2, false)] {
            let cgroup = tree.create("spawn-test", n).unwrap();
            let (mut exec, mut stdout) = exec_of(&["/bin/sh", "-c", "cat /proc/self/cgroup"]);
            exec.cgroup = Some(cgroup.dir_for_child().unwrap());
            let forced = (!clone3).then(|| CLONE3_INTO_CGROUP.swap(false, Ordering::Relaxed));
            let pid = spawn(exec);
            if let Some(before) = forced {
                CLONE3_INTO_CGROUP.store(before, Ordering::Relaxed);
            }
            let pid = pid.unwrap();
            let mut output = String::new();
            stdout.read_to_string(&mut output).unwrap();
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
            assert!(
                output.contains(&format!("/p-spawn-test@{n}")),
                "clone3 {clone3}: {output} (the test's own: {})",
                cgroup_of(std::process::id())
            );
        }
        tree.kill_all();
    }

    #[test]
    fn an_exec_failure_is_the_spawn_error() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("not-a-program");
        std::fs::write(&script, b"\x7fELF garbage").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (exec, _) = exec_of(&[script.to_str().unwrap()]);
        let error = spawn(exec).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOEXEC));
    }
}
