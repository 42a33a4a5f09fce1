//! `pidproxy` through the real binary: the usage text against Python's, a daemonizing command
//! that pidproxy follows through its pidfile (signals forwarded, SIGCHLD not, exit when the
//! daemon goes), a missing pidfile, a foreground command and one that cannot be executed.
//! Every wait polls to a deadline; every process a test starts is killed when it ends.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::support::{is_live, pyref};

const POLL: Duration = Duration::from_millis(20);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Polls `cond` until it holds, panicking with `what` after [`TIMEOUT`].
#[track_caller]
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        thread::sleep(POLL);
    }
}

fn signal(pid: u32, sig: Signal) {
    kill(Pid::from_raw(pid as i32), sig).unwrap();
}

/// Live children of `parent`, from `/proc`.
fn children(parent: u32) -> Vec<u32> {
    let parent = parent.to_string();
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
                return false;
            };
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            fields[0] != "Z" && fields[1] == parent
        })
        .collect()
}

/// Polls `f` until it gives a value.
#[track_caller]
fn until_some<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let mut found = None;
    wait_until(what, || {
        found = f();
        found.is_some()
    });
    found.unwrap()
}

/// A pid file's number, once it has one.
fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes `text` as a `'...'`-quoted shell word.
fn quote(text: &Path) -> String {
    format!("'{}'", text.display().to_string().replace('\'', r"'\''"))
}

/// A running pidproxy in a temp dir: its stdout and stderr go to files there. Dropping it kills
/// pidproxy and every process the test noted or left a pid file for.
struct Proxy {
    child: Child,
    dir: TempDir,
    /// Other processes to kill at the end (the daemon, its sleeper).
    pids: Vec<u32>,
}

impl Proxy {
    /// `pidproxy <dir>/pid <command...>` in a new temp dir.
    fn start(command: &[&str]) -> Proxy {
        Proxy::start_in(tempfile::tempdir().unwrap(), command)
    }

    /// `pidproxy <dir>/pid <command...>`, run in `dir`.
    fn start_in(dir: TempDir, command: &[&str]) -> Proxy {
        let out = File::create(dir.path().join("stdout")).unwrap();
        let err = File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pidproxy"))
            .arg(dir.path().join("pid"))
            .args(command)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        Proxy {
            child,
            dir,
            pids: Vec::new(),
        }
    }

    /// pidproxy running a launcher that starts [`DAEMON`] in the background, writes its pid to
    /// the pidfile and exits, as `mongod --fork` does. Returns once the daemon's traps are set
    /// and the launcher is gone, with the daemon's pid.
    fn daemonizing() -> (Proxy, u32) {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| quote(&dir.path().join(name));
        fs::write(dir.path().join("daemon.sh"), DAEMON).unwrap();
        let launcher = format!(
            "sh {} {} {} & echo $! > {}",
            path("daemon.sh"),
            path("signals.log"),
            path("sleeper.pid"),
            path("pid"),
        );
        let mut proxy = Proxy::start_in(dir, &["sh", "-c", &launcher]);
        let daemon = until_some("the daemon's pidfile", || read_pid(&proxy.path("pid")));
        proxy.pids.push(daemon);
        let sleeper = until_some("the sleeper's pidfile", || {
            read_pid(&proxy.path("sleeper.pid"))
        });
        proxy.pids.push(sleeper);
        wait_until("the daemon's traps", || proxy.signals().contains("ready"));
        let pp = proxy.child.id();
        wait_until("the launcher to exit", || children(pp).is_empty());
        (proxy, daemon)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn stdout(&self) -> String {
        fs::read_to_string(self.path("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.path("stderr")).unwrap_or_default()
    }

    fn signals(&self) -> String {
        fs::read_to_string(self.path("signals.log")).unwrap_or_default()
    }

    fn signal(&self, sig: Signal) {
        signal(self.child.id(), sig);
    }

    /// pidproxy's exit status, waiting for it to a deadline.
    #[track_caller]
    fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        wait_until("pidproxy to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }

    /// Asserts that pidproxy is still running throughout `period`.
    #[track_caller]
    fn assert_running_for(&mut self, period: Duration) {
        let end = Instant::now() + period;
        while Instant::now() < end {
            let status = self.child.try_wait().unwrap();
            assert!(
                status.is_none(),
                "pidproxy exited ({status:?}); stdout {:?}, stderr {:?}",
                self.stdout(),
                self.stderr()
            );
            thread::sleep(POLL);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let from_files = ["pid", "sleeper.pid"].map(|f| read_pid(&self.path(f)));
        for pid in self
            .pids
            .iter()
            .copied()
            .chain(from_files.into_iter().flatten())
        {
            if is_live(pid) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// A daemon that records the signals it gets: `sh daemon.sh LOG SLEEPERFILE`. It waits on a
/// child of its own (so that it gets no SIGCHLD until that child ends, and `wait` returns to
/// run each trap), and ends within a minute even if nobody stops it.
const DAEMON: &str = r#"log=$1
for s in HUP USR1 USR2 WINCH ALRM CHLD; do trap "echo $s >> '$log'" $s; done
trap 'echo TERM >> "$log"; kill $sleeper; exit 0' TERM
sleep 60 & sleeper=$!
echo $sleeper > "$2"
echo ready >> "$log"
while kill -0 $sleeper 2>/dev/null; do wait $sleeper; done
"#;

/// What `cmd args` prints, with its own path written as `ARGV0`.
fn usage_of(program: &Path, args: &[&str]) -> (Vec<u8>, Vec<u8>, Option<i32>) {
    let out = Command::new(program).args(args).output().unwrap();
    let argv0 = program.to_str().unwrap();
    let stdout = String::from_utf8(out.stdout)
        .unwrap()
        .replace(argv0, "ARGV0");
    (stdout.into_bytes(), out.stderr, out.status.code())
}

#[test]
fn usage_is_pythons() {
    let ours = Path::new(env!("CARGO_BIN_EXE_pidproxy"));
    let python = pyref().join("bin/pidproxy");
    for args in [&[][..], &["only.pid"][..]] {
        let (py_out, py_err, py_code) = usage_of(&python, args);
        let (out, err, code) = usage_of(ours, args);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&py_out),
            "usage text for {args:?}"
        );
        assert_eq!(out, py_out);
        assert!(out.ends_with(b"[<cmdarg1> ...]\n\n"), "{out:?}");
        assert_eq!(
            (err, code),
            (py_err, py_code),
            "stderr and status for {args:?}"
        );
        assert_eq!(code, Some(1));
    }
}

#[test]
fn daemon_gets_forwarded_signals_and_sigterm_ends_pidproxy() {
    let (mut proxy, daemon) = Proxy::daemonizing();
    // Python would have exited with the launcher; we follow the daemon, past the grace period.
    proxy.assert_running_for(Duration::from_millis(1500));
    for (sig, name) in [
        (Signal::SIGHUP, "HUP"),
        (Signal::SIGUSR1, "USR1"),
        (Signal::SIGUSR2, "USR2"),
        (Signal::SIGALRM, "ALRM"),
    ] {
        proxy.signal(sig);
        wait_until(&format!("{name} forwarded"), || {
            proxy.signals().lines().any(|l| l == name)
        });
    }
    proxy.assert_running_for(Duration::from_millis(300));
    proxy.signal(Signal::SIGTERM);
    let status = proxy.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr {:?}", proxy.stderr());
    wait_until("TERM forwarded", || {
        proxy.signals().lines().any(|l| l == "TERM")
    });
    wait_until("the daemon to exit", || !is_live(daemon));
    assert_eq!(proxy.stdout(), "");
    assert_eq!(proxy.stderr(), "");
}

#[test]
fn sigchld_is_not_forwarded() {
    let (mut proxy, _daemon) = Proxy::daemonizing();
    proxy.signal(Signal::SIGCHLD);
    // A barrier: forwarded signals reach the daemon in order, and a pending SIGCHLD (17) would
    // be delivered before SIGWINCH (28).
    proxy.signal(Signal::SIGWINCH);
    wait_until("WINCH forwarded", || {
        proxy.signals().lines().any(|l| l == "WINCH")
    });
    assert_eq!(proxy.signals(), "ready\nWINCH\n");
    proxy.assert_running_for(Duration::from_millis(300));
    assert_eq!(proxy.stdout(), "");
}

#[test]
fn pidproxy_exits_when_the_daemon_dies() {
    let (mut proxy, daemon) = Proxy::daemonizing();
    proxy.assert_running_for(Duration::from_millis(300));
    signal(daemon, Signal::SIGKILL);
    let status = proxy.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr {:?}", proxy.stderr());
    assert_eq!(proxy.stdout(), "");
}

#[test]
fn missing_pidfile_is_reported_and_sigterm_survived() {
    // `sleep` by name: not in the working directory, so found on PATH (Python would fail).
    let mut proxy = Proxy::start(&["sleep", "60"]);
    let pp = proxy.child.id();
    let launcher = until_some("the command to start", || children(pp).first().copied());
    proxy.pids.push(launcher);
    let pidfile = proxy.path("pid");
    let line = format!("Can't read child pidfile {}!\n", pidfile.display());
    proxy.signal(Signal::SIGTERM);
    wait_until("the pidfile complaint", || proxy.stdout() == line);
    proxy.signal(Signal::SIGHUP);
    wait_until("the second complaint", || proxy.stdout() == line.repeat(2));
    proxy.assert_running_for(Duration::from_millis(300));
    assert!(is_live(launcher));
    // With the command gone and no pidfile, pidproxy exits (after its grace period) with the
    // command's status: killed by SIGKILL.
    signal(launcher, Signal::SIGKILL);
    let status = proxy.wait_exit();
    assert_eq!(status.code(), Some(128 + 9), "stderr {:?}", proxy.stderr());
    assert_eq!(proxy.stderr(), "");
}

#[test]
fn foreground_command_ends_pidproxy_with_its_status() {
    let mut proxy = Proxy::start(&["sh", "-c", "echo $$ > pid; exit 3"]);
    assert_eq!(proxy.wait_exit().code(), Some(3));
    let mut proxy = Proxy::start(&["/bin/sh", "-c", "exit 0"]);
    assert_eq!(proxy.wait_exit().code(), Some(0));
    assert_eq!(
        (proxy.stdout(), proxy.stderr()),
        (String::new(), String::new())
    );
}

#[test]
fn unexecutable_command_is_a_one_line_error() {
    let mut proxy = Proxy::start(&["/nonexistent/daemon", "--fork"]);
    assert_eq!(proxy.wait_exit().code(), Some(1));
    assert_eq!(
        proxy.stderr(),
        "pidproxy: can't execute /nonexistent/daemon: ENOENT: No such file or directory\n"
    );
    assert_eq!(proxy.stdout(), "");
}
