//! Process trees (issue 14, items 1 and 2): a program's whole tree is its own, with cgroup v2
//! writable (`src/cgroup.rs`) and without it (`src/family.rs`: the daemon, in a mount
//! namespace without the cgroup2 hierarchy, is a subreaper and reads procfs): setsid'ed
//! grandchildren are stopped with it, leftovers of an exited main process are killed after
//! `stopwaitsecs`, and the leftovers of a SIGKILLed daemon are killed by the next daemon on
//! the same config before it spawns anything. `killmode=process` keeps Python's behaviour.
//! Real processes, real cgroups, a real mount namespace.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::{self, is_live, xmlrpc, Impl, Value};

const DEADLINE: Duration = Duration::from_secs(20);

#[track_caller]
fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// How the daemon under test tracks process trees.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// cgroup v2, writable here (root).
    Cgroups,
    /// procfs: the daemon runs where no cgroup2 hierarchy is mounted.
    Procfs,
}

impl Mode {
    /// Whether this machine can run the mode: where it cannot (no writable cgroup v2, no
    /// mount namespaces), the daemon works as Python's and the test has nothing to check.
    fn available(self) -> bool {
        let ok = match self {
            Mode::Cgroups => match supervisor::cgroup::Tree::open("probe-of-the-tests") {
                Some(tree) => {
                    tree.kill_all();
                    true
                }
                None => false,
            },
            Mode::Procfs => support::without_cgroups(std::path::Path::new("true"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        };
        if !ok {
            eprintln!("{self:?} is not available here: process-tree test skipped");
        }
        ok
    }

    fn start(self, body: &str) -> support::Daemon {
        match self {
            Mode::Cgroups => support::Daemon::start(Impl::Ours, body),
            Mode::Procfs => support::Daemon::start_without_cgroups(body),
        }
    }

    /// A `sleep` argument unique to the test and the mode (both modes' tests run at once).
    fn arg(self, base: u32) -> String {
        match self {
            Mode::Cgroups => base.to_string(),
            Mode::Procfs => (base + 1000).to_string(),
        }
    }

    fn command(self) -> Command {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_supervisord"));
        match self {
            Mode::Cgroups => Command::new(binary),
            Mode::Procfs => support::without_cgroups(binary),
        }
    }
}

/// Pids whose command line is exactly `argv`.
fn pids_of(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
                .collect()
        })
        .unwrap_or_default()
}

/// Kills stray test processes if a test fails half-way.
struct Reap(Vec<String>);

impl Drop for Reap {
    fn drop(&mut self) {
        for arg in &self.0 {
            for pid in pids_of(&["sleep", arg.as_str()]) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// A daemon started by hand on `conf` (the same config, so the same pidfile), killed on drop.
struct Next(Child);

impl Next {
    fn start(conf: &std::path::Path, mode: Mode) -> Next {
        Next(
            mode.command()
                .arg("-n")
                .arg("-c")
                .arg(conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the next daemon"),
        )
    }
}

impl Drop for Next {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_killed_daemons_workers_are_killed_by_the_next_daemon_with_cgroups() {
    a_killed_daemons_workers_are_killed_by_the_next_daemon(Mode::Cgroups);
}

#[test]
fn a_killed_daemons_workers_are_killed_by_the_next_daemon_in_procfs() {
    a_killed_daemons_workers_are_killed_by_the_next_daemon(Mode::Procfs);
}

fn a_killed_daemons_workers_are_killed_by_the_next_daemon(mode: Mode) {
    if !mode.available() {
        return;
    }
    let a7301 = mode.arg(7301);
    let a7302 = mode.arg(7302);
    let _reap = Reap(vec![a7301.clone(), a7302.clone()]);
    let body = format!(
        "[program:qrd]\ncommand=sh -c 'sleep {a7301} & sleep {a7302} & wait'\nstartsecs=0\n"
    );
    let mut d = mode.start(&body);
    d.wait_for_state("qrd", "RUNNING", DEADLINE);
    wait_until("both workers", DEADLINE, || {
        pids_of(&["sleep", a7301.as_str()]).len() == 1
            && pids_of(&["sleep", a7302.as_str()]).len() == 1
    });
    let workers = [
        pids_of(&["sleep", a7301.as_str()])[0],
        pids_of(&["sleep", a7302.as_str()])[0],
    ];
    d.signal(Signal::SIGKILL);
    d.wait_exit(DEADLINE);
    // The master dies with the daemon; its workers are orphans that nothing else would stop.
    assert!(
        workers.iter().all(|&p| is_live(p)),
        "the workers outlive a SIGKILLed daemon"
    );

    let _next = Next::start(&d.conf(), mode);
    let info = |name: &str| {
        xmlrpc::call(
            &d.socket(),
            "supervisor.getProcessInfo",
            &[Value::Str(name.into())],
        )
    };
    wait_until("the next daemon runs qrd", DEADLINE, || {
        info("qrd").is_ok_and(|i| i.field("statename").str() == "RUNNING")
    });
    wait_until("the old workers are gone", DEADLINE, || {
        workers.iter().all(|&p| !is_live(p))
    });
    wait_until("one new set of workers", DEADLINE, || {
        pids_of(&["sleep", a7301.as_str()]).len() == 1
            && pids_of(&["sleep", a7302.as_str()]).len() == 1
    });
    let log = d.main_log();
    for p in workers {
        assert!(
            log.contains(&format!("WARN killed pid {p} (sleep ")),
            "the kill of {p} is logged:\n{log}"
        );
    }
    if matches!(mode, Mode::Procfs) {
        assert!(
            log.contains("left behind by a previous supervisord (its record "),
            "{log}"
        );
    }
    xmlrpc::call(&d.socket(), "supervisor.shutdown", &[]).expect("shutdown");
}

#[test]
fn stopasgroup_reaches_a_setsid_grandchild_with_cgroups() {
    stopasgroup_reaches_a_setsid_grandchild(Mode::Cgroups);
}

#[test]
fn stopasgroup_reaches_a_setsid_grandchild_in_procfs() {
    stopasgroup_reaches_a_setsid_grandchild(Mode::Procfs);
}

fn stopasgroup_reaches_a_setsid_grandchild(mode: Mode) {
    if !mode.available() {
        return;
    }
    let a7311 = mode.arg(7311);
    let _reap = Reap(vec![a7311.clone()]);
    let body = format!(
        "[program:det]\ncommand=sh -c 'setsid sleep {a7311} & wait'\nstartsecs=0\n\
                stopasgroup=true\n"
    );
    let d = mode.start(&body);
    d.wait_for_state("det", "RUNNING", DEADLINE);
    wait_until("the grandchild", DEADLINE, || {
        pids_of(&["sleep", a7311.as_str()]).len() == 1
    });
    let grandchild = pids_of(&["sleep", a7311.as_str()])[0];
    d.rpc("supervisor.stopProcess", &[Value::Str("det".into())])
        .expect("stop det");
    wait_until(
        "the setsid'ed grandchild is stopped too",
        Duration::from_secs(5),
        || !is_live(grandchild),
    );
}

#[test]
fn leftovers_of_an_exited_program_go_after_stopwaitsecs_with_cgroups() {
    leftovers_of_an_exited_program_go_after_stopwaitsecs(Mode::Cgroups);
}

#[test]
fn leftovers_of_an_exited_program_go_after_stopwaitsecs_in_procfs() {
    leftovers_of_an_exited_program_go_after_stopwaitsecs(Mode::Procfs);
}

fn leftovers_of_an_exited_program_go_after_stopwaitsecs(mode: Mode) {
    if !mode.available() {
        return;
    }
    let a7321 = mode.arg(7321);
    let _reap = Reap(vec![a7321.clone()]);
    let body = format!(
        "[program:leaky]\ncommand=sh -c 'setsid sleep {a7321} & sleep 0.3'\nstartsecs=0\n\
                autorestart=false\nstopwaitsecs=1\n"
    );
    let d = mode.start(&body);
    wait_until("the grandchild", DEADLINE, || {
        pids_of(&["sleep", a7321.as_str()]).len() == 1
    });
    let grandchild = pids_of(&["sleep", a7321.as_str()])[0];
    d.wait_for_state("leaky", "EXITED", DEADLINE);
    let exited = Instant::now();
    assert!(
        is_live(grandchild),
        "kept for stopwaitsecs after the main process exited"
    );
    wait_until("the leftover is killed", Duration::from_secs(5), || {
        !is_live(grandchild)
    });
    assert!(
        exited.elapsed() >= Duration::from_millis(800),
        "not before stopwaitsecs"
    );
    d.wait_for_log("killing what is left of leaky's process tree", DEADLINE);
}

#[test]
fn killmode_process_keeps_pythons_detached_grandchild_with_cgroups() {
    killmode_process_keeps_pythons_detached_grandchild(Mode::Cgroups);
}

#[test]
fn killmode_process_keeps_pythons_detached_grandchild_in_procfs() {
    killmode_process_keeps_pythons_detached_grandchild(Mode::Procfs);
}

fn killmode_process_keeps_pythons_detached_grandchild(mode: Mode) {
    if !mode.available() {
        return;
    }
    let a7331 = mode.arg(7331);
    let _reap = Reap(vec![a7331.clone()]);
    let body = format!(
        "[program:keep]\ncommand=sh -c 'setsid sleep {a7331} & sleep 0.2'\nstartsecs=0\n\
                autorestart=false\nstopwaitsecs=1\nkillmode=process\n"
    );
    let d = mode.start(&body);
    d.wait_for_state("keep", "EXITED", DEADLINE);
    let grandchild = pids_of(&["sleep", a7331.as_str()]);
    assert_eq!(grandchild.len(), 1, "the grandchild runs");
    thread::sleep(Duration::from_millis(1500));
    assert!(
        is_live(grandchild[0]),
        "killmode=process never kills the rest of the tree"
    );
}

/// The cgroup of `pid` (its path in the unified hierarchy, from `/proc/<pid>/cgroup`).
fn cgroup_of(pid: u32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

#[test]
fn a_restart_reuses_the_cgroup_its_predecessor_left_empty() {
    if !Mode::Cgroups.available() {
        return;
    }
    let body = "[program:flap]\ncommand=sleep 0.2\nstartsecs=0\nautorestart=true\n";
    let d = support::Daemon::start(Impl::Ours, body);
    let pid_now = || {
        d.rpc("supervisor.getProcessInfo", &[Value::Str("flap".into())])
            .ok()
            .map(|i| i.field("pid").int())
            .filter(|&p| p > 0)
            .map(|p| p as u32)
    };
    let mut seen: Vec<(u32, String)> = Vec::new();
    wait_until("three spawns seen with their cgroups", DEADLINE, || {
        if let Some(pid) = pid_now() {
            if seen.last().is_none_or(|(p, _)| *p != pid) {
                if let Some(cg) = cgroup_of(pid) {
                    seen.push((pid, cg));
                }
            }
        }
        seen.len() >= 3
    });
    let cgroup = &seen[0].1;
    assert!(cgroup.contains("/p-flap@"), "in its own cgroup: {cgroup}");
    assert!(
        seen.iter().all(|(_, cg)| cg == cgroup),
        "every restart in the same emptied cgroup: {seen:?}"
    );
    let dir = cgroup_dir(cgroup);
    assert!(dir.is_dir(), "{} exists while flap does", dir.display());
    d.rpc("supervisor.stopProcess", &[Value::Str("flap".into())])
        .expect("stop flap");
    d.rpc(
        "supervisor.removeProcessGroup",
        &[Value::Str("flap".into())],
    )
    .expect("remove flap");
    wait_until("its cgroup goes with the process", DEADLINE, || {
        !dir.exists()
    });
}

/// The directory of the unified-hierarchy cgroup `path` (`/a/b` → `<mount>/a/b`).
fn cgroup_dir(path: &str) -> std::path::PathBuf {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mount = info
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| left.split_whitespace().nth(4).map(str::to_string))?
        })
        .expect("a cgroup2 mount");
    std::path::PathBuf::from(format!("{mount}{path}"))
}

#[test]
fn a_programs_tree_is_reported_whole_with_its_memory_and_cpu() {
    let _reap = Reap(["7361", "7362", "7363", "7364"].map(String::from).to_vec());
    // `cg` is in its cgroup where cgroups are writable; `pt` (killmode=process) never is, so
    // its tree comes from procfs.
    let body = "[program:cg]\ncommand=sh -c 'sleep 7361 & sleep 7362 & wait'\nstartsecs=0\n\
                [program:pt]\ncommand=sh -c 'sleep 7363 & sleep 7364 & wait'\nstartsecs=0\n\
                killmode=process\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("cg", "RUNNING", DEADLINE);
    d.wait_for_state("pt", "RUNNING", DEADLINE);
    let tree = |name: &str| {
        d.rpc("supervisor_rs.getProcessTree", &[Value::Str(name.into())])
            .expect("getProcessTree")
    };
    for name in ["cg", "pt"] {
        wait_until(
            "the master and both workers",
            DEADLINE,
            || matches!(tree(name).field("pids"), Value::Array(p) if p.len() == 3),
        );
        let t = tree(name);
        let pid = d.info(name).field("pid").int();
        assert_eq!(t.field("pid").int(), pid);
        let Value::Array(pids) = t.field("pids") else {
            unreachable!()
        };
        assert!(pids.iter().any(|p| p.int() == pid), "{t:?}");
        assert!(t.field("rss_kb").int() > 0, "{t:?}");
        assert!(t.field("cpu_usec").int() >= 0, "{t:?}");
    }
    // Python's own client reads the answer (ints as <int>, nothing it cannot decode).
    let script = format!(
        "import xmlrpc.client, supervisor.xmlrpc as x\n\
         t = x.SupervisorTransport(None, None, 'unix://{}')\n\
         p = xmlrpc.client.ServerProxy('http://127.0.0.1', transport=t)\n\
         print(sorted((r['name'], len(r['pids'])) for r in p.supervisor_rs.getAllProcessTrees()))\n",
        d.socket().display()
    );
    let out = Command::new(support::pyref().join("bin/python"))
        .args(["-c", &script])
        .output()
        .expect("python");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[('cg', 3), ('pt', 3)]",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.rpc("supervisor.stopProcess", &[Value::Str("pt".into())])
        .expect("stop pt");
    let t = tree("pt");
    assert_eq!(t.field("pid").int(), 0);
    assert!(matches!(t.field("pids"), Value::Array(p) if p.is_empty()));
}

#[test]
fn a_double_forked_worker_stays_in_its_programs_tree_with_cgroups() {
    a_double_forked_worker_stays_in_its_programs_tree(Mode::Cgroups);
}

#[test]
fn a_double_forked_worker_stays_in_its_programs_tree_in_procfs() {
    a_double_forked_worker_stays_in_its_programs_tree(Mode::Procfs);
}

/// A worker whose parent exited at once (`(cmd &)`, the classic daemonizing double fork) is
/// still its program's: in its tree, and stopped with it.
fn a_double_forked_worker_stays_in_its_programs_tree(mode: Mode) {
    if !mode.available() {
        return;
    }
    let a7371 = mode.arg(7371);
    let a7372 = mode.arg(7372);
    let _reap = Reap(vec![a7371.clone()]);
    let body = format!(
        "[program:dbl]\ncommand=sh -c '(sleep {a7371} &); exec sleep {a7372}'\nstartsecs=0\n\
                stopasgroup=true\n"
    );
    let d = mode.start(&body);
    d.wait_for_state("dbl", "RUNNING", DEADLINE);
    wait_until("the worker", DEADLINE, || {
        pids_of(&["sleep", a7371.as_str()]).len() == 1
    });
    let worker = pids_of(&["sleep", a7371.as_str()])[0];
    let in_own_cgroup = cgroup_of(worker).is_some_and(|c| c.contains("/p-dbl@"));
    assert_eq!(in_own_cgroup, matches!(mode, Mode::Cgroups), "{mode:?}");
    let tree = || {
        d.rpc("supervisor_rs.getProcessTree", &[Value::Str("dbl".into())])
            .expect("getProcessTree")
    };
    wait_until("the main process and the orphaned worker", DEADLINE, || {
        matches!(tree().field("pids"), Value::Array(p)
            if p.len() == 2 && p.iter().any(|p| p.int() == i64::from(worker)))
    });
    d.rpc("supervisor.stopProcess", &[Value::Str("dbl".into())])
        .expect("stop dbl");
    wait_until(
        "the worker is stopped with it",
        Duration::from_secs(5),
        || !is_live(worker),
    );
}
