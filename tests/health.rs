//! Health checks (issue 16 item 2; `src/health/`, `src/supervisor/health.rs`): command, HTTP
//! and TCP probes of RUNNING processes, `retries` failures in a row making a process unhealthy
//! and restarting it (or not, with `healthcheck_action=none`), probes bounded by their
//! timeout, and the PROCESS_HEALTH_* events going only to a pool that names them. Real
//! processes, real sockets, the real recording listener.

use std::fs;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::{self, Impl, Value};

const DEADLINE: Duration = Duration::from_secs(20);
const LISTENER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/record_listener.py");

#[track_caller]
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pid(d: &support::Daemon, name: &str) -> i64 {
    d.info(name).field("pid").int()
}

/// A recording listener on `events`, writing `%(here)s/<name>.jsonl`.
fn listener(name: &str, events: &str) -> String {
    format!(
        "[eventlistener:{name}]\ncommand={} {LISTENER} %(here)s/{name}.jsonl\nevents={events}\n\
         startsecs=0\n",
        support::pyref().join("bin/python").display()
    )
}

/// The event names a recording listener got.
fn got(d: &support::Daemon, name: &str) -> Vec<String> {
    fs::read_to_string(d.dir().join(format!("{name}.jsonl")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| {
            let header = r["header"].as_str()?.to_string();
            let name = header
                .split_whitespace()
                .find_map(|t| t.strip_prefix("eventname:"))?
                .to_string();
            Some(format!(
                "{name} {}",
                r["payload"].as_str().unwrap_or_default()
            ))
        })
        .collect()
}

#[test]
fn failing_command_checks_restart_the_program_and_a_pass_makes_it_healthy() {
    let body = format!(
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\n\
         healthcheck=test -f %(here)s/ok\nhealthcheck_interval=1\nhealthcheck_retries=2\n\
         {}{}",
        listener("health", "PROCESS_HEALTH"),
        listener("all", "EVENT"),
    );
    let d = support::Daemon::start(Impl::Ours, &body);
    d.wait_for_state("web", "RUNNING", DEADLINE);
    let first = pid(&d, "web");
    d.wait_for_log(
        "WARN health check of web failed (1 of 2): exit status 1",
        DEADLINE,
    );
    d.wait_for_log(
        "WARN web is unhealthy after 2 failed health checks in a row: restarting it",
        DEADLINE,
    );
    wait_until("web restarted with a new pid", || {
        let p = pid(&d, "web");
        p > 0 && p != first
    });
    fs::write(d.dir().join("ok"), "").unwrap();
    d.wait_for_log("INFO health check of web passed: exit status 0", DEADLINE);
    let second = pid(&d, "web");
    wait_until("both health events recorded", || {
        got(&d, "health").len() >= 2
    });
    let events = got(&d, "health");
    assert!(
        events[0].starts_with(&format!(
            "PROCESS_HEALTH_UNHEALTHY processname:web groupname:web pid:{first} failures:2\n"
        )),
        "{events:?}"
    );
    assert!(
        events[1].starts_with(&format!(
            "PROCESS_HEALTH_HEALTHY processname:web groupname:web pid:{second} failures:0\n"
        )),
        "{events:?}"
    );
    assert!(
        got(&d, "all")
            .iter()
            .all(|e| !e.starts_with("PROCESS_HEALTH")),
        "EVENT does not include our own types: {:?}",
        got(&d, "all")
    );
    assert_eq!(pid(&d, "web"), second, "a healthy program is left alone");
    assert!(
        !d.main_log().contains("unknown key"),
        "the health keys are known"
    );

    let web = d
        .rpc(
            "supervisor_rs.getProcessHealth",
            &[Value::Str("web".into())],
        )
        .expect("getProcessHealth");
    assert_eq!(web.field("health").str(), "healthy");
    assert_eq!(web.field("failures").int(), 0);
    assert_eq!(web.field("output").str(), "exit status 0");
    assert!(web.field("checked").int() > 0);
    let all = d
        .rpc("supervisor_rs.getAllProcessHealth", &[])
        .expect("getAllProcessHealth");
    let Value::Array(all) = all else {
        panic!("an array: {all:?}")
    };
    let names: Vec<(String, String)> = all
        .iter()
        .map(|h| {
            (
                h.field("name").str().to_string(),
                h.field("health").str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("all", "none"), ("health", "none"), ("web", "healthy")]
            .map(|(n, h)| (n.to_string(), h.to_string()))
    );
    let fault = d
        .rpc(
            "supervisor_rs.getProcessHealth",
            &[Value::Str("nope".into())],
        )
        .expect_err("BAD_NAME");
    assert!(format!("{fault:?}").contains("BAD_NAME"), "{fault:?}");
    let Value::Array(listed) = d.rpc("system.listMethods", &[]).unwrap() else {
        panic!("listMethods")
    };
    assert!(
        listed
            .iter()
            .all(|m| !m.str().starts_with("supervisor_rs.")),
        "system.listMethods stays Python's"
    );
}

#[test]
fn http_and_tcp_checks_with_no_action() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let python = support::pyref().join("bin/python");
    let body = format!(
        "[program:site]\ncommand={python} -m http.server {port} --bind 127.0.0.1\n\
         directory=%(here)s\nstartsecs=0\n\
         healthcheck=http://127.0.0.1:{port}/\nhealthcheck_interval=1\n\
         [program:broken]\ncommand=sleep 1000\nstartsecs=0\n\
         healthcheck=http://127.0.0.1:{port}/missing\nhealthcheck_interval=1\n\
         healthcheck_retries=1\nhealthcheck_action=none\n\
         [program:tcp]\ncommand=sleep 1000\nstartsecs=0\n\
         healthcheck=tcp://127.0.0.1:{port}\nhealthcheck_interval=1\n",
        python = python.display()
    );
    let d = support::Daemon::start(Impl::Ours, &body);
    d.wait_for_log("INFO health check of site passed: HTTP 200", DEADLINE);
    d.wait_for_log("INFO health check of tcp passed: connected", DEADLINE);
    d.wait_for_log(
        "WARN broken is unhealthy after 1 failed health checks in a row: no action \
         (healthcheck_action=none)",
        DEADLINE,
    );
    // Its first probe may meet the server not yet listening; once it listens, a 404 fails.
    d.wait_for_log(
        "failed (2 in a row): HTTP 404 from http://127.0.0.1",
        DEADLINE,
    );
    let broken = pid(&d, "broken");
    // Probes go on failing, and nothing restarts it.
    d.wait_for_log(
        "failed (4 in a row): HTTP 404 from http://127.0.0.1",
        DEADLINE,
    );
    assert_eq!(pid(&d, "broken"), broken, "action=none never restarts");
    assert_eq!(
        d.main_log().matches("broken is unhealthy").count(),
        1,
        "the change is reported once"
    );
}

#[test]
fn a_probe_that_hangs_is_killed_at_its_timeout() {
    let body = "[program:slow]\ncommand=sleep 1000\nstartsecs=0\n\
                healthcheck=sleep 7341\nhealthcheck_interval=1\nhealthcheck_timeout=1\n\
                healthcheck_retries=5\nhealthcheck_start_period=0\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_log(
        "WARN health check of slow failed (1 of 5): timed out after 1s",
        DEADLINE,
    );
    let probes = || {
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x007341\x00"))
            .count()
    };
    // A probe runs at most one at a time, and a killed one does not linger.
    assert!(probes() <= 1, "{} probes at once", probes());
    drop(d);
    wait_until("no probe outlives the daemon", || probes() == 0);
}

#[test]
fn bad_health_options_are_config_errors_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("supervisord.conf");
    fs::write(
        &conf,
        "[supervisord]\n[program:x]\ncommand=sleep 1\nhealthcheck=tcp://localhost\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-c")
        .arg(&conf)
        .arg("--check")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("healthcheck"), "{err}");
    assert!(err.contains("needs a port"), "{err}");
    assert!(err.contains("line 4"), "{err}");
}

/// `memory_limit` (issue 16 item 4) shares the restart path and the event plumbing.
#[test]
fn a_program_over_its_memory_limit_is_restarted() {
    let python = support::pyref().join("bin/python");
    let body = format!(
        "[program:hog]\ncommand={python} -c \"x = b'x' * (64 << 20); import time; time.sleep(1000)\"\n\
         startsecs=0\nmemory_limit=32MB\n\
         [program:small]\ncommand=sleep 1000\nstartsecs=0\nmemory_limit=512MB\n{}",
        listener("mem", "PROCESS_MEMORY_LIMIT"),
        python = python.display()
    );
    let d = support::Daemon::start(Impl::Ours, &body);
    d.wait_for_state("small", "RUNNING", DEADLINE);
    let small = pid(&d, "small");
    d.wait_for_log("WARN hog uses ", DEADLINE);
    d.wait_for_log("over its memory_limit of 32.0 MB: restarting it", DEADLINE);
    wait_until("the limit event", || !got(&d, "mem").is_empty());
    let event = &got(&d, "mem")[0];
    assert!(
        event.starts_with("PROCESS_MEMORY_LIMIT processname:hog groupname:hog pid:"),
        "{event}"
    );
    assert!(event.ends_with(" limit_kb:32768"), "{event}");
    let over: i64 = event
        .split_whitespace()
        .find_map(|t| t.strip_prefix("pid:"))
        .and_then(|p| p.parse().ok())
        .expect("a pid in the event");
    wait_until("hog restarted", || {
        let now = pid(&d, "hog");
        now > 0 && now != over
    });
    assert_eq!(
        pid(&d, "small"),
        small,
        "a program under its limit is left alone"
    );
    assert!(!d.main_log().contains("unknown key"));
}
