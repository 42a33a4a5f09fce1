//! Serving one [`Request`]: a single match; control, groups and snapshots live in their own
//! files.

use std::sync::Arc;

use crate::events::Event;

use super::actor::{Mood, Supervisor};
use super::info::{ConfigSnapshot, DaemonInfo, LogLocation, ProcessResult, SupervisorError};
use super::request::Request;
use super::shutdown::reject_shutdown;
use super::table::{ProcId, Target};
use super::waiters::Goal;

impl Supervisor {
    pub(super) fn on_request(&mut self, request: Request) {
        let request = if self.mood == Mood::Running {
            request
        } else {
            match reject_shutdown(request) {
                Some(request) => request,
                None => return,
            }
        };
        match request {
            Request::GetState { reply } => {
                let _ = reply.send(Ok(DaemonInfo {
                    pid: std::process::id(),
                    identifier: self.config.supervisord.identifier.clone(),
                }));
            }
            Request::GetProcessInfo { name, reply } => {
                let result = match self.table.lookup(&name) {
                    Ok(Target::Process(id)) => Ok(self.info(id)),
                    Ok(Target::Group(_)) => Err(SupervisorError::BadName(name)),
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Request::GetAllProcessInfo { reply } => {
                let epoch = self.now().epoch;
                let infos = self
                    .table
                    .all_lexical()
                    .iter()
                    .map(|&id| self.info_at(id, epoch));
                let _ = reply.send(Ok(infos.collect()));
            }
            Request::GetLiveTable { reply } => {
                let epoch = self.now().epoch;
                let rows = self
                    .table
                    .all_lexical()
                    .iter()
                    .map(|&id| self.live_info_at(id, epoch));
                let _ = reply.send(Ok(rows.collect()));
            }
            Request::GetHealth { name, reply } => {
                let ids = self.processes_named(name);
                let _ = reply.send(
                    ids.map(|ids| ids.iter().filter_map(|&id| self.health_info(id)).collect()),
                );
            }
            Request::GetDepends { name, reply } => {
                let ids = self.processes_named(name);
                let _ = reply.send(
                    ids.map(|ids| ids.iter().filter_map(|&id| self.depends_info(id)).collect()),
                );
            }
            Request::GetSchedules { name, reply } => {
                let ids = self.processes_named(name);
                let _ = reply.send(ids.map(|ids| {
                    ids.iter()
                        .filter_map(|&id| self.schedule_info(id))
                        .collect()
                }));
            }
            Request::GetTrees { name, reply } => {
                let _ = reply.send(self.processes_named(name).map(|ids| self.tree_infos(&ids)));
            }
            Request::GetConfig { reply } => {
                let _ = reply.send(Ok(ConfigSnapshot {
                    config: Arc::clone(&self.config),
                    active_groups: self.table.group_names(),
                    resolved_groups: self.resolved_groups.iter().cloned().collect(),
                }));
            }
            Request::StartProcess { name, wait, reply } => {
                self.control_process(Goal::Started, name, wait, reply);
            }
            Request::StartProcessGroup { group, wait, reply } => {
                self.control_named_group(Goal::Started, group, wait, reply);
            }
            Request::StartAllProcesses { wait, reply } => {
                self.control_group(Goal::Started, None, wait, reply);
            }
            Request::StopProcess { name, wait, reply } => {
                self.control_process(Goal::Stopped, name, wait, reply);
            }
            Request::StopProcessGroup { group, wait, reply } => {
                self.control_named_group(Goal::Stopped, group, wait, reply);
            }
            Request::StopAllProcesses { wait, reply } => {
                self.control_group(Goal::Stopped, None, wait, reply);
            }
            Request::SignalProcess {
                name,
                signal,
                reply,
            } => {
                let result = match self.table.lookup(&name) {
                    Ok(Target::Process(id)) => self.signal_one(id, &name, &signal),
                    Ok(Target::Group(group)) => {
                        let results = self.signal_many(Some(&group), &signal);
                        results
                            .into_iter()
                            .map(|r| r.result)
                            .find(Result::is_err)
                            .unwrap_or(Ok(()))
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Request::SignalProcessGroup {
                group,
                signal,
                reply,
            } => {
                let result = match self.table.has_group(&group) {
                    true => Ok(self.signal_many(Some(&group), &signal)),
                    false => Err(SupervisorError::BadName(group)),
                };
                let _ = reply.send(result);
            }
            Request::SignalAllProcesses { signal, reply } => {
                let _ = reply.send(Ok(self.signal_many(None, &signal)));
            }
            Request::SendProcessStdin { name, data, reply } => {
                let _ = reply.send(self.send_stdin(&name, data));
            }
            Request::SendRemoteCommEvent { kind, data, reply } => {
                self.notify(Event::remote_communication(&kind, &data));
                let _ = reply.send(Ok(()));
            }
            Request::ProcessLog {
                name,
                channel,
                reply,
            } => {
                let result = self.process_id(&name).map(|id| LogLocation {
                    path: self
                        .table
                        .get(id)
                        .and_then(|p| p.logs.as_ref())
                        .and_then(|l| l.path(channel)),
                });
                let _ = reply.send(result);
            }
            Request::ClearProcessLogs { name, reply } => {
                let result = self
                    .process_id(&name)
                    .and_then(|id| self.clear_logs(id, &name));
                let _ = reply.send(result);
            }
            Request::ClearAllProcessLogs { reply } => {
                let results = self
                    .table
                    .all_by_priority()
                    .into_iter()
                    .filter_map(|id| {
                        let p = self.table.get(id)?;
                        let namespec = super::info::namespec(&p.group, &p.config.name);
                        let (name, group) = (p.config.name.clone(), p.group.clone());
                        Some(ProcessResult {
                            name,
                            group,
                            result: self.clear_logs(id, &namespec),
                        })
                    })
                    .collect();
                let _ = reply.send(Ok(results));
            }
            Request::MainLog { reply } => {
                let _ = reply.send(Ok(LogLocation {
                    path: self.log.path(),
                }));
            }
            Request::ClearMainLog { reply } => {
                let result = match self.log.path() {
                    Some(path) if path.exists() => self
                        .log
                        .clear()
                        .map_err(|e| SupervisorError::Failed(e.to_string())),
                    _ => Err(SupervisorError::NoLogFile),
                };
                let _ = reply.send(result);
            }
            Request::ReloadConfig { reply } => {
                let _ = reply.send(self.reload_config());
            }
            Request::AddProcessGroup { name, reply } => {
                let _ = reply.send(self.add_process_group(name));
            }
            Request::RemoveProcessGroup { name, reply } => {
                let _ = reply.send(self.remove_process_group(name));
            }
            Request::Shutdown { reply } => {
                let _ = reply.send(Ok(()));
                self.set_mood(Mood::Shutdown);
            }
            Request::Restart { reply } => {
                let _ = reply.send(self.begin_restart().map_err(SupervisorError::CantReread));
            }
        }
    }

    /// A process (not a group) by namespec, or BAD_NAME.
    pub(super) fn process_id(&self, name: &str) -> Result<ProcId, SupervisorError> {
        match self.table.lookup(name)? {
            Target::Process(id) => Ok(id),
            Target::Group(_) => Err(SupervisorError::BadName(name.to_string())),
        }
    }

    fn clear_logs(&self, id: ProcId, name: &str) -> Result<(), SupervisorError> {
        match self.table.get(id).and_then(|p| p.logs.as_ref()) {
            Some(logs) => logs
                .clear()
                .map_err(|e| SupervisorError::Failed(format!("{name}: {e}"))),
            None => Ok(()),
        }
    }
}

impl Supervisor {
    /// One process (`Some` namespec; a group is BAD_NAME) or all, sorted as
    /// `getAllProcessInfo`.
    fn processes_named(&self, name: Option<String>) -> Result<Vec<ProcId>, SupervisorError> {
        match name {
            None => Ok(self.table.all_lexical().to_vec()),
            Some(name) => match self.table.lookup(&name) {
                Ok(Target::Process(id)) => Ok(vec![id]),
                Ok(Target::Group(_)) => Err(SupervisorError::BadName(name)),
                Err(e) => Err(e),
            },
        }
    }
}
