//! The typed, validated, fully expanded configuration: what the engine and the API consume.
//!
//! Every value here is already `%(...)s`-expanded, numprocs-expanded and checked; nothing
//! downstream parses strings again. `PartialEq` on groups is what `reloadConfig` compares to
//! decide added / changed / removed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use super::envfile::{EnvFile, EnvFileError, EnvFiles};
use crate::signal::Signal;

use super::depends::Dependency;
use super::health::HealthCheck;
use super::schedule::ScheduleConfig;

/// The whole configuration, as one `supervisord.conf` (plus its includes) describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The main config file, absolute.
    pub source: PathBuf,
    pub supervisord: Supervisord,
    /// `[unix_http_server]` and `[unix_http_server:x]`, in file order.
    pub unix_http_servers: Vec<UnixHttpServer>,
    /// `[inet_http_server]` and `[inet_http_server:x]`, in file order.
    pub inet_http_servers: Vec<InetHttpServer>,
    /// `[supervisorctl]`, when present.
    pub supervisorctl: Option<Supervisorctl>,
    /// `[rpcinterface:x]` sections.
    pub rpcinterfaces: Vec<RpcInterface>,
    /// Process groups sorted by (priority, name), as Python sorts them.
    pub groups: Vec<GroupConfig>,
    /// Messages produced while reading (root warning, AUTO-log warnings, include notices), replayed
    /// into the main log once it is open, as Python's `parse_criticals/warnings/infos`.
    pub messages: Vec<ParseMessage>,
}

/// A message from config parsing that belongs in the main log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMessage {
    pub level: LogLevel,
    pub text: String,
}

/// `loglevel` values, in Python's numeric order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Blather = 3,
    Trace = 5,
    Debug = 10,
    Info = 20,
    Warn = 30,
    Error = 40,
    Critical = 50,
}

/// `[supervisord]` after CLI > file > default precedence.
#[derive(Debug, Clone, PartialEq)]
pub struct Supervisord {
    /// Absolute path, or syslog. (Python has no "none" here: `logfile=NONE` is a file named NONE.)
    pub logfile: LogTarget,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    pub loglevel: LogLevel,
    /// Always `Some` (absolute) when read by `config::load`.
    pub pidfile: Option<PathBuf>,
    pub umask: u32,
    pub nodaemon: bool,
    pub silent: bool,
    pub minfds: u64,
    pub minprocs: u64,
    pub nocleanup: bool,
    pub childlogdir: PathBuf,
    pub user: Option<String>,
    pub directory: Option<PathBuf>,
    pub strip_ansi: bool,
    pub environment: BTreeMap<String, String>,
    pub identifier: String,
    /// Ours (`init=true` / `--init`): act as the init of the programs' process trees even when
    /// not PID 1 (a child subreaper), so orphans come to the daemon to be reaped.
    pub init: bool,
    /// Ours (`remember_stopped=true`): programs stopped by hand stay stopped across restarts.
    pub remember_stopped: bool,
}

/// Where the main log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    File(PathBuf),
    Syslog,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixHttpServer {
    /// Section name (`unix_http_server`, `unix_http_server:x`), used in log lines.
    pub section: String,
    pub file: PathBuf,
    pub chmod: u32,
    /// `chown=user:group`, resolved to numeric ids (`None` = leave as is).
    pub chown: Option<(u32, Option<u32>)>,
    pub auth: Option<Credentials>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetHttpServer {
    pub section: String,
    /// Lowercased host; empty means all interfaces (`*:9001` or `:9001`).
    pub host: String,
    pub port: u16,
    pub auth: Option<Credentials>,
}

/// `username` and `password` of an HTTP server section. `password` may be `{SHA}<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervisorctl {
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub prompt: String,
    pub history_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcInterface {
    /// The namespace (`supervisor` for `[rpcinterface:supervisor]`).
    pub name: String,
    pub factory: String,
    /// Built in (`supervisor.rpcinterface:make_main_rpcinterface`) or a Python plugin we cannot load.
    pub builtin: bool,
}

/// What kind of section a group came from.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKind {
    /// `[program:x]` or `[group:x]`.
    Process,
    /// `[eventlistener:x]`.
    EventListener {
        /// Concrete and abstract event type names, uppercased (`PROCESS_STATE`, `TICK_5`).
        events: Vec<String>,
        buffer_size: usize,
        result_handler: String,
    },
    /// `[fcgi-program:x]`.
    Fcgi {
        socket: FcgiSocket,
        socket_backlog: Option<u32>,
        socket_owner: Option<(u32, Option<u32>)>,
        socket_mode: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcgiSocket {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

/// A process group: a `[group:x]`, or a program that is its own group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    pub name: String,
    pub priority: i32,
    pub kind: GroupKind,
    /// Processes in Python's order: each program's processes by (priority, name), a
    /// `[group:x]`'s programs in `programs=` order. Shared, not copied, by the running
    /// daemon's copies of the group (its process table, the last-read config).
    pub processes: Vec<Arc<ProcessConfig>>,
}

/// `killmode` (ours): what happens to a program's descendants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMode {
    /// The default: the whole process tree is the program's (systemd's `KillMode=mixed`):
    /// the stop signal goes to the main process (to the tree with `stopasgroup`), and whatever
    /// is left of the tree once the main process has exited is killed `stopwaitsecs` later.
    Mixed,
    /// Python's behaviour: only the main process (or its process group) is ever signalled; a
    /// detached grandchild lives on.
    Process,
}

/// `autorestart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    Never,
    Unexpected,
    Always,
}

/// A child log file setting (`stdout_logfile`, `stderr_logfile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFile {
    /// `AUTO`: a fresh file in `childlogdir`, named when the group is created.
    Auto,
    /// `NONE`/`OFF`, or stderr under `redirect_stderr`.
    None,
    Path(PathBuf),
}

/// The six options of one output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    pub logfile: LogFile,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    pub capture_maxbytes: u64,
    pub events_enabled: bool,
    pub syslog: bool,
}

/// One process, after numprocs expansion: everything needed to spawn and supervise it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConfig {
    /// Expanded `process_name`.
    pub name: String,
    /// Section name suffix (`qrd` for `[program:qrd]`).
    pub program_name: String,
    /// Expanded `command`, not yet split (split and resolved at spawn time, as Python does).
    pub command: String,
    /// `command` exactly as written, before expansion (`getAllConfigInfo` shows it).
    pub command_raw: String,
    pub priority: i32,
    pub autostart: bool,
    pub startsecs: Duration,
    pub startretries: u32,
    pub autorestart: AutoRestart,
    pub exitcodes: Vec<i32>,
    pub stopsignal: Signal,
    pub stopwaitsecs: Duration,
    pub stopasgroup: bool,
    /// Ours (`required=true`): the program going FATAL shuts the daemon down, exit status 1.
    pub required: bool,
    /// Ours (`killmode=mixed|process`): whether the program's whole process tree is stopped.
    pub killmode: KillMode,
    pub killasgroup: bool,
    pub user: Option<String>,
    /// `user=` resolved to a uid at read time (Python's `ProcessConfig.uid`).
    pub uid: Option<u32>,
    pub redirect_stderr: bool,
    pub stdout: StreamConfig,
    pub stderr: StreamConfig,
    /// `[supervisord] environment` with this program's `environment=` pairs (expanded) merged
    /// over it, as Python stores it (so a change to either makes the group "changed").
    pub environment: BTreeMap<String, String>,
    /// Ours (`environment_file=`): read at each spawn, between `[supervisord] environment` and
    /// the program's own `environment=`.
    pub environment_files: EnvFiles,
    pub directory: Option<PathBuf>,
    pub umask: Option<u32>,
    /// `None` = AUTO (computed from the first HTTP server).
    pub serverurl: Option<String>,
    /// Ours (`healthcheck=` and its options): how a running process is probed.
    pub healthcheck: Option<HealthCheck>,
    /// Ours (`memory_limit=512MB`): the most resident memory the program's whole tree may use,
    /// bytes; over it, the program is restarted.
    pub memory_limit: Option<u64>,
    /// Ours (`depends_on=`): what must be up before this process starts, and stops after it.
    pub depends_on: Vec<Dependency>,
    /// Ours (`schedule=` or `restart_schedule=`, with `schedule_timezone` and
    /// `schedule_overlap`): when the program runs, or is restarted.
    pub schedule: Option<ScheduleConfig>,
}

impl ProcessConfig {
    /// A run-to-completion job started at each occurrence of its `schedule`: it never
    /// autostarts, and an exit, expected or not, leaves it EXITED until the next one.
    pub fn runs_on_schedule(&self) -> bool {
        self.schedule
            .as_ref()
            .is_some_and(|s| matches!(s.action, super::schedule::ScheduleAction::Run(_)))
    }
}
