//! The differential harness: a daemon (Python's supervisord 4.3.0 or ours) in its own temp dir,
//! driven by Python's `supervisorctl`, with output normalised so both daemons can be compared.
//!
//! Every wait polls toward a deadline; every daemon and all its children die when it is dropped.

pub mod program;
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
    fn render(&self) -> String {
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

impl Daemon {
    /// Writes the standard header plus `body` (`%(here)s` is the temp dir, `{port}` a free port)
    /// and launches the daemon in the foreground; returns once it answers on its socket.
    #[track_caller]
    pub fn start(kind: Impl, body: &str) -> Daemon {
        let d = Daemon::launch(kind, body);
        d.wait_ready();
        d
    }

    fn launch(kind: Impl, body: &str) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("sv")
            .tempdir()
            .expect("tempdir");
        fs::create_dir(dir.path().join("log")).expect("childlogdir");
        let port = free_port();
        fs::write(dir.path().join("supervisord.conf"), config(body, port)).expect("write config");
        let out = fs::File::create(dir.path().join("daemon.out")).expect("daemon.out");
        let child = Command::new(kind.binary())
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
        let mut child = self
            .ctl_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisorctl");
        let stdout = reader(child.stdout.take().expect("stdout"));
        let stderr = reader(child.stderr.take().expect("stderr"));
        let status = wait_child(&mut child, CTL_DEADLINE).unwrap_or_else(|| {
            panic!("supervisorctl {args:?} still running after {CTL_DEADLINE:?}")
        });
        Output {
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
            code: status.code().unwrap_or(-1),
        }
    }

    /// Runs a streaming `supervisorctl` (e.g. `tail -f`) until its stdout contains `until`, then
    /// kills it and returns what it printed so far.
    #[track_caller]
    pub fn ctl_until(&self, args: &[&str], until: &str) -> String {
        let mut child = self
            .ctl_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn supervisorctl");
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
            "supervisorctl {args:?} did not print {until:?} in time; printed {seen:?}"
        );
        seen
    }

    fn ctl_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(pyref().join("bin/supervisorctl"));
        cmd.arg("-c")
            .arg(self.conf())
            .args(args)
            .current_dir(self.dir())
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::null());
        cmd
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
    if python != ours {
        panic!(
            "{what}: output differs (- python, + ours)\n{}",
            line_diff(python, ours)
        );
    }
}

/// Sorts each run of consecutive `<name>: <outcome>` lines that share the outcome.
fn sort_runs(text: &str) -> String {
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
