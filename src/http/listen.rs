//! Opening the `[inet_http_server]` and `[unix_http_server]` sockets (before daemonizing, as
//! Python does) and serving connections on them: one task per connection, `TCP_NODELAY`, header
//! and body deadlines, so no client can hold more than its own connection.

use std::future::Future;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{Config, Credentials, LogLevel, ParseMessage};
use crate::rpc::Dispatcher;

use super::deadline::HeadDeadline;
use super::{App, Limits};

/// Why the HTTP servers could not be opened. The text is Python's usage error message.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.")]
    AddrInUse,
    #[error("Cannot open an HTTP server: socket.error reported errno.{name} ({code})")]
    Socket { name: String, code: i32 },
    #[error("Not permitted to chown {path} to uid/gid ({uid}, {gid}); adjust \"sockchown\" value in config file or on command line to values that the current user ({user}) can successfully chown")]
    Chown {
        path: String,
        uid: u32,
        gid: i64,
        user: String,
    },
}

impl From<io::Error> for HttpError {
    fn from(err: io::Error) -> HttpError {
        match err.raw_os_error() {
            Some(libc::EADDRINUSE) => HttpError::AddrInUse,
            Some(code) => HttpError::Socket {
                name: format!("{:?}", nix::errno::Errno::from_raw(code)),
                code,
            },
            None => HttpError::Socket {
                name: err.kind().to_string(),
                code: 0,
            },
        }
    }
}

/// An open, listening socket of one server section, not yet served.
#[derive(Debug)]
pub struct BoundListener {
    /// `inet_http_server`, `unix_http_server:x`, ...
    pub section: String,
    auth: Option<Credentials>,
    socket: Socket,
}

#[derive(Debug)]
enum Socket {
    Tcp(std::net::TcpListener),
    /// The socket file is removed when serving ends.
    Unix(std::os::unix::net::UnixListener, PathBuf),
}

impl BoundListener {
    /// The TCP address, for inet servers (useful with port 0).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.socket {
            Socket::Tcp(l) => l.local_addr().ok(),
            Socket::Unix(..) => None,
        }
    }
}

/// Opens every configured server, inet ones first (Python's order). A stale unix socket (one
/// nobody answers on) is replaced, saying `Unlinking stale socket <path>` on stderr.
pub fn bind(config: &Config) -> Result<Vec<BoundListener>, HttpError> {
    let mut listeners = Vec::new();
    for server in &config.inet_http_servers {
        let host = if server.host.is_empty() || server.host == "*" {
            "0.0.0.0"
        } else {
            server.host.as_str()
        };
        let listener = std::net::TcpListener::bind((host, server.port))?;
        listener.set_nonblocking(true)?;
        listeners.push(BoundListener {
            section: server.section.clone(),
            auth: server.auth.clone(),
            socket: Socket::Tcp(listener),
        });
    }
    for server in &config.unix_http_servers {
        let listener = bind_unix(&server.file, server.chmod, server.chown)?;
        listeners.push(BoundListener {
            section: server.section.clone(),
            auth: server.auth.clone(),
            socket: Socket::Unix(listener, server.file.clone()),
        });
    }
    Ok(listeners)
}

fn bind_unix(
    path: &Path,
    mode: u32,
    chown: Option<(u32, Option<u32>)>,
) -> Result<std::os::unix::net::UnixListener, HttpError> {
    if path.symlink_metadata().is_ok() {
        if UnixStream::connect(path).is_ok() {
            return Err(HttpError::AddrInUse);
        }
        eprintln!("Unlinking stale socket {}", path.display());
        std::fs::remove_file(path)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    if let Some((uid, gid)) = chown {
        let result = nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(uid)),
            gid.map(nix::unistd::Gid::from_raw),
        );
        match result {
            Ok(()) => {}
            Err(nix::errno::Errno::EPERM) => {
                let user = crate::users::user_by_uid(nix::unistd::geteuid().as_raw())
                    .map(|u| u.name)
                    .unwrap_or_default();
                return Err(HttpError::Chown {
                    path: path.display().to_string(),
                    uid,
                    gid: gid.map_or(-1, i64::from),
                    user,
                });
            }
            Err(e) => return Err(io::Error::from(e).into()),
        }
    }
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What opening the servers writes to the main log, in Python's order: per server, `RPC
/// interface '<ns>' initialized` for each built-in namespace, then the CRIT about a server
/// without authentication. A plugin interface we cannot load is warned about once, first.
pub fn startup_messages(config: &Config) -> Vec<ParseMessage> {
    let mut messages: Vec<ParseMessage> = config
        .rpcinterfaces
        .iter()
        .filter(|r| !r.builtin)
        .map(|r| ParseMessage {
            level: LogLevel::Warn,
            text: format!(
                "[rpcinterface:{}] uses the Python factory {}, which supervisor-rs cannot load; the '{}' namespace answers UNKNOWN_METHOD",
                r.name, r.factory, r.name
            ),
        })
        .collect();
    let servers = config
        .inet_http_servers
        .iter()
        .map(|s| (&s.section, s.auth.is_some()))
        .chain(
            config
                .unix_http_servers
                .iter()
                .map(|s| (&s.section, s.auth.is_some())),
        );
    for (section, has_auth) in servers {
        for r in config.rpcinterfaces.iter().filter(|r| r.builtin) {
            messages.push(ParseMessage {
                level: LogLevel::Info,
                text: format!("RPC interface '{}' initialized", r.name),
            });
        }
        if !has_auth {
            messages.push(ParseMessage {
                level: LogLevel::Critical,
                text: format!(
                    "Server '{section}' running without any HTTP authentication checking"
                ),
            });
        }
    }
    messages
}

/// Serves every listener until `shutdown` completes, then removes the unix socket files.
///
/// The accept loops run inside this future, not as tasks of their own: when it ends or is
/// dropped (an aborted server task), every listener is closed at once, so a restart can bind
/// the same addresses again straight away.
pub async fn serve(
    listeners: Vec<BoundListener>,
    dispatcher: Dispatcher,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut loops: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
    let mut socket_files = SocketFiles(Vec::new());
    for listener in listeners {
        let app = Arc::new(App::new(dispatcher.clone(), listener.auth, limits));
        match listener.socket {
            Socket::Tcp(l) => {
                let l = tokio::net::TcpListener::from_std(l)?;
                loops.push(Box::pin(accept_tcp(l, app, limits)));
            }
            Socket::Unix(l, path) => {
                let l = tokio::net::UnixListener::from_std(l)?;
                socket_files.0.push(path);
                loops.push(Box::pin(accept_unix(l, app, limits)));
            }
        }
    }
    let accepting = std::future::poll_fn(|cx| {
        loops.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if loops.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    });
    tokio::select! {
        _ = shutdown => {}
        _ = accepting => {}
    }
    drop(socket_files);
    Ok(())
}

/// The unix socket files of a serving run, removed when it ends however it ends.
struct SocketFiles(Vec<PathBuf>);

impl Drop for SocketFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

async fn accept_tcp(listener: tokio::net::TcpListener, app: Arc<App>, limits: Limits) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                connection(stream, app.clone(), limits);
            }
            Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
        }
    }
}

async fn accept_unix(listener: tokio::net::UnixListener, app: Arc<App>, limits: Limits) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => connection(stream, app.clone(), limits),
            Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
        }
    }
}

/// Serves one connection (HTTP/1.0 and 1.1, keep-alive) on its own task.
fn connection<S>(stream: S, app: Arc<App>, limits: Limits)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(serve_connection(stream, app, limits));
}

/// Serves one connection until the client or hyper closes it (the HTTP fuzz target runs this).
pub(super) async fn serve_connection<S>(stream: S, app: Arc<App>, limits: Limits)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (stream, received) = HeadDeadline::new(stream, limits.header_timeout);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        received.store(true, Ordering::Release);
        let app = Arc::clone(&app);
        async move { Ok::<_, std::convert::Infallible>(super::handle(&app, request).await) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
