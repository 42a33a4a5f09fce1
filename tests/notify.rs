//! systemd `Type=notify`: our daemon talks to a real unix datagram socket standing in for
//! systemd (that socket is the whole protocol): READY=1 after the autostarts, STATUS= counts,
//! WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on
//! SIGTERM; children do not inherit the variables.

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The messages received until one contains `until` (inclusive), within 20 s.
#[track_caller]
fn receive_until(sock: &UnixDatagram, until: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {until:?} within 20 s; got {seen:?}");
        sock.set_read_timeout(Some(left)).expect("timeout");
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg.contains(until);
            seen.push(msg);
            if done {
                return;
            }
        }
    }
}

#[test]
fn notify_protocol_in_order() {
    let dir = tempfile::Builder::new()
        .prefix("notify")
        .tempdir()
        .expect("tempdir");
    let here = dir.path();
    let socket = here.join("notify.sock");
    let systemd = UnixDatagram::bind(&socket).expect("bind the stand-in for systemd");
    fs::write(
        here.join("supervisord.conf"),
        "[supervisord]\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n\
         childlogdir=%(here)s\n\
         [unix_http_server]\nfile=%(here)s/s.sock\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         [program:a]\ncommand=sh -c 'env > %(here)s/env.txt; exec sleep 1000'\nstartsecs=0\n\
         [program:b]\ncommand=sleep 1000\nstartsecs=0\n",
    )
    .expect("config");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-n")
        .arg("-c")
        .arg(here.join("supervisord.conf"))
        .env("NOTIFY_SOCKET", &socket)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("supervisord");
    let pid = Pid::from_raw(daemon.id() as i32);
    struct Kill(Pid);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = kill(self.0, Signal::SIGKILL);
        }
    }
    let _guard = Kill(pid);

    let mut seen = Vec::new();
    receive_until(&systemd, "READY=1", &mut seen);
    let ready = seen.last().expect("READY").clone();
    assert!(ready.starts_with("READY=1\nSTATUS="), "{ready:?}");
    receive_until(&systemd, "STATUS=2 RUNNING", &mut seen);
    // Two watchdog pings at ~200 ms.
    receive_until(&systemd, "WATCHDOG=1", &mut seen);
    receive_until(&systemd, "WATCHDOG=1", &mut seen);

    kill(pid, Signal::SIGHUP).expect("SIGHUP");
    let before = seen.len();
    receive_until(&systemd, "RELOADING=1", &mut seen);
    receive_until(&systemd, "READY=1", &mut seen);
    assert!(
        !seen[before..].iter().any(|m| m.contains("STOPPING=1")),
        "{seen:?}"
    );

    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    receive_until(&systemd, "STOPPING=1", &mut seen);
    let deadline = Instant::now() + Duration::from_secs(20);
    while daemon.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "daemon still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let env = fs::read_to_string(here.join("env.txt")).expect("child env");
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        assert!(!env.contains(var), "a child inherited {var}");
    }
}
