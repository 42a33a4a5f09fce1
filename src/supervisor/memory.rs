//! `memory_limit` (ours; memmon built in): once a second, the resident memory of each RUNNING
//! program with a limit is summed over its whole tree (its cgroup, or the procfs tree); one
//! over its limit is restarted, with a log line naming both sizes and a PROCESS_MEMORY_LIMIT
//! event.

use std::time::{Duration, Instant};

use crate::events::Event;
use crate::process::ProcessState;
use crate::proctree;

use super::actor::Supervisor;
use super::table::ProcId;
use super::timers::TimerKey;

/// How often the memory of programs with a `memory_limit` is looked at.
const EVERY: Duration = Duration::from_secs(1);

impl Supervisor {
    /// Every state change: a limited program entering RUNNING starts the sampling (which stops
    /// by itself once no limited program runs).
    pub(super) fn memory_on_state(&mut self, id: ProcId, to: ProcessState) {
        let limited = self
            .table
            .get(id)
            .is_some_and(|p| p.config.memory_limit.is_some());
        if to == ProcessState::Running && limited && !self.timers.is_armed(TimerKey::MemorySample) {
            self.timers
                .arm(TimerKey::MemorySample, Instant::now() + EVERY);
        }
    }

    /// The sampling timer: checks every limited RUNNING program, then re-arms while any is.
    pub(super) fn sample_memory(&mut self) {
        let limited: Vec<ProcId> = self
            .table
            .all_lexical()
            .iter()
            .copied()
            .filter(|&id| {
                self.table.get(id).is_some_and(|p| {
                    p.config.memory_limit.is_some() && p.life.state == ProcessState::Running
                })
            })
            .collect();
        if limited.is_empty() {
            return;
        }
        let mut parents = None;
        for id in limited {
            let Some(limit) = self.table.get(id).and_then(|p| p.config.memory_limit) else {
                continue;
            };
            let rss_kb = proctree::rss_kb(&self.tree_pids(id, &mut parents));
            let rss = rss_kb * 1024;
            if rss <= limit {
                continue;
            }
            let Some(p) = self.table.get(id) else {
                continue;
            };
            let (name, group, pid) = (p.config.name.clone(), p.group.clone(), p.life.pid);
            self.log.warn(format!(
                "{name} uses {} of memory (its process tree), over its memory_limit of {}: \
                 restarting it",
                size(rss),
                size(limit)
            ));
            self.notify(Event::memory_limit(
                &name,
                &group,
                pid,
                rss_kb,
                limit / 1024,
            ));
            self.stop_then_start(id);
        }
        self.timers
            .arm(TimerKey::MemorySample, Instant::now() + EVERY);
    }
}

/// `612.4 MB`, `12.0 KB`: memmon's units.
fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KB", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size(512 << 20), "512.0 MB");
        assert_eq!(super::size(3 << 29), "1.5 GB");
        assert_eq!(super::size(2048), "2.0 KB");
    }
}
