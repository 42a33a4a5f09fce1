//! `depends_on` in the actor: a start waits for the processes it depends on (which are
//! started first), and a stop of many (`stop all`, a group, shutdown, reload) stops dependents
//! before what they depend on. States stay Python's: a process waiting for its dependencies is
//! STOPPED (or EXITED, FATAL) until it starts; the waiting and the reason it was given up are
//! in `supervisor_rs.getProcessDependencies`.
//!
//! Re-evaluation happens on the `Dependencies` timer, armed for "now" by any state change or
//! health verdict while something waits, so that starting and stopping never re-enter `feed`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use crate::config::Condition;
use crate::process::{Input, ProcessState};

use super::actor::{Mood, Supervisor};
use super::info::{DependencyInfo, DependsInfo, SupervisorError};
use super::table::{ProcId, Target};
use super::timers::TimerKey;

/// What the actor keeps for `depends_on`.
#[derive(Debug, Default)]
pub(super) struct Deps {
    /// Each process that some other one depends on -> those dependents.
    dependents: HashMap<ProcId, Vec<ProcId>>,
    /// Processes asked to start whose dependencies are not met yet.
    starting: BTreeSet<ProcId>,
    /// Processes to stop once the dependents listed are stopped.
    stopping: BTreeMap<ProcId, Vec<ProcId>>,
    /// Why a process was given up on (a dependency went FATAL); cleared by its next start.
    blocked: HashMap<ProcId, String>,
    /// Some loaded group has a `depends_on`: until one does, adding and removing groups
    /// (1000 at start-up) need not rebuild the index.
    any: bool,
}

/// Where one dependency stands.
enum Standing {
    Met,
    Pending,
    /// It can never be met by itself: the reason.
    Lost(String),
}

/// A member's namespec as Python shows it: `db`, not `db:db`, for a program's own group.
fn shown(spec: &str) -> &str {
    match spec.split_once(':') {
        Some((group, name)) if group == name => name,
        _ => spec,
    }
}

/// How a start asked for went.
pub(super) enum Gate {
    /// Started now (its dependencies were met, or it has none).
    Started,
    /// Waiting for its dependencies, which are on their way up.
    Waiting,
    /// A dependency cannot be brought up: the reason.
    Blocked(String),
}

impl Supervisor {
    /// Rebuilds the dependents index (groups were added or removed; `declares`: the group
    /// added has a `depends_on`).
    pub(super) fn index_dependents(&mut self, declares: bool) {
        self.deps.any |= declares;
        if !self.deps.any {
            return;
        }
        let mut dependents: HashMap<ProcId, Vec<ProcId>> = HashMap::new();
        for &id in self.table.all_lexical() {
            for member in self.dependency_ids(id) {
                dependents.entry(member).or_default().push(id);
            }
        }
        self.deps.dependents = dependents;
        let table = &self.table;
        self.deps.starting.retain(|id| table.get(*id).is_some());
        self.deps.stopping.retain(|id, _| table.get(*id).is_some());
        self.deps.blocked.retain(|id, _| table.get(*id).is_some());
    }

    /// The processes `id` depends on that are loaded.
    fn dependency_ids(&self, id: ProcId) -> Vec<ProcId> {
        let Some(p) = self.table.get(id) else {
            return Vec::new();
        };
        p.config
            .depends_on
            .iter()
            .flat_map(|d| d.members.iter())
            .filter_map(|m| match self.table.lookup(m) {
                Ok(Target::Process(member)) => Some(member),
                _ => None,
            })
            .collect()
    }

    /// Whether `member` meets `condition`, may still, or never will by itself.
    fn standing(&self, spec: &str, condition: Condition) -> Standing {
        let member = shown(spec);
        let Ok(Target::Process(id)) = self.table.lookup(spec) else {
            return Standing::Lost(format!("{member} is not loaded"));
        };
        let Some(p) = self.table.get(id) else {
            return Standing::Lost(format!("{member} is not loaded"));
        };
        let state = p.life.state;
        if state == ProcessState::Fatal {
            return Standing::Lost(format!("{member} is FATAL"));
        }
        let met = match condition {
            Condition::Started => state == ProcessState::Running,
            Condition::Healthy => state == ProcessState::Running && self.passes_health(id),
            Condition::Completed => {
                state == ProcessState::Exited
                    && p.life
                        .exitstatus
                        .is_some_and(|s| p.config.exitcodes.contains(&s))
            }
        };
        if met {
            return Standing::Met;
        }
        let restarts = p.config.autorestart != crate::config::AutoRestart::Never;
        if condition == Condition::Completed && state == ProcessState::Exited && !restarts {
            return Standing::Lost(format!("{member} exited unexpectedly"));
        }
        Standing::Pending
    }

    /// The first unmet dependency of `id` (name and condition), or the reason it is lost.
    fn unmet(&self, id: ProcId) -> Option<Result<String, String>> {
        let p = self.table.get(id)?;
        for dep in &p.config.depends_on {
            for member in &dep.members {
                match self.standing(member, dep.condition) {
                    Standing::Met => {}
                    Standing::Pending => {
                        let name = shown(member);
                        return Some(Ok(format!("{name} ({})", dep.condition.name())));
                    }
                    Standing::Lost(why) => return Some(Err(why)),
                }
            }
        }
        None
    }

    /// Starts `id`, or its dependencies first when they are not met (recursively); `id` then
    /// waits in `starting` until they are.
    pub(super) fn start_gated(&mut self, id: ProcId) -> Gate {
        let mut seen = BTreeSet::new();
        self.start_gated_in(id, &mut seen)
    }

    fn start_gated_in(&mut self, id: ProcId, seen: &mut BTreeSet<ProcId>) -> Gate {
        if !seen.insert(id) {
            return Gate::Waiting;
        }
        self.deps.blocked.remove(&id);
        for member in self.dependency_ids(id) {
            let idle = self.table.get(member).is_some_and(|p| {
                matches!(
                    p.life.state,
                    ProcessState::Stopped | ProcessState::Exited | ProcessState::Fatal
                )
            });
            if idle && !self.deps.starting.contains(&member) && self.unmet_member(id, member) {
                if let Gate::Blocked(why) = self.start_gated_in(member, seen) {
                    return self.give_up(id, why);
                }
            }
        }
        match self.unmet(id) {
            None => {
                self.feed(id, Input::Start);
                Gate::Started
            }
            Some(Err(why)) => self.give_up(id, why),
            Some(Ok(what)) => {
                if self.deps.starting.insert(id) {
                    let name = self.display_name(id);
                    self.log.info(format!("{name} waits for {what} to start"));
                    self.publish_process(id);
                }
                Gate::Waiting
            }
        }
    }

    /// Whether `member` fails one of `id`'s conditions on it (a completed job is not rerun).
    fn unmet_member(&self, id: ProcId, member: ProcId) -> bool {
        let (Some(p), Some(m)) = (self.table.get(id), self.table.get(member)) else {
            return false;
        };
        let spec = format!("{}:{}", m.group, m.config.name);
        p.config
            .depends_on
            .iter()
            .filter(|d| d.members.contains(&spec))
            .any(|d| !matches!(self.standing(&spec, d.condition), Standing::Met))
    }

    fn give_up(&mut self, id: ProcId, why: String) -> Gate {
        if self.deps.starting.remove(&id) {
            self.publish_process(id);
        }
        let name = self.display_name(id);
        self.log
            .warn(format!("not starting {name}: its dependency {why}"));
        self.deps.blocked.insert(id, why.clone());
        self.fail_watchers(id, SupervisorError::SpawnError(name));
        Gate::Blocked(why)
    }

    fn display_name(&self, id: ProcId) -> String {
        self.table
            .get(id)
            .map(|p| p.config.name.clone())
            .unwrap_or_default()
    }

    /// Asks for a look at the waiting starts and stops (after the current event).
    pub(super) fn depends_on_change(&mut self) {
        if !self.deps.starting.is_empty() || !self.deps.stopping.is_empty() {
            self.timers.arm(TimerKey::Dependencies, Instant::now());
        }
    }

    /// The `Dependencies` timer: starts what may start, stops what may stop, gives up on what
    /// never will.
    pub(super) fn dependencies_due(&mut self) {
        if self.mood != Mood::Running {
            self.deps.starting.clear();
        }
        let starting: Vec<ProcId> = self.deps.starting.iter().copied().collect();
        for id in starting {
            match self.unmet(id) {
                None => {
                    self.deps.starting.remove(&id);
                    let idle = self
                        .table
                        .get(id)
                        .is_some_and(|p| !p.life.state.is_running());
                    if idle {
                        self.feed(id, Input::Start);
                    } else {
                        self.publish_process(id);
                    }
                }
                Some(Err(why)) => {
                    self.give_up(id, why);
                }
                Some(Ok(_)) => {}
            }
        }
        let stopping: Vec<(ProcId, Vec<ProcId>)> = self
            .deps
            .stopping
            .iter()
            .map(|(id, d)| (*id, d.clone()))
            .collect();
        for (id, dependents) in stopping {
            let down = dependents.iter().all(|d| {
                !self.deps.stopping.contains_key(d)
                    && self.table.get(*d).is_none_or(|p| p.life.state.is_stopped())
            });
            if down {
                self.deps.stopping.remove(&id);
                self.stop_now(id);
            }
        }
    }

    /// A stop by hand of a process that waits for its dependencies calls the start off.
    /// `true` if there was one.
    pub(super) fn cancel_waiting_start(&mut self, id: ProcId) -> bool {
        if !self.deps.starting.remove(&id) {
            return false;
        }
        self.publish_process(id);
        let name = self.display_name(id);
        self.log
            .info(format!("{name} no longer waits for its dependencies"));
        self.fail_watchers(id, SupervisorError::NotRunning(name));
        true
    }

    /// Whether `id` waits for its dependencies to start.
    pub(super) fn waits_to_start(&self, id: ProcId) -> bool {
        self.deps.starting.contains(&id)
    }

    /// Stops of many at once (`ids` all about to stop): those with dependents among `ids`
    /// still up wait for them; `true` for each process stopped now.
    pub(super) fn order_stops(&mut self, ids: &[ProcId]) -> Vec<bool> {
        let set: BTreeSet<ProcId> = ids.iter().copied().collect();
        ids.iter()
            .map(|id| {
                let waits_for: Vec<ProcId> = self
                    .deps
                    .dependents
                    .get(id)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|d| set.contains(d))
                    .collect();
                if waits_for.is_empty() {
                    true
                } else {
                    self.deps.stopping.insert(*id, waits_for);
                    false
                }
            })
            .collect()
    }

    /// Shutdown and reload: whether `id` must wait for dependents still up; those are
    /// stopped first (wherever they are in the priority order).
    pub(super) fn stop_dependents_first(&mut self, id: ProcId) -> bool {
        let mut seen = BTreeSet::new();
        self.dependents_up(id, &mut seen)
    }

    fn dependents_up(&mut self, id: ProcId, seen: &mut BTreeSet<ProcId>) -> bool {
        let dependents = self.deps.dependents.get(&id).cloned().unwrap_or_default();
        let mut waits = false;
        for d in dependents {
            let Some(state) = self.table.get(d).map(|p| p.life.state) else {
                continue;
            };
            if state.is_stopped() || !seen.insert(d) {
                waits |= !state.is_stopped();
                continue;
            }
            waits = true;
            if !self.dependents_up(d, seen) {
                match state {
                    ProcessState::Running | ProcessState::Starting => self.feed(d, Input::Stop),
                    ProcessState::Backoff => self.feed(d, Input::GiveUp),
                    _ => {}
                }
            }
        }
        waits
    }

    /// What `supervisor_rs.getProcessDependencies` says of `id`.
    pub(super) fn depends_info(&self, id: ProcId) -> Option<DependsInfo> {
        let p = self.table.get(id)?;
        let depends_on = p
            .config
            .depends_on
            .iter()
            .map(|d| DependencyInfo {
                name: d.name.clone(),
                condition: d.condition.name(),
                met: d
                    .members
                    .iter()
                    .all(|m| matches!(self.standing(m, d.condition), Standing::Met)),
            })
            .collect();
        Some(DependsInfo {
            name: p.config.name.clone(),
            group: p.group.clone(),
            depends_on,
            waiting: self.deps.starting.contains(&id),
            blocked: self.deps.blocked.get(&id).cloned().unwrap_or_default(),
        })
    }
}
