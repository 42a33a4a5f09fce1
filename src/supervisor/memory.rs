//! `memory_limit` (ours; memmon built in): once a second, the resident memory of each RUNNING
//! program with a limit is summed over its whole tree (its cgroup, or the procfs tree); one
//! over its limit is restarted, with a log line naming both sizes and a PROCESS_MEMORY_LIMIT
//! event.

use std::time::Instant;

use crate::events::Event;
use crate::process::ProcessState;

use super::actor::Supervisor;
use super::health::MEMORY_EVERY;
use super::table::ProcId;
use super::timers::TimerKey;

impl Supervisor {
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
        // Every id is in the table (just filtered), so the trees come one per id, in order.
        let trees = self.tree_infos(&limited);
        for (id, tree) in limited.into_iter().zip(trees) {
            let Some(limit) = self.table.get(id).and_then(|p| p.config.memory_limit) else {
                continue;
            };
            let rss = tree.usage.rss_kb * 1024;
            if rss <= limit {
                continue;
            }
            self.log.warn(format!(
                "{} uses {} of memory (its process tree), over its memory_limit of {}: \
                 restarting it",
                tree.name,
                size(rss),
                size(limit)
            ));
            self.notify(Event::memory_limit(
                &tree.name,
                &tree.group,
                tree.pid,
                tree.usage.rss_kb,
                limit / 1024,
            ));
            self.stop_then_start(id);
        }
        self.timers
            .arm(TimerKey::MemorySample, Instant::now() + MEMORY_EVERY);
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
