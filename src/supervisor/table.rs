//! The process table: active groups and their processes, namespec lookup (`g:p`, `g:*`, `p`),
//! and the priority orders Python iterates in. Lookups by name or pid are O(1).

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::Instant;

use crate::cgroup::Cgroup;
use crate::config::{GroupConfig, ProcessConfig};
use crate::events::Listener;
use crate::fcgi::FcgiListener;
use crate::logs::ProcessLogs;
use crate::process::{Lifecycle, ProcessEnd};

use super::info::SupervisorError;
use super::stdin::StdinWriter;

/// A process's identity in the table; never reused while the actor lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcId(pub u64);

/// One supervised process: its configuration and everything the actor knows about it.
pub struct Process {
    /// Shared with the group's config.
    pub config: Arc<ProcessConfig>,
    /// The group's name (for `SUPERVISOR_GROUP_NAME` and results).
    pub group: String,
    pub life: Lifecycle,
    /// Its log files and pipe readers; `None` when they could not be opened (retried at spawn).
    pub logs: Option<ProcessLogs>,
    /// The parent's end of the child's stdin, while a child is alive.
    pub stdin: Option<StdinWriter>,
    /// Pending requests (batch ids) waiting for this process to settle.
    pub watchers: Vec<u64>,
    /// Last `waiting for <name> to stop` line.
    pub laststopreport: Option<Instant>,
    /// An event listener's protocol state (`Some` for the processes of an `[eventlistener:x]`).
    pub listener: Option<Listener>,
    /// Pipes of the current child whose readers feed the actor (events) and have not reached
    /// EOF yet: its exit waits for them ([`Process::parked_exit`]), as Python drains a child's
    /// pipes before it handles the exit.
    pub open_taps: u8,
    /// An exit reaped while `open_taps` > 0.
    pub parked_exit: Option<ProcessEnd>,
    /// The current child's cgroup (`killmode=mixed` where cgroup v2 is writable).
    pub cgroup: Option<Cgroup>,
    /// Spawns so far: each gets its own cgroup, so an old child's leftovers never share one
    /// with the next child.
    pub spawns: u64,
    /// The last child's cgroup, left empty by it and kept for the next spawn: a restart then
    /// costs no cgroup mkdir and rmdir (the kernel's most expensive part of a restart).
    pub spare_cgroup: Option<Cgroup>,
}

impl Process {
    /// `make_namespec`: `name`, or `group:name` when they differ.
    pub fn namespec(&self) -> String {
        super::info::namespec(&self.group, &self.config.name)
    }
}

/// An active group, in the order it was added.
pub struct Group {
    pub config: GroupConfig,
    /// Member processes in config order (see `GroupConfig::processes`).
    pub members: Vec<ProcId>,
    by_name: HashMap<String, ProcId>,
    /// Add order, the tie-breaker of equal priorities.
    seq: u64,
    /// An `[fcgi-program:x]`'s socket: open as long as the group is active.
    fcgi: Option<FcgiListener>,
}

/// What a namespec names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Process(ProcId),
    /// `g:*` or `g:`: the whole group.
    Group(String),
}

#[derive(Default)]
pub struct Table {
    groups: HashMap<String, Group>,
    processes: HashMap<ProcId, Process>,
    by_pid: HashMap<u32, ProcId>,
    next_id: u64,
    next_seq: u64,
    /// [`Table::all_lexical`]'s order, computed on first use after groups change.
    lexical: std::sync::OnceLock<Vec<ProcId>>,
}

impl Table {
    pub fn has_group(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Adds a group, building each process with `make`. Returns the new members.
    pub fn add_group(
        &mut self,
        config: GroupConfig,
        mut make: impl FnMut(&Arc<ProcessConfig>, &str) -> Process,
    ) -> Vec<ProcId> {
        self.lexical.take();
        let mut members = Vec::new();
        let mut by_name = HashMap::new();
        for pconfig in &config.processes {
            let id = ProcId(self.next_id);
            self.next_id += 1;
            self.processes.insert(id, make(pconfig, &config.name));
            members.push(id);
            by_name.insert(pconfig.name.clone(), id);
        }
        self.next_seq += 1;
        let group = Group {
            config,
            members: members.clone(),
            by_name,
            seq: self.next_seq,
            fcgi: None,
        };
        self.groups.insert(group.config.name.clone(), group);
        members
    }

    /// Removes a group and its processes, returning them (their logs close when dropped).
    pub fn remove_group(&mut self, name: &str) -> Vec<Process> {
        let Some(group) = self.groups.remove(name) else {
            return Vec::new();
        };
        self.lexical.take();
        group
            .members
            .iter()
            .filter_map(|id| self.processes.remove(id))
            .collect()
    }

    pub fn get(&self, id: ProcId) -> Option<&Process> {
        self.processes.get(&id)
    }

    pub fn get_mut(&mut self, id: ProcId) -> Option<&mut Process> {
        self.processes.get_mut(&id)
    }

    /// A process, with its group's fcgi socket (borrowed together) for a spawn.
    pub fn with_socket_mut(
        &mut self,
        id: ProcId,
    ) -> Option<(&mut Process, Option<BorrowedFd<'_>>)> {
        let process = self.processes.get_mut(&id)?;
        let socket = self
            .groups
            .get(&process.group)
            .and_then(|g| g.fcgi.as_ref());
        Some((process, socket.map(AsFd::as_fd)))
    }

    /// Gives a group just added its fcgi socket.
    pub fn set_fcgi(&mut self, name: &str, fcgi: Option<FcgiListener>) {
        if let Some(group) = self.groups.get_mut(name) {
            group.fcgi = fcgi;
        }
    }

    /// Takes a group's fcgi socket out (to close it before the group goes).
    pub fn take_fcgi(&mut self, name: &str) -> Option<FcgiListener> {
        self.groups.get_mut(name).and_then(|g| g.fcgi.take())
    }

    pub fn bind_pid(&mut self, pid: u32, id: ProcId) {
        self.by_pid.insert(pid, id);
    }

    /// Whether `pid` is a main process of the table.
    pub fn has_pid(&self, pid: u32) -> bool {
        self.by_pid.contains_key(&pid)
    }

    pub fn take_pid(&mut self, pid: u32) -> Option<ProcId> {
        self.by_pid.remove(&pid)
    }

    /// Python's `split_namespec` + `_getGroupAndProcess`: BAD_NAME (with the full namespec) when
    /// the group or the process does not exist.
    pub fn lookup(&self, namespec: &str) -> Result<Target, SupervisorError> {
        let bad = || SupervisorError::BadName(namespec.to_string());
        let (group_name, process_name) = match namespec.split_once(':') {
            Some((g, "" | "*")) => (g, None),
            Some((g, p)) => (g, Some(p)),
            None => (namespec, Some(namespec)),
        };
        let group = self.groups.get(group_name).ok_or_else(bad)?;
        match process_name {
            None => Ok(Target::Group(group_name.to_string())),
            Some(p) => group
                .by_name
                .get(p)
                .map(|&id| Target::Process(id))
                .ok_or_else(bad),
        }
    }

    /// Groups by ascending priority, ties in add order.
    pub fn groups_by_priority(&self) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self.groups.values().collect();
        groups.sort_by_key(|g| (g.config.priority, g.seq));
        groups
    }

    /// Groups in add order (Python's dict order of `process_groups`).
    pub fn groups_in_add_order(&self) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self.groups.values().collect();
        groups.sort_by_key(|g| g.seq);
        groups
    }

    /// A group's processes by ascending priority (stable over config order).
    pub fn members_by_priority(&self, group: &Group) -> Vec<ProcId> {
        let mut ids = group.members.clone();
        ids.sort_by_key(|id| self.processes.get(id).map_or(0, |p| p.config.priority));
        ids
    }

    /// Every process: groups by priority, then members by priority (`_getAllProcesses`).
    pub fn all_by_priority(&self) -> Vec<ProcId> {
        self.groups_by_priority()
            .into_iter()
            .flat_map(|g| self.members_by_priority(g))
            .collect()
    }

    /// Every process sorted by group name, then process name (`getAllProcessInfo`).
    /// Names never change, so the order is kept until a group is added or removed.
    pub fn all_lexical(&self) -> &[ProcId] {
        self.lexical.get_or_init(|| {
            let mut ids: Vec<(&str, &str, ProcId)> = self
                .processes
                .iter()
                .map(|(&id, p)| (p.group.as_str(), p.config.name.as_str(), id))
                .collect();
            ids.sort();
            ids.into_iter().map(|(_, _, id)| id).collect()
        })
    }

    /// Names of active groups, sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.groups.keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether every member of the group is in a STOPPED state.
    pub fn group_is_stopped(&self, group: &Group) -> bool {
        group
            .members
            .iter()
            .filter_map(|id| self.processes.get(id))
            .all(|p| p.life.state.is_stopped())
    }

    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.processes.values()
    }

    pub fn processes_mut(&mut self) -> impl Iterator<Item = &mut Process> {
        self.processes.values_mut()
    }
}
