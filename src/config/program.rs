//! Process groups: `[group:x]`, `[program:x]`, `[eventlistener:x]`, `[fcgi-program:x]`, read in
//! Python's order (`process_groups_from_parser`) with numprocs expansion per process
//! (`_processes_from_section`), including its expansion-dict quirks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::{ConfigError, ErrorKind};
use super::expand::{expand, Expansions, Value};
use super::model::{
    EnvFiles, FcgiSocket, GroupConfig, GroupKind, LogFile, ProcessConfig, StreamConfig,
};
use super::reader::{strs, Got, Reader};
use super::types::{self, LogFileName};
use crate::py;

/// Event type names `events=` accepts (concrete and abstract), as `EventTypes` defines them.
pub const EVENT_TYPES: &[&str] = &[
    "EVENT",
    "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDERR",
    "PROCESS_COMMUNICATION_STDOUT",
    "PROCESS_GROUP",
    "PROCESS_GROUP_ADDED",
    "PROCESS_GROUP_REMOVED",
    // Ours: only a subscription by one of these names receives them (`EVENT` does not).
    "PROCESS_HEALTH",
    "PROCESS_HEALTH_HEALTHY",
    "PROCESS_HEALTH_UNHEALTHY",
    "PROCESS_LOG",
    "PROCESS_MEMORY_LIMIT",
    "PROCESS_LOG_STDERR",
    "PROCESS_LOG_STDOUT",
    "PROCESS_STATE",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_STARTING",
    "PROCESS_STATE_STOPPED",
    "PROCESS_STATE_STOPPING",
    "PROCESS_STATE_UNKNOWN",
    "REMOTE_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_RUNNING",
    "SUPERVISOR_STATE_CHANGE_STOPPING",
    "TICK",
    "TICK_3600",
    "TICK_5",
    "TICK_60",
];

const DEFAULT_RESULT_HANDLER: &str = "supervisor.dispatchers:default_handler";

fn suffix(section: &str) -> &str {
    section.split_once(':').map(|(_, n)| n).unwrap_or("")
}

/// Builds every process group; each failing section adds one error and is skipped.
pub(crate) fn groups(r: &Reader, errors: &mut Vec<ConfigError>) -> Vec<GroupConfig> {
    let all: Vec<String> = r.ini.sections().map(|s| s.name.clone()).collect();
    let mut groups = Vec::new();
    let mut excluded: Vec<String> = Vec::new();
    let here = strs(&[("here", &r.here.clone())]);

    for section in all.iter().filter(|s| s.starts_with("group:")) {
        let res = (|| {
            let name = types::process_or_group_name(suffix(section))
                .map_err(|e| r.error(ErrorKind::Value, e.0, section, None, None))?;
            let programs = r
                .get(section, "programs", None, &here, true)?
                .map(|g| types::list_of_strings(&g.value))
                .unwrap_or_default();
            let priority = r.convert(section, "priority", "999", &here, types::integer)?;
            let mut processes = Vec::new();
            for program in programs {
                let psect = format!("program:{program}");
                let fsect = format!("fcgi-program:{program}");
                let (has_p, has_f) = (all.contains(&psect), all.contains(&fsect));
                let opt = r.ini.get(section, "programs").cloned();
                if !has_p && !has_f {
                    return Err(r.error(
                        ErrorKind::Missing,
                        format!("[{section}] names unknown program or fcgi-program {program}"),
                        section,
                        opt.as_ref(),
                        Some("programs"),
                    ));
                }
                if has_p && has_f {
                    return Err(r.error(
                        ErrorKind::Value,
                        format!("[{section}] name {program} is ambiguous (exists as program and fcgi-program)"),
                        section,
                        opt.as_ref(),
                        Some("programs"),
                    ));
                }
                let target = if has_p { psect } else { fsect };
                excluded.push(target.clone());
                processes.extend(processes_from_section(r, &target, &name)?);
            }
            Ok(GroupConfig {
                name,
                priority: clamp_i32(priority),
                kind: GroupKind::Process,
                processes,
            })
        })();
        push(res, &mut groups, errors);
    }

    for section in all
        .iter()
        .filter(|s| s.starts_with("program:") && !excluded.contains(s))
    {
        let res = (|| {
            let name = types::process_or_group_name(suffix(section))
                .map_err(|e| r.error(ErrorKind::Value, e.0, section, None, None))?;
            let priority = r.convert(section, "priority", "999", &here, types::integer)?;
            let processes = processes_from_section(r, section, &name)?;
            Ok(GroupConfig {
                name,
                priority: clamp_i32(priority),
                kind: GroupKind::Process,
                processes,
            })
        })();
        push(res, &mut groups, errors);
    }

    for section in all.iter().filter(|s| s.starts_with("eventlistener:")) {
        let res = (|| {
            let pool = suffix(section).to_string();
            let priority = r.convert(section, "priority", "-1", &here, types::integer)?;
            let buffer_size = r.convert(section, "buffer_size", "10", &here, types::integer)?;
            if buffer_size < 1 {
                let opt = r.ini.get(section, "buffer_size").cloned();
                return Err(r.error(
                    ErrorKind::Value,
                    format!("[{section}] section sets invalid buffer_size ({buffer_size})"),
                    section,
                    opt.as_ref(),
                    Some("buffer_size"),
                ));
            }
            let handler = r
                .get(
                    section,
                    "result_handler",
                    Some(DEFAULT_RESULT_HANDLER),
                    &here,
                    true,
                )?
                .map(|g| g.value)
                .unwrap_or_else(|| DEFAULT_RESULT_HANDLER.into());
            // A config that names a Python plugin handler is valid where the plugin is
            // installed: it starts, with the default handler and a warning.
            if handler != DEFAULT_RESULT_HANDLER {
                r.warnings_sink().push(format!(
                    "[{section}] uses the Python plugin result_handler {handler}, which \
                     supervisor-rs cannot load; the default handler is used (OK accepts an \
                     event, anything else rejects it)"
                ));
            }
            let events_got = r.get(section, "events", Some(""), &here, true)?;
            let events_opt = events_got.as_ref().and_then(|g| g.opt.clone());
            let mut events: Vec<String> = Vec::new();
            for e in types::list_of_strings(&events_got.map(|g| g.value).unwrap_or_default()) {
                let e = e.to_uppercase();
                if !events.contains(&e) {
                    events.push(e);
                }
            }
            if events.is_empty() {
                return Err(r.error(
                    ErrorKind::Missing,
                    format!("[{section}] section requires an \"events\" line"),
                    section,
                    None,
                    Some("events"),
                ));
            }
            if let Some(bad) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
                return Err(r.error(
                    ErrorKind::Value,
                    format!("Unknown event type {bad} in [{section}] events"),
                    section,
                    events_opt.as_ref(),
                    Some("events"),
                ));
            }
            let redirect = r.convert(section, "redirect_stderr", "false", &here, types::boolean)?;
            if redirect {
                let opt = r.ini.get(section, "redirect_stderr").cloned();
                return Err(r.error(
                    ErrorKind::Value,
                    format!(
                        "[{section}] section sets redirect_stderr=true but this is not allowed \
                         because it will interfere with the eventlistener protocol"
                    ),
                    section,
                    opt.as_ref(),
                    Some("redirect_stderr"),
                ));
            }
            let processes = processes_from_section(r, section, &pool)?;
            Ok(GroupConfig {
                name: pool,
                priority: clamp_i32(priority),
                kind: GroupKind::EventListener {
                    events,
                    buffer_size: usize::try_from(buffer_size).unwrap_or(1),
                    result_handler: handler,
                },
                processes,
            })
        })();
        push(res, &mut groups, errors);
    }

    for section in all
        .iter()
        .filter(|s| s.starts_with("fcgi-program:") && !excluded.contains(s))
    {
        let res = fcgi_group(r, section, &here);
        push(res, &mut groups, errors);
    }

    // Python's list.sort() on (priority, name): stable.
    groups.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    groups
}

fn push(
    res: Result<GroupConfig, ConfigError>,
    groups: &mut Vec<GroupConfig>,
    errors: &mut Vec<ConfigError>,
) {
    match res {
        Ok(g) => groups.push(g),
        Err(e) => errors.push(e),
    }
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

fn fcgi_group(r: &Reader, section: &str, here: &Expansions) -> Result<GroupConfig, ConfigError> {
    let name = types::process_or_group_name(suffix(section))
        .map_err(|e| r.error(ErrorKind::Value, e.0, section, None, None))?;
    let priority = r.convert(section, "priority", "999", here, types::integer)?;
    let proc_uid = match r.get(section, "user", None, here, true)? {
        Some(got) => Some(r.check(section, "user", &got, types::name_to_uid)?),
        None => None,
    };
    let backlog = match r.get(section, "socket_backlog", None, here, true)? {
        Some(got) => {
            let b = r.check(section, "socket_backlog", &got, types::integer)?;
            if !(1..=65535).contains(&b) {
                return Err(r.error(
                    ErrorKind::Value,
                    format!("Invalid socket_backlog value {b}"),
                    section,
                    got.opt.as_ref(),
                    Some("socket_backlog"),
                ));
            }
            Some(b as u32)
        }
        None => None,
    };
    let owner = match r.get(section, "socket_owner", None, here, true)? {
        Some(got) => Some(r.check(section, "socket_owner", &got, |v| {
            types::user_group(v)
                .map_err(|_| types::ValueError(format!("Invalid socket_owner value {v}")))
        })?),
        None => None,
    };
    let mode = match r.get(section, "socket_mode", None, here, true)? {
        Some(got) => Some(r.check(section, "socket_mode", &got, |v| {
            types::octal(v).map_err(|_| types::ValueError(format!("Invalid socket_mode value {v}")))
        })?),
        None => None,
    };
    let mut exp = here.clone();
    exp.insert("program_name".into(), Value::Str(name.clone()));
    let sock = r.get(section, "socket", None, &exp, true)?;
    let sock_opt = sock.as_ref().and_then(|g| g.opt.clone());
    let sock = sock.map(|g| g.value).unwrap_or_default();
    if sock.is_empty() {
        return Err(r.error(
            ErrorKind::Missing,
            format!("[{section}] section requires a \"socket\" line"),
            section,
            sock_opt.as_ref(),
            Some("socket"),
        ));
    }
    let sock_err = |msg: String| {
        r.error(
            ErrorKind::Value,
            format!("{msg} in [{section}] socket"),
            section,
            sock_opt.as_ref(),
            Some("socket"),
        )
    };
    let (socket, owner, mode) = if let Some(path) = sock.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(sock_err(format!(
                "('Unix socket path %s is not an absolute path', {})",
                py::repr(path)
            )));
        }
        let owner = owner.or_else(|| {
            let me = nix::unistd::getuid().as_raw();
            proc_uid
                .filter(|&u| u != me)
                .map(|u| (u, types::gid_for_uid(u)))
        });
        (
            FcgiSocket::Unix(PathBuf::from(py::normalize_path(path))),
            owner,
            mode.unwrap_or(0o700),
        )
    } else {
        if owner.is_some() || mode.is_some() {
            return Err(sock_err(
                "socket_owner and socket_mode params should only be used with a Unix domain socket"
                    .to_string(),
            ));
        }
        let tcp = sock.strip_prefix("tcp://").and_then(|rest| {
            let (host, port) = rest.rsplit_once(':')?;
            let ok_host = !host.is_empty() && !host.chars().any(|c| c == ':' || py::is_space(c));
            let ok_port = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
            (ok_host && ok_port).then(|| (host.to_lowercase(), port.to_string()))
        });
        let Some((host, port)) = tcp else {
            return Err(sock_err(format!(
                "('Bad socket format %s', {})",
                py::repr(&sock)
            )));
        };
        let port = types::port_number(&port).map_err(|e| sock_err(e.0))?;
        (FcgiSocket::Tcp { host, port }, None, 0)
    };
    let processes = processes_from_section(r, section, &name)?;
    Ok(GroupConfig {
        name,
        priority: clamp_i32(priority),
        kind: GroupKind::Fcgi {
            socket,
            socket_backlog: backlog,
            socket_owner: owner,
            socket_mode: mode,
        },
        processes,
    })
}

/// `processes_from_section`: errors get Python's ` in section '<s>' (file: '<f>')` suffix.
fn processes_from_section(
    r: &Reader,
    section: &str,
    group: &str,
) -> Result<Vec<Arc<ProcessConfig>>, ConfigError> {
    // Python's `processes_from_section` ends with `programs.sort()` ((priority, name)); a
    // `[group:x]` then concatenates its programs in `programs=` order without sorting again.
    let mut processes = read_processes(r, section, group).map_err(|mut e| {
        let file = r.section_file(section);
        e.message = format!(
            "{} in section {} (file: {})",
            e.message,
            py::repr(section),
            py::repr(&file.to_string_lossy())
        );
        e.python_located = true;
        e
    })?;
    processes.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    Ok(processes.into_iter().map(Arc::new).collect())
}

fn stream(
    r: &Reader,
    section: &str,
    exp: &Expansions,
    s: &str,
    warnings: &mut Vec<String>,
) -> Result<(StreamConfig, bool), ConfigError> {
    let lf_key = format!("{s}_logfile");
    let logfile = match r.get(section, &lf_key, None, exp, true)? {
        None => LogFileName::Auto,
        Some(got) => {
            // Expanded a second time, under the bare option name.
            let twice = expand(&got.value, exp, &lf_key).map_err(|e| {
                r.error(
                    ErrorKind::Expansion,
                    e.to_string(),
                    section,
                    got.opt.as_ref(),
                    Some(&lf_key),
                )
            })?;
            let got = Got {
                value: twice,
                opt: got.opt,
            };
            r.check(section, &lf_key, &got, types::logfile_name)?
        }
    };
    let backups = r.convert(
        section,
        &format!("{s}_logfile_backups"),
        "10",
        exp,
        types::integer,
    )?;
    let maxbytes = r.convert(
        section,
        &format!("{s}_logfile_maxbytes"),
        "50MB",
        exp,
        types::byte_size,
    )?;
    let mut syslog = r.convert(
        section,
        &format!("{s}_syslog"),
        "False",
        exp,
        types::boolean,
    )?;
    let logfile = match logfile {
        LogFileName::Syslog => {
            warnings.push(format!(
                "For [{section}], {lf_key}=syslog but this is deprecated and will be removed.  \
                 Use {s}_syslog=true to enable syslog instead."
            ));
            syslog = true;
            LogFile::None
        }
        LogFileName::Auto => {
            if maxbytes == 0 {
                warnings.push(format!(
                    "For [{section}], AUTO logging used for {lf_key} without rollover, set \
                     maxbytes > 0 to avoid filling up filesystem unintentionally"
                ));
            }
            LogFile::Auto
        }
        LogFileName::None => LogFile::None,
        LogFileName::Path(p) => LogFile::Path(PathBuf::from(p)),
    };
    let is_path = matches!(logfile, LogFile::Path(_));
    Ok((
        StreamConfig {
            logfile,
            logfile_maxbytes: u64::try_from(maxbytes).unwrap_or(0),
            logfile_backups: u32::try_from(backups).unwrap_or(0),
            capture_maxbytes: 0,
            events_enabled: false,
            syslog,
        },
        is_path,
    ))
}

fn read_processes(
    r: &Reader,
    section: &str,
    group: &str,
) -> Result<Vec<ProcessConfig>, ConfigError> {
    let program_name = types::process_or_group_name(suffix(section))
        .map_err(|e| r.error(ErrorKind::Value, e.0, section, None, None))?;
    let mut common = strs(&[
        ("here", &r.here),
        ("program_name", &program_name),
        ("host_node_name", &r.host_node_name),
        ("group_name", group),
    ]);
    let c = common.clone();
    let priority = r.convert(section, "priority", "999", &c, types::integer)?;
    let autostart = r.convert(section, "autostart", "true", &c, types::boolean)?;
    let autorestart = r.convert(
        section,
        "autorestart",
        "unexpected",
        &c,
        types::auto_restart,
    )?;
    let schedule = super::schedule::read(r, section, &c)?;
    // A job run on a `schedule` is expected to exit, often within a second: it counts as
    // started once spawned unless `startsecs` says otherwise (a quick `0` exit is then EXITED,
    // not a BACKOFF and retries).
    let job = schedule
        .as_ref()
        .is_some_and(|s| matches!(s.action, super::schedule::ScheduleAction::Run(_)));
    let startsecs_default = if job { "0" } else { "1" };
    let startsecs = r.convert(section, "startsecs", startsecs_default, &c, types::integer)?;
    let startretries = r.convert(section, "startretries", "3", &c, types::integer)?;
    let stopsignal = r.convert(section, "stopsignal", "TERM", &c, types::signal)?;
    let stopwaitsecs = r.convert(section, "stopwaitsecs", "10", &c, types::integer)?;
    let stopasgroup = r.convert(section, "stopasgroup", "false", &c, types::boolean)?;
    let required = r.convert(section, "required", "false", &c, types::boolean)?;
    let killmode = r.convert(section, "killmode", "mixed", &c, types::kill_mode)?;
    let healthcheck = super::health::read(r, section, &c)?;
    let memory_limit = r.convert(section, "memory_limit", "0", &c, types::byte_size)?;
    let memory_limit = u64::try_from(memory_limit).ok().filter(|&m| m > 0);
    let killasgroup = r.convert(
        section,
        "killasgroup",
        if stopasgroup { "true" } else { "false" },
        &c,
        types::boolean,
    )?;
    let exitcodes = r.convert(section, "exitcodes", "0", &c, types::exitcodes)?;
    let redirect_stderr = r.convert(section, "redirect_stderr", "false", &c, types::boolean)?;
    let numprocs = r.convert(section, "numprocs", "1", &c, types::integer)?;
    let numprocs_start = r.convert(section, "numprocs_start", "0", &c, types::integer)?;
    let environment_raw = r
        .get(section, "environment", Some(""), &c, false)?
        .expect("default given");
    let stdout_cmax = r.convert(
        section,
        "stdout_capture_maxbytes",
        "0",
        &c,
        types::byte_size,
    )?;
    let stdout_events = r.convert(
        section,
        "stdout_events_enabled",
        "false",
        &c,
        types::boolean,
    )?;
    let stderr_cmax = r.convert(
        section,
        "stderr_capture_maxbytes",
        "0",
        &c,
        types::byte_size,
    )?;
    let stderr_events = r.convert(
        section,
        "stderr_events_enabled",
        "false",
        &c,
        types::boolean,
    )?;
    let serverurl = r
        .get(section, "serverurl", None, &c, true)?
        .map(|g| g.value)
        .filter(|s| py::strip(s).to_uppercase() != "AUTO");
    let user_got = r.get(section, "user", None, &c, true)?;
    let uid = match &user_got {
        Some(got) => Some(r.check(section, "user", got, types::name_to_uid)?),
        None => None,
    };
    let umask = match r.get(section, "umask", None, &c, true)? {
        Some(got) => Some(r.check(section, "umask", &got, types::octal)?),
        None => None,
    };
    let pn_got = r
        .get(section, "process_name", Some("%(program_name)s"), &c, false)?
        .expect("default given");
    let process_name = r.check(
        section,
        "process_name",
        &pn_got,
        types::process_or_group_name,
    )?;
    if numprocs > 1 && !process_name.contains("%(process_num)") {
        return Err(r.error(
            ErrorKind::Value,
            "%(process_num) must be present within process_name when numprocs > 1",
            section,
            pn_got.opt.as_ref(),
            Some("process_name"),
        ));
    }
    if stopasgroup && !killasgroup {
        let opt = r.ini.get(section, "killasgroup").cloned();
        return Err(r.error(
            ErrorKind::Value,
            "Cannot set stopasgroup=true and killasgroup=false",
            section,
            opt.as_ref(),
            Some("killasgroup"),
        ));
    }

    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut num = numprocs_start;
    while num < numprocs_start.saturating_add(numprocs) {
        common.insert("process_num".into(), Value::Int(num));
        common.insert("numprocs".into(), Value::Int(numprocs));
        common.extend(r.env.clone());
        let env_str = expand(&environment_raw.value, &common, "environment").map_err(|e| {
            r.error(
                ErrorKind::Expansion,
                e.to_string(),
                section,
                environment_raw.opt.as_ref(),
                Some("environment"),
            )
        })?;
        let env_got = Got {
            value: env_str,
            opt: environment_raw.opt.clone(),
        };
        let environment: BTreeMap<String, String> =
            r.check(section, "environment", &env_got, types::key_value_pairs)?;
        for (k, v) in &environment {
            common.insert(format!("ENV_{k}"), Value::Str(v.clone()));
        }
        let files = r.convert(section, "environment_file", "", &common, types::env_files)?;
        let environment_files = EnvFiles {
            // Only needed (and kept) when there are files to overlay.
            program_keys: match files.is_empty() {
                true => Vec::new(),
                false => environment.keys().cloned().collect(),
            },
            files,
        };
        let depends_on = r.convert(section, "depends_on", "", &common, super::depends::parse)?;
        let directory = r
            .get(section, "directory", None, &common, true)?
            .map(|g| PathBuf::from(g.value));
        let (mut stdout, _) = stream(r, section, &common, "stdout", &mut warnings)?;
        let (mut stderr, stderr_is_path) = stream(r, section, &common, "stderr", &mut warnings)?;
        if redirect_stderr {
            if stderr_is_path {
                warnings.push(format!(
                    "For [{section}], redirect_stderr=true but stderr_logfile has also been set \
                     to a filename, the filename has been ignored"
                ));
            }
            stderr.logfile = LogFile::None;
        }
        stdout.capture_maxbytes = u64::try_from(stdout_cmax).unwrap_or(0);
        stdout.events_enabled = stdout_events;
        stderr.capture_maxbytes = u64::try_from(stderr_cmax).unwrap_or(0);
        stderr.events_enabled = stderr_events;
        let Some(command) = r.get(section, "command", None, &common, true)? else {
            return Err(r.error(
                ErrorKind::Missing,
                format!("program section {section} does not specify a command"),
                section,
                None,
                Some("command"),
            ));
        };
        let name = expand(&process_name, &common, "process_name").map_err(|e| {
            r.error(
                ErrorKind::Expansion,
                e.to_string(),
                section,
                pn_got.opt.as_ref(),
                Some("process_name"),
            )
        })?;
        out.push(ProcessConfig {
            name,
            program_name: program_name.clone(),
            command: command.value,
            command_raw: command.opt.map(|o| o.value).unwrap_or_default(),
            priority: clamp_i32(priority),
            autostart,
            startsecs: Duration::from_secs(u64::try_from(startsecs).unwrap_or(0)),
            startretries: u32::try_from(startretries).unwrap_or(0),
            autorestart,
            exitcodes: exitcodes.clone(),
            stopsignal,
            stopwaitsecs: Duration::from_secs(u64::try_from(stopwaitsecs).unwrap_or(0)),
            stopasgroup,
            required,
            killmode,
            killasgroup,
            user: user_got.as_ref().map(|g| g.value.clone()),
            uid,
            redirect_stderr,
            stdout,
            stderr,
            environment,
            environment_files,
            directory,
            umask,
            serverurl: serverurl.clone(),
            healthcheck: healthcheck.clone(),
            memory_limit,
            depends_on,
            schedule: schedule.clone(),
        });
        num += 1;
    }
    // Warnings only count once the section is accepted (Python stops at the error anyway).
    r.warnings_sink().extend(warnings);
    Ok(out)
}
