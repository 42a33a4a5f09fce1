//! What the supervisor reports about itself and its processes, and how requests fail.
//!
//! These are the values that cross from the supervisor actor to the API side. They hold facts,
//! not wire formats: the RPC layer turns them into XML-RPC structs and fault codes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::process::ProcessState;

/// A process's whole tree (ours: `supervisor_rs.getProcessTree`): its cgroup's processes, or
/// the main process and its descendants; empty while not running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeInfo {
    pub name: String,
    pub group: String,
    /// The main process (0 when not running).
    pub pid: u32,
    pub pids: Vec<u32>,
    pub usage: crate::proctree::Usage,
}

/// A program's schedule and its last run (ours: `supervisor_rs.getProcessSchedule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    pub name: String,
    pub group: String,
    /// The key: `schedule` (a job run at each occurrence) or `restart_schedule`.
    pub kind: &'static str,
    /// The cron expression as written.
    pub schedule: String,
    /// `local` or the IANA name.
    pub timezone: String,
    /// `skip`, `queue` or `kill`; empty for a `restart_schedule`.
    pub overlap: &'static str,
    /// The next occurrence, epoch seconds (0 = none left).
    pub next: i64,
    /// The last start, scheduled or by hand, epoch seconds (0 = never).
    pub last_start: i64,
    /// The exit status of the last run that exited on its own (EXITED), -1 = none yet.
    pub last_exitstatus: i64,
    /// A run is under way (STARTING, RUNNING, BACKOFF, STOPPING).
    pub running: bool,
}

/// What the health checks say of one process (ours: `supervisor_rs.getProcessHealth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthInfo {
    pub name: String,
    pub group: String,
    /// `none` (no `healthcheck`), `unknown` (not running, or not probed yet), `healthy`,
    /// `unhealthy`.
    pub status: &'static str,
    /// Failed probes in a row.
    pub failures: u32,
    /// The last probe: when (epoch seconds, 0 = none yet), whether it passed, what it said.
    pub checked: i64,
    pub passed: bool,
    pub output: String,
}

/// One `depends_on` entry of a process and whether it is met now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyInfo {
    /// As written: a program, a group or `group:program`.
    pub name: String,
    /// `started`, `healthy` or `completed`.
    pub condition: &'static str,
    /// Every process it names meets the condition.
    pub met: bool,
}

/// What `depends_on` says of one process (ours: `supervisor_rs.getProcessDependencies`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependsInfo {
    pub name: String,
    pub group: String,
    pub depends_on: Vec<DependencyInfo>,
    /// Asked to start, waiting for its dependencies.
    pub waiting: bool,
    /// Why its last start was given up (a dependency went FATAL), else empty.
    pub blocked: String,
}

/// A process as the live views (the web page) show it: its info and what our additions say of
/// it now, published by the actor with every change of any of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInfo {
    pub info: ProcessInfo,
    /// As [`HealthInfo::status`]: `none` without a `healthcheck`.
    pub health: &'static str,
    /// The next occurrence of its `schedule` or `restart_schedule`, epoch seconds; 0 = none.
    pub next_run: i64,
    /// Asked to start, waiting for its dependencies (as [`DependsInfo::waiting`]).
    pub waiting: bool,
}

/// Facts about one process, the input of `getProcessInfo`'s 14-key struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub name: String,
    pub group: String,
    /// Last start, epoch seconds (0 = never started).
    pub start: i64,
    /// Last stop, epoch seconds (0 = never stopped).
    pub stop: i64,
    /// When this snapshot was taken, epoch seconds.
    pub now: i64,
    pub state: ProcessState,
    /// Last spawn error, `""` if none (it persists into STOPPED, as in Python).
    pub spawnerr: String,
    /// Last exit code; -1 when killed by a signal; 0 when none.
    pub exitstatus: i32,
    /// Current stdout log path, `""` when there is none.
    pub stdout_logfile: String,
    /// Current stderr log path, `""` when there is none.
    pub stderr_logfile: String,
    /// 0 when not running.
    pub pid: u32,
}

impl ProcessInfo {
    /// `group:name`, or `name` when the process is its group's namesake.
    pub fn namespec(&self) -> String {
        namespec(&self.group, &self.name)
    }

    /// The `description` field, worded as Python's `_interpretProcessInfo`.
    pub fn description(&self) -> String {
        let mut out = String::new();
        self.write_description(&mut out);
        out
    }

    /// Appends [`ProcessInfo::description`] to `out`.
    pub fn write_description(&self, out: &mut String) {
        match self.state {
            ProcessState::Running => {
                let uptime = (self.now - self.start).max(0);
                let _ = write!(out, "pid {}, uptime ", self.pid);
                write_timedelta(out, uptime);
            }
            ProcessState::Fatal | ProcessState::Backoff => {
                if self.spawnerr.is_empty() {
                    let _ = write!(out, "unknown error (try \"tail {}\")", self.name);
                } else {
                    out.push_str(&self.spawnerr);
                }
            }
            ProcessState::Stopped | ProcessState::Exited => {
                if self.start == 0 {
                    out.push_str("Not started");
                } else {
                    out.push_str(&local_time_short(self.stop));
                }
            }
            ProcessState::Starting | ProcessState::Stopping | ProcessState::Unknown => {}
        }
    }
}

/// `group:name`, or `name` when both are the same.
pub fn namespec(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

/// Seconds as Python's `str(datetime.timedelta)`: `0:01:02`, `1 day, 0:00:05`, `3 days, 1:02:05`.
#[cfg(test)]
fn timedelta(secs: i64) -> String {
    let mut out = String::new();
    write_timedelta(&mut out, secs);
    out
}

/// Appends [`timedelta`]'s text to `out`.
fn write_timedelta(out: &mut String, secs: i64) {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let _ = match days {
        0 => Ok(()),
        1 => out.write_str("1 day, "),
        n => write!(out, "{n} days, "),
    };
    let _ = write!(
        out,
        "{}:{:02}:{:02}",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    );
}

/// Local time as `%b %d %I:%M %p` (`Nov 24 07:04 PM`).
fn local_time_short(epoch: i64) -> String {
    use chrono::{Local, TimeZone};
    match Local.timestamp_opt(epoch, 0).single() {
        Some(t) => t.format("%b %d %I:%M %p").to_string(),
        None => String::new(),
    }
}

/// The outcome for one process of a group or all-processes operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessResult {
    pub name: String,
    pub group: String,
    pub result: Result<(), SupervisorError>,
}

/// Which output stream of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Stdout,
    Stderr,
}

/// `reloadConfig`'s answer: group names, each list sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigDiff {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

/// The last-read configuration and which of its groups are active (`getAllConfigInfo`).
#[derive(Debug, Clone)]
pub struct ConfigSnapshot {
    pub config: Arc<Config>,
    /// Names of the groups currently in the process table.
    pub active_groups: Vec<String>,
    /// Active groups whose AUTO log names are resolved in `config`: those added since it was
    /// read. After a reread Python reports `auto` until a group is added again.
    pub resolved_groups: Vec<String>,
}

/// The daemon's identity (`getPID`, `getIdentification`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonInfo {
    pub pid: u32,
    pub identifier: String,
}

/// Where a process's log lives, for `readProcess*Log` / `tail*` / `/logtail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLocation {
    /// `None` when the stream has no log file (NONE, or redirected stderr).
    pub path: Option<PathBuf>,
}

/// Why a request to the supervisor failed. Each variant is one XML-RPC fault; the text is the
/// part after `NAME: ` in the fault string (usually the namespec or the error detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    #[error("SHUTDOWN_STATE")]
    ShutdownState,
    #[error("BAD_NAME: {0}")]
    BadName(String),
    #[error("BAD_ARGUMENTS: {0}")]
    BadArguments(String),
    #[error("BAD_SIGNAL: {0}")]
    BadSignal(String),
    #[error("NO_FILE: {0}")]
    NoFile(String),
    /// `NO_FILE` without detail (a stream whose log file is NONE).
    #[error("NO_FILE")]
    NoLogFile,
    #[error("NOT_EXECUTABLE: {0}")]
    NotExecutable(String),
    #[error("FAILED: {0}")]
    Failed(String),
    #[error("ABNORMAL_TERMINATION: {0}")]
    AbnormalTermination(String),
    #[error("SPAWN_ERROR: {0}")]
    SpawnError(String),
    #[error("ALREADY_STARTED: {0}")]
    AlreadyStarted(String),
    #[error("NOT_RUNNING: {0}")]
    NotRunning(String),
    #[error("ALREADY_ADDED: {0}")]
    AlreadyAdded(String),
    #[error("STILL_RUNNING: {0}")]
    StillRunning(String),
    #[error("CANT_REREAD: {0}")]
    CantReread(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: ProcessState) -> ProcessInfo {
        ProcessInfo {
            name: "web".into(),
            group: "web".into(),
            start: 1000,
            stop: 0,
            now: 1062,
            state,
            spawnerr: String::new(),
            exitstatus: 0,
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
            pid: 42,
        }
    }

    #[test]
    fn running_description_is_pid_and_timedelta() {
        assert_eq!(
            info(ProcessState::Running).description(),
            "pid 42, uptime 0:01:02"
        );
    }

    #[test]
    fn timedelta_days_like_python() {
        assert_eq!(timedelta(86_405), "1 day, 0:00:05");
        assert_eq!(timedelta(3 * 86_400 + 3725), "3 days, 1:02:05");
    }

    #[test]
    fn backoff_without_spawnerr_suggests_tail() {
        assert_eq!(
            info(ProcessState::Backoff).description(),
            "unknown error (try \"tail web\")"
        );
    }

    #[test]
    fn never_started_is_not_started() {
        let mut i = info(ProcessState::Stopped);
        i.start = 0;
        assert_eq!(i.description(), "Not started");
    }

    #[test]
    fn namespec_omits_group_for_namesake() {
        assert_eq!(namespec("web", "web"), "web");
        assert_eq!(namespec("qrd", "web"), "qrd:web");
    }
}
