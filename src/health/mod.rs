//! Health checks (ours; `healthcheck=` in `[program:x]`): the verdict of a series of probes
//! as a pure state machine, and the network probes. Command probes are children like any
//! other, spawned and reaped by the supervisor actor (`supervisor/health.rs`), which also
//! schedules every probe, so nothing here blocks it.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Socket, Type};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{HealthCheck, Probe};

/// What the probes say of a process so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Running, not probed yet (or only failures inside the start period).
    Unknown,
    Healthy,
    Unhealthy,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// A change of [`Status`] worth a log line and an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    BecameHealthy,
    BecameUnhealthy,
}

/// One running process's health, from the moment it entered RUNNING.
#[derive(Debug, Clone)]
pub struct Health {
    pub status: Status,
    /// Failed probes in a row (failures inside the start period do not count).
    pub failures: u32,
    /// When the process entered RUNNING (the start period runs from there).
    pub since: Instant,
    /// What the last probe said, and when (epoch seconds).
    pub last: Option<(bool, String, i64)>,
}

impl Health {
    pub fn new(since: Instant) -> Health {
        Health {
            status: Status::Unknown,
            failures: 0,
            since,
            last: None,
        }
    }

    /// Takes one probe's outcome: a pass makes the process healthy; `retries` counted
    /// failures in a row make it unhealthy. Returns the change, if any.
    pub fn record(
        &mut self,
        pass: bool,
        detail: String,
        now: Instant,
        epoch: i64,
        check: &HealthCheck,
    ) -> Option<Verdict> {
        self.last = Some((pass, detail, epoch));
        if pass {
            self.failures = 0;
            if self.status == Status::Healthy {
                return None;
            }
            self.status = Status::Healthy;
            return Some(Verdict::BecameHealthy);
        }
        if now < self.since + check.start_period {
            return None;
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures >= check.retries && self.status != Status::Unhealthy {
            self.status = Status::Unhealthy;
            return Some(Verdict::BecameUnhealthy);
        }
        None
    }

    /// Whether the failure just recorded counted (it was outside the start period).
    pub fn counts(&self, now: Instant, check: &HealthCheck) -> bool {
        now >= self.since + check.start_period
    }
}

/// How far apart the probe deadlines of different processes may be: each is put off to the
/// next multiple of it (from `origin`), so that probes due within it run in one wake-up of
/// the daemon instead of one each.
pub const GRID: Duration = Duration::from_millis(20);

/// `at`, put off to the next multiple of [`GRID`] from `origin`.
pub fn on_grid(origin: Instant, at: Instant) -> Instant {
    let step = GRID.as_nanos();
    let since = at.saturating_duration_since(origin).as_nanos();
    let steps = since.div_ceil(step);
    origin + Duration::from_nanos(u64::try_from(steps * step).unwrap_or(u64::MAX))
}

/// A TCP probe of an IP address, begun without the event loop.
pub enum TcpStart {
    /// The connect finished at once (on loopback or a near host it usually does): no socket
    /// registration, task or wake-up was needed.
    Done(Result<String, String>),
    /// Still connecting: [`tcp_finish`] waits for it.
    Connecting(std::net::TcpStream),
}

/// Begins a non-blocking connect to `addr` and looks (without waiting) whether it is done.
pub fn tcp_start(addr: SocketAddr) -> TcpStart {
    let failed = |e: std::io::Error| TcpStart::Done(Err(format!("connect to {addr}: {e}")));
    let socket = match Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), None) {
        Ok(socket) => socket,
        Err(e) => return failed(e),
    };
    match socket.connect(&addr.into()) {
        Ok(()) => return TcpStart::Done(Ok("connected".into())),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return failed(e),
    }
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(1) => match socket.take_error() {
            Ok(None) => TcpStart::Done(Ok("connected".into())),
            Ok(Some(e)) | Err(e) => failed(e),
        },
        _ => TcpStart::Connecting(socket.into()),
    }
}

/// Waits, within `timeout`, for a connect [`tcp_start`] left under way.
pub async fn tcp_finish(stream: std::net::TcpStream, timeout: Duration) -> Result<String, String> {
    let addr = stream
        .peer_addr()
        .map_or_else(|_| "the address".to_string(), |a| a.to_string());
    let failed = |e: std::io::Error| format!("connect to {addr}: {e}");
    let stream = TcpStream::from_std(stream).map_err(failed)?;
    match tokio::time::timeout(timeout, stream.writable()).await {
        Err(_) => Err(format!("timed out after {}s", timeout.as_secs())),
        Ok(Err(e)) => Err(failed(e)),
        Ok(Ok(())) => match stream.take_error() {
            Ok(None) => Ok("connected".into()),
            Ok(Some(e)) | Err(e) => Err(failed(e)),
        },
    }
}

/// Runs an HTTP or TCP probe within `timeout`: `Ok` with what passed (`HTTP 200`,
/// `connected`), `Err` with why not. A command probe is not run here (`None`).
pub async fn network(probe: &Probe, timeout: Duration) -> Option<Result<String, String>> {
    let work = async {
        match probe {
            Probe::Command(_) => None,
            Probe::Tcp { host, port } => Some(
                TcpStream::connect((host.as_str(), *port))
                    .await
                    .map(|_| "connected".to_string())
                    .map_err(|e| format!("connect to {host}:{port}: {e}")),
            ),
            Probe::Http { host, port, path } => Some(http(host, *port, path).await),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => Some(Err(format!("timed out after {}s", timeout.as_secs()))),
    }
}

/// `GET path` over HTTP/1.0; a 2xx or 3xx status line passes.
async fn http(host: &str, port: u16, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connect to {host}:{port}: {e}"))?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: supervisor-rs healthcheck\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send to {authority}: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read from {authority}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or("").trim();
    let status = line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("no HTTP status line from {authority}: {line:?}"))?;
    if (200..400).contains(&status) {
        Ok(format!("HTTP {status}"))
    } else {
        Err(format!("HTTP {status} from http://{authority}{path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HealthAction;

    fn check(retries: u32, start_period: u64) -> HealthCheck {
        HealthCheck {
            probe: Probe::Tcp {
                host: "localhost".into(),
                port: 1,
            },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            retries,
            start_period: Duration::from_secs(start_period),
            action: HealthAction::Restart,
        }
    }

    #[test]
    fn a_pass_makes_healthy_retries_failures_unhealthy() {
        let c = check(3, 0);
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        let rec = |h: &mut Health, pass| h.record(pass, String::new(), t0, 0, &c);
        assert_eq!(rec(&mut h, true), Some(Verdict::BecameHealthy));
        assert_eq!(rec(&mut h, true), None);
        assert_eq!(rec(&mut h, false), None);
        assert_eq!(rec(&mut h, false), None);
        assert_eq!(rec(&mut h, true), None, "a pass resets the count");
        assert_eq!(rec(&mut h, false), None);
        assert_eq!(rec(&mut h, false), None);
        assert_eq!(rec(&mut h, false), Some(Verdict::BecameUnhealthy));
        assert_eq!(rec(&mut h, false), None, "once");
        assert_eq!(h.failures, 4);
        assert_eq!(rec(&mut h, true), Some(Verdict::BecameHealthy));
    }

    #[test]
    fn deadlines_are_put_off_to_the_grid() {
        let t0 = Instant::now();
        assert_eq!(on_grid(t0, t0), t0);
        assert_eq!(on_grid(t0, t0 + Duration::from_millis(1)), t0 + GRID);
        assert_eq!(on_grid(t0, t0 + GRID), t0 + GRID);
        let later = t0 + Duration::from_millis(1001);
        assert_eq!(on_grid(t0, later), t0 + Duration::from_millis(1020));
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let c = check(1, 10);
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        assert_eq!(h.record(false, String::new(), t0, 0, &c), None);
        assert!(!h.counts(t0, &c));
        assert_eq!(h.failures, 0);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            h.record(false, String::new(), later, 0, &c),
            Some(Verdict::BecameUnhealthy)
        );
    }

    /// The outcome of a TCP probe begun with `tcp_start`, waiting if it has to.
    async fn tcp(addr: SocketAddr) -> Result<String, String> {
        match tcp_start(addr) {
            TcpStart::Done(outcome) => outcome,
            TcpStart::Connecting(stream) => tcp_finish(stream, Duration::from_secs(5)).await,
        }
    }

    #[tokio::test]
    async fn a_tcp_probe_of_an_address_connects_or_says_why_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(tcp(addr).await, Ok("connected".into()));
        drop(listener);
        let refused = tcp(addr).await.unwrap_err();
        assert!(
            refused.starts_with(&format!("connect to {addr}: Connection refused")),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn tcp_and_http_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                s.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let probe = |path: &str| Probe::Http {
            host: "127.0.0.1".into(),
            port,
            path: path.into(),
        };
        let t = Duration::from_secs(5);
        assert_eq!(network(&probe("/ok"), t).await, Some(Ok("HTTP 200".into())));
        let failed = network(&probe("/down"), t).await.unwrap().unwrap_err();
        assert!(failed.starts_with("HTTP 503"), "{failed}");
        server.await.unwrap();
        let closed = Probe::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        assert!(
            network(&closed, t).await.unwrap().is_err(),
            "nothing listens"
        );
        assert_eq!(network(&Probe::Command("true".into()), t).await, None);
    }
}
