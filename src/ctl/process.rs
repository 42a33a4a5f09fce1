//! The commands that act on processes by name: status, start, stop, restart, signal, pid, clear.
//! Each prints what Python's `do_<command>` prints and sets the same exit status.

use super::client::CallError;
use super::{array, exit, field_int, field_str, make_namespec, split_namespec, Controller};
use crate::rpc::fault::code;
use crate::rpc::Value;

/// `states.STOPPED_STATES`: STOPPED, EXITED, FATAL, UNKNOWN.
const STOPPED_STATES: [i64; 4] = [0, 100, 200, 1000];
/// `ProcessStates.RUNNING`.
pub(super) const RUNNING: i64 = 20;

/// `'%s: ERROR (%s)'`.
fn error(name: &str, what: &str) -> String {
    format!("{name}: ERROR ({what})")
}

/// A fault raised by a single-process call, as the result struct Python builds from it.
struct Outcome {
    name: String,
    status: i64,
    description: String,
}

impl Outcome {
    fn from_result(result: &Value) -> Outcome {
        Outcome {
            name: make_namespec(&field_str(result, "group"), &field_str(result, "name")),
            status: field_int(result, "status"),
            description: field_str(result, "description"),
        }
    }

    /// For `name` as typed (`group:process` or `process`) and the fault its call raised.
    fn from_fault(namespec: &str, fault_code: i32, fault_string: String) -> Outcome {
        let (group, process) = split_namespec(namespec);
        Outcome {
            name: make_namespec(&group, process.as_deref().unwrap_or("None")),
            status: i64::from(fault_code),
            description: fault_string,
        }
    }
}

/// `ValueError('Unknown result code ...')`: a result code the ctl has no words for.
fn unknown_code(o: &Outcome) -> CallError {
    CallError::Value(format!("Unknown result code {} for {}", o.status, o.name))
}

impl Controller {
    pub(super) async fn do_status(&mut self, arg: &str) -> Result<(), CallError> {
        let mut names: Vec<&str> = arg.split_whitespace().collect();
        let json = super::extras::take_flag(&mut names, "--json");
        if !self.upcheck().await? {
            self.exitstatus = exit::STATUS_UNKNOWN;
            return Ok(());
        }
        let all = array(self.call("supervisor.getAllProcessInfo", &[]).await?);
        let mut matching: Vec<Value> = if names.is_empty() || names.contains(&"all") {
            all
        } else {
            let mut matching = Vec::new();
            for name in &names {
                let (group, process) = split_namespec(name);
                let mut bad = true;
                for info in &all {
                    let matched = field_str(info, "group") == group
                        && process
                            .as_ref()
                            .is_none_or(|p| field_str(info, "name") == *p);
                    if matched {
                        bad = false;
                        matching.push(info.clone());
                    }
                }
                if bad {
                    let msg = match process {
                        None => format!("{group}: ERROR (no such group)"),
                        Some(_) => format!("{name}: ERROR (no such process)"),
                    };
                    if json {
                        eprintln!("{msg}");
                    } else {
                        self.output(&msg);
                    }
                    self.exitstatus = exit::STATUS_UNKNOWN;
                }
            }
            matching
        };
        if json {
            for method in super::extras::STATUS_EXTENSIONS {
                // Python's supervisord has no such method (UNKNOWN_METHOD): the field is left out.
                match self.call(method.0, &[]).await {
                    Ok(found) => super::extras::merge_extension(&mut matching, method.1, &found),
                    Err(CallError::Fault(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            let text = super::extras::status_json(&matching);
            self.output(&text);
        } else {
            self.show_statuses(&matching);
        }
        if matching
            .iter()
            .any(|i| STOPPED_STATES.contains(&field_int(i, "state")))
        {
            self.exitstatus = exit::STATUS_NOT_RUNNING;
        }
        Ok(())
    }

    /// `_show_statuses`: `'%-{W}s%-10s%s'`, W = max(30, longest namespec) + 3.
    fn show_statuses(&mut self, infos: &[Value]) {
        let namespecs: Vec<String> = infos
            .iter()
            .map(|i| make_namespec(&field_str(i, "group"), &field_str(i, "name")))
            .collect();
        let width = namespecs
            .iter()
            .map(|n| n.chars().count())
            .fold(30, usize::max)
            + 3;
        for (info, namespec) in infos.iter().zip(&namespecs) {
            let state = field_str(info, "statename");
            let state = super::extras::paint_state(self.color, &state, 10);
            let line = format!(
                "{namespec:<width$}{state}{}",
                field_str(info, "description")
            );
            self.output(&line);
        }
    }

    /// `_startresult`.
    fn start_result(o: &Outcome) -> Result<String, CallError> {
        let name = &o.name;
        Ok(match o.status as i32 {
            code::BAD_NAME => error(name, "no such process"),
            code::NO_FILE => error(name, "no such file"),
            code::NOT_EXECUTABLE => error(name, "file is not executable"),
            code::ALREADY_STARTED => error(name, "already started"),
            code::SPAWN_ERROR => error(name, "spawn error"),
            code::ABNORMAL_TERMINATION => error(name, "abnormal termination"),
            code::SUCCESS => format!("{name}: started"),
            _ => return Err(unknown_code(o)),
        })
    }

    /// Prints each entry of a group or all result array with `format`, setting the exit status
    /// from its code (`ignored` is the code that is not a failure for this command).
    fn results(
        &mut self,
        results: Value,
        format: fn(&Outcome) -> Result<String, CallError>,
        ignored: Option<i32>,
    ) -> Result<(), CallError> {
        for r in array(results) {
            let o = Outcome::from_result(&r);
            let line = format(&o)?;
            self.output(&line);
            self.set_exitstatus_from_fault(o.status, ignored);
        }
        Ok(())
    }

    pub(super) async fn do_start(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: start requires a process name");
            self.exitstatus = exit::INVALID_ARGS;
            self.help("start");
            return Ok(());
        }
        let ignored = Some(code::ALREADY_STARTED);
        if names.contains(&"all") {
            let results = self.call("supervisor.startAllProcesses", &[]).await?;
            return self.results(results, Self::start_result, ignored);
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => {
                    match self
                        .call("supervisor.startProcessGroup", &[group.as_str().into()])
                        .await
                    {
                        Ok(results) => self.results(results, Self::start_result, ignored)?,
                        Err(CallError::Fault(f)) if f.code == code::BAD_NAME => {
                            self.output(&format!("{group}: ERROR (no such group)"));
                            self.exitstatus = exit::INVALID_ARGS;
                        }
                        Err(e) => {
                            self.exitstatus = exit::GENERIC;
                            return Err(e);
                        }
                    }
                }
                Some(process) => match self.call("supervisor.startProcess", &[name.into()]).await {
                    Ok(_) => {
                        let name = make_namespec(&group, &process);
                        self.output(&format!("{name}: started"));
                    }
                    Err(CallError::Fault(f)) => {
                        let o = Outcome::from_fault(name, f.code, f.string);
                        let line = Self::start_result(&o)?;
                        self.output(&line);
                        self.set_exitstatus_from_fault(o.status, ignored);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    /// `_signalresult` with the success word of the command.
    fn signal_result(o: &Outcome, success: &str) -> Result<String, CallError> {
        let name = &o.name;
        Ok(match o.status as i32 {
            code::BAD_NAME => error(name, "no such process"),
            code::BAD_SIGNAL => error(name, "bad signal name"),
            code::NOT_RUNNING => error(name, "not running"),
            code::SUCCESS => format!("{name}: {success}"),
            code::FAILED => o.description.clone(),
            _ => return Err(unknown_code(o)),
        })
    }

    fn stop_result(o: &Outcome) -> Result<String, CallError> {
        Self::signal_result(o, "stopped")
    }

    fn signalled_result(o: &Outcome) -> Result<String, CallError> {
        Self::signal_result(o, "signalled")
    }

    pub(super) async fn do_stop(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: stop requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("stop");
            return Ok(());
        }
        let ignored = Some(code::NOT_RUNNING);
        if names.contains(&"all") {
            let results = self.call("supervisor.stopAllProcesses", &[]).await?;
            return self.results(results, Self::stop_result, ignored);
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => {
                    match self
                        .call("supervisor.stopProcessGroup", &[group.as_str().into()])
                        .await
                    {
                        Ok(results) => self.results(results, Self::stop_result, ignored)?,
                        Err(e) => {
                            self.exitstatus = exit::GENERIC;
                            if e.fault_code() != Some(code::BAD_NAME) {
                                return Err(e);
                            }
                            self.output(&format!("{group}: ERROR (no such group)"));
                        }
                    }
                }
                Some(process) => match self.call("supervisor.stopProcess", &[name.into()]).await {
                    Ok(_) => {
                        let name = make_namespec(&group, &process);
                        self.output(&format!("{name}: stopped"));
                    }
                    Err(CallError::Fault(f)) => {
                        let o = Outcome::from_fault(name, f.code, f.string);
                        let line = Self::stop_result(&o)?;
                        self.output(&line);
                        self.set_exitstatus_from_fault(o.status, ignored);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    pub(super) async fn do_restart(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        if arg.split_whitespace().next().is_none() {
            self.output("Error: restart requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("restart");
            return Ok(());
        }
        self.do_stop(arg).await?;
        self.do_start(arg).await
    }

    pub(super) async fn do_signal(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        if args.len() < 2 {
            self.output("Error: signal requires a signal name and a process name");
            self.help("signal");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let sig = args[0];
        let names = &args[1..];
        if names.contains(&"all") {
            let results = self
                .call("supervisor.signalAllProcesses", &[sig.into()])
                .await?;
            return self.results(results, Self::signalled_result, None);
        }
        for &name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => {
                    match self
                        .call(
                            "supervisor.signalProcessGroup",
                            &[group.as_str().into(), sig.into()],
                        )
                        .await
                    {
                        Ok(results) => self.results(results, Self::signalled_result, None)?,
                        Err(CallError::Fault(f)) if f.code == code::BAD_NAME => {
                            self.output(&format!("{group}: ERROR (no such group)"));
                            self.exitstatus = exit::GENERIC;
                        }
                        Err(e) => return Err(e),
                    }
                }
                Some(process) => match self
                    .call("supervisor.signalProcess", &[name.into(), sig.into()])
                    .await
                {
                    Ok(_) => {
                        let name = make_namespec(&group, &process);
                        self.output(&format!("{name}: signalled"));
                    }
                    Err(CallError::Fault(f)) => {
                        let o = Outcome::from_fault(name, f.code, f.string);
                        let line = Self::signalled_result(&o)?;
                        self.output(&line);
                        self.set_exitstatus_from_fault(o.status, None);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    pub(super) async fn do_pid(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            let pid = self.call("supervisor.getPID", &[]).await?;
            self.output(&super::value_str(&pid));
        } else if names.contains(&"all") {
            for info in array(self.call("supervisor.getAllProcessInfo", &[]).await?) {
                self.output(&field_int(&info, "pid").to_string());
            }
        } else {
            for name in names {
                match self.call("supervisor.getProcessInfo", &[name.into()]).await {
                    Ok(info) => {
                        let pid = field_int(&info, "pid");
                        self.output(&pid.to_string());
                        if pid == 0 {
                            self.exitstatus = exit::NOT_RUNNING;
                        }
                    }
                    Err(e) => {
                        self.exitstatus = exit::GENERIC;
                        if e.fault_code() != Some(code::BAD_NAME) {
                            return Err(e);
                        }
                        self.output(&format!("No such process {name}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// `_clearresult`.
    fn clear_result(o: &Outcome) -> Result<String, CallError> {
        let name = &o.name;
        Ok(match o.status as i32 {
            code::BAD_NAME => error(name, "no such process"),
            code::FAILED => error(name, "failed"),
            code::SUCCESS => format!("{name}: cleared"),
            _ => return Err(unknown_code(o)),
        })
    }

    pub(super) async fn do_clear(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: clear requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("clear");
            return Ok(());
        }
        if names.contains(&"all") {
            let results = self.call("supervisor.clearAllProcessLogs", &[]).await?;
            return self.results(results, Self::clear_result, None);
        }
        for name in names {
            match self
                .call("supervisor.clearProcessLogs", &[name.into()])
                .await
            {
                Ok(_) => {
                    let (group, process) = split_namespec(name);
                    let name = make_namespec(&group, process.as_deref().unwrap_or("None"));
                    self.output(&format!("{name}: cleared"));
                }
                Err(CallError::Fault(f)) => {
                    let o = Outcome::from_fault(name, f.code, f.string);
                    let line = Self::clear_result(&o)?;
                    self.output(&line);
                    self.set_exitstatus_from_fault(o.status, None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
