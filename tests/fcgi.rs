//! `[fcgi-program:x]`: the daemon's socket handed to every process of the pool as fd 0, with
//! real processes (a small Python server accepting on fd 0) and real sockets. Where Python's
//! daemon runs the same scenario it does, to confirm the behaviour we share, or to pin down the
//! one we deliberately differ in (docs/compatibility.md). Every wait polls to a deadline.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::support::{pyref, Daemon, Impl, RpcError, Value};

const STATE_DEADLINE: Duration = Duration::from_secs(5);
/// How long one request may wait for an answer (it queues until a process accepts it).
const ANSWER_DEADLINE: Duration = Duration::from_secs(5);
const PROCESSES: [&str; 3] = ["web:web_0", "web:web_1", "web:web_2"];

/// A FastCGI-style server: accepts on fd 0 (whatever the socket's family) and answers every
/// request with its own process name. It says `ready` just before it first accepts.
const APP: &str = r#"import os, socket
listener = socket.socket(fileno=0)
name = os.environ["SUPERVISOR_PROCESS_NAME"].encode()
print("ready", flush=True)
while True:
    conn, _ = listener.accept()
    conn.recv(65536)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(name), name))
    conn.close()
"#;

/// The server script, in a directory of its own that outlives the daemon's.
struct App(TempDir);

impl App {
    fn new() -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("app.py"), APP).expect("write app.py");
        App(dir)
    }

    /// `[fcgi-program:web]` with three processes on `socket`, plus `extra` lines.
    fn section(&self, socket: &str, extra: &str) -> String {
        format!(
            "[fcgi-program:web]\n\
             socket={socket}\n\
             command={} {}\n\
             numprocs=3\n\
             process_name=%(program_name)s_%(process_num)s\n\
             startsecs=0\n\
             stopwaitsecs=2\n\
             {extra}\n",
            pyref().join("bin/python").display(),
            self.0.path().join("app.py").display(),
        )
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Sends one HTTP request on `stream` and returns the body of the answer.
fn ask(mut stream: impl Read + Write) -> io::Result<String> {
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    match answer.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_owned()),
        None => Err(io::Error::other(format!("not HTTP: {answer:?}"))),
    }
}

fn ask_tcp(port: u16) -> io::Result<String> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(ANSWER_DEADLINE))?;
    ask(stream)
}

fn ask_unix(path: &Path) -> io::Result<String> {
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(ANSWER_DEADLINE))?;
    ask(stream)
}

/// Waits until every process runs and is about to accept.
fn wait_running(d: &Daemon) {
    for name in PROCESSES {
        d.wait_for_state(name, "RUNNING", STATE_DEADLINE);
        d.wait_for_log_text("supervisor.tailProcessStdoutLog", name, "ready");
    }
}

/// The socket a process has as fd 0 (`socket:[inode]`), or what else it is.
fn fd0(d: &Daemon, name: &str) -> String {
    let pid = d.info(name).field("pid").int();
    fs::read_link(format!("/proc/{pid}/fd/0"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}

/// fd 0 of every process of the pool, which must be one and the same socket.
#[track_caller]
fn shared_socket(d: &Daemon) -> String {
    let fds: BTreeSet<String> = PROCESSES.iter().map(|n| fd0(d, n)).collect();
    assert_eq!(fds.len(), 1, "fd 0 differs between processes: {fds:?}");
    let fd = fds.into_iter().next().expect("one fd");
    assert!(fd.starts_with("socket:["), "fd 0 is {fd}, not a socket");
    fd
}

/// The three processes share one TCP port: many requests are all answered, by more than one of
/// them, and none of them has a stdin to write to.
fn tcp_pool(kind: Impl) {
    let app = App::new();
    let d = Daemon::start(kind, &app.section("tcp://127.0.0.1:{port}", ""));
    wait_running(&d);
    shared_socket(&d);
    let mut answered_by = BTreeSet::new();
    for i in 0..30 {
        let name = ask_tcp(d.port()).unwrap_or_else(|e| panic!("{kind:?}: request {i}: {e}"));
        assert!(
            PROCESSES.iter().any(|p| p.ends_with(&format!(":{name}"))),
            "{kind:?}: answered by {name:?}"
        );
        answered_by.insert(name);
    }
    assert!(
        answered_by.len() > 1,
        "{kind:?}: only {answered_by:?} answered"
    );
    let sent = d.rpc(
        "supervisor.sendProcessStdin",
        &[Value::Str("web:web_0".into()), Value::Str("x".into())],
    );
    assert!(
        matches!(&sent, Err(RpcError::Fault(20, s)) if s == "NO_FILE: web:web_0"),
        "{kind:?}: sendProcessStdin gave {sent:?}"
    );
}

#[test]
fn a_pool_shares_one_tcp_port() {
    tcp_pool(Impl::Ours);
}

#[test]
fn a_pool_shares_one_tcp_port_in_python() {
    tcp_pool(Impl::Python);
}

/// Ours keeps the socket while the group exists: stopping every process leaves it listening (a
/// request made meanwhile waits in the backlog and is answered after the start) and the
/// processes started again get the very same socket.
#[test]
fn stop_and_start_keep_the_socket() {
    let app = App::new();
    let d = Daemon::start(Impl::Ours, &app.section("tcp://127.0.0.1:{port}", ""));
    wait_running(&d);
    let before = shared_socket(&d);
    assert_eq!(d.ctl(&["stop", "web:*"]).code, 0);
    // Connected (the kernel queues it) while no process runs; answered after the start.
    let queued = TcpStream::connect(("127.0.0.1", d.port())).expect("still listening");
    queued
        .set_read_timeout(Some(ANSWER_DEADLINE))
        .expect("timeout");
    assert_eq!(d.ctl(&["start", "web:*"]).code, 0);
    let name = ask(queued).expect("queued request answered");
    assert!(name.starts_with("web_"), "answered by {name:?}");
    wait_running(&d);
    assert_eq!(shared_socket(&d), before, "a new socket after the restart");
    assert_eq!(d.main_log().matches("Creating socket").count(), 1);
}

/// What we deliberately differ in: Python closes the socket when no process of the pool runs
/// (connections are refused) and makes a new one at the next spawn.
#[test]
fn python_closes_the_socket_while_the_pool_is_stopped() {
    let app = App::new();
    let d = Daemon::start(Impl::Python, &app.section("tcp://127.0.0.1:{port}", ""));
    wait_running(&d);
    let before = shared_socket(&d);
    assert_eq!(d.ctl(&["stop", "web:*"]).code, 0);
    let refused = TcpStream::connect(("127.0.0.1", d.port()));
    assert!(
        refused.is_err(),
        "Python's socket still listens when stopped"
    );
    assert_eq!(d.ctl(&["start", "web:*"]).code, 0);
    wait_running(&d);
    assert_ne!(shared_socket(&d), before);
    assert!(ask_tcp(d.port()).is_ok());
}

/// A unix socket is made with `socket_mode`, serves the pool, and, once its group is removed,
/// is removed too in ours (Python leaves the file behind). Returns whether the file is left.
fn unix_socket(kind: Impl) -> bool {
    let app = App::new();
    let d = Daemon::start(
        kind,
        &app.section("unix://%(here)s/web.sock", "socket_mode=0660"),
    );
    let path: PathBuf = d.dir().join("web.sock");
    wait_running(&d);
    shared_socket(&d);
    let meta = fs::symlink_metadata(&path).expect("socket file");
    assert!(meta.file_type().is_socket(), "{kind:?}: not a socket file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660, "{kind:?}: mode");
    let name = ask_unix(&path).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    assert!(name.starts_with("web_"), "{kind:?}: answered by {name:?}");
    assert_eq!(d.ctl(&["stop", "web:*"]).code, 0);
    let removed = d.ctl(&["remove", "web"]);
    assert_eq!(removed.stdout, "web: removed process group\n", "{kind:?}");
    path.exists()
}

#[test]
fn a_unix_socket_gets_its_mode_and_goes_with_its_group() {
    assert!(
        !unix_socket(Impl::Ours),
        "the socket file outlived its group"
    );
}

#[test]
fn python_leaves_a_removed_groups_unix_socket_file() {
    assert!(unix_socket(Impl::Python));
}

/// `update` after the port changed: the group is re-made on the new port and the old one is
/// closed.
fn port_change(kind: Impl) {
    let app = App::new();
    let d = Daemon::start(kind, &app.section("tcp://127.0.0.1:{port}", ""));
    wait_running(&d);
    assert!(ask_tcp(d.port()).is_ok(), "{kind:?}: first port");
    let new_port = free_port();
    d.rewrite_config(&app.section(&format!("tcp://127.0.0.1:{new_port}"), ""));
    let update = d.ctl(&["update"]);
    assert_eq!(
        update.stdout, "web: stopped\nweb: updated process group\n",
        "{kind:?}"
    );
    wait_running(&d);
    let name = ask_tcp(new_port).unwrap_or_else(|e| panic!("{kind:?}: new port: {e}"));
    assert!(name.starts_with("web_"), "{kind:?}: answered by {name:?}");
    let old = TcpStream::connect(("127.0.0.1", d.port()));
    assert!(old.is_err(), "{kind:?}: the old port still listens");
}

#[test]
fn update_after_a_port_change_rebinds() {
    port_change(Impl::Ours);
}

#[test]
fn update_after_a_port_change_rebinds_in_python() {
    port_change(Impl::Python);
}

/// A port in use: the group is left out, with a CRIT line and (for `addProcessGroup`, which
/// `update` and `add` call) a FAILED fault with Python's exception text, and the rest of the
/// daemon runs on. Python's startup exits 1 with that text instead, and its `addProcessGroup`
/// crashes with HTTP 500; once the port is free the group can be added.
#[test]
fn a_port_in_use_leaves_the_group_out_with_a_clear_error() {
    let app = App::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let body = format!(
        "{}[program:other]\ncommand=sleep 30\nstartsecs=0\n",
        app.section(&format!("tcp://127.0.0.1:{port}"), "")
    );
    let d = Daemon::start(Impl::Ours, &body);
    d.wait_for_state("other", "RUNNING", STATE_DEADLINE);
    let text = format!(
        "Could not create FastCGI socket tcp://127.0.0.1:{port}: [Errno 98] Address already \
         in use"
    );
    d.wait_for_log(
        &format!("CRIT {text}; process group web not added"),
        STATE_DEADLINE,
    );
    let added = d.rpc("supervisor.addProcessGroup", &[Value::Str("web".into())]);
    assert!(
        matches!(&added, Err(RpcError::Fault(30, s)) if *s == format!("FAILED: {text}")),
        "addProcessGroup gave {added:?}"
    );
    let status = d.ctl(&["status"]);
    assert!(!status.stdout.contains("web"), "{}", status.stdout);
    // Free once the test's listener is closed (a listening socket leaves no TIME_WAIT).
    drop(taken);
    assert_eq!(d.ctl(&["add", "web"]).stdout, "web: added process group\n");
    wait_running(&d);
    assert!(ask_tcp(port).is_ok());
}
