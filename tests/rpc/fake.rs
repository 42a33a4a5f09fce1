//! A scripted supervisor actor answering `Request`s from a channel, with the processes and the
//! configuration of the Python run the golden files were captured from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use supervisor::config::*;
use supervisor::process::ProcessState;
use supervisor::rpc::{xml, Dispatcher, Value};
use supervisor::signal::Signal;
use supervisor::supervisor::{
    ConfigDiff, ConfigSnapshot, DaemonInfo, Handle, LiveInfo, LogLocation, ProcessInfo,
    ProcessResult, Request, SupervisorError,
};

use crate::support::program::program;

pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/xmlrpc");

pub fn golden(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(GOLDEN).join(name)).unwrap()
}

/// What the fake actor knows.
pub struct World {
    pub infos: Vec<ProcessInfo>,
    pub config: Arc<Config>,
    /// `(namespec, is_stderr)` → log path.
    pub logs: BTreeMap<(String, bool), PathBuf>,
    pub main_log: Option<PathBuf>,
}

fn state_of(code: i64) -> ProcessState {
    ProcessState::ALL
        .into_iter()
        .find(|s| i64::from(s.code()) == code)
        .unwrap()
}

/// The processes exactly as Python's `getAllProcessInfo` golden reports them.
pub fn golden_infos() -> Vec<ProcessInfo> {
    let Ok(Value::Array(rows)) =
        xml::parse_response(&golden("getAllProcessInfo.response.xml")).unwrap()
    else {
        panic!("golden getAllProcessInfo is not an array");
    };
    rows.iter()
        .map(|row| {
            let s = |k: &str| match row.member(k) {
                Some(Value::String(s)) => s.clone(),
                other => panic!("{k}: {other:?}"),
            };
            let i = |k: &str| match row.member(k) {
                Some(Value::Int(i)) => *i,
                other => panic!("{k}: {other:?}"),
            };
            ProcessInfo {
                name: s("name"),
                group: s("group"),
                start: i("start"),
                stop: i("stop"),
                now: i("now"),
                state: state_of(i("state")),
                spawnerr: s("spawnerr"),
                exitstatus: i("exitstatus") as i32,
                stdout_logfile: s("stdout_logfile"),
                stderr_logfile: s("stderr_logfile"),
                pid: i("pid") as u32,
            }
        })
        .collect()
}

fn stream(logfile: LogFile, maxbytes: u64) -> StreamConfig {
    StreamConfig {
        logfile,
        logfile_maxbytes: maxbytes,
        logfile_backups: 10,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
    }
}

/// The typed form of `/tmp/rpcgold/sup.conf`, the config the golden files come from.
pub fn golden_config(rpcinterfaces: Vec<RpcInterface>) -> Config {
    let cat = ProcessConfig {
        startsecs: Duration::ZERO,
        stdout: stream(LogFile::Path("/tmp/rpcgold/cat.log".into()), 52_428_800),
        stderr: stream(LogFile::None, 52_428_800),
        ..program("cat", "/bin/cat")
    };
    let echo = ProcessConfig {
        startsecs: Duration::ZERO,
        priority: 7,
        exitcodes: vec![0, 3],
        redirect_stderr: true,
        stdout: stream(LogFile::Path("/tmp/rpcgold/echo.log".into()), 52_428_800),
        stderr: stream(LogFile::None, 52_428_800),
        ..program(
            "echo",
            "/bin/sh -c \"echo hello <&> world; echo ünï; sleep 1000\"",
        )
    };
    let never = ProcessConfig {
        autostart: false,
        directory: Some("/tmp".into()),
        user: Some("root".into()),
        stopsignal: Signal::INT,
        stdout: stream(LogFile::Auto, 1024),
        ..program("never", "/bin/sleep 100")
    };
    let group = |name: &str, priority: i32, processes: Vec<ProcessConfig>| GroupConfig {
        name: name.into(),
        priority,
        kind: GroupKind::Process,
        processes: processes.into_iter().map(Into::into).collect(),
    };
    Config {
        source: "/tmp/rpcgold/sup.conf".into(),
        supervisord: Supervisord {
            logfile: LogTarget::File("/tmp/rpcgold/main.log".into()),
            logfile_maxbytes: 52_428_800,
            logfile_backups: 10,
            loglevel: LogLevel::Info,
            pidfile: None,
            umask: 0o22,
            nodaemon: false,
            silent: false,
            minfds: 1024,
            minprocs: 200,
            nocleanup: false,
            childlogdir: "/tmp/rpcgold".into(),
            user: None,
            directory: None,
            strip_ansi: false,
            environment: BTreeMap::new(),
            identifier: "goldsup".into(),
            init: false,
            remember_stopped: false,
        },
        unix_http_servers: Vec::new(),
        inet_http_servers: Vec::new(),
        supervisorctl: None,
        rpcinterfaces,
        groups: vec![
            group("echo", 7, vec![echo]),
            group("grp", 50, vec![never]),
            group("cat", 999, vec![cat]),
        ],
        messages: Vec::new(),
    }
}

pub fn builtin_supervisor() -> Vec<RpcInterface> {
    vec![RpcInterface {
        name: "supervisor".into(),
        factory: "supervisor.rpcinterface:make_main_rpcinterface".into(),
        builtin: true,
    }]
}

impl World {
    pub fn golden() -> World {
        World {
            infos: golden_infos(),
            config: Arc::new(golden_config(builtin_supervisor())),
            logs: BTreeMap::new(),
            main_log: None,
        }
    }

    fn find(&self, namespec: &str) -> Result<&ProcessInfo, SupervisorError> {
        self.infos
            .iter()
            .find(|i| i.namespec() == namespec)
            .ok_or_else(|| SupervisorError::BadName(namespec.to_string()))
    }

    fn group(&self, group: &str) -> Result<Vec<&ProcessInfo>, SupervisorError> {
        let members: Vec<_> = self.infos.iter().filter(|i| i.group == group).collect();
        if members.is_empty() {
            Err(SupervisorError::BadName(group.to_string()))
        } else {
            Ok(members)
        }
    }

    fn results(
        infos: Vec<&ProcessInfo>,
        keep: impl Fn(&ProcessInfo) -> bool,
    ) -> Vec<ProcessResult> {
        infos
            .into_iter()
            .filter(|i| keep(i))
            .map(|i| ProcessResult {
                name: i.name.clone(),
                group: i.group.clone(),
                result: Ok(()),
            })
            .collect()
    }

    fn answer(&self, request: Request) {
        let not_running = |i: &ProcessInfo| !i.state.is_running();
        let running = |i: &ProcessInfo| i.state.is_running();
        match request {
            Request::GetState { reply } => {
                let _ = reply.send(Ok(DaemonInfo {
                    pid: 4242,
                    identifier: "goldsup".into(),
                }));
            }
            Request::GetProcessInfo { name, reply } => {
                let _ = reply.send(self.find(&name).cloned());
            }
            Request::GetAllProcessInfo { reply } => {
                let _ = reply.send(Ok(self.infos.clone()));
            }
            Request::GetLiveTable { reply } => {
                let rows = self.infos.iter().map(|info| LiveInfo {
                    info: info.clone(),
                    health: "none",
                    next_run: 0,
                    waiting: false,
                });
                let _ = reply.send(Ok(rows.collect()));
            }
            Request::GetConfig { reply } => {
                let _ = reply.send(Ok(ConfigSnapshot {
                    config: self.config.clone(),
                    active_groups: self.config.groups.iter().map(|g| g.name.clone()).collect(),
                    resolved_groups: self.config.groups.iter().map(|g| g.name.clone()).collect(),
                }));
            }
            Request::StartProcess { name, reply, .. } => {
                let _ = reply.send(self.find(&name).and_then(|i| {
                    if i.state.is_running() {
                        Err(SupervisorError::AlreadyStarted(name.clone()))
                    } else {
                        Ok(())
                    }
                }));
            }
            Request::StartProcessGroup { group, reply, .. } => {
                let _ = reply.send(self.group(&group).map(|g| World::results(g, not_running)));
            }
            Request::StopProcess { name, reply, .. } => {
                let _ = reply.send(self.find(&name).map(|_| ()));
            }
            Request::StopProcessGroup { group, reply, .. } => {
                let _ = reply.send(Ok(World::results(self.group(&group).unwrap(), running)));
            }
            Request::SignalProcess { signal, reply, .. } => {
                let _ = reply.send(match supervisor::config::types::signal(&signal) {
                    Ok(_) => Ok(()),
                    Err(_) => Err(SupervisorError::BadSignal(signal)),
                });
            }
            Request::ProcessLog {
                name,
                channel,
                reply,
            } => {
                let stderr = channel == supervisor::supervisor::Channel::Stderr;
                let _ = reply.send(self.find(&name).map(|_| LogLocation {
                    path: self.logs.get(&(name.clone(), stderr)).cloned(),
                }));
            }
            Request::MainLog { reply } => {
                let _ = reply.send(Ok(LogLocation {
                    path: self.main_log.clone(),
                }));
            }
            Request::ReloadConfig { reply } => {
                let _ = reply.send(Ok(ConfigDiff::default()));
            }
            Request::SendProcessStdin { name, reply, .. } => {
                let _ = reply.send(self.find(&name).map(|_| ()));
            }
            Request::SendRemoteCommEvent { reply, .. } => {
                let _ = reply.send(Ok(()));
            }
            other => panic!("the fake supervisor does not script {other:?}"),
        }
    }
}

/// Spawns the fake actor; the returned dispatcher talks to it.
pub fn spawn(world: World) -> Dispatcher {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(request) = rx.recv().await {
            world.answer(request);
        }
    });
    Dispatcher::new(Handle::new(tx), &builtin_supervisor())
}
