//! `supervisord --check` output (docs/check-format.md): one `<kind> <name> <json>` line per
//! item, compact JSON with sorted keys, the same text `tests/py/dump_config.py` prints.

use serde_json::{json, Map, Value};

use super::health::{HealthAction, HealthCheck, Probe};
use super::model::*;
use super::schedule::{ScheduleAction, ScheduleConfig};

fn line(kind: &str, name: &str, obj: Value) -> String {
    format!("{kind} {name} {obj}")
}

fn owner(o: Option<(u32, Option<u32>)>) -> Value {
    match o {
        None => Value::Null,
        Some((u, g)) => json!([u, g.map_or(-1, i64::from)]),
    }
}

fn logfile(l: &LogFile) -> Value {
    match l {
        LogFile::Auto => json!("AUTO"),
        LogFile::None => Value::Null,
        LogFile::Path(p) => json!(p.to_string_lossy()),
    }
}

fn process(p: &ProcessConfig, group: &str) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name));
    m.insert("group".into(), json!(group));
    m.insert("command".into(), json!(p.command));
    m.insert("priority".into(), json!(p.priority));
    m.insert("autostart".into(), json!(p.autostart));
    m.insert("startsecs".into(), json!(p.startsecs.as_secs()));
    m.insert("startretries".into(), json!(p.startretries));
    let ar = match p.autorestart {
        AutoRestart::Always => "true",
        AutoRestart::Never => "false",
        AutoRestart::Unexpected => "unexpected",
    };
    m.insert("autorestart".into(), json!(ar));
    m.insert("exitcodes".into(), json!(p.exitcodes));
    m.insert("stopsignal".into(), json!(p.stopsignal.number()));
    m.insert("stopwaitsecs".into(), json!(p.stopwaitsecs.as_secs()));
    m.insert("stopasgroup".into(), json!(p.stopasgroup));
    m.insert("required".into(), json!(p.required));
    m.insert(
        "killmode".into(),
        json!(match p.killmode {
            KillMode::Mixed => "mixed",
            KillMode::Process => "process",
        }),
    );
    m.insert("killasgroup".into(), json!(p.killasgroup));
    m.insert("healthcheck".into(), healthcheck(p.healthcheck.as_ref()));
    m.insert("memory_limit".into(), json!(p.memory_limit));
    let deps: Vec<serde_json::Value> = p
        .depends_on
        .iter()
        .map(|d| json!({"name": d.name, "condition": d.condition.name(), "members": d.members}))
        .collect();
    m.insert("depends_on".into(), json!(deps));
    let (run, restart) = schedules(p.schedule.as_ref());
    m.insert("schedule".into(), run);
    m.insert("restart_schedule".into(), restart);
    m.insert("uid".into(), json!(p.uid));
    m.insert("redirect_stderr".into(), json!(p.redirect_stderr));
    m.insert(
        "directory".into(),
        json!(p.directory.as_ref().map(|d| d.to_string_lossy())),
    );
    m.insert("umask".into(), json!(p.umask));
    m.insert("serverurl".into(), json!(p.serverurl));
    m.insert("environment".into(), json!(p.environment));
    let files: Vec<String> = p
        .environment_files
        .files
        .iter()
        .map(|f| format!("{}{}", if f.optional { "-" } else { "" }, f.path.display()))
        .collect();
    m.insert("environment_file".into(), json!(files));
    for (s, c) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
        m.insert(format!("{s}_logfile"), logfile(&c.logfile));
        m.insert(format!("{s}_logfile_maxbytes"), json!(c.logfile_maxbytes));
        m.insert(format!("{s}_logfile_backups"), json!(c.logfile_backups));
        m.insert(format!("{s}_capture_maxbytes"), json!(c.capture_maxbytes));
        m.insert(format!("{s}_events_enabled"), json!(c.events_enabled));
        m.insert(format!("{s}_syslog"), json!(c.syslog));
    }
    Value::Object(m)
}

/// The `--check` lines for a loaded config, in the documented order.
pub fn render(c: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let s = &c.supervisord;
    let logfile = match &s.logfile {
        LogTarget::File(p) => json!(p.to_string_lossy()),
        LogTarget::Syslog => json!("syslog"),
        LogTarget::None => Value::Null,
    };
    out.push(line(
        "supervisord",
        "-",
        json!({
            "logfile": logfile,
            "logfile_maxbytes": s.logfile_maxbytes,
            "logfile_backups": s.logfile_backups,
            "loglevel": s.loglevel as i32,
            "pidfile": s.pidfile.as_ref().map(|p| p.to_string_lossy()),
            "umask": s.umask,
            "nodaemon": s.nodaemon,
            "silent": s.silent,
            "minfds": s.minfds,
            "minprocs": s.minprocs,
            "nocleanup": s.nocleanup,
            "childlogdir": s.childlogdir.to_string_lossy(),
            "user": s.user,
            "directory": s.directory.as_ref().map(|d| d.to_string_lossy()),
            "strip_ansi": s.strip_ansi,
            "environment": s.environment,
            "identifier": s.identifier,
            "init": s.init,
            "remember_stopped": s.remember_stopped,
        }),
    ));
    for u in &c.unix_http_servers {
        out.push(line(
            "unix_http_server",
            &u.section,
            json!({
                "file": u.file.to_string_lossy(),
                "chmod": u.chmod,
                "chown": match u.chown { None => json!([-1, -1]), some => owner(some) },
                "username": u.auth.as_ref().map(|a| &a.username),
                "password": u.auth.as_ref().map(|a| &a.password),
            }),
        ));
    }
    for i in &c.inet_http_servers {
        out.push(line(
            "inet_http_server",
            &i.section,
            json!({
                "host": i.host,
                "port": i.port,
                "username": i.auth.as_ref().map(|a| &a.username),
                "password": i.auth.as_ref().map(|a| &a.password),
            }),
        ));
    }
    if let Some(ctl) = &c.supervisorctl {
        out.push(line(
            "supervisorctl",
            "-",
            json!({
                "serverurl": ctl.serverurl,
                "username": ctl.username,
                "password": ctl.password,
                "prompt": ctl.prompt,
                "history_file": ctl.history_file.as_ref().map(|h| h.to_string_lossy()),
            }),
        ));
    }
    let mut rpcs: Vec<&RpcInterface> = c.rpcinterfaces.iter().collect();
    rpcs.sort_by(|a, b| a.name.cmp(&b.name));
    for r in rpcs {
        out.push(line(
            "rpcinterface",
            &r.name,
            json!({ "factory": r.factory }),
        ));
    }
    for g in &c.groups {
        let mut programs: Vec<&str> = g.processes.iter().map(|p| p.name.as_str()).collect();
        programs.sort();
        let mut m = Map::new();
        m.insert("priority".into(), json!(g.priority));
        m.insert("programs".into(), json!(programs));
        match &g.kind {
            GroupKind::Process => {
                m.insert("kind".into(), json!("process"));
            }
            GroupKind::EventListener {
                events,
                buffer_size,
                result_handler,
            } => {
                m.insert("kind".into(), json!("eventlistener"));
                m.insert("events".into(), json!(events));
                m.insert("buffer_size".into(), json!(buffer_size));
                m.insert("result_handler".into(), json!(result_handler));
            }
            GroupKind::Fcgi {
                socket,
                socket_backlog,
                socket_owner,
                socket_mode,
            } => {
                let url = match socket {
                    FcgiSocket::Unix(p) => format!("unix://{}", p.display()),
                    FcgiSocket::Tcp { host, port } => format!("tcp://{host}:{port}"),
                };
                m.insert("kind".into(), json!("fcgi"));
                m.insert("socket".into(), json!(url));
                m.insert("socket_backlog".into(), json!(socket_backlog));
                m.insert("socket_owner".into(), owner(*socket_owner));
                m.insert(
                    "socket_mode".into(),
                    match socket {
                        FcgiSocket::Unix(_) => json!(socket_mode),
                        FcgiSocket::Tcp { .. } => Value::Null,
                    },
                );
            }
        }
        out.push(line("group", &g.name, Value::Object(m)));
        // The group keeps Python's spawn order (`programs=` order); the format lists
        // processes in (priority, name) order.
        let mut processes: Vec<_> = g.processes.iter().collect();
        processes.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        for p in processes {
            out.push(line(
                "process",
                &format!("{}:{}", g.name, p.name),
                process(p, &g.name),
            ));
        }
    }
    out
}

/// `healthcheck` (ours): `null`, or the probe and its options.
fn healthcheck(check: Option<&HealthCheck>) -> serde_json::Value {
    let Some(c) = check else {
        return serde_json::Value::Null;
    };
    let probe = match &c.probe {
        Probe::Command(command) => json!({ "command": command }),
        Probe::Http { host, port, path } => {
            json!({ "http": { "host": host, "port": port, "path": path } })
        }
        Probe::Tcp { host, port } => json!({ "tcp": { "host": host, "port": port } }),
    };
    json!({
        "probe": probe,
        "interval": c.interval.as_secs(),
        "timeout": c.timeout.as_secs(),
        "retries": c.retries,
        "start_period": c.start_period.as_secs(),
        "action": match c.action {
            HealthAction::Restart => "restart",
            HealthAction::None => "none",
        },
    })
}

/// `schedule` and `restart_schedule` (ours): `null`, or the expression, its zone and (for
/// `schedule`) what an overlap does.
fn schedules(schedule: Option<&ScheduleConfig>) -> (Value, Value) {
    let Some(s) = schedule else {
        return (Value::Null, Value::Null);
    };
    let (cron, timezone) = (s.when.text(), s.when.zone().name().to_string());
    match s.action {
        ScheduleAction::Run(overlap) => (
            json!({ "cron": cron, "timezone": timezone, "overlap": overlap.name() }),
            Value::Null,
        ),
        ScheduleAction::Restart => (Value::Null, json!({ "cron": cron, "timezone": timezone })),
    }
}
