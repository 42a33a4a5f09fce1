//! The ordered shutdown: groups stop by descending priority, each fully before the next, and
//! every request but `sendRemoteCommEvent` is answered with SHUTDOWN_STATE meanwhile.

use std::time::Instant;

use crate::process::{Input, ProcessState};

use super::actor::{Mood, Outcome, Supervisor};
use super::info::SupervisorError;
use super::request::{Reply, Request};
use super::timers::TimerKey;

/// Answers any request with SHUTDOWN_STATE (the daemon is stopping or restarting);
/// `sendRemoteCommEvent` is the one exception Python makes: it is handed back, to be served.
pub(super) fn reject_shutdown(request: Request) -> Option<Request> {
    fn no<T>(reply: Reply<T>) {
        let _ = reply.send(Err(SupervisorError::ShutdownState));
    }
    match request {
        Request::GetState { reply } => no(reply),
        Request::GetProcessInfo { reply, .. } => no(reply),
        Request::GetAllProcessInfo { reply } => no(reply),
        Request::GetConfig { reply } => no(reply),
        Request::GetLiveTable { reply } => no(reply),
        Request::GetHealth { reply, .. } => no(reply),
        Request::GetDepends { reply, .. } => no(reply),
        Request::GetTrees { reply, .. } => no(reply),
        Request::GetSchedules { reply, .. } => no(reply),
        Request::StartProcess { reply, .. } => no(reply),
        Request::StartProcessGroup { reply, .. } => no(reply),
        Request::StartAllProcesses { reply, .. } => no(reply),
        Request::StopProcess { reply, .. } => no(reply),
        Request::StopProcessGroup { reply, .. } => no(reply),
        Request::StopAllProcesses { reply, .. } => no(reply),
        Request::SignalProcess { reply, .. } => no(reply),
        Request::SignalProcessGroup { reply, .. } => no(reply),
        Request::SignalAllProcesses { reply, .. } => no(reply),
        Request::SendProcessStdin { reply, .. } => no(reply),
        Request::SendRemoteCommEvent { .. } => return Some(request),
        Request::ProcessLog { reply, .. } => no(reply),
        Request::ClearProcessLogs { reply, .. } => no(reply),
        Request::ClearAllProcessLogs { reply } => no(reply),
        Request::MainLog { reply } => no(reply),
        Request::ClearMainLog { reply } => no(reply),
        Request::ReloadConfig { reply } => no(reply),
        Request::AddProcessGroup { reply, .. } => no(reply),
        Request::RemoveProcessGroup { reply, .. } => no(reply),
        Request::Shutdown { reply } => no(reply),
        Request::Restart { reply } => no(reply),
    }
    None
}

impl Supervisor {
    /// Python's ordered shutdown: stop the highest-priority group still running, wait until it
    /// is fully stopped, then the next; report `waiting for ... to die` every 3 s.
    pub(super) fn advance_shutdown(&mut self) {
        if self.mood == Mood::Running {
            return;
        }
        if self.stop_groups.is_none() {
            let names = self
                .table
                .groups_by_priority()
                .into_iter()
                .map(|g| g.config.name.clone())
                .collect();
            self.stop_groups = Some(names);
        }
        while let Some(name) = self.stop_groups.as_ref().and_then(|g| g.last().cloned()) {
            self.stop_all_in(&name);
            match self.table.group(&name) {
                Some(group) if !self.table.group_is_stopped(group) => break,
                _ => {
                    if let Some(groups) = self.stop_groups.as_mut() {
                        groups.pop();
                    }
                }
            }
        }
        let unstopped: Vec<String> = self
            .table
            .groups_in_add_order()
            .into_iter()
            .flat_map(|g| g.members.iter())
            .filter_map(|id| self.table.get(*id))
            .filter(|p| !p.life.state.is_stopped())
            .map(|p| p.config.name.clone())
            .collect();
        if unstopped.is_empty() {
            self.timers.cancel(TimerKey::ShutdownReport);
            return;
        }
        let now = Instant::now();
        let due = self
            .lastshutdownreport
            .is_none_or(|last| now.duration_since(last).as_secs_f64() >= 3.0);
        if due {
            self.lastshutdownreport = Some(now);
            self.log
                .info(format!("waiting for {} to die", unstopped.join(", ")));
        }
        if !self.timers.is_armed(TimerKey::ShutdownReport) {
            let next = self.lastshutdownreport.unwrap_or(now) + std::time::Duration::from_secs(3);
            self.timers.arm(TimerKey::ShutdownReport, next);
        }
    }

    /// `ProcessGroup.stop_all`: descending priority; RUNNING/STARTING stop, BACKOFF gives up.
    fn stop_all_in(&mut self, group: &str) {
        let Some(g) = self.table.group(group) else {
            return;
        };
        let mut ids = self.table.members_by_priority(g);
        ids.reverse();
        for id in ids {
            match self.table.get(id).map(|p| p.life.state) {
                Some(ProcessState::Running | ProcessState::Starting)
                    if self.stop_dependents_first(id) => {}
                Some(ProcessState::Running | ProcessState::Starting) => {
                    if let Some(p) = self.table.get_mut(id) {
                        p.laststopreport = None;
                    }
                    self.feed(id, Input::Stop);
                }
                Some(ProcessState::Backoff) => self.feed(id, Input::GiveUp),
                _ => {}
            }
        }
    }

    /// `Some` once shutdown or restart may proceed: every process is stopped.
    pub(super) fn finished(&mut self) -> Option<Outcome> {
        if self.mood == Mood::Running {
            return None;
        }
        let all_stopped = self
            .table
            .groups_in_add_order()
            .into_iter()
            .all(|g| self.table.group_is_stopped(g));
        if !all_stopped {
            return None;
        }
        match self.mood {
            Mood::Restarting => self.restart_with.take().map(Outcome::Restart),
            _ => Some(match self.required_failed.take() {
                Some(name) => Outcome::RequiredFailed(name),
                None => Outcome::Shutdown,
            }),
        }
    }
}
