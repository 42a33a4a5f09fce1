//! The messages the API side sends to the supervisor actor, one per capability.
//!
//! Each carries a `oneshot` reply. Requests that wait for a state to settle (`wait=true`) park
//! their reply in the actor until the process gets there; nothing blocks the actor meanwhile.

use tokio::sync::oneshot;

use super::info::{
    Channel, ConfigDiff, ConfigSnapshot, DaemonInfo, DependsInfo, HealthInfo, LiveInfo,
    LogLocation, ProcessInfo, ProcessResult, ScheduleInfo, SupervisorError, TreeInfo,
};

/// Where the actor sends its answer.
pub type Reply<T> = oneshot::Sender<Result<T, SupervisorError>>;

/// A command to the supervisor actor. Names mirror the XML-RPC methods they serve.
/// `name` fields are namespecs (`group:process`, or `process` for a namesake group).
#[derive(Debug)]
pub enum Request {
    /// Faults with SHUTDOWN_STATE unless the daemon is RUNNING (`getState`, `getPID`, ...).
    GetState {
        reply: Reply<DaemonInfo>,
    },
    GetProcessInfo {
        name: String,
        reply: Reply<ProcessInfo>,
    },
    /// Sorted by group name, then process name.
    GetAllProcessInfo {
        reply: Reply<Vec<ProcessInfo>>,
    },
    GetConfig {
        reply: Reply<ConfigSnapshot>,
    },
    /// Ours: every process as the live views show it, sorted as `GetAllProcessInfo`.
    GetLiveTable {
        reply: Reply<Vec<LiveInfo>>,
    },
    /// Ours: the health of one process (`Some` namespec) or of all, sorted as
    /// `GetAllProcessInfo`.
    GetHealth {
        name: Option<String>,
        reply: Reply<Vec<HealthInfo>>,
    },
    /// Ours: the `depends_on` of one process or of all, as `GetHealth`.
    GetDepends {
        name: Option<String>,
        reply: Reply<Vec<DependsInfo>>,
    },
    /// Ours: the process tree of one process or of all, as `GetHealth`.
    GetTrees {
        name: Option<String>,
        reply: Reply<Vec<TreeInfo>>,
    },
    /// Ours: the schedule of one process or of every scheduled one, as `GetHealth`.
    GetSchedules {
        name: Option<String>,
        reply: Reply<Vec<ScheduleInfo>>,
    },

    StartProcess {
        name: String,
        wait: bool,
        reply: Reply<()>,
    },
    /// Results only for processes that were not already in RUNNING_STATES.
    StartProcessGroup {
        group: String,
        wait: bool,
        reply: Reply<Vec<ProcessResult>>,
    },
    StartAllProcesses {
        wait: bool,
        reply: Reply<Vec<ProcessResult>>,
    },
    StopProcess {
        name: String,
        wait: bool,
        reply: Reply<()>,
    },
    /// Results only for processes that were in RUNNING_STATES.
    StopProcessGroup {
        group: String,
        wait: bool,
        reply: Reply<Vec<ProcessResult>>,
    },
    StopAllProcesses {
        wait: bool,
        reply: Reply<Vec<ProcessResult>>,
    },
    /// `signal` is as the client wrote it (`HUP`, `SIGHUP`, `1`); BAD_SIGNAL if invalid.
    SignalProcess {
        name: String,
        signal: String,
        reply: Reply<()>,
    },
    SignalProcessGroup {
        group: String,
        signal: String,
        reply: Reply<Vec<ProcessResult>>,
    },
    SignalAllProcesses {
        signal: String,
        reply: Reply<Vec<ProcessResult>>,
    },
    SendProcessStdin {
        name: String,
        data: Vec<u8>,
        reply: Reply<()>,
    },
    SendRemoteCommEvent {
        kind: String,
        data: String,
        reply: Reply<()>,
    },

    /// The log file of one stream; the API side reads the file itself.
    ProcessLog {
        name: String,
        channel: Channel,
        reply: Reply<LogLocation>,
    },
    ClearProcessLogs {
        name: String,
        reply: Reply<()>,
    },
    ClearAllProcessLogs {
        reply: Reply<Vec<ProcessResult>>,
    },
    MainLog {
        reply: Reply<LogLocation>,
    },
    ClearMainLog {
        reply: Reply<()>,
    },

    /// Re-reads the config file; applies nothing.
    ReloadConfig {
        reply: Reply<ConfigDiff>,
    },
    AddProcessGroup {
        name: String,
        reply: Reply<()>,
    },
    RemoveProcessGroup {
        name: String,
        reply: Reply<()>,
    },
    Shutdown {
        reply: Reply<()>,
    },
    Restart {
        reply: Reply<()>,
    },
}
