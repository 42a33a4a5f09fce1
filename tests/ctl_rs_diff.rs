//! Our `supervisorctl` against Python's, command by command: every step runs on a [`Quad`] (both
//! clients against both daemons, compared with (Python daemon, Python ctl)), or, where no live
//! daemon is needed, on an [`Offline`] dir with both clients. Bad names, missing and extra
//! arguments, state errors, spawn errors, logs, config changes, help, usage errors, servers that
//! are missing, refusing or asking for a password, shutdown and reload.
//!
//! The `assert_eq!`s pin Python's output where it documents the case; the comparison itself is
//! in `Quad::ctl`/`Offline::ctl`. One-shot runs have stdin on /dev/null.

use std::time::Duration;

use crate::ctl_diff::{running, RUNNING};
use crate::support::quad::{drop_auth_traceback, drop_traceback_location, Offline, Quad};
use crate::support::{run_ctl, run_ctl_spawned, Ctl, Daemon, Impl, Output};

/// Asserts stdout and exit code of a compared step.
#[track_caller]
fn pin(out: &Output, stdout: &str, code: i32) {
    assert_eq!((out.stdout.as_str(), out.code), (stdout, code), "{out:?}");
}

#[test]
fn unknown_names_and_groups() {
    let q = running();
    pin(
        &q.ctl(&["start", "nosuch"]),
        "nosuch: ERROR (no such process)\n",
        1,
    );
    pin(
        &q.ctl(&["stop", "nosuch"]),
        "nosuch: ERROR (no such process)\n",
        1,
    );
    q.ctl(&["restart", "nosuch"]);
    q.ctl(&["signal", "HUP", "nosuch"]);
    q.ctl(&["clear", "nosuch"]);
    q.ctl(&["tail", "nosuch"]);
    q.ctl(&["tail", "nosuch", "stderr"]);
    q.ctl(&["fg", "nosuch"]);
    q.ctl(&["pid", "nosuch"]);
    pin(
        &q.ctl(&["start", "nosuch:*"]),
        "nosuch: ERROR (no such group)\n",
        2,
    );
    pin(
        &q.ctl(&["stop", "nosuch:*"]),
        "nosuch: ERROR (no such group)\n",
        1,
    );
    q.ctl(&["signal", "HUP", "nosuch:*"]);
    q.ctl(&["restart", "nosuch:*"]);
    q.ctl(&["clear", "nosuch:*"]);
    q.ctl(&["start", "grp:nosuch"]);
    q.ctl(&["stop", "grp:nosuch"]);
    q.ctl(&["signal", "HUP", "grp:nosuch"]);
    q.ctl(&["tail", "grp:nosuch"]);
    // Several names: each answered in turn, the last failure's status wins.
    q.ctl(&["start", "nosuch", "sleeper"]);
    q.ctl(&["stop", "nosuch", "manual"]);
    q.ctl(&["status", "nosuch", "grp:*"]);
}

#[test]
fn missing_and_extra_arguments() {
    let q = running();
    pin(
        &q.ctl(&["start"]),
        "Error: start requires a process name\n\
         start <name>\t\tStart a process\n\
         start <gname>:*\t\tStart all processes in a group\n\
         start <name> <name>\tStart multiple processes or groups\n\
         start all\t\tStart all processes\n",
        2,
    );
    q.ctl(&["stop"]);
    q.ctl(&["restart"]);
    q.ctl(&["signal"]);
    q.ctl(&["signal", "HUP"]);
    q.ctl(&["clear"]);
    q.ctl(&["tail"]);
    q.ctl(&["tail", "-f"]);
    q.ctl(&["fg"]);
    q.ctl(&["add"]);
    q.ctl(&["remove"]);
    // Too many.
    q.ctl(&["tail", "sleeper", "stdout", "extra"]);
    q.ctl(&["tail", "-5", "sleeper", "stdout", "extra"]);
    q.ctl(&["tail", "-f", "sleeper", "stdout", "extra"]);
    q.ctl(&["maintail", "-5", "extra"]);
    q.ctl(&["maintail", "a", "b"]);
    pin(
        &q.ctl(&["fg", "sleeper", "manual"]),
        "ERROR: too many process names supplied\n",
        1,
    );
    // Bad channel, bad option.
    pin(
        &q.ctl(&["tail", "sleeper", "bogus"]),
        "Error: bad channel 'bogus'\n",
        1,
    );
    q.ctl(&["tail", "-x", "sleeper"]);
    q.ctl(&["tail", "-x", "sleeper", "stderr"]);
    q.ctl(&["tail", "-f", "sleeper", "bogus"]);
    q.ctl(&["maintail", "-x"]);
    q.ctl(&["maintail", "bogus"]);
    // Commands that take no arguments.
    for cmd in ["avail", "reread", "version", "shutdown", "reload"] {
        q.ctl(&[cmd, "extra"]);
    }
}

#[test]
fn process_state_errors_pid_and_version() {
    let q = running();
    pin(
        &q.ctl(&["start", "sleeper"]),
        "sleeper: ERROR (already started)\n",
        0,
    );
    q.ctl_unordered(&["start", "grp:*"]);
    q.ctl_unordered(&["start", "all"]);
    q.wait_for_state("manual", "RUNNING");
    q.ctl(&["stop", "manual"]);
    pin(
        &q.ctl(&["stop", "manual"]),
        "manual: ERROR (not running)\n",
        0,
    );
    pin(
        &q.ctl(&["signal", "HUP", "manual"]),
        "manual: ERROR (not running)\n",
        7,
    );
    q.ctl(&["restart", "manual"]);
    q.wait_for_state("manual", "RUNNING");
    q.ctl(&["stop", "manual"]);
    pin(&q.ctl(&["fg", "manual"]), "ERROR: process not running\n", 1);
    pin(
        &q.ctl(&["signal", "BOGUS", "sleeper"]),
        "sleeper: ERROR (bad signal name)\n",
        1,
    );
    q.ctl(&["signal", "SIGBOGUS", "grp:*"]);
    q.ctl(&["signal", "999", "sleeper"]);
    q.ctl_unordered(&["signal", "CONT", "grp:*"]);
    // pid: the daemon's, each process's, 0 for a stopped one.
    let daemon_pid = q.ctl(&["pid"]);
    pin(&daemon_pid, "<pid>\n", 0);
    q.each(|m| assert_eq!(m.ctl(&["pid"]).stdout.trim(), m.daemon.pid().to_string()));
    q.ctl(&["pid", "all"]);
    q.ctl(&["pid", "sleeper", "manual"]);
    q.ctl(&["pid", "grp:*"]);
    q.ctl(&["pid", "nosuch", "sleeper"]);
    pin(&q.ctl(&["version"]), "4.3.0\n", 0);
    q.ctl(&["open", "unix://{here}/s.sock"]);
    q.ctl(&["status"]);
}

#[test]
fn spawn_errors() {
    let q = Quad::start(
        "
[program:sleeper]
command=sleep 1000
startsecs=0

[program:badcmd]
command=/nonexistent/bin/x
autostart=false

[program:notexec]
command=/etc/passwd
autostart=false

[program:isdir]
command=/tmp
autostart=false

[program:unfound]
command=no-such-command-anywhere
autostart=false
",
    );
    q.wait_for_state("sleeper", "RUNNING");
    pin(
        &q.ctl(&["start", "badcmd"]),
        "badcmd: ERROR (no such file)\n",
        1,
    );
    pin(
        &q.ctl(&["start", "notexec"]),
        "notexec: ERROR (file is not executable)\n",
        1,
    );
    q.ctl(&["start", "isdir"]);
    q.ctl(&["start", "unfound"]);
    q.ctl(&["start", "badcmd", "notexec", "sleeper"]);
    q.ctl(&["restart", "badcmd"]);
    q.ctl_unordered(&["start", "all"]);
    q.ctl(&["status"]);
}

/// `maintail -100` starts inside the last line's text, after its (unnormalised) timestamp.
const CHATTY: &str = "
[program:chatty_program]
command=sh -c 'echo out-one; echo err-one >&2; echo out-two; echo err-two >&2; exec sleep 1000'
startsecs=0
";

#[test]
fn tail_maintail_and_clear() {
    let q = Quad::start(CHATTY);
    let name = "chatty_program";
    q.wait_for_state(name, "RUNNING");
    q.daemons(|d| {
        d.wait_for_log_text("supervisor.tailProcessStdoutLog", name, "out-two");
        d.wait_for_log_text("supervisor.tailProcessStderrLog", name, "err-two");
    });
    pin(&q.ctl(&["tail", name]), "out-one\nout-two\n\n", 0);
    pin(
        &q.ctl(&["tail", "-100", name, "stderr"]),
        "err-one\nerr-two\n\n",
        0,
    );
    q.ctl(&["tail", "-3", name]);
    q.ctl(&["tail", "-0", name]);
    q.ctl(&["tail", "-f", name, "stdout", "-5"]);
    let out = q.ctl_until(&["tail", "-f", name], "out-two\n");
    assert_eq!(out, "==> Press Ctrl-C to exit <==\nout-one\nout-two\n");
    q.ctl_until(&["tail", "-f", name, "stderr"], "err-two\n");
    q.ctl(&["maintail"]);
    pin(
        &q.ctl(&["maintail", "-100"]),
        "ccess: chatty_program entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)\n\n",
        0,
    );
    q.ctl_until(&["maintail", "-f"], "(startsecs)\n");
    pin(&q.ctl(&["clear", name]), "chatty_program: cleared\n", 0);
    pin(&q.ctl(&["tail", name]), "\n", 0);
    q.ctl(&["tail", name, "stderr"]);
    q.ctl(&["clear", "all"]);
    q.ctl(&["clear", name, "nosuch"]);
    q.ctl_until(&["tail", "-f", name], "<==\n");
}

/// Three groups and a lone program, then: `g1` changed, `g2` gone, `g3` new, `solo` as it was.
const GROUPS_BEFORE: &str = "
[group:g1]
programs=a

[program:a]
command=sleep 1000
startsecs=0

[group:g2]
programs=b

[program:b]
command=sleep 1000
startsecs=0

[program:solo]
command=sleep 1000
startsecs=0
";

const GROUPS_AFTER: &str = "
[group:g1]
programs=a

[program:a]
command=sleep 1001
startsecs=0

[group:g3]
programs=c

[program:c]
command=sleep 1000
startsecs=0

[program:solo]
command=sleep 1000
startsecs=0
";

#[test]
fn reread_and_update_groups() {
    let q = Quad::start(GROUPS_BEFORE);
    for name in ["g1:a", "g2:b", "solo"] {
        q.wait_for_state(name, "RUNNING");
    }
    pin(&q.ctl(&["reread"]), "No config updates to processes\n", 0);
    q.rewrite_config(GROUPS_AFTER);
    pin(
        &q.ctl(&["reread"]),
        "g1: changed\ng2: disappeared\ng3: available\n",
        0,
    );
    q.ctl(&["avail"]);
    pin(
        &q.ctl(&["update", "nosuch"]),
        "ERROR: no such group: nosuch\n",
        1,
    );
    pin(
        &q.ctl(&["update", "g1", "g3"]),
        "g1: stopped\ng1: updated process group\ng3: added process group\n",
        0,
    );
    q.wait_for_state("g1:a", "RUNNING");
    q.wait_for_state("g3:c", "RUNNING");
    q.ctl(&["reread"]);
    q.ctl(&["update", "g2", "nosuch"]);
    q.ctl(&["status"]);
    q.rewrite_config(GROUPS_BEFORE);
    q.ctl(&["reread"]);
    q.ctl(&["update", "all"]);
    for name in ["g1:a", "g2:b", "solo"] {
        q.wait_for_state(name, "RUNNING");
    }
    q.ctl(&["avail"]);
    q.ctl(&["status"]);
    pin(&q.ctl(&["update"]), "", 0);
}

#[test]
fn add_and_remove_errors() {
    let q = running();
    q.rewrite_config(&format!(
        "{RUNNING}
[program:extra]
command=sleep 1000
startsecs=0
"
    ));
    // Until `reread`, the daemon does not know the new section.
    pin(
        &q.ctl(&["add", "extra"]),
        "ERROR: no such process/group: extra\n",
        1,
    );
    q.ctl(&["reread"]);
    pin(
        &q.ctl(&["add", "grp"]),
        "ERROR: process group already active\n",
        0,
    );
    q.ctl(&["add", "nosuch", "extra"]);
    q.wait_for_state("extra", "RUNNING");
    pin(
        &q.ctl(&["remove", "grp"]),
        "ERROR: process/group still running: grp\n",
        1,
    );
    q.ctl_unordered(&["stop", "grp:*"]);
    q.ctl(&["remove", "grp", "nosuch"]);
    q.ctl(&["remove", "grp"]);
    q.ctl(&["add", "grp"]);
    q.ctl(&["add", "grp:ga"]);
    q.ctl(&["remove", "grp:ga"]);
    q.ctl(&["status"]);
}

/// Every command `help` lists.
const COMMANDS: &[&str] = &[
    "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
    "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
    "version",
];

#[test]
fn help_and_unknown_commands() {
    let o = Offline::new("");
    pin(
        &o.ctl(&["help"]),
        "\n\
         default commands (type help <topic>):\n\
         =====================================\n\
         add    exit      open  reload  restart   start   tail   \n\
         avail  fg        pid   remove  shutdown  status  update \n\
         clear  maintail  quit  reread  signal    stop    version\n\
         \n",
        0,
    );
    for cmd in COMMANDS.iter().chain(&["help", "EOF"]) {
        o.ctl(&["help", cmd]);
    }
    pin(&o.ctl(&["help", "nosuch"]), "*** No help on nosuch\n", 0);
    o.ctl(&["help", "start", "extra"]);
    pin(
        &o.ctl(&["frobnicate"]),
        "*** Unknown syntax: frobnicate\n",
        1,
    );
    o.ctl(&["frobnicate", "a", "b"]);
    o.ctl(&["quit"]);
    o.ctl(&["exit"]);
    o.ctl(&["open", "foo"]);
    o.ctl(&["open", "unix://{here}/nosock"]);
}

#[test]
fn usage_errors_and_dash_h() {
    let o = Offline::new("");
    let help = o.ctl_raw(&["-h"]);
    assert!(
        help.stdout
            .contains("Usage: supervisorctl [options] [action [arguments]]\n"),
        "{help:?}"
    );
    assert_eq!(o.ctl_raw(&["--help"]), help);
    assert_eq!(o.ctl_raw(&["-h", "status"]), help);
    let out = o.ctl(&["-s", "foo", "status"]);
    assert_eq!(
        (out.stderr.as_str(), out.code),
        (
            "Error: invalid value for -s 'foo': value 'foo' is not a URL\n\
             For help, use supervisorctl -h\n",
            2
        )
    );
    o.ctl_raw(&["-x"]);
    o.ctl_raw(&["--bogus", "status"]);
    o.ctl_raw(&["-c"]);
    o.ctl_raw(&["-c", "/nonexistent", "status"]);
    o.ctl_raw(&["-c", "/nonexistent"]);
    o.ctl(&["-u"]);
}

#[test]
fn config_without_supervisorctl_section() {
    let o = Offline::raw(
        "[supervisord]\n\
         logfile=%(here)s/supervisord.log\n\
         \n\
         [unix_http_server]\n\
         file=%(here)s/s.sock\n",
    );
    let out = o.ctl(&["status"]);
    assert_eq!(
        (out.stderr.as_str(), out.code),
        (
            "Error: .ini file does not include supervisorctl section\n\
             For help, use supervisorctl -h\n",
            2
        )
    );
    o.ctl(&["-s", "unix://{here}/s.sock", "status"]);
    o.ctl(&["help"]);
}

/// The commands that check the server first (`upcheck`), with arguments that would be valid.
const UPCHECKED: &[&[&str]] = &[
    &["status"],
    &["status", "x"],
    &["start", "x"],
    &["stop", "x"],
    &["restart", "x"],
    &["signal", "HUP", "x"],
    &["tail", "x"],
    &["tail", "-f", "x"],
    &["maintail"],
    &["maintail", "-f"],
    &["clear", "x"],
    &["pid"],
    &["version"],
    &["fg", "x"],
    &["start"],
];

#[test]
fn missing_socket() {
    let o = Offline::new("");
    pin(&o.ctl(&["status"]), "unix://<tmp>/s.sock no such file\n", 4);
    pin(
        &o.ctl(&["start", "x"]),
        "unix://<tmp>/s.sock no such file\n",
        7,
    );
    for args in UPCHECKED {
        o.ctl(args);
    }
    pin(
        &o.ctl(&["shutdown"]),
        "ERROR: unix://<tmp>/s.sock no such file (already shut down?)\n",
        1,
    );
}

#[test]
fn refused_connection() {
    let o = Offline::new("");
    let url = "http://127.0.0.1:{port}";
    pin(
        &o.ctl(&["-s", url, "status"]),
        "http://127.0.0.1:<port> refused connection\n",
        4,
    );
    for args in UPCHECKED {
        let mut full = vec!["-s", url];
        full.extend_from_slice(args);
        o.ctl(&full);
    }
    pin(
        &o.ctl(&["-s", url, "shutdown"]),
        "ERROR: http://127.0.0.1:<port> refused connection (already shut down?)\n",
        1,
    );
}

/// Commands that call the server without `upcheck`: Python's client reports the exception as
/// `error: <class '...'>, <message>: file: <its .py file> line: <n>`; ours prints the same class
/// and message without the interpreter's location (docs/compatibility.md), compared after
/// [`drop_traceback_location`].
#[test]
fn no_server_for_commands_without_upcheck() {
    let o = Offline::new("");
    let commands: &[&[&str]] = &[
        &["avail"],
        &["reread"],
        &["update"],
        &["add", "x"],
        &["remove", "x"],
        &["reload"],
    ];
    for args in commands {
        let out = o.ctl_adjusted(args, drop_traceback_location);
        assert_eq!(out.code, 1);
        let mut refused = vec!["-s", "http://127.0.0.1:{port}"];
        refused.extend_from_slice(args);
        o.ctl_adjusted(&refused, drop_traceback_location);
    }
}

/// A step whose client is refused with a 401, compared after [`drop_auth_traceback`].
#[track_caller]
fn unauthorized(q: &Quad, args: &[&str]) -> Output {
    q.compare(&format!("supervisorctl {}", args.join(" ")), |m| {
        drop_auth_traceback(m.ctl, m.ctl(args))
    })
}

#[test]
fn authentication_failures() {
    let q = Quad::start(
        "
[inet_http_server]
port=127.0.0.1:{port}
username=alice
password=s3cret

[program:sleeper]
command=sleep 1000
startsecs=0
",
    );
    q.wait_for_state("sleeper", "RUNNING");
    let url = "http://127.0.0.1:{port}";
    pin(
        &q.ctl(&["-s", url, "-u", "alice", "-p", "s3cret", "version"]),
        "4.3.0\n",
        0,
    );
    for creds in [
        &["-u", "alice", "-p", "wrong"][..],
        &["-u", "mallory", "-p", "s3cret"],
        &["-u", "alice"],
        &[],
    ] {
        for cmd in [
            &["status"][..],
            &["version"],
            &["avail"],
            &["stop", "sleeper"],
        ] {
            let mut args = vec!["-s", url];
            args.extend_from_slice(creds);
            args.extend_from_slice(cmd);
            let out = unauthorized(&q, &args);
            pin(&out, "Server requires authentication\n", 1);
        }
    }
    q.wait_for_state("sleeper", "RUNNING");
}

#[test]
fn shutdown_then_nothing_answers() {
    let mut q = Quad::start(
        "
[inet_http_server]
port=127.0.0.1:{port}

[program:sleeper]
command=sleep 1000
startsecs=0
",
    );
    q.wait_for_state("sleeper", "RUNNING");
    pin(&q.ctl(&["shutdown"]), "Shut down\n", 0);
    for m in &mut q.members {
        assert!(m.daemon.wait_exit(Duration::from_secs(20)).success());
    }
    pin(
        &q.ctl(&["shutdown"]),
        "ERROR: unix://<tmp>/s.sock no such file (already shut down?)\n",
        1,
    );
    pin(
        &q.ctl(&["-s", "http://127.0.0.1:{port}", "shutdown"]),
        "ERROR: http://127.0.0.1:<port> refused connection (already shut down?)\n",
        1,
    );
    q.ctl(&["status"]);
    q.ctl(&["-s", "http://127.0.0.1:{port}", "status"]);
    q.ctl(&["stop", "sleeper"]);
}

#[test]
fn reload_rereads_the_config() {
    let q = Quad::start(
        "
[program:sleeper]
command=sleep 1000
startsecs=0
",
    );
    q.wait_for_state("sleeper", "RUNNING");
    q.rewrite_config(
        "
[program:sleeper]
command=sleep 1000
startsecs=0

[program:fresh]
command=sleep 1000
startsecs=0
",
    );
    pin(&q.ctl(&["reload"]), "Restarted supervisord\n", 0);
    q.daemons(|d| {
        // The same daemon process comes back with the new config.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while d.rpc("supervisor.getState", &[]).is_err()
            || d.main_log().matches("supervisord started with pid").count() < 2
        {
            assert!(std::time::Instant::now() < deadline, "no restart");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    q.wait_for_state("sleeper", "RUNNING");
    q.wait_for_state("fresh", "RUNNING");
    q.ctl(&["status"]);
    q.ctl(&["avail"]);
    q.ctl(&["reread"]);
}

/// The harness runs Python's client through a fork server (see `support::run_ctl`): it must
/// answer exactly as the installed script run as a process of its own.
#[test]
fn python_ctl_fork_server_runs_like_the_script() {
    let d = Daemon::start(
        Impl::Python,
        "
[program:sleeper]
command=sh -c 'echo hello; exec sleep 1000'
startsecs=0
",
    );
    d.wait_for_state("sleeper", "RUNNING", Duration::from_secs(20));
    d.wait_for_log_text("supervisor.tailProcessStdoutLog", "sleeper", "hello");
    let conf = d.conf();
    let conf = conf.to_str().expect("utf-8");
    let cases: &[&[&str]] = &[
        &["-c", conf, "status"],
        &["-c", conf, "status", "nosuch"],
        &["-c", conf, "tail", "sleeper"],
        &["-c", conf, "pid", "sleeper"],
        &["-c", conf, "avail"],
        &["-c", conf, "help"],
        &["-c", conf, "frobnicate"],
        &["-c", conf, "start"],
        &["-c", conf, "-s", "unix:///nonexistent.sock", "avail"],
        &["-c", conf, "-s", "unix:///nonexistent.sock", "status"],
        &["-h"],
        &["-x"],
        &["-c", "/nonexistent"],
    ];
    for args in cases {
        let [forked, spawned] = [run_ctl, run_ctl_spawned].map(|run| {
            let out = run(Ctl::Python, d.dir(), args);
            d.normalise(&out.render())
        });
        crate::support::assert_same(&format!("{args:?} forked vs spawned"), &spawned, &forked);
    }
}
