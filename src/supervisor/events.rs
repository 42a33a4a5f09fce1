//! Events in the actor: notifying the pools, dispatching to listeners, reading what listeners
//! and tapped pipes say, and the TICK_* timer. The bookkeeping (buffers, serials, the
//! protocol) is pure, in `crate::events`; this file does the I/O around it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::events::types::TICK_MASK;
use crate::events::{tick::Ticks, Action, Event, ListenerState, Pool, StateFacts};
use crate::logs::{TapMessage, Tapped};
use crate::process::{Input, ProcessEnd, ProcessState};

use super::actor::Supervisor;
use super::info::Channel;
use super::table::ProcId;
use super::timers::TimerKey;

/// How long a reaped exit waits for the child's tapped pipes to reach EOF: a grandchild that
/// keeps a pipe open must not hold the exit up for long.
const EXIT_DRAIN: Duration = Duration::from_millis(100);

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Supervisor {
    /// `events.notify`: the pools subscribed to the event buffer it, then dispatch.
    pub(super) fn notify(&mut self, event: Event) {
        if !self.events.wants(event.kind.bit()) {
            return;
        }
        let mut log = Vec::new();
        let takers = self.events.notify(event, &mut log);
        for (level, line) in log {
            self.log.log(level, line);
        }
        for pool in takers {
            self.dispatch(&pool);
        }
    }

    /// PROCESS_STATE_* for a state change of process `id`.
    pub(super) fn state_event(
        &mut self,
        id: ProcId,
        from: ProcessState,
        to: ProcessState,
        expected: bool,
        pid: u32,
        tries: u32,
    ) {
        let Some(p) = self.table.get(id) else { return };
        if self
            .events
            .wants(crate::events::EventType::ProcessState(to).bit())
        {
            let event = Event::process_state(StateFacts {
                process: &p.config.name,
                group: &p.group,
                from,
                to,
                expected,
                pid,
                tries,
            });
            self.notify(event);
        }
        // A listener that reaches RUNNING may already have said READY.
        if to == ProcessState::Running {
            if let Some(p) = self.table.get(id).filter(|p| p.listener.is_some()) {
                let group = p.group.clone();
                self.dispatch(&group);
            }
        }
    }

    pub(super) fn add_pool(&mut self, pool: Pool) {
        let had_ticks = self.events.wants(TICK_MASK);
        self.events.add(pool);
        if !had_ticks && self.events.wants(TICK_MASK) {
            // Python counts ticks from startup whether anyone listens or not; counting from
            // now is the same, as the periods already entered sent nothing to anyone.
            let now = epoch_now();
            self.ticks = Ticks::new(now);
            self.arm_tick(now);
        }
    }

    pub(super) fn remove_pool(&mut self, name: &str) {
        self.events.remove(name);
        if !self.events.wants(TICK_MASK) {
            self.timers.cancel(TimerKey::Tick);
        }
    }

    fn arm_tick(&mut self, now: f64) {
        // A millisecond past the boundary, so the wall clock is surely in the new period.
        let wait = Duration::from_secs_f64(Ticks::until_next(now) + 0.001);
        self.timers.arm(TimerKey::Tick, Instant::now() + wait);
    }

    /// The tick timer: TICK_5 / TICK_60 / TICK_3600 for the periods just entered.
    pub(super) fn on_tick(&mut self) {
        let now = epoch_now();
        for event in self.ticks.due(now) {
            self.notify(event);
        }
        if self.events.wants(TICK_MASK) {
            self.arm_tick(now);
        }
    }

    /// SUPERVISOR_STATE_CHANGE_RUNNING once the groups are added, _STOPPING once per run when
    /// a shutdown or restart begins.
    pub(super) fn supervisor_state_event(&mut self, running: bool) {
        self.notify(Event::supervisor_state(running));
    }

    /// `EventListenerPool.dispatch`: while a listener of `pool` is RUNNING and READY, send it
    /// the oldest buffered event. A listener whose stdin is gone is skipped (Python's EPIPE).
    pub(super) fn dispatch(&mut self, pool: &str) {
        let server = self.config.supervisord.identifier.clone();
        loop {
            let Some(group) = self.table.group(pool) else {
                return;
            };
            let ready: Vec<ProcId> = group
                .members
                .iter()
                .copied()
                .filter(|&id| {
                    self.table.get(id).is_some_and(|p| {
                        p.life.state == ProcessState::Running
                            && p.listener
                                .as_ref()
                                .is_some_and(|l| l.state == ListenerState::Ready)
                    })
                })
                .collect();
            if ready.is_empty() {
                return;
            }
            let Some(q) = self.events.pool_mut(pool).and_then(Pool::pop) else {
                return;
            };
            let envelope = q.envelope(&server, pool);
            let mut sent = None;
            for id in ready {
                let Some(p) = self.table.get_mut(id) else {
                    continue;
                };
                let written = p
                    .stdin
                    .as_mut()
                    .is_some_and(|s| s.send(envelope.clone()).is_ok());
                let name = p.config.name.clone();
                if written {
                    if let Some(l) = p.listener.as_mut() {
                        l.sent(q.clone());
                    }
                    sent = Some(name);
                    break;
                }
                self.log.debug(format!(
                    "epipe occurred while sending event {} to listener {name}, listener state \
                     unchanged",
                    q.serial
                ));
            }
            match sent {
                Some(name) => self
                    .log
                    .debug(format!("event {} sent to listener {name}", q.serial)),
                None => {
                    let mut log = Vec::new();
                    if let Some(p) = self.events.pool_mut(pool) {
                        p.accept(q, true, &mut log);
                    }
                    for (level, line) in log {
                        self.log.log(level, line);
                    }
                    return;
                }
            }
        }
    }

    /// `handle_rejected`: the event goes back to the head of the listener's pool.
    fn requeue(&mut self, id: ProcId, q: crate::events::Queued) {
        let Some(group) = self.table.get(id).map(|p| p.group.clone()) else {
            return;
        };
        let mut log = Vec::new();
        if let Some(pool) = self.events.pool_mut(&group) {
            pool.accept(q, true, &mut log);
        }
        for (level, line) in log {
            self.log.log(level, line);
        }
    }

    /// A message from a tapped pipe reader.
    pub(super) fn on_tap(&mut self, msg: TapMessage) {
        let id = ProcId(msg.tag);
        let Some(p) = self.table.get_mut(id) else {
            return;
        };
        let stderr = msg.channel == Channel::Stderr;
        match msg.what {
            Tapped::Eof => {
                if p.life.pid == msg.pid && p.open_taps > 0 {
                    p.open_taps -= 1;
                    if p.open_taps == 0 {
                        if let Some(end) = p.parked_exit.take() {
                            self.timers.cancel(TimerKey::ExitDrain(id));
                            self.exited(id, end);
                        }
                    }
                }
            }
            Tapped::Protocol(data) => {
                // Output of an earlier child of this listener is not its protocol any more.
                if p.life.pid != msg.pid {
                    return;
                }
                let name = p.config.name.clone();
                let group = p.group.clone();
                let Some(listener) = p.listener.as_mut() else {
                    return;
                };
                let mut redispatch = false;
                for action in listener.feed(&name, &data) {
                    match action {
                        Action::Log(level, line) => self.log.log(level, line),
                        Action::Ready => redispatch = true,
                        Action::Rejected(q) => {
                            self.requeue(id, q);
                            redispatch = true;
                        }
                    }
                }
                if redispatch {
                    self.dispatch(&group);
                }
            }
            Tapped::Output(data) => {
                let event = Event::process_log(stderr, &p.config.name, &p.group, msg.pid, &data);
                self.notify(event);
            }
            Tapped::Communication(data) => {
                let name = p.config.name.clone();
                let event = Event::process_communication(stderr, &name, &p.group, msg.pid, &data);
                self.notify(event);
                let channel = if stderr { "stderr" } else { "stdout" };
                self.log.debug(format!(
                    "{} {channel} emitted a comm event",
                    crate::py::repr(&name)
                ));
            }
        }
    }

    /// A child of process `id` was reaped. When its tapped pipes are still open, the exit
    /// waits for them (at most [`EXIT_DRAIN`]): Python reads what a child left in its pipes
    /// before it handles the exit, so its last output, or a listener's last `RESULT`, counts.
    pub(super) fn reaped(&mut self, id: ProcId, end: ProcessEnd) {
        match self.table.get_mut(id) {
            Some(p) if p.open_taps > 0 => {
                p.parked_exit = Some(end);
                self.timers
                    .arm(TimerKey::ExitDrain(id), Instant::now() + EXIT_DRAIN);
            }
            Some(_) => self.exited(id, end),
            None => {}
        }
    }

    /// The drain wait is over: the exit is handled with what arrived.
    pub(super) fn drain_expired(&mut self, id: ProcId) {
        if let Some(end) = self.table.get_mut(id).and_then(|p| {
            p.open_taps = 0;
            p.parked_exit.take()
        }) {
            self.exited(id, end);
        }
    }

    /// `Subprocess.finish`: the state machine handles the exit; a listener that died BUSY
    /// gives its event back to the pool (after its own state event, as in Python).
    fn exited(&mut self, id: ProcId, end: ProcessEnd) {
        // Taken first: an autorestart in `feed` gives the process its next child's cgroup
        // (this one, when it is left empty) and a fresh listener state.
        let (cgroup, in_flight) = match self.table.get_mut(id) {
            Some(p) => (
                p.cgroup.take(),
                p.listener.as_mut().and_then(|l| l.event.take()),
            ),
            None => (None, None),
        };
        self.main_exited(id, cgroup);
        self.feed(id, Input::Exited { end });
        if let Some(q) = in_flight {
            let group = self.table.get(id).map(|p| p.group.clone());
            self.requeue(id, q);
            if let Some(group) = group {
                self.dispatch(&group);
            }
        }
    }
}
