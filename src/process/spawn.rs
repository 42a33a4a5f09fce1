//! Turning a [`ProcessConfig`] into a running child, as Python's `Subprocess.spawn` does.
//!
//! The checks Python makes in the parent (`get_execv_args`: parse, PATH search, directory,
//! executable bit, permission) run here in safe code and yield its exact `spawnerr` texts. The
//! child-side setup (process group, user, directory, umask) is handed to [`crate::sys`]. The
//! child is never waited on here: the supervisor's single SIGCHLD reaper collects every child.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::unistd::{AccessFlags, Uid};

use crate::config::{EnvFileError, ProcessConfig};
use crate::sys::child::{ChildSetup, ChildUser};
use crate::sys::fd;
use crate::sys::spawn::{self as sys, Exec};
use crate::users;

/// Why a command cannot be run, found before forking. The text is Python's `spawnerr`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// `NO_FILE` for `startProcess`.
    #[error("can't find command {}", crate::py::repr(.0))]
    NotFound(String),
    #[error("command at {} is a directory", crate::py::repr(.0))]
    IsDirectory(String),
    #[error("command at {} is not executable", crate::py::repr(.0))]
    NotExecutable(String),
    #[error("no permission to run command {}", crate::py::repr(.0))]
    NoPermission(String),
    #[error("can't parse command {}: {reason}", crate::py::repr(.command))]
    Unparseable { command: String, reason: String },
    #[error("command is empty")]
    Empty,
}

/// The daemon-wide facts every spawn needs.
#[derive(Debug, Clone)]
pub struct SpawnContext {
    /// `[supervisord] environment`.
    pub environment: BTreeMap<String, String>,
    /// `SUPERVISOR_SERVER_URL` when the program's `serverurl` is AUTO (`None`: no server).
    pub serverurl: Option<String>,
    /// The daemon's own environment, read once: nothing in the daemon changes it, and reading
    /// it per spawn was a good part of the supervisor's work for each child.
    daemon_env: BTreeMap<OsString, OsString>,
    /// `/dev/null`, opened once, for the streams nobody reads (see [`Wiring::discard`]);
    /// `None` where it cannot be opened, and those streams get pipes as the others.
    devnull: Option<Arc<OwnedFd>>,
}

impl SpawnContext {
    pub fn new(environment: BTreeMap<String, String>, serverurl: Option<String>) -> SpawnContext {
        SpawnContext {
            environment,
            serverurl,
            // systemd's notify variables are the daemon's own, never a child's.
            daemon_env: std::env::vars_os()
                .filter(|(k, _)| !crate::notify::VARIABLES.iter().any(|v| k == *v))
                .collect(),
            devnull: std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .ok()
                .map(|f| Arc::new(OwnedFd::from(f))),
        }
    }
}

/// What a spawn gives the child besides its argv and environment.
#[derive(Debug, Default)]
pub struct Wiring<'a> {
    /// An fcgi-program's listening socket: the child gets it as fd 0 in place of a stdin pipe
    /// (Python's `FastCGISubprocess._prepare_child_fds`); `sendProcessStdin` to it then fails
    /// with NO_FILE, as Python's does.
    pub socket: Option<BorrowedFd<'a>>,
    /// The directory of the cgroup the child starts in.
    pub cgroup: Option<OwnedFd>,
    /// The output streams nobody reads: no log file, no syslog, no events, no capture, no echo
    /// in the main log. Python still gives them pipes and reads and drops what comes; here the
    /// child writes to `/dev/null`, which spares the daemon two pipes, their readers and
    /// their wakes at every spawn, and all the reading for a chatty child.
    pub discard: Discard,
}

/// Which of a child's output streams go to `/dev/null` (see [`Wiring::discard`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Discard {
    pub stdout: bool,
    /// Ignored under `redirect_stderr`, where stderr goes wherever stdout goes.
    pub stderr: bool,
}

/// A freshly spawned child and the parent's ends of its pipes.
#[derive(Debug)]
pub struct Child {
    pub pid: u32,
    /// `None` for an fcgi-program's child, whose fd 0 is the group's socket.
    pub stdin: Option<OwnedFd>,
    /// The read ends of the child's output pipes, already non-blocking; `None` for a stream
    /// that goes to `/dev/null` (see [`Wiring::discard`]).
    pub stdout: Option<OwnedFd>,
    /// Also `None` under `redirect_stderr` (stderr shares the stdout pipe).
    pub stderr: Option<OwnedFd>,
}

/// Python's `shlex.split` in POSIX mode (quotes, backslash escapes, `#` comments).
pub fn split_command(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(next) => word.push(next),
                    None => return Err("No escaped character".into()),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('\\' | '"' | '$' | '`' | '\n')) => word.push(ch),
                            Some(ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => return Err("No closing quotation".into()),
                        },
                        Some(ch) => word.push(ch),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The program's environment as Python builds it: `[supervisord] environment` overlaid with the
/// program's own.
fn merged_environment<'a>(
    config: &'a ProcessConfig,
    ctx: &'a SpawnContext,
) -> BTreeMap<&'a str, &'a str> {
    let mut env: BTreeMap<&str, &str> = ctx
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.extend(
        config
            .environment
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    env
}

/// `get_execv_args`: the file to exec and the argv, or why it cannot be run. A bare program name
/// is searched on the program environment's PATH, else the daemon's PATH, else
/// `/bin:/usr/bin:/usr/local/bin`.
pub fn resolve_command(
    config: &ProcessConfig,
    ctx: &SpawnContext,
) -> Result<(PathBuf, Vec<String>), CommandError> {
    let argv = split_command(&config.command).map_err(|reason| CommandError::Unparseable {
        command: config.command.clone(),
        reason,
    })?;
    let program = argv.first().ok_or(CommandError::Empty)?;
    let (filename, meta) = if program.contains('/') {
        (program.clone(), std::fs::metadata(program).ok())
    } else {
        let env = merged_environment(config, ctx);
        let path = match env.get("PATH") {
            Some(p) => p.to_string(),
            None => match std::env::var("PATH") {
                Ok(p) if !p.is_empty() => p,
                _ => "/bin:/usr/bin:/usr/local/bin".to_string(),
            },
        };
        path.split(':')
            .map(|dir| Path::new(dir).join(program))
            .find_map(|found| {
                std::fs::metadata(&found)
                    .ok()
                    .map(|m| (found.to_string_lossy().into_owned(), Some(m)))
            })
            .unwrap_or((program.clone(), None))
    };
    let meta = meta.ok_or_else(|| CommandError::NotFound(filename.clone()))?;
    if meta.is_dir() {
        return Err(CommandError::IsDirectory(filename));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(CommandError::NotExecutable(filename));
    }
    if nix::unistd::access(filename.as_str(), AccessFlags::X_OK).is_err() {
        return Err(CommandError::NoPermission(filename));
    }
    Ok((PathBuf::from(filename), argv))
}

/// The child's environment as `KEY=value` strings: the daemon's, `SUPERVISOR_*`,
/// `[supervisord] environment`, the `environment_file`s (read now), then the program's
/// `environment` (later wins). `Err` is the spawn error for an env file that cannot be read.
pub fn child_environment<'a>(
    config: &'a ProcessConfig,
    group: &'a str,
    ctx: &'a SpawnContext,
) -> Result<Vec<Vec<u8>>, EnvFileError> {
    let files = config.environment_files.load()?;
    let mut env: BTreeMap<&OsStr, &OsStr> = ctx
        .daemon_env
        .iter()
        .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
        .collect();
    let url = config.serverurl.as_ref().or(ctx.serverurl.as_ref());
    let supervisor = [
        ("SUPERVISOR_ENABLED", Some("1")),
        ("SUPERVISOR_SERVER_URL", url.map(String::as_str)),
        ("SUPERVISOR_PROCESS_NAME", Some(config.name.as_str())),
        ("SUPERVISOR_GROUP_NAME", Some(group)),
    ];
    let supervisor = supervisor
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)));
    env.extend(
        supervisor
            .chain(merged_environment(config, ctx))
            .chain(files.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map(|(k, v)| (OsStr::new(k), OsStr::new(v))),
    );
    Ok(env
        .into_iter()
        .map(|(k, v)| {
            // Room for the `=` and the NUL `CString` adds.
            let mut pair = Vec::with_capacity(k.len() + v.len() + 2);
            pair.extend_from_slice(k.as_bytes());
            pair.push(b'=');
            pair.extend_from_slice(v.as_bytes());
            pair
        })
        .collect())
}

/// `drop_privileges` decided in the parent: `None` when no switch is needed (no `user=`, or
/// already that uid), `Err` with Python's reason when the child would fail to switch.
pub fn resolve_user(user: &str) -> Option<Result<ChildUser, String>> {
    let record = match user.parse::<u32>() {
        Ok(uid) => match users::user_by_uid(uid) {
            Some(u) => u,
            None => return Some(Err(format!("Can't find uid {uid}"))),
        },
        Err(_) => match users::user_by_name(user) {
            Some(u) => u,
            None => {
                return Some(Err(format!(
                    "Can't find username {}",
                    crate::py::repr(user)
                )))
            }
        },
    };
    let current = Uid::current();
    if current == record.uid {
        return None;
    }
    if !current.is_root() {
        return Some(Err("Can't drop privilege as nonroot user".into()));
    }
    // Python: the primary gid, then every group listing the user as a member.
    let mut groups = vec![record.gid.as_raw()];
    groups.extend(users::supplementary_groups(&record));
    Some(Ok(ChildUser {
        uid: record.uid.as_raw(),
        gid: record.gid.as_raw(),
        groups,
    }))
}

/// The numeric uid Python shows in `couldn't setuid to <uid>`.
pub fn user_label(user: &str) -> String {
    match user.parse::<u32>() {
        Ok(uid) => uid.to_string(),
        Err(_) => users::user_by_name(user)
            .map(|u| u.uid.to_string())
            .unwrap_or_else(|| user.to_string()),
    }
}

/// Starts the child with its pipes. `Err` is the `spawnerr` text for failures before a child
/// existed (pipes, clone) or of its `execve`; failures of the child's setup show up as its
/// exit 127.
pub fn spawn(
    config: &ProcessConfig,
    group: &str,
    ctx: &SpawnContext,
    filename: &Path,
    argv: &[String],
    wiring: Wiring<'_>,
) -> Result<Child, String> {
    let Wiring {
        socket,
        cgroup,
        discard,
    } = wiring;
    let name = &config.name;
    let pipe_error = |e: nix::Error| match e {
        nix::Error::EMFILE => format!("too many open files to spawn {}", crate::py::repr(name)),
        other => format!(
            "unknown error making dispatchers for {}: {other:?}",
            crate::py::repr(name)
        ),
    };
    let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(pipe_error);
    let (stdin_read, stdin_write) = match socket {
        // A copy for the child, closed in the daemon once the child has it, as the pipe ends.
        Some(socket) => {
            let copy = socket.try_clone_to_owned().map_err(|e| {
                pipe_error(nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
            })?;
            (copy, None)
        }
        None => pipe().map(|(read, write)| (read, Some(write)))?,
    };
    // A discarded stream's end in the child: a copy of the daemon's `/dev/null`.
    let null = |wanted: bool| match (&ctx.devnull, wanted) {
        (Some(null), true) => null
            .try_clone()
            .map(Some)
            .map_err(|e| pipe_error(nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))),
        _ => Ok(None),
    };
    let (stdout_read, stdout_write) = match null(discard.stdout)? {
        Some(null) => (None, null),
        None => pipe().map(|(read, write)| (Some(read), write))?,
    };
    let (stderr_read, stderr_write) = match config.redirect_stderr {
        true => (None, None),
        false => match null(discard.stderr)? {
            Some(null) => (None, Some(null)),
            None => pipe().map(|(read, write)| (Some(read), Some(write)))?,
        },
    };
    // The ends the daemon keeps, out of the way of later spawns (see `sys::fd`); the ones it
    // reads are made non-blocking here, where their flags are known, for the log readers.
    let stdin_write = stdin_write.map(fd::move_above_low_zone);
    let reader = |pipe| {
        fd::nonblocking(fd::move_above_low_zone(pipe))
            .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    };
    let stdout_read = stdout_read.map(reader).transpose().map_err(pipe_error)?;
    let stderr_read = stderr_read.map(reader).transpose().map_err(pipe_error)?;
    let fork_error = |e: io::Error| match e.raw_os_error() {
        Some(libc::EAGAIN) => format!(
            "Too many processes in process table to spawn {}",
            crate::py::repr(name)
        ),
        _ => format!(
            "unknown error during fork for {}: {}",
            crate::py::repr(name),
            errno_text(&e)
        ),
    };
    let exec = Exec {
        program: c_string(filename.as_os_str().as_bytes().to_vec()).map_err(fork_error)?,
        argv: argv
            .iter()
            .map(|arg| c_string(arg.as_bytes().to_vec()))
            .collect::<io::Result<_>>()
            .map_err(fork_error)?,
        env: child_environment(config, group, ctx)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(c_string)
            .collect::<io::Result<_>>()
            .map_err(fork_error)?,
        stdin: stdin_read,
        stdout: stdout_write,
        stderr: stderr_write,
        cgroup,
        setup: ChildSetup {
            user: config.user.as_deref().and_then(resolve_user),
            user_label: config.user.as_deref().map(user_label).unwrap_or_default(),
            directory: config
                .directory
                .as_ref()
                .and_then(|d| CString::new(d.as_os_str().as_encoded_bytes()).ok()),
            umask: config.umask,
        },
    };
    let pid = sys::spawn(exec).map_err(fork_error)?;
    Ok(Child {
        pid,
        stdin: stdin_write,
        stdout: stdout_read,
        stderr: stderr_read,
    })
}

/// A C string for `execve`; an interior NUL is the error std's `Command` reports for it.
fn c_string(bytes: Vec<u8>) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte found in provided data",
        )
    })
}

/// `errno.errorcode` style (`EACCES`), falling back to the OS text.
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("{:?}", nix::Error::from_raw(code)),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_posix_shlex() {
        assert_eq!(
            split_command(r#"sh -c 'echo "hi there"' a\ b "x\"y" # comment"#).unwrap(),
            ["sh", "-c", "echo \"hi there\"", "a b", "x\"y"]
        );
        assert_eq!(split_command("  ").unwrap(), Vec::<String>::new());
        assert_eq!(
            split_command("echo 'open").unwrap_err(),
            "No closing quotation"
        );
        assert_eq!(
            split_command("echo \\").unwrap_err(),
            "No escaped character"
        );
        assert_eq!(split_command("a#b").unwrap(), ["a#b"]);
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(crate::py::repr("nope"), "'nope'");
        assert_eq!(crate::py::repr("it's"), "\"it's\"");
    }

    #[test]
    fn command_error_texts_match_python() {
        let err = CommandError::NotFound("nope".into());
        assert_eq!(err.to_string(), "can't find command 'nope'");
        let err = CommandError::Unparseable {
            command: "echo 'x".into(),
            reason: "No closing quotation".into(),
        };
        assert_eq!(
            err.to_string(),
            "can't parse command \"echo 'x\": No closing quotation"
        );
    }
}
