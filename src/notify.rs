//! systemd's `Type=notify` protocol (sd_notify(3)): datagrams of `KEY=VALUE` lines to the unix
//! socket named by `NOTIFY_SOCKET` (`@name` for an abstract one). The daemon says `READY=1`
//! once its autostart programs are launched, `STATUS=` with counts by state, `RELOADING=1` and
//! `STOPPING=1`, and `WATCHDOG=1` at half of `WATCHDOG_USEC` while its actor is alive.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The variables systemd hands the main process; children must not inherit them (they would
/// speak for the daemon), as `sd_notify`'s `unset_environment` does.
pub const VARIABLES: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// A connection to systemd's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when it is meant for us.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment; `None` when not run by systemd with `Type=notify` (or the socket
    /// cannot be used: nothing to tell then).
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let path = path.to_string_lossy();
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).ok()?,
            None => SocketAddr::from_pathname(path.as_ref()).ok()?,
        };
        let socket = UnixDatagram::unbound().ok()?;
        let ours = std::env::var("WATCHDOG_PID")
            .map_or(true, |p| p.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && ours)
            .map(|u| Duration::from_micros(u / 2));
        Some(Notifier {
            socket,
            addr,
            watchdog,
        })
    }

    /// Sends one message; systemd being gone is not the daemon's problem, so errors are dropped.
    pub fn send(&self, message: &str) {
        let _ = self.socket.send_to_addr(message.as_bytes(), &self.addr);
    }

    /// The `WATCHDOG=1` interval, if systemd asked for one.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }
}

/// `STATUS=` text: the number of processes in each state, in the states' order, e.g.
/// `4 RUNNING, 1 STARTING, 1 FATAL` (or `no programs`).
pub fn status_line(counts: &[(&'static str, usize)]) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(state, n)| format!("{n} {state}"))
        .collect();
    if parts.is_empty() {
        "no programs".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_read_plainly() {
        assert_eq!(
            status_line(&[("STOPPED", 0), ("RUNNING", 4), ("FATAL", 1)]),
            "4 RUNNING, 1 FATAL"
        );
        assert_eq!(status_line(&[("RUNNING", 0)]), "no programs");
    }
}
