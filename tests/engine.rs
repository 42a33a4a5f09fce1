//! The process engine with real children (sh, python3) in temp dirs, observed through the
//! [`Handle`] and the main log, polling to deadlines.
//!
//! The supervisor reaps with `waitpid(-1)`, which would steal the children of other tests in
//! this binary, so each test re-runs itself alone in a fresh process (`isolated!`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use supervisor::config::{
    AutoRestart, Config, GroupConfig, GroupKind, LogFile, LogLevel, LogTarget, ProcessConfig,
    StreamConfig, Supervisord,
};
use supervisor::logs::MainLog;
use supervisor::process::ProcessState;
use supervisor::supervisor::{Handle, Outcome, Supervisor, SupervisorError};

/// Defines a test that runs its async body in a child process of its own.
macro_rules! isolated {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            if std::env::var_os("SUPERVISOR_ENGINE_ISOLATED").is_some() {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on($body);
            } else {
                run_isolated(concat!("engine::", stringify!($name)));
            }
        }
    };
}

#[track_caller]
fn run_isolated(test: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("SUPERVISOR_ENGINE_ISOLATED", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{test} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stream() -> StreamConfig {
    StreamConfig {
        logfile: LogFile::None,
        logfile_maxbytes: 0,
        logfile_backups: 0,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
    }
}

fn program(name: &str, command: &str) -> ProcessConfig {
    ProcessConfig {
        startsecs: Duration::ZERO,
        autorestart: AutoRestart::Never,
        stopwaitsecs: Duration::from_secs(5),
        stdout: stream(),
        stderr: stream(),
        ..crate::support::program::program(name, command)
    }
}

/// A running actor over programs that are each their own group.
struct Rig {
    dir: tempfile::TempDir,
    handle: Handle,
    task: tokio::task::JoinHandle<std::io::Result<Outcome>>,
}

impl Rig {
    fn start(programs: Vec<ProcessConfig>) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let groups = programs
            .into_iter()
            .map(|p| GroupConfig {
                name: p.name.clone(),
                priority: p.priority,
                kind: GroupKind::Process,
                processes: vec![p.into()],
            })
            .collect();
        let config = Config {
            source: dir.path().join("supervisord.conf"),
            supervisord: Supervisord {
                logfile: LogTarget::File(dir.path().join("supervisord.log")),
                logfile_maxbytes: 0,
                logfile_backups: 0,
                loglevel: LogLevel::Info,
                pidfile: None,
                umask: 0o22,
                nodaemon: true,
                silent: true,
                minfds: 1024,
                minprocs: 200,
                nocleanup: true,
                childlogdir: dir.path().to_path_buf(),
                user: None,
                directory: None,
                strip_ansi: false,
                environment: BTreeMap::new(),
                identifier: "supervisor".into(),
                init: false,
                remember_stopped: false,
            },
            unix_http_servers: Vec::new(),
            inet_http_servers: Vec::new(),
            supervisorctl: None,
            rpcinterfaces: Vec::new(),
            groups,
            messages: Vec::new(),
        };
        let log = MainLog::open(&config.supervisord).unwrap();
        let reread_config = config.clone();
        let (sup, handle) =
            Supervisor::new(config, Box::new(move || Ok(reread_config.clone())), log);
        let task = tokio::spawn(sup.run());
        Rig { dir, handle, task }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("supervisord.log")).unwrap_or_default()
    }

    /// Polls `name` until it is in `state`, failing after `secs`.
    async fn wait_for(&self, name: &str, state: ProcessState, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let info = self.handle.get_process_info(name).await.unwrap();
            if info.state == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} is {} not {state}\n{}",
                info.state,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Shuts down and checks that no child of ours is left as a zombie.
    async fn shutdown(self) -> String {
        self.handle.shutdown().await.unwrap();
        let log_path = self.path("supervisord.log");
        let outcome = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("shutdown in time")
            .unwrap()
            .unwrap();
        assert!(matches!(outcome, Outcome::Shutdown), "{outcome:?}");
        assert_eq!(zombies(), Vec::<u32>::new(), "zombie children left");
        std::fs::read_to_string(log_path).unwrap_or_default()
    }
}

/// Our children in state Z.
fn zombies() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&me.as_str()) && fields.first() == Some(&"Z") {
            found.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    found
}

/// Whether the pid is gone or a zombie (dead either way).
fn is_dead(pid: &str) -> bool {
    match std::fs::read_to_string(Path::new("/proc").join(pid).join("stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z')),
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

isolated!(crash_loop_backs_off_linearly_then_fatal, async {
    let mut crash = program("crash", "sh -c 'exit 1'");
    crash.startsecs = Duration::from_secs(1);
    crash.startretries = 2;
    let t0 = Instant::now();
    let rig = Rig::start(vec![crash]);
    rig.wait_for("crash", ProcessState::Fatal, 10).await;
    let elapsed = t0.elapsed().as_secs_f64();
    assert!(
        (2.8..4.5).contains(&elapsed),
        "delays 1 s + 2 s, took {elapsed}"
    );
    let info = rig.handle.get_process_info("crash").await.unwrap();
    assert_eq!(info.exitstatus, 0, "too-quick exits are not recorded");
    assert_eq!(
        info.spawnerr,
        "Exited too quickly (process log may have details)"
    );
    let log = rig.shutdown().await;
    assert_eq!(count(&log, "spawned: 'crash'"), 3, "{log}");
    assert_eq!(
        count(&log, "WARN exited: crash (exit status 1; not expected)"),
        3
    );
    assert!(
        log.contains("INFO gave up: crash entered FATAL state, too many start retries too quickly")
    );
});

isolated!(unexpected_exit_code_is_reported, async {
    let rig = Rig::start(vec![program("bad", "sh -c 'sleep 0.2; exit 3'")]);
    rig.wait_for("bad", ProcessState::Exited, 5).await;
    let info = rig.handle.get_process_info("bad").await.unwrap();
    assert_eq!(info.exitstatus, 3);
    assert_eq!(info.spawnerr, "Bad exit code 3");
    let log = rig.shutdown().await;
    assert!(log.contains("success: bad entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)"));
    assert!(
        log.contains("WARN exited: bad (exit status 3; not expected)"),
        "{log}"
    );
});

isolated!(sigterm_ignoring_child_gets_sigkill, async {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut stubborn = program(
        "stubborn",
        &format!(
            "python3 -c \"import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open('{}', 'w').close(); time.sleep(60)\"",
            ready.display()
        ),
    );
    stubborn.startsecs = Duration::from_secs(1);
    stubborn.stopwaitsecs = Duration::from_secs(1);
    let rig = Rig::start(vec![stubborn]);
    rig.wait_for("stubborn", ProcessState::Running, 5).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "child never ignored SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t0 = Instant::now();
    rig.handle.stop_process("stubborn", true).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(900));
    let info = rig.handle.get_process_info("stubborn").await.unwrap();
    assert_eq!(info.state, ProcessState::Stopped);
    let log = rig.shutdown().await;
    assert!(log.contains("INFO waiting for stubborn to stop"), "{log}");
    assert!(log.contains("WARN killing 'stubborn' ("), "{log}");
    assert!(
        log.contains("WARN stopped: stubborn (terminated by SIGKILL)"),
        "{log}"
    );
});

isolated!(stopasgroup_kills_the_grandchild, async {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("gc.pid");
    let mut tree = program(
        "tree",
        &format!("sh -c 'sleep 100 & echo $! > {}; wait'", pidfile.display()),
    );
    tree.stopasgroup = true;
    tree.killasgroup = true;
    let rig = Rig::start(vec![tree]);
    rig.wait_for("tree", ProcessState::Running, 5).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let grandchild = loop {
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            if !pid.trim().is_empty() {
                break pid.trim().to_string();
            }
        }
        assert!(Instant::now() < deadline, "no grandchild pid");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(!is_dead(&grandchild));
    rig.handle.stop_process("tree", true).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !is_dead(&grandchild) {
        assert!(
            Instant::now() < deadline,
            "grandchild {grandchild} survived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rig.shutdown().await;
});

isolated!(priority_orders_start_and_reverse_shutdown, async {
    let mut programs = Vec::new();
    for (name, priority) in [("c", 300), ("a", 100), ("b", 200)] {
        let mut p = program(name, "sleep 100");
        p.priority = priority;
        programs.push(p);
    }
    programs.sort_by_key(|p| (p.priority, p.name.clone()));
    let rig = Rig::start(programs);
    for name in ["a", "b", "c"] {
        rig.wait_for(name, ProcessState::Running, 5).await;
    }
    let all = rig.handle.get_all_process_info().await.unwrap();
    let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let log = rig.shutdown().await;
    let order = |prefix: &str| -> Vec<char> {
        log.lines()
            .filter_map(|l| l.split_once(prefix).map(|(_, r)| r.chars().next().unwrap()))
            .filter(|c| *c != '\'')
            .collect()
    };
    assert_eq!(order("spawned: '"), ['a', 'b', 'c'], "{log}");
    assert_eq!(order("stopped: "), ['c', 'b', 'a'], "{log}");
    assert!(log.contains("waiting for "), "{log}");
});

isolated!(start_wait_does_not_block_other_requests, async {
    let mut slow = program("slow", "sleep 100");
    slow.autostart = false;
    slow.startsecs = Duration::from_secs(1);
    let rig = Rig::start(vec![slow]);
    let handle = rig.handle.clone();
    let t0 = Instant::now();
    let start = tokio::spawn(async move { handle.start_process("slow", true).await });
    rig.wait_for("slow", ProcessState::Starting, 5).await;
    rig.handle.get_state().await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "served while starting"
    );
    start.await.unwrap().unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        rig.handle.start_process("slow", true).await,
        Err(SupervisorError::AlreadyStarted("slow".into()))
    );
    rig.shutdown().await;
});

isolated!(spawn_errors_follow_python, async {
    let mut missing = program("missing", "/nonexistent/prog");
    missing.startretries = 0;
    let mut manual = program("manual", "no-such-command-here");
    manual.autostart = false;
    let rig = Rig::start(vec![missing, manual]);
    rig.wait_for("missing", ProcessState::Fatal, 5).await;
    let info = rig.handle.get_process_info("missing").await.unwrap();
    assert_eq!(info.spawnerr, "can't find command '/nonexistent/prog'");
    assert_eq!(
        rig.handle.start_process("manual", true).await,
        Err(SupervisorError::NoFile(
            "can't find command 'no-such-command-here'".into()
        ))
    );
    assert_eq!(
        rig.handle.start_process("nope", true).await,
        Err(SupervisorError::BadName("nope".into()))
    );
    assert_eq!(
        rig.handle.stop_process("manual", true).await,
        Err(SupervisorError::NotRunning("manual".into()))
    );
    let log = rig.shutdown().await;
    assert!(
        log.contains("INFO spawnerr: can't find command '/nonexistent/prog'"),
        "{log}"
    );
});

isolated!(autorestart_after_running_restarts_at_once, async {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let mut flappy = program(
        "flappy",
        &format!("sh -c 'echo x >> {}; sleep 0.3; exit 2'", counter.display()),
    );
    flappy.autorestart = AutoRestart::Unexpected;
    let rig = Rig::start(vec![flappy]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(&std::fs::read_to_string(&counter).unwrap_or_default(), "x") < 3 {
        assert!(Instant::now() < deadline, "no restarts\n{}", rig.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rig.shutdown().await;
});

isolated!(child_environment_and_stdin, async {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    let mut env = program(
        "envy",
        &format!(
            "sh -c 'echo $SUPERVISOR_ENABLED $SUPERVISOR_PROCESS_NAME $SUPERVISOR_GROUP_NAME $FOO > {0}; read line; echo $line >> {0}; sleep 100'",
            out.display()
        ),
    );
    env.environment.insert("FOO".into(), "bar".into());
    let rig = Rig::start(vec![env]);
    rig.wait_for("envy", ProcessState::Running, 5).await;
    rig.handle
        .send_process_stdin("envy", b"hello\n".to_vec())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text == "1 envy envy bar\nhello\n" {
            break;
        }
        assert!(Instant::now() < deadline, "got {text:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rig.shutdown().await;
});
