//! The listening socket of an `[fcgi-program:x]`: made by the daemon, shared by every process
//! of the pool, which all `accept` on it as their fd 0.
//!
//! It is made as Python's `InetStreamSocketConfig`/`UnixStreamSocketConfig.create_and_bind` and
//! `SocketManager` make it: TCP with `SO_REUSEADDR`, bound to `host:port`; unix with a stale file
//! at the path unlinked first, then bound, chowned to `socket_owner` and chmodded to
//! `socket_mode`; then `listen(socket_backlog or SOMAXCONN)`. A [`FcgiListener`] owns it and, for
//! a unix socket, removes the socket file when dropped (Python leaves it behind).

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::FcgiSocket;

/// Why a socket could not be made. The text is Python's `ValueError`:
/// `Could not create FastCGI socket tcp://127.0.0.1:9000: [Errno 98] Address already in use`.
#[derive(Debug, thiserror::Error)]
#[error("Could not create FastCGI socket {url}: {cause}")]
pub struct FcgiError {
    /// The socket's `tcp://`/`unix://` URL, as Python prints it.
    pub url: String,
    pub cause: Cause,
}

/// The step that failed, worded as the Python exception's `str()`.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// `socket`, `bind`, `listen`, or unlinking a stale socket file.
    #[error("{0}")]
    Os(OsError),
    /// The host name does not resolve to an IPv4 address (Python binds `AF_INET` sockets).
    #[error("{0}")]
    Resolve(String),
    #[error("Could not change ownership of socket file: {0}")]
    Chown(OsError),
    #[error("Could not change permissions of socket file: {0}")]
    Chmod(OsError),
}

/// An `OSError` as Python's `str()` shows it: `[Errno 98] Address already in use`, with
/// `: '<path>'` for the calls that name a file (`os.unlink`, `os.chown`, `os.chmod`).
#[derive(Debug)]
pub struct OsError {
    error: io::Error,
    path: Option<PathBuf>,
}

impl OsError {
    fn new(error: io::Error, path: Option<&Path>) -> OsError {
        OsError {
            error,
            path: path.map(Path::to_path_buf),
        }
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error.raw_os_error() {
            Some(n) => write!(f, "[Errno {n}] {}", nix::errno::Errno::from_raw(n).desc())?,
            None => write!(f, "{}", self.error)?,
        }
        if let Some(path) = &self.path {
            write!(f, ": {}", crate::py::repr(&path.to_string_lossy()))?;
        }
        Ok(())
    }
}

/// `SocketConfig.url`: `tcp://host:port` (host lowercased by the config reader) or
/// `unix:///path`.
pub fn url(socket: &FcgiSocket) -> String {
    match socket {
        FcgiSocket::Tcp { host, port } => format!("tcp://{host}:{port}"),
        FcgiSocket::Unix(path) => format!("unix://{}", path.display()),
    }
}

/// A bound, listening fcgi-program socket. Closed when dropped; a unix socket's file is then
/// removed too, unless something else has replaced it at that path meanwhile.
#[derive(Debug)]
pub struct FcgiListener {
    socket: Socket,
    url: String,
    /// A unix socket's file and its (device, inode), to remove only our own file.
    file: Option<(PathBuf, (u64, u64))>,
}

impl FcgiListener {
    /// Creates, binds and listens, as Python's `SocketManager._prepare_socket` does.
    /// `owner` is `(uid, gid)`, `None` for the gid leaving it unchanged.
    pub fn open(
        config: &FcgiSocket,
        backlog: Option<u32>,
        owner: Option<(u32, Option<u32>)>,
        mode: u32,
    ) -> Result<FcgiListener, FcgiError> {
        let url = url(config);
        let fail = |cause| FcgiError {
            url: url.clone(),
            cause,
        };
        let (socket, file) = match config {
            FcgiSocket::Tcp { host, port } => (bind_tcp(host, *port).map_err(fail)?, None),
            FcgiSocket::Unix(path) => {
                let (socket, id) = bind_unix(path, owner, mode).map_err(fail)?;
                (socket, Some((path.clone(), id)))
            }
        };
        // Python's default is `socket.SOMAXCONN` (4096 with glibc); the kernel caps either
        // value at net.core.somaxconn.
        let backlog = backlog.map_or(libc::SOMAXCONN, |b| i32::try_from(b).unwrap_or(i32::MAX));
        let listener = FcgiListener { socket, url, file };
        match listener.socket.listen(backlog) {
            Ok(()) => Ok(listener),
            // Dropping `listener` closes the socket (and removes its file): nothing is left of a
            // socket nobody can connect to.
            Err(e) => Err(FcgiError {
                url: listener.url.clone(),
                cause: Cause::Os(OsError::new(e, None)),
            }),
        }
    }

    /// `tcp://host:port` or `unix:///path`, for the log lines.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The TCP address actually bound (useful with port 0).
    #[cfg(test)]
    fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()?.as_socket()
    }
}

impl AsFd for FcgiListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl Drop for FcgiListener {
    fn drop(&mut self) {
        let Some((path, id)) = &self.file else {
            return;
        };
        // Only our own socket file: a group re-added on the same path has made a new one.
        let ours = std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == *id);
        if ours {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `InetStreamSocketConfig.create_and_bind`.
fn bind_tcp(host: &str, port: u16) -> Result<Socket, Cause> {
    let addr = resolve(host, port)?;
    let os = |e| Cause::Os(OsError::new(e, None));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(os)?;
    socket.set_reuse_address(true).map_err(os)?;
    socket.bind(&SockAddr::from(addr)).map_err(os)?;
    Ok(socket)
}

/// The first IPv4 address of `host`, as `bind((host, port))` on an `AF_INET` socket finds it.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, Cause> {
    let found = (host, port)
        .to_socket_addrs()
        .map_err(|e| Cause::Resolve(e.to_string()))?
        .find(SocketAddr::is_ipv4);
    found.ok_or_else(|| Cause::Resolve(format!("no IPv4 address for {host}")))
}

/// `UnixStreamSocketConfig.create_and_bind`: a socket file bound, chowned and chmodded, and its
/// (device, inode). On failure the socket is closed and the file removed, as in Python.
fn bind_unix(
    path: &Path,
    owner: Option<(u32, Option<u32>)>,
    mode: u32,
) -> Result<(Socket, (u64, u64)), Cause> {
    // `os.path.exists` follows symlinks: a dangling one is left alone (and bind then fails).
    if path.exists() {
        std::fs::remove_file(path).map_err(|e| Cause::Os(OsError::new(e, Some(path))))?;
    }
    let os = |e| Cause::Os(OsError::new(e, None));
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(os)?;
    let addr = SockAddr::unix(path).map_err(os)?;
    socket.bind(&addr).map_err(os)?;
    let set_up = || -> Result<(u64, u64), Cause> {
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(path, Some(uid), gid)
                .map_err(|e| Cause::Chown(OsError::new(e, Some(path))))?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Cause::Chmod(OsError::new(e, Some(path))))?;
        let meta = std::fs::symlink_metadata(path).map_err(os)?;
        Ok((meta.dev(), meta.ino()))
    };
    match set_up() {
        Ok(id) => Ok((socket, id)),
        Err(cause) => {
            drop(socket);
            let _ = std::fs::remove_file(path);
            Err(cause)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpStream;
    use std::os::unix::net::UnixStream;

    use super::*;

    fn tcp(port: u16) -> FcgiSocket {
        FcgiSocket::Tcp {
            host: "127.0.0.1".into(),
            port,
        }
    }

    #[test]
    fn a_tcp_socket_listens_and_a_taken_port_is_pythons_error() {
        let listener = FcgiListener::open(&tcp(0), None, None, 0).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"x").unwrap();
        let err = FcgiListener::open(&tcp(port), None, None, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Could not create FastCGI socket tcp://127.0.0.1:{port}: [Errno 98] Address \
                 already in use"
            )
        );
    }

    #[test]
    fn a_unix_socket_replaces_a_stale_file_gets_its_mode_and_is_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.sock");
        std::fs::write(&path, b"stale").unwrap();
        let listener =
            FcgiListener::open(&FcgiSocket::Unix(path.clone()), Some(5), None, 0o640).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"x").unwrap();
        drop(listener);
        assert!(!path.exists());
    }

    #[test]
    fn dropping_leaves_a_socket_file_that_replaced_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.sock");
        let unix = FcgiSocket::Unix(path.clone());
        let old = FcgiListener::open(&unix, None, None, 0o700).unwrap();
        let new = FcgiListener::open(&unix, None, None, 0o700).unwrap();
        drop(old);
        assert!(path.exists());
        UnixStream::connect(&path).unwrap();
        drop(new);
        assert!(!path.exists());
    }

    #[test]
    fn a_missing_directory_is_an_os_error() {
        let unix = FcgiSocket::Unix(PathBuf::from("/nonexistent-dir/app.sock"));
        let err = FcgiListener::open(&unix, None, None, 0o700).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not create FastCGI socket unix:///nonexistent-dir/app.sock: [Errno 2] No \
             such file or directory"
        );
    }
}
