//! The supervisor actor: one task owns the process table and serves every [`Request`].
//!
//! It `select!`s over child exits (SIGCHLD + `waitpid(-1)`), daemon signals, requests, the next
//! deadline and the queue of autostarts, so every event is handled when it happens (no tick).
//! Requests that wait for a state park their reply in a [`Batch`] resolved by state changes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::signal::unix::{signal, Signal as SignalStream, SignalKind};
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::logs::{MainLog, ProcessLogs};
use crate::process::spawn::{self, CommandError, SpawnContext};
use crate::process::{transition, Context, Effect, Input, Lifecycle, ProcessEnd, ProcessState};
use crate::signal::Signal;
use crate::sys::child as sys;

use super::handle::{Handle, Status};
use super::info::{
    Channel, ConfigSnapshot, DaemonInfo, LogLocation, ProcessInfo, ProcessResult, SupervisorError,
};
use super::reload;
use super::request::{Reply, Request};
use super::stdin::StdinWriter;
use super::table::{ProcId, Process, Table, Target};
use super::timers::{TimerKey, Timers};

/// Re-reads the configuration file for `reloadConfig` (and for nothing else: restart re-reads
/// in the daemon). `Err` is the parse error text.
pub type Reread = Box<dyn Fn() -> Result<Config, String> + Send>;

/// How many requests may queue before senders wait (backpressure on RPC floods).
const REQUEST_QUEUE: usize = 1024;

/// Autostarts spawned per loop turn, so requests are served while 1000 programs start.
const SPAWNS_PER_TURN: usize = 32;

/// supervisord's mood (`SupervisorStates`): only RUNNING spawns and serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    Running,
    Restarting,
    Shutdown,
}

/// Why the actor stopped: the daemon exits, or re-reads its config and starts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Shutdown,
    Restart,
}

/// What a waiting request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
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
enum BatchReply {
    One(Reply<()>),
    Many(Reply<Vec<ProcessResult>>),
}

/// A request with results still outstanding (`make_allfunc`'s callbacks).
struct Batch {
    reply: BatchReply,
    /// Immediate results first, then deferred ones in completion order.
    results: Vec<ProcessResult>,
    waiting: Vec<(ProcId, Goal, String)>,
}

/// The outcome of starting or stopping one process inside a request.
enum Step {
    Done(Result<(), SupervisorError>),
    Pending,
}

/// The daemon signals supervisord handles (SIGCHLD is listened to separately).
struct Signals {
    term: SignalStream,
    int: SignalStream,
    quit: SignalStream,
    hup: SignalStream,
    usr2: SignalStream,
}

impl Signals {
    fn register() -> std::io::Result<Signals> {
        let kind = |sig: Signal| signal(SignalKind::from_raw(sig.number()));
        Ok(Signals {
            term: kind(Signal::TERM)?,
            int: kind(Signal::INT)?,
            quit: kind(Signal::QUIT)?,
            hup: kind(Signal::HUP)?,
            usr2: kind(Signal::USR2)?,
        })
    }

    /// The next daemon signal (not SIGCHLD).
    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::TERM,
            _ = self.int.recv() => Signal::INT,
            _ = self.quit.recv() => Signal::QUIT,
            _ = self.hup.recv() => Signal::HUP,
            _ = self.usr2.recv() => Signal::USR2,
        }
    }
}

/// The actor. Build it with [`Supervisor::new`], then `run` it on a tokio runtime.
pub struct Supervisor {
    /// The last-read configuration (`getAllConfigInfo`, `addProcessGroup` read from it).
    config: Arc<Config>,
    reread: Reread,
    table: Table,
    timers: Timers,
    mood: Mood,
    log: MainLog,
    spawn_ctx: SpawnContext,
    requests: mpsc::Receiver<Request>,
    /// Whether every [`Handle`] is gone (then only signals can end the actor).
    requests_closed: bool,
    /// Requests waiting for processes to settle, by id.
    batches: HashMap<u64, Batch>,
    next_batch: u64,
    /// Autostarts not yet spawned: groups by priority, members in config order.
    pending_starts: VecDeque<ProcId>,
    /// Groups still to stop at shutdown, ascending priority (the last is stopped first).
    stop_groups: Option<Vec<String>>,
    lastshutdownreport: Option<Instant>,
    /// Groups added from the current `config` (since the last reread): only their AUTO log
    /// names are resolved in it, as Python's `create_autochildlogs` fills in the config object
    /// the group was made from.
    resolved_groups: HashSet<String>,
    /// Mood and identity, published for the handles' cheap calls.
    status: Arc<Status>,
}

impl Supervisor {
    /// Creates the actor for `config` (its groups are added when `run` starts) and its handle.
    pub fn new(config: Config, reread: Reread, log: MainLog) -> (Supervisor, Handle) {
        let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
        let status = Arc::new(Status::new(&config.supervisord.identifier));
        let spawn_ctx = SpawnContext {
            environment: config.supervisord.environment.clone(),
            serverurl: server_url(&config),
        };
        let supervisor = Supervisor {
            config: Arc::new(config),
            reread,
            table: Table::default(),
            timers: Timers::default(),
            mood: Mood::Running,
            log,
            spawn_ctx,
            requests: rx,
            requests_closed: false,
            batches: HashMap::new(),
            next_batch: 0,
            pending_starts: VecDeque::new(),
            stop_groups: None,
            lastshutdownreport: None,
            resolved_groups: HashSet::new(),
            status: Arc::clone(&status),
        };
        (supervisor, Handle::with_status(tx, status))
    }

    /// Supervises until shutdown or restart is requested and every process has stopped.
    pub async fn run(mut self) -> std::io::Result<Outcome> {
        // SIGCHLD is registered before the first spawn, so no exit can go unnoticed.
        let mut chld = signal(SignalKind::child())?;
        let mut signals = Signals::register()?;
        let groups = self.config.groups.clone();
        for group in groups {
            self.add_group(group);
        }
        loop {
            if let Some(outcome) = self.finished() {
                return Ok(outcome);
            }
            let next = self.timers.next();
            let sleep = async move {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = chld.recv() => {
                    self.log.debug("received SIGCHLD indicating a child quit");
                    self.reap();
                }
                sig = signals.next() => self.on_signal(sig),
                () = sleep => self.on_timers(),
                req = self.requests.recv(), if !self.requests_closed => match req {
                    Some(req) => self.on_request(req),
                    None => self.requests_closed = true,
                },
                () = std::future::ready(()), if !self.pending_starts.is_empty() => {
                    self.autostart_some();
                }
            }
        }
    }

    fn now(&self) -> Context {
        Context {
            now: Instant::now(),
            epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            may_spawn: self.mood == Mood::Running,
        }
    }

    // ---- groups -------------------------------------------------------------------------

    /// Creates a group's processes (and their log files) and queues its autostarts.
    fn add_group(&mut self, config: crate::config::GroupConfig) {
        self.resolved_groups.insert(config.name.clone());
        let sup = self.config.supervisord.clone();
        let log = self.log.clone();
        let members = self.table.add_group(config, |pconfig, group| Process {
            config: pconfig.clone(),
            group: group.to_string(),
            life: Lifecycle::default(),
            logs: open_logs(pconfig, &sup, &log).ok(),
            stdin: None,
            watchers: Vec::new(),
            laststopreport: None,
        });
        // Python's `ProcessGroup.transition` walks its processes dict in config order (a
        // `[group:x]` keeps its `programs=` order), not by priority.
        let ids = members
            .into_iter()
            .filter(|id| self.table.get(*id).is_some_and(|p| p.config.autostart));
        self.pending_starts.extend(ids);
    }

    /// Spawns the next few queued autostarts (STOPPED and never started).
    fn autostart_some(&mut self) {
        for _ in 0..SPAWNS_PER_TURN {
            let Some(id) = self.pending_starts.pop_front() else {
                return;
            };
            if self.mood != Mood::Running {
                self.pending_starts.clear();
                return;
            }
            let never_started = self.table.get(id).is_some_and(|p| {
                p.life.state == ProcessState::Stopped && p.life.laststart.is_none()
            });
            if never_started {
                self.feed(id, Input::Start);
            }
        }
    }

    // ---- the state machine and its effects ----------------------------------------------

    /// Runs one input through the state machine and carries out the effects.
    fn feed(&mut self, id: ProcId, input: Input) {
        let ctx = self.now();
        let Some(process) = self.table.get_mut(id) else {
            return;
        };
        let step = transition(&process.life, input, &process.config, ctx);
        process.life = step.next;
        for effect in step.effects {
            self.apply(id, effect);
        }
    }

    fn apply(&mut self, id: ProcId, effect: Effect) {
        match effect {
            Effect::Spawn => self.spawn(id),
            Effect::Kill { signal, to_group } => self.kill(id, signal, to_group),
            Effect::ArmTimer(at) => self.timers.arm(TimerKey::Process(id), at),
            Effect::CancelTimer => self.timers.cancel(TimerKey::Process(id)),
            Effect::Log(level, text) => self.log.log(level, text),
            Effect::Changed { from, to, expected } => self.on_state_change(id, from, to, expected),
        }
    }

    /// Called on every state change. Process state events (a later feature) are emitted from
    /// here; today it settles waiting requests and advances shutdown.
    fn on_state_change(
        &mut self,
        id: ProcId,
        _from: ProcessState,
        to: ProcessState,
        _expected: bool,
    ) {
        let Some(process) = self.table.get_mut(id) else {
            return;
        };
        if to != ProcessState::Stopping {
            self.timers.cancel(TimerKey::StopReport(id));
        }
        if !matches!(
            to,
            ProcessState::Starting | ProcessState::Running | ProcessState::Stopping
        ) {
            process.stdin = None;
        }
        let spawnerr = process.life.spawnerr.is_some();
        let watchers = std::mem::take(&mut process.watchers);
        let mut still = Vec::new();
        for batch_id in watchers {
            if !self.settle(batch_id, id, to, spawnerr) {
                still.push(batch_id);
            }
        }
        if let Some(process) = self.table.get_mut(id) {
            process.watchers = still;
        }
    }

    /// Checks one waiting batch against a process's new state; `true` when the process no
    /// longer concerns it. Replies once the batch has no process left to wait for.
    fn settle(&mut self, batch_id: u64, id: ProcId, to: ProcessState, spawnerr: bool) -> bool {
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

    /// Resolves the command, opens logs if needed, forks; feeds the outcome back.
    fn spawn(&mut self, id: ProcId) {
        let sup = self.config.supervisord.clone();
        let log = self.log.clone();
        let Some(process) = self.table.get_mut(id) else {
            return;
        };
        let resolved =
            spawn::resolve_command(&process.config, &self.spawn_ctx).map_err(|e| e.to_string());
        let result = resolved.and_then(|(filename, argv)| {
            if process.logs.is_none() {
                process.logs = Some(open_logs(&process.config, &sup, &log).map_err(|e| {
                    format!(
                        "unknown error making dispatchers for {}: {}",
                        crate::py::repr(&process.config.name),
                        e.raw_os_error()
                            .map(|c| format!("{:?}", nix::Error::from_raw(c)))
                            .unwrap_or_else(|| e.to_string())
                    )
                })?);
            }
            spawn::spawn(
                &process.config,
                &process.group,
                &self.spawn_ctx,
                &filename,
                &argv,
            )
        });
        match result {
            Ok(child) => {
                let pid = child.pid;
                if let Some(logs) = process.logs.as_mut() {
                    let _ = logs.attach(Channel::Stdout, child.stdout, pid);
                    if let Some(stderr) = child.stderr {
                        let _ = logs.attach(Channel::Stderr, stderr, pid);
                    }
                }
                process.stdin = StdinWriter::start(child.stdin).ok();
                self.table.bind_pid(pid, id);
                self.feed(id, Input::Spawned { pid });
            }
            Err(error) => self.feed(id, Input::SpawnFailed { error }),
        }
    }

    /// `Subprocess.kill`'s signalling: ESRCH is ignored (the exit is on its way), any other
    /// error makes the process UNKNOWN.
    fn kill(&mut self, id: ProcId, signal: Signal, to_group: bool) {
        let Some(process) = self.table.get(id) else {
            return;
        };
        let pid = process.life.pid as i32;
        let target = if to_group { -pid } else { pid };
        match sys::kill(target, signal.number()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                let msg = format!(
                    "unable to signal {} (pid {pid}), it probably just exited on its own: {e}",
                    process.config.name
                );
                self.log.debug(msg);
            }
            Err(e) => {
                let error = format!(
                    "unknown problem killing {} ({pid}):{e}",
                    process.config.name
                );
                self.feed(id, Input::SignalFailed { error });
            }
        }
    }

    /// Reaps every exited child (`waitpid(-1, WNOHANG)` until none is left).
    fn reap(&mut self) {
        while let Some(reaped) = sys::reap_one() {
            let end = ProcessEnd::from_wait_status(reaped.status);
            match self.table.take_pid(reaped.pid) {
                Some(id) => self.feed(id, Input::Exited { end }),
                None => self.log.info(format!(
                    "reaped unknown pid {} ({})",
                    reaped.pid,
                    end.describe()
                )),
            }
        }
        self.advance_shutdown();
    }

    fn on_timers(&mut self) {
        for key in self.timers.expired(Instant::now()) {
            match key {
                TimerKey::Process(id) => self.feed(id, Input::Deadline),
                TimerKey::StopReport(id) => self.stop_report(id),
                TimerKey::ShutdownReport => self.advance_shutdown(),
            }
        }
        self.advance_shutdown();
    }

    /// `waiting for <name> to stop`, every 2 s while a stop request waits on it.
    fn stop_report(&mut self, id: ProcId) {
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

    // ---- daemon signals ------------------------------------------------------------------

    fn on_signal(&mut self, sig: Signal) {
        match sig {
            Signal::HUP => {
                if self.mood == Mood::Shutdown {
                    self.log.warn(format!(
                        "ignored {sig} indicating restart request (shutdown in progress)"
                    ));
                } else {
                    self.log
                        .warn(format!("received {sig} indicating restart request"));
                    self.set_mood(Mood::Restarting);
                }
            }
            Signal::USR2 => {
                self.log
                    .info(format!("received {sig} indicating log reopen request"));
                self.log.info("supervisord logreopen");
                let _ = self.log.reopen();
                for process in self.table.processes_mut() {
                    if let Some(logs) = &process.logs {
                        let _ = logs.reopen();
                    }
                }
            }
            _ => {
                self.log
                    .warn(format!("received {sig} indicating exit request"));
                self.set_mood(Mood::Shutdown);
            }
        }
    }

    fn set_mood(&mut self, mood: Mood) {
        self.mood = mood;
        self.status.set_running(mood == Mood::Running);
        if mood != Mood::Running {
            self.pending_starts.clear();
            self.advance_shutdown();
        }
    }

    // ---- requests ------------------------------------------------------------------------

    fn on_request(&mut self, request: Request) {
        if self.mood != Mood::Running {
            reject_shutdown(request);
            return;
        }
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
            Request::GetConfig { reply } => {
                let _ = reply.send(Ok(ConfigSnapshot {
                    config: Arc::clone(&self.config),
                    active_groups: self.table.group_names(),
                    resolved_groups: self.resolved_groups.iter().cloned().collect(),
                }));
            }
            Request::StartProcess { name, wait, reply } => self.start_process(name, wait, reply),
            Request::StartProcessGroup { group, wait, reply } => {
                match self.table.lookup(&format!("{group}:*")) {
                    Ok(_) => self.start_group(Some(&group), wait, reply),
                    Err(_) => {
                        let _ = reply.send(Err(SupervisorError::BadName(group)));
                    }
                }
            }
            Request::StartAllProcesses { wait, reply } => self.start_group(None, wait, reply),
            Request::StopProcess { name, wait, reply } => self.stop_process(name, wait, reply),
            Request::StopProcessGroup { group, wait, reply } => {
                match self.table.lookup(&format!("{group}:*")) {
                    Ok(_) => self.stop_group(Some(&group), wait, reply),
                    Err(_) => {
                        let _ = reply.send(Err(SupervisorError::BadName(group)));
                    }
                }
            }
            Request::StopAllProcesses { wait, reply } => self.stop_group(None, wait, reply),
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
            Request::SendRemoteCommEvent { reply, .. } => {
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
                let result = match (self.reread)() {
                    Ok(config) => {
                        self.config = Arc::new(config);
                        self.status
                            .set_identifier(&self.config.supervisord.identifier);
                        self.resolved_groups.clear();
                        let active: Vec<&crate::config::GroupConfig> = self
                            .table
                            .groups_in_add_order()
                            .into_iter()
                            .map(|g| &g.config)
                            .collect();
                        Ok(reload::diff(&active, &self.config.groups))
                    }
                    Err(e) => Err(SupervisorError::CantReread(e)),
                };
                let _ = reply.send(result);
            }
            Request::AddProcessGroup { name, reply } => {
                let result = match self.config.groups.iter().find(|g| g.name == name) {
                    None => Err(SupervisorError::BadName(name)),
                    Some(_) if self.table.has_group(&name) => {
                        Err(SupervisorError::AlreadyAdded(name))
                    }
                    Some(group) => {
                        let group = group.clone();
                        self.add_group(group);
                        Ok(())
                    }
                };
                let _ = reply.send(result);
            }
            Request::RemoveProcessGroup { name, reply } => {
                let result = match self.table.group(&name) {
                    None => Err(SupervisorError::BadName(name)),
                    Some(group) if !self.table.group_is_stopped(group) => {
                        Err(SupervisorError::StillRunning(name))
                    }
                    Some(_) => {
                        for process in self.table.remove_group(&name) {
                            drop(process);
                        }
                        Ok(())
                    }
                };
                let _ = reply.send(result);
            }
            Request::Shutdown { reply } => {
                let _ = reply.send(Ok(()));
                self.set_mood(Mood::Shutdown);
            }
            Request::Restart { reply } => {
                let _ = reply.send(Ok(()));
                self.set_mood(Mood::Restarting);
            }
        }
    }

    /// A process (not a group) by namespec, or BAD_NAME.
    fn process_id(&self, name: &str) -> Result<ProcId, SupervisorError> {
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

    fn info(&self, id: ProcId) -> ProcessInfo {
        self.info_at(id, self.now().epoch)
    }

    /// A process's info as of `now` (epoch seconds).
    fn info_at(&self, id: ProcId, now: i64) -> ProcessInfo {
        let p = self.table.get(id).expect("ids come from the table");
        let path = |channel| {
            p.logs
                .as_ref()
                .and_then(|l| l.path(channel))
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        ProcessInfo {
            name: p.config.name.clone(),
            group: p.group.clone(),
            start: p.life.start_epoch,
            stop: p.life.stop_epoch,
            now,
            state: p.life.state,
            spawnerr: p.life.spawnerr.clone().unwrap_or_default(),
            exitstatus: p.life.exitstatus.unwrap_or(0),
            stdout_logfile: path(Channel::Stdout),
            stderr_logfile: path(Channel::Stderr),
            pid: p.life.pid,
        }
    }

    // ---- start / stop / signal -----------------------------------------------------------

    fn start_process(&mut self, name: String, wait: bool, reply: Reply<()>) {
        match self.table.lookup(&name) {
            Err(e) => {
                let _ = reply.send(Err(e));
            }
            Ok(Target::Group(group)) => {
                // A group spec answers with the group's results; this single-value reply can
                // only carry the first failure (the RPC layer sends `g:*` to StartProcessGroup).
                let (tx, rx) = oneshot::channel();
                self.start_group(Some(&group), wait, tx);
                tokio::spawn(forward_first_error(rx, reply));
            }
            Ok(Target::Process(id)) => match self.start_one(id, &name, wait) {
                Step::Done(result) => {
                    let _ = reply.send(result);
                }
                Step::Pending => self.park(
                    BatchReply::One(reply),
                    Vec::new(),
                    vec![(id, Goal::Started, name)],
                ),
            },
        }
    }

    fn stop_process(&mut self, name: String, wait: bool, reply: Reply<()>) {
        match self.table.lookup(&name) {
            Err(e) => {
                let _ = reply.send(Err(e));
            }
            Ok(Target::Group(group)) => {
                let (tx, rx) = oneshot::channel();
                self.stop_group(Some(&group), wait, tx);
                tokio::spawn(forward_first_error(rx, reply));
            }
            Ok(Target::Process(id)) => match self.stop_one(id, &name, wait) {
                Step::Done(result) => {
                    let _ = reply.send(result);
                }
                Step::Pending => self.park(
                    BatchReply::One(reply),
                    Vec::new(),
                    vec![(id, Goal::Stopped, name)],
                ),
            },
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
        self.feed(id, Input::Start);
        let Some(process) = self.table.get(id) else {
            return Step::Done(Ok(()));
        };
        if process.life.spawnerr.is_some() {
            return Step::Done(Err(SupervisorError::SpawnError(name.into())));
        }
        if !wait || process.life.state == ProcessState::Running {
            return Step::Done(Ok(()));
        }
        Step::Pending
    }

    /// `stopProcess` for one process.
    fn stop_one(&mut self, id: ProcId, name: &str, wait: bool) -> Step {
        let Some(process) = self.table.get(id) else {
            return Step::Done(Err(SupervisorError::BadName(name.into())));
        };
        if !process.life.state.is_running() {
            return Step::Done(Err(SupervisorError::NotRunning(name.into())));
        }
        self.feed(id, Input::Stop);
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

    /// `startProcessGroup` / `startAllProcesses` (`group` = `None`): every process not in
    /// RUNNING_STATES, by priority.
    fn start_group(&mut self, group: Option<&str>, wait: bool, reply: Reply<Vec<ProcessResult>>) {
        let ids = self.members(group);
        let mut results = Vec::new();
        let mut waiting = Vec::new();
        for id in ids {
            let Some(p) = self.table.get(id) else {
                continue;
            };
            if p.life.state.is_running() {
                continue;
            }
            let (name, group_name) = (p.config.name.clone(), p.group.clone());
            let namespec = super::info::namespec(&group_name, &name);
            match self.start_one(id, &namespec, wait) {
                Step::Done(result) => results.push(ProcessResult {
                    name,
                    group: group_name,
                    result,
                }),
                Step::Pending => waiting.push((id, Goal::Started, namespec)),
            }
        }
        self.park(BatchReply::Many(reply), results, waiting);
    }

    /// `stopProcessGroup` / `stopAllProcesses`: every process in RUNNING_STATES, by priority.
    fn stop_group(&mut self, group: Option<&str>, wait: bool, reply: Reply<Vec<ProcessResult>>) {
        let ids = self.members(group);
        let mut results = Vec::new();
        let mut waiting = Vec::new();
        for id in ids {
            let Some(p) = self.table.get(id) else {
                continue;
            };
            if !p.life.state.is_running() {
                continue;
            }
            let (name, group_name) = (p.config.name.clone(), p.group.clone());
            let namespec = super::info::namespec(&group_name, &name);
            match self.stop_one(id, &namespec, wait) {
                Step::Done(result) => results.push(ProcessResult {
                    name,
                    group: group_name,
                    result,
                }),
                Step::Pending => waiting.push((id, Goal::Stopped, namespec)),
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

    /// Replies now if nothing is outstanding, else parks the batch on its processes.
    fn park(
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

    /// `signalProcess` for one process.
    fn signal_one(&mut self, id: ProcId, name: &str, signal: &str) -> Result<(), SupervisorError> {
        let sig = Signal::parse(signal).ok_or_else(|| SupervisorError::BadSignal(signal.into()))?;
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
    fn signal_many(&mut self, group: Option<&str>, signal: &str) -> Vec<ProcessResult> {
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

    fn send_stdin(&mut self, name: &str, data: Vec<u8>) -> Result<(), SupervisorError> {
        let id = self.process_id(name)?;
        let process = self.table.get(id).expect("ids come from the table");
        if process.life.pid == 0 || process.life.killing {
            return Err(SupervisorError::NotRunning(name.into()));
        }
        match &process.stdin {
            Some(stdin) => stdin
                .send(data)
                .map_err(|()| SupervisorError::NoFile(name.into())),
            None => Err(SupervisorError::NoFile(name.into())),
        }
    }

    // ---- shutdown ------------------------------------------------------------------------

    /// Python's ordered shutdown: stop the highest-priority group still running, wait until it
    /// is fully stopped, then the next; report `waiting for ... to die` every 3 s.
    fn advance_shutdown(&mut self) {
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
    fn finished(&self) -> Option<Outcome> {
        let outcome = match self.mood {
            Mood::Running => return None,
            Mood::Shutdown => Outcome::Shutdown,
            Mood::Restarting => Outcome::Restart,
        };
        let all_stopped = self
            .table
            .groups_in_add_order()
            .into_iter()
            .all(|g| self.table.group_is_stopped(g));
        all_stopped.then_some(outcome)
    }
}

/// Opens a process's log files, echoing child output to the main log at debug level.
fn open_logs(
    config: &crate::config::ProcessConfig,
    sup: &crate::config::Supervisord,
    log: &MainLog,
) -> std::io::Result<ProcessLogs> {
    let mut logs = ProcessLogs::new(config, sup)?;
    logs.set_mainlog(log.clone());
    Ok(logs)
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
async fn forward_first_error(
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

/// Answers any request with SHUTDOWN_STATE (the daemon is stopping or restarting);
/// `sendRemoteCommEvent` is the one exception Python makes.
fn reject_shutdown(request: Request) {
    fn no<T>(reply: Reply<T>) {
        let _ = reply.send(Err(SupervisorError::ShutdownState));
    }
    match request {
        Request::GetState { reply } => no(reply),
        Request::GetProcessInfo { reply, .. } => no(reply),
        Request::GetAllProcessInfo { reply } => no(reply),
        Request::GetConfig { reply } => no(reply),
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
        Request::SendRemoteCommEvent { reply, .. } => {
            let _ = reply.send(Ok(()));
        }
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
}

/// `SUPERVISOR_SERVER_URL` for programs with `serverurl=AUTO`: the first unix socket server,
/// else the last inet server (Python's loop does not stop at the first), else none.
pub fn server_url(config: &Config) -> Option<String> {
    if let Some(unix) = config.unix_http_servers.first() {
        return Some(format!("unix://{}", unix.file.display()));
    }
    config.inet_http_servers.last().map(|inet| {
        let host = if inet.host.is_empty() {
            "localhost"
        } else {
            &inet.host
        };
        format!("http://{host}:{}", inet.port)
    })
}
