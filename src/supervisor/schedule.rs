//! Schedules in the actor (`schedule=`, `restart_schedule=`): each scheduled program has a
//! deadline in the timers at the monotonic estimate of its next occurrence; at the deadline
//! the wall clock decides ([`Clock::due`]) whether the occurrence is reached, so a clock set
//! back or forward neither runs one twice nor runs each one it skipped.
//!
//! An occurrence starts a job (`schedule`) the way `startProcess` does, or restarts a RUNNING
//! program (`restart_schedule`) the way a failed health check does. A job still going at its
//! next occurrence is left alone, run again once it ends, or stopped and run again, as its
//! `schedule_overlap` says.

use std::collections::HashMap;
use std::time::Instant;

use jiff::Timestamp;

use crate::config::{Overlap, ScheduleAction};
use crate::process::{Input, ProcessState};
use crate::schedule::Clock;

use super::actor::{Mood, Supervisor};
use super::info::ScheduleInfo;
use super::table::ProcId;
use super::timers::TimerKey;

/// One scheduled process.
struct Scheduled {
    clock: Clock,
    /// `schedule_overlap=queue`: an occurrence came while a run was going; it starts once
    /// that run ends.
    queued: bool,
    /// The exit status of the last run that exited on its own.
    last_exit: Option<i32>,
}

/// The actor's schedule state.
#[derive(Default)]
pub(super) struct Schedules {
    by_id: HashMap<ProcId, Scheduled>,
}

/// A run is under way (or in doubt): an occurrence now overlaps it.
fn going(state: ProcessState) -> bool {
    !matches!(
        state,
        ProcessState::Stopped | ProcessState::Exited | ProcessState::Fatal
    )
}

impl Supervisor {
    /// A group was added: the first occurrence of each of its scheduled members is armed.
    pub(super) fn schedules_added(&mut self, ids: &[ProcId]) {
        let now = Timestamp::now();
        for &id in ids {
            let Some(s) = self.table.get(id).and_then(|p| p.config.schedule.as_ref()) else {
                continue;
            };
            let scheduled = Scheduled {
                clock: Clock::new(&s.when, now),
                queued: false,
                last_exit: None,
            };
            self.schedules.by_id.insert(id, scheduled);
            self.arm_schedule(id);
        }
    }

    /// A group is being removed: its members' schedules end.
    pub(super) fn schedules_removed(&mut self, ids: &[ProcId]) {
        for &id in ids {
            self.schedules.by_id.remove(&id);
            self.timers.cancel(TimerKey::Schedule(id));
            self.timers.cancel(TimerKey::ScheduleStart(id));
        }
    }

    /// Arms the next wake-up of `id`'s schedule, read from both clocks at once: the deadline
    /// is the monotonic time that the wall clock should then show the occurrence.
    fn arm_schedule(&mut self, id: ProcId) {
        let Some(s) = self.schedules.by_id.get(&id) else {
            return;
        };
        let (wall, mono) = (Timestamp::now(), Instant::now());
        match s.clock.sleep(wall) {
            Some(sleep) => self.timers.arm(TimerKey::Schedule(id), mono + sleep),
            None => {
                if let Some(p) = self.table.get(id) {
                    self.log.info(format!(
                        "{}: its schedule has no occurrence left",
                        p.config.name
                    ));
                }
            }
        }
    }

    /// The schedule deadline of `id`: the occurrence, if the wall clock has reached it, and
    /// the next wake-up.
    pub(super) fn schedule_due(&mut self, id: ProcId) {
        if self.mood != Mood::Running {
            return;
        }
        let Some(config) = self.table.get(id).and_then(|p| p.config.schedule.clone()) else {
            return;
        };
        let Some(s) = self.schedules.by_id.get_mut(&id) else {
            return;
        };
        let due = s.clock.due(&config.when, Timestamp::now());
        self.arm_schedule(id);
        if due.is_some() {
            self.occurrence(id, config.action);
            // The next occurrence moved on, whether or not this one changed a state.
            self.publish_process(id);
        }
    }

    /// What an occurrence does to `id`.
    fn occurrence(&mut self, id: ProcId, action: ScheduleAction) {
        let Some(p) = self.table.get(id) else { return };
        let (name, state) = (p.config.name.clone(), p.life.state);
        match action {
            ScheduleAction::Run(_) if !going(state) => {
                self.log.info(format!("schedule: starting {name}"));
                self.feed(id, Input::Start);
            }
            ScheduleAction::Run(Overlap::Skip) => self.log.info(format!(
                "schedule: {name} is still {} at its next occurrence: skipped \
                 (schedule_overlap=skip)",
                state.name()
            )),
            ScheduleAction::Run(Overlap::Queue) => {
                self.log.info(format!(
                    "schedule: {name} is still {}: it runs again once this run ends \
                     (schedule_overlap=queue)",
                    state.name()
                ));
                if let Some(s) = self.schedules.by_id.get_mut(&id) {
                    s.queued = true;
                }
            }
            ScheduleAction::Run(Overlap::Kill) => {
                self.log.info(format!(
                    "schedule: {name} is still {}: stopping it to run it again \
                     (schedule_overlap=kill)",
                    state.name()
                ));
                self.stop_then_start(id);
            }
            ScheduleAction::Restart if state == ProcessState::Running => {
                self.log
                    .info(format!("restart_schedule: restarting {name}"));
                self.stop_then_start(id);
            }
            ScheduleAction::Restart => self.log.info(format!(
                "restart_schedule: {name} is {}, not RUNNING: nothing to restart",
                state.name()
            )),
        }
    }

    /// Every state change: the exit status of a run is kept, and a queued run starts once
    /// the current one has ended (next turn, once this transition's effects are carried out).
    pub(super) fn schedule_on_state(&mut self, id: ProcId, to: ProcessState) {
        let Some(s) = self.schedules.by_id.get_mut(&id) else {
            return;
        };
        if to == ProcessState::Exited {
            s.last_exit = self.table.get(id).and_then(|p| p.life.exitstatus);
        }
        if !going(to) && s.queued {
            s.queued = false;
            self.timers.arm(TimerKey::ScheduleStart(id), Instant::now());
        }
    }

    /// A queued run's turn.
    pub(super) fn schedule_start(&mut self, id: ProcId) {
        let Some(p) = self.table.get(id) else { return };
        if self.mood == Mood::Running && !going(p.life.state) {
            self.log
                .info(format!("schedule: starting {} (queued)", p.config.name));
            self.feed(id, Input::Start);
        }
    }

    /// A stop asked for by a client: a queued run is called off.
    pub(super) fn schedule_stop_requested(&mut self, id: ProcId) {
        if let Some(s) = self.schedules.by_id.get_mut(&id) {
            s.queued = false;
        }
        self.timers.cancel(TimerKey::ScheduleStart(id));
    }

    /// What `supervisor_rs.getProcessSchedule` says of `id`; `None` without a schedule.
    pub(super) fn schedule_info(&self, id: ProcId) -> Option<ScheduleInfo> {
        let p = self.table.get(id)?;
        let config = p.config.schedule.as_ref()?;
        let s = self.schedules.by_id.get(&id)?;
        Some(ScheduleInfo {
            name: p.config.name.clone(),
            group: p.group.clone(),
            kind: config.key(),
            schedule: config.when.text().to_string(),
            timezone: config.when.zone().name().to_string(),
            overlap: match config.action {
                ScheduleAction::Run(overlap) => overlap.name(),
                ScheduleAction::Restart => "",
            },
            next: s.clock.next().map_or(0, |t| t.as_second()),
            last_start: p.life.start_epoch,
            last_exitstatus: s.last_exit.map_or(-1, i64::from),
            running: going(p.life.state),
        })
    }
}
