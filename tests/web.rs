//! The web UI: its end-to-end scenarios in a real headless Chromium (`tests/web/e2e.mjs`, run
//! with node against our daemon on the example config), and plain HTTP checks of what a browser
//! cannot show: actions refused unless same-origin POSTs, a GET never acting, the security
//! headers, the auth, and the live stream's snapshot-then-changes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Daemon, Impl, Value};

/// How long the whole browser run may take.
const BROWSER_DEADLINE: Duration = Duration::from_secs(180);

/// `user:123`, as the example config's inet server.
const BASIC: &str = "Authorization: Basic dXNlcjoxMjM=\r\n";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example config's programs (its `[group:qrd]` and `conf.d/clock.conf`), made to run in a
/// test's own dir and port, plus a program that prints HTML and one whose spawn error quotes
/// HTML, under the example's credentials.
fn example_body() -> String {
    let example = std::fs::read_to_string(repo().join("examples/supervisord.conf")).unwrap();
    let programs = &example[example.find("[group:qrd]").expect("the example's group")..];
    let programs = &programs[..programs.find("[include]").unwrap_or(programs.len())];
    let web_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let clock = std::fs::read_to_string(repo().join("examples/conf.d/clock.conf")).unwrap();
    format!(
        "[inet_http_server]\nport=127.0.0.1:{{port}}\nusername=user\npassword=123\n\n{}\n{clock}\n\
         [program:html]\n\
         command=/bin/sh -c 'while true; do echo \"<img src=x onerror=alert(1)> $(date +%%s%%N)\"; sleep 0.2; done'\n\
         startsecs=0\n\n\
         [program:broken]\n\
         command=/nonexistent/<b>bold</b>&amp;\n\
         startretries=0\n",
        programs
            .replace("8000", &web_port.to_string())
            .replace("/tmp/", "%(here)s/")
            .replace("directory=%(here)s", "")
    )
}

/// Runs `node tests/web/<script> <args>` with a deadline; its output, and whether it passed.
fn node(script: &str, args: &[&str]) -> (bool, String) {
    let web = repo().join("tests/web");
    assert!(
        web.join("node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need chromium and tests/web/node_modules: run scripts/test.sh, which installs them"
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new("node")
        .arg(web.join(script))
        .args(args)
        .current_dir(&web)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("node");
    let deadline = Instant::now() + BROWSER_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = format!(
        "--- stdout ---\n{}--- stderr ---\n{}{}",
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default(),
        if status.is_none() {
            "\n(killed at the deadline)"
        } else {
            ""
        }
    );
    (status.is_some_and(|s| s.success()), output)
}

#[test]
fn the_page_in_chromium() {
    let d = Daemon::start(Impl::Ours, &example_body());
    for name in ["qrd:qrdworker", "qrd:qrdbeat", "clock", "html"] {
        d.wait_for_state(name, "RUNNING", Duration::from_secs(20));
    }
    let url = format!("http://127.0.0.1:{}/", d.port());
    let (passed, output) = node("e2e.mjs", &[&url, "user", "123"]);
    assert!(passed, "browser scenarios failed\n{output}");
    println!("{output}");
    // The page's stop-all really stopped them.
    let infos = d.rpc("supervisor.getAllProcessInfo", &[]).unwrap();
    let Value::Array(infos) = infos else {
        panic!("{infos:?}")
    };
    for info in infos {
        let state = info.field("statename").str().to_owned();
        assert!(
            ["STOPPED", "FATAL", "EXITED"].contains(&state.as_str()),
            "{} is {state}",
            info.field("name").str()
        );
    }
}

/// One HTTP/1.0 exchange on the inet server; (status, head, body).
fn http(d: &Daemon, request: &str) -> (u16, String, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn post(d: &Daemon, path: &str, headers: &str) -> (u16, String, String) {
    http(
        d,
        &format!("POST {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n{BASIC}{headers}Content-Length: 0\r\n\r\n", d.port()),
    )
}

fn get(d: &Daemon, path: &str) -> (u16, String, String) {
    http(d, &format!("GET {path} HTTP/1.0\r\n{BASIC}\r\n"))
}

fn state(d: &Daemon, name: &str) -> String {
    d.info(name).field("statename").str().to_owned()
}

#[test]
fn actions_are_same_origin_posts_only() {
    let d = Daemon::start(Impl::Ours, crate::support::AUTHED_SLEEPER);
    d.wait_for_state("sleeper", "RUNNING", Duration::from_secs(10));
    // Python's GET links show the page and do nothing.
    let (status, _, body) = get(&d, "/index.html?processname=sleeper&action=stop");
    assert_eq!(status, 200);
    assert!(body.contains("/web/app.js"));
    assert_eq!(get(&d, "/web/api/stop/sleeper").0, 405);
    assert_eq!(state(&d, "sleeper"), "RUNNING");
    let ours = "X-Supervisor-Web: 1\r\n";
    for (what, headers) in [
        (
            "no header (a plain form post)",
            "Origin: http://127.0.0.1\r\n".to_owned(),
        ),
        (
            "cross-site fetch",
            format!("{ours}Sec-Fetch-Site: cross-site\r\n"),
        ),
        (
            "same-site fetch",
            format!("{ours}Sec-Fetch-Site: same-site\r\n"),
        ),
        (
            "another origin",
            format!("{ours}Origin: http://evil.example\r\n"),
        ),
    ] {
        let (status, _, body) = post(&d, "/web/api/stop/sleeper", &headers);
        assert_eq!(status, 403, "{what}: {body}");
        assert_eq!(state(&d, "sleeper"), "RUNNING", "{what}");
    }
    // A preflight is never granted.
    let (status, head, _) = http(
        &d,
        &format!("OPTIONS /web/api/stop/sleeper HTTP/1.0\r\n{BASIC}Origin: http://evil.example\r\nAccess-Control-Request-Headers: x-supervisor-web\r\n\r\n"),
    );
    assert_eq!(status, 405);
    assert!(!head.contains("access-control-allow"), "{head}");
    let origin = format!(
        "{ours}Origin: http://127.0.0.1:{}\r\nSec-Fetch-Site: same-origin\r\n",
        d.port()
    );
    let (status, _, body) = post(&d, "/web/api/stop/sleeper", &origin);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"message":"Process sleeper stopped"}"#)
    );
    assert_eq!(state(&d, "sleeper"), "STOPPED");
    let (status, _, body) = post(&d, "/web/api/stop/sleeper", &origin);
    assert_eq!(
        (status, body.as_str()),
        (409, r#"{"error":"NOT_RUNNING: sleeper"}"#)
    );
    let (status, _, _) = post(&d, "/web/api/start/sleeper", ours);
    assert_eq!(status, 200);
    assert_eq!(state(&d, "sleeper"), "RUNNING");
    assert_eq!(post(&d, "/web/api/nosuch", ours).0, 404);
}

#[test]
fn every_web_answer_has_the_security_headers_and_no_secret() {
    let d = Daemon::start(Impl::Ours, crate::support::AUTHED_SLEEPER);
    let csp = "content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'; \
               img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
               form-action 'self'";
    for path in [
        "/",
        "/index.html",
        "/tail.html",
        "/web/app.js",
        "/web/app.css",
        "/web/nosuch",
        "/web/api/stop/sleeper",
    ] {
        let (status, head, body) = get(&d, path);
        assert_ne!(status, 0, "{path}");
        for header in [
            csp,
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
            "referrer-policy: no-referrer",
        ] {
            assert!(head.contains(header), "{path} lacks {header}:\n{head}");
        }
        assert!(!body.contains("123"), "{path} holds the password");
    }
    let (_, _, page) = get(&d, "/");
    assert!(
        !page.contains("<script>") && !page.contains(" style="),
        "inline script or style:\n{page}"
    );
    let (status, head, log) = get(&d, "/web/download/main");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-disposition: attachment; filename=\"main.log\""),
        "{head}"
    );
    assert!(log.contains("supervisord started with pid"), "{log}");
    assert_eq!(get(&d, "/web/download/nosuch/stdout").0, 404);
    let (_, head, _) = get(&d, "/web/app.js");
    assert!(head.contains("content-type: text/javascript"), "{head}");
    // The same auth as the API.
    for request in [
        "GET / HTTP/1.0\r\n\r\n",
        "GET /web/events HTTP/1.0\r\n\r\n",
        "GET /web/app.js HTTP/1.0\r\n\r\n",
    ] {
        assert_eq!(http(&d, request).0, 401, "{request}");
    }
    let (status, _, _) = http(
        &d,
        "POST /web/api/stop/sleeper HTTP/1.0\r\nX-Supervisor-Web: 1\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 401);
}

#[test]
fn the_live_stream_sends_a_snapshot_then_each_change() {
    let d = Daemon::start(Impl::Ours, crate::support::AUTHED_SLEEPER);
    d.wait_for_state("sleeper", "RUNNING", Duration::from_secs(10));
    let mut conn = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(format!("GET /web/events HTTP/1.0\r\n{BASIC}\r\n").as_bytes())
        .unwrap();
    let mut seen = String::new();
    let mut until = |conn: &mut TcpStream, needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !seen.contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in\n{seen}");
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "stream closed:\n{seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        seen.clone()
    };
    let head = until(&mut conn, "]}\n\n");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    assert!(
        head.contains("event: snapshot\ndata: {\"identifier\":\"supervisor\""),
        "{head}"
    );
    assert!(head.contains("\"namespec\":\"sleeper\",\"group\":\"sleeper\",\"name\":\"sleeper\",\"state\":\"RUNNING\""), "{head}");
    d.rpc("supervisor.stopProcess", &[Value::Str("sleeper".into())])
        .unwrap();
    let all = until(&mut conn, "\"state\":\"STOPPED\"");
    assert!(all.contains("event: process\ndata: {\"namespec\":\"sleeper\",\"group\":\"sleeper\",\"name\":\"sleeper\",\"state\":\"STOPPING\""), "{all}");
}
