//! The commands that act on the daemon's configuration: avail, reread, update, add, remove.

use std::collections::BTreeSet;

use super::client::CallError;
use super::{array, exit, field_int, field_str, make_namespec, value_str, Controller};
use crate::rpc::fault::code;
use crate::rpc::Value;

/// The three name lists of `reloadConfig()[0]`: added, changed, removed.
fn changes(result: Value) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut lists = array(result)
        .into_iter()
        .next()
        .map(array)
        .unwrap_or_default()
        .into_iter()
        .map(|l| array(l).iter().map(value_str).collect::<Vec<_>>());
    let added = lists.next().unwrap_or_default();
    let changed = lists.next().unwrap_or_default();
    let removed = lists.next().unwrap_or_default();
    (added, changed, removed)
}

impl Controller {
    /// Commands that take no arguments say so, with their help, as Python's do.
    pub(super) fn no_arguments(&mut self, cmd: &str, arg: &str) -> bool {
        if arg.is_empty() {
            return false;
        }
        self.output(&format!("Error: {cmd} accepts no arguments"));
        self.exitstatus = exit::GENERIC;
        self.help(cmd);
        true
    }

    pub(super) async fn do_avail(&mut self, arg: &str) -> Result<(), CallError> {
        if self.no_arguments("avail", arg) {
            return Ok(());
        }
        match self.call("supervisor.getAllConfigInfo", &[]).await {
            Ok(infos) => {
                for info in array(infos) {
                    let name = make_namespec(&field_str(&info, "group"), &field_str(&info, "name"));
                    let inuse = if field_int(&info, "inuse") != 0 {
                        "in use"
                    } else {
                        "avail"
                    };
                    let auto = if field_int(&info, "autostart") != 0 {
                        "auto"
                    } else {
                        "manual"
                    };
                    let priority = format!(
                        "{}:{}",
                        field_int(&info, "group_prio"),
                        field_int(&info, "process_prio")
                    );
                    self.output(&format!("{name:<32} {inuse:<9} {auto:<9} {priority}"));
                }
                Ok(())
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                if e.fault_code() != Some(code::SHUTDOWN_STATE) {
                    return Err(e);
                }
                self.output("ERROR: supervisor shutting down");
                Ok(())
            }
        }
    }

    pub(super) async fn do_reread(&mut self, arg: &str) -> Result<(), CallError> {
        if self.no_arguments("reread", arg) {
            return Ok(());
        }
        match self.call("supervisor.reloadConfig", &[]).await {
            Ok(result) => {
                let (added, changed, removed) = changes(result);
                // One list sorted by name across the three kinds; a name in two lists keeps the
                // later kind, as Python's dict.update does.
                let mut all = std::collections::BTreeMap::new();
                for (names, kind) in [
                    (added, "available"),
                    (changed, "changed"),
                    (removed, "disappeared"),
                ] {
                    for n in names {
                        all.insert(n, kind);
                    }
                }
                if all.is_empty() {
                    self.output("No config updates to processes");
                }
                for (name, kind) in all {
                    self.output(&format!("{name}: {kind}"));
                }
                Ok(())
            }
            Err(CallError::Fault(f)) if f.code == code::SHUTDOWN_STATE => {
                self.exitstatus = exit::GENERIC;
                self.output("ERROR: supervisor shutting down");
                Ok(())
            }
            Err(CallError::Fault(f)) if f.code == code::CANT_REREAD => {
                self.exitstatus = exit::GENERIC;
                self.output(&format!("ERROR: {}", f.string));
                Ok(())
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                Err(e)
            }
        }
    }

    pub(super) async fn do_add(&mut self, arg: &str) -> Result<(), CallError> {
        for name in arg.split_whitespace() {
            match self
                .call("supervisor.addProcessGroup", &[name.into()])
                .await
            {
                Ok(_) => self.output(&format!("{name}: added process group")),
                Err(CallError::Fault(f)) if f.code == code::SHUTDOWN_STATE => {
                    self.output("ERROR: shutting down");
                    self.exitstatus = exit::GENERIC;
                }
                Err(CallError::Fault(f)) if f.code == code::ALREADY_ADDED => {
                    self.output("ERROR: process group already active");
                }
                Err(CallError::Fault(f)) if f.code == code::BAD_NAME => {
                    self.output(&format!("ERROR: no such process/group: {name}"));
                    self.exitstatus = exit::GENERIC;
                }
                Err(e) => {
                    self.exitstatus = exit::GENERIC;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    pub(super) async fn do_remove(&mut self, arg: &str) -> Result<(), CallError> {
        for name in arg.split_whitespace() {
            match self
                .call("supervisor.removeProcessGroup", &[name.into()])
                .await
            {
                Ok(_) => self.output(&format!("{name}: removed process group")),
                Err(e) => {
                    self.exitstatus = exit::GENERIC;
                    match e.fault_code() {
                        Some(code::STILL_RUNNING) => {
                            self.output(&format!("ERROR: process/group still running: {name}"));
                        }
                        Some(code::BAD_NAME) => {
                            self.output(&format!("ERROR: no such process/group: {name}"));
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) async fn do_update(&mut self, arg: &str) -> Result<(), CallError> {
        let result = match self.call("supervisor.reloadConfig", &[]).await {
            Ok(r) => r,
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                if e.fault_code() == Some(code::SHUTDOWN_STATE) {
                    self.output("ERROR: already shutting down");
                    return Ok(());
                }
                return Err(e);
            }
        };
        let (added, changed, removed) = changes(result);
        let mut wanted: BTreeSet<&str> = arg.split_whitespace().collect();
        // `update all` is `update`.
        if wanted.contains("all") {
            wanted.clear();
        }
        if !wanted.is_empty() {
            let mut groups: BTreeSet<String> =
                array(self.call("supervisor.getAllProcessInfo", &[]).await?)
                    .iter()
                    .map(|i| field_str(i, "group"))
                    .collect();
            groups.extend(added.iter().cloned());
            // Python walks a set: its order is arbitrary; ours is sorted.
            for g in &wanted {
                if !groups.contains(*g) {
                    self.output(&format!("ERROR: no such group: {g}"));
                    self.exitstatus = exit::GENERIC;
                }
            }
        }
        let selected = |g: &str| wanted.is_empty() || wanted.contains(g);
        for gname in removed.iter().filter(|g| selected(g)) {
            let results = self
                .call("supervisor.stopProcessGroup", &[gname.as_str().into()])
                .await?;
            self.output(&format!("{gname}: stopped"));
            let failed = array(results)
                .iter()
                .any(|r| field_int(r, "status") == i64::from(code::FAILED));
            if failed {
                self.output(&format!("{gname}: has problems; not removing"));
                self.exitstatus = exit::GENERIC;
                continue;
            }
            self.call("supervisor.removeProcessGroup", &[gname.as_str().into()])
                .await?;
            self.output(&format!("{gname}: removed process group"));
        }
        for gname in changed.iter().filter(|g| selected(g)) {
            self.call("supervisor.stopProcessGroup", &[gname.as_str().into()])
                .await?;
            self.output(&format!("{gname}: stopped"));
            self.call("supervisor.removeProcessGroup", &[gname.as_str().into()])
                .await?;
            self.call("supervisor.addProcessGroup", &[gname.as_str().into()])
                .await?;
            self.output(&format!("{gname}: updated process group"));
        }
        for gname in added.iter().filter(|g| selected(g)) {
            self.call("supervisor.addProcessGroup", &[gname.as_str().into()])
                .await?;
            self.output(&format!("{gname}: added process group"));
        }
        Ok(())
    }
}
