//! Process trees (issue 14, items 1 and 2; `src/cgroup.rs`): with cgroup v2 writable, a
//! program's whole tree is its own: setsid'ed grandchildren are stopped with it, leftovers of
//! an exited main process are killed after `stopwaitsecs`, and the leftovers of a SIGKILLed
//! daemon are killed by the next daemon on the same config before it spawns anything.
//! `killmode=process` keeps Python's behaviour. Real processes, real cgroups.

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

/// Whether this machine lets the daemon make cgroups (root with cgroup v2): where it does not,
/// the daemon works as Python's and these tests have nothing to check.
fn cgroups_available() -> bool {
    match supervisor::cgroup::Tree::open("probe-of-the-tests") {
        Some(tree) => {
            tree.kill_all();
            true
        }
        None => {
            eprintln!("cgroup v2 is not writable here: process-tree tests skipped");
            false
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
struct Reap(Vec<&'static str>);

impl Drop for Reap {
    fn drop(&mut self) {
        for arg in &self.0 {
            for pid in pids_of(&["sleep", arg]) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// A daemon started by hand on `conf` (the same config, so the same pidfile), killed on drop.
struct Next(Child);

impl Next {
    fn start(conf: &std::path::Path) -> Next {
        Next(
            Command::new(env!("CARGO_BIN_EXE_supervisord"))
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
fn a_killed_daemons_workers_are_killed_by_the_next_daemon() {
    if !cgroups_available() {
        return;
    }
    let _reap = Reap(vec!["7301", "7302"]);
    let body = "[program:qrd]\ncommand=sh -c 'sleep 7301 & sleep 7302 & wait'\nstartsecs=0\n";
    let mut d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("qrd", "RUNNING", DEADLINE);
    wait_until("both workers", DEADLINE, || {
        pids_of(&["sleep", "7301"]).len() == 1 && pids_of(&["sleep", "7302"]).len() == 1
    });
    let workers = [
        pids_of(&["sleep", "7301"])[0],
        pids_of(&["sleep", "7302"])[0],
    ];
    d.signal(Signal::SIGKILL);
    d.wait_exit(DEADLINE);
    // The master dies with the daemon; its workers are orphans that nothing else would stop.
    assert!(
        workers.iter().all(|&p| is_live(p)),
        "the workers outlive a SIGKILLed daemon"
    );

    let _next = Next::start(&d.conf());
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
        pids_of(&["sleep", "7301"]).len() == 1 && pids_of(&["sleep", "7302"]).len() == 1
    });
    let log = d.main_log();
    for p in workers {
        assert!(
            log.contains(&format!("WARN killed pid {p} (sleep ")),
            "the kill of {p} is logged:\n{log}"
        );
    }
    xmlrpc::call(&d.socket(), "supervisor.shutdown", &[]).expect("shutdown");
}

#[test]
fn stopasgroup_reaches_a_setsid_grandchild() {
    if !cgroups_available() {
        return;
    }
    let _reap = Reap(vec!["7311"]);
    let body = "[program:det]\ncommand=sh -c 'setsid sleep 7311 & wait'\nstartsecs=0\n\
                stopasgroup=true\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("det", "RUNNING", DEADLINE);
    wait_until("the grandchild", DEADLINE, || {
        pids_of(&["sleep", "7311"]).len() == 1
    });
    let grandchild = pids_of(&["sleep", "7311"])[0];
    d.rpc("supervisor.stopProcess", &[Value::Str("det".into())])
        .expect("stop det");
    wait_until(
        "the setsid'ed grandchild is stopped too",
        Duration::from_secs(5),
        || !is_live(grandchild),
    );
}

#[test]
fn leftovers_of_an_exited_program_go_after_stopwaitsecs() {
    if !cgroups_available() {
        return;
    }
    let _reap = Reap(vec!["7321"]);
    let body = "[program:leaky]\ncommand=sh -c 'setsid sleep 7321 & sleep 0.3'\nstartsecs=0\n\
                autorestart=false\nstopwaitsecs=1\n";
    let d = support::Daemon::start(Impl::Ours, body);
    wait_until("the grandchild", DEADLINE, || {
        pids_of(&["sleep", "7321"]).len() == 1
    });
    let grandchild = pids_of(&["sleep", "7321"])[0];
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
fn killmode_process_keeps_pythons_detached_grandchild() {
    if !cgroups_available() {
        return;
    }
    let _reap = Reap(vec!["7331"]);
    let body = "[program:keep]\ncommand=sh -c 'setsid sleep 7331 & sleep 0.2'\nstartsecs=0\n\
                autorestart=false\nstopwaitsecs=1\nkillmode=process\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("keep", "EXITED", DEADLINE);
    let grandchild = pids_of(&["sleep", "7331"]);
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
    if !cgroups_available() {
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
    let _reap = Reap(vec!["7361", "7362", "7363", "7364"]);
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
