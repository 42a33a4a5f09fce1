//! The seed's Supervisor post, replayed with only our binaries: `echo_supervisord_conf >` a
//! file, the post's `[inet_http_server]` (user / 123) and qrd programs added, `supervisord -c`
//! (daemonized), then `supervisorctl` asking for the username and password, `status`,
//! `update` (a program added meanwhile), `reload`, `shutdown`, typed on a real pty.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::{is_live, normalise, pyref};

/// Kills the daemon named in the pidfile (and so its children) if the test ends early.
struct Guard {
    pidfile: PathBuf,
}

impl Guard {
    fn pid(&self) -> Option<i32> {
        fs::read_to_string(&self.pidfile).ok()?.trim().parse().ok()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The sample config as the post edits it, with every path in `dir` and the inet server on
/// `port`.
fn seed_config(dir: &Path, port: u16) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_echo_supervisord_conf"))
        .output()
        .expect("echo_supervisord_conf");
    assert!(out.status.success());
    let d = dir.display();
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .replace("/tmp/supervisor.sock", &format!("{d}/supervisor.sock"))
        .replace("/tmp/supervisord.log", &format!("{d}/supervisord.log"))
        .replace("/tmp/supervisord.pid", &format!("{d}/supervisord.pid"))
        .replace(";childlogdir=/tmp", &format!("childlogdir={d}"))
        .replace(";[inet_http_server]", "[inet_http_server]")
        .replace(";port=127.0.0.1:9001", &format!("port=127.0.0.1:{port}"))
        .replace(";username=user", "username=user")
        .replace(";password=123", "password=123")
        .replace(
            &format!("serverurl=unix://{d}/supervisor.sock"),
            &format!("serverurl=http://127.0.0.1:{port}"),
        )
        + &format!(
            "
[program:qrd]
command = sleep 1000
directory = {d}
autostart = true
autorestart = true
startsecs = 1
startretries = 3
stdout_logfile = {d}/qrd.log
stderr_logfile = {d}/qrd.log
"
        )
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn seed_post_with_only_our_binaries() {
    let dir = tempfile::Builder::new()
        .prefix("seed")
        .tempdir()
        .expect("tempdir");
    let port = free_port();
    let conf = dir.path().join("supervisord.conf");
    fs::write(&conf, seed_config(dir.path(), port)).expect("write config");
    let guard = Guard {
        pidfile: dir.path().join("supervisord.pid"),
    };

    // `supervisord -c /etc/supervisord.conf`: daemonizes, the launcher exits 0.
    let launched = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-c")
        .arg(&conf)
        .current_dir(dir.path())
        .status()
        .expect("supervisord");
    assert!(launched.success());
    wait_until("pidfile written", Duration::from_secs(20), || {
        guard.pid().is_some()
    });
    let daemon = guard.pid().expect("pid");

    // A non-interactive ctl is told the server needs credentials, and exits 1.
    let ctl = env!("CARGO_BIN_EXE_supervisorctl");
    let out = Command::new(ctl)
        .arg("-c")
        .arg(&conf)
        .arg("status")
        .output()
        .expect("supervisorctl status");
    assert_eq!(
        (
            String::from_utf8_lossy(&out.stdout).as_ref(),
            out.status.code()
        ),
        ("Server requires authentication\n", Some(1))
    );
    wait_until("qrd RUNNING", Duration::from_secs(20), || {
        let out = Command::new(ctl)
            .arg("-c")
            .arg(&conf)
            .args(["-u", "user", "-p", "123", "status", "qrd"])
            .output()
            .expect("status");
        String::from_utf8_lossy(&out.stdout).contains("RUNNING")
    });

    // The program the post adds next, picked up by `update` in the shell.
    let mut text = fs::read_to_string(&conf).expect("config");
    text += "\n[program:qrdbeat]\ncommand = sleep 1001\npriority = 999\nstartsecs = 0\n";
    fs::write(&conf, text).expect("append qrdbeat");

    let steps = r#"[
        {"expect": "Username:"}, {"send": "user\r"},
        {"expect": "Password:"}, {"send": "123\r"},
        {"expect": "supervisor> "}, {"send": "help\r"},
        {"expect": "version"}, {"expect": "supervisor> "}, {"send": "update\r"},
        {"expect": "qrdbeat: added process group"}, {"expect": "supervisor> "}, {"send": "reload\r"},
        {"expect": "Really restart the remote supervisord process y/N? "}, {"send": "y\r"},
        {"expect": "Restarted supervisord"},
        {"send": "status\r", "until": "qrdbeat   "},
        {"expect": "supervisor> "}, {"send": "shutdown\r"},
        {"expect": "Really shut the remote supervisord process down y/N? "}, {"send": "y\r"},
        {"expect": "Shut down"}, {"expect": "supervisor> "}, {"send": "quit\r"},
        {"exit": true}
    ]"#;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/pty_screen.py");
    let mut child = Command::new(pyref().join("bin/python"))
        .arg(script)
        .arg(ctl)
        .arg("-c")
        .arg(&conf)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pty_screen.py");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), steps.as_bytes())
        .expect("steps");
    let out = child.wait_with_output().expect("pty_screen.py");
    let screen = normalise(&String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}\n{screen}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        screen.starts_with(
            "Server requires authentication\nUsername:user\nPassword:\n\n\
             qrd                              RUNNING   pid <pid>, uptime <uptime>\n\
             supervisor> help\n\ndefault commands (type help <topic>):\n"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("supervisor> update\nqrdbeat: added process group\nsupervisor> reload\n"),
        "{screen}"
    );
    assert!(
        screen.contains("down y/N? y\nShut down\nsupervisor> quit\n"),
        "{screen}"
    );

    // The daemon is gone, its pidfile removed, and nothing it ran is left.
    wait_until("daemon exits", Duration::from_secs(20), || {
        !is_live(daemon as u32)
    });
    assert!(!guard.pidfile.exists(), "pidfile left behind");
}
