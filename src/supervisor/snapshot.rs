//! Process-info snapshots: the facts `getProcessInfo` and `getAllProcessInfo` report.

use super::actor::Supervisor;
use super::info::{Channel, ProcessInfo};
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
}
