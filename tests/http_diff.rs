//! The HTTP side of the real daemon: the bad-input battery (every case followed by a successful
//! call, no child touched), auth on TCP against Python's bytes, `/logtail` and `/mainlogtail`
//! against Python, and deferred calls not blocking other clients (issue 4).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::rpc_diff::{call_body, i, parse, post, s, Raw};
use crate::support::{assert_same, Daemon, Impl, Pair, Value};

/// Forty sleepers, so `getAllProcessInfo` answers are large.
const MANY: &str = "
[program:many]
command=sleep 1000
process_name=%(program_name)s_%(process_num)02d
numprocs=40
startsecs=0
";

fn wait_all_running(d: &Daemon, count: usize) -> Vec<(String, i64)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let infos = d
            .rpc("supervisor.getAllProcessInfo", &[])
            .expect("getAllProcessInfo");
        let Value::Array(rows) = infos else {
            panic!("not an array")
        };
        let running: Vec<(String, i64)> = rows
            .iter()
            .filter(|r| r.field("statename").str() == "RUNNING")
            .map(|r| (r.field("name").str().to_owned(), r.field("pid").int()))
            .collect();
        if running.len() == count {
            return running;
        }
        assert!(Instant::now() < deadline, "not all running: {running:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[track_caller]
fn assert_serving(d: &Daemon) {
    let r = post(d, &call_body("supervisor.getState", &[]));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("RUNNING"), "{r:?}");
}

/// What became of a raw request: an answer's status line, a close, or nothing yet.
#[derive(Debug, PartialEq)]
enum Outcome {
    Answered(String),
    Closed,
    Open,
}

fn probe(d: &Daemon, raw: &[u8]) -> Outcome {
    let mut conn = UnixStream::connect(d.socket()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = conn.write_all(raw);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if seen.is_empty() {
                    return Outcome::Open;
                }
                break;
            }
            Err(_) => break,
        }
    }
    match String::from_utf8_lossy(&seen).lines().next() {
        Some(line) if !line.is_empty() => Outcome::Answered(line.to_owned()),
        _ => Outcome::Closed,
    }
}

#[test]
fn hostile_clients_cost_only_their_own_connection() {
    let d = Daemon::start(Impl::Ours, MANY);
    let pids = wait_all_running(&d, 40);
    let connect = || UnixStream::connect(d.socket()).expect("connect");

    // Held for the whole test: idle connections, headers that never finish, a huge announced
    // body with 21 bytes sent.
    let mut held: Vec<UnixStream> = (0..10).map(|_| connect()).collect();
    let mut slow = connect();
    slow.write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    held.push(slow);
    let mut huge = connect();
    huge.write_all(
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n<methodCall>\n<metho",
    )
    .unwrap();
    held.push(huge);
    assert_serving(&d);

    // Ten clients at once, all answered in full.
    let all = call_body("supervisor.getAllProcessInfo", &[]);
    thread::scope(|sc| {
        let clients: Vec<_> = (0..10).map(|_| sc.spawn(|| post(&d, &all))).collect();
        for c in clients {
            let r = c.join().unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.body.matches("<name>statename</name>").count(), 40);
        }
    });
    assert_serving(&d);

    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
    let entities = "<?xml version='1.0'?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\n<methodCall><methodName>supervisor.getState</methodName><params><param><value>&lol2;</value></param></params></methodCall>";
    let entity_post = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{entities}",
        entities.len()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xff\xfe garbage \x01\x02\r\n\r\n".to_vec()),
        ("GET only", b"GET\r\n\r\n".to_vec()),
        (
            "Content-Length: abc",
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
        ),
        ("50 CRLFs", b"\r\n".repeat(50)),
        ("long request line", long_line.into_bytes()),
        (
            "TLS ClientHello",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5b\x90\x9d\x9b".to_vec(),
        ),
        ("DOCTYPE", entity_post.into_bytes()),
        (
            "empty POST",
            b"POST /RPC2 HTTP/1.0\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        ("GET /RPC2", b"GET /RPC2 HTTP/1.0\r\n\r\n".to_vec()),
    ];
    for (what, raw) in &cases {
        match probe(&d, raw) {
            Outcome::Closed => {}
            Outcome::Answered(line) => assert!(
                line.starts_with("HTTP/1.1 4") || line.starts_with("HTTP/1.0 4"),
                "{what}: {line}"
            ),
            Outcome::Open => panic!("{what}: neither answered nor closed"),
        }
        assert_serving(&d);
    }

    // A 4 MB body is a legitimate call.
    let big = call_body(
        "supervisor.sendRemoteCommEvent",
        &[s("big"), s(&"x".repeat(4 << 20))],
    );
    let r = post(&d, &big);
    assert_eq!(
        (r.status, r.body.contains("<boolean>1</boolean>")),
        (200, true)
    );

    // Clients hanging up mid-answer.
    for _ in 0..5 {
        let mut conn = connect();
        let req = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{all}",
            all.len()
        );
        conn.write_all(req.as_bytes()).unwrap();
        let mut first = [0u8; 100];
        let _ = conn.read(&mut first);
        drop(conn);
    }
    assert_serving(&d);

    // The held connections did not stop anyone; nothing touched a child.
    drop(held);
    assert_serving(&d);
    assert_eq!(wait_all_running(&d, 40), pids);
}

/// Headers except `Date`, sorted, lowercased names.
fn headers(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
        .map(|(k, v)| format!("{}: {v}", k.to_ascii_lowercase()))
        .collect();
    lines.sort();
    lines
}

fn tcp(d: &Daemon, raw: &str) -> Raw {
    let mut conn = TcpStream::connect(("127.0.0.1", d.port())).expect("connect tcp");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(raw.as_bytes()).unwrap();
    // Python says `Connection: close` on a 401 but keeps HTTP/1.1 connections open: read by
    // Content-Length.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let r = parse(&out);
            let length = headers(&r.head)
                .iter()
                .find_map(|h| h.strip_prefix("content-length: ")?.parse::<usize>().ok());
            if length.is_some_and(|n| out.len() >= end + 4 + n) {
                return r;
            }
        }
        match conn.read(&mut buf) {
            Ok(n @ 1..) => out.extend_from_slice(&buf[..n]),
            _ => return parse(&out),
        }
    }
}

#[test]
fn tcp_auth_answers_as_medusa() {
    let pair = Pair::start(crate::support::AUTHED_SLEEPER);
    let body = call_body("supervisor.getState", &[]);
    let post_with = |auth: &str| {
        format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    for (what, raw) in [
        ("no auth", post_with("")),
        (
            "wrong password",
            post_with("Authorization: Basic dXNlcjp3cm9uZw==\r\n"),
        ),
        (
            "GET logtail",
            "GET /logtail/sleeper HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        ),
        ("GET /", "GET / HTTP/1.0\r\n\r\n".to_owned()),
    ] {
        let (py, ours) = pair.both(|d| tcp(d, &raw));
        assert_eq!(py.status, 401, "{what}");
        let render = |r: &Raw| {
            format!(
                "{}\n{}\n\n{}",
                r.head.lines().next().unwrap(),
                headers(&r.head).join("\n"),
                r.body
            )
        };
        assert_same(what, &render(&py), &render(&ours));
        assert_eq!(ours.body.len(), 137);
        assert!(
            headers(&ours.head).contains(&"www-authenticate: Basic realm=\"default\"".to_owned())
        );
    }
    // user:123
    let good = post_with("Authorization: Basic dXNlcjoxMjM=\r\n");
    let (py, ours) = pair.both(|d| tcp(d, &good));
    assert_eq!((py.status, ours.status), (200, 200));
    assert_same("authorised", &py.body, &ours.body);
}

const LOGS: &str = "
[program:cat]
command=cat
startsecs=0
stdout_logfile=%(here)s/cat.out

[program:nolog]
command=sleep 1000
startsecs=0
stdout_logfile=NONE
";

/// Reads a chunked HTTP/1.1 response until its de-chunked body has `want` bytes or contains
/// `needle`; returns (head, body so far).
struct Tail {
    conn: UnixStream,
    raw: Vec<u8>,
}

impl Tail {
    fn open(d: &Daemon, path: &str) -> Tail {
        let mut conn = UnixStream::connect(d.socket()).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        Tail {
            conn,
            raw: Vec::new(),
        }
    }

    fn split(&self) -> Option<(String, Vec<u8>)> {
        let end = self.raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.raw[..end]).into_owned();
        let mut rest = &self.raw[end + 4..];
        let mut body = Vec::new();
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let Ok(size) = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).ok()?, 16)
            else {
                break;
            };
            if rest.len() < eol + 2 + size + 2 {
                break;
            }
            body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        Some((head, body))
    }

    /// Reads until `done(body)` or the deadline.
    fn until(&mut self, done: impl Fn(&[u8]) -> bool) -> (String, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((head, body)) = self.split() {
                if done(&body) {
                    return (head, body);
                }
            }
            assert!(
                Instant::now() < deadline,
                "tail stalled: {:?}",
                String::from_utf8_lossy(&self.raw)
            );
            let mut buf = [0u8; 8192];
            match self.conn.read(&mut buf) {
                Ok(0) => panic!("tail closed: {:?}", String::from_utf8_lossy(&self.raw)),
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    }
}

#[test]
fn logtail_and_mainlogtail_as_python() {
    let pair = Pair::start(LOGS);
    pair.wait_for_state("cat", "RUNNING");
    pair.wait_for_state("nolog", "RUNNING");
    let text: String = (0..200).map(|n| format!("line {n:05}\n")).collect();
    pair.both(|d| {
        d.rpc(
            "supervisor.sendProcessStdin",
            &[Value::Str("cat".into()), Value::Str(text.clone())],
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(d.dir().join("cat.out")).map_or(0, |m| m.len()) < text.len() as u64
        {
            assert!(Instant::now() < deadline);
            thread::sleep(Duration::from_millis(20));
        }
    });
    let keep = |h: &str| {
        let mut hs: Vec<String> = headers(h)
            .into_iter()
            .filter(|l| !l.starts_with("last-modified"))
            .collect();
        hs.insert(0, h.lines().next().unwrap().to_owned());
        hs.join("\n")
    };
    let (py, ours) = pair.both(|d| {
        let mut tail = Tail::open(d, "/logtail/cat");
        let (head, first) = tail.until(|b| b.len() >= 1024);
        assert!(
            head.to_ascii_lowercase().contains("last-modified: "),
            "{head}"
        );
        d.rpc(
            "supervisor.sendProcessStdin",
            &[Value::Str("cat".into()), Value::Str("appended\n".into())],
        )
        .unwrap();
        let (_, all) = tail.until(|b| b.ends_with(b"appended\n"));
        (
            keep(&head),
            String::from_utf8(first[..1024].to_vec()).unwrap(),
            String::from_utf8(all).unwrap(),
        )
    });
    assert_same("logtail head", &py.0, &ours.0);
    assert_eq!(ours.1, text[text.len() - 1024..]);
    assert_same(
        "logtail data",
        &format!("{}\n{}", py.1, py.2),
        &format!("{}\n{}", ours.1, ours.2),
    );

    for path in ["/logtail/cat/stderr", "/mainlogtail", "/logtail/cat/stdout"] {
        let (py, ours) = pair.both(|d| {
            let mut tail = Tail::open(d, path);
            let (head, _) = tail.until(|_| true);
            keep(&head)
        });
        assert_same(path, &py, &ours);
    }
    for path in [
        "/logtail/nosuch",
        "/logtail/nolog",
        "/logtail/cat:*",
        "/logtail/cat/other",
    ] {
        let (py, ours) = pair.both(|d| {
            let r = crate::rpc_diff::exchange(d, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes());
            format!(
                "{}\n{}\n\n{}",
                r.head.lines().next().unwrap(),
                headers(&r.head).join("\n"),
                r.body
            )
        });
        assert_same(path, &py, &ours);
    }
    // Python's own supervisorctl follows our tail.
    let out = pair.ours.ctl_until(&["tail", "-f", "cat"], "line 00199");
    assert!(out.contains("line 00199"));
}

#[test]
fn a_deferred_start_does_not_block_other_clients() {
    let d = Daemon::start(
        Impl::Ours,
        "[program:slow]\ncommand=sleep 1000\nstartsecs=3\nautostart=false\n",
    );
    thread::scope(|sc| {
        let started = Instant::now();
        let start = sc.spawn(|| {
            post(
                &d,
                &call_body("supervisor.startProcess", &[s("slow"), i(1)]),
            )
        });
        thread::sleep(Duration::from_millis(300));
        for _ in 0..5 {
            let t = Instant::now();
            assert_serving(&d);
            let took = t.elapsed();
            assert!(took < Duration::from_millis(100), "getState took {took:?}");
            assert!(!start.is_finished());
        }
        let r = start.join().unwrap();
        assert!(r.body.contains("<boolean>1</boolean>"), "{r:?}");
        assert!(started.elapsed() >= Duration::from_secs(3));
    });
}

/// Python's `supervisorctl` interactively, on a pty, against a server that asks for credentials
/// the ctl config does not have: the screens must match Python's daemon.
#[test]
fn interactive_supervisorctl_prompts_for_credentials() {
    let pair = Pair::start(crate::support::AUTHED_SLEEPER);
    pair.wait_for_state("sleeper", "RUNNING");
    let (py, ours) = pair.both(|d| {
        let ctl_conf = d.dir().join("ctl.conf");
        std::fs::write(
            &ctl_conf,
            format!("[supervisorctl]\nserverurl=http://127.0.0.1:{}\n", d.port()),
        )
        .unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/interactive_ctl.py");
        let out = std::process::Command::new(crate::support::pyref().join("bin/python"))
            .arg(script)
            .arg(crate::support::pyref().join("bin/supervisorctl"))
            .arg(&ctl_conf)
            .current_dir(d.dir())
            .output()
            .expect("run interactive_ctl.py");
        let screen = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
        assert!(
            out.status.success(),
            "{screen}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d.normalise(&screen)
    });
    assert_same("interactive supervisorctl", &py, &ours);
    assert!(py.contains("Username:user\nPassword:\n"), "{py}");
    assert!(py.contains("Restarted supervisord\n"), "{py}");
}
