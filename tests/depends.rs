//! `depends_on` (issue 16 item 1; `src/config/depends.rs`, `src/supervisor/depends.rs`): a web
//! program that depends on a database with a TCP health check starts only once the port
//! answers, whatever the priorities say, and stops first (`stop all` and shutdown); a job
//! dependency must complete; a dependency gone FATAL leaves its dependent unstarted with the
//! reason; cycles and unknown names are config errors; Python runs the same config.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, Impl, Value};

const DEADLINE: Duration = Duration::from_secs(20);

/// A free TCP port on loopback (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A "database": listens on `port` only after `delay` seconds, then serves forever.
fn database(port: u16, delay: &str) -> String {
    format!(
        "{} -c \"import socket,time; time.sleep({delay}); s=socket.socket(); \
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',{port})); \
         s.listen(); time.sleep(1000)\"",
        support::pyref().join("bin/python").display()
    )
}

/// Where `needle` first is in the main log (panics if it is not there).
#[track_caller]
fn at(log: &str, needle: &str) -> usize {
    log.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the main log:\n{log}"))
}

fn dependencies(d: &support::Daemon, name: &str) -> Value {
    d.rpc(
        "supervisor_rs.getProcessDependencies",
        &[Value::Str(name.into())],
    )
    .expect("getProcessDependencies")
}

#[test]
fn web_starts_once_its_database_answers_and_stops_before_it() {
    let port = free_port();
    // Priorities say web first (start) and db first (stop): depends_on overrides both.
    let body = format!(
        "[program:db]\ncommand={}\npriority=900\nstartsecs=0\n\
         healthcheck=tcp://127.0.0.1:{port}\nhealthcheck_interval=1\nhealthcheck_timeout=1\n\
         [program:web]\ncommand=sleep 1000\npriority=1\nstartsecs=0\ndepends_on=db=healthy\n",
        database(port, "1.5")
    );
    let mut d = support::Daemon::start(Impl::Ours, &body);
    d.wait_for_state("db", "RUNNING", DEADLINE);
    let waiting = dependencies(&d, "web");
    assert_eq!(d.info("web").field("statename").str(), "STOPPED");
    assert!(waiting.field("waiting").bool(), "{waiting:?}");
    d.wait_for_log("web waits for db (healthy) to start", DEADLINE);
    d.wait_for_state("web", "RUNNING", DEADLINE);
    let log = d.main_log();
    assert!(
        at(&log, "health check of db passed") < at(&log, "spawned: 'web'"),
        "web spawned before db's port answered:\n{log}"
    );
    let met = dependencies(&d, "web");
    assert!(!met.field("waiting").bool());
    let dep = &met.field("depends_on").array()[0];
    assert_eq!(dep.field("condition").str(), "healthy");
    assert!(dep.field("met").bool(), "{met:?}");

    // `stop all`: web first, db once web is down.
    let out = d.ctl(&["stop", "all"]);
    assert!(out.stdout.contains("web: stopped"), "{}", out.render());
    assert!(out.stdout.contains("db: stopped"), "{}", out.render());
    let log = d.main_log();
    assert!(
        at(&log, "stopped: web") < at(&log, "stopped: db"),
        "db stopped before web:\n{log}"
    );

    // `start web` brings db up first; shutdown stops web first again.
    let out = d.ctl(&["start", "web"]);
    assert!(out.stdout.contains("web: started"), "{}", out.render());
    assert_eq!(d.info("db").field("statename").str(), "RUNNING");
    let from = d.main_log().len();
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(DEADLINE).success());
    let log = d.main_log()[from..].to_string();
    assert!(
        at(&log, "stopped: web") < at(&log, "stopped: db"),
        "shutdown stopped db before web:\n{log}"
    );
}

#[test]
fn a_job_dependency_completes_first_and_a_fatal_one_blocks_its_dependent() {
    let body = "[program:migrate]\ncommand=sh -c 'sleep 0.5; echo once >> %(here)s/migrated'\n\
         autostart=false\nautorestart=false\nstartsecs=0\n\
         [program:app]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=migrate=completed\n\
         [program:broken]\ncommand=sh -c 'exit 3'\nautostart=false\nstartsecs=1\nstartretries=1\n\
         [program:needs_broken]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=broken\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("app", "RUNNING", DEADLINE);
    assert_eq!(d.info("migrate").field("statename").str(), "EXITED");
    let log = d.main_log();
    assert!(
        at(&log, "exited: migrate") < at(&log, "spawned: 'app'"),
        "{log}"
    );
    // A completed job is not run again for a later start.
    d.ctl(&["stop", "app"]);
    let out = d.ctl(&["start", "app"]);
    assert!(out.stdout.contains("app: started"), "{}", out.render());
    let runs = std::fs::read_to_string(d.dir().join("migrated")).unwrap();
    assert_eq!(runs, "once\n");

    d.wait_for_state("broken", "FATAL", DEADLINE);
    d.wait_for_log(
        "WARN not starting needs_broken: its dependency broken is FATAL",
        DEADLINE,
    );
    assert_eq!(d.info("needs_broken").field("statename").str(), "STOPPED");
    let info = dependencies(&d, "needs_broken");
    assert_eq!(info.field("blocked").str(), "broken is FATAL");
    assert!(!info.field("waiting").bool());
    // Starting it by hand tries the dependency again, and says why it gave up.
    let started = Instant::now();
    let out = d.ctl(&["start", "needs_broken"]);
    assert_ne!(out.code, 0, "{}", out.render());
    assert_eq!(out.stdout, "needs_broken: ERROR (spawn error)\n");
    let gave_up = "WARN not starting needs_broken: its dependency broken is FATAL";
    assert_eq!(d.main_log().matches(gave_up).count(), 2, "{}", d.main_log());
    assert!(started.elapsed() < DEADLINE);
}

#[test]
fn cycles_and_unknown_names_are_config_errors() {
    let check = |body: &str| {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(&conf, format!("[supervisord]\n{body}")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_supervisord"))
            .args(["--check", "-c"])
            .arg(&conf)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            conf.display().to_string(),
        )
    };
    let (err, conf) = check(
        "[program:web]\ncommand=sleep 1\ndepends_on=api\n\
         [program:api]\ncommand=sleep 1\ndepends_on=cache, db=healthy\n\
         [program:db]\ncommand=sleep 1\n\
         [program:cache]\ncommand=sleep 1\ndepends_on=web\n",
    );
    assert!(
        err.starts_with(&format!(
            "Error: depends_on makes a cycle: api -> cache -> web -> api in section \
             'program:api' (file: '{conf}', line 7)"
        )),
        "{err}"
    );
    let (err, conf) = check("[program:web]\ncommand=sleep 1\ndepends_on=dbb=healthy\n");
    assert!(
        err.starts_with(&format!(
            "Error: depends_on names \"dbb\", which is no program or group in section \
             'program:web' (file: '{conf}', line 4)"
        )),
        "{err}"
    );
    let (err, _) = check("[program:web]\ncommand=sleep 1\ndepends_on=web=ready\n");
    assert!(err.contains("unknown condition \"ready\" for web"), "{err}");
}

/// The same keys under Python's supervisord: ignored, both programs run.
#[test]
fn python_runs_the_same_config() {
    let body = "[program:db]\ncommand=sleep 1000\nstartsecs=0\n\
         [program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=db=healthy, nothing\n";
    let d = support::Daemon::start(Impl::Python, body);
    d.wait_for_state("web", "RUNNING", DEADLINE);
    d.wait_for_state("db", "RUNNING", DEADLINE);
}
