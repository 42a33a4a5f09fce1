//! The web UI: its end-to-end scenarios in a real headless Chromium (`tests/web/e2e.mjs`, run
//! with node against our daemon on the example config), and plain HTTP checks of what a browser
//! cannot show: actions refused unless same-origin POSTs, a GET never acting, the security
//! headers, the auth, the live stream's snapshot-then-changes, and the server-rendered page a
//! client without script gets (the table, form posts and their redirect, `tail.html` as
//! Python's, compared with Python's own).

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
/// test's own dir and port, plus a program that prints HTML (and has a health check) and one
/// whose spawn error quotes HTML, under the example's credentials.
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
         startsecs=0\nhealthcheck=/bin/true\nhealthcheck_interval=1\n\n\
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

/// The page's live stream (`/web/events`), read as it comes.
struct Stream {
    conn: TcpStream,
    seen: String,
}

impl Stream {
    fn open(d: &Daemon) -> Stream {
        let mut conn = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(format!("GET /web/events HTTP/1.0\r\n{BASIC}\r\n").as_bytes())
            .unwrap();
        Stream {
            conn,
            seen: String::new(),
        }
    }

    /// Reads until what came so far contains `needle` (10 s at most); all of it.
    fn until(&mut self, needle: &str) -> String {
        self.read_until(|seen| seen.contains(needle).then_some(()), needle);
        self.seen.clone()
    }

    /// Reads until a line that came after the first `mark` bytes contains every one of
    /// `parts` (10 s at most); that line.
    fn line_since(&mut self, mark: usize, parts: &[&str]) -> String {
        let line = |seen: &str| {
            seen[mark..]
                .lines()
                .find(|line| parts.iter().all(|p| line.contains(p)))
                .map(str::to_string)
        };
        self.read_until(line, &format!("{parts:?}"))
    }

    /// Reads until `found` finds what it looks for (`what`) in what came so far.
    fn read_until<T>(&mut self, found: impl Fn(&str) -> Option<T>, what: &str) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(it) = found(&self.seen) {
                return it;
            }
            assert!(Instant::now() < deadline, "no {what} in\n{}", self.seen);
            let mut buf = [0u8; 4096];
            let n = self.conn.read(&mut buf).unwrap();
            assert!(n > 0, "stream closed:\n{}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

#[test]
fn the_live_stream_sends_a_snapshot_then_each_change() {
    let d = Daemon::start(Impl::Ours, crate::support::AUTHED_SLEEPER);
    d.wait_for_state("sleeper", "RUNNING", Duration::from_secs(10));
    let mut stream = Stream::open(&d);
    let head = stream.until("]}\n\n");
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
    let all = stream.until("\"state\":\"STOPPED\"");
    assert!(all.contains("event: process\ndata: {\"namespec\":\"sleeper\",\"group\":\"sleeper\",\"name\":\"sleeper\",\"state\":\"STOPPING\""), "{all}");
}

/// Our additions in the page's rows: a health check's verdict, a wait for dependencies and the
/// next scheduled run, on the server's table and in the stream, where a verdict that changes
/// no state is sent as a change of its own.
#[test]
fn health_waits_and_schedules_show_in_the_rows() {
    let d = Daemon::start(
        Impl::Ours,
        &format!(
            "{}\n\
             [program:probed]\ncommand=sleep 1000\nstartsecs=0\nhealthcheck=/bin/true\nhealthcheck_interval=1\n\n\
             [program:nightly]\ncommand=/bin/true\nschedule=10 1 * * *\n\n\
             [program:gate]\ncommand=sleep 1000\nstartsecs=60\nautostart=false\n\n\
             [program:needy]\ncommand=sleep 1000\ndepends_on=gate\n",
            crate::support::AUTHED_SLEEPER
        ),
    );
    let row = |page: &str, ns: &str| -> String {
        let start = page
            .find(&format!(r#"<tr class="proc" data-namespec="{ns}""#))
            .unwrap_or_else(|| panic!("no row {ns} in\n{page}"));
        let len = page[start..].find("</tr>").unwrap();
        page[start..start + len].to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let page = loop {
        let (_, _, page) = get(&d, "/");
        if row(&page, "probed").contains("tag h-healthy") && row(&page, "needy").contains("waiting")
        {
            break page;
        }
        assert!(Instant::now() < deadline, "no verdict or wait in\n{page}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(row(&page, "probed")
        .contains(r#"<span class="tags"><span class="tag h-healthy">healthy</span></span>"#));
    assert!(row(&page, "needy").contains(
        r#"<span class="tags"><span class="tag waiting">waiting for dependencies</span></span>"#
    ));
    let nightly = row(&page, "nightly");
    assert!(
        nightly.contains(r#"<span class="tag next">next run <time datetime="20"#),
        "{nightly}"
    );
    assert!(nightly.contains(":10:00</time>"), "{nightly}");
    assert!(row(&page, "sleeper").contains(r#"<span class="tags"></span>"#));

    let mut stream = Stream::open(&d);
    let snapshot = stream.until("]}\n\n");
    assert!(
        snapshot.contains(r#""name":"needy","state":"STOPPED""#),
        "{snapshot}"
    );
    assert!(
        snapshot.contains(r#""health":"none","next_run":0,"waiting":true}"#),
        "{snapshot}"
    );
    assert!(
        snapshot.contains(r#""health":"healthy","next_run":0,"waiting":false}"#),
        "{snapshot}"
    );
    // Restarted, the program is RUNNING with no verdict yet, then healthy without a new state.
    d.rpc("supervisor.stopProcess", &[Value::Str("probed".into())])
        .unwrap();
    d.rpc("supervisor.startProcess", &[Value::Str("probed".into())])
        .unwrap();
    let stopped = stream.line_since(snapshot.len(), &[r#""name":"probed","state":"STOPPED""#]);
    assert!(stopped.contains(r#""health":"unknown""#), "{stopped}");
    let mark = stream.until(r#""name":"probed","state":"RUNNING""#).len();
    stream.line_since(
        mark,
        &[
            r#""name":"probed","state":"RUNNING""#,
            r#""health":"healthy""#,
        ],
    );
    // The wait ends when it is called off by hand, again without a new state.
    let mark = stream.until("").len();
    d.rpc("supervisor.stopProcess", &[Value::Str("needy".into())])
        .unwrap();
    stream.line_since(
        mark,
        &[r#""name":"needy","state":"STOPPED""#, r#""waiting":false"#],
    );
}

/// The first `<tag …>…</tag>`'s text, unescaped.
fn element(page: &str, tag: &str) -> String {
    let open = page
        .find(&format!("<{tag}"))
        .unwrap_or_else(|| panic!("no <{tag}> in\n{page}"));
    let start = open + page[open..].find('>').unwrap() + 1;
    let end = start + page[start..].find(&format!("</{tag}>")).unwrap();
    page[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_page_is_rendered_on_the_server() {
    let d = Daemon::start(Impl::Ours, &example_body());
    for name in ["qrd:qrdworker", "qrd:qrdbeat", "clock", "html"] {
        d.wait_for_state(name, "RUNNING", Duration::from_secs(20));
    }
    d.wait_for_state("broken", "FATAL", Duration::from_secs(20));
    let (status, head, page) = get(&d, "/");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/html;charset=utf-8"),
        "{head}"
    );
    assert!(
        page.contains("<title>Supervisor Status (supervisor)</title>"),
        "{page}"
    );
    assert!(page.contains(r#"<span id="identifier">supervisor</span>"#));
    assert!(page.contains(r#"<span id="version">4.3.0</span>"#));
    assert!(page.contains(r#"<p id="empty" hidden>"#));
    for (ns, state) in [
        ("qrd:qrdworker", "RUNNING"),
        ("qrd:qrdbeat", "RUNNING"),
        ("clock", "RUNNING"),
        ("html", "RUNNING"),
        ("broken", "FATAL"),
    ] {
        let lower = state.to_ascii_lowercase();
        let row = format!(
            r#"<tr class="proc" data-namespec="{ns}" data-state="{state}"><td class="status"><span class="state s-{lower}">{lower}</span></td>"#
        );
        assert!(page.contains(&row), "no {row} in\n{page}");
    }
    // Loose programs first, then each group under its head, sorted as Python sorts them.
    let at = |needle: &str| {
        page.find(needle)
            .unwrap_or_else(|| panic!("no {needle} in\n{page}"))
    };
    let order = [
        r#"<tbody class="loose">"#,
        r#"data-namespec="broken""#,
        r#"data-namespec="clock""#,
        r#"data-namespec="html""#,
        r#"<tbody class="group" data-group="heartbeat">"#,
        r#"data-namespec="heartbeat:heartbeat_00""#,
        r#"data-namespec="heartbeat:heartbeat_01""#,
        r#"<tbody class="group" data-group="qrd">"#,
        r#"data-namespec="qrd:qrdbeat""#,
        r#"data-namespec="qrd:qrdweb""#,
        r#"data-namespec="qrd:qrdworker""#,
    ];
    for pair in order.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} after {}", pair[0], pair[1]);
    }
    // The actions Python offers in each state, as forms.
    assert!(page.contains(r#"<form method="post" action="/web/api/stop/qrd%3Aqrdbeat"><button type="submit" class="stop" aria-label="Stop qrd:qrdbeat">Stop</button></form>"#), "{page}");
    assert!(page.contains(r#"action="/web/api/restart/clock""#));
    assert!(page.contains(r#"action="/web/api/start/broken""#));
    assert!(!page.contains(r#"action="/web/api/stop/broken""#));
    assert!(page.contains(r#"action="/web/api/clearlog/broken""#));
    assert!(page.contains(r#"<a class="button tail" href="/tail.html?processname=qrd%3Aqrdbeat""#));
    assert!(page.contains(r#"<form method="post" action="/web/api/stopall">"#));
    // The description is the RPC's, escaped: the spawn error quoting HTML stays text.
    let description = d.info("broken").field("description").str().to_owned();
    assert!(description.contains("<b>bold</b>&amp;"), "{description}");
    let cell = format!(
        r#"<td class="desc"><span class="text">{}</span><span class="tags"></span></td>"#,
        description
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
    );
    assert!(page.contains(&cell), "no {cell} in\n{page}");
    assert!(!page.contains("<b>bold</b>"), "{page}");
    assert!(
        !page.contains("<script>") && !page.contains(" style="),
        "inline script or style:\n{page}"
    );
    // A message from the query string is shown, as text.
    let (_, _, page) = get(&d, "/?message=%3Cb%3Ex%3C/b%3E");
    assert!(
        page.contains(r#"<p id="message" role="status" aria-live="polite" class="ok">&lt;b&gt;x&lt;/b&gt;</p>"#),
        "{page}"
    );
    assert!(!page.contains("<b>x</b>"));
    let (_, _, page) = get(&d, "/index.html?message=ERROR%3A+no");
    assert!(page.contains(r#"class="error">ERROR: no</p>"#), "{page}");
    let (_, _, page) = get(&d, "/tail.html?processname=html");
    let tail = element(&page, "pre");
    assert!(tail.contains("<img src=x onerror=alert(1)> "), "{tail}");
    assert!(!page.contains("<img src=x"), "{page}");
}

#[test]
fn a_form_post_acts_only_from_this_site_and_redirects_to_the_page() {
    let d = Daemon::start(Impl::Ours, crate::support::AUTHED_SLEEPER);
    d.wait_for_state("sleeper", "RUNNING", Duration::from_secs(10));
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    for (what, headers) in [
        (
            "another origin",
            format!("{form}Origin: http://evil.example\r\n"),
        ),
        ("no proof", form.to_owned()),
        (
            "a cross-site browser",
            format!(
                "{form}Sec-Fetch-Site: cross-site\r\nOrigin: http://127.0.0.1:{}\r\n",
                d.port()
            ),
        ),
    ] {
        let (status, _, body) = post(&d, "/web/api/stop/sleeper", &headers);
        assert_eq!(status, 403, "{what}: {body}");
        assert_eq!(state(&d, "sleeper"), "RUNNING", "{what}");
    }
    let here = format!("{form}Origin: http://127.0.0.1:{}\r\n", d.port());
    let (status, head, _) = post(&d, "/web/api/stop/sleeper", &here);
    assert_eq!(status, 303, "{head}");
    assert!(
        head.contains("\r\nlocation: /?message=process%20sleeper%20stopped\r\n"),
        "{head}"
    );
    assert_eq!(state(&d, "sleeper"), "STOPPED");
    // An error goes back to the page too, as an error.
    let (status, head, _) = post(&d, "/web/api/stop/sleeper", &here);
    assert_eq!(status, 303);
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("a location")
        .to_owned();
    assert_eq!(location, "/?message=error%3a%20not_running%3a%20sleeper");
    let (_, _, page) = get(&d, "/?message=ERROR%3A%20NOT_RUNNING%3A%20sleeper");
    assert!(
        page.contains(r#"class="error">ERROR: NOT_RUNNING: sleeper</p>"#),
        "{page}"
    );
    // A browser that says same-origin needs no Origin (with no-referrer, Chromium sends `null`).
    let same = format!("{form}Sec-Fetch-Site: same-origin\r\nOrigin: null\r\n");
    let (status, head, _) = post(&d, "/web/api/start/sleeper", &same);
    assert_eq!(status, 303, "{head}");
    assert!(
        head.contains("location: /?message=process%20sleeper%20started"),
        "{head}"
    );
    assert_eq!(state(&d, "sleeper"), "RUNNING");
    let (_, _, page) = get(&d, "/");
    assert!(
        page.contains(r#"data-namespec="sleeper" data-state="RUNNING""#),
        "{page}"
    );
}

#[test]
fn the_tail_page_is_pythons_without_script() {
    let body = "
[inet_http_server]
port=127.0.0.1:{port}
username=user
password=123

[program:talker]
command=/bin/sh -c 'echo first-line; head -c 3000 /dev/zero | tr \"\\\\000\" x; echo; echo \"last <line> & done\"; exec sleep 1000'
startsecs=0

[program:quiet]
command=sleep 1000
startsecs=0
stdout_logfile=NONE
";
    let ours = Daemon::start(Impl::Ours, body);
    let python = Daemon::start(Impl::Python, body);
    for d in [&ours, &python] {
        d.wait_for_log_text("supervisor.tailProcessStdoutLog", "talker", "& done");
    }
    let (_, _, page) = get(&ours, "/tail.html?processname=talker");
    let tail = element(&page, "pre");
    assert_eq!(tail.len(), 1024, "{tail}");
    assert!(tail.ends_with("xxx\nlast <line> & done\n"), "{tail}");
    assert!(page.contains("last &lt;line&gt; &amp; done"), "{page}");
    for query in [
        "processname=talker",
        "processname=talker&limit=5000",
        "processname=talker&limit=10",
        "processname=talker&limit=-5000",
        "processname=nosuch",
        "processname=talker:",
        "processname=quiet",
        "processname=",
        "",
    ] {
        let path = format!("/tail.html?{query}");
        let (_, _, mine) = get(&ours, &path);
        let (_, _, theirs) = get(&python, &path);
        for tag in ["title", "pre"] {
            assert_eq!(element(&mine, tag), element(&theirs, tag), "{path} <{tag}>");
        }
    }
    let (_, _, page) = get(&ours, "/tail.html?processname=talker&limit=5000");
    assert!(element(&page, "pre").starts_with("first-line\n"), "{page}");
    let (_, _, page) = get(&ours, "/tail.html?processname=nosuch");
    assert_eq!(
        element(&page, "pre"),
        "ERROR: unexpected rpc fault [10] BAD_NAME: nosuch"
    );
    let (_, _, page) = get(&ours, "/tail.html?processname=quiet");
    assert_eq!(element(&page, "pre"), "No file for quiet");
    let (_, _, page) = get(&ours, "/tail.html");
    assert_eq!(element(&page, "pre"), "No process name found");
    assert!(page.contains("<title>Supervisor tail of process None</title>"));
}
