//! The HTTP servers: auth, transport errors with Medusa's error page, log tails, listeners, and
//! the bad-input battery (each case followed by a successful call).

use std::time::Duration;

use supervisor::config::{Credentials, UnixHttpServer};
use supervisor::http::{self, HttpError};
use supervisor::rpc::{xml, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::client::{exchange, post, read_until_closed, Server};
use super::fake::{golden_config, World};

const ERROR_401: &str = "<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code 401.\r\n<p>Message: Unauthorized.\r\n</body>\r\n";

fn error_page(code: u16, message: &str) -> String {
    format!("<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code {code}.\r\n<p>Message: {message}.\r\n</body>\r\n")
}

fn sha_credentials() -> Credentials {
    Credentials {
        username: "user".into(),
        // sha1("test")
        password: "{SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3".into(),
    }
}

#[tokio::test]
async fn basic_auth_guards_every_endpoint() {
    let server = Server::start(World::golden(), Some(sha_credentials())).await;
    let call = xml::encode_call("supervisor.getState", &[]);
    for auth in [None, Some("Basic dXNlcjp3cm9uZw=="), Some("Digest x")] {
        let r = post(&mut server.tcp().await, "/RPC2", call.as_bytes(), auth).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.text(), ERROR_401);
        assert_eq!(r.body.len(), 137);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"default\"")
        );
        assert_eq!(r.header("content-type"), Some("text/html"));
    }
    for path in ["/", "/logtail/cat", "/mainlogtail", "/ok.html", "/nosuch"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = exchange(&mut server.tcp().await, raw.as_bytes()).await;
        assert_eq!(r.status, 401, "{path}");
    }
    // user:test
    let r = post(
        &mut server.tcp().await,
        "/RPC2",
        call.as_bytes(),
        Some("Basic dXNlcjp0ZXN0"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("server"), Some("Medusa/1.12"));
    // The unix server of the same daemon has no credentials.
    server.assert_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn transport_errors_get_medusas_page_and_the_server_keeps_serving() {
    let server = Server::start(World::golden(), None).await;
    let get = exchange(
        &mut server.unix().await,
        b"GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(
        (get.status, get.text()),
        (400, error_page(400, "Bad Request"))
    );
    server.assert_alive().await;

    for body in [
        &b""[..],
        b"not xml at all",
        b"<methodCall><params/></methodCall>",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><methodCall><methodName>&b;</methodName></methodCall>",
        b"<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><methodCall><methodName>a.b</methodName></methodCall>",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let r = post(&mut server.unix().await, "/RPC2", body, None).await;
        assert_eq!(r.status, 400, "{body:?}");
        assert_eq!(r.text(), error_page(400, "Bad Request"));
        server.assert_alive().await;
    }

    let huge = vec![b'x'; 100 * 1024];
    let r = post(&mut server.unix().await, "/RPC2", &huge, None).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.text(), error_page(413, "Request Entity Too Large"));
    server.assert_alive().await;

    let r = exchange(
        &mut server.unix().await,
        b"GET /nosuch HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!((r.status, r.text()), (404, error_page(404, "Not Found")));
    server.assert_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn faults_for_bad_calls_are_http_200() {
    let server = Server::start(World::golden(), None).await;
    let cases: &[(&str, Vec<Value>, i32)] = &[
        ("nosuch", vec![], 1),
        ("supervisor._update", vec![], 1),
        ("a.b.c", vec![], 1),
        ("twiddler.getGroupNames", vec![], 1),
        ("supervisor.getProcessInfo", vec![Value::Int(123)], 2),
        ("supervisor.getProcessInfo", vec![], 2),
        (
            "supervisor.readLog",
            vec![Value::from("a"), Value::from("b")],
            2,
        ),
        ("supervisor.stopProcess", vec![Value::Struct(vec![])], 2),
        (
            "supervisor.sendProcessStdin",
            vec![Value::from("cat"), Value::Int(12345)],
            2,
        ),
        ("system.methodHelp", vec![Value::from("x.y")], 4),
        ("system.multicall", vec![Value::from("x")], 2),
        ("supervisor.getProcessInfo", vec![Value::from("grp:")], 10),
    ];
    for (method, params, code) in cases {
        let fault = server.call(method, params).await.unwrap_err();
        assert_eq!(fault.code, *code, "{method} {params:?}: {fault:?}");
        server.assert_alive().await;
    }
    let fault = server
        .call(
            "supervisor.sendProcessStdin",
            &[Value::from("cat"), Value::Int(12345)],
        )
        .await
        .unwrap_err();
    assert_eq!(fault.string, "INCORRECT_PARAMETERS: 12345");
    // Ints are accepted for booleans; an int signal is a number.
    assert_eq!(
        server
            .call(
                "supervisor.startProcess",
                &[Value::from("grp:*"), Value::Int(0)]
            )
            .await
            .map(|v| matches!(v, Value::Array(_))),
        Ok(true)
    );
    assert_eq!(
        server
            .call(
                "supervisor.signalProcess",
                &[Value::from("cat"), Value::Int(1)]
            )
            .await,
        Ok(Value::Bool(true))
    );
    server.stop().await;
}

#[tokio::test]
async fn hostile_connections_hold_only_themselves() {
    let server = Server::start(World::golden(), None).await;

    // Headers that never finish, a body that never comes, idle keep-alive connections.
    let mut slow_headers = server.tcp().await;
    slow_headers
        .write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut slow_body = server.unix().await;
    slow_body
        .write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n<metho")
        .await
        .unwrap();
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(server.unix().await);
    }

    // Ten clients at once are all served meanwhile.
    let mut clients = tokio::task::JoinSet::new();
    let server = std::sync::Arc::new(server);
    for _ in 0..10 {
        let server = server.clone();
        clients.spawn(async move { server.call("supervisor.getAllProcessInfo", &[]).await });
    }
    while let Some(result) = clients.join_next().await {
        assert!(matches!(result.unwrap(), Ok(Value::Array(rows)) if rows.len() == 3));
    }

    // The slow body times out with 408; the slow headers get the connection closed.
    let r = super::client::read_response(&mut slow_body).await;
    assert_eq!(r.status, 408);
    let mut rest = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(2), slow_headers.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "a head that never ends must cost only a bounded wait"
    );

    for raw in [
        &b"\x00\xff\xfe garbage \x01\x02\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"POST /RPC2 HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        &b"\r\n".repeat(50),
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    ] {
        let mut conn = server.unix().await;
        conn.write_all(raw).await.unwrap();
        let reply = read_until_closed(&mut conn).await;
        assert!(
            reply.is_empty() || reply.starts_with(b"HTTP/1.1 4"),
            "{raw:?} got {:?}",
            String::from_utf8_lossy(&reply)
        );
        server.assert_alive().await;
    }

    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
    let mut conn = server.tcp().await;
    let _ = conn.write_all(long_line.as_bytes()).await;
    let _ = read_until_closed(&mut conn).await;
    server.assert_alive().await;

    // Content-Length far past the limit with a short body: refused at once, nobody waits.
    let mut conn = server.unix().await;
    let r = exchange(
        &mut conn,
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n<methodCall></methodCall>",
    )
    .await;
    assert_eq!(r.status, 413);
    server.assert_alive().await;

    // A client that disconnects before its answer.
    let mut conn = server.unix().await;
    let call = xml::encode_call("supervisor.getAllProcessInfo", &[]);
    let raw = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{call}",
        call.len()
    );
    conn.write_all(raw.as_bytes()).await.unwrap();
    drop(conn);
    server.assert_alive().await;
    drop(idle);
}

/// Reads from `conn` into `seen` until `needle` shows up.
async fn read_until(conn: &mut tokio::net::UnixStream, seen: &mut Vec<u8>, needle: &[u8]) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.windows(needle.len()).any(|w| w == needle) {
            let mut chunk = [0u8; 4096];
            let n = conn.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("tail data within 5 s");
}

#[tokio::test]
async fn logtail_streams_the_tail_then_appended_data() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cat.log");
    let mut start = vec![b'a'; 1000];
    start.extend(vec![b'b'; 1024]);
    std::fs::write(&log, &start).unwrap();
    let mut world = World::golden();
    world.logs.insert(("cat".into(), false), log.clone());
    let server = Server::start(world, None).await;

    let mut conn = server.unix().await;
    conn.write_all(b"GET /logtail/cat HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    read_until(&mut conn, &mut seen, b"bbbb\r\n").await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(text.contains("x-accel-buffering: no"), "{text}");
    assert!(!text.contains('a'.to_string().repeat(2).as_str()));
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut file, b"appended line\n").unwrap();
    read_until(&mut conn, &mut seen, b"appended line\n").await;

    for path in [
        "/logtail/nosuch",
        "/logtail/cat/stderr",
        "/logtail/grp:*",
        "/mainlogtail",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = exchange(&mut server.unix().await, raw.as_bytes()).await;
        assert_eq!(r.status, 404, "{path}");
    }
    let r = exchange(
        &mut server.unix().await,
        b"POST /logtail/cat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400);
    drop(conn);
    server.assert_alive().await;
}

#[tokio::test]
async fn pages_status_and_ok() {
    let server = Server::start(World::golden(), None).await;
    let r = exchange(
        &mut server.unix().await,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("<script src=\"/web/app.js\""),
        "{}",
        r.text()
    );
    // The page's data: a snapshot of every process, first on its event stream.
    let mut conn = server.unix().await;
    conn.write_all(b"GET /web/events HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let snapshot = async {
        while !String::from_utf8_lossy(&seen).contains("]}\n\n") {
            let mut chunk = [0u8; 4096];
            let n = conn.read(&mut chunk).await.unwrap();
            assert!(n > 0, "stream closed: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), snapshot)
        .await
        .expect("a snapshot within 5 s");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("event: snapshot\n"), "{text}");
    assert!(text.contains("\"namespec\":\"grp:never\""), "{text}");
    assert!(text.contains("Not started"), "{text}");
    let r = exchange(&mut server.unix().await, b"GET /ok.html HTTP/1.0\r\n\r\n").await;
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    server.stop().await;
}

#[tokio::test]
async fn stale_sockets_are_replaced_and_live_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let mut config = golden_config(super::fake::builtin_supervisor());
    config.unix_http_servers.push(UnixHttpServer {
        section: "unix_http_server".into(),
        file: path.clone(),
        chmod: 0o766,
        chown: None,
        auth: None,
    });
    let listeners = http::bind(&config).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o766
    );
    let again = http::bind(&config);
    assert!(matches!(again, Err(HttpError::AddrInUse)), "{again:?}");
    assert_eq!(
        HttpError::AddrInUse.to_string(),
        "Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord."
    );
    drop(listeners);
}

#[test]
fn startup_messages_follow_python() {
    let mut config = golden_config(super::fake::builtin_supervisor());
    config
        .inet_http_servers
        .push(supervisor::config::InetHttpServer {
            section: "inet_http_server".into(),
            host: String::new(),
            port: 9001,
            auth: Some(sha_credentials()),
        });
    config.unix_http_servers.push(UnixHttpServer {
        section: "unix_http_server".into(),
        file: "/tmp/x.sock".into(),
        chmod: 0o700,
        chown: None,
        auth: None,
    });
    let texts: Vec<String> = http::startup_messages(&config)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(
        texts,
        [
            "RPC interface 'supervisor' initialized",
            "RPC interface 'supervisor' initialized",
            "Server 'unix_http_server' running without any HTTP authentication checking",
        ]
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_stay_open() {
    let server = Server::start(World::golden(), None).await;
    let mut conn = server.unix().await;
    let call = xml::encode_call("supervisor.getAPIVersion", &[]);
    assert_eq!(
        post(&mut conn, "/RPC2", call.as_bytes(), None).await.status,
        200
    );
    tokio::time::sleep(super::client::test_limits().header_timeout * 3).await;
    assert_eq!(
        post(&mut conn, "/RPC2", call.as_bytes(), None).await.status,
        200
    );
    server.stop().await;
}
