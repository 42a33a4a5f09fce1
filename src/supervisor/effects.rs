//! Carrying out the state machine's effects: the actor feeds an input to the pure
//! `transition`, then spawns, signals, arms timers and settles waiters as it says.

use crate::config::KillMode;
use crate::events::Listener;
use crate::logs::{MainLog, ProcessLogs, Tap};
use crate::process::spawn::{self, Discard, Wiring};
use crate::process::{transition, Effect, Input, ProcessState};
use crate::signal::Signal;
use crate::sys::child as sys;

use super::actor::Supervisor;
use super::info::Channel;
use super::stdin::StdinWriter;
use super::table::ProcId;
use super::timers::TimerKey;

/// Opens a process's log files, echoing child output to the main log at debug level; an
/// event listener's stdout (`listens`) is its protocol channel.
pub(super) fn open_logs(
    config: &crate::config::ProcessConfig,
    sup: &crate::config::Supervisord,
    log: &MainLog,
    listens: bool,
) -> std::io::Result<ProcessLogs> {
    let mut logs = ProcessLogs::new(config, sup)?;
    logs.set_mainlog(log.clone());
    if listens {
        logs.set_protocol();
    }
    Ok(logs)
}

impl Supervisor {
    /// Runs one input through the state machine and carries out the effects.
    pub(super) fn feed(&mut self, id: ProcId, input: Input) {
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
            Effect::Changed {
                from,
                to,
                expected,
                pid,
                tries,
            } => {
                self.state_event(id, from, to, expected, pid, tries);
                self.on_state_change(id, to);
                self.health_on_state(id, to);
                self.memory_on_state(id, to);
                self.depends_on_change();
                self.schedule_on_state(id, to);
                self.publish_process(id);
            }
        }
    }

    /// Called on every state change: ends the stop report and stdin of a process that left
    /// them behind, and settles the requests waiting on it.
    fn on_state_change(&mut self, id: ProcId, to: ProcessState) {
        self.notify_changed();
        if to == ProcessState::Fatal {
            self.required_gone_fatal(id);
        }
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

    /// Resolves the command, opens logs if needed, forks; feeds the outcome back.
    fn spawn(&mut self, id: ProcId) {
        let sup = self.config.supervisord.clone();
        let log = self.log.clone();
        let Some((process, socket)) = self.table.with_socket_mut(id) else {
            return;
        };
        // Each spawn in a cgroup of its own (one its predecessor left empty, or a new one),
        // which the child joins before it execs.
        let cgroup = match (self.tracking.tree(), process.config.killmode) {
            (Some(tree), KillMode::Mixed) => process.spare_cgroup.take().or_else(|| {
                process.spawns += 1;
                tree.create(&process.namespec(), process.spawns).ok()
            }),
            _ => None,
        };
        let procs = cgroup.as_ref().and_then(|c| c.dir_for_child().ok());
        let resolved =
            spawn::resolve_command(&process.config, &self.spawn_ctx).map_err(|e| e.to_string());
        let result = resolved.and_then(|(filename, argv)| {
            let dispatchers_error = |e: std::io::Error| {
                format!(
                    "unknown error making dispatchers for {}: {}",
                    crate::py::repr(&process.config.name),
                    e.raw_os_error()
                        .map(|c| format!("{:?}", nix::Error::from_raw(c)))
                        .unwrap_or_else(|| e.to_string())
                )
            };
            if process.logs.is_none() {
                let listens = process.listener.is_some();
                process.logs = Some(
                    open_logs(&process.config, &sup, &log, listens).map_err(dispatchers_error)?,
                );
            }
            // Python opens the log files at each spawn; one that cannot be opened is a spawn
            // error (BACKOFF, then FATAL), not a child whose output goes nowhere.
            let mut discard = Discard::default();
            if let Some(logs) = &process.logs {
                logs.open_files().map_err(dispatchers_error)?;
                discard.stdout = logs.discards(Channel::Stdout);
                discard.stderr = logs.discards(Channel::Stderr);
            }
            let wiring = Wiring {
                socket,
                cgroup: procs,
                discard,
            };
            spawn::spawn(
                &process.config,
                &process.group,
                &self.spawn_ctx,
                &filename,
                &argv,
                wiring,
            )
        });
        match result {
            Ok(child) => {
                let pid = child.pid;
                // A fresh protocol state per spawn, as Python makes a new dispatcher.
                if let Some(listener) = process.listener.as_mut() {
                    *listener = Listener::default();
                }
                process.open_taps = 0;
                if let Some(logs) = process.logs.as_mut() {
                    let mut attach = |channel, pipe| {
                        let tap = logs.wants_tap(channel).then(|| Tap {
                            sender: self.tap_tx.clone(),
                            tag: id.0,
                            pid,
                        });
                        let tapped = tap.is_some();
                        if logs.attach(channel, pipe, tap).is_ok() && tapped {
                            process.open_taps += 1;
                        }
                    };
                    if let Some(stdout) = child.stdout {
                        attach(Channel::Stdout, stdout);
                    }
                    if let Some(stderr) = child.stderr {
                        attach(Channel::Stderr, stderr);
                    }
                }
                process.stdin = child.stdin.map(StdinWriter::new);
                process.cgroup = cgroup;
                self.table.bind_pid(pid, id);
                self.tree_spawned(pid);
                self.feed(id, Input::Spawned { pid });
            }
            Err(error) => {
                process.spare_cgroup = cgroup;
                self.feed(id, Input::SpawnFailed { error });
            }
        }
    }

    /// `Subprocess.kill`'s signalling: ESRCH is ignored (the exit is on its way), any other
    /// error makes the process UNKNOWN.
    fn kill(&mut self, id: ProcId, signal: Signal, to_group: bool) {
        // With its tree tracked, "the group" is the whole tree, setsid'ed grandchildren
        // included (Supervisor #1101); signalled once each, never twice.
        if to_group && self.signal_tree(id, signal.number()) {
            return;
        }
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
}
