//! A running API server on a temp unix socket and a loopback port, and a raw HTTP client.

use std::path::PathBuf;
use std::time::Duration;

use supervisor::config::{Credentials, InetHttpServer, UnixHttpServer};
use supervisor::http::{self, Limits};
use supervisor::rpc::{xml, Dispatcher, Fault, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::fake::{golden_config, World};

pub struct Server {
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub tcp: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Limits short enough for tests to watch them act.
pub fn test_limits() -> Limits {
    Limits {
        max_body: 64 * 1024,
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
    }
}

impl Server {
    /// Serves `world` on a unix socket (no auth) and on TCP (with `auth`, if any).
    pub async fn start(world: World, auth: Option<Credentials>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("supervisor.sock");
        let mut config = golden_config(super::fake::builtin_supervisor());
        config.unix_http_servers.push(UnixHttpServer {
            section: "unix_http_server".into(),
            file: socket.clone(),
            chmod: 0o700,
            chown: None,
            auth: None,
        });
        config.inet_http_servers.push(InetHttpServer {
            section: "inet_http_server".into(),
            host: "127.0.0.1".into(),
            port: 0,
            auth,
        });
        let listeners = http::bind(&config).unwrap();
        let tcp = listeners[0].local_addr().unwrap();
        let dispatcher: Dispatcher = super::fake::spawn(world);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            http::serve(listeners, dispatcher, test_limits(), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Server {
            _dir: dir,
            socket,
            tcp,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn unix(&self) -> UnixStream {
        UnixStream::connect(&self.socket).await.unwrap()
    }

    pub async fn tcp(&self) -> TcpStream {
        TcpStream::connect(self.tcp).await.unwrap()
    }

    /// One XML-RPC call over the unix socket.
    pub async fn call(&self, method: &str, params: &[Value]) -> Result<Value, Fault> {
        let body = xml::encode_call(method, params);
        let response = post(&mut self.unix().await, "/RPC2", body.as_bytes(), None).await;
        assert_eq!(response.status, 200, "{}", response.text());
        xml::parse_response(&response.body).unwrap()
    }

    /// Proves the server still answers.
    pub async fn assert_alive(&self) {
        assert_eq!(
            self.call("supervisor.getAPIVersion", &[]).await,
            Ok(Value::from("3.0"))
        );
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A POST with an exact body and optional `Authorization` value.
pub async fn post<S>(stream: &mut S, path: &str, body: &[u8], auth: Option<&str>) -> Response
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(auth) = auth {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    let mut raw = request.into_bytes();
    raw.extend_from_slice(body);
    exchange(stream, &raw).await
}

/// Writes raw bytes and reads one response (Content-Length framed) within a deadline.
pub async fn exchange<S>(stream: &mut S, raw: &[u8]) -> Response
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(raw).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), read_response(stream))
        .await
        .expect("no response within 5 s")
}

/// Reads one response head and its Content-Length body.
pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> Response {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a response head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    Response { status, head, body }
}

/// Reads until the server closes the connection (or 5 s pass): what it sent meanwhile.
pub async fn read_until_closed<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    out
}
