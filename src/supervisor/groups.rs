//! Process groups in the actor: adding them (and queueing their autostarts a few per turn),
//! `reloadConfig`'s re-read and diff, `addProcessGroup` and `removeProcessGroup`.

use std::sync::Arc;

use crate::config::GroupKind;
use crate::events::{Event, Listener, Pool};
use crate::process::{Lifecycle, ProcessState};

use super::actor::{Mood, Supervisor};
use super::effects::open_logs;
use super::handle::Change;
use super::info::{ConfigDiff, SupervisorError};
use super::reload;
use super::table::Process;

/// Autostarts spawned per loop turn at most, so requests are served while 1000 programs start.
const SPAWNS_PER_TURN: usize = 32;

/// A turn of autostarts also ends after this long (spawns slow down on a loaded machine), so a
/// request waits for at most about this much of them.
const SPAWN_TURN_TIME: std::time::Duration = std::time::Duration::from_millis(2);

impl Supervisor {
    /// Creates a group's processes (and their log files) and queues its autostarts. A group
    /// whose fcgi socket cannot be made is left out; why is logged at CRIT.
    pub(super) fn add_group(&mut self, config: crate::config::GroupConfig) {
        let _ = self.try_add_group(config);
    }

    /// [`Supervisor::add_group`], returning why a group was left out (`addProcessGroup`).
    fn try_add_group(&mut self, config: crate::config::GroupConfig) -> Result<(), SupervisorError> {
        let fcgi = self.open_fcgi(&config)?;
        self.resolved_groups.insert(config.name.clone());
        let sup = self.config.supervisord.clone();
        let log = self.log.clone();
        let name = config.name.clone();
        let pool = match &config.kind {
            GroupKind::EventListener {
                events,
                buffer_size,
                ..
            } => Some(Pool::new(&name, events, *buffer_size)),
            _ => None,
        };
        let listens = pool.is_some();
        let declares = config.processes.iter().any(|p| !p.depends_on.is_empty());
        let members = self.table.add_group(config, |pconfig, group| Process {
            config: Arc::clone(pconfig),
            group: group.to_string(),
            life: Lifecycle::default(),
            logs: open_logs(pconfig, &sup, &log, listens).ok(),
            stdin: None,
            watchers: Vec::new(),
            laststopreport: None,
            listener: listens.then(Listener::default),
            open_taps: 0,
            parked_exit: None,
            cgroup: None,
            spawns: 0,
            spare_cgroup: None,
        });
        self.table.set_fcgi(&name, fcgi);
        self.index_dependents(declares);
        // The pool subscribes before its own group's PROCESS_GROUP_ADDED, as in Python.
        if let Some(pool) = pool {
            self.add_pool(pool);
        }
        self.notify(Event::group(true, &name));
        self.status.publish(Change::Groups);
        // Python's `ProcessGroup.transition` walks its processes dict in config order (a
        // `[group:x]` keeps its `programs=` order), not by priority.
        self.schedules_added(&members);
        let by_hand = self.stopped_by_hand.as_ref();
        // Programs stopped by hand (`remember_stopped`) wait for a start by hand; a job on a
        // `schedule` waits for its occurrences.
        let ids = members.into_iter().filter(|id| {
            self.table.get(*id).is_some_and(|p| {
                p.config.autostart
                    && !p.config.runs_on_schedule()
                    && !by_hand.is_some_and(|s| s.contains(&p.namespec()))
            })
        });
        self.pending_starts.extend(ids);
        Ok(())
    }

    /// Spawns the next few queued autostarts (STOPPED and never started).
    pub(super) fn autostart_some(&mut self) {
        let started = std::time::Instant::now();
        for _ in 0..SPAWNS_PER_TURN {
            if started.elapsed() >= SPAWN_TURN_TIME {
                return;
            }
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
                self.start_gated(id);
            }
        }
    }

    /// `reloadConfig`: re-reads the file and diffs it against the active groups.
    pub(super) fn reload_config(&mut self) -> Result<ConfigDiff, SupervisorError> {
        match (self.reread)() {
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
        }
    }

    /// `addProcessGroup`: a group of the last-read config that is not active yet.
    pub(super) fn add_process_group(&mut self, name: String) -> Result<(), SupervisorError> {
        match self.config.groups.iter().find(|g| g.name == name) {
            None => Err(SupervisorError::BadName(name)),
            Some(_) if self.table.has_group(&name) => Err(SupervisorError::AlreadyAdded(name)),
            Some(group) => {
                let group = group.clone();
                self.try_add_group(group)
            }
        }
    }

    /// `removeProcessGroup`: only a fully stopped group.
    pub(super) fn remove_process_group(&mut self, name: String) -> Result<(), SupervisorError> {
        match self.table.group(&name) {
            None => Err(SupervisorError::BadName(name)),
            Some(group) if !self.table.group_is_stopped(group) => {
                Err(SupervisorError::StillRunning(name))
            }
            Some(group) => {
                let members = group.members.clone();
                self.schedules_removed(&members);
                // A pool unsubscribes first: it never sees its own PROCESS_GROUP_REMOVED.
                self.remove_pool(&name);
                self.close_fcgi(&name);
                let removed = self.table.remove_group(&name);
                self.index_dependents(false);
                for cgroup in removed.iter().filter_map(|p| p.spare_cgroup.as_ref()) {
                    cgroup.remove_if_empty();
                }
                if let Some(s) = &mut self.stopped_by_hand {
                    let members: Vec<String> = removed.iter().map(|p| p.namespec()).collect();
                    if s.forget_group(&name, &members) {
                        let _ = s.save();
                    }
                }
                self.notify(Event::group(false, &name));
                self.status.publish(Change::Groups);
                Ok(())
            }
        }
    }
}
