//! The daemon's lifecycle through the real binary: daemonizing, SIGHUP, SIGUSR2, rotation,
//! process groups at stop, a 1 GB flood, rlimits, `user=`, startup order, and children dying
//! with a killed daemon. Where Python's daemon can run the same scenario it does, and the
//! observable facts are compared. Every wait polls to a deadline; every test ends by checking
//! that the daemon left no zombie child.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::support::{self, assert_same, is_live, pyref, xmlrpc, Impl, Pair, Value};

const POLL: Duration = Duration::from_millis(20);

fn binary(kind: Impl) -> PathBuf {
    match kind {
        Impl::Ours => PathBuf::from(env!("CARGO_BIN_EXE_supervisord")),
        Impl::Python => pyref().join("bin/supervisord"),
    }
}

/// Polls `cond` until it holds, panicking with `what` after `timeout`.
#[track_caller]
fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        thread::sleep(POLL);
    }
}

/// `/proc/<pid>/stat` fields after the command name: state, ppid, pgrp, session, ...
fn stat(pid: u32) -> Option<Vec<String>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        s[s.rfind(')')? + 2..]
            .split(' ')
            .map(str::to_owned)
            .collect(),
    )
}

/// A line of `/proc/<pid>/status` (`Uid`, `Groups`, `Umask`, ...), without its label.
fn status_line(pid: u32, key: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Children of `parent` in state Z.
fn zombies_of(parent: u32) -> Vec<u32> {
    let parent = parent.to_string();
    all_pids()
        .into_iter()
        .filter(|&p| stat(p).is_some_and(|f| f[0] == "Z" && f[1] == parent))
        .collect()
}

/// Every live process descending from `root`.
fn descendants(root: u32) -> Vec<u32> {
    let table: Vec<(u32, u32)> = all_pids()
        .into_iter()
        .filter_map(|p| Some((p, stat(p)?[1].parse().ok()?)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            table
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A zombie may exist for the instant between a child's exit and the daemon's reaping; one that
/// stays is a bug.
#[track_caller]
fn assert_no_zombies(daemon: u32) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let z = zombies_of(daemon);
        if z.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "zombie children of {daemon}: {z:?}"
        );
        thread::sleep(POLL);
    }
}

/// One daemon with a config of our own (the `[supervisord]` section included), in a temp dir.
/// Killed with every descendant on drop.
struct Sup {
    kind: Impl,
    dir: TempDir,
    launcher: Option<Child>,
    pid: u32,
}

impl Sup {
    /// Writes the config: `supervisord` lines go into `[supervisord]`, `body` after the rest.
    fn new(kind: Impl, supervisord: &str, body: &str) -> Sup {
        let dir = tempfile::Builder::new().prefix("svl").tempdir().unwrap();
        fs::create_dir(dir.path().join("log")).unwrap();
        let conf = format!(
            "[supervisord]\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n\
             childlogdir=%(here)s/log\nloglevel=info\n{supervisord}\n\n\
             [unix_http_server]\nfile=%(here)s/s.sock\n\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             [supervisorctl]\nserverurl=unix://%(here)s/s.sock\n\n{body}"
        );
        fs::write(dir.path().join("supervisord.conf"), conf).unwrap();
        Sup {
            kind,
            dir,
            launcher: None,
            pid: 0,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, foreground: bool) -> Command {
        let mut cmd = Command::new(binary(self.kind));
        if foreground {
            cmd.arg("-n");
        }
        cmd.arg("-c")
            .arg(self.path("supervisord.conf"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Launches `cmd` in the foreground (`-n` already in it) and waits until it answers.
    #[track_caller]
    fn run_foreground(mut self, mut cmd: Command) -> Sup {
        let out = fs::File::create(self.path("daemon.out")).unwrap();
        let child = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.pid = child.id();
        self.launcher = Some(child);
        self.wait_ready();
        self
    }

    #[track_caller]
    fn foreground(self) -> Sup {
        let cmd = self.command(true);
        self.run_foreground(cmd)
    }

    #[track_caller]
    fn wait_ready(&self) {
        wait_until(
            &format!("{:?} daemon answers\n{}", self.kind, self.output()),
            Duration::from_secs(20),
            || self.rpc("supervisor.getState", &[]).is_ok(),
        );
    }

    fn output(&self) -> String {
        format!(
            "--- out ---\n{}--- main log ---\n{}",
            fs::read_to_string(self.path("daemon.out")).unwrap_or_default(),
            self.main_log()
        )
    }

    fn main_log(&self) -> String {
        fs::read_to_string(self.path("supervisord.log")).unwrap_or_default()
    }

    fn rpc(&self, method: &str, params: &[Value]) -> Result<Value, support::RpcError> {
        xmlrpc::call(&self.path("s.sock"), method, params)
    }

    fn info(&self, name: &str) -> Value {
        self.rpc("supervisor.getProcessInfo", &[Value::Str(name.into())])
            .unwrap_or_else(|e| panic!("getProcessInfo({name}): {e}\n{}", self.output()))
    }

    #[track_caller]
    fn wait_state(&self, name: &str, state: &str) -> Value {
        let mut last = None;
        wait_until(
            &format!("{name} {state} on {:?}: {last:?}", self.kind),
            Duration::from_secs(20),
            || {
                let info = self.info(name);
                let ok = info.field("statename").str() == state;
                last = Some(info);
                ok
            },
        );
        self.info(name)
    }

    fn child_pid(&self, name: &str) -> u32 {
        self.info(name).field("pid").int() as u32
    }

    /// Runs Python's `supervisorctl` against this daemon.
    fn ctl(&self, args: &[&str]) -> (String, i32) {
        let out = Command::new(pyref().join("bin/supervisorctl"))
            .arg("-c")
            .arg(self.path("supervisord.conf"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        if self.pid != 0 && is_live(self.pid) {
            let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGSTOP);
            for p in descendants(self.pid) {
                let _ = kill(Pid::from_raw(-(p as i32)), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
            }
            let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
        if let Some(mut child) = self.launcher.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `f` for Python's daemon and ours at once; returns (python's, ours).
fn both<T: Send>(f: impl Fn(Impl) -> T + Sync) -> (T, T) {
    thread::scope(|s| {
        let py = s.spawn(|| f(Impl::Python));
        let ours = f(Impl::Ours);
        (
            py.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            ours,
        )
    })
}

// ---- 1. daemonized mode ----------------------------------------------------------------------

/// What a daemonized run showed, for comparing Python's and ours.
#[derive(Debug, PartialEq)]
struct DaemonFacts {
    launcher_exit: i32,
    own_session: bool,
    stdio: Vec<String>,
    umask: String,
    cwd_is_directory: bool,
    child_file_mode: u32,
    reload_out: String,
    same_pid_after_reload: bool,
    child_restarted: bool,
    shutdown_out: String,
    pidfile_gone: bool,
    socket_gone: bool,
}

fn daemonized(kind: Impl) -> DaemonFacts {
    let mut sup = Sup::new(
        kind,
        "umask=027\ndirectory=%(here)s/wd",
        "[program:a]\ncommand=sh -c 'touch made-by-a; exec sleep 1000'\nstartsecs=0\n",
    );
    fs::create_dir(sup.path("wd")).unwrap();
    let mut launcher = sup
        .command(false)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The launcher's stdout reaches EOF only once the daemon let go of it too.
    let mut stdout = launcher.stdout.take().unwrap();
    let eof = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
    });
    let started = Instant::now();
    let mut code = None;
    wait_until("the launcher exits", Duration::from_secs(10), || {
        code = launcher.try_wait().unwrap().map(|s| s.code().unwrap_or(-1));
        code.is_some()
    });
    wait_until(
        "the daemon closes the terminal",
        Duration::from_secs(10),
        || eof.is_finished(),
    );
    eprintln!("{kind:?}: launcher exited in {:?}", started.elapsed());
    wait_until("pidfile", Duration::from_secs(10), || {
        fs::read_to_string(sup.path("supervisord.pid")).is_ok_and(|s| s.ends_with('\n'))
    });
    let pid: u32 = fs::read_to_string(sup.path("supervisord.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    sup.pid = pid;
    sup.wait_ready();
    let st = stat(pid).unwrap();
    let own_session = st[3] == pid.to_string() && st[1] != launcher.id().to_string();
    let stdio = (0..3)
        .map(|fd| {
            fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect();
    let umask = status_line(pid, "Umask");
    let cwd_is_directory = fs::read_link(format!("/proc/{pid}/cwd")).ok()
        == Some(sup.path("wd").canonicalize().unwrap());
    let first = sup.wait_state("a", "RUNNING").field("pid").int();
    wait_until("a's file", Duration::from_secs(5), || {
        sup.path("wd/made-by-a").exists()
    });
    let child_file_mode = fs::metadata(sup.path("wd/made-by-a"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;

    let (reload_out, _) = sup.ctl(&["reload"]);
    let mut second = first;
    wait_until(
        "a restarted after reload",
        Duration::from_secs(20),
        || match sup.rpc("supervisor.getProcessInfo", &[Value::Str("a".into())]) {
            Ok(info) if info.field("statename").str() == "RUNNING" => {
                second = info.field("pid").int();
                second != first
            }
            _ => false,
        },
    );
    let same_pid_after_reload = is_live(pid)
        && fs::read_to_string(sup.path("supervisord.pid"))
            .unwrap()
            .trim()
            == pid.to_string();
    assert_no_zombies(pid);

    let (shutdown_out, _) = sup.ctl(&["shutdown"]);
    wait_until(
        "daemon exits after shutdown",
        Duration::from_secs(20),
        || !is_live(pid),
    );
    wait_until("child gone", Duration::from_secs(5), || {
        !is_live(second as u32)
    });
    DaemonFacts {
        launcher_exit: code.unwrap(),
        own_session,
        stdio,
        umask,
        cwd_is_directory,
        child_file_mode,
        reload_out,
        same_pid_after_reload,
        child_restarted: second != first,
        shutdown_out,
        pidfile_gone: !sup.path("supervisord.pid").exists(),
        socket_gone: !sup.path("s.sock").exists(),
    }
}

#[test]
fn daemonized_detaches_reloads_and_shuts_down_like_python() {
    let (py, ours) = both(daemonized);
    assert_eq!(
        py,
        DaemonFacts {
            launcher_exit: 0,
            own_session: true,
            stdio: vec!["/dev/null".into(); 3],
            umask: "0027".into(),
            cwd_is_directory: true,
            child_file_mode: 0o640,
            reload_out: "Restarted supervisord\n".into(),
            same_pid_after_reload: true,
            child_restarted: true,
            shutdown_out: "Shut down\n".into(),
            pidfile_gone: true,
            socket_gone: true,
        },
        "Python's facts changed: the test's expectations are wrong"
    );
    assert_eq!(ours, py);
}

// ---- 2. SIGHUP with a changed config ---------------------------------------------------------

/// The main log from the last `received SIGHUP` line on, normalised, lines sorted (stops and
/// spawns of equal priority happen in hash order in Python).
fn after_sighup(d: &support::Daemon) -> Vec<String> {
    let log = d.main_log();
    let at = log.rfind("received SIGHUP").expect("SIGHUP logged");
    let tail = &log[log[..at].rfind('\n').map_or(0, |i| i + 1)..];
    let mut lines: Vec<String> = d.normalise(tail).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn sighup_restarts_with_the_new_config_like_python() {
    let prog = |name: &str, cmd: &str| format!("[program:{name}]\ncommand={cmd}\nstartsecs=0\n");
    let before = [
        prog("keep", "sleep 1000"),
        prog("gone", "sleep 1000"),
        prog("changed", "sleep 1000"),
    ]
    .concat();
    let after = [
        prog("keep", "sleep 1000"),
        prog("changed", "sleep 1001"),
        prog("added", "sleep 1000"),
    ]
    .concat();
    let pair = Pair::start(&before);
    for name in ["keep", "gone", "changed"] {
        pair.wait_for_state(name, "RUNNING");
    }
    let (py_keep, ours_keep) = pair.both(|d| d.info("keep").field("pid").int());
    pair.both(|d| d.rewrite_config(&after));
    pair.both(|d| d.signal(Signal::SIGHUP));
    for name in ["keep", "changed", "added"] {
        pair.wait_for_state(name, "RUNNING");
    }
    pair.both(|d| {
        d.wait_for_log("success: added", Duration::from_secs(10));
        d.wait_for_log("success: keep", Duration::from_secs(10));
        d.wait_for_log("success: changed", Duration::from_secs(10));
    });
    // Python's SIGHUP is a full restart: even the unchanged program got a new process.
    assert_ne!(pair.python.info("keep").field("pid").int(), py_keep);
    assert_ne!(pair.ours.info("keep").field("pid").int(), ours_keep);
    let pid = pair.ours.info("changed").field("pid").int();
    wait_until(
        "changed runs its new command",
        Duration::from_secs(10),
        || fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x001001\x00"),
    );
    assert!(is_live(pair.ours.pid()), "same daemon process");
    let (py, ours) = pair.both(after_sighup);
    assert_same("main log after SIGHUP", &py.join("\n"), &ours.join("\n"));
    let (py, ours) = pair.both(|d| d.ctl(&["status"]).stdout);
    assert_same(
        "status after SIGHUP",
        &support::normalise(&py),
        &support::normalise(&ours),
    );
    assert_no_zombies(pair.ours.pid());
}

/// SIGHUP into a config that no longer parses: Python stops every program and exits 2 with its
/// usage lines; ours keeps running with the config it has (docs/compatibility.md), logs why at
/// CRIT, and restarts once the file reads again.
#[test]
fn sighup_into_a_broken_config_keeps_everything_running() {
    let body = "[program:a]\ncommand=sleep 1000\nstartsecs=0\n";
    let mut pair = Pair::start(body);
    pair.wait_for_state("a", "RUNNING");
    let (py_child, child) = pair.both(|d| d.info("a").field("pid").int());
    pair.both(|d| d.rewrite_config(&format!("{body}startretries=abc\n")));
    pair.both(|d| d.signal(Signal::SIGHUP));

    // Python: exit 2, `Error: ...`, `For help, use ... -h`, and its child gone.
    assert_eq!(
        pair.python.wait_exit(Duration::from_secs(20)).code(),
        Some(2)
    );
    let out = fs::read_to_string(pair.python.dir().join("daemon.out")).unwrap();
    assert!(
        out.contains("Error: invalid literal for int() with base 10: 'abc' in section 'program:a'")
    );
    wait_until("Python's child is gone", Duration::from_secs(10), || {
        !is_live(py_child as u32)
    });

    // Ours: the CRIT line names the error; the same child runs on, the API answers.
    let d = &pair.ours;
    d.wait_for_log("CRIT restart refused", Duration::from_secs(10));
    let crit = d
        .main_log()
        .lines()
        .find(|l| l.contains("CRIT restart refused"))
        .unwrap()
        .to_string();
    assert!(
        crit.contains("invalid literal for int() with base 10: 'abc' in section 'program:a'"),
        "{crit}"
    );
    let place = format!("(file: '{}', line ", d.conf().display());
    assert!(crit.contains(&place), "file and line named: {crit}");
    assert_eq!(d.info("a").field("pid").int(), child);
    assert_eq!(d.info("a").field("statename").str(), "RUNNING");
    assert!(is_live(d.pid()));

    // Fixed, SIGHUP restarts as usual: a new child.
    d.rewrite_config(&format!("{body}startretries=5\n"));
    d.signal(Signal::SIGHUP);
    wait_until("a restarted", Duration::from_secs(20), || {
        d.rpc("supervisor.getProcessInfo", &[Value::Str("a".into())])
            .is_ok_and(|i| i.field("statename").str() == "RUNNING" && i.field("pid").int() != child)
    });
}

/// `supervisorctl reload` (`supervisor.restart`) into a broken config: the client is told
/// (fault CANT_REREAD; our ctl prints it) and nothing stops.
#[test]
fn reload_into_a_broken_config_tells_the_client() {
    let body = "[program:a]\ncommand=sleep 1000\nstartsecs=0\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("a", "RUNNING", Duration::from_secs(20));
    let child = d.info("a").field("pid").int();
    d.rewrite_config(&format!("{body}startretries=abc\n"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supervisorctl"))
        .arg("-c")
        .arg(d.conf())
        .arg("reload")
        .output()
        .expect("supervisorctl reload");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("ERROR: CANT_REREAD: invalid literal for int() with base 10: 'abc'"),
        "{stdout}"
    );
    assert_eq!(d.info("a").field("pid").int(), child);
    assert!(d.main_log().contains("CRIT restart refused"));
}

/// A program that exits at once with `startsecs=0` (so it never reaches BACKOFF) is restarted
/// at once after a crash, but never sooner than 100 ms after its previous spawn: no log flood.
#[test]
fn an_instant_crash_loop_is_paced_at_100_ms() {
    let d = support::Daemon::start(
        Impl::Ours,
        "[program:crash]\ncommand=false\nstartsecs=0\nautorestart=true\n",
    );
    let spawn_times = || -> Vec<chrono::NaiveDateTime> {
        d.main_log()
            .lines()
            .filter(|l| l.contains("spawned: 'crash'"))
            .map(|l| {
                chrono::NaiveDateTime::parse_from_str(&l[..23], "%Y-%m-%d %H:%M:%S,%3f").unwrap()
            })
            .collect()
    };
    wait_until("six spawns", Duration::from_secs(10), || {
        spawn_times().len() >= 6
    });
    // A restart is due 100 ms after the previous spawn began; the `spawned:` line is written
    // once the spawn is done, so single gaps jitter by the spawn's duration.
    let times = spawn_times();
    for pair in times.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!((50..1000).contains(&gap), "spawn gap {gap} ms: {times:?}");
    }
    let mean = (times[5] - times[0]).num_milliseconds() / 5;
    assert!(mean >= 95, "mean spawn gap {mean} ms: {times:?}");
}

/// A child starts with stdin, stdout and stderr only: an fd the daemon itself inherited
/// without CLOEXEC (fd 9 here) is closed in the child, as Python closes 3..minfds.
#[test]
fn children_inherit_no_other_fds_like_python() {
    let (py, ours) = both(|kind| {
        let sup = Sup::new(
            kind,
            "",
            "[program:fds]\ncommand=sh -c 'ls /proc/self/fd > %(here)s/fds.txt; exec sleep 1000'\n\
             startsecs=0\n",
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("exec 9</etc/hostname; exec \"$0\" \"$@\"")
            .arg(binary(kind))
            .args(["-n", "-c"])
            .arg(sup.path("supervisord.conf"))
            .current_dir(sup.dir.path())
            .stdin(Stdio::null());
        let sup = sup.run_foreground(cmd);
        let listed = || fs::read_to_string(sup.path("fds.txt")).unwrap_or_default();
        wait_until("fds.txt", Duration::from_secs(10), || {
            listed().ends_with('\n')
        });
        listed()
    });
    assert_eq!(py, "0\n1\n2\n3\n", "ls's own directory fd is 3");
    assert_eq!(ours, py);
}

/// A child's ignored and blocked signals are those of a child of Python's supervisord: SIGPIPE
/// and SIGXFSZ ignored (the interpreter ignores them and its children inherit it), none blocked.
#[test]
fn children_signal_dispositions_like_python() {
    let (py, ours) = both(|kind| {
        let sup = Sup::new(
            kind,
            "",
            "[program:sig]\ncommand=sh -c 'grep -E \"^Sig(Blk|Ign)\" /proc/self/status \
             > %(here)s/sig.txt; exec sleep 1000'\nstartsecs=0\n",
        )
        .foreground();
        let read = || fs::read_to_string(sup.path("sig.txt")).unwrap_or_default();
        wait_until("sig.txt", Duration::from_secs(10), || {
            read().lines().count() == 2
        });
        read()
    });
    // Bits 12 and 24: SIGPIPE and SIGXFSZ (the rest is whatever the test runner ignores).
    let ignored = u64::from_str_radix(py.lines().nth(1).unwrap().split('\t').nth(1).unwrap(), 16);
    assert_eq!(ignored.unwrap() & 0x1001000, 0x1001000, "{py}");
    assert_eq!(ours, py);
}

// ---- 3. SIGUSR2 with moved logs --------------------------------------------------------------

#[test]
fn sigusr2_reopens_moved_logs_like_python() {
    let pair = Pair::start(
        "[program:chatty]\n\
         command=sh -c 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done'\n\
         stdout_logfile=%(here)s/chatty.log\nstartsecs=0\n",
    );
    pair.wait_for_state("chatty", "RUNNING");
    let (py, ours) = pair.both(|d| {
        let p = |n: &str| d.dir().join(n);
        wait_until("chatty writes", Duration::from_secs(10), || {
            fs::read_to_string(p("chatty.log")).is_ok_and(|s| s.contains("line"))
        });
        fs::rename(p("supervisord.log"), p("supervisord.log.old")).unwrap();
        fs::rename(p("chatty.log"), p("chatty.log.old")).unwrap();
        d.signal(Signal::SIGUSR2);
        wait_until(
            "a new chatty.log with new lines",
            Duration::from_secs(10),
            || fs::read_to_string(p("chatty.log")).is_ok_and(|s| s.contains("line")),
        );
        let old = || fs::read_to_string(p("supervisord.log.old")).unwrap();
        wait_until(
            "the reopen request in the old log",
            Duration::from_secs(10),
            || old().contains("received SIGUSR2 indicating log reopen request"),
        );
        // New main-log lines go to the new file.
        d.ctl(&["stop", "chatty"]);
        d.wait_for_log("stopped: chatty", Duration::from_secs(10));
        let new = d.main_log();
        let old = old();
        // Lines written to the old chatty log stay there, the new one starts after them.
        let last_old = fs::read_to_string(p("chatty.log.old")).unwrap();
        let first_new = fs::read_to_string(p("chatty.log")).unwrap();
        let n = |s: &str| -> u64 { s.trim_start_matches("line").parse().unwrap() };
        let old_last = last_old.lines().last().map(n).unwrap();
        let new_first = first_new.lines().next().map(n).unwrap();
        assert!(new_first > old_last, "{old_last} then {new_first}");
        (
            old.contains("received SIGUSR2 indicating log reopen request"),
            old.contains("supervisord logreopen"),
            new.contains("supervisord logreopen"),
            old.contains("stopped: chatty"),
            new.contains("stopped: chatty"),
        )
    });
    assert_eq!(ours, py);
    assert_eq!(py, (true, true, false, false, true));
    assert_no_zombies(pair.ours.pid());
}

// ---- 4. rotation -----------------------------------------------------------------------------

/// Names in `dir` starting with `prefix`, sorted.
fn files_like(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[test]
fn child_log_rotation_keeps_two_backups_like_python() {
    let pair = Pair::start(
        "[program:w]\n\
         command=python3 -u -c \"[(print('%%04d' %% i + 'x' * 95), __import__('time').sleep(0.004)) for i in range(150)]\"\n\
         stdout_logfile=%(here)s/w.log\nstdout_logfile_maxbytes=1KB\nstdout_logfile_backups=2\n\
         startsecs=0\nautorestart=false\n",
    );
    let expected: String = (0..150)
        .map(|i| format!("{i:04}{}\n", "x".repeat(95)))
        .collect();
    let (py, ours) = pair.both(|d| {
        d.wait_for_state("w", "EXITED", Duration::from_secs(20));
        let files = files_like(d.dir(), "w.log");
        let read = |n: &str| fs::read_to_string(d.dir().join(n)).unwrap();
        let kept = format!("{}{}{}", read("w.log.2"), read("w.log.1"), read("w.log"));
        assert!(
            expected.ends_with(&kept) && kept.ends_with(&expected[expected.len() - 100..]),
            "{:?}: the kept files are not the output's tail, in order",
            d.dir()
        );
        files
    });
    assert_eq!(ours, py);
    assert_eq!(py, ["w.log", "w.log.1", "w.log.2"]);
    assert_no_zombies(pair.ours.pid());
}

#[test]
fn main_log_rotation_keeps_two_backups_like_python() {
    let (py, ours) = both(|kind| {
        let sup = Sup::new(
            kind,
            "logfile_maxbytes=2KB\nlogfile_backups=2",
            "[program:flap]\ncommand=sleep 0.05\nstartsecs=0\nautorestart=true\n",
        )
        .foreground();
        let ino = |n: &str| {
            fs::metadata(sup.path(n)).map_or(0, |m| std::os::unix::fs::MetadataExt::ino(&m))
        };
        // Python restarts `flap` once a second: ~8 s of log lines per rotation.
        wait_until("supervisord.log.2", Duration::from_secs(60), || {
            ino("supervisord.log.2") != 0
        });
        let first = ino("supervisord.log.2");
        wait_until("another rotation", Duration::from_secs(60), || {
            ino("supervisord.log.2") != first
        });
        assert!(fs::metadata(sup.path("supervisord.log")).unwrap().len() < 4096);
        assert_no_zombies(sup.pid);
        files_like(sup.dir.path(), "supervisord.log")
    });
    assert_eq!(ours, py);
    assert_eq!(
        py,
        ["supervisord.log", "supervisord.log.1", "supervisord.log.2"]
    );
}

// ---- 5. no zombies ---------------------------------------------------------------------------

#[test]
fn children_that_fork_and_exit_leave_no_zombie() {
    let sup = Sup::new(
        Impl::Ours,
        "",
        "[program:orphaner]\ncommand=sh -c '(sleep 0.3) & (sleep 0.1) & sleep 0.2; exit 0'\n\
         startsecs=0\nautorestart=true\n",
    )
    .foreground();
    wait_until("a few respawns", Duration::from_secs(20), || {
        sup.main_log().matches("spawned: 'orphaner'").count() >= 6
    });
    assert_no_zombies(sup.pid);
    let (out, code) = sup.ctl(&["stop", "orphaner"]);
    assert_eq!((out.as_str(), code), ("orphaner: stopped\n", 0));
    assert_no_zombies(sup.pid);
}

// ---- 6. stopasgroup / killasgroup ------------------------------------------------------------

#[test]
fn stopasgroup_and_killasgroup_take_the_grandchildren() {
    let sup = Sup::new(
        Impl::Ours,
        "",
        "[program:sg]\ncommand=sh -c 'sleep 1000 & echo $! > sg.gc; wait'\n\
         directory=%(here)s\nstartsecs=0\nstopasgroup=true\n\n\
         [program:kg]\ncommand=sh -c 'trap \"\" TERM; sleep 1000 & echo $! > kg.gc; wait'\n\
         directory=%(here)s\nstartsecs=0\nkillasgroup=true\nstopwaitsecs=1\n",
    )
    .foreground();
    let grandchild = |name: &str| -> u32 {
        let path = sup.path(&format!("{name}.gc"));
        wait_until("grandchild pid", Duration::from_secs(10), || {
            fs::read_to_string(&path).is_ok_and(|s| s.ends_with('\n'))
        });
        fs::read_to_string(&path).unwrap().trim().parse().unwrap()
    };
    let (sg, kg) = (grandchild("sg"), grandchild("kg"));
    assert!(is_live(sg) && is_live(kg));
    let (out, _) = sup.ctl(&["stop", "sg"]);
    assert_eq!(out, "sg: stopped\n");
    wait_until("sg's grandchild gone", Duration::from_secs(5), || {
        !is_live(sg)
    });
    let started = Instant::now();
    let (out, _) = sup.ctl(&["stop", "kg"]);
    assert_eq!(out, "kg: stopped\n");
    assert!(started.elapsed() >= Duration::from_millis(900));
    wait_until("kg's grandchild gone", Duration::from_secs(5), || {
        !is_live(kg)
    });
    assert!(sup.main_log().contains("with SIGKILL"), "{}", sup.output());
    assert_no_zombies(sup.pid);
}

// ---- 7. a 1 GB flood -------------------------------------------------------------------------

/// The flood generator: `units` 4 KiB units, each its index (u64 LE) then a fixed pattern, so
/// any loss, duplication or reordering shows.
const GENERATOR: &str = r#"import struct, sys
n = int(sys.argv[1])
pattern = bytes((i * 7 + 3) % 251 for i in range(4096))
block = bytearray(pattern * 256)
out = sys.stdout.buffer
for b in range(n // 256):
    for u in range(256):
        struct.pack_into("<Q", block, u * 4096, b * 256 + u)
    out.write(block)
out.flush()
"#;

#[test]
fn a_flood_lands_whole_and_in_order_while_rpc_stays_responsive() {
    let mib: u64 = std::env::var("SUPERVISOR_FLOOD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let units = mib * 256;
    let sup = Sup::new(
        Impl::Ours,
        "",
        &format!(
            "[program:flood]\ncommand=python3 %(here)s/gen.py {units}\n\
             stdout_logfile=%(here)s/flood.log\nstdout_logfile_maxbytes=0\n\
             startsecs=0\nautorestart=false\nautostart=false\n"
        ),
    );
    fs::write(sup.path("gen.py"), GENERATOR).unwrap();
    let sup = sup.foreground();
    let started = Instant::now();
    sup.rpc(
        "supervisor.startProcess",
        &[Value::Str("flood".into()), Value::Bool(false)],
    )
    .unwrap();
    let (mut worst_state, mut worst_info, mut calls) = (Duration::ZERO, Duration::ZERO, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = Instant::now();
        sup.rpc("supervisor.getState", &[]).unwrap();
        worst_state = worst_state.max(t.elapsed());
        let t = Instant::now();
        let info = sup.info("flood");
        worst_info = worst_info.max(t.elapsed());
        calls += 1;
        if info.field("statename").str() == "EXITED" {
            assert_eq!(info.field("exitstatus").int(), 0, "{}", sup.output());
            break;
        }
        assert!(Instant::now() < deadline, "flood still running");
        thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let path = sup.path("flood.log");
    let bytes = units * 4096;
    // The child has exited; its last bytes may still be on their way to the file.
    wait_until(
        "the whole flood in the log",
        Duration::from_secs(10),
        || fs::metadata(&path).unwrap().len() >= bytes,
    );
    assert_eq!(fs::metadata(&path).unwrap().len(), bytes);
    let pattern: Vec<u8> = (0..4096u32).map(|i| ((i * 7 + 3) % 251) as u8).collect();
    let mut file = fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; 4096 * 256];
    for b in 0..units / 256 {
        file.read_exact(&mut buf).unwrap();
        for (u, unit) in buf.chunks(4096).enumerate() {
            let index = u64::from_le_bytes(unit[..8].try_into().unwrap());
            assert_eq!(index, b * 256 + u as u64, "unit out of order");
            assert!(unit[8..] == pattern[8..], "unit {index} corrupted");
        }
    }
    eprintln!(
        "flood: {mib} MiB in {elapsed:?} ({:.0} MiB/s); {calls} polls, worst getState {worst_state:?}, \
         worst getProcessInfo {worst_info:?}",
        mib as f64 / elapsed.as_secs_f64()
    );
    assert!(
        worst_state < Duration::from_millis(500) && worst_info < Duration::from_millis(500),
        "RPC stalled during the flood: {worst_state:?} / {worst_info:?}"
    );
    assert_no_zombies(sup.pid);
}

// ---- 8. minfds, user= ------------------------------------------------------------------------

#[test]
fn minfds_above_what_root_may_set_fails_like_python() {
    let (py, ours) = both(|kind| {
        let sup = Sup::new(kind, "minfds=2000000", "");
        let out = sup.command(true).output().unwrap();
        let argv0 = binary(kind).display().to_string();
        (
            String::from_utf8_lossy(&out.stderr).replace(&argv0, "supervisord"),
            out.status.code(),
        )
    });
    assert_eq!(ours, py);
    assert_eq!(py.1, Some(2));
    assert!(py.0.contains("minfds"), "{}", py.0);
}

#[test]
fn minfds_raises_the_limits_like_python() {
    let (py, ours) = both(|kind| {
        let sup = Sup::new(kind, "minfds=5000", "");
        // The soft limit below minfds, the hard one above it (raising a hard limit needs
        // CAP_SYS_RESOURCE, which containers often lack).
        let mut cmd = Command::new("prlimit");
        cmd.arg("--nofile=1024:8192")
            .arg(binary(kind))
            .arg("-n")
            .arg("-c")
            .arg(sup.path("supervisord.conf"))
            .stdin(Stdio::null());
        let sup = sup.run_foreground(cmd);
        let limits = fs::read_to_string(format!("/proc/{}/limits", sup.pid)).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let logged = sup
            .main_log()
            .contains("Increased RLIMIT_NOFILE limit to 5000");
        (line, logged)
    });
    assert_eq!(ours, py);
    assert_eq!(py, ("Max open files 5000 8192 files".into(), true));
}

/// The credentials and identity variables of a process, from `/proc`.
fn identity(pid: u32) -> Vec<String> {
    let mut out: Vec<String> = ["Uid", "Gid", "Groups"]
        .iter()
        .map(|k| format!("{k}: {}", status_line(pid, k)))
        .collect();
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let mut vars: Vec<String> = environ
        .split(|&b| b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .filter(|v| {
            ["HOME=", "USER=", "LOGNAME=", "SUPERVISOR_"]
                .iter()
                .any(|p| v.starts_with(p))
        })
        .collect();
    vars.sort();
    out.extend(vars);
    out
}

#[test]
fn program_user_switches_uid_and_groups_like_python() {
    let pair = Pair::start("[program:nob]\ncommand=sleep 1000\nuser=nobody\nstartsecs=0\n");
    pair.wait_for_state("nob", "RUNNING");
    let (py, ours) = pair.both(|d| {
        let pid = d.info("nob").field("pid").int() as u32;
        // RUNNING at once (startsecs=0) may still be before the exec, and the switch of user.
        wait_until("nob execs", Duration::from_secs(10), || {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
        });
        d.normalise(&identity(pid).join("\n"))
    });
    assert_same("child identity", &py, &ours);
    assert!(py.contains("Uid: 65534\t65534\t65534\t65534"), "{py}");
}

#[test]
fn supervisord_user_drops_the_daemons_privileges_like_python() {
    let (py, ours) = both(|kind| {
        let sup = Sup::new(kind, "user=nobody", "");
        for d in [sup.path(""), sup.path("log")] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
        }
        let sup = sup.foreground();
        let uid = status_line(sup.pid, "Uid");
        (
            uid,
            sup.main_log().contains("Set uid to user 65534 succeeded"),
        )
    });
    assert_eq!(ours, py);
    assert_eq!(py, ("65534\t65534\t65534\t65534".into(), true));
}

// ---- 9. spawn order --------------------------------------------------------------------------

/// The programs in the order the log shows them spawned.
fn spawn_order(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split("spawned: '").nth(1)?.split('\'').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn group_members_start_in_programs_order_at_startup_and_by_priority_on_request() {
    let pair = Pair::start(
        "[group:g]\nprograms=b,a\n\n\
         [program:a]\ncommand=sleep 1000\npriority=1\nstartsecs=0\n\n\
         [program:b]\ncommand=sleep 1000\npriority=2\nstartsecs=0\n\n\
         [program:c]\ncommand=sleep 1000\npriority=5\nstartsecs=0\n",
    );
    pair.wait_for_state("g:a", "RUNNING");
    pair.wait_for_state("g:b", "RUNNING");
    pair.wait_for_state("c", "RUNNING");
    let (py, ours) = pair.both(|d| spawn_order(&d.main_log()));
    assert_eq!(py, ["c", "b", "a"], "Python's startup order");
    assert_eq!(ours, py);
    pair.ctl_unordered(&["stop", "g:*"]);
    pair.ctl_unordered(&["start", "g:*"]);
    let (py, ours) = pair.both(|d| spawn_order(&d.main_log())[3..].to_vec());
    assert_eq!(py, ["a", "b"], "Python's startProcessGroup order");
    assert_eq!(ours, py);
}

// ---- 10. children die with the daemon --------------------------------------------------------

#[test]
fn children_die_when_the_daemon_is_killed() {
    let sup = Sup::new(
        Impl::Ours,
        "",
        "[program:a]\ncommand=sleep 1000\nstartsecs=0\n\n\
         [program:deaf]\ncommand=sh -c 'trap \"\" TERM HUP INT; while :; do sleep 1; done'\n\
         startsecs=0\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)s\n\n\
         [program:nobody]\ncommand=sleep 1000\nuser=nobody\nstartsecs=0\n",
    )
    .foreground();
    let names = ["a", "deaf:deaf_0", "deaf:deaf_1", "nobody"];
    let pids: Vec<u32> = names
        .iter()
        .map(|n| sup.wait_state(n, "RUNNING").field("pid").int() as u32)
        .collect();
    // A restart spawns from a later point in the daemon's life: those children count too.
    sup.rpc(
        "supervisor.stopProcess",
        &[Value::Str("a".into()), Value::Bool(true)],
    )
    .unwrap();
    sup.rpc(
        "supervisor.startProcess",
        &[Value::Str("a".into()), Value::Bool(true)],
    )
    .unwrap();
    let mut pids = pids[1..].to_vec();
    pids.push(sup.child_pid("a"));
    kill(Pid::from_raw(sup.pid as i32), Signal::SIGKILL).unwrap();
    wait_until(
        &format!("children {pids:?} die with the daemon"),
        Duration::from_secs(5),
        || pids.iter().all(|&p| !is_live(p)),
    );
}

/// As PID 1 of a PID namespace (a container's entry point), the daemon reaps an orphan that is
/// reparented to it and takes SIGTERM as a clean shutdown: exit 0, nothing left.
#[test]
fn pid_1_in_a_namespace_reaps_orphans_and_exits_0_on_sigterm() {
    let dir = TempDir::new().expect("tempdir");
    let here = dir.path();
    let script = here.join("orphaner.sh");
    fs::write(&script, "#!/bin/sh\n( sleep 0.3 & )\nexec sleep 1000\n").expect("script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::write(
        here.join("supervisord.conf"),
        format!(
            "[supervisord]\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n\
             nodaemon=true\n[program:orphaner]\ncommand={}\nstartsecs=0\n",
            script.display()
        ),
    )
    .expect("config");
    let mut ns = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-c")
        .arg(here.join("supervisord.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare");
    let log = || fs::read_to_string(here.join("supervisord.log")).unwrap_or_default();
    wait_until("the orphan is reaped", Duration::from_secs(20), || {
        log().contains("reaped unknown pid")
    });
    // The daemon is the namespace's PID 1; from outside it is unshare's only child.
    let daemon = fs::read_to_string(format!("/proc/{}/task/{}/children", ns.id(), ns.id()))
        .expect("unshare's children")
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<i32>().ok())
        .expect("the daemon's pid");
    kill(Pid::from_raw(daemon), Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = ns.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", log());
    assert!(
        log().contains("stopped: orphaner (terminated by SIGTERM)"),
        "{}",
        log()
    );
}

/// `init=true` (ours) makes the daemon a child subreaper when it is not PID 1: an orphan of a
/// program's tree is reparented to it and reaped (without it, the orphan goes to the machine's
/// init and the daemon never hears of it).
#[test]
fn init_true_reaps_orphans_when_not_pid_1() {
    let dir = TempDir::new().expect("tempdir");
    let here = dir.path();
    let script = here.join("orphaner.sh");
    fs::write(&script, "#!/bin/sh\n( sleep 0.3 & )\nexec sleep 1000\n").expect("script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = here.join("supervisord.conf");
    fs::write(
        &conf,
        format!(
            "[supervisord]\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n\
             nodaemon=true\ninit=true\n[program:orphaner]\ncommand={}\nstartsecs=0\n",
            script.display()
        ),
    )
    .expect("config");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("supervisord");
    let log = || fs::read_to_string(here.join("supervisord.log")).unwrap_or_default();
    wait_until("the orphan is reaped", Duration::from_secs(20), || {
        log().contains("reaped unknown pid")
    });
    kill(Pid::from_raw(daemon.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    while daemon.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A `required=true` program (ours) that goes FATAL stops everything and the daemon exits 1,
/// so a container or a unit with Restart=on-failure sees the failure.
#[test]
fn a_required_program_going_fatal_ends_the_daemon_with_1() {
    let mut d = support::Daemon::start(
        Impl::Ours,
        "[program:sleeper]\ncommand=sleep 1000\nstartsecs=0\n\
         [program:must]\ncommand=sh -c 'sleep 2; exit 1'\nstartsecs=5\nstartretries=0\nrequired=true\n",
    );
    let status = d.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    let log = d.main_log();
    assert!(
        log.contains("CRIT required program must went FATAL: shutting down"),
        "{log}"
    );
    assert!(
        log.contains("stopped: sleeper (terminated by SIGTERM)"),
        "{log}"
    );
    let out = fs::read_to_string(d.dir().join("daemon.out")).unwrap_or_default();
    assert!(
        out.contains("Error: required program must went FATAL"),
        "{out}"
    );
}

/// `remember_stopped=true` (ours; Supervisor #214): a program stopped by hand stays stopped
/// across SIGHUP and across a new daemon on the same config, until started by hand.
#[test]
fn remember_stopped_keeps_manual_stops_across_restarts() {
    let body = "[supervisord]\nremember_stopped=true\n\
                [program:a]\ncommand=sleep 1000\nstartsecs=0\n\
                [program:b]\ncommand=sleep 1000\nstartsecs=0\n";
    let mut d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("a", "RUNNING", Duration::from_secs(20));
    d.wait_for_state("b", "RUNNING", Duration::from_secs(20));
    d.rpc("supervisor.stopProcess", &[Value::Str("a".into())])
        .expect("stop a");
    let stopped_file = d.dir().join("supervisord.pid.stopped");
    assert_eq!(fs::read_to_string(&stopped_file).unwrap_or_default(), "a\n");

    let b = d.info("b").field("pid").int();
    d.signal(Signal::SIGHUP);
    wait_until("b restarted", Duration::from_secs(20), || {
        d.rpc("supervisor.getProcessInfo", &[Value::Str("b".into())])
            .is_ok_and(|i| i.field("statename").str() == "RUNNING" && i.field("pid").int() != b)
    });
    assert_eq!(d.info("a").field("statename").str(), "STOPPED");

    // Started by hand, it is forgotten; stopped again, remembered by the next daemon.
    d.rpc("supervisor.startProcess", &[Value::Str("a".into())])
        .expect("start a");
    assert_eq!(fs::read_to_string(&stopped_file).unwrap_or_default(), "");
    d.rpc("supervisor.stopProcess", &[Value::Str("a".into())])
        .expect("stop a");
    d.signal(Signal::SIGTERM);
    assert!(d.wait_exit(Duration::from_secs(20)).success());

    let mut next = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-n")
        .arg("-c")
        .arg(d.conf())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the next daemon");
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _next = Kill(&mut next);
    let state = |name: &str| {
        xmlrpc::call(
            &d.socket(),
            "supervisor.getProcessInfo",
            &[Value::Str(name.into())],
        )
        .map(|i| i.field("statename").str().to_string())
    };
    wait_until("the next daemon runs b", Duration::from_secs(20), || {
        state("b").is_ok_and(|s| s == "RUNNING")
    });
    assert_eq!(state("a").expect("a"), "STOPPED");
    xmlrpc::call(&d.socket(), "supervisor.shutdown", &[]).expect("shutdown");
}

/// A stream nobody reads (`NONE`, no events, no capture) goes to `/dev/null`; one that is
/// logged, or that events or capture mode read, is a pipe the daemon drains; and a child
/// writing into either works the same.
#[test]
fn only_the_streams_someone_reads_get_pipes() {
    let body = "[program:quiet]\ncommand=sh -c 'echo out; echo err >&2; exec sleep 1000'\n\
                startsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n\
                [program:logged]\ncommand=sh -c 'echo out; exec sleep 1000'\nstartsecs=0\n\
                stderr_logfile=NONE\n\
                [program:evented]\ncommand=sleep 1000\nstartsecs=0\nstdout_logfile=NONE\n\
                stdout_events_enabled=true\nstderr_logfile=NONE\nstderr_capture_maxbytes=1KB\n";
    let d = support::Daemon::start(Impl::Ours, body);
    let target = |name: &str, fd: u32| {
        d.wait_for_state(name, "RUNNING", Duration::from_secs(20));
        let pid = d.info(name).field("pid").int();
        std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(target("quiet", 1), "/dev/null");
    assert_eq!(target("quiet", 2), "/dev/null");
    assert!(target("logged", 1).starts_with("pipe:"));
    assert_eq!(target("logged", 2), "/dev/null");
    assert!(target("evented", 1).starts_with("pipe:"));
    assert!(target("evented", 2).starts_with("pipe:"));
    wait_until(
        "logged's output in its log",
        Duration::from_secs(10),
        || {
            d.rpc(
                "supervisor.readProcessStdoutLog",
                &[Value::Str("logged".into()), Value::Int(0), Value::Int(0)],
            )
            .is_ok_and(|v| v.str() == "out\n")
        },
    );
}
