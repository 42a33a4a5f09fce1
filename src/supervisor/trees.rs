//! Process trees in the actor (`killmode=mixed`, where cgroup v2 is writable): what is left of
//! a program's tree once its main process has exited is killed `stopwaitsecs` later; the
//! leftovers of a previous daemon on the same config are killed before anything is spawned;
//! nothing of any tree outlives the daemon.

use std::time::Instant;

use crate::cgroup::Cgroup;
use crate::proctree::{self, Parents};

use super::actor::Supervisor;
use super::info::TreeInfo;
use super::table::ProcId;
use super::timers::TimerKey;

/// A cgroup whose main process has exited while other processes were still in it.
pub(super) struct Draining {
    pub at: Instant,
    pub name: String,
    pub cgroup: Cgroup,
}

impl Supervisor {
    /// Before the first spawn: kills what a previous daemon (SIGKILLed, OOM-killed, crashed)
    /// left in this config's cgroups, so nothing runs twice.
    pub(super) fn kill_leftovers(&mut self) {
        let Some(tree) = &self.tree else { return };
        for left in tree.kill_leftovers() {
            self.log.warn(format!(
                "killed pid {} ({}) left behind in {} by a previous supervisord",
                left.pid, left.command, left.cgroup
            ));
        }
    }

    /// The main process of `id` was handled as exited: its `cgroup`, when empty, is kept for
    /// the next spawn (removed with the process, or at exit); what is left in it is killed
    /// after the program's `stopwaitsecs`.
    pub(super) fn main_exited(&mut self, id: ProcId, cgroup: Cgroup) {
        let Some(p) = self.table.get_mut(id) else {
            cgroup.kill_and_remove();
            return;
        };
        if !cgroup.is_populated() {
            if p.spare_cgroup.is_none() {
                p.spare_cgroup = Some(cgroup);
            } else {
                cgroup.remove_if_empty();
            }
            return;
        }
        let at = Instant::now() + p.config.stopwaitsecs;
        let name = p.config.name.clone();
        self.draining.push(Draining { at, name, cgroup });
        self.arm_drain();
    }

    fn arm_drain(&mut self) {
        match self.draining.iter().map(|d| d.at).min() {
            Some(at) => self.timers.arm(TimerKey::TreeDrain, at),
            None => self.timers.cancel(TimerKey::TreeDrain),
        }
    }

    /// The drain deadline: kills what is still in the cgroups whose time is up.
    pub(super) fn drain_trees(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<Draining>, Vec<Draining>) = std::mem::take(&mut self.draining)
            .into_iter()
            .partition(|d| d.at <= now);
        self.draining = later;
        for d in due {
            let pids = d.cgroup.pids();
            if !pids.is_empty() {
                let list: Vec<String> = pids.iter().map(u32::to_string).collect();
                self.log.warn(format!(
                    "killing what is left of {}'s process tree (pids {}) after its main \
                     process exited",
                    d.name,
                    list.join(", ")
                ));
            }
            d.cgroup.kill_and_remove();
        }
        self.arm_drain();
    }

    /// The daemon stops or restarts: every tree goes with it.
    pub(super) fn kill_all_trees(&mut self) {
        self.draining.clear();
        if let Some(tree) = &self.tree {
            tree.kill_all();
        }
    }
}

impl Supervisor {
    /// The pids of `id`'s tree: what its cgroup holds, or its main process and the descendants
    /// procfs shows (`parents`, scanned on first need and shared by the callers' loop).
    pub(super) fn tree_pids(&self, id: ProcId, parents: &mut Option<Parents>) -> Vec<u32> {
        let Some(p) = self.table.get(id) else {
            return Vec::new();
        };
        match (&p.cgroup, p.life.pid) {
            (Some(cgroup), _) => cgroup.pids(),
            (None, 0) => Vec::new(),
            (None, pid) => parents.get_or_insert_with(Parents::scan).tree(pid),
        }
    }

    /// The trees of `ids`, with their usage.
    pub(super) fn tree_infos(&self, ids: &[ProcId]) -> Vec<TreeInfo> {
        let mut parents = None;
        ids.iter()
            .filter_map(|&id| {
                let p = self.table.get(id)?;
                let pids = self.tree_pids(id, &mut parents);
                Some(TreeInfo {
                    name: p.config.name.clone(),
                    group: p.group.clone(),
                    pid: p.life.pid,
                    usage: proctree::usage(&pids),
                    pids,
                })
            })
            .collect()
    }
}
