//! `healthcheck` and its options in `[program:x]` (ours; Python ignores the keys): how a
//! running process is probed, how often, and what a failing one gets.

use std::time::Duration;

use super::error::ConfigError;
use super::expand::Expansions;
use super::reader::Reader;
use super::types::{self, ValueError};

/// What one probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A command (shell-like words, as `command=`), run as the program's user with its
    /// environment and directory: exit status 0 passes.
    Command(String),
    /// `http://host:port/path`: a `GET` answered with a 2xx or 3xx status passes.
    Http {
        host: String,
        port: u16,
        path: String,
    },
    /// `tcp://host:port`: a connection accepted passes.
    Tcp { host: String, port: u16 },
}

/// `healthcheck_action`: what `retries` failures in a row do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthAction {
    /// Stop the process and start it again (the default).
    Restart,
    /// Only mark it unhealthy (log line, event, status).
    None,
}

/// A program's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures that make the process unhealthy (at least 1).
    pub retries: u32,
    /// After the process enters RUNNING, failures do not count for this long (a pass does).
    pub start_period: Duration,
    pub action: HealthAction,
}

/// The probe a `healthcheck` value names: a URL for HTTP and TCP, else a command.
pub fn probe(v: &str) -> types::Result<Probe> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ValueError("healthcheck must not be empty".into()));
    }
    if let Some(rest) = v.strip_prefix("http://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = host_port(authority, v, 80)?;
        return Ok(Probe::Http {
            host,
            port,
            path: path.to_string(),
        });
    }
    if let Some(rest) = v.strip_prefix("tcp://") {
        let (host, port) = host_port(rest.trim_end_matches('/'), v, 0)?;
        if port == 0 {
            return Err(ValueError(format!("healthcheck {v:?} needs a port")));
        }
        return Ok(Probe::Tcp { host, port });
    }
    if v.contains("://") {
        return Err(ValueError(format!(
            "healthcheck {v:?}: only http:// and tcp:// URLs, or a command"
        )));
    }
    Ok(Probe::Command(v.to_string()))
}

/// `host:port` (`[v6]:port` too); `default` when the port is left out (0: required).
fn host_port(authority: &str, whole: &str, default: u16) -> types::Result<(String, u16)> {
    let bad = || ValueError(format!("healthcheck {whole:?} is not host:port"));
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']').ok_or_else(bad)?;
            (host, rest.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad())?,
        None => default,
    };
    Ok((host.to_string(), port))
}

fn action(v: &str) -> types::Result<HealthAction> {
    match v.to_lowercase().as_str() {
        "restart" => Ok(HealthAction::Restart),
        "none" => Ok(HealthAction::None),
        _ => Err(ValueError(format!(
            "invalid 'healthcheck_action' value {} (restart or none)",
            crate::py::repr(v)
        ))),
    }
}

/// Whole seconds, at least `min`.
fn seconds(min: i64) -> impl Fn(&str) -> types::Result<Duration> {
    move |v| {
        let n = types::integer(v)?;
        if n < min {
            return Err(ValueError(format!("value {n} is below {min}")));
        }
        Ok(Duration::from_secs(u64::try_from(n).unwrap_or(0)))
    }
}

/// Reads the health check of `section`; `None` without a `healthcheck` key (the other keys
/// are still checked, so a typo in one is not silently ignored).
pub(crate) fn read(
    r: &Reader,
    section: &str,
    extra: &Expansions,
) -> Result<Option<HealthCheck>, ConfigError> {
    let interval = r.convert(section, "healthcheck_interval", "10", extra, seconds(1))?;
    let timeout = r.convert(section, "healthcheck_timeout", "5", extra, seconds(1))?;
    let retries = r.convert(section, "healthcheck_retries", "3", extra, |v| {
        let n = types::integer(v)?;
        u32::try_from(n)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| ValueError(format!("value {n} is below 1")))
    })?;
    let start_period = r.convert(section, "healthcheck_start_period", "0", extra, seconds(0))?;
    let action = r.convert(section, "healthcheck_action", "restart", extra, action)?;
    let Some(got) = r.get(section, "healthcheck", None, extra, true)? else {
        return Ok(None);
    };
    let probe = r.check(section, "healthcheck", &got, probe)?;
    Ok(Some(HealthCheck {
        probe,
        interval,
        timeout,
        retries,
        start_period,
        action,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_commands() {
        assert_eq!(
            probe("http://127.0.0.1:8000/health?x=1").unwrap(),
            Probe::Http {
                host: "127.0.0.1".into(),
                port: 8000,
                path: "/health?x=1".into()
            }
        );
        assert_eq!(
            probe("http://localhost").unwrap(),
            Probe::Http {
                host: "localhost".into(),
                port: 80,
                path: "/".into()
            }
        );
        assert_eq!(
            probe("tcp://[::1]:27017").unwrap(),
            Probe::Tcp {
                host: "::1".into(),
                port: 27017
            }
        );
        assert_eq!(
            probe("  mongo --eval 'rs.isMaster().ismaster' ").unwrap(),
            Probe::Command("mongo --eval 'rs.isMaster().ismaster'".into())
        );
    }

    #[test]
    fn bad_values() {
        for v in [
            "",
            "tcp://localhost",
            "tcp://:80",
            "http://h:port/",
            "ftp://x/",
            "http://[::1/",
        ] {
            assert!(probe(v).is_err(), "{v:?} is refused");
        }
        assert!(action("sometimes").is_err());
        assert_eq!(action("NONE").unwrap(), HealthAction::None);
        assert!(seconds(1)("0").is_err());
        assert_eq!(seconds(0)("0").unwrap(), Duration::ZERO);
    }
}
