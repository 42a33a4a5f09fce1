//! The differential harness: a daemon (Python's supervisord 4.3.0 or ours) in its own temp dir,
//! driven by a `supervisorctl` (Python's by default, or ours: [`Ctl`]), with output normalised so
//! both daemons can be compared. [`quad::Quad`] crosses both daemons with both clients.
//!
//! Every wait polls toward a deadline; every daemon and all its children die when it is dropped.

pub mod program;
pub mod quad;
pub mod xmlrpc;

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::LazyLock;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{getpgrp, Pid};
use regex::Regex;
use tempfile::TempDir;

pub use xmlrpc::{RpcError, Value};

/// How often polling loops look again.
/// A body with an `[inet_http_server]` (user `user`, password `123`) and one long-running
/// program, `sleeper`.
pub const AUTHED_SLEEPER: &str = "
[inet_http_server]
port=127.0.0.1:{port}
username=user
password=123

[program:sleeper]
command=sleep 1000
startsecs=0
";

const POLL: Duration = Duration::from_millis(50);
/// How long a daemon may take to answer on its socket after launch.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long one `supervisorctl` run may take.
const CTL_DEADLINE: Duration = Duration::from_secs(30);

/// Which daemon a [`Daemon`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    Python,
    Ours,
}

impl Impl {
    /// The daemon binary. `SUPERVISOR_RS_OURS_IS_PYTHON=1` puts Python's daemon in our slot too, so
    /// the harness itself can be checked (Python against Python must always match).
    fn binary(self) -> PathBuf {
        let ours_is_python = std::env::var("SUPERVISOR_RS_OURS_IS_PYTHON").is_ok_and(|v| v == "1");
        match self {
            Impl::Ours if !ours_is_python => PathBuf::from(env!("CARGO_BIN_EXE_supervisord")),
            _ => pyref().join("bin/supervisord"),
        }
    }
}

/// Which `supervisorctl` runs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    Python,
    Ours,
}

impl Ctl {
    /// The client binary. `SUPERVISOR_RS_OURS_CTL_IS_PYTHON=1` puts Python's client in our slot
    /// too, as `SUPERVISOR_RS_OURS_IS_PYTHON` does for the daemon.
    pub fn binary(self) -> PathBuf {
        let ours_is_python =
            std::env::var("SUPERVISOR_RS_OURS_CTL_IS_PYTHON").is_ok_and(|v| v == "1");
        match self {
            Ctl::Ours if !ours_is_python => PathBuf::from(env!("CARGO_BIN_EXE_supervisorctl")),
            _ => pyref().join("bin/supervisorctl"),
        }
    }

    /// Whether [`Ctl::binary`] is Python's client (always for `Python`; for `Ours` under
    /// `SUPERVISOR_RS_OURS_CTL_IS_PYTHON=1`).
    pub fn runs_python(self) -> bool {
        self.binary() == pyref().join("bin/supervisorctl")
    }

    /// Replaces this client's argv[0] (its full path, as `-h` and usage errors print it) with
    /// `supervisorctl`.
    pub fn normalise_argv0(self, text: &str) -> String {
        text.replace(&self.binary().display().to_string(), "supervisorctl")
    }
}

/// The virtualenv holding Python Supervisor 4.3.0: `$SUPERVISOR_PYREF`, else `target/pyref`
/// (where `scripts/test.sh` installs it).
pub fn pyref() -> PathBuf {
    let dir = std::env::var_os("SUPERVISOR_PYREF")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyref"));
    assert!(
        dir.join("bin/supervisorctl").exists(),
        "no Python Supervisor in {} (run scripts/test.sh or set SUPERVISOR_PYREF)",
        dir.display()
    );
    dir
}

/// What a command printed and how it exited (`-1` when killed by a signal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    /// Applies `f` to stdout and stderr.
    pub fn map(&self, f: impl Fn(&str) -> String) -> Output {
        Output {
            stdout: f(&self.stdout),
            stderr: f(&self.stderr),
            code: self.code,
        }
    }

    /// stdout, stderr and the exit code as one text, for diffs.
    pub fn render(&self) -> String {
        format!(
            "{}--- stderr ---\n{}--- exit {} ---\n",
            self.stdout, self.stderr, self.code
        )
    }
}

/// One running daemon in its own temp dir. Killed, with every descendant, on drop.
pub struct Daemon {
    kind: Impl,
    dir: TempDir,
    child: Child,
    /// A free 127.0.0.1 port, substituted for `{port}` in the config body.
    port: u16,
}

/// The sections every test config gets; the test's body follows them.
fn header() -> &'static str {
    "[supervisord]\n\
     logfile=%(here)s/supervisord.log\n\
     pidfile=%(here)s/supervisord.pid\n\
     childlogdir=%(here)s/log\n\
     loglevel=info\n\
     \n\
     [unix_http_server]\n\
     file=%(here)s/s.sock\n\
     \n\
     [rpcinterface:supervisor]\n\
     supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
     \n\
     [supervisorctl]\n\
     serverurl=unix://%(here)s/s.sock\n\
     \n"
}

/// A command running `program` (same pid: `unshare` and `sh` exec it) in a mount namespace
/// of its own from which every cgroup2 mount is gone.
pub fn without_cgroups(program: &Path) -> Command {
    let mut command = Command::new("unshare");
    command.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        "for m in $(grep ' - cgroup2 ' /proc/self/mountinfo | cut -d' ' -f5); do \
         umount -l \"$m\" || exit 1; done; exec \"$0\" \"$@\"",
    ]);
    command.arg(program);
    command
}

impl Daemon {
    /// Writes the standard header plus `body` (`%(here)s` is the temp dir, `{port}` a free port)
    /// and launches the daemon in the foreground; returns once it answers on its socket.
    #[track_caller]
    pub fn start(kind: Impl, body: &str) -> Daemon {
        let d = Daemon::launch(kind, body, Command::new(kind.binary()));
        d.wait_ready();
        d
    }

    /// Ours as `start` does, but in a mount namespace without the cgroup v2 hierarchy (as in
    /// a container that has none), so that it tracks process trees in procfs.
    #[track_caller]
    pub fn start_without_cgroups(body: &str) -> Daemon {
        let d = Daemon::launch(Impl::Ours, body, without_cgroups(&Impl::Ours.binary()));
        d.wait_ready();
        d
    }

    fn launch(kind: Impl, body: &str, mut command: Command) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("sv")
            .tempdir()
            .expect("tempdir");
        fs::create_dir(dir.path().join("log")).expect("childlogdir");
        let port = free_port();
        fs::write(dir.path().join("supervisord.conf"), config(body, port)).expect("write config");
        let out = fs::File::create(dir.path().join("daemon.out")).expect("daemon.out");
        let child = command
            .arg("-n")
            .arg("-c")
            .arg(dir.path().join("supervisord.conf"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("launch {kind:?} daemon {:?}: {e}", kind.binary()));
        Daemon {
            kind,
            dir,
            child,
            port,
        }
    }

    /// Polls `supervisor.getState` until the daemon answers.
    #[track_caller]
    fn wait_ready(&self) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            match self.rpc("supervisor.getState", &[]) {
                Ok(_) => return,
                Err(e) if !is_live(self.child.id()) => panic!(
                    "{:?} daemon exited before answering: {e}\n{}",
                    self.kind,
                    self.daemon_output()
                ),
                Err(e) if Instant::now() >= deadline => panic!(
                    "{:?} daemon did not answer within {START_DEADLINE:?}: {e}\n{}",
                    self.kind,
                    self.daemon_output()
                ),
                Err(_) => thread::sleep(POLL),
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The daemon's own pid (the process we launched).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn conf(&self) -> PathBuf {
        self.dir().join("supervisord.conf")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir().join("s.sock")
    }

    /// Replaces the config body (same header, same port), e.g. before `reread`.
    pub fn rewrite_config(&self, body: &str) {
        fs::write(self.conf(), config(body, self.port)).expect("rewrite config");
    }

    /// The main log file's contents.
    pub fn main_log(&self) -> String {
        fs::read_to_string(self.dir().join("supervisord.log")).unwrap_or_default()
    }

    /// What the daemon printed to stdout/stderr (for failure messages).
    fn daemon_output(&self) -> String {
        let out = fs::read_to_string(self.dir().join("daemon.out")).unwrap_or_default();
        format!(
            "--- daemon output ---\n{out}--- main log ---\n{}",
            self.main_log()
        )
    }

    /// Runs Python's `supervisorctl -c <conf> args...` and waits for it (bounded).
    #[track_caller]
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.ctl_as(Ctl::Python, args)
    }

    /// Runs `ctl -c <conf> args...` and waits for it (bounded).
    #[track_caller]
    pub fn ctl_as(&self, ctl: Ctl, args: &[&str]) -> Output {
        let conf = self.conf();
        let mut full = vec!["-c", conf.to_str().expect("utf-8 path")];
        full.extend_from_slice(args);
        run_ctl(ctl, self.dir(), &full)
    }

    /// Runs a streaming Python `supervisorctl` (e.g. `tail -f`) until its stdout contains
    /// `until`, then kills it and returns what it printed so far.
    #[track_caller]
    pub fn ctl_until(&self, args: &[&str], until: &str) -> String {
        self.ctl_until_as(Ctl::Python, args, until)
    }

    /// [`Daemon::ctl_until`] with the given client.
    #[track_caller]
    pub fn ctl_until_as(&self, ctl: Ctl, args: &[&str], until: &str) -> String {
        let mut cmd = ctl_command(ctl, self.dir());
        cmd.arg("-c").arg(self.conf()).args(args);
        run_ctl_until(cmd, args, until)
    }

    /// One XML-RPC call over the unix socket.
    pub fn rpc(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        xmlrpc::call(&self.socket(), method, params)
    }

    /// `supervisor.getProcessInfo(name)`, panicking on any error.
    #[track_caller]
    pub fn info(&self, name: &str) -> Value {
        self.rpc("supervisor.getProcessInfo", &[Value::Str(name.to_owned())])
            .unwrap_or_else(|e| panic!("getProcessInfo({name}) on {:?}: {e}", self.kind))
    }

    /// Polls until `name` is in `state` (e.g. `"RUNNING"`).
    #[track_caller]
    pub fn wait_for_state(&self, name: &str, state: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.rpc("supervisor.getProcessInfo", &[Value::Str(name.to_owned())]);
            match &info {
                Ok(v) if v.field("statename").str() == state => return,
                Err(e) if !is_live(self.child.id()) => panic!(
                    "{:?} daemon died while waiting for {name} to be {state}: {e}\n{}",
                    self.kind,
                    self.daemon_output()
                ),
                _ if Instant::now() >= deadline => panic!(
                    "{:?}: {name} not {state} within {timeout:?}; last: {}\n{}",
                    self.kind,
                    info.map_or_else(|e| e.to_string(), |v| v.to_string()),
                    self.daemon_output()
                ),
                _ => thread::sleep(POLL),
            }
        }
    }

    /// Polls `method` (`tailProcessStdoutLog`/`tailProcessStderrLog`) on `name` until it shows
    /// `text`.
    #[track_caller]
    pub fn wait_for_log_text(&self, method: &str, name: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let params = [Value::Str(name.into()), Value::Int(0), Value::Int(1600)];
        loop {
            let log = self.rpc(method, &params);
            if let Ok(Value::Array(parts)) = &log {
                if parts.first().is_some_and(|v| v.str().contains(text)) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{name} never printed {text:?}; last {log:?}"
            );
            thread::sleep(POLL);
        }
    }

    /// Polls until the main log contains `needle`.
    #[track_caller]
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.main_log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{:?}: {needle:?} not logged within {timeout:?}\n{}",
                self.kind,
                self.daemon_output()
            );
            thread::sleep(POLL);
        }
    }

    /// Waits for the daemon to exit by itself (after `shutdown`).
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        wait_child(&mut self.child, timeout)
            .unwrap_or_else(|| panic!("{:?} daemon still running after {timeout:?}", self.kind))
    }

    /// Sends `sig` to the daemon process.
    pub fn signal(&self, sig: Signal) {
        kill(pid(self.child.id()), sig).expect("signal daemon");
    }

    /// Makes `text` comparable across daemons and runs: this daemon's temp dir and port, then
    /// pids, uptimes, dates, log timestamps and AUTO log suffixes.
    pub fn normalise(&self, text: &str) -> String {
        normalise(
            &text
                .replace(&self.dir().display().to_string(), "<tmp>")
                .replace(&format!(":{}", self.port), ":<port>"),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let daemon = pid(self.child.id());
        let ours = getpgrp();
        // Freeze the daemon so it spawns nothing new, then kill every descendant's process group
        // (children run in their own groups) and the daemon's.
        let alive = self.child.try_wait().ok().flatten().is_none();
        let mut victims = Vec::new();
        if alive {
            let _ = kill(daemon, Signal::SIGSTOP);
            victims = descendants(self.child.id());
            for &p in &victims {
                if let Some(g) = pgid(p).filter(|&g| g != ours.as_raw() as u32 && g > 1) {
                    let _ = kill(Pid::from_raw(-(g as i32)), Signal::SIGKILL);
                }
                let _ = kill(pid(p), Signal::SIGKILL);
            }
            let _ = kill(Pid::from_raw(-daemon.as_raw()), Signal::SIGKILL);
            let _ = kill(daemon, Signal::SIGKILL);
        }
        let _ = self.child.wait();
        // Our daemon's process trees (src/cgroup.rs): killed with it, so the cgroups it made go
        // too instead of piling up on the machine.
        if self.kind == Impl::Ours {
            let pidfile = self.dir().join("supervisord.pid");
            let key = supervisor::cgroup::Tree::key_for(&pidfile);
            if let Some(tree) = supervisor::cgroup::Tree::open(&key) {
                tree.kill_all();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left: Vec<u32> = victims;
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|&p| is_live(p));
            thread::sleep(Duration::from_millis(10));
        }
        if !thread::panicking() {
            assert!(left.is_empty(), "processes left behind: {left:?}");
        }
    }
}

/// Two daemons, Python's and ours, on the same config, compared step by step.
pub struct Pair {
    pub python: Daemon,
    pub ours: Daemon,
}

impl Pair {
    #[track_caller]
    pub fn start(body: &str) -> Pair {
        thread::scope(|s| {
            let python = s.spawn(|| Daemon::start(Impl::Python, body));
            let ours = Daemon::start(Impl::Ours, body);
            let python = python
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            Pair { python, ours }
        })
    }

    /// Runs `f` on both daemons at once; returns (python's, ours).
    pub fn both<T: Send>(&self, f: impl Fn(&Daemon) -> T + Sync) -> (T, T) {
        thread::scope(|s| {
            let py = s.spawn(|| f(&self.python));
            let ours = f(&self.ours);
            (
                py.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                ours,
            )
        })
    }

    /// Runs the same `supervisorctl` step against both, asserts the normalised outputs and exit
    /// codes are identical, and returns the (normalised) result.
    #[track_caller]
    pub fn ctl(&self, args: &[&str]) -> Output {
        let (py, ours) = self.both(|d| {
            let out = d.ctl(args);
            Output {
                stdout: d.normalise(&out.stdout),
                stderr: d.normalise(&out.stderr),
                code: out.code,
            }
        });
        assert_same(
            &format!("supervisorctl {}", args.join(" ")),
            &py.render(),
            &ours.render(),
        );
        py
    }

    /// Like [`Pair::ctl`] for commands acting on several processes at once (`stop all`,
    /// `start g:*`, `restart all`): Python prints each result when that process settles, so the
    /// order within a run of lines with the same outcome is arbitrary and gets sorted.
    #[track_caller]
    pub fn ctl_unordered(&self, args: &[&str]) -> Output {
        let (py, ours) = self.both(|d| {
            let out = d.ctl(args);
            Output {
                stdout: sort_runs(&d.normalise(&out.stdout)),
                stderr: d.normalise(&out.stderr),
                code: out.code,
            }
        });
        assert_same(
            &format!("supervisorctl {}", args.join(" ")),
            &py.render(),
            &ours.render(),
        );
        py
    }

    #[track_caller]
    pub fn wait_for_state(&self, name: &str, state: &str) {
        self.both(|d| d.wait_for_state(name, state, Duration::from_secs(20)));
    }
}

/// Asserts `python == ours`, printing a line diff (`-` python only, `+` ours only).
#[track_caller]
pub fn assert_same(what: &str, python: &str, ours: &str) {
    if let Some(diff) = differs(what, "python", python, "ours", ours) {
        panic!("{diff}");
    }
}

/// `None` when `a == b`, else a report naming both sides with a line diff (`-` a, `+` b).
pub fn differs(what: &str, a_name: &str, a: &str, b_name: &str, b: &str) -> Option<String> {
    (a != b).then(|| {
        format!(
            "{what}: output differs (- {a_name}, + {b_name})\n{}",
            line_diff(a, b)
        )
    })
}

/// Sorts each run of consecutive `<name>: <outcome>` lines that share the outcome.
pub fn sort_runs(text: &str) -> String {
    let outcome = |l: &str| l.split_once(": ").map(|(_, o)| o.to_owned());
    let mut lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    while start < lines.len() {
        let key = outcome(lines[start]);
        let len = lines[start..]
            .iter()
            .take_while(|l| outcome(l) == key)
            .count();
        lines[start..start + len].sort_unstable();
        start += len;
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn line_diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // Longest common subsequence table, filled from the end.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        } else {
            out += &format!("- {}\n", a[i]);
            i += 1;
        }
    }
    out
}

/// The generic part of [`Daemon::normalise`].
pub fn normalise(text: &str) -> String {
    static RULES: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            // 2026-11-24 19:03:59,686 (main log timestamps)
            (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", "<ts>"),
            // status descriptions: "pid 4321, uptime 0:00:07" / "1 day, 0:00:05"
            (r"uptime (\d+ days?, )?\d+:\d\d:\d\d", "uptime <uptime>"),
            (r"\bpid \d+", "pid <pid>"),
            // killing 'x' (4321) with SIGKILL
            (r"' \(\d+\) with", "' (<pid>) with"),
            // `pid` command output: a line that is only a non-zero pid
            (r"(?m)^[1-9]\d*$", "<pid>"),
            // stop times in status: Nov 24 07:04 PM
            (r"[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M", "<date>"),
            // AUTO child logs: name-stdout---supervisor-k2j3h4g5.log
            (r"---(\w+)-[a-z0-9_]{8}\.log", "---$1-<rand>.log"),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).expect("regex"), to))
        .collect()
    });
    RULES.iter().fold(text.to_owned(), |t, (re, to)| {
        re.replace_all(&t, *to).into_owned()
    })
}

fn config(body: &str, port: u16) -> String {
    format!("{}{}", header(), body.replace("{port}", &port.to_string()))
}

/// `ctl` with no arguments yet, run in `dir` with stdin on /dev/null.
fn ctl_command(ctl: Ctl, dir: &Path) -> Command {
    let mut cmd = Command::new(ctl.binary());
    cmd.current_dir(dir)
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null());
    cmd
}

/// Runs `ctl args...` once in `dir` (stdin on /dev/null) and waits for it (bounded).
#[track_caller]
pub fn run_ctl(ctl: Ctl, dir: &Path, args: &[&str]) -> Output {
    if ctl.runs_python() {
        if let Some(server) = &*PY_CTL {
            return server.run(dir, args);
        }
    }
    run_ctl_spawned(ctl, dir, args)
}

/// [`run_ctl`] as a process of its own, never through the fork server.
#[track_caller]
pub fn run_ctl_spawned(ctl: Ctl, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = ctl_command(ctl, dir);
    cmd.args(args);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    let stdout = reader(child.stdout.take().expect("stdout"));
    let stderr = reader(child.stderr.take().expect("stderr"));
    let status = wait_child(&mut child, CTL_DEADLINE).unwrap_or_else(|| {
        panic!(
            "{:?} {args:?} still running after {CTL_DEADLINE:?}",
            cmd.get_program()
        )
    });
    Output {
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        code: status.code().unwrap_or(-1),
    }
}

/// Python's `supervisorctl` spends ~150 ms of CPU importing itself on every run, which on two
/// cores is most of the differential suites' time. This server imports it once and forks a fresh
/// child per run, which does what the installed `bin/supervisorctl` script does (`sys.argv` and
/// `sys.path[0]` as the script sets them, the working directory, stdin on /dev/null, stdout and
/// stderr captured, `sys.exit` status, non-daemon threads and atexit handlers at exit).
/// `SUPERVISOR_RS_PY_CTL_FORK=0` runs the script itself instead, to check the two agree. The
/// server is `tests/py/ctl_fork_server.py`.
const PY_CTL_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ctl_fork_server.py");

/// The fork server's process; it exits when the test binary does (its stdin closes).
struct PyCtlServer {
    /// The server's abstract unix socket name.
    name: String,
    _child: Child,
}

static PY_CTL: LazyLock<Option<PyCtlServer>> = LazyLock::new(|| {
    if std::env::var("SUPERVISOR_RS_PY_CTL_FORK").is_ok_and(|v| v == "0") {
        return None;
    }
    Some(PyCtlServer::start())
});

impl PyCtlServer {
    fn start() -> PyCtlServer {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("supervisor-rs-pyctl-{}-{nanos}", std::process::id());
        let mut child = Command::new(pyref().join("bin/python"))
            .arg(PY_CTL_SERVER)
            .arg(pyref().join("bin/supervisorctl"))
            .arg(&name)
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the supervisorctl fork server");
        let ready = reader(child.stdout.take().expect("stdout"));
        let deadline = Instant::now() + START_DEADLINE;
        while !ready.is_finished() {
            assert!(
                Instant::now() < deadline,
                "supervisorctl fork server not ready within {START_DEADLINE:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
        // The server closes its stdout once it listens.
        let said = ready.join().expect("ready reader");
        assert_eq!(said, "ready\n", "supervisorctl fork server failed");
        PyCtlServer {
            name,
            _child: child,
        }
    }

    #[track_caller]
    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        use std::io::{BufRead, BufReader, Write};
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixStream};

        let addr = SocketAddr::from_abstract_name(self.name.as_bytes()).expect("socket name");
        let mut conn = UnixStream::connect_addr(&addr).expect("connect to the fork server");
        let request = serde_json::json!({ "cwd": dir, "args": args });
        writeln!(conn, "{request}").expect("send request");
        let deadline = Instant::now() + CTL_DEADLINE;
        let mut r = BufReader::new(&conn);
        let mut pid: Option<u32> = None;
        let line = |r: &mut BufReader<&UnixStream>, pid: Option<u32>| -> Vec<u8> {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = r
                .get_ref()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            let mut buf = Vec::new();
            match r.read_until(b'\n', &mut buf) {
                Ok(n) if n > 0 && buf.ends_with(b"\n") => {
                    buf.pop();
                    buf
                }
                res => {
                    if let Some(p) = pid {
                        let _ = kill(self::pid(p), Signal::SIGKILL);
                    }
                    panic!("supervisorctl {args:?} (forked, pid {pid:?}): no answer within {CTL_DEADLINE:?}: {res:?}")
                }
            }
        };
        let field = |buf: Vec<u8>, key: &str| -> i64 {
            let text = String::from_utf8(buf).expect("utf-8 header");
            text.strip_prefix(key)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("fork server said {text:?}, expected {key}"))
        };
        pid = Some(field(line(&mut r, pid), "pid ") as u32);
        let code = field(line(&mut r, pid), "code ");
        let blob = |r: &mut BufReader<&UnixStream>| -> String {
            let len = field(line(r, pid), "") as usize;
            let mut data = vec![0; len];
            std::io::Read::read_exact(r, &mut data).expect("output");
            String::from_utf8_lossy(&data).into_owned()
        };
        let stdout = blob(&mut r);
        let stderr = blob(&mut r);
        Output {
            stdout,
            stderr,
            code: if code < 0 { -1 } else { code as i32 },
        }
    }
}

/// Runs a streaming `supervisorctl` until its stdout contains `until`, then kills it and
/// returns what it printed so far.
#[track_caller]
fn run_ctl_until(mut cmd: Command, args: &[&str], until: &str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let pump = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + CTL_DEADLINE;
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(until) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = pump.join();
    let seen = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        seen.contains(until),
        "{:?} {args:?} did not print {until:?} in time; printed {seen:?}",
        cmd.get_program()
    );
    seen
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn reader(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` up to `timeout`; kills it (and returns `None`) if it is still running.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn pid(p: u32) -> Pid {
    Pid::from_raw(p as i32)
}

/// Fields of `/proc/<pid>/stat` after the command name: state, ppid, pgrp, ...
fn stat_fields(p: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    Some(after.split(' ').map(str::to_owned).collect())
}

fn pgid(p: u32) -> Option<u32> {
    stat_fields(p)?.get(2)?.parse().ok()
}

/// Alive and not a zombie.
pub fn is_live(p: u32) -> bool {
    stat_fields(p).is_some_and(|f| f[0] != "Z")
}

/// Every process descending from `root` (not `root` itself), from `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, stat_fields(p)?.get(1)?.parse().ok()?)))
        .collect();
    let mut found: HashSet<u32> = HashSet::from([root]);
    let mut out = Vec::new();
    loop {
        let new: Vec<u32> = parents
            .iter()
            .filter(|(p, pp)| found.contains(pp) && !found.contains(p))
            .map(|&(p, _)| p)
            .collect();
        if new.is_empty() {
            return out;
        }
        found.extend(&new);
        out.extend(new);
    }
}
