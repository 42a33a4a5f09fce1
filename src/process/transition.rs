//! The process state machine of Supervisor 4.3 (`process.py`: `spawn`, `finish`, `kill`,
//! `transition`), as a pure function: facts in, next facts and effects out.
//!
//! No I/O happens here. The supervisor actor feeds [`Input`]s (requests, spawn outcomes, reaped
//! exits, expired deadlines) and carries out the [`Effect`]s (fork/exec, kill, timers, log lines,
//! state-change notifications). Every rule, log line and counter mirrors Python's.

use std::time::{Duration, Instant};

use crate::config::{AutoRestart, LogLevel, ProcessConfig};
use crate::process::exit::ProcessEnd;
use crate::process::state::ProcessState;
use crate::signal::Signal;

/// Everything the state machine remembers about one process (Python's `Subprocess` fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub state: ProcessState,
    /// 0 when no child is alive.
    pub pid: u32,
    /// Serial failed starts (BACKOFF entries since the last RUNNING or FATAL).
    pub backoff: u32,
    /// When the pending deadline expires: startsecs in STARTING, the retry in BACKOFF, SIGKILL in
    /// STOPPING. `None` when nothing is pending.
    pub delay: Option<Instant>,
    /// Monotonic time of the last spawn attempt (`None` = never started).
    pub laststart: Option<Instant>,
    /// Wall-clock epoch seconds of the last spawn attempt (0 = never).
    pub start_epoch: i64,
    /// Wall-clock epoch seconds of the last exit (0 = never).
    pub stop_epoch: i64,
    /// A stop (or kill) signal was sent; the next exit is a STOPPED, not an EXITED.
    pub killing: bool,
    /// Last recorded exit code; `None` after a spawn or a too-quick exit.
    pub exitstatus: Option<i32>,
    /// Why the last start failed.
    pub spawnerr: Option<String>,
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle {
            state: ProcessState::Stopped,
            pid: 0,
            backoff: 0,
            delay: None,
            laststart: None,
            start_epoch: 0,
            stop_epoch: 0,
            killing: false,
            exitstatus: None,
            spawnerr: None,
        }
    }
}

/// The moment an input is handled, and whether the daemon may spawn (its mood is RUNNING).
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub now: Instant,
    pub epoch: i64,
    pub may_spawn: bool,
}

/// The shortest time between two automatic restarts of one process (see
/// `Step::restart_when_due`).
pub const MIN_RESTART_INTERVAL: Duration = Duration::from_millis(100);

/// Something that happened to, or was asked of, one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start it: a start request, autostart, autorestart or a BACKOFF retry.
    Start,
    /// The fork/exec succeeded.
    Spawned { pid: u32 },
    /// The spawn failed before a child existed (`can't find command 'x'`, fork errors).
    SpawnFailed { error: String },
    /// The child was reaped.
    Exited { end: ProcessEnd },
    /// Administrative stop (`stopProcess`, shutdown).
    Stop,
    /// Shutdown found it in BACKOFF: give up instead of retrying.
    GiveUp,
    /// The deadline in [`Lifecycle::delay`] passed.
    Deadline,
    /// Sending a signal failed with something other than ESRCH.
    SignalFailed { error: String },
}

/// What the actor must do as a consequence, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fork/exec the child and answer with `Spawned` or `SpawnFailed`.
    Spawn,
    /// Send `signal` to the pid, or to its process group when `to_group`.
    Kill { signal: Signal, to_group: bool },
    /// (Re)arm the process's single deadline; it then feeds [`Input::Deadline`].
    ArmTimer(Instant),
    /// Disarm the deadline.
    CancelTimer,
    /// A main-log line.
    Log(LogLevel, String),
    /// The state changed (the seam for PROCESS_STATE events and waiting requests), with the
    /// pid and BACKOFF count at that moment (what the event's payload shows).
    Changed {
        from: ProcessState,
        to: ProcessState,
        expected: bool,
        pid: u32,
        tries: u32,
    },
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub next: Lifecycle,
    pub effects: Vec<Effect>,
}

/// Applies one input. Inputs that make no sense in the current state change nothing.
pub fn transition(
    life: &Lifecycle,
    input: Input,
    config: &ProcessConfig,
    ctx: Context,
) -> Transition {
    let mut step = Step {
        life: life.clone(),
        effects: Vec::new(),
        config,
        ctx,
    };
    step.apply(input);
    Transition {
        next: step.life,
        effects: step.effects,
    }
}

/// One step in progress: the facts being rewritten and the effects so far.
struct Step<'a> {
    life: Lifecycle,
    effects: Vec<Effect>,
    config: &'a ProcessConfig,
    ctx: Context,
}

impl Step<'_> {
    fn apply(&mut self, input: Input) {
        use ProcessState as S;
        match (self.life.state, input) {
            (S::Stopped | S::Exited | S::Fatal | S::Backoff, Input::Start) => self.spawn(),
            // Python's `spawn` with a pid still set (only STOPPING gets here): a warning, no
            // spawn; `startProcess` then sees a state that is neither STARTING nor RUNNING.
            (S::Stopping, Input::Start) => {
                let msg = format!("process '{}' already running", self.config.name);
                self.log(LogLevel::Warn, msg);
            }
            (S::Starting, Input::Spawned { pid }) if self.life.pid == 0 => self.spawned(pid),
            (S::Starting, Input::SpawnFailed { error }) if self.life.pid == 0 => {
                self.spawn_failed(error)
            }
            (_, Input::Exited { end }) if self.life.pid != 0 => self.finish(end),
            (S::Backoff, Input::Stop) => {
                let msg = format!(
                    "Attempted to kill {}, which is in BACKOFF state.",
                    self.config.name
                );
                self.log(LogLevel::Debug, msg);
                self.life.delay = None;
                self.effects.push(Effect::CancelTimer);
                self.change(S::Stopped, true);
            }
            (S::Running | S::Starting, Input::Stop) if self.life.pid != 0 => {
                self.kill(self.config.stopsignal)
            }
            (S::Backoff, Input::GiveUp) => self.give_up(),
            (S::Starting, Input::Deadline) => self.check_started(),
            (S::Backoff, Input::Deadline) => {
                let due = self.life.delay.is_some_and(|d| self.ctx.now >= d);
                if due && self.ctx.may_spawn && self.life.backoff <= self.config.startretries {
                    self.spawn();
                }
            }
            (S::Exited, Input::Deadline) => {
                let due = self.life.delay.is_some_and(|d| self.ctx.now >= d);
                let restarts = self
                    .life
                    .exitstatus
                    .is_some_and(|es| self.restarts_after(es));
                if due && self.ctx.may_spawn && restarts {
                    self.spawn();
                }
            }
            (S::Stopping, Input::Deadline)
                if self.life.delay.is_some_and(|d| self.ctx.now >= d) =>
            {
                let msg = format!(
                    "killing '{}' ({}) with SIGKILL",
                    self.config.name, self.life.pid
                );
                self.log(LogLevel::Warn, msg);
                self.kill(Signal::KILL);
            }
            (_, Input::SignalFailed { error }) => {
                self.log(LogLevel::Critical, error);
                self.life.killing = false;
                self.life.delay = None;
                self.effects.push(Effect::CancelTimer);
                self.change(S::Unknown, true);
            }
            _ => {}
        }
    }

    /// `Subprocess.spawn` up to the fork: STARTING, then the actor spawns.
    fn spawn(&mut self) {
        self.life.killing = false;
        self.life.spawnerr = None;
        self.life.exitstatus = None;
        self.life.laststart = Some(self.ctx.now);
        self.life.start_epoch = self.ctx.epoch;
        self.life.delay = None;
        self.effects.push(Effect::CancelTimer);
        self.change(ProcessState::Starting, true);
        self.effects.push(Effect::Spawn);
    }

    /// `_spawn_as_parent`: the child exists; wait `startsecs` for RUNNING.
    fn spawned(&mut self, pid: u32) {
        self.life.pid = pid;
        self.life.spawnerr = None;
        let msg = format!("spawned: '{}' with pid {pid}", self.config.name);
        self.log(LogLevel::Info, msg);
        // With `startsecs=0` the deadline is now: RUNNING comes with the next turn of the
        // loop, after the spawns of this one, as in Python (all `spawned:` lines of a pass,
        // then the `success:` lines). `startProcess` checks at once (see `Input::Deadline`).
        let deadline = self.ctx.now + self.config.startsecs;
        self.life.delay = Some(deadline);
        self.effects.push(Effect::ArmTimer(deadline));
    }

    fn spawn_failed(&mut self, error: String) {
        self.log(LogLevel::Info, format!("spawnerr: {error}"));
        self.life.spawnerr = Some(error);
        self.enter_backoff();
    }

    /// STARTING → RUNNING once the child has stayed up `startsecs`.
    fn check_started(&mut self) {
        let Some(start) = self.life.laststart else {
            return;
        };
        if self.ctx.now.saturating_duration_since(start) < self.config.startsecs {
            return;
        }
        // Its deadline is moot now, also when `startProcess` got here before the timer fired.
        self.life.delay = None;
        self.effects.push(Effect::CancelTimer);
        self.life.backoff = 0;
        self.change(ProcessState::Running, true);
        let msg = format!(
            "success: {} entered RUNNING state, process has stayed up for > than {} seconds (startsecs)",
            self.config.name,
            self.config.startsecs.as_secs()
        );
        self.log(LogLevel::Info, msg);
    }

    /// `Subprocess.finish`: the child was reaped.
    fn finish(&mut self, end: ProcessEnd) {
        use ProcessState as S;
        let name = self.config.name.clone();
        let es = end.code();
        let how = end.describe();
        self.life.stop_epoch = self.ctx.epoch;
        let too_quickly = self.life.laststart.is_some_and(|start| {
            self.ctx.now.saturating_duration_since(start) < self.config.startsecs
        });
        let expected = self.config.exitcodes.contains(&es);
        self.effects.push(Effect::CancelTimer);
        self.life.delay = None;

        // The pid stays set through the state changes (their events show it), as in Python,
        // which clears it at the end of `finish`.
        if self.life.killing {
            self.life.killing = false;
            self.life.exitstatus = Some(es);
            self.change(S::Stopped, true);
            let level = if expected {
                LogLevel::Info
            } else {
                LogLevel::Warn
            };
            self.log(level, format!("stopped: {name} ({how})"));
            self.life.pid = 0;
        } else if too_quickly && self.life.state == S::Starting {
            self.life.pid = 0;
            self.life.exitstatus = None;
            self.life.spawnerr = Some("Exited too quickly (process log may have details)".into());
            self.enter_backoff_logging(format!("exited: {name} ({how}; not expected)"));
        } else {
            self.life.backoff = 0;
            self.life.exitstatus = Some(es);
            if self.life.state == S::Starting {
                // Stayed up `startsecs`, but its deadline had not been handled yet: Python's
                // loop runs `transition` (the `success:` line) before it reaps.
                self.check_started();
            }
            if expected {
                self.change(S::Exited, true);
                self.log(LogLevel::Info, format!("exited: {name} ({how}; expected)"));
            } else {
                self.life.spawnerr = Some(format!("Bad exit code {es}"));
                self.change(S::Exited, false);
                self.log(
                    LogLevel::Warn,
                    format!("exited: {name} ({how}; not expected)"),
                );
            }
            self.life.pid = 0;
            if self.ctx.may_spawn && self.restarts_after(es) {
                self.restart_when_due();
            }
        }
    }

    /// EXITED → STARTING for `autorestart`: at once, unless the last spawn was less than
    /// [`MIN_RESTART_INTERVAL`] ago; then when that interval is over. Python restarts on its
    /// next 1 s tick; we react at once to a crash, but a program that exits immediately (with
    /// `startsecs=0` it never reaches BACKOFF) is not restarted more than 10 times a second.
    fn restart_when_due(&mut self) {
        let due = self
            .life
            .laststart
            .map(|start| start + MIN_RESTART_INTERVAL)
            .filter(|&due| due > self.ctx.now);
        match due {
            Some(at) => {
                self.life.delay = Some(at);
                self.effects.push(Effect::ArmTimer(at));
            }
            None => self.spawn(),
        }
    }

    /// `autorestart` against `exitcodes`, for EXITED → STARTING. A job run on a `schedule`
    /// waits for its next occurrence instead, whatever `autorestart` says.
    fn restarts_after(&self, es: i32) -> bool {
        if self.config.runs_on_schedule() {
            return false;
        }
        match self.config.autorestart {
            AutoRestart::Never => false,
            AutoRestart::Always => true,
            AutoRestart::Unexpected => !self.config.exitcodes.contains(&es),
        }
    }

    /// BACKOFF (`backoff += 1` comes with the state change, so its event shows the new count).
    fn enter_backoff(&mut self) {
        self.life.backoff += 1;
        self.change(ProcessState::Backoff, true);
        self.after_backoff();
    }

    /// BACKOFF, then the `exited:` line (Python logs it after the state change).
    fn enter_backoff_logging(&mut self, msg: String) {
        self.life.backoff += 1;
        self.change(ProcessState::Backoff, true);
        self.log(LogLevel::Warn, msg);
        self.after_backoff();
    }

    /// `delay = now + backoff` (linear), or FATAL once retries are used up.
    fn after_backoff(&mut self) {
        if self.life.backoff > self.config.startretries {
            self.give_up();
            let msg = format!(
                "gave up: {} entered FATAL state, too many start retries too quickly",
                self.config.name
            );
            self.log(LogLevel::Info, msg);
        } else {
            let at = self.ctx.now + std::time::Duration::from_secs(u64::from(self.life.backoff));
            self.life.delay = Some(at);
            self.effects.push(Effect::ArmTimer(at));
        }
    }

    /// `Subprocess.give_up`: BACKOFF → FATAL, counters reset.
    fn give_up(&mut self) {
        self.life.delay = None;
        self.life.backoff = 0;
        self.effects.push(Effect::CancelTimer);
        self.change(ProcessState::Fatal, true);
    }

    /// `Subprocess.kill`: signal the child (or its group) and arm the SIGKILL deadline.
    fn kill(&mut self, signal: Signal) {
        let to_group = if self.life.state == ProcessState::Stopping {
            self.config.killasgroup
        } else {
            self.config.stopasgroup
        };
        let as_group = if to_group { "process group " } else { "" };
        let msg = format!(
            "killing {} (pid {}) {as_group}with signal {signal}",
            self.config.name, self.life.pid
        );
        self.log(LogLevel::Debug, msg);
        self.life.killing = true;
        let deadline = self.ctx.now + self.config.stopwaitsecs;
        self.life.delay = Some(deadline);
        self.change(ProcessState::Stopping, true);
        self.effects.push(Effect::Kill { signal, to_group });
        self.effects.push(Effect::ArmTimer(deadline));
    }

    fn change(&mut self, to: ProcessState, expected: bool) {
        let from = self.life.state;
        if from == to {
            return;
        }
        self.life.state = to;
        self.effects.push(Effect::Changed {
            from,
            to,
            expected,
            pid: self.life.pid,
            tries: self.life.backoff,
        });
    }

    fn log(&mut self, level: LogLevel, msg: String) {
        self.effects.push(Effect::Log(level, msg));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use ProcessState as S;

    /// `[program:web]` with every option at Python's default, read by the real config loader.
    fn config() -> ProcessConfig {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("supervisord.conf");
        std::fs::write(&conf, "[supervisord]\n[program:web]\ncommand=/bin/true\n").unwrap();
        let config = crate::config::load(&crate::config::Options::for_file(&conf)).unwrap();
        (*config.groups[0].processes[0]).clone()
    }

    /// A process under test: facts, config and a clock that only moves when told.
    struct Rig {
        life: Lifecycle,
        config: ProcessConfig,
        t0: Instant,
        now: Instant,
        may_spawn: bool,
    }

    impl Rig {
        fn new() -> Rig {
            Rig::with(config())
        }

        fn with(config: ProcessConfig) -> Rig {
            let t0 = Instant::now();
            Rig {
                life: Lifecycle::default(),
                config,
                t0,
                now: t0,
                may_spawn: true,
            }
        }

        fn at(&mut self, secs: f64) -> &mut Rig {
            self.now = self.t0 + Duration::from_secs_f64(secs);
            self
        }

        fn feed(&mut self, input: Input) -> Vec<Effect> {
            let ctx = Context {
                now: self.now,
                epoch: 1_000 + self.now.duration_since(self.t0).as_secs() as i64,
                may_spawn: self.may_spawn,
            };
            let t = transition(&self.life, input, &self.config, ctx);
            self.life = t.next;
            t.effects
        }

        fn in_state(mut self, state: ProcessState) -> Rig {
            match state {
                S::Stopped => {}
                S::Starting => {
                    self.feed(Input::Start);
                    self.feed(Input::Spawned { pid: 42 });
                }
                S::Running => {
                    self = self.in_state(S::Starting);
                    self.at(1.0).feed(Input::Deadline);
                }
                S::Backoff => {
                    self = self.in_state(S::Starting);
                    self.at(0.1).feed(Input::Exited {
                        end: ProcessEnd::Exited(1),
                    });
                }
                S::Stopping => {
                    self = self.in_state(S::Running);
                    self.feed(Input::Stop);
                }
                S::Exited => {
                    self.config.autorestart = AutoRestart::Never;
                    self = self.in_state(S::Running);
                    self.at(5.0).feed(Input::Exited {
                        end: ProcessEnd::Exited(0),
                    });
                }
                S::Fatal => {
                    self.config.startretries = 0;
                    self = self.in_state(S::Starting);
                    self.at(0.1).feed(Input::Exited {
                        end: ProcessEnd::Exited(1),
                    });
                }
                S::Unknown => {
                    self = self.in_state(S::Running);
                    self.feed(Input::SignalFailed {
                        error: "boom".into(),
                    });
                }
            }
            assert_eq!(self.life.state, state);
            self
        }
    }

    const ALL: [ProcessState; 8] = [
        S::Stopped,
        S::Starting,
        S::Running,
        S::Backoff,
        S::Stopping,
        S::Exited,
        S::Fatal,
        S::Unknown,
    ];

    fn inputs() -> Vec<Input> {
        vec![
            Input::Start,
            Input::Spawned { pid: 7 },
            Input::SpawnFailed {
                error: "can't find command 'x'".into(),
            },
            Input::Exited {
                end: ProcessEnd::Exited(0),
            },
            Input::Stop,
            Input::GiveUp,
            Input::Deadline,
            Input::SignalFailed { error: "e".into() },
        ]
    }

    fn changes(effects: &[Effect]) -> Vec<(ProcessState, ProcessState)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Changed { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
            .collect()
    }

    fn logs(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Log(level, text) if *level >= LogLevel::Info => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// The total table: the state every (state, input) pair leads to, with the clock at the
    /// moment the state was reached (so no deadline has passed yet).
    #[test]
    fn every_state_and_input() {
        #[rustfmt::skip]
        let table: [(ProcessState, [ProcessState; 8]); 8] = [
            // Start, Spawned, SpawnFailed, Exited, Stop, GiveUp, Deadline, SignalFailed
            (S::Stopped, [S::Starting, S::Stopped, S::Stopped, S::Stopped, S::Stopped, S::Stopped, S::Stopped, S::Unknown]),
            (S::Starting, [S::Starting, S::Starting, S::Starting, S::Backoff, S::Stopping, S::Starting, S::Starting, S::Unknown]),
            (S::Running, [S::Running, S::Running, S::Running, S::Starting, S::Stopping, S::Running, S::Running, S::Unknown]),
            (S::Backoff, [S::Starting, S::Backoff, S::Backoff, S::Backoff, S::Stopped, S::Fatal, S::Backoff, S::Unknown]),
            (S::Stopping, [S::Stopping, S::Stopping, S::Stopping, S::Stopped, S::Stopping, S::Stopping, S::Stopping, S::Unknown]),
            (S::Exited, [S::Starting, S::Exited, S::Exited, S::Exited, S::Exited, S::Exited, S::Exited, S::Unknown]),
            (S::Fatal, [S::Starting, S::Fatal, S::Fatal, S::Fatal, S::Fatal, S::Fatal, S::Fatal, S::Unknown]),
            (S::Unknown, [S::Unknown, S::Unknown, S::Unknown, S::Starting, S::Unknown, S::Unknown, S::Unknown, S::Unknown]),
        ];
        for (from, expected) in table {
            for (input, want) in inputs().into_iter().zip(expected) {
                let mut rig = Rig::new().in_state(from);
                // RUNNING exits restart (exit 0 is expected, but a Start chain needs "Always").
                rig.config.autorestart = AutoRestart::Always;
                rig.feed(input.clone());
                assert_eq!(rig.life.state, want, "{from} + {input:?}");
            }
        }
        assert_eq!(ALL.len(), 8);
    }

    #[test]
    fn spawn_then_running_after_startsecs() {
        let mut rig = Rig::new();
        let fx = rig.feed(Input::Start);
        assert_eq!(changes(&fx), [(S::Stopped, S::Starting)]);
        assert!(fx.contains(&Effect::Spawn));
        let fx = rig.feed(Input::Spawned { pid: 42 });
        assert_eq!(logs(&fx), ["spawned: 'web' with pid 42"]);
        assert!(fx.contains(&Effect::ArmTimer(rig.t0 + Duration::from_secs(1))));
        rig.at(0.5).feed(Input::Deadline);
        assert_eq!(rig.life.state, S::Starting);
        let fx = rig.at(1.0).feed(Input::Deadline);
        assert_eq!(rig.life.state, S::Running);
        assert_eq!(
            logs(&fx),
            ["success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"]
        );
    }

    #[test]
    fn startsecs_zero_is_running_at_the_next_deadline() {
        let mut cfg = config();
        cfg.startsecs = Duration::ZERO;
        let mut rig = Rig::with(cfg);
        rig.feed(Input::Start);
        let fx = rig.feed(Input::Spawned { pid: 42 });
        assert!(changes(&fx).is_empty());
        assert!(fx.contains(&Effect::ArmTimer(rig.t0)));
        let fx = rig.feed(Input::Deadline);
        assert_eq!(changes(&fx), [(S::Starting, S::Running)]);
        assert!(fx.contains(&Effect::CancelTimer));
    }

    #[test]
    fn an_exit_before_the_startsecs_deadline_was_handled_logs_success_first() {
        let mut cfg = config();
        cfg.startsecs = Duration::ZERO;
        let mut rig = Rig::with(cfg);
        rig.feed(Input::Start);
        rig.feed(Input::Spawned { pid: 42 });
        let fx = rig.at(0.01).feed(Input::Exited {
            end: ProcessEnd::Exited(0),
        });
        assert_eq!(
            changes(&fx),
            [(S::Starting, S::Running), (S::Running, S::Exited)]
        );
        assert_eq!(
            logs(&fx),
            [
                "success: web entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)",
                "exited: web (exit status 0; expected)"
            ]
        );
    }

    #[test]
    fn linear_backoff_then_fatal_after_startretries() {
        let mut rig = Rig::new();
        let mut t = 0.0;
        let mut delays = Vec::new();
        let mut starts = 0;
        rig.feed(Input::Start);
        loop {
            starts += 1;
            rig.at(t).feed(Input::Spawned { pid: 42 });
            let fx = rig.at(t + 0.1).feed(Input::Exited {
                end: ProcessEnd::Exited(1),
            });
            assert_eq!(
                rig.life.exitstatus, None,
                "too-quick exits are not recorded"
            );
            if rig.life.state == S::Fatal {
                assert_eq!(
                    logs(&fx),
                    [
                        "exited: web (exit status 1; not expected)",
                        "gave up: web entered FATAL state, too many start retries too quickly"
                    ]
                );
                break;
            }
            let at = match fx.iter().find(|e| matches!(e, Effect::ArmTimer(_))) {
                Some(Effect::ArmTimer(at)) => *at,
                _ => panic!("no backoff timer"),
            };
            let delay = at.duration_since(rig.t0).as_secs_f64() - (t + 0.1);
            delays.push(delay.round() as u64);
            t = at.duration_since(rig.t0).as_secs_f64();
            rig.at(t - 0.01).feed(Input::Deadline);
            assert_eq!(rig.life.state, S::Backoff, "not before the delay");
            rig.at(t).feed(Input::Deadline);
            assert_eq!(rig.life.state, S::Starting);
        }
        assert_eq!(delays, [1, 2, 3]);
        assert_eq!(starts, 4);
        assert_eq!(
            rig.life.spawnerr.as_deref(),
            Some("Exited too quickly (process log may have details)")
        );
        assert_eq!(rig.life.backoff, 0);
    }

    /// The facts PROCESS_STATE events show: BACKOFF's `tries` is the new count, STARTING's the
    /// count so far, EXITED's and STOPPED's `pid` the child that ended (Python clears it after).
    #[test]
    fn state_changes_carry_the_pid_and_tries_of_that_moment() {
        let facts = |fx: &[Effect]| -> Vec<(S, u32, u32)> {
            fx.iter()
                .filter_map(|e| match e {
                    Effect::Changed { to, pid, tries, .. } => Some((*to, *pid, *tries)),
                    _ => None,
                })
                .collect()
        };
        let mut rig = Rig::new();
        assert_eq!(facts(&rig.feed(Input::Start)), [(S::Starting, 0, 0)]);
        rig.at(0.0).feed(Input::Spawned { pid: 42 });
        let fx = rig.at(0.1).feed(Input::Exited {
            end: ProcessEnd::Exited(1),
        });
        assert_eq!(facts(&fx), [(S::Backoff, 0, 1)]);
        assert_eq!(
            facts(&rig.at(1.1).feed(Input::Deadline)),
            [(S::Starting, 0, 1)]
        );
        rig.at(1.1).feed(Input::Spawned { pid: 43 });
        rig.at(2.2).feed(Input::Deadline);
        let fx = rig.at(3.0).feed(Input::Exited {
            end: ProcessEnd::Exited(0),
        });
        assert_eq!(facts(&fx)[0], (S::Exited, 43, 0));
        assert_eq!(rig.life.pid, 0);

        let mut rig = Rig::new().in_state(S::Running);
        rig.feed(Input::Stop);
        let fx = rig.at(2.0).feed(Input::Exited {
            end: ProcessEnd::Signaled {
                signal: 15,
                core_dumped: false,
            },
        });
        assert_eq!(facts(&fx), [(S::Stopped, 42, 0)]);
    }

    #[test]
    fn spawn_error_goes_through_backoff() {
        let mut rig = Rig::new();
        rig.feed(Input::Start);
        let fx = rig.feed(Input::SpawnFailed {
            error: "can't find command 'nope'".into(),
        });
        assert_eq!(logs(&fx), ["spawnerr: can't find command 'nope'"]);
        assert_eq!(changes(&fx), [(S::Starting, S::Backoff)]);
        assert_eq!(rig.life.backoff, 1);
    }

    #[test]
    fn backoff_does_not_retry_while_shutting_down() {
        let mut rig = Rig::new().in_state(S::Backoff);
        rig.may_spawn = false;
        rig.at(5.0).feed(Input::Deadline);
        assert_eq!(rig.life.state, S::Backoff);
        let fx = rig.feed(Input::GiveUp);
        assert_eq!(changes(&fx), [(S::Backoff, S::Fatal)]);
        assert!(logs(&fx).is_empty());
    }

    #[test]
    fn unexpected_exit_from_running_restarts_at_once() {
        let mut rig = Rig::new().in_state(S::Running);
        let fx = rig.at(10.0).feed(Input::Exited {
            end: ProcessEnd::Exited(3),
        });
        assert_eq!(
            changes(&fx),
            [(S::Running, S::Exited), (S::Exited, S::Starting)]
        );
        // The EXITED event shows the pid of the process that exited.
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Changed {
                from: S::Running,
                to: S::Exited,
                expected: false,
                pid,
                ..
            } if *pid != 0
        )));
        assert_eq!(logs(&fx), ["exited: web (exit status 3; not expected)"]);
        assert_eq!(rig.life.backoff, 0);
        assert!(fx.contains(&Effect::Spawn));
    }

    #[test]
    fn expected_exit_with_unexpected_policy_stays_exited() {
        let mut rig = Rig::new().in_state(S::Running);
        let fx = rig.at(10.0).feed(Input::Exited {
            end: ProcessEnd::Exited(0),
        });
        assert_eq!(rig.life.state, S::Exited);
        assert_eq!(rig.life.exitstatus, Some(0));
        assert_eq!(logs(&fx), ["exited: web (exit status 0; expected)"]);
    }

    #[test]
    fn autorestart_rules() {
        for (policy, code, restarts) in [
            (AutoRestart::Never, 1, false),
            (AutoRestart::Always, 0, true),
            (AutoRestart::Unexpected, 0, false),
            (AutoRestart::Unexpected, 2, true),
        ] {
            let mut rig = Rig::new().in_state(S::Running);
            rig.config.autorestart = policy;
            rig.at(9.0).feed(Input::Exited {
                end: ProcessEnd::Exited(code),
            });
            assert_eq!(rig.life.state == S::Starting, restarts, "{policy:?} {code}");
        }
    }

    #[test]
    fn a_scheduled_job_is_not_autorestarted() {
        let when = crate::schedule::Schedule::parse("* * * * *", crate::schedule::Zone::local())
            .expect("valid");
        for code in [0, 1] {
            let mut rig = Rig::new();
            rig.config.autorestart = AutoRestart::Always;
            rig.config.schedule = Some(crate::config::ScheduleConfig {
                when: when.clone(),
                action: crate::config::ScheduleAction::Run(crate::config::Overlap::Skip),
            });
            let mut rig = rig.in_state(S::Running);
            rig.at(9.0).feed(Input::Exited {
                end: ProcessEnd::Exited(code),
            });
            assert_eq!(rig.life.state, S::Exited, "exit status {code}");
        }
    }

    #[test]
    fn no_restart_while_shutting_down() {
        let mut rig = Rig::new().in_state(S::Running);
        rig.may_spawn = false;
        rig.at(9.0).feed(Input::Exited {
            end: ProcessEnd::Exited(1),
        });
        assert_eq!(rig.life.state, S::Exited);
    }

    #[test]
    fn signal_death_is_never_expected() {
        let mut rig = Rig::new().in_state(S::Running);
        rig.config.exitcodes = vec![0, -1];
        rig.config.autorestart = AutoRestart::Never;
        let end = ProcessEnd::Signaled {
            signal: libc::SIGSEGV,
            core_dumped: false,
        };
        let fx = rig.at(9.0).feed(Input::Exited { end });
        assert_eq!(rig.life.exitstatus, Some(-1));
        assert_eq!(logs(&fx), ["exited: web (terminated by SIGSEGV; expected)"]);
        rig.config.exitcodes = vec![0];
        let mut rig2 = Rig::new().in_state(S::Running);
        rig2.config.autorestart = AutoRestart::Never;
        let fx = rig2.at(9.0).feed(Input::Exited { end });
        assert_eq!(rig2.life.spawnerr.as_deref(), Some("Bad exit code -1"));
        assert_eq!(
            logs(&fx),
            ["exited: web (terminated by SIGSEGV; not expected)"]
        );
    }

    #[test]
    fn exit_after_startsecs_before_noticed_enters_running_first() {
        let mut rig = Rig::new().in_state(S::Starting);
        rig.config.autorestart = AutoRestart::Never;
        let fx = rig.at(1.5).feed(Input::Exited {
            end: ProcessEnd::Exited(0),
        });
        assert_eq!(
            changes(&fx),
            [(S::Starting, S::Running), (S::Running, S::Exited)]
        );
        assert_eq!(rig.life.exitstatus, Some(0));
    }

    #[test]
    fn stop_sends_stopsignal_then_sigkill_after_stopwaitsecs() {
        let mut rig = Rig::new().in_state(S::Running);
        rig.config.stopasgroup = true;
        rig.config.killasgroup = true;
        let fx = rig.at(2.0).feed(Input::Stop);
        assert!(fx.contains(&Effect::Kill {
            signal: Signal::TERM,
            to_group: true
        }));
        assert!(fx.contains(&Effect::ArmTimer(rig.t0 + Duration::from_secs(12))));
        rig.at(11.0).feed(Input::Deadline);
        let fx = rig.at(12.0).feed(Input::Deadline);
        assert_eq!(logs(&fx), ["killing 'web' (42) with SIGKILL"]);
        assert!(fx.contains(&Effect::Kill {
            signal: Signal::KILL,
            to_group: true
        }));
        let fx = rig.feed(Input::Exited {
            end: ProcessEnd::Signaled {
                signal: libc::SIGKILL,
                core_dumped: false,
            },
        });
        assert_eq!(changes(&fx), [(S::Stopping, S::Stopped)]);
        assert_eq!(
            fx.iter().find(|e| matches!(e, Effect::Log(..))),
            Some(&Effect::Log(
                LogLevel::Warn,
                "stopped: web (terminated by SIGKILL)".into()
            ))
        );
    }

    #[test]
    fn killasgroup_applies_only_to_the_sigkill() {
        let mut rig = Rig::new().in_state(S::Running);
        rig.config.killasgroup = true;
        let fx = rig.feed(Input::Stop);
        assert!(fx.contains(&Effect::Kill {
            signal: Signal::TERM,
            to_group: false
        }));
        let fx = rig.at(20.0).feed(Input::Deadline);
        assert!(fx.contains(&Effect::Kill {
            signal: Signal::KILL,
            to_group: true
        }));
    }

    #[test]
    fn stop_with_expected_exit_logs_info() {
        let mut rig = Rig::new().in_state(S::Stopping);
        let fx = rig.feed(Input::Exited {
            end: ProcessEnd::Exited(0),
        });
        assert_eq!(
            fx.iter().find(|e| matches!(e, Effect::Log(..))),
            Some(&Effect::Log(
                LogLevel::Info,
                "stopped: web (exit status 0)".into()
            ))
        );
        assert_eq!(rig.life.exitstatus, Some(0));
    }

    #[test]
    fn backoff_stop_is_stopped_without_signal() {
        let mut rig = Rig::new().in_state(S::Backoff);
        let fx = rig.feed(Input::Stop);
        assert_eq!(changes(&fx), [(S::Backoff, S::Stopped)]);
        assert!(!fx.iter().any(|e| matches!(e, Effect::Kill { .. })));
        assert_eq!(rig.life.backoff, 1, "Python keeps the count");
    }

    #[test]
    fn start_resets_spawnerr_and_exitstatus() {
        let mut rig = Rig::new().in_state(S::Exited);
        rig.life.spawnerr = Some("Bad exit code 3".into());
        rig.feed(Input::Start);
        assert_eq!(rig.life.spawnerr, None);
        assert_eq!(rig.life.exitstatus, None);
        assert_eq!(rig.life.start_epoch, 1005);
    }

    #[test]
    fn signal_failure_is_unknown() {
        let mut rig = Rig::new().in_state(S::Stopping);
        let fx = rig.feed(Input::SignalFailed {
            error: "unknown problem killing web (42):EPERM".into(),
        });
        assert_eq!(rig.life.state, S::Unknown);
        assert!(!rig.life.killing);
        assert!(fx.contains(&Effect::CancelTimer));
    }

    #[test]
    fn start_while_stopping_only_warns() {
        let mut rig = Rig::new().in_state(S::Stopping);
        let fx = rig.feed(Input::Start);
        assert_eq!(
            fx,
            [Effect::Log(
                LogLevel::Warn,
                "process 'web' already running".into()
            )]
        );
        assert_eq!(rig.life.state, S::Stopping);
    }

    #[test]
    fn a_program_that_exits_at_once_restarts_at_most_every_100_ms() {
        let mut rig = Rig::new();
        rig.config.startsecs = Duration::ZERO;
        rig.config.autorestart = AutoRestart::Always;
        rig.feed(Input::Start);
        rig.feed(Input::Spawned { pid: 42 });
        rig.at(0.2).feed(Input::Deadline);
        assert_eq!(rig.life.state, S::Running);
        // Up for 200 ms: restarted at once.
        rig.at(0.2).feed(Input::Exited {
            end: ProcessEnd::Exited(1),
        });
        assert_eq!(rig.life.state, S::Starting);
        rig.at(0.2).feed(Input::Spawned { pid: 43 });
        rig.at(0.21).feed(Input::Deadline);
        // Up for 10 ms: restarted when 100 ms have passed since its spawn.
        let fx = rig.at(0.21).feed(Input::Exited {
            end: ProcessEnd::Exited(1),
        });
        assert_eq!(rig.life.state, S::Exited);
        let due = rig.t0 + Duration::from_millis(300);
        assert!(fx.contains(&Effect::ArmTimer(due)), "{fx:?}");
        rig.at(0.25).feed(Input::Deadline);
        assert_eq!(rig.life.state, S::Exited);
        rig.at(0.3).feed(Input::Deadline);
        assert_eq!(rig.life.state, S::Starting);
    }
}
