//! Both `supervisorctl`s against both supervisords, on the same config, step by step: for every
//! step, normalised stdout, stderr and exit code of (Python daemon, our ctl), (our daemon, Python
//! ctl) and (our daemon, our ctl) must equal those of (Python daemon, Python ctl) (issue 4).
//!
//! `Quad::ctl` does the comparison; the `assert_eq!`s on its result pin the Python facts our
//! daemon and our client must reproduce. Tests about the daemon's XML-RPC alone stay on `Pair`.

use std::time::Duration;

use crate::support::quad::{drop_auth_traceback, Quad};
use crate::support::{assert_same, is_live, Daemon, Output, Pair, Value};

/// Running, never-started, exited, fatal, and a group of two.
const MIXED: &str = "
[program:sleeper]
command=sleep 1000
startsecs=0

[program:manual]
command=sleep 1000
autostart=false

[program:exiter]
command=sh -c 'exit 0'
startsecs=0
autorestart=false

[program:fatal]
command=sh -c 'echo doomed; exit 3'
startsecs=2
startretries=0

[group:grp]
programs=ga,gb

[program:ga]
command=sleep 1000
startsecs=0

[program:gb]
command=sleep 1000
startsecs=0
";

fn mixed() -> Quad {
    let pair = Quad::start(MIXED);
    pair.wait_for_state("sleeper", "RUNNING");
    pair.wait_for_state("exiter", "EXITED");
    pair.wait_for_state("fatal", "FATAL");
    pair.wait_for_state("grp:ga", "RUNNING");
    pair.wait_for_state("grp:gb", "RUNNING");
    pair
}

/// Only long-running programs, so every state is settled (a running program, a stopped one
/// and a running group of two).
pub(crate) const RUNNING: &str = "
[program:sleeper]
command=sleep 1000
startsecs=0

[program:manual]
command=sleep 1000
startsecs=0
autostart=false

[group:grp]
programs=ga,gb

[program:ga]
command=sleep 1000
startsecs=0

[program:gb]
command=sleep 1000
startsecs=0
";

pub(crate) fn running() -> Quad {
    let pair = Quad::start(RUNNING);
    pair.wait_for_state("sleeper", "RUNNING");
    pair.wait_for_state("grp:ga", "RUNNING");
    pair.wait_for_state("grp:gb", "RUNNING");
    pair
}

#[test]
fn status_all_with_stopped_exited_fatal_exits_3() {
    let pair = mixed();
    let out = pair.ctl(&["status"]);
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stdout,
        "exiter                           EXITED    <date>\n\
         fatal                            FATAL     Exited too quickly (process log may have details)\n\
         grp:ga                           RUNNING   pid <pid>, uptime <uptime>\n\
         grp:gb                           RUNNING   pid <pid>, uptime <uptime>\n\
         manual                           STOPPED   Not started\n\
         sleeper                          RUNNING   pid <pid>, uptime <uptime>\n"
    );
    assert_eq!(pair.ctl(&["status", "all"]), out);
}

#[test]
fn status_by_name_group_and_unknown() {
    let pair = mixed();
    assert_eq!(pair.ctl(&["status", "sleeper"]).code, 0);
    assert_eq!(pair.ctl(&["status", "grp:*"]).code, 0);
    pair.ctl(&["status", "grp:ga"]);
    assert_eq!(pair.ctl(&["status", "fatal"]).code, 3);
    assert_eq!(pair.ctl(&["status", "sleeper", "manual"]).code, 3);
    let out = pair.ctl(&["status", "nosuch"]);
    assert_eq!(
        (out.stdout.as_str(), out.code),
        ("nosuch: ERROR (no such process)\n", 4)
    );
    let out = pair.ctl(&["status", "nosuch:*"]);
    assert_eq!(
        (out.stdout.as_str(), out.code),
        ("nosuch: ERROR (no such group)\n", 4)
    );
    pair.ctl(&["status", "grp:nosuch"]);
    // 3 (a stopped process) wins over 4 (an unknown name).
    assert_eq!(pair.ctl(&["status", "manual", "nosuch"]).code, 3);
}

#[test]
fn start_stop_by_name() {
    let pair = running();
    let out = pair.ctl(&["start", "sleeper"]);
    assert_eq!(
        (out.stdout.as_str(), out.code),
        ("sleeper: ERROR (already started)\n", 0)
    );
    assert_eq!(pair.ctl(&["stop", "sleeper"]).stdout, "sleeper: stopped\n");
    let out = pair.ctl(&["stop", "sleeper"]);
    assert_eq!(
        (out.stdout.as_str(), out.code),
        ("sleeper: ERROR (not running)\n", 0)
    );
    assert_eq!(pair.ctl(&["start", "sleeper"]).stdout, "sleeper: started\n");
    pair.ctl_unordered(&["start", "sleeper", "manual"]);
    assert_eq!(pair.ctl(&["start", "nosuch"]).code, 1);
    assert_eq!(pair.ctl(&["stop", "nosuch"]).code, 1);
    pair.ctl(&["start", "nosuch:*"]);
    pair.ctl(&["stop", "nosuch:*"]);
    pair.ctl(&["start"]);
    pair.ctl(&["stop"]);
    pair.ctl(&["restart"]);
    pair.ctl(&["status"]);
}

#[test]
fn start_stop_restart_group_and_all() {
    let pair = running();
    pair.ctl_unordered(&["stop", "grp:*"]);
    pair.ctl(&["status"]);
    pair.ctl_unordered(&["start", "grp:*"]);
    let out = pair.ctl_unordered(&["restart", "grp:*"]);
    assert_eq!(
        out.stdout,
        "grp:ga: stopped\ngrp:gb: stopped\ngrp:ga: started\ngrp:gb: started\n"
    );
    pair.ctl(&["restart", "grp:ga"]);
    pair.ctl(&["restart", "sleeper"]);
    pair.ctl_unordered(&["stop", "all"]);
    assert_eq!(pair.ctl(&["status"]).code, 3);
    pair.ctl_unordered(&["start", "all"]);
    pair.ctl_unordered(&["restart", "all"]);
    assert_eq!(pair.ctl(&["status"]).code, 0);
}

#[test]
fn start_spawn_errors() {
    let pair = Quad::start(
        "
[program:badcmd]
command=/nonexistent/bin/x
autostart=false

[program:notexec]
command=/etc/passwd
autostart=false

[program:quick]
command=sh -c 'exit 1'
startsecs=2
autostart=false
",
    );
    let out = pair.ctl(&["start", "badcmd"]);
    assert_eq!(
        (out.stdout.as_str(), out.code),
        ("badcmd: ERROR (no such file)\n", 1)
    );
    let out = pair.ctl(&["start", "notexec"]);
    assert_eq!(out.code, 1);
    let out = pair.ctl(&["start", "quick"]);
    assert_eq!(
        (out.stdout.as_str(), out.code),
        ("quick: ERROR (spawn error)\n", 7)
    );
    // The command is checked before spawning: no state change, no spawn attempt.
    let out = pair.ctl(&["status", "badcmd", "notexec"]);
    assert_eq!(
        out.stdout,
        "badcmd                           STOPPED   Not started\n\
         notexec                          STOPPED   Not started\n"
    );
}

#[test]
fn signal() {
    let pair = Quad::start(
        "
[program:hup]
command=sh -c 'trap \"echo got-hup\" HUP; echo ready; while :; do sleep 0.1; done'
startsecs=0

[program:manual]
command=sleep 1000
autostart=false
",
    );
    pair.wait_for_state("hup", "RUNNING");
    let out = pair.ctl(&["signal", "HUP", "hup"]);
    assert_eq!(out.stdout, "hup: signalled\n");
    pair.daemons(|d| wait_for_tail(d, "hup", "got-hup"));
    pair.ctl(&["tail", "hup"]);
    pair.ctl(&["signal", "SIGHUP", "all"]);
    assert_eq!(pair.ctl(&["signal", "BOGUS", "hup"]).code, 1);
    assert_eq!(pair.ctl(&["signal", "HUP", "manual"]).code, 7);
    pair.ctl(&["signal", "HUP", "nosuch"]);
    pair.ctl(&["signal", "HUP"]);
    pair.wait_for_state("hup", "RUNNING");
}

/// Polls `name`'s stdout log until it shows `text` (a child's output reaches its log
/// asynchronously).
#[track_caller]
fn wait_for_tail(d: &Daemon, name: &str, text: &str) {
    d.wait_for_log_text("supervisor.tailProcessStdoutLog", name, text);
}

#[test]
fn pid() {
    let pair = running();
    let out = pair.ctl(&["pid"]);
    assert_eq!(out.stdout, "<pid>\n");
    pair.each(|m| assert_eq!(m.ctl(&["pid"]).stdout.trim(), m.daemon.pid().to_string()));
    pair.ctl(&["pid", "sleeper"]);
    pair.ctl(&["pid", "grp:ga", "sleeper"]);
    assert_eq!(pair.ctl(&["pid", "manual"]).stdout, "0\n");
    pair.ctl(&["pid", "all"]);
    pair.ctl(&["pid", "nosuch"]);
}

const CHATTY: &str = "
[program:chatty]
command=sh -c 'echo out-one; echo err-one >&2; echo out-two; echo err-two >&2; exec sleep 1000'
startsecs=0

[program:quiet]
command=sleep 1000
startsecs=0
stdout_logfile=NONE
";

fn chatty() -> Quad {
    let pair = Quad::start(CHATTY);
    pair.wait_for_state("chatty", "RUNNING");
    pair.wait_for_state("quiet", "RUNNING");
    pair.daemons(|d| wait_for_tail(d, "chatty", "out-two"));
    pair
}

#[test]
fn tail() {
    let pair = chatty();
    assert_eq!(pair.ctl(&["tail", "chatty"]).stdout, "out-one\nout-two\n\n");
    pair.ctl(&["tail", "-5", "chatty"]);
    pair.ctl(&["tail", "-100", "chatty", "stdout"]);
    pair.daemons(|d| d.wait_for_log_text("supervisor.tailProcessStderrLog", "chatty", "err-two"));
    pair.ctl(&["tail", "chatty", "stderr"]);
    pair.ctl(&["tail", "-4", "chatty", "stderr"]);
    pair.ctl(&["tail", "chatty", "bogus"]);
    pair.ctl(&["tail", "-x", "chatty"]);
    pair.ctl(&["tail"]);
    pair.ctl(&["tail", "chatty", "stdout", "extra"]);
    pair.ctl(&["tail", "quiet"]);
    pair.ctl(&["tail", "nosuch"]);
}

#[test]
fn tail_follow() {
    let pair = chatty();
    let out = pair.ctl_until(&["tail", "-f", "chatty"], "out-two\n");
    assert_eq!(out, "==> Press Ctrl-C to exit <==\nout-one\nout-two\n");
    pair.ctl_until(&["tail", "-f", "chatty", "stderr"], "err-two\n");
}

#[test]
fn clear() {
    let pair = chatty();
    assert_eq!(pair.ctl(&["clear", "chatty"]).stdout, "chatty: cleared\n");
    assert_eq!(pair.ctl(&["tail", "chatty"]).stdout, "\n");
    pair.ctl(&["clear", "all"]);
    pair.ctl(&["clear", "nosuch"]);
    pair.ctl(&["clear"]);
}

#[test]
fn maintail() {
    let pair = Quad::start(
        "
[program:solo_program]
command=sleep 1000
startsecs=0
",
    );
    pair.wait_for_state("solo_program", "RUNNING");
    // The name is long enough for the last 100 bytes to start after the last line's timestamp.
    let out = pair.ctl(&["maintail", "-100"]);
    assert_eq!(
        out.stdout,
        "success: solo_program entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)\n\n"
    );
    pair.ctl(&["maintail"]);
    pair.ctl(&["maintail", "-x"]);
}

#[test]
fn avail() {
    let pair = Quad::start(
        "
[program:solo]
command=sleep 1000
startsecs=0
priority=7

[program:manual]
command=sleep 1000
autostart=false

[group:grp]
programs=ga,gb
priority=500

[program:ga]
command=sleep 1000
startsecs=0
priority=5

[program:gb]
command=sleep 1000
startsecs=0
",
    );
    pair.wait_for_state("solo", "RUNNING");
    let out = pair.ctl(&["avail"]);
    assert!(
        out.stdout
            .contains("grp:ga                           in use    auto      500:5\n"),
        "{out:?}"
    );
    pair.ctl(&["avail", "extra"]);
}

const BEFORE: &str = "
[program:keep]
command=sleep 1000
startsecs=0

[program:change]
command=sleep 1000
startsecs=0

[program:gone]
command=sleep 1000
startsecs=0
";

const AFTER: &str = "
[program:keep]
command=sleep 1000
startsecs=0

[program:change]
command=sleep 1001
startsecs=0

[program:fresh]
command=sleep 1000
startsecs=0
";

fn before() -> Quad {
    let pair = Quad::start(BEFORE);
    for name in ["keep", "change", "gone"] {
        pair.wait_for_state(name, "RUNNING");
    }
    pair
}

fn process_pid(d: &Daemon, name: &str) -> i64 {
    d.info(name).field("pid").int()
}

#[test]
fn reread_and_update() {
    let pair = before();
    let out = pair.ctl(&["reread"]);
    assert_eq!(out.stdout, "No config updates to processes\n");
    let keep = pair.daemons(|d| process_pid(d, "keep"));
    let change = pair.daemons(|d| process_pid(d, "change"));
    pair.rewrite_config(AFTER);
    let out = pair.ctl(&["reread"]);
    assert_eq!(
        out.stdout,
        "change: changed\nfresh: available\ngone: disappeared\n"
    );
    pair.ctl(&["avail"]);
    pair.ctl(&["update", "nosuch"]);
    let out = pair.ctl(&["update"]);
    assert_eq!(
        out.stdout,
        "gone: stopped\ngone: removed process group\nchange: stopped\nchange: updated process group\nfresh: added process group\n"
    );
    pair.wait_for_state("change", "RUNNING");
    pair.wait_for_state("fresh", "RUNNING");
    assert_eq!(
        pair.daemons(|d| process_pid(d, "keep")),
        keep,
        "unchanged keeps its pid"
    );
    let now = pair.daemons(|d| process_pid(d, "change"));
    assert!(
        now.iter().zip(&change).all(|(now, before)| now != before),
        "changed restarts"
    );
    pair.ctl(&["status"]);
    assert_eq!(pair.ctl(&["update"]).stdout, "");
    pair.ctl(&["reread"]);
}

#[test]
fn update_all_and_by_group() {
    let pair = before();
    pair.rewrite_config(AFTER);
    pair.ctl(&["update", "fresh"]);
    pair.ctl(&["update", "all"]);
    pair.wait_for_state("change", "RUNNING");
    pair.ctl(&["status"]);
}

#[test]
fn add_and_remove() {
    let pair = before();
    pair.rewrite_config(AFTER);
    pair.ctl(&["reread"]);
    assert_eq!(
        pair.ctl(&["add", "fresh"]).stdout,
        "fresh: added process group\n"
    );
    let out = pair.ctl(&["add", "fresh"]);
    assert_eq!(
        (out.stdout.as_str(), out.code),
        ("ERROR: process group already active\n", 0)
    );
    pair.ctl(&["add", "nosuch"]);
    pair.wait_for_state("fresh", "RUNNING");
    assert_eq!(pair.ctl(&["remove", "gone"]).code, 1);
    pair.ctl(&["stop", "gone"]);
    assert_eq!(
        pair.ctl(&["remove", "gone"]).stdout,
        "gone: removed process group\n"
    );
    pair.ctl(&["remove", "gone"]);
    pair.ctl(&["add"]);
    pair.ctl(&["remove"]);
    pair.ctl(&["status"]);
}

#[test]
fn shutdown() {
    let mut pair = running();
    let children =
        pair.daemons(|d| ["sleeper", "grp:ga", "grp:gb"].map(|name| process_pid(d, name) as u32));
    let out = pair.ctl(&["shutdown"]);
    assert_eq!(out.stdout, "Shut down\n");
    for (m, children) in pair.members.iter_mut().zip(children) {
        let d = &mut m.daemon;
        let status = d.wait_exit(Duration::from_secs(20));
        assert!(
            !children.iter().any(|&p| is_live(p)),
            "children left running"
        );
        assert!(status.success(), "{status:?}");
        assert!(!d.dir().join("supervisord.pid").exists(), "pidfile left");
        assert!(!d.socket().exists(), "socket left");
    }
    pair.ctl(&["status"]);
    pair.ctl(&["shutdown"]);
    pair.ctl(&["shutdown", "now"]);
}

#[test]
fn reload() {
    let pair = running();
    let before = pair.daemons(|d| process_pid(d, "sleeper"));
    assert_eq!(pair.ctl(&["reload"]).stdout, "Restarted supervisord\n");
    pair.daemons(|d| {
        // Same daemon process, new children.
        d.wait_for_log("supervisord started with pid", Duration::from_secs(10));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while d.rpc("supervisor.getState", &[]).is_err()
            || d.main_log().matches("supervisord started with pid").count() < 2
        {
            assert!(std::time::Instant::now() < deadline, "no restart");
            std::thread::sleep(Duration::from_millis(50));
        }
        d.wait_for_state("sleeper", "RUNNING", Duration::from_secs(20));
        assert_eq!(d.ctl(&["pid"]).stdout.trim(), d.pid().to_string());
    });
    let after = pair.daemons(|d| process_pid(d, "sleeper"));
    assert!(
        after
            .iter()
            .zip(&before)
            .all(|(after, before)| after != before),
        "processes restarted"
    );
    pair.ctl(&["status"]);
    pair.ctl(&["reload", "now"]);
}

#[test]
fn version_help_and_unknown_command() {
    let pair = running();
    assert_eq!(pair.ctl(&["version"]).stdout, "4.3.0\n");
    pair.ctl(&["version", "extra"]);
    pair.ctl(&["help"]);
    pair.ctl(&["help", "status"]);
    pair.ctl(&["help", "nosuch"]);
    assert_eq!(pair.ctl(&["frobnicate"]).code, 1);
    let rpc = pair.daemons(|d| d.rpc("supervisor.getAPIVersion", &[]).expect("rpc"));
    assert_eq!(rpc, [(); 4].map(|()| Value::Str("3.0".into())));
}

/// An inet server with basic auth; `password` is plain or `{SHA}<hex>`.
fn auth(password: &str) -> Quad {
    let pair = Quad::start(&format!(
        "
[inet_http_server]
port=127.0.0.1:{{port}}
username=alice
password={password}

[program:sleeper]
command=sleep 1000
startsecs=0
"
    ));
    pair.wait_for_state("sleeper", "RUNNING");
    pair
}

/// A step whose client is refused with a 401, compared after [`drop_auth_traceback`].
#[track_caller]
fn refused(pair: &Quad, args: &[&str]) -> Output {
    pair.compare(&format!("supervisorctl {}", args.join(" ")), |m| {
        drop_auth_traceback(m.ctl, m.ctl(args))
    })
}

const URL: &str = "http://127.0.0.1:{port}";

#[test]
fn auth_plain_password() {
    let pair = auth("s3cret");
    let ok = pair.ctl(&["-s", URL, "-u", "alice", "-p", "s3cret", "status"]);
    assert_eq!(ok.code, 0);
    let bad = refused(&pair, &["-s", URL, "-u", "alice", "-p", "wrong", "status"]);
    assert_eq!(bad.code, 1);
    assert_eq!(bad.stdout, "Server requires authentication\n");
    refused(&pair, &["-s", URL, "version"]);
}

#[test]
fn auth_sha_password() {
    // sha1("s3cret")
    let pair = auth("{SHA}fef341f85d87439e7d91a2d465b9871ef66b5e98");
    let good = pair.ctl(&["-s", URL, "-u", "alice", "-p", "s3cret", "pid", "sleeper"]);
    assert_eq!(good.code, 0, "{good:?}");
    let bad = refused(
        &pair,
        &["-s", URL, "-u", "alice", "-p", "nope", "pid", "sleeper"],
    );
    assert_eq!(bad.code, 1, "{bad:?}");
}

/// A named log file appears with the program's first spawn, as in Python: before that (and
/// after a spawn error) reading it answers NO_FILE and `tail` says `no log file`.
const NEVER_RUN: &str = "
[program:silent]
command=sh -c 'echo hello; exec sleep 1000'
autostart=false
startsecs=0
stdout_logfile=%(here)s/silent.out

[program:missing]
command=/nonexistent/program
startretries=0
stdout_logfile=%(here)s/missing.out
";

#[test]
fn named_logs_appear_with_the_first_spawn() {
    let pair = Quad::start(NEVER_RUN);
    pair.wait_for_state("missing", "FATAL");
    let calls: [(&str, &[Value]); 4] = [
        (
            "supervisor.readProcessStdoutLog",
            &[Value::Int(0), Value::Int(0)],
        ),
        (
            "supervisor.readProcessStdoutLog",
            &[Value::Int(-5), Value::Int(5)],
        ),
        (
            "supervisor.tailProcessStdoutLog",
            &[Value::Int(-5), Value::Int(0)],
        ),
        (
            "supervisor.tailProcessStdoutLog",
            &[Value::Int(0), Value::Int(100)],
        ),
    ];
    for name in ["silent", "missing"] {
        for (method, args) in calls {
            let mut params = vec![Value::Str(name.into())];
            params.extend_from_slice(args);
            rpc_same(&pair, &format!("{method}({name}, {args:?})"), |d| {
                format!("{:?}", d.rpc(method, &params))
            });
        }
        let exists = pair.daemons(|d| d.dir().join(format!("{name}.out")).exists());
        assert_eq!(exists, [false; 4], "{name}.out exists");
    }
    assert_eq!(pair.ctl(&["tail", "silent"]).code, 1);
    pair.ctl(&["clear", "silent"]);
    pair.ctl(&["start", "silent"]);
    pair.daemons(|d| wait_for_tail(d, "silent", "hello"));
    pair.ctl(&["tail", "silent"]);
}

/// Compares what `f` makes of each daemon (normalised) across the quad's four daemons.
#[track_caller]
fn rpc_same(pair: &Quad, what: &str, f: impl Fn(&Daemon) -> String + Sync) {
    pair.compare(what, |m| Output {
        stdout: f(&m.daemon),
        stderr: String::new(),
        code: 0,
    });
}

/// `start` on a process that is still stopping spawns nothing: Python warns `already running`
/// and answers ABNORMAL_TERMINATION at once; the process keeps stopping with the same pid.
#[test]
fn start_while_stopping() {
    let pair = Quad::start(
        "
[program:stubborn]
command=sh -c \"trap 'echo got-term' TERM; while :; do sleep 0.1; done\"
startsecs=1
stopwaitsecs=5
",
    );
    pair.wait_for_state("stubborn", "RUNNING");
    let pids = pair.daemons(|d| d.info("stubborn").field("pid").int());
    pair.daemons(|d| {
        d.rpc(
            "supervisor.stopProcess",
            &[Value::Str("stubborn".into()), Value::Bool(false)],
        )
        .unwrap()
    });
    let started = std::time::Instant::now();
    assert_eq!(
        pair.ctl(&["start", "stubborn"]).stdout,
        "stubborn: ERROR (abnormal termination)\n"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answered at once"
    );
    pair.daemons(|d| {
        d.wait_for_log(
            "WARN process 'stubborn' already running",
            Duration::from_secs(5),
        )
    });
    let after = pair.daemons(|d| {
        let info = d.info("stubborn");
        (
            info.field("statename").str().to_owned(),
            info.field("pid").int(),
        )
    });
    assert_eq!(after, pids.map(|pid| ("STOPPING".to_owned(), pid)));
}

/// `signalProcess` accepts exactly Python's `SIGNUMS`: 1..=31, 34 and 64, and by accident 0,
/// 1 and 2 through `SIG_DFL`, `SIG_IGN`, `SIG_BLOCK`, `SIG_SETMASK`; booleans are `int()`ed.
#[test]
fn signal_numbers_and_names_like_python() {
    let pair = Pair::start(
        "
[program:deaf]
command=python3 -c \"import signal, time; [signal.signal(s, signal.SIG_IGN) for s in (1, 2, 34, 64)]; time.sleep(1000)\"
startsecs=1
",
    );
    pair.wait_for_state("deaf", "RUNNING");
    let signals = [
        Value::Str("0".into()),
        Value::Int(0),
        Value::Str("RTMIN".into()),
        Value::Str("SIGRTMAX".into()),
        Value::Str("35".into()),
        Value::Str("_DFL".into()),
        Value::Str("SIG_IGN".into()),
        Value::Str("_block".into()),
        Value::Str("SIG_SETMASK".into()),
        Value::Str("DFL".into()),
        Value::Str("SIGSIGHUP".into()),
        Value::Bool(true),
    ];
    for signal in signals {
        let params = [Value::Str("deaf".into()), signal.clone()];
        let (py, ours) = pair.both(|d| format!("{:?}", d.rpc("supervisor.signalProcess", &params)));
        assert_same(&format!("signalProcess(deaf, {signal:?})"), &py, &ours);
    }
    pair.wait_for_state("deaf", "RUNNING");
}

/// Arguments Python takes loosely: `wait` by truthiness, names that are numbers.
#[test]
fn loose_argument_types_like_python() {
    let pair = Pair::start(
        "
[program:manual]
command=sleep 1000
autostart=false
startsecs=0
",
    );
    let s = |v: &str| Value::Str(v.into());
    let calls: Vec<(&str, Vec<Value>)> = vec![
        ("supervisor.stopProcess", vec![s("manual"), s("no")]),
        ("supervisor.stopProcessGroup", vec![s("manual"), s("x")]),
        ("supervisor.startProcess", vec![s("manual"), s("")]),
        ("supervisor.startProcess", vec![s("manual"), s("yes")]),
        (
            "supervisor.stopProcess",
            vec![s("manual"), Value::Array(vec![])],
        ),
        ("supervisor.stopProcess", vec![s("manual"), Value::Int(1)]),
        ("supervisor.addProcessGroup", vec![Value::Int(5)]),
        ("supervisor.removeProcessGroup", vec![Value::Int(5)]),
        ("supervisor.removeProcessGroup", vec![Value::Bool(true)]),
        ("supervisor.readLog", vec![Value::Bool(true), Value::Int(3)]),
    ];
    for (method, params) in calls {
        let (py, ours) = pair.both(|d| d.normalise(&format!("{:?}", d.rpc(method, &params))));
        assert_same(&format!("{method}({params:?})"), &py, &ours);
    }
}

/// A log file that cannot be opened at spawn is a spawn error, as in Python: BACKOFF, FATAL,
/// and the reason in `status`.
#[test]
fn unopenable_log_file_is_a_spawn_error() {
    let pair = Quad::start(
        "
[program:bad]
command=sleep 1000
stdout_logfile=%(here)s
startretries=1
",
    );
    pair.wait_for_state("bad", "FATAL");
    assert_eq!(
        pair.ctl(&["status", "bad"]).stdout,
        "bad                              FATAL     unknown error making dispatchers for 'bad': EISDIR\n"
    );
}
