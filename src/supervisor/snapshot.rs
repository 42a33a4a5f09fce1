//! Process-info snapshots: the facts `getProcessInfo` and `getAllProcessInfo` report.

use std::sync::Arc;

use super::actor::Supervisor;
use super::handle::Change;
use super::info::{Channel, LiveInfo, ProcessInfo};
use super::table::ProcId;

impl Supervisor {
    pub(super) fn info(&self, id: ProcId) -> ProcessInfo {
        self.info_at(id, self.now().epoch)
    }

    /// A process's info as of `now` (epoch seconds).
    pub(super) fn info_at(&self, id: ProcId, now: i64) -> ProcessInfo {
        let p = self.table.get(id).expect("ids come from the table");
        let path = |channel| {
            p.logs
                .as_ref()
                .and_then(|l| l.path(channel))
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        ProcessInfo {
            name: p.config.name.clone(),
            group: p.group.clone(),
            start: p.life.start_epoch,
            stop: p.life.stop_epoch,
            now,
            state: p.life.state,
            spawnerr: p.life.spawnerr.clone().unwrap_or_default(),
            exitstatus: p.life.exitstatus.unwrap_or(0),
            stdout_logfile: path(Channel::Stdout),
            stderr_logfile: path(Channel::Stderr),
            pid: p.life.pid,
        }
    }

    /// What the live views show of `id` as of `now`.
    pub(super) fn live_info_at(&self, id: ProcId, now: i64) -> LiveInfo {
        LiveInfo {
            info: self.info_at(id, now),
            health: self.health_info(id).map_or("none", |h| h.status),
            next_run: self.schedule_info(id).map_or(0, |s| s.next),
            waiting: self.waits_to_start(id),
        }
    }

    /// Tells the live views (if any watch) what `id` looks like now: after a state change, a
    /// health verdict, or the start of a wait for its dependencies or its end.
    pub(super) fn publish_process(&self, id: ProcId) {
        if self.status.watched() && self.table.get(id).is_some() {
            let live = self.live_info_at(id, self.now().epoch);
            self.status.publish(Change::Process(Arc::new(live)));
        }
    }
}
