//! Process control requests: start, stop and signal one process, a group or all of them (by
//! priority, Python's checks in Python's order), and writes to a child's stdin.

use tokio::sync::oneshot;

use crate::process::spawn::{self, CommandError};
use crate::process::{Input, ProcessState};
use crate::sys::child as sys;

use super::actor::Supervisor;
use super::depends::Gate;
use super::info::{ProcessResult, SupervisorError};
use super::request::Reply;
use super::table::{ProcId, Target};
use super::waiters::{forward_first_error, BatchReply, Goal};

/// The outcome of starting or stopping one process inside a request.
enum Step {
    Done(Result<(), SupervisorError>),
    Pending,
}

impl Supervisor {
    /// `startProcess` / `stopProcess`: one process, or every member of a `g:*` spec.
    pub(super) fn control_process(
        &mut self,
        goal: Goal,
        name: String,
        wait: bool,
        reply: Reply<()>,
    ) {
        match self.table.lookup(&name) {
            Err(e) => {
                let _ = reply.send(Err(e));
            }
            Ok(Target::Group(group)) => {
                // A group spec answers with the group's results; this single-value reply can
                // only carry the first failure (the RPC layer sends `g:*` to StartProcessGroup).
                let (tx, rx) = oneshot::channel();
                self.control_group(goal, Some(&group), wait, tx);
                tokio::spawn(forward_first_error(rx, reply));
            }
            Ok(Target::Process(id)) => match self.control_one(goal, id, &name, wait) {
                Step::Done(result) => {
                    let _ = reply.send(result);
                }
                Step::Pending => {
                    self.park(BatchReply::One(reply), Vec::new(), vec![(id, goal, name)]);
                }
            },
        }
    }

    /// `startProcessGroup` / `stopProcessGroup`: BAD_NAME unless `group` names a group.
    pub(super) fn control_named_group(
        &mut self,
        goal: Goal,
        group: String,
        wait: bool,
        reply: Reply<Vec<ProcessResult>>,
    ) {
        match self.table.lookup(&format!("{group}:*")) {
            Ok(_) => self.control_group(goal, Some(&group), wait, reply),
            Err(_) => {
                let _ = reply.send(Err(SupervisorError::BadName(group)));
            }
        }
    }

    fn control_one(&mut self, goal: Goal, id: ProcId, name: &str, wait: bool) -> Step {
        match goal {
            Goal::Started => self.start_one(id, name, wait),
            Goal::Stopped => self.stop_one(id, name, wait),
        }
    }

    /// `startProcess` for one process: Python's checks in Python's order, then spawn.
    fn start_one(&mut self, id: ProcId, name: &str, wait: bool) -> Step {
        let Some(process) = self.table.get(id) else {
            return Step::Done(Err(SupervisorError::BadName(name.into())));
        };
        if let Err(e) = spawn::resolve_command(&process.config, &self.spawn_ctx) {
            let text = e.to_string();
            return Step::Done(Err(match e {
                CommandError::NotFound(_) => SupervisorError::NoFile(text),
                _ => SupervisorError::NotExecutable(text),
            }));
        }
        let state = process.life.state;
        if state.is_running() {
            return Step::Done(Err(SupervisorError::AlreadyStarted(name.into())));
        }
        if state == ProcessState::Unknown {
            return Step::Done(Err(SupervisorError::Failed(format!(
                "{name} is in an unknown process state"
            ))));
        }
        let gate = self.start_gated(id);
        self.remember(id, false);
        match gate {
            Gate::Started => {}
            Gate::Waiting if wait => return Step::Pending,
            Gate::Waiting => return Step::Done(Ok(())),
            // SPAWN_ERROR: a fault every supervisorctl reads; why is in the log and in
            // `supervisor_rs.getProcessDependencies`.
            Gate::Blocked(_) => return Step::Done(Err(SupervisorError::SpawnError(name.into()))),
        }
        // Python's `startProcess` runs the process's `transition` right after spawning: with
        // `startsecs=0` it is RUNNING before the answer.
        if self
            .table
            .get(id)
            .is_some_and(|p| p.life.state == ProcessState::Starting && p.config.startsecs.is_zero())
        {
            self.feed(id, Input::Deadline);
        }
        let Some(process) = self.table.get(id) else {
            return Step::Done(Ok(()));
        };
        if process.life.spawnerr.is_some() {
            return Step::Done(Err(SupervisorError::SpawnError(name.into())));
        }
        match process.life.state {
            ProcessState::Running => Step::Done(Ok(())),
            // Still stopping: nothing was spawned; Python's wait sees the state at once.
            ProcessState::Stopping if wait => {
                Step::Done(Err(SupervisorError::AbnormalTermination(name.into())))
            }
            _ if !wait => Step::Done(Ok(())),
            _ => Step::Pending,
        }
    }

    /// `stopProcess` for one process.
    fn stop_one(&mut self, id: ProcId, name: &str, wait: bool) -> Step {
        let Some(process) = self.table.get(id) else {
            return Step::Done(Err(SupervisorError::BadName(name.into())));
        };
        if !process.life.state.is_running() {
            if self.cancel_waiting_start(id) {
                self.remember(id, true);
                return Step::Done(Ok(()));
            }
            return Step::Done(Err(SupervisorError::NotRunning(name.into())));
        }
        self.stop_now(id);
        let Some(process) = self.table.get_mut(id) else {
            return Step::Done(Ok(()));
        };
        match process.life.state {
            ProcessState::Unknown => Step::Done(Err(SupervisorError::Failed(format!(
                "unknown problem killing {name}"
            )))),
            state if wait && !state.is_stopped() => {
                process.laststopreport = None;
                Step::Pending
            }
            _ => Step::Done(Ok(())),
        }
    }

    /// Stops a running process: a stop asked for by a client, now or once its dependents are
    /// down.
    pub(super) fn stop_now(&mut self, id: ProcId) {
        if !self
            .table
            .get(id)
            .is_some_and(|p| p.life.state.is_running())
        {
            return;
        }
        self.health_stop_requested(id);
        self.schedule_stop_requested(id);
        self.feed(id, Input::Stop);
        self.remember(id, true);
    }

    /// `start`/`stopProcessGroup` and `start`/`stopAllProcesses` (`group` = `None`), by
    /// priority: starting takes every process not in RUNNING_STATES, stopping every one in them.
    pub(super) fn control_group(
        &mut self,
        goal: Goal,
        group: Option<&str>,
        wait: bool,
        reply: Reply<Vec<ProcessResult>>,
    ) {
        let ids: Vec<ProcId> = self
            .members(group)
            .into_iter()
            .filter(|&id| {
                self.table.get(id).is_some_and(|p| {
                    p.life.state.is_running() == (goal == Goal::Stopped) || self.waits_to_start(id)
                })
            })
            .collect();
        // Dependents stop before what they depend on: those wait for them.
        let now = match goal {
            Goal::Stopped => self.order_stops(&ids),
            Goal::Started => vec![true; ids.len()],
        };
        let mut results = Vec::new();
        let mut waiting = Vec::new();
        for (id, now) in ids.into_iter().zip(now) {
            let Some(p) = self.table.get(id) else {
                continue;
            };
            let (name, group_name) = (p.config.name.clone(), p.group.clone());
            let namespec = super::info::namespec(&group_name, &name);
            if !now {
                match wait {
                    true => waiting.push((id, goal, namespec)),
                    false => results.push(ProcessResult {
                        name,
                        group: group_name,
                        result: Ok(()),
                    }),
                }
                continue;
            }
            match self.control_one(goal, id, &namespec, wait) {
                Step::Done(result) => results.push(ProcessResult {
                    name,
                    group: group_name,
                    result,
                }),
                Step::Pending => waiting.push((id, goal, namespec)),
            }
        }
        self.park(BatchReply::Many(reply), results, waiting);
    }

    /// A group's members by priority, or all processes (groups by priority).
    fn members(&self, group: Option<&str>) -> Vec<ProcId> {
        match group {
            Some(name) => self
                .table
                .group(name)
                .map(|g| self.table.members_by_priority(g))
                .unwrap_or_default(),
            None => self.table.all_by_priority(),
        }
    }

    /// `signalProcess` for one process.
    pub(super) fn signal_one(
        &mut self,
        id: ProcId,
        name: &str,
        signal: &str,
    ) -> Result<(), SupervisorError> {
        let sig = crate::config::types::signal(signal)
            .map_err(|_| SupervisorError::BadSignal(signal.into()))?;
        let process = self.table.get(id).expect("ids come from the table");
        if !process.life.state.is_signallable() {
            return Err(SupervisorError::NotRunning(name.into()));
        }
        let pid = process.life.pid;
        self.log.debug(format!(
            "sending {} (pid {pid}) sig {sig}",
            process.config.name
        ));
        match sys::kill(pid as i32, sig.number()) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => {
                let error = format!("unknown problem sending sig {name} ({pid}):{e}");
                self.feed(
                    id,
                    Input::SignalFailed {
                        error: error.clone(),
                    },
                );
                Err(SupervisorError::Failed(error))
            }
        }
    }

    /// `signalProcessGroup` / `signalAllProcesses`: every signallable process, by priority.
    pub(super) fn signal_many(&mut self, group: Option<&str>, signal: &str) -> Vec<ProcessResult> {
        let mut results = Vec::new();
        for id in self.members(group) {
            let Some(p) = self.table.get(id) else {
                continue;
            };
            if !p.life.state.is_signallable() {
                continue;
            }
            let (name, group_name) = (p.config.name.clone(), p.group.clone());
            let namespec = super::info::namespec(&group_name, &name);
            let result = self.signal_one(id, &namespec, signal);
            results.push(ProcessResult {
                name,
                group: group_name,
                result,
            });
        }
        results
    }

    pub(super) fn send_stdin(&mut self, name: &str, data: Vec<u8>) -> Result<(), SupervisorError> {
        let id = self.process_id(name)?;
        let process = self.table.get_mut(id).expect("ids come from the table");
        if process.life.pid == 0 || process.life.killing {
            return Err(SupervisorError::NotRunning(name.into()));
        }
        match &mut process.stdin {
            Some(stdin) => stdin
                .send(data)
                .map_err(|()| SupervisorError::NoFile(name.into())),
            None => Err(SupervisorError::NoFile(name.into())),
        }
    }
}
