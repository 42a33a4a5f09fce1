//! Process trees in the actor (`killmode=mixed`): what is left of a program's tree once its
//! main process has exited is killed `stopwaitsecs` later; the leftovers of a previous daemon
//! on the same config are killed before anything is spawned; nothing of any tree outlives the
//! daemon. Where cgroup v2 is writable each spawn has its own cgroup (`crate::cgroup`); else
//! the daemon is a child subreaper and finds the trees in procfs (`crate::family`).

use std::time::Instant;

use crate::cgroup::{Cgroup, Tree};
use crate::config::{Config, KillMode};
use crate::family::{Naming, Record, Scan};
use crate::proctree;

use super::actor::Supervisor;
use super::info::TreeInfo;
use super::table::{ProcId, Process};
use super::timers::TimerKey;

/// How this daemon tracks its programs' process trees.
pub(super) enum Tracking {
    /// A cgroup per spawn, under this config's subtree.
    Cgroups(Tree),
    /// procfs and the subreaper; the record beside the pidfile once `kill_leftovers` has run
    /// (none without a pidfile).
    Procfs(Option<Record>),
}

impl Tracking {
    /// Cgroups where the unified hierarchy is writable, else procfs (which finds orphans
    /// when the daemon is a child subreaper, as `crate::daemon` makes it).
    pub(super) fn open(config: &Config) -> Tracking {
        match config
            .supervisord
            .pidfile
            .as_deref()
            .and_then(|pidfile| Tree::open(&Tree::key_for(pidfile)))
        {
            Some(tree) => Tracking::Cgroups(tree),
            None => Tracking::Procfs(None),
        }
    }

    pub(super) fn tree(&self) -> Option<&Tree> {
        match self {
            Tracking::Cgroups(tree) => Some(tree),
            Tracking::Procfs(_) => None,
        }
    }
}

/// What is left of a tree whose main process has exited.
pub(super) enum Left {
    /// The cgroup it ran in, with others still in it.
    Cgroup(Cgroup),
    /// The orphans the program left, adopted by the daemon (procfs).
    Orphans(Naming),
}

/// A tree whose main process exited while other processes were left, until its deadline.
pub(super) struct Draining {
    pub at: Instant,
    pub name: String,
    pub left: Left,
}

impl Supervisor {
    /// Before the first spawn: kills what a previous daemon (SIGKILLed, OOM-killed, crashed)
    /// left in this config's cgroups, or what its record names, so nothing runs twice.
    pub(super) fn kill_leftovers(&mut self) {
        match &mut self.tracking {
            Tracking::Cgroups(tree) => {
                for left in tree.kill_leftovers() {
                    self.log.warn(format!(
                        "killed pid {} ({}) left behind in {} by a previous supervisord",
                        left.pid, left.command, left.cgroup
                    ));
                }
            }
            Tracking::Procfs(record) => {
                let Some(pidfile) = self.config.supervisord.pidfile.as_deref() else {
                    return;
                };
                let path = Record::path_for(pidfile);
                let config = &self.config;
                let ctx_url = self.spawn_ctx.serverurl.clone();
                // A process is this config's when its marks name one of its processes with
                // the server URL that process is given.
                let ours = |marks: &crate::family::Marks| {
                    let Some(naming) = &marks.naming else {
                        return false;
                    };
                    config.groups.iter().any(|g| {
                        g.name == naming.group
                            && g.processes.iter().any(|p| {
                                p.name == naming.name
                                    && p.serverurl.as_ref().or(ctx_url.as_ref())
                                        == marks.server_url.as_ref()
                            })
                    })
                };
                match Record::open(path.clone(), ours) {
                    Ok((opened, killed)) => {
                        for left in killed {
                            self.log.warn(format!(
                                "killed pid {} ({}) left behind by a previous supervisord \
                                 (its record {})",
                                left.pid,
                                left.command,
                                path.display()
                            ));
                        }
                        *record = Some(opened);
                    }
                    Err(e) => self.log.warn(format!(
                        "cannot keep a record of the process trees in {}: {e}",
                        path.display()
                    )),
                }
            }
        }
    }

    /// A main process was spawned: the record notes it (procfs).
    pub(super) fn tree_spawned(&mut self, pid: u32) {
        if let Tracking::Procfs(Some(record)) = &mut self.tracking {
            let table = &self.table;
            record.spawned(pid, || {
                table
                    .processes()
                    .map(|p| p.life.pid)
                    .filter(|&p| p != 0)
                    .collect()
            });
        }
    }

    /// A look at the daemon's children: which are orphans it adopted, and whose.
    pub(super) fn scan(&self) -> Scan {
        Scan::take(|pid| self.table.has_pid(pid) || self.probes.is_probe(pid))
    }

    /// The main process of `id` was handled as exited. With cgroups: its `cgroup`, when
    /// empty, is kept for the next spawn (removed with the process, or at exit). Either way,
    /// what is left of the tree is killed after the program's `stopwaitsecs`.
    pub(super) fn main_exited(&mut self, id: ProcId, cgroup: Option<Cgroup>) {
        let Some(p) = self.table.get_mut(id) else {
            if let Some(cgroup) = cgroup {
                cgroup.kill_and_remove();
            }
            return;
        };
        let left = match cgroup {
            Some(cgroup) if !cgroup.is_populated() => {
                if p.spare_cgroup.is_none() {
                    p.spare_cgroup = Some(cgroup);
                } else {
                    cgroup.remove_if_empty();
                }
                return;
            }
            Some(cgroup) => Left::Cgroup(cgroup),
            None => {
                if !matches!(self.tracking, Tracking::Procfs(_))
                    || p.config.killmode != KillMode::Mixed
                {
                    return;
                }
                let naming = naming(p);
                if self.scan().left_by(&naming).is_empty() {
                    return;
                }
                Left::Orphans(naming)
            }
        };
        let Some(p) = self.table.get(id) else {
            return;
        };
        let at = Instant::now() + p.config.stopwaitsecs;
        let name = p.config.name.clone();
        self.draining.push(Draining { at, name, left });
        self.arm_drain();
    }

    fn arm_drain(&mut self) {
        match self.draining.iter().map(|d| d.at).min() {
            Some(at) => self.timers.arm(TimerKey::TreeDrain, at),
            None => self.timers.cancel(TimerKey::TreeDrain),
        }
    }

    /// The drain deadline: kills what is still left of the trees whose time is up.
    pub(super) fn drain_trees(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<Draining>, Vec<Draining>) = std::mem::take(&mut self.draining)
            .into_iter()
            .partition(|d| d.at <= now);
        self.draining = later;
        for d in due {
            let pids = match &d.left {
                Left::Cgroup(cgroup) => cgroup.pids(),
                Left::Orphans(naming) => self.scan().left_by(naming),
            };
            if !pids.is_empty() {
                let list: Vec<String> = pids.iter().map(u32::to_string).collect();
                self.log.warn(format!(
                    "killing what is left of {}'s process tree (pids {}) after its main \
                     process exited",
                    d.name,
                    list.join(", ")
                ));
            }
            match &d.left {
                Left::Cgroup(cgroup) => cgroup.kill_and_remove(),
                Left::Orphans(_) => kill_each(&pids),
            }
        }
        self.arm_drain();
    }

    /// The daemon stops or restarts: every tree goes with it, and (procfs) its record, since
    /// nothing is left to find.
    pub(super) fn kill_all_trees(&mut self) {
        self.draining.clear();
        match &self.tracking {
            Tracking::Cgroups(tree) => tree.kill_all(),
            Tracking::Procfs(record) => {
                // Not what a `killmode=process` program left: that lives on, as in Python.
                let keep: Vec<Naming> = self
                    .table
                    .processes()
                    .filter(|p| p.config.killmode != KillMode::Mixed)
                    .map(naming)
                    .collect();
                kill_each(&self.scan().adopted_except(&keep));
                if let Some(record) = record {
                    record.remove();
                }
            }
        }
    }

    /// Signals `id`'s whole tree (`stopasgroup`/`killasgroup`), each process once: with
    /// cgroups, what its cgroup holds; with procfs, its process group, then each process of
    /// its tree outside that group (a grandchild that called `setsid`, Supervisor #1101).
    /// `false` when there is no tree to signal this way (the caller signals the group).
    pub(super) fn signal_tree(&self, id: ProcId, signal: i32) -> bool {
        let Some(p) = self.table.get(id) else {
            return false;
        };
        if let Some(cgroup) = &p.cgroup {
            if cgroup.is_populated() {
                cgroup.signal(signal);
                return true;
            }
            return false;
        }
        if !matches!(self.tracking, Tracking::Procfs(_)) || p.config.killmode != KillMode::Mixed {
            return false;
        }
        let pid = p.life.pid;
        let naming = naming(p);
        let outside: Vec<u32> = self
            .scan()
            .tree(pid, &naming)
            .into_iter()
            .filter(|&q| proctree::process_group(q) != Some(pid))
            .collect();
        if crate::sys::child::kill(-(pid as i32), signal).is_err() {
            return false;
        }
        for q in outside {
            let _ = crate::sys::child::kill(q as i32, signal);
        }
        true
    }
}

/// The identity `p`'s children carry in their environment.
fn naming(p: &Process) -> Naming {
    Naming {
        group: p.group.clone(),
        name: p.config.name.clone(),
    }
}

/// SIGKILL to each of `pids` (one gone meanwhile is no error).
fn kill_each(pids: &[u32]) {
    for &pid in pids {
        let _ = crate::sys::child::kill(pid as i32, libc::SIGKILL);
    }
}

impl Supervisor {
    /// The pids of `id`'s tree: what its cgroup holds, or its main process, the orphans it
    /// left and their descendants as procfs shows them (`scan`, taken on first need and
    /// shared by the callers' loop).
    pub(super) fn tree_pids(&self, id: ProcId, scan: &mut Option<Scan>) -> Vec<u32> {
        let Some(p) = self.table.get(id) else {
            return Vec::new();
        };
        match (&p.cgroup, p.life.pid) {
            (Some(cgroup), _) => cgroup.pids(),
            (None, 0) => Vec::new(),
            (None, pid) => {
                let naming = naming(p);
                scan.get_or_insert_with(|| self.scan()).tree(pid, &naming)
            }
        }
    }

    /// The trees of `ids`, with their usage.
    pub(super) fn tree_infos(&self, ids: &[ProcId]) -> Vec<TreeInfo> {
        let mut scan = None;
        ids.iter()
            .filter_map(|&id| {
                let p = self.table.get(id)?;
                let pids = self.tree_pids(id, &mut scan);
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
