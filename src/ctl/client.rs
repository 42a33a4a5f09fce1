//! The ctl's side of the wire: XML-RPC calls to `/RPC2` and streamed `GET`s of the log tails,
//! over HTTP/1.1 on a unix socket or TCP, as Python's `SupervisorTransport` and `HTTPHandler`
//! make them (one connection per call, Basic auth, `TCP_NODELAY` so no call waits on Nagle).
//!
//! The codec is the daemon's own ([`crate::rpc::xml`]); HTTP is hyper's client.

use std::io;
use std::path::PathBuf;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::rpc::xml::{encode_call, parse_response};
use crate::rpc::{Fault, Value};

/// Where the server listens, from a `serverurl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

impl Target {
    /// `unix:///path` or `http://host[:port]`, as `SupervisorTransport` accepts them; anything
    /// else is Python's `Unknown protocol for serverurl <url>`.
    pub fn parse(serverurl: &str) -> Result<Target, CallError> {
        if let Some(path) = serverurl.strip_prefix("unix://") {
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        let Some(rest) = serverurl.strip_prefix("http://") else {
            return Err(CallError::BadUrl(serverurl.to_string()));
        };
        let netloc = rest.split(['/', '?', '#']).next().unwrap_or("");
        let hostport = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            None | Some("") => 80,
            Some(p) => p.parse().map_err(|_| {
                CallError::Value(format!("Port could not be cast to integer value as '{p}'"))
            })?,
        };
        Ok(Target::Tcp {
            host: host.to_lowercase(),
            port,
        })
    }

    /// The `Host:` header Python's clients send.
    fn host_header(&self) -> String {
        match self {
            Target::Unix(_) => "localhost".to_string(),
            Target::Tcp { host, port: 80 } => host.clone(),
            Target::Tcp { host, port } => format!("{host}:{port}"),
        }
    }
}

/// Why a call did not return a value. Each command decides which of these it reports itself;
/// the rest reach the shell's catch-all, which prints them as Python's `onecmd` does.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server answered with an XML-RPC fault.
    #[error("<Fault {}: {}>", .0.code, crate::py::repr(&.0.string))]
    Fault(Fault),
    /// The server answered with an HTTP status other than 200 (`xmlrpclib.ProtocolError`).
    #[error("<ProtocolError for 127.0.0.1/RPC2: {status} {reason}>")]
    Http { status: u16, reason: String },
    /// Connecting, writing or reading failed (`socket.error`).
    #[error("{}", py_os_error(.0))]
    Io(#[from] io::Error),
    /// A `serverurl` that is neither `unix://` nor `http://`.
    #[error("Unknown protocol for serverurl {0}")]
    BadUrl(String),
    /// A malformed `serverurl` port, or a reply that is not XML-RPC.
    #[error("{0}")]
    Value(String),
}

impl CallError {
    /// The Python exception class the same failure raises in Python's supervisorctl, for the
    /// `error: <class '...'>, <message>` line.
    pub fn python_class(&self) -> &'static str {
        match self {
            CallError::Fault(_) => "xmlrpc.client.Fault",
            CallError::Http { .. } => "xmlrpc.client.ProtocolError",
            CallError::Io(e) => match e.raw_os_error() {
                Some(libc::ECONNREFUSED) => "ConnectionRefusedError",
                Some(libc::ENOENT) => "FileNotFoundError",
                Some(libc::EACCES | libc::EPERM) => "PermissionError",
                Some(libc::ECONNRESET) => "ConnectionResetError",
                Some(libc::EPIPE) => "BrokenPipeError",
                Some(libc::ETIMEDOUT) => "TimeoutError",
                _ if e.kind() == io::ErrorKind::UnexpectedEof => "http.client.RemoteDisconnected",
                _ => "OSError",
            },
            CallError::BadUrl(_) | CallError::Value(_) => "ValueError",
        }
    }

    /// The OS error number of a connection failure, as upcheck inspects `e.args[0]`.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CallError::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// The fault code, when the server answered with a fault.
    pub fn fault_code(&self) -> Option<i32> {
        match self {
            CallError::Fault(f) => Some(f.code),
            _ => None,
        }
    }
}

/// `str(OSError)`: `[Errno 111] Connection refused`.
fn py_os_error(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("[Errno {n}] {}", nix::errno::Errno::from_raw(n).desc()),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            "Remote end closed connection without response".to_string()
        }
        None => e.to_string(),
    }
}

/// An HTTP status Python's `HTTPHandler` reports for a tail it cannot read.
#[derive(Debug)]
pub enum TailError {
    Connect(CallError),
    Status(u16),
}

/// One server and the credentials to use with it.
#[derive(Debug, Clone)]
pub struct Client {
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

type Sender<B> = http1::SendRequest<B>;

/// The size of each read from the server.
const READ_BUF: usize = 256 * 1024;

impl Client {
    /// `supervisor.<method>(params...)` (or `system.*`): the value, or why there is none.
    pub async fn call(&self, method: &str, params: &[Value]) -> Result<Value, CallError> {
        let target = Target::parse(&self.serverurl)?;
        let body = encode_call(method, params);
        let mut req = Request::post("/RPC2")
            .header("Host", target.host_header())
            .header(
                "User-Agent",
                concat!("supervisor-rs/", env!("CARGO_PKG_VERSION")),
            )
            .header("Content-Type", "text/xml")
            .header("Accept", "text/xml")
            .header("Content-Length", body.len());
        // SupervisorTransport sends credentials only when both are set.
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            req = req.header("Authorization", basic(u, p));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::Value(e.to_string()))?;
        let mut sender: Sender<Full<Bytes>> = connect(&target).await?;
        let resp = sender.send_request(req).await.map_err(hyper_io)?;
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(CallError::Http {
                status: status.as_u16(),
                reason: reason(&resp),
            });
        }
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(hyper_io)?
            .to_bytes();
        match parse_response(&bytes) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(fault)) => Err(CallError::Fault(fault)),
            Err(e) => Err(CallError::Value(e.to_string())),
        }
    }

    /// Streams `GET <path>` (a `/logtail/...` or `/mainlogtail`), handing each piece of the body
    /// to `sink` until the server closes the stream.
    pub async fn stream(&self, path: &str, mut sink: impl FnMut(&[u8])) -> Result<(), TailError> {
        let target = Target::parse(&self.serverurl).map_err(TailError::Connect)?;
        let mut req = Request::get(path)
            .header("Host", target.host_header())
            .header("Accept-Encoding", "chunked")
            .header("Accept", "*/*")
            .header("User-agent", "Supervisor HTTP Client");
        // HTTPHandler sends credentials whenever a password is set.
        if let Some(p) = self.password.as_deref().filter(|p| !p.is_empty()) {
            req = req.header(
                "Authorization",
                basic(self.username.as_deref().unwrap_or(""), p),
            );
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| TailError::Connect(CallError::Value(e.to_string())))?;
        let mut sender: Sender<Empty<Bytes>> =
            connect(&target).await.map_err(TailError::Connect)?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| TailError::Connect(hyper_io(e)))?;
        if resp.status() != StatusCode::OK {
            return Err(TailError::Status(resp.status().as_u16()));
        }
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref() {
                sink(data);
            }
        }
        Ok(())
    }
}

/// Opens a connection and starts its HTTP/1.1 driver on the current runtime.
async fn connect<B>(target: &Target) -> Result<Sender<B>, CallError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match target {
        Target::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await?;
            handshake(stream).await
        }
        Target::Tcp { host, port } => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            handshake(stream).await
        }
    }
}

async fn handshake<S, B>(stream: S) -> Result<Sender<B>, CallError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Big reads: a getAllProcessInfo of 1000 processes is ~700 KB, 8 KB at a time by default.
    let (sender, conn) = http1::Builder::new()
        .read_buf_exact_size(Some(READ_BUF))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(hyper_io)?;
    tokio::spawn(async move {
        // The connection ends when the call's response has been read or the server hangs up;
        // either way the call itself reports what went wrong.
        let _ = conn.await;
    });
    Ok(sender)
}

/// A hyper error as the socket error Python would see: the underlying OS error where there is
/// one, else an unexpected end of the stream (`RemoteDisconnected`).
fn hyper_io(e: hyper::Error) -> CallError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return CallError::Io(io::Error::from_raw_os_error(n));
            }
        }
        source = s.source();
    }
    CallError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()))
}

/// The reason phrase the server sent, else the canonical one.
fn reason<B>(resp: &hyper::Response<B>) -> String {
    resp.extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| resp.status().canonical_reason().map(str::to_string))
        .unwrap_or_default()
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_urls() {
        assert_eq!(
            Target::parse("unix:///tmp/s.sock").unwrap(),
            Target::Unix(PathBuf::from("/tmp/s.sock"))
        );
        assert_eq!(
            Target::parse("http://LocalHost:9001").unwrap(),
            Target::Tcp {
                host: "localhost".into(),
                port: 9001
            }
        );
        assert_eq!(
            Target::parse("http://127.0.0.1/").unwrap(),
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: 80
            }
        );
        assert_eq!(
            Target::parse("http://[::1]:9002").unwrap(),
            Target::Tcp {
                host: "::1".into(),
                port: 9002
            }
        );
        assert!(matches!(
            Target::parse("https://x:1"),
            Err(CallError::BadUrl(_))
        ));
    }

    #[test]
    fn errors_read_as_python_prints_them() {
        let refused = CallError::Io(io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(refused.python_class(), "ConnectionRefusedError");
        assert_eq!(refused.to_string(), "[Errno 111] Connection refused");
        let http = CallError::Http {
            status: 401,
            reason: "Unauthorized".into(),
        };
        assert_eq!(
            http.to_string(),
            "<ProtocolError for 127.0.0.1/RPC2: 401 Unauthorized>"
        );
        let fault = CallError::Fault(Fault {
            code: 6,
            string: "SHUTDOWN_STATE".into(),
        });
        assert_eq!(fault.to_string(), "<Fault 6: 'SHUTDOWN_STATE'>");
    }
}
