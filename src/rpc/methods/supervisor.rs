//! The `supervisor.*` namespace (`rpcinterface.py`): argument checking, namespec handling and
//! the exact structs Python returns. The work itself is the supervisor actor's.

use std::path::PathBuf;

use crate::config::{LogFile, ProcessConfig, StreamConfig};
use crate::supervisor::{
    Channel, ConfigSnapshot, Handle, LogLocation, ProcessInfo, ProcessResult, SupervisorError,
};

use crate::logs::{self, ReadError};
use crate::rpc::dispatch::Args;
use crate::rpc::fault::{code, Fault};
use crate::rpc::xml::{Value, Writer};

/// `getAPIVersion`'s answer.
const API_VERSION: &str = "3.0";

/// The methods without arguments whose answer never changes while the supervisor is RUNNING.
const CONSTANT: [&str; 4] = [
    "getAPIVersion",
    "getVersion",
    "getSupervisorVersion",
    "getState",
];

/// The answer of a method in [`CONSTANT`]: the one definition both [`call`] and the
/// dispatcher's pre-encoded responses use, so the two cannot drift apart.
fn constant(method: &str) -> Option<Value> {
    match method {
        "getAPIVersion" | "getVersion" => Some(Value::from(API_VERSION)),
        "getSupervisorVersion" => Some(Value::from(crate::VERSION)),
        "getState" => Some(Value::structure([
            ("statecode", Value::Int(1)),
            ("statename", Value::from("RUNNING")),
        ])),
        _ => None,
    }
}

/// Every method in [`CONSTANT`] with its answer.
pub(crate) fn constants() -> impl Iterator<Item = (&'static str, Value)> {
    CONSTANT
        .into_iter()
        .filter_map(|method| constant(method).map(|value| (method, value)))
}

/// Calls one `supervisor.*` method by its bare name.
pub(crate) async fn call(handle: &Handle, method: &str, args: &Args<'_>) -> Result<Value, Fault> {
    if let Some(value) = constant(method) {
        args.count(0, 0)?;
        handle.check_running().await?;
        return Ok(value);
    }
    match method {
        "getIdentification" => {
            args.count(0, 0)?;
            Ok(Value::from(handle.get_state().await?.identifier))
        }
        "getPID" => {
            args.count(0, 0)?;
            Ok(Value::Int(i64::from(handle.get_state().await?.pid)))
        }
        "readLog" | "readMainLog" => {
            args.count(2, 2)?;
            let (offset, length) = (args.int(0)?, args.int(1)?);
            read_log(handle.main_log().await?, offset, length).await
        }
        "clearLog" => {
            args.count(0, 0)?;
            handle.clear_main_log().await?;
            Ok(Value::Bool(true))
        }
        "shutdown" => {
            args.count(0, 0)?;
            handle.shutdown().await?;
            Ok(Value::Bool(true))
        }
        "restart" => {
            args.count(0, 0)?;
            handle.restart().await?;
            Ok(Value::Bool(true))
        }
        "reloadConfig" => {
            args.count(0, 0)?;
            let diff = handle.reload_config().await?;
            let names = |v: Vec<String>| Value::Array(v.into_iter().map(Value::from).collect());
            Ok(Value::Array(vec![Value::Array(vec![
                names(diff.added),
                names(diff.changed),
                names(diff.removed),
            ])]))
        }
        "addProcessGroup" => {
            args.count(1, 1)?;
            handle.add_process_group(&loose_string(args, 0)?).await?;
            Ok(Value::Bool(true))
        }
        "removeProcessGroup" => {
            args.count(1, 1)?;
            handle.remove_process_group(&loose_string(args, 0)?).await?;
            Ok(Value::Bool(true))
        }
        "startProcess" => {
            args.count(1, 2)?;
            let (name, wait) = (args.string(0)?, args.flag(1, true));
            match group_spec(name) {
                Some(group) => {
                    let results = handle.start_process_group(group, wait).await;
                    results_value(renamed(results, name))
                }
                None => {
                    handle.start_process(name, wait).await?;
                    Ok(Value::Bool(true))
                }
            }
        }
        "startProcessGroup" => {
            args.count(1, 2)?;
            let (name, wait) = (args.string(0)?, args.flag(1, true));
            results_value(handle.start_process_group(name, wait).await)
        }
        "startAllProcesses" => {
            args.count(0, 1)?;
            results_value(handle.start_all_processes(args.flag(0, true)).await)
        }
        "stopProcess" => {
            args.count(1, 2)?;
            let (name, wait) = (args.string(0)?, args.flag(1, true));
            match group_spec(name) {
                Some(group) => {
                    let results = handle.stop_process_group(group, wait).await;
                    results_value(renamed(results, name))
                }
                None => {
                    handle.stop_process(name, wait).await?;
                    Ok(Value::Bool(true))
                }
            }
        }
        "stopProcessGroup" => {
            args.count(1, 2)?;
            let (name, wait) = (args.string(0)?, args.flag(1, true));
            results_value(handle.stop_process_group(name, wait).await)
        }
        "stopAllProcesses" => {
            args.count(0, 1)?;
            results_value(handle.stop_all_processes(args.flag(0, true)).await)
        }
        "signalProcess" => {
            args.count(2, 2)?;
            let (name, signal) = (args.string(0)?, args.signal(1)?);
            match group_spec(name) {
                Some(group) => {
                    let results = handle.signal_process_group(group, &signal).await;
                    results_value(renamed(results, name))
                }
                None => {
                    handle.signal_process(name, &signal).await?;
                    Ok(Value::Bool(true))
                }
            }
        }
        "signalProcessGroup" => {
            args.count(2, 2)?;
            let (name, signal) = (args.string(0)?, args.signal(1)?);
            results_value(handle.signal_process_group(name, &signal).await)
        }
        "signalAllProcesses" => {
            args.count(1, 1)?;
            results_value(handle.signal_all_processes(&args.signal(0)?).await)
        }
        "getAllConfigInfo" => {
            args.count(0, 0)?;
            let snapshot = handle.get_config().await?;
            let needs_paths = snapshot.config.groups.iter().any(|g| {
                snapshot.resolved_groups.contains(&g.name)
                    && g.processes.iter().any(|p| {
                        p.stdout.logfile == LogFile::Auto || p.stderr.logfile == LogFile::Auto
                    })
            });
            let infos = if needs_paths {
                handle.get_all_process_info().await?
            } else {
                Vec::new()
            };
            Ok(all_config_info(&snapshot, &infos))
        }
        "getProcessInfo" => {
            args.count(1, 1)?;
            let name = process_spec(args.string(0)?)?;
            Ok(process_info(&handle.get_process_info(name).await?))
        }
        "getAllProcessInfo" => {
            args.count(0, 0)?;
            let infos = handle.get_all_process_info().await?;
            Ok(Value::Array(infos.iter().map(process_info).collect()))
        }
        "readProcessStdoutLog" | "readProcessLog" | "readProcessStderrLog" => {
            args.count(3, 3)?;
            let name = args.string(0)?;
            let (offset, length) = (args.int(1)?, args.int(2)?);
            let bytes = read_process_log(handle, name, channel_of(method), offset, length).await?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "tailProcessStdoutLog" | "tailProcessLog" | "tailProcessStderrLog" => {
            args.count(3, 3)?;
            let name = process_spec(args.string(0)?)?;
            let (offset, length) = (args.int(1)?, args.int(2)?);
            let location = handle.process_log(name, channel_of(method)).await?;
            Ok(tail_log(location.path, offset, length).await)
        }
        "clearProcessLogs" | "clearProcessLog" => {
            args.count(1, 1)?;
            handle
                .clear_process_logs(process_spec(args.string(0)?)?)
                .await?;
            Ok(Value::Bool(true))
        }
        "clearAllProcessLogs" => {
            args.count(0, 0)?;
            results_value(handle.clear_all_process_logs().await)
        }
        "sendProcessStdin" => {
            args.count(2, 2)?;
            let chars = match &args.0[1] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Base64(b) => b.clone(),
                other => {
                    return Err(Fault::incorrect_parameters_with(&python_str(other)));
                }
            };
            let name = process_spec(args.string(0)?)?;
            handle.send_process_stdin(name, chars).await?;
            Ok(Value::Bool(true))
        }
        "sendRemoteCommEvent" => {
            args.count(2, 2)?;
            handle
                .send_remote_comm_event(&loose_string(args, 0)?, &loose_string(args, 1)?)
                .await?;
            Ok(Value::Bool(true))
        }
        _ => Err(Fault::unknown_method()),
    }
}

/// `g:` or `g:*` names the whole group `g` (Python's `split_namespec` with process `None`).
fn group_spec(name: &str) -> Option<&str> {
    match name.split_once(':') {
        Some((group, "" | "*")) => Some(group),
        _ => None,
    }
}

/// A spec that must name one process: a group-only spec is BAD_NAME.
fn process_spec(name: &str) -> Result<&str, Fault> {
    match group_spec(name) {
        Some(_) => Err(SupervisorError::BadName(name.to_string()).into()),
        None => Ok(name),
    }
}

/// A group operation reached through `startProcess('g:*')` reports an unknown group under the
/// name the client used, as Python does.
fn renamed(
    results: Result<Vec<ProcessResult>, SupervisorError>,
    name: &str,
) -> Result<Vec<ProcessResult>, SupervisorError> {
    results.map_err(|e| match e {
        SupervisorError::BadName(_) => SupervisorError::BadName(name.to_string()),
        other => other,
    })
}

fn channel_of(method: &str) -> Channel {
    if method.contains("Stderr") {
        Channel::Stderr
    } else {
        Channel::Stdout
    }
}

/// A string argument where Python only compares or formats the value, so a scalar of another
/// type works too (`addProcessGroup(5)` is `BAD_NAME: 5`, not a type fault).
fn loose_string(args: &Args<'_>, i: usize) -> Result<String, Fault> {
    match args.0.get(i) {
        Some(v @ (Value::Int(_) | Value::Bool(_) | Value::Double(_) | Value::Nil)) => {
            Ok(python_str(v))
        }
        _ => args.string(i).map(str::to_string),
    }
}

/// How Python's `'%s' % value` shows a non-string argument in a fault string.
fn python_str(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Double(f) => format!("{f:?}"),
        Value::Nil => "None".into(),
        _ => String::new(),
    }
}

/// `readLog`'s answer: the bytes as text.
async fn read_log(location: LogLocation, offset: i64, length: i64) -> Result<Value, Fault> {
    let bytes = read_bytes(location, offset, length).await?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// What `readProcess*Log` reads, as bytes: one path for the RPC and the web tail page, so the
/// page gives Python's faults (BAD_NAME for a group-only spec, NO_FILE, ...) by the same rules.
pub(crate) async fn read_process_log(
    handle: &Handle,
    name: &str,
    channel: Channel,
    offset: i64,
    length: i64,
) -> Result<Vec<u8>, Fault> {
    let location = handle.process_log(process_spec(name)?, channel).await?;
    read_bytes(location, offset, length).await
}

/// Reads a log file for `readLog`/`readProcess*Log`: NO_FILE when there is none.
async fn read_bytes(location: LogLocation, offset: i64, length: i64) -> Result<Vec<u8>, Fault> {
    let path = location
        .path
        .ok_or_else(|| Fault::from(SupervisorError::NoLogFile))?;
    if !path.exists() {
        return Err(SupervisorError::NoFile(path.display().to_string()).into());
    }
    let read = tokio::task::spawn_blocking(move || logs::read_range(&path, offset, length))
        .await
        .map_err(|_| Fault::failed())?;
    match read {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::BadArguments) => Err(Fault::bad_arguments()),
        Err(ReadError::Failed(_)) => Err(Fault::failed()),
    }
}

/// `tail*Log`: `[data, offset, overflow]`; no log file answers `['', 0, False]` and an
/// unreadable one `['', offset, False]`, as Python's `tailFile`.
async fn tail_log(path: Option<PathBuf>, offset: i64, length: i64) -> Value {
    let (data, size, overflow) = match path.filter(|p| p.exists()) {
        Some(path) => tokio::task::spawn_blocking(move || logs::tail(&path, offset, length))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|(data, size, overflow)| (data, i64::try_from(size).unwrap_or(i64::MAX), overflow))
            .unwrap_or((Vec::new(), offset, false)),
        None => (Vec::new(), 0, false),
    };
    Value::Array(vec![
        Value::String(String::from_utf8_lossy(&data).into_owned()),
        Value::Int(size),
        Value::Bool(overflow),
    ])
}

/// Timestamps are XML-RPC ints, saturated to 32 bits (Python's `capped_int`).
fn capped(t: i64) -> Value {
    Value::Int(t.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
}

/// `getProcessInfo`'s 14-key struct, keys in Python's order.
pub(crate) fn process_info(info: &ProcessInfo) -> Value {
    Value::structure([
        ("name", Value::from(info.name.as_str())),
        ("group", Value::from(info.group.as_str())),
        ("start", capped(info.start)),
        ("stop", capped(info.stop)),
        ("now", capped(info.now)),
        ("state", Value::from(info.state.code())),
        ("statename", Value::from(info.state.name())),
        ("spawnerr", Value::from(info.spawnerr.as_str())),
        ("exitstatus", Value::from(info.exitstatus)),
        ("logfile", Value::from(info.stdout_logfile.as_str())),
        ("stdout_logfile", Value::from(info.stdout_logfile.as_str())),
        ("stderr_logfile", Value::from(info.stderr_logfile.as_str())),
        ("pid", Value::Int(i64::from(info.pid))),
        ("description", Value::from(info.description())),
    ])
}

/// `getAllProcessInfo`'s array written straight into a response: the same bytes as
/// `Value::Array` of [`process_info`] structs, without building the tree.
pub(crate) fn write_process_infos(w: &mut Writer, infos: &[ProcessInfo]) {
    let clamp = |t: i64| t.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    let mut description = String::new();
    w.begin_array();
    for info in infos {
        w.begin_struct();
        w.string_member("name", &info.name);
        w.string_member("group", &info.group);
        w.int_member("start", clamp(info.start));
        w.int_member("stop", clamp(info.stop));
        w.int_member("now", clamp(info.now));
        w.int_member("state", i64::from(info.state.code()));
        w.string_member("statename", info.state.name());
        w.string_member("spawnerr", &info.spawnerr);
        w.int_member("exitstatus", i64::from(info.exitstatus));
        w.string_member("logfile", &info.stdout_logfile);
        w.string_member("stdout_logfile", &info.stdout_logfile);
        w.string_member("stderr_logfile", &info.stderr_logfile);
        w.int_member("pid", i64::from(info.pid));
        description.clear();
        info.write_description(&mut description);
        w.string_member("description", &description);
        w.end_struct();
    }
    w.end_array();
}

/// Roughly how many bytes [`write_process_infos`] writes.
pub(crate) fn process_infos_size(infos: &[ProcessInfo]) -> usize {
    infos
        .iter()
        .map(|i| {
            900 + i.name.len()
                + i.group.len()
                + i.spawnerr.len()
                + 2 * i.stdout_logfile.len()
                + i.stderr_logfile.len()
        })
        .sum::<usize>()
        + 64
}

/// One `{name, group, status, description}` entry of a group or all-processes result.
fn result_struct(r: &ProcessResult) -> Value {
    let (status, description) = match &r.result {
        Ok(()) => (code::SUCCESS, "OK".to_string()),
        Err(e) => {
            let fault = Fault::from(e);
            (fault.code, fault.string)
        }
    };
    Value::structure([
        ("name", Value::from(r.name.as_str())),
        ("group", Value::from(r.group.as_str())),
        ("status", Value::from(status)),
        ("description", Value::from(description)),
    ])
}

fn results_value(results: Result<Vec<ProcessResult>, SupervisorError>) -> Result<Value, Fault> {
    Ok(Value::Array(results?.iter().map(result_struct).collect()))
}

/// `getAllConfigInfo`: one struct per process of the last-read config, sorted by name.
/// `infos` supplies the real paths of AUTO logs of groups added from this config.
fn all_config_info(snapshot: &ConfigSnapshot, infos: &[ProcessInfo]) -> Value {
    let mut rows = Vec::new();
    for group in &snapshot.config.groups {
        let inuse = snapshot.active_groups.contains(&group.name);
        let resolved = inuse && snapshot.resolved_groups.contains(&group.name);
        for p in &group.processes {
            let live = infos
                .iter()
                .find(|i| i.group == group.name && i.name == p.name)
                .filter(|_| resolved);
            rows.push((p.name.clone(), config_info(group, p, inuse, live)));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(rows.into_iter().map(|(_, v)| v).collect())
}

fn config_info(
    group: &crate::config::GroupConfig,
    p: &ProcessConfig,
    inuse: bool,
    live: Option<&ProcessInfo>,
) -> Value {
    let none = || Value::from("none");
    let path_or_none = |d: &Option<PathBuf>| match d {
        Some(d) => Value::from(d.display().to_string()),
        None => none(),
    };
    let logfile = |s: &StreamConfig, live_path: Option<&str>| match &s.logfile {
        LogFile::Path(path) => Value::from(path.display().to_string()),
        LogFile::None => none(),
        LogFile::Auto => match live_path.filter(|p| !p.is_empty()) {
            Some(path) => Value::from(path),
            None => Value::from("auto"),
        },
    };
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let secs = |d: std::time::Duration| int(d.as_secs());
    let uid = match p.user.as_deref().and_then(uid_of) {
        Some(uid) => Value::Int(i64::from(uid)),
        None => none(),
    };
    Value::structure([
        ("autostart", Value::from(p.autostart)),
        ("directory", path_or_none(&p.directory)),
        ("uid", uid),
        ("command", Value::from(p.command_raw.as_str())),
        (
            "exitcodes",
            Value::Array(p.exitcodes.iter().map(|&c| Value::from(c)).collect()),
        ),
        ("group", Value::from(group.name.as_str())),
        ("group_prio", Value::from(group.priority)),
        ("inuse", Value::from(inuse)),
        ("killasgroup", Value::from(p.killasgroup)),
        ("name", Value::from(p.name.as_str())),
        ("process_prio", Value::from(p.priority)),
        ("redirect_stderr", Value::from(p.redirect_stderr)),
        ("startretries", Value::Int(i64::from(p.startretries))),
        ("startsecs", secs(p.startsecs)),
        ("stdout_capture_maxbytes", int(p.stdout.capture_maxbytes)),
        (
            "stdout_events_enabled",
            Value::from(p.stdout.events_enabled),
        ),
        (
            "stdout_logfile",
            logfile(&p.stdout, live.map(|i| i.stdout_logfile.as_str())),
        ),
        (
            "stdout_logfile_backups",
            Value::Int(i64::from(p.stdout.logfile_backups)),
        ),
        ("stdout_logfile_maxbytes", int(p.stdout.logfile_maxbytes)),
        ("stdout_syslog", Value::from(p.stdout.syslog)),
        ("stopsignal", Value::from(p.stopsignal.number())),
        ("stopwaitsecs", secs(p.stopwaitsecs)),
        ("stderr_capture_maxbytes", int(p.stderr.capture_maxbytes)),
        (
            "stderr_events_enabled",
            Value::from(p.stderr.events_enabled),
        ),
        (
            "stderr_logfile",
            logfile(&p.stderr, live.map(|i| i.stderr_logfile.as_str())),
        ),
        (
            "stderr_logfile_backups",
            Value::Int(i64::from(p.stderr.logfile_backups)),
        ),
        ("stderr_logfile_maxbytes", int(p.stderr.logfile_maxbytes)),
        ("stderr_syslog", Value::from(p.stderr.syslog)),
        (
            "serverurl",
            match &p.serverurl {
                Some(url) => Value::from(url.as_str()),
                None => none(),
            },
        ),
    ])
}

/// `user=` as the numeric uid Python reports (a name is looked up; a number is taken as is).
fn uid_of(user: &str) -> Option<u32> {
    if let Ok(uid) = user.parse() {
        return Some(uid);
    }
    crate::users::user_by_name(user).map(|u| u.uid.as_raw())
}

#[cfg(test)]
mod tests {
    use crate::process::ProcessState;

    #[test]
    fn process_infos_written_directly_match_the_value_encoding() {
        let info = |name: &str, state, spawnerr: &str, log: &str| ProcessInfo {
            name: name.into(),
            group: "g<&>".into(),
            start: 1_700_000_000,
            stop: i64::MAX,
            now: 1_700_000_100,
            state,
            spawnerr: spawnerr.into(),
            exitstatus: -1,
            stdout_logfile: log.into(),
            stderr_logfile: String::new(),
            pid: 42,
        };
        let infos = vec![
            info("a", ProcessState::Running, "", "/tmp/a.log"),
            info("b&c", ProcessState::Fatal, "spawn <error>", ""),
            info("é", ProcessState::Stopped, "", ""),
        ];
        let tree = Value::Array(infos.iter().map(process_info).collect());
        let direct = crate::rpc::xml::encode_response_with(process_infos_size(&infos), |w| {
            write_process_infos(w, &infos)
        });
        assert_eq!(direct, crate::rpc::xml::encode_response(&tree));
    }

    use super::*;

    #[test]
    fn group_specs_are_colon_star_or_bare_colon() {
        assert_eq!(group_spec("g:*"), Some("g"));
        assert_eq!(group_spec("g:"), Some("g"));
        assert_eq!(group_spec("g:p"), None);
        assert_eq!(group_spec("p"), None);
        assert_eq!(
            process_spec("g:*"),
            Err(Fault::from(SupervisorError::BadName("g:*".into())))
        );
    }

    #[test]
    fn timestamps_saturate_to_32_bits() {
        assert_eq!(capped(1 << 40), Value::Int(i64::from(i32::MAX)));
        assert_eq!(capped(5), Value::Int(5));
    }
}
