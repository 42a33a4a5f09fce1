//! Requests that wait for a state (`wait=true`) park their reply in a [`Batch`]; each state
//! change settles the batches watching that process, as Python's deferred `onwait` callbacks do.

use std::time::Instant;

use tokio::sync::oneshot;

use crate::process::ProcessState;

use super::actor::Supervisor;
use super::info::{ProcessResult, SupervisorError};
use super::request::Reply;
use super::table::ProcId;
use super::timers::TimerKey;

/// What a waiting request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Goal {
    Started,
    Stopped,
}

impl Goal {
    /// Python's deferred `onwait` checks: `None` while not settled.
    fn check(
        self,
        state: ProcessState,
        spawnerr: bool,
        name: &str,
    ) -> Option<Result<(), SupervisorError>> {
        match self {
            Goal::Started if spawnerr => Some(Err(SupervisorError::SpawnError(name.into()))),
            Goal::Started => match state {
                ProcessState::Running => Some(Ok(())),
                ProcessState::Starting => None,
                _ => Some(Err(SupervisorError::AbnormalTermination(name.into()))),
            },
            Goal::Stopped => state.is_stopped().then_some(Ok(())),
        }
    }
}

/// Where a batch's answer goes: a single-process request, or a group/all request.
pub(super) enum BatchReply {
    One(Reply<()>),
    Many(Reply<Vec<ProcessResult>>),
}

/// A request with results still outstanding (`make_allfunc`'s callbacks).
pub(super) struct Batch {
    reply: BatchReply,
    /// Immediate results first, then deferred ones in completion order.
    results: Vec<ProcessResult>,
    waiting: Vec<(ProcId, Goal, String)>,
}

/// Sends a finished batch's answer.
fn finish_batch(batch: Batch) {
    match batch.reply {
        BatchReply::One(reply) => {
            let result = batch
                .results
                .into_iter()
                .next()
                .map_or(Ok(()), |r| r.result);
            let _ = reply.send(result);
        }
        BatchReply::Many(reply) => {
            let _ = reply.send(Ok(batch.results));
        }
    }
}

/// Answers a single-value request from a group operation: the first failure, else success.
pub(super) async fn forward_first_error(
    rx: oneshot::Receiver<Result<Vec<ProcessResult>, SupervisorError>>,
    reply: Reply<()>,
) {
    let result = match rx.await {
        Ok(Ok(results)) => results
            .into_iter()
            .map(|r| r.result)
            .find(Result::is_err)
            .unwrap_or(Ok(())),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(SupervisorError::ShutdownState),
    };
    let _ = reply.send(result);
}

impl Supervisor {
    /// Checks one waiting batch against a process's new state; `true` when the process no
    /// longer concerns it. Replies once the batch has no process left to wait for.
    pub(super) fn settle(
        &mut self,
        batch_id: u64,
        id: ProcId,
        to: ProcessState,
        spawnerr: bool,
    ) -> bool {
        let Some(batch) = self.batches.get_mut(&batch_id) else {
            return true;
        };
        let Some(pos) = batch.waiting.iter().position(|(p, _, _)| *p == id) else {
            return true;
        };
        let (_, goal, name) = &batch.waiting[pos];
        let Some(result) = goal.check(to, spawnerr, name) else {
            return false;
        };
        batch.waiting.remove(pos);
        if let Some(p) = self.table.get(id) {
            batch.results.push(ProcessResult {
                name: p.config.name.clone(),
                group: p.group.clone(),
                result,
            });
        }
        if batch.waiting.is_empty() {
            if let Some(batch) = self.batches.remove(&batch_id) {
                finish_batch(batch);
            }
        }
        true
    }

    /// Answers `error` to every request waiting on `id` (a start given up before it spawned).
    pub(super) fn fail_watchers(&mut self, id: ProcId, error: SupervisorError) {
        let Some(process) = self.table.get_mut(id) else {
            return;
        };
        let (name, group) = (process.config.name.clone(), process.group.clone());
        for batch_id in std::mem::take(&mut process.watchers) {
            let Some(batch) = self.batches.get_mut(&batch_id) else {
                continue;
            };
            batch.waiting.retain(|(p, _, _)| *p != id);
            batch.results.push(ProcessResult {
                name: name.clone(),
                group: group.clone(),
                result: Err(error.clone()),
            });
            if batch.waiting.is_empty() {
                if let Some(batch) = self.batches.remove(&batch_id) {
                    finish_batch(batch);
                }
            }
        }
    }

    /// `waiting for <name> to stop`, every 2 s while a stop request waits on it.
    pub(super) fn stop_report(&mut self, id: ProcId) {
        let now = Instant::now();
        let Some(process) = self.table.get_mut(id) else {
            return;
        };
        if process.life.state != ProcessState::Stopping || process.watchers.is_empty() {
            return;
        }
        let due = process
            .laststopreport
            .is_none_or(|last| now.duration_since(last).as_secs_f64() >= 2.0);
        if due {
            process.laststopreport = Some(now);
            let msg = format!("waiting for {} to stop", process.config.name);
            self.log.info(msg);
        }
        let next = process.laststopreport.unwrap_or(now) + std::time::Duration::from_secs(2);
        self.timers.arm(TimerKey::StopReport(id), next);
    }

    /// Replies now if nothing is outstanding, else parks the batch on its processes.
    pub(super) fn park(
        &mut self,
        reply: BatchReply,
        results: Vec<ProcessResult>,
        waiting: Vec<(ProcId, Goal, String)>,
    ) {
        let batch = Batch {
            reply,
            results,
            waiting,
        };
        if batch.waiting.is_empty() {
            finish_batch(batch);
            return;
        }
        let batch_id = self.next_batch;
        self.next_batch += 1;
        let stopping: Vec<ProcId> = batch
            .waiting
            .iter()
            .filter(|(_, goal, _)| *goal == Goal::Stopped)
            .map(|(id, _, _)| *id)
            .collect();
        for (id, _, _) in &batch.waiting {
            if let Some(p) = self.table.get_mut(*id) {
                p.watchers.push(batch_id);
            }
        }
        self.batches.insert(batch_id, batch);
        for id in stopping {
            self.stop_report(id);
        }
    }
}
