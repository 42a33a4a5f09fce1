//! The supervisor actor: one task owns the process table and serves every [`Request`].
//!
//! It `select!`s over child exits (SIGCHLD + `waitpid(-1)`), daemon signals, requests, the next
//! deadline and the queue of autostarts, so every event is handled when it happens (no tick).
//! This file holds the state and the loop; sibling files add `impl Supervisor` blocks by
//! concept: `requests` (the dispatch), `control` (start/stop/signal), `waiters` (replies parked
//! until a state), `effects` (running the state machine), `groups`, `snapshot`, `shutdown`.
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::signal::unix::{signal, Signal as SignalStream, SignalKind};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::events::{tick::Ticks, Bus};
use crate::logs::MainLog;
use crate::logs::{TapMessage, TapSender};
use crate::notify::Notifier;
use crate::process::spawn::SpawnContext;
use crate::process::{Context, Input, ProcessEnd, ProcessState};
use crate::signal::Signal;
use crate::sys::child as sys;

use super::depends::Deps;
use super::handle::{Handle, Status};
use super::health::Probes;
use super::remember::StoppedByHand;
use super::request::Request;
use super::schedule::Schedules;
use super::table::{ProcId, Table};
use super::timers::{TimerKey, Timers};
use super::trees::{Draining, Tracking};
use super::waiters::Batch;

/// Re-reads the configuration file, for `reloadConfig` and before a restart. `Err` is the
/// parse error text.
pub type Reread = Box<dyn Fn() -> Result<Config, String> + Send>;

/// How often systemd's `STATUS=` may change.
const NOTIFY_STATUS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How many requests may queue before senders wait (backpressure on RPC floods).
const REQUEST_QUEUE: usize = 1024;

/// supervisord's mood (`SupervisorStates`): only RUNNING spawns and serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    Running,
    Restarting,
    Shutdown,
}

/// Why the actor stopped: the daemon exits, or starts over with the config read when the
/// restart was asked for (a config that does not read never gets this far), or exits because
/// a `required=true` program (named here) went FATAL.
#[derive(Debug)]
pub enum Outcome {
    Shutdown,
    Restart(Box<Config>),
    RequiredFailed(String),
}

/// The most health probes begun in one turn of the actor: each TCP probe is a connect (about
/// 50 µs on loopback), so a request waits for at most this many.
const PROBES_PER_TURN: usize = 8;

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
    pub(super) config: Arc<Config>,
    pub(super) reread: Reread,
    pub(super) table: Table,
    pub(super) timers: Timers,
    pub(super) mood: Mood,
    pub(super) log: MainLog,
    pub(super) spawn_ctx: SpawnContext,
    pub(super) requests: mpsc::Receiver<Request>,
    /// Whether every [`Handle`] is gone (then only signals can end the actor).
    pub(super) requests_closed: bool,
    /// Requests waiting for processes to settle, by id.
    pub(super) batches: HashMap<u64, Batch>,
    pub(super) next_batch: u64,
    /// Autostarts not yet spawned: groups by priority, members in config order.
    pub(super) pending_starts: VecDeque<ProcId>,
    /// Groups still to stop at shutdown, ascending priority (the last is stopped first).
    pub(super) stop_groups: Option<Vec<String>>,
    pub(super) lastshutdownreport: Option<Instant>,
    /// Groups added from the current `config` (since the last reread): only their AUTO log
    /// names are resolved in it, as Python's `create_autochildlogs` fills in the config object
    /// the group was made from.
    pub(super) resolved_groups: HashSet<String>,
    /// Mood and identity, published for the handles' cheap calls.
    pub(super) status: Arc<Status>,
    /// The config a restart will start over with: read, and found good, when it was asked for.
    pub(super) restart_with: Option<Box<Config>>,
    /// systemd's notification socket, under `Type=notify`.
    pub(super) notify: Option<Notifier>,
    /// `READY=1` has been sent (once the autostarts are launched).
    ready_sent: bool,
    /// A `required=true` program that went FATAL, which ends the daemon with a failure.
    pub(super) required_failed: Option<String>,
    /// `remember_stopped=true`: the programs stopped by hand.
    pub(super) stopped_by_hand: Option<StoppedByHand>,
    /// The event pools and what they subscribe to.
    pub(super) events: Bus,
    /// The TICK_* periods last entered.
    pub(super) ticks: Ticks,
    /// SUPERVISOR_STATE_CHANGE_STOPPING was sent (once per run, as Python's `stopping`).
    stopping_sent: bool,
    /// Readers of tapped pipes (event listeners' stdout, events, capture mode) send here.
    pub(super) tap_tx: TapSender,
    taps: mpsc::UnboundedReceiver<TapMessage>,
    /// How the programs' process trees are found: cgroups, or procfs and the subreaper.
    pub(super) tracking: Tracking,
    /// Trees whose main process exited with others left, until their kill deadline.
    pub(super) draining: Vec<Draining>,
    /// Health checks: who is probed, the probes under way.
    pub(super) probes: Probes,
    /// `depends_on`: who depends on whom, the starts and stops waiting on it.
    pub(super) deps: Deps,
    /// `schedule` and `restart_schedule`: each scheduled process's clock.
    pub(super) schedules: Schedules,
}

impl Supervisor {
    /// Creates the actor for `config` (its groups are added when `run` starts) and its handle.
    pub fn new(config: Config, reread: Reread, log: MainLog) -> (Supervisor, Handle) {
        let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
        let status = Arc::new(Status::new(&config.supervisord.identifier));
        let spawn_ctx = SpawnContext::new(
            config.supervisord.environment.clone(),
            config.default_serverurl(),
        );
        let stopped_by_hand = config
            .supervisord
            .remember_stopped
            .then(|| {
                config
                    .supervisord
                    .pidfile
                    .as_deref()
                    .map(StoppedByHand::load)
            })
            .flatten();
        let (tap_tx, taps) = mpsc::unbounded_channel();
        let tracking = Tracking::open(&config);
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
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
            restart_with: None,
            notify: Notifier::from_env(),
            ready_sent: false,
            required_failed: None,
            stopped_by_hand,
            resolved_groups: HashSet::new(),
            status: Arc::clone(&status),
            events: Bus::default(),
            ticks: Ticks::new(epoch),
            stopping_sent: false,
            tap_tx,
            taps,
            tracking,
            draining: Vec::new(),
            probes: Probes::default(),
            deps: Deps::default(),
            schedules: Schedules::default(),
        };
        (supervisor, Handle::with_status(tx, status))
    }

    /// Supervises until shutdown or restart is requested and every process has stopped.
    pub async fn run(mut self) -> std::io::Result<Outcome> {
        // SIGCHLD is registered before the first spawn, so no exit can go unnoticed.
        let mut chld = signal(SignalKind::child())?;
        let mut signals = Signals::register()?;
        self.kill_leftovers();
        let groups = self.config.groups.clone();
        for group in groups {
            self.add_group(group);
        }
        self.supervisor_state_event(true);
        if let Some(every) = self.notify.as_ref().and_then(Notifier::watchdog) {
            self.timers.arm(TimerKey::Watchdog, Instant::now() + every);
        }
        loop {
            if let Some(outcome) = self.finished() {
                self.kill_all_trees();
                return Ok(outcome);
            }
            if !self.ready_sent && self.pending_starts.is_empty() && self.mood == Mood::Running {
                self.ready_sent = true;
                self.notify_state(Some("READY=1"));
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
                // Before exits: Python reads the pipes before it reaps.
                Some(msg) = self.taps.recv() => self.on_tap(msg),
                _ = chld.recv() => {
                    self.log.debug("received SIGCHLD indicating a child quit");
                    self.reap();
                }
                sig = signals.next() => self.on_signal(sig),
                Some(report) = self.probes.rx.recv() => self.health_report(report),
                req = self.requests.recv(), if !self.requests_closed => match req {
                    Some(req) => self.on_request(req),
                    None => self.requests_closed = true,
                },
                // Before the timers: Python spawns every autostart in one pass and handles
                // their `startsecs` in the next, so the `spawned:` lines come first.
                // Then it lets the other tasks (connections, log readers) run: on the daemon's
                // one thread an always-ready branch would keep them out until every autostart
                // is spawned, and a request that arrived meanwhile is served next turn.
                () = std::future::ready(()), if !self.pending_starts.is_empty() => {
                    self.autostart_some();
                    tokio::task::yield_now().await;
                }
                () = sleep => {
                    // Many probes due at once are run a few per turn: requests and log
                    // readers are served in between.
                    if self.on_timers() {
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
    }

    pub(super) fn now(&self) -> Context {
        Context {
            now: Instant::now(),
            epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            may_spawn: self.mood == Mood::Running,
        }
    }

    /// Reaps every exited child (`waitpid(-1, WNOHANG)` until none is left).
    fn reap(&mut self) {
        while let Some(reaped) = sys::reap_one() {
            let end = ProcessEnd::from_wait_status(reaped.status);
            match self.table.take_pid(reaped.pid) {
                Some(id) => self.reaped(id, end),
                None if self.health_reaped(reaped.pid, end) => {}
                None => self.log.info(format!(
                    "reaped unknown pid {} ({})",
                    reaped.pid,
                    end.describe()
                )),
            }
        }
        self.advance_shutdown();
    }

    /// Handles the deadlines that are due; `true` when some health probes were left for the
    /// next turn (at most [`PROBES_PER_TURN`] are begun in one).
    fn on_timers(&mut self) -> bool {
        let now = Instant::now();
        let mut probes = 0;
        let mut more = false;
        for key in self.timers.expired(now) {
            if let TimerKey::HealthProbe(_) = key {
                if probes == PROBES_PER_TURN {
                    self.timers.arm(key, now);
                    more = true;
                    continue;
                }
                probes += 1;
            }
            match key {
                TimerKey::Process(id) => self.feed(id, Input::Deadline),
                TimerKey::StopReport(id) => self.stop_report(id),
                TimerKey::ShutdownReport => self.advance_shutdown(),
                TimerKey::NotifyStatus => self.notify_state(None),
                TimerKey::Tick => self.on_tick(),
                TimerKey::ExitDrain(id) => self.drain_expired(id),
                TimerKey::TreeDrain => self.drain_trees(),
                TimerKey::HealthProbe(id) => self.health_probe(id),
                TimerKey::HealthTimeout(id) => self.health_timeout(id),
                TimerKey::HealthRestart(id) => self.health_restart(id),
                TimerKey::MemorySample => self.sample_memory(),
                TimerKey::Dependencies => self.dependencies_due(),
                TimerKey::Schedule(id) => self.schedule_due(id),
                TimerKey::ScheduleStart(id) => self.schedule_start(id),
                TimerKey::Watchdog => {
                    if let Some(n) = &self.notify {
                        n.send("WATCHDOG=1");
                        if let Some(every) = n.watchdog() {
                            self.timers.arm(TimerKey::Watchdog, Instant::now() + every);
                        }
                    }
                }
            }
        }
        self.advance_shutdown();
        more
    }

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
                    // The error, if any, is logged there; the old config keeps running.
                    let _ = self.begin_restart();
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

    /// Restarts only into a config that reads: re-reads it first and, when it is broken, logs
    /// why at CRIT and keeps everything running as it is (Python would stop every program and
    /// exit 2). `Err` is the parse error, for a client that asked.
    pub(super) fn begin_restart(&mut self) -> Result<(), String> {
        match (self.reread)() {
            Ok(config) => {
                self.restart_with = Some(Box::new(config));
                self.notify_state(Some("RELOADING=1"));
                self.set_mood(Mood::Restarting);
                Ok(())
            }
            Err(e) => {
                self.log.critical(format!(
                    "restart refused: the configuration cannot be read, still running with the \
                     one read before: {e}"
                ));
                Err(e)
            }
        }
    }

    /// Sends `first` (`READY=1`, `RELOADING=1`, `STOPPING=1`), if any, with the current
    /// `STATUS=` to systemd, under `Type=notify`.
    pub(super) fn notify_state(&self, first: Option<&str>) {
        let Some(n) = &self.notify else { return };
        let mut counts: Vec<(&'static str, usize)> =
            ProcessState::ALL.iter().map(|s| (s.name(), 0)).collect();
        for &id in self.table.all_lexical() {
            if let Some(p) = self.table.get(id) {
                if let Some(slot) = counts
                    .iter_mut()
                    .find(|(name, _)| *name == p.life.state.name())
                {
                    slot.1 += 1;
                }
            }
        }
        let status = format!("STATUS={}", crate::notify::status_line(&counts));
        match first {
            Some(first) => n.send(&format!("{first}\n{status}")),
            None => n.send(&status),
        }
    }

    /// A `required=true` program went FATAL: nothing can serve without it, so the daemon shuts
    /// down (every program stopped as for SIGTERM) and exits 1.
    pub(super) fn required_gone_fatal(&mut self, id: ProcId) {
        let Some(p) = self.table.get(id) else { return };
        if !p.config.required || self.required_failed.is_some() {
            return;
        }
        let name = p.config.name.clone();
        self.log
            .critical(format!("required program {name} went FATAL: shutting down"));
        self.required_failed = Some(name);
        if self.mood != Mood::Shutdown {
            self.set_mood(Mood::Shutdown);
        }
    }

    /// `remember_stopped`: a start or stop by hand of the process `id`.
    pub(super) fn remember(&mut self, id: ProcId, stopped: bool) {
        let Some(s) = &mut self.stopped_by_hand else {
            return;
        };
        if let Some(namespec) = self.table.get(id).map(|p| p.namespec()) {
            if s.set(&namespec, stopped) {
                if let Err(e) = s.save() {
                    self.log.warn(format!(
                        "remember_stopped: cannot save the stopped programs: {e}"
                    ));
                }
            }
        }
    }

    /// A process changed state: systemd's `STATUS=` follows within a second.
    pub(super) fn notify_changed(&mut self) {
        if self.notify.is_some() && !self.timers.is_armed(TimerKey::NotifyStatus) {
            self.timers
                .arm(TimerKey::NotifyStatus, Instant::now() + NOTIFY_STATUS_EVERY);
        }
    }

    pub(super) fn set_mood(&mut self, mood: Mood) {
        if mood == Mood::Shutdown && self.mood != Mood::Shutdown {
            self.notify_state(Some("STOPPING=1"));
        }
        if mood != Mood::Running && !self.stopping_sent {
            self.stopping_sent = true;
            self.supervisor_state_event(false);
        }
        self.mood = mood;
        self.status.set_running(mood == Mood::Running);
        if mood != Mood::Running {
            self.pending_starts.clear();
            self.advance_shutdown();
        }
    }
}
