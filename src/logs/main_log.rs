//! The supervisord main log (`logfile=`), Python `loggers.Logger` with its handlers.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{LogLevel, LogTarget, Supervisord};

use super::rotating::{remove_log_file, RotatingFile};

/// Python's four-letter level name.
pub fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Critical => "CRIT",
        LogLevel::Error => "ERRO",
        LogLevel::Warn => "WARN",
        LogLevel::Info => "INFO",
        LogLevel::Debug => "DEBG",
        LogLevel::Trace => "TRAC",
        LogLevel::Blather => "BLAT",
    }
}

/// `YYYY-MM-DD HH:MM:SS,mmm LEVEL msg\n` in local time (milliseconds truncated, as Python).
pub fn format_line(now: chrono::DateTime<chrono::Local>, level: LogLevel, msg: &str) -> String {
    format!(
        "{},{:03} {} {}\n",
        now.format("%Y-%m-%d %H:%M:%S"),
        now.timestamp_subsec_millis().min(999),
        level_name(level),
        msg
    )
}

#[derive(Debug)]
enum Sink {
    File(RotatingFile),
    Syslog,
    None,
}

#[derive(Debug)]
struct Inner {
    level: LogLevel,
    echo: AtomicBool,
    sink: Mutex<Sink>,
}

/// A cheap, cloneable handle to the main log. Writes are short synchronous appends under a
/// mutex; write errors are ignored (Python prints them to stderr and carries on).
#[derive(Debug, Clone)]
pub struct MainLog {
    inner: Arc<Inner>,
}

impl MainLog {
    /// Opens the main log as `[supervisord]` configures it. Echoes to stdout when
    /// `nodaemon && !silent`.
    pub fn open(cfg: &Supervisord) -> io::Result<MainLog> {
        let sink = match &cfg.logfile {
            LogTarget::File(path) => Sink::File(RotatingFile::open(
                path,
                cfg.logfile_maxbytes,
                cfg.logfile_backups,
            )?),
            LogTarget::Syslog => Sink::Syslog,
            LogTarget::None => Sink::None,
        };
        Ok(MainLog {
            inner: Arc::new(Inner {
                level: cfg.loglevel,
                echo: AtomicBool::new(cfg.nodaemon && !cfg.silent),
                sink: Mutex::new(sink),
            }),
        })
    }

    /// The configured `loglevel`.
    pub fn level(&self) -> LogLevel {
        self.inner.level
    }

    /// Whether a message at `level` would be written.
    pub fn enabled(&self, level: LogLevel) -> bool {
        level >= self.inner.level
    }

    /// Turns the stdout echo on or off (off after daemonizing).
    pub fn set_echo(&self, on: bool) {
        self.inner.echo.store(on, Ordering::Relaxed);
    }

    fn sink(&self) -> MutexGuard<'_, Sink> {
        self.inner.sink.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `msg` at `level` unless it is below the configured level.
    pub fn log(&self, level: LogLevel, msg: impl Into<String>) {
        if !self.enabled(level) {
            return;
        }
        let msg = msg.into();
        let now = chrono::Local::now();
        let line = format_line(now, level, &msg);
        if self.inner.echo.load(Ordering::Relaxed) {
            let mut out = io::stdout().lock();
            let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        }
        match &mut *self.sink() {
            Sink::File(f) => {
                let _ = f.write(line.as_bytes());
            }
            Sink::Syslog => {
                for part in msg.trim_end_matches('\n').split('\n') {
                    crate::sys::syslog::info(format_line(now, level, part).as_bytes());
                }
            }
            Sink::None => {}
        }
    }

    pub fn critical(&self, msg: impl Into<String>) {
        self.log(LogLevel::Critical, msg)
    }

    pub fn error(&self, msg: impl Into<String>) {
        self.log(LogLevel::Error, msg)
    }

    pub fn warn(&self, msg: impl Into<String>) {
        self.log(LogLevel::Warn, msg)
    }

    pub fn info(&self, msg: impl Into<String>) {
        self.log(LogLevel::Info, msg)
    }

    pub fn debug(&self, msg: impl Into<String>) {
        self.log(LogLevel::Debug, msg)
    }

    pub fn trace(&self, msg: impl Into<String>) {
        self.log(LogLevel::Trace, msg)
    }

    pub fn blather(&self, msg: impl Into<String>) {
        self.log(LogLevel::Blather, msg)
    }

    /// The log file, when logging to a file.
    pub fn path(&self) -> Option<PathBuf> {
        match &*self.sink() {
            Sink::File(f) => Some(f.path().to_path_buf()),
            Sink::Syslog | Sink::None => None,
        }
    }

    /// Reopens the log file (SIGUSR2); a no-op for syslog and none.
    pub fn reopen(&self) -> io::Result<()> {
        match &mut *self.sink() {
            Sink::File(f) => f.reopen(),
            Sink::Syslog | Sink::None => Ok(()),
        }
    }

    /// `clearLog`: unlinks the file, then, as Python, logs INFO `reopening log file` once per
    /// handler (file, and stdout when echoing) before reopening. The caller answers NO_FILE
    /// itself when there is no file; an unlink error is returned (FAILED).
    pub fn clear(&self) -> io::Result<()> {
        if let Sink::File(f) = &*self.sink() {
            remove_log_file(f.path())?;
        }
        let handlers = 1 + usize::from(self.inner.echo.load(Ordering::Relaxed));
        for _ in 0..handlers {
            self.info("reopening log file");
        }
        self.reopen()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn supervisord(logfile: LogTarget, level: LogLevel) -> Supervisord {
        Supervisord {
            logfile,
            logfile_maxbytes: 0,
            logfile_backups: 0,
            loglevel: level,
            pidfile: None,
            umask: 0o22,
            nodaemon: false,
            silent: false,
            minfds: 1024,
            minprocs: 200,
            nocleanup: false,
            childlogdir: std::env::temp_dir(),
            user: None,
            directory: None,
            strip_ansi: false,
            environment: Default::default(),
            identifier: "supervisor".into(),
            init: false,
            remember_stopped: false,
        }
    }

    #[test]
    fn line_format() {
        let t = chrono::Local
            .with_ymd_and_hms(2026, 11, 24, 19, 3, 59)
            .unwrap()
            + chrono::Duration::microseconds(686_999);
        assert_eq!(
            format_line(t, LogLevel::Info, "spawned: 'listener' with pid 4320"),
            "2026-11-24 19:03:59,686 INFO spawned: 'listener' with pid 4320\n"
        );
        let names: Vec<_> = [
            LogLevel::Critical,
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace,
            LogLevel::Blather,
        ]
        .into_iter()
        .map(level_name)
        .collect();
        assert_eq!(
            names,
            ["CRIT", "ERRO", "WARN", "INFO", "DEBG", "TRAC", "BLAT"]
        );
    }

    fn lines(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l[24..].to_string())
            .collect()
    }

    #[test]
    fn level_filtering_and_file_output() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("supervisord.log");
        let log = MainLog::open(&supervisord(LogTarget::File(p.clone()), LogLevel::Warn)).unwrap();
        assert_eq!(log.path(), Some(p.clone()));
        log.blather("b");
        log.trace("t");
        log.debug("d");
        log.info("i");
        log.warn("w");
        log.error("e");
        log.critical("c");
        log.clone().log(LogLevel::Warn, String::from("w2"));
        assert_eq!(lines(&p), ["WARN w", "ERRO e", "CRIT c", "WARN w2"]);
        let line = std::fs::read_to_string(&p).unwrap();
        let stamp = &line[..23];
        assert!(chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S,%3f").is_ok());
    }

    #[test]
    fn blather_level_writes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let log =
            MainLog::open(&supervisord(LogTarget::File(p.clone()), LogLevel::Blather)).unwrap();
        log.blather("b");
        log.trace("t");
        log.debug("d");
        assert_eq!(lines(&p), ["BLAT b", "TRAC t", "DEBG d"]);
    }

    #[test]
    fn main_log_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("supervisord.log");
        let mut cfg = supervisord(LogTarget::File(p.clone()), LogLevel::Info);
        cfg.logfile_maxbytes = 100;
        cfg.logfile_backups = 2;
        let log = MainLog::open(&cfg).unwrap();
        for i in 0..20 {
            log.info(format!("message number {i:02} padded to some length"));
        }
        assert!(dir.path().join("supervisord.log.1").exists());
        assert!(dir.path().join("supervisord.log.2").exists());
        assert!(!dir.path().join("supervisord.log.3").exists());
        assert_eq!(lines(&dir.path().join("supervisord.log.1")).len(), 2);
    }

    #[test]
    fn reopen_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("supervisord.log");
        let log = MainLog::open(&supervisord(LogTarget::File(p.clone()), LogLevel::Info)).unwrap();
        log.info("received SIGUSR2 indicating log reopen request");
        std::fs::rename(&p, dir.path().join("old.log")).unwrap();
        log.reopen().unwrap();
        log.info("supervisord logreopen");
        assert_eq!(
            lines(&dir.path().join("old.log")),
            ["INFO received SIGUSR2 indicating log reopen request"]
        );
        assert_eq!(lines(&p), ["INFO supervisord logreopen"]);
        log.clear().unwrap();
        log.info("after");
        assert_eq!(lines(&p), ["INFO after"]);
        std::fs::remove_file(&p).unwrap();
        assert!(log.clear().is_err());
    }

    #[test]
    fn none_target_has_no_path() {
        let log = MainLog::open(&supervisord(LogTarget::None, LogLevel::Info)).unwrap();
        log.info("dropped");
        assert_eq!(log.path(), None);
        log.reopen().unwrap();
    }
}
