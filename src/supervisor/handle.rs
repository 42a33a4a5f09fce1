//! A cloneable handle to the supervisor actor: typed async methods over [`Request`]s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, mpsc, oneshot};

use super::info::{
    Channel, ConfigDiff, ConfigSnapshot, DaemonInfo, DependsInfo, HealthInfo, LiveInfo,
    LogLocation, ProcessInfo, ProcessResult, ScheduleInfo, SupervisorError, TreeInfo,
};
use super::request::{Reply, Request};

/// How callers talk to the supervisor. Cheap to clone; every clone reaches the same actor.
#[derive(Debug, Clone)]
pub struct Handle {
    requests: mpsc::Sender<Request>,
    /// Published by the actor, so `getState` and friends need no round trip to it.
    status: Option<Arc<Status>>,
}

/// How many changes a slow watcher may fall behind before it is told it lagged (and starts
/// over from a fresh snapshot).
const CHANGES_BACKLOG: usize = 1024;

/// What the actor publishes for the cheap `supervisor.*` calls: whether its mood is RUNNING
/// (every call faults SHUTDOWN_STATE otherwise) and the daemon's identity; and the stream of
/// its state changes, for live views that must not poll the process table.
#[derive(Debug)]
pub struct Status {
    running: AtomicBool,
    identifier: RwLock<Arc<str>>,
    changes: broadcast::Sender<Change>,
}

/// One change in the process table, as the actor saw it happen.
#[derive(Debug, Clone)]
pub enum Change {
    /// A process entered a new state, or its health, next run or wait for its dependencies
    /// changed; what it looks like as of then.
    Process(Arc<LiveInfo>),
    /// Groups were added or removed: the set of processes itself changed.
    Groups,
}

impl Status {
    pub fn new(identifier: &str) -> Status {
        Status {
            running: AtomicBool::new(true),
            identifier: RwLock::new(Arc::from(identifier)),
            changes: broadcast::channel(CHANGES_BACKLOG).0,
        }
    }

    /// Whether anyone watches the changes (the actor builds a change only for watchers).
    pub fn watched(&self) -> bool {
        self.changes.receiver_count() > 0
    }

    /// Called by the actor on every change of the process table.
    pub fn publish(&self, change: Change) {
        // No watcher is not an error: the change simply goes unseen.
        let _ = self.changes.send(change);
    }

    /// Called by the actor whenever its mood changes.
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
    }

    /// Called by the actor whenever its configuration changes.
    pub fn set_identifier(&self, identifier: &str) {
        let mut guard = self.identifier.write().unwrap_or_else(|e| e.into_inner());
        if **guard != *identifier {
            *guard = Arc::from(identifier);
        }
    }
}

impl Handle {
    /// A handle whose every call is a round trip to the actor behind `requests`.
    pub fn new(requests: mpsc::Sender<Request>) -> Handle {
        Handle {
            requests,
            status: None,
        }
    }

    /// A handle that answers `get_state` from `status`, which the actor keeps current.
    pub fn with_status(requests: mpsc::Sender<Request>, status: Arc<Status>) -> Handle {
        Handle {
            requests,
            status: Some(status),
        }
    }

    /// The actor's changes from now on; `None` from a handle without published status (whose
    /// watchers can only take snapshots).
    pub fn changes(&self) -> Option<broadcast::Receiver<Change>> {
        self.status.as_ref().map(|s| s.changes.subscribe())
    }

    /// Ok while the supervisor's mood is RUNNING, else SHUTDOWN_STATE (as every
    /// `supervisor.*` call answers then).
    pub async fn check_running(&self) -> Result<(), SupervisorError> {
        match &self.status {
            Some(status) => self.published_running(status),
            None => self.get_state().await.map(drop),
        }
    }

    fn published_running(&self, status: &Status) -> Result<(), SupervisorError> {
        if status.running.load(Ordering::SeqCst) && !self.requests.is_closed() {
            Ok(())
        } else {
            Err(SupervisorError::ShutdownState)
        }
    }

    /// Sends one request and awaits its reply. A gone actor means the daemon is shutting down.
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, SupervisorError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| SupervisorError::ShutdownState)?;
        rx.await.unwrap_or(Err(SupervisorError::ShutdownState))
    }

    pub async fn get_state(&self) -> Result<DaemonInfo, SupervisorError> {
        if let Some(status) = &self.status {
            self.published_running(status)?;
            let identifier = status.identifier.read().unwrap_or_else(|e| e.into_inner());
            return Ok(DaemonInfo {
                pid: std::process::id(),
                identifier: identifier.to_string(),
            });
        }
        self.call(|reply| Request::GetState { reply }).await
    }

    pub async fn get_process_info(&self, name: &str) -> Result<ProcessInfo, SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::GetProcessInfo { name, reply })
            .await
    }

    pub async fn get_all_process_info(&self) -> Result<Vec<ProcessInfo>, SupervisorError> {
        self.call(|reply| Request::GetAllProcessInfo { reply })
            .await
    }

    /// Ours: every process as the live views (the web page) show it.
    pub async fn get_live_table(&self) -> Result<Vec<LiveInfo>, SupervisorError> {
        self.call(|reply| Request::GetLiveTable { reply }).await
    }

    /// Ours: the health of `name` (a process namespec), or of every process.
    pub async fn get_health(&self, name: Option<&str>) -> Result<Vec<HealthInfo>, SupervisorError> {
        let name = name.map(str::to_string);
        self.call(|reply| Request::GetHealth { name, reply }).await
    }

    /// Ours: the `depends_on` of `name` (a process namespec), or of every process.
    pub async fn get_depends(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<DependsInfo>, SupervisorError> {
        let name = name.map(str::to_string);
        self.call(|reply| Request::GetDepends { name, reply }).await
    }

    /// Ours: the schedule of `name` (a process namespec), or of every scheduled process.
    pub async fn get_schedules(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<ScheduleInfo>, SupervisorError> {
        let name = name.map(str::to_string);
        self.call(|reply| Request::GetSchedules { name, reply })
            .await
    }

    /// Ours: the process tree of `name` (a process namespec), or of every process.
    pub async fn get_trees(&self, name: Option<&str>) -> Result<Vec<TreeInfo>, SupervisorError> {
        let name = name.map(str::to_string);
        self.call(|reply| Request::GetTrees { name, reply }).await
    }

    pub async fn get_config(&self) -> Result<ConfigSnapshot, SupervisorError> {
        self.call(|reply| Request::GetConfig { reply }).await
    }

    pub async fn start_process(&self, name: &str, wait: bool) -> Result<(), SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::StartProcess { name, wait, reply })
            .await
    }

    pub async fn start_process_group(
        &self,
        group: &str,
        wait: bool,
    ) -> Result<Vec<ProcessResult>, SupervisorError> {
        let group = group.to_string();
        self.call(|reply| Request::StartProcessGroup { group, wait, reply })
            .await
    }

    pub async fn start_all_processes(
        &self,
        wait: bool,
    ) -> Result<Vec<ProcessResult>, SupervisorError> {
        self.call(|reply| Request::StartAllProcesses { wait, reply })
            .await
    }

    pub async fn stop_process(&self, name: &str, wait: bool) -> Result<(), SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::StopProcess { name, wait, reply })
            .await
    }

    pub async fn stop_process_group(
        &self,
        group: &str,
        wait: bool,
    ) -> Result<Vec<ProcessResult>, SupervisorError> {
        let group = group.to_string();
        self.call(|reply| Request::StopProcessGroup { group, wait, reply })
            .await
    }

    pub async fn stop_all_processes(
        &self,
        wait: bool,
    ) -> Result<Vec<ProcessResult>, SupervisorError> {
        self.call(|reply| Request::StopAllProcesses { wait, reply })
            .await
    }

    pub async fn signal_process(&self, name: &str, signal: &str) -> Result<(), SupervisorError> {
        let (name, signal) = (name.to_string(), signal.to_string());
        self.call(|reply| Request::SignalProcess {
            name,
            signal,
            reply,
        })
        .await
    }

    pub async fn signal_process_group(
        &self,
        group: &str,
        signal: &str,
    ) -> Result<Vec<ProcessResult>, SupervisorError> {
        let (group, signal) = (group.to_string(), signal.to_string());
        self.call(|reply| Request::SignalProcessGroup {
            group,
            signal,
            reply,
        })
        .await
    }

    pub async fn signal_all_processes(
        &self,
        signal: &str,
    ) -> Result<Vec<ProcessResult>, SupervisorError> {
        let signal = signal.to_string();
        self.call(|reply| Request::SignalAllProcesses { signal, reply })
            .await
    }

    pub async fn send_process_stdin(
        &self,
        name: &str,
        data: Vec<u8>,
    ) -> Result<(), SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::SendProcessStdin { name, data, reply })
            .await
    }

    pub async fn send_remote_comm_event(
        &self,
        kind: &str,
        data: &str,
    ) -> Result<(), SupervisorError> {
        let (kind, data) = (kind.to_string(), data.to_string());
        self.call(|reply| Request::SendRemoteCommEvent { kind, data, reply })
            .await
    }

    pub async fn process_log(
        &self,
        name: &str,
        channel: Channel,
    ) -> Result<LogLocation, SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::ProcessLog {
            name,
            channel,
            reply,
        })
        .await
    }

    pub async fn clear_process_logs(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::ClearProcessLogs { name, reply })
            .await
    }

    pub async fn clear_all_process_logs(&self) -> Result<Vec<ProcessResult>, SupervisorError> {
        self.call(|reply| Request::ClearAllProcessLogs { reply })
            .await
    }

    pub async fn main_log(&self) -> Result<LogLocation, SupervisorError> {
        self.call(|reply| Request::MainLog { reply }).await
    }

    pub async fn clear_main_log(&self) -> Result<(), SupervisorError> {
        self.call(|reply| Request::ClearMainLog { reply }).await
    }

    pub async fn reload_config(&self) -> Result<ConfigDiff, SupervisorError> {
        self.call(|reply| Request::ReloadConfig { reply }).await
    }

    pub async fn add_process_group(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::AddProcessGroup { name, reply })
            .await
    }

    pub async fn remove_process_group(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_string();
        self.call(|reply| Request::RemoveProcessGroup { name, reply })
            .await
    }

    pub async fn shutdown(&self) -> Result<(), SupervisorError> {
        self.call(|reply| Request::Shutdown { reply }).await
    }

    pub async fn restart(&self) -> Result<(), SupervisorError> {
        self.call(|reply| Request::Restart { reply }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn published_status_answers_without_the_actor() {
        let (tx, rx) = mpsc::channel(1);
        let status = Arc::new(Status::new("sup"));
        let handle = Handle::with_status(tx, Arc::clone(&status));
        assert_eq!(handle.check_running().await, Ok(()));
        assert_eq!(handle.get_state().await.unwrap().identifier, "sup");
        status.set_identifier("other");
        assert_eq!(handle.get_state().await.unwrap().identifier, "other");
        status.set_running(false);
        assert_eq!(
            handle.check_running().await,
            Err(SupervisorError::ShutdownState)
        );
        assert_eq!(
            handle.get_state().await,
            Err(SupervisorError::ShutdownState)
        );
        status.set_running(true);
        drop(rx);
        assert_eq!(
            handle.check_running().await,
            Err(SupervisorError::ShutdownState)
        );
    }
}
