//! The supervisord lifecycle around the actor, in Python's order: setuid, rlimits, main log
//! (+ replay of config messages), AUTO log cleanup, bind servers, daemonize, pidfile, run; on
//! SIGHUP/`restart` the same process re-reads its config and starts over.
//!
//! The CLI and config loading belong to `src/bin/supervisord.rs`; HTTP servers are plugged in
//! through the `bind`/`serve` closures so listeners are bound before daemonizing (errors reach
//! the terminal) and served on the runtime created after it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::logs::{cleanup_auto_logs, MainLog};
use crate::process::spawn;
use crate::supervisor::{Handle, Outcome, Supervisor};
use crate::sys::daemon::{exit_now, fork_before_threads, Forked};

/// Re-reads the configuration (same file, same CLI overrides), for `reloadConfig` and restarts.
pub type Load = Arc<dyn Fn() -> Result<Config, String> + Send + Sync>;

/// Why the daemon could not start or continue. The binary prints `Error: <text>` (exit 2 for
/// the usage-style errors, as Python's `usage()` does).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// `user=` could not be switched to (Python's `drop_privileges` message).
    #[error("{0}")]
    User(String),
    /// `minfds`/`minprocs` above what the hard limit allows (Python's message).
    #[error("{0}")]
    Rlimit(String),
    /// A `required=true` program went FATAL; every program was stopped (exit status 1).
    #[error("required program {0} went FATAL")]
    RequiredFailed(String),
    /// A server could not be bound.
    #[error("{0}")]
    Bind(String),
    #[error("could not open the main log: {0}")]
    MainLog(io::Error),
    #[error("could not daemonize: {0}")]
    Daemonize(io::Error),
    #[error("could not start the runtime: {0}")]
    Runtime(io::Error),
}

/// Runs supervisord until shutdown. `bind` runs before daemonizing at every (re)start and its
/// value is handed to `serve` on the runtime together with the actor's handle.
pub fn main<B>(
    config: Config,
    load: Load,
    mut bind: impl FnMut(&Config, &MainLog) -> Result<B, String>,
    mut serve: impl FnMut(B, Handle, MainLog) -> Vec<JoinHandle<()>>,
) -> Result<(), DaemonError> {
    let mut config = config;
    let mut runtime: Option<tokio::runtime::Runtime> = None;
    loop {
        let first = runtime.is_none();
        let mut infos = Vec::new();
        if let Some(msg) = set_uid(&config)? {
            infos.push(msg);
        }
        if first {
            infos.extend(set_rlimits(&config)?);
        }
        let log = MainLog::open(&config.supervisord).map_err(DaemonError::MainLog)?;
        for message in &config.messages {
            log.log(message.level, message.text.clone());
        }
        for info in infos {
            log.info(info);
        }
        if !config.supervisord.nocleanup {
            for warning in cleanup_auto_logs(&config.supervisord) {
                log.warn(warning);
            }
        }
        let bound = bind(&config, &log).map_err(DaemonError::Bind)?;
        if first && !config.supervisord.nodaemon {
            daemonize(&config, &log)?;
        }
        write_pidfile(&config, &log);
        if std::process::id() != 1 {
            // Orphans of the programs' trees then come to us (as to PID 1), to be reaped and,
            // without cgroups, told apart by program (`crate::family`).
            if let Err(e) = crate::sys::daemon::become_subreaper() {
                log.warn(format!("cannot become a child subreaper: {e}"));
            }
        }
        let rt = match runtime.take() {
            Some(rt) => rt,
            None => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(DaemonError::Runtime)?,
        };
        let reread = Arc::clone(&load);
        // The actor gets the config itself, not a copy: with many programs their configs are a
        // good part of the heap. Only the paths to remove at exit are kept here.
        let leftovers = leftovers(&config);
        let (supervisor, handle) = Supervisor::new(config, Box::new(move || reread()), log.clone());
        let outcome = rt.block_on(async {
            let servers = serve(bound, handle, log.clone());
            // A task of the runtime, not the future `block_on` polls: waking a task from
            // another one (a probe's report, a log tap, a request) is a push to the run queue,
            // where waking `block_on` writes the runtime's eventfd and takes one more
            // epoll_wait.
            let outcome = match tokio::spawn(supervisor.run()).await {
                Ok(outcome) => outcome,
                Err(e) => match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(e) => Err(std::io::Error::other(e)),
                },
            };
            for server in servers {
                server.abort();
                // Aborting is asynchronous: wait until the listeners are really closed, so
                // the restart below can bind the same addresses.
                let _ = server.await;
            }
            outcome
        });
        for path in &leftovers {
            let _ = std::fs::remove_file(path);
        }
        runtime = Some(rt);
        match outcome {
            Ok(Outcome::Shutdown) => return Ok(()),
            Ok(Outcome::Restart(next)) => config = *next,
            Ok(Outcome::RequiredFailed(name)) => return Err(DaemonError::RequiredFailed(name)),
            Err(e) => return Err(DaemonError::Runtime(e)),
        }
    }
}

/// `set_uid_or_exit`: switch to `user=` (with its groups); `Some` is the info line to log.
fn set_uid(config: &Config) -> Result<Option<String>, DaemonError> {
    let Some(user) = config.supervisord.user.as_deref() else {
        return Ok(None);
    };
    match spawn::resolve_user(user) {
        None => {}
        Some(Err(reason)) => return Err(DaemonError::User(reason)),
        Some(Ok(target)) => {
            let groups: Vec<Gid> = target.groups.iter().map(|&g| Gid::from_raw(g)).collect();
            nix::unistd::setgroups(&groups)
                .map_err(|_| DaemonError::User("Could not set groups of effective user".into()))?;
            nix::unistd::setgid(Gid::from_raw(target.gid)).map_err(|_| {
                DaemonError::User("Could not set group id of effective user".into())
            })?;
            nix::unistd::setuid(Uid::from_raw(target.uid))
                .map_err(|e| DaemonError::User(format!("Could not set user id: {e}")))?;
        }
    }
    // Python logs its `self.uid`, the numeric uid the name resolved to.
    Ok(Some(format!(
        "Set uid to user {} succeeded",
        spawn::user_label(user)
    )))
}

/// `set_rlimits_or_exit`: raise the soft RLIMIT_NOFILE/RLIMIT_NPROC to `minfds`/`minprocs`
/// (and the hard limit when allowed), else fail with Python's message.
fn set_rlimits(config: &Config) -> Result<Vec<String>, DaemonError> {
    let limits = [
        (
            Resource::RLIMIT_NOFILE,
            "RLIMIT_NOFILE",
            config.supervisord.minfds,
            "The minimum number of file descriptors required to run this process is {min} as per the \"minfds\" command-line argument or config file setting. The current environment will only allow you to open {hard} file descriptors.  Either raise the number of usable file descriptors in your environment (see README.rst) or lower the minfds setting in the config file to allow the process to start.",
        ),
        (
            Resource::RLIMIT_NPROC,
            "RLIMIT_NPROC",
            config.supervisord.minprocs,
            "The minimum number of available processes required to run this program is {min} as per the \"minprocs\" command-line argument or config file setting. The current environment will only allow you to open {hard} processes.  Either raise the number of usable processes in your environment (see README.rst) or lower the minprocs setting in the config file to allow the program to start.",
        ),
    ];
    let mut infos = Vec::new();
    for (resource, name, min, message) in limits {
        let Ok((soft, hard)) = getrlimit(resource) else {
            continue;
        };
        if soft == RLIM_INFINITY || soft >= min {
            continue;
        }
        let new_hard = if hard != RLIM_INFINITY && hard < min {
            min
        } else {
            hard
        };
        match setrlimit(resource, min, new_hard) {
            Ok(()) => infos.push(format!("Increased {name} limit to {min}")),
            Err(_) => {
                let text = message
                    .replace("{min}", &min.to_string())
                    .replace("{hard}", &new_hard.to_string());
                return Err(DaemonError::Rlimit(text));
            }
        }
    }
    Ok(infos)
}

/// Python's `_daemonize`: fork (the parent exits 0), then in the child chdir to `directory`,
/// stdio to /dev/null, `setsid`, `umask`. Must run before any thread exists.
fn daemonize(config: &Config, log: &MainLog) -> Result<(), DaemonError> {
    match fork_before_threads().map_err(DaemonError::Daemonize)? {
        Forked::Parent => exit_now(0),
        Forked::Child => {}
    }
    log.info("daemonizing the supervisord process");
    if let Some(dir) = &config.supervisord.directory {
        match std::env::set_current_dir(dir) {
            Ok(()) => log.info(format!(
                "set current directory: {}",
                crate::py::repr(&dir.to_string_lossy())
            )),
            Err(e) => log.critical(format!(
                "can't chdir into {}: {e}",
                crate::py::repr(&dir.to_string_lossy())
            )),
        }
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(DaemonError::Daemonize)?;
    nix::unistd::dup2_stdin(&null).map_err(|e| DaemonError::Daemonize(e.into()))?;
    nix::unistd::dup2_stdout(&null).map_err(|e| DaemonError::Daemonize(e.into()))?;
    nix::unistd::dup2_stderr(&null).map_err(|e| DaemonError::Daemonize(e.into()))?;
    log.set_echo(false);
    nix::unistd::setsid().map_err(|e| DaemonError::Daemonize(e.into()))?;
    nix::sys::stat::umask(Mode::from_bits_truncate(config.supervisord.umask));
    Ok(())
}

/// Writes the pidfile after daemonizing; a failure is logged, not fatal (as in Python).
fn write_pidfile(config: &Config, log: &MainLog) {
    let pid = std::process::id();
    if let Some(path) = &config.supervisord.pidfile {
        if std::fs::write(path, format!("{pid}\n")).is_err() {
            log.critical(format!("could not write pidfile {}", path.display()));
            return;
        }
    }
    log.info(format!("supervisord started with pid {pid}"));
}

/// What Python's `options.cleanup` removes at exit: the unix socket files and the pidfile.
fn leftovers(config: &Config) -> Vec<PathBuf> {
    let sockets = config.unix_http_servers.iter().map(|s| s.file.clone());
    sockets.chain(config.supervisord.pidfile.clone()).collect()
}
