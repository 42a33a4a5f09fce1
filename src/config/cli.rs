//! supervisord's command line, parsed as Python's `getopt.getopt` + `Options.realize` do:
//! clustered short flags, unique-prefix long options, the same error texts, CLI > file > default.
//!
//! Values are converted by the same datatype functions the file uses; the option syntax is
//! [`super::getopt`].

use std::path::PathBuf;

use super::getopt::getopt;
use super::model::LogLevel;
use super::types;
use crate::py;

/// The command-line overrides, kept so the daemon can re-read the file the same way on SIGHUP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `argv[0]`, for `For help, use <argv0> -h` and the default search path.
    pub progname: String,
    /// `-c`, as given (relative paths stay relative, as in Python's messages).
    pub configfile: Option<PathBuf>,
    pub nodaemon: bool,
    pub silent: bool,
    pub user: Option<String>,
    pub umask: Option<u32>,
    pub directory: Option<String>,
    pub logfile: Option<String>,
    pub logfile_maxbytes: Option<i64>,
    pub logfile_backups: Option<i64>,
    pub loglevel: Option<LogLevel>,
    pub pidfile: Option<String>,
    pub identifier: Option<String>,
    pub childlogdir: Option<String>,
    pub nocleanup: bool,
    /// `--init` (ours): see [`super::Supervisord::init`].
    pub init: bool,
    pub minfds: Option<i64>,
    pub minprocs: Option<i64>,
    pub strip_ansi: bool,
    pub profile_options: Option<String>,
}

impl Options {
    /// Options for reading `file` with no other overrides (tests, tools).
    pub fn for_file(file: impl Into<PathBuf>) -> Options {
        Options {
            progname: "supervisord".to_string(),
            configfile: Some(file.into()),
            ..Options::default()
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Run(Options),
    /// `--check`: read, validate and print the config; start nothing.
    Check(Options),
    Help(String),
    Version,
}

/// A bad command line: printed as `Error: <msg>` / `For help, use <progname> -h`, exit 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub progname: String,
}

/// The module docstring of `supervisord.py`, printed by `-h` with `%s` → argv[0].
const HELP: &str = "supervisord -- run a set of applications as daemons.

Usage: %s [options]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-n/--nodaemon -- run in the foreground (same as 'nodaemon=true' in config file)
-s/--silent -- no logs to stdout (maps to 'silent=true' in config file)
-h/--help -- print this usage message and exit
-v/--version -- print supervisord version number and exit
-u/--user USER -- run supervisord as this user (or numeric uid)
-m/--umask UMASK -- use this umask for daemon subprocess (default is 022)
-d/--directory DIRECTORY -- directory to chdir to when daemonized
-l/--logfile FILENAME -- use FILENAME as logfile path
-y/--logfile_maxbytes BYTES -- use BYTES to limit the max size of logfile
-z/--logfile_backups NUM -- number of backups to keep when max bytes reached
-e/--loglevel LEVEL -- use LEVEL as log level (debug,info,warn,error,critical)
-j/--pidfile FILENAME -- write a pid file for the daemon process to FILENAME
-i/--identifier STR -- identifier used for this instance of supervisord
-q/--childlogdir DIRECTORY -- the log directory for child process logs
-k/--nocleanup --  prevent the process from performing cleanup (removal of
                   old automatic child log files) at startup.
-a/--minfds NUM -- the minimum number of file descriptors for start success
-t/--strip_ansi -- strip ansi escape codes from process output
--minprocs NUM  -- the minimum number of processes available for start success
--profile_options OPTIONS -- run supervisord under profiler and output
                             results based on OPTIONS, which  is a comma-sep'd
                             list of 'cumulative', 'calls', and/or 'callers',
                             e.g. 'cumulative,callers')
";

/// Short options in getopt syntax, in the order Python registers them.
const SHORT: &str = "h?c:vnu:m:d:l:y:z:e:j:i:q:a:kts";
/// Long options; a trailing `=` takes a value.
const LONG: &[&str] = &[
    "help",
    "configuration=",
    "version",
    "nodaemon",
    "user=",
    "umask=",
    "directory=",
    "logfile=",
    "logfile_maxbytes=",
    "logfile_backups=",
    "loglevel=",
    "pidfile=",
    "identifier=",
    "childlogdir=",
    "minfds=",
    "minprocs=",
    "nocleanup",
    "init",
    "strip_ansi",
    "profile_options=",
    "silent",
    "check",
];

/// Parses supervisord's arguments (without argv[0]) as `ServerOptions.realize` does.
pub fn parse(progname: &str, args: &[String]) -> Result<Action, UsageError> {
    let usage = |message: String| UsageError {
        message,
        progname: progname.to_string(),
    };
    let (pairs, positional) = getopt(args, SHORT, LONG).map_err(usage)?;
    if !positional.is_empty() {
        let list: Vec<String> = positional.iter().map(|a| py::repr(a)).collect();
        return Err(usage(format!(
            "positional arguments are not supported: [{}]",
            list.join(", ")
        )));
    }
    let mut o = Options {
        progname: progname.to_string(),
        ..Options::default()
    };
    let mut check = false;
    let mut seen: Vec<&str> = Vec::new();
    for (opt, arg) in &pairs {
        let invalid =
            |msg: String| usage(format!("invalid value for {opt} {}: {msg}", py::repr(arg)));
        let name: &str = match opt.as_str() {
            "-h" | "-?" | "--help" => return Ok(Action::Help(HELP.replace("%s", progname) + "\n")),
            "-v" | "--version" => return Ok(Action::Version),
            "--check" => {
                check = true;
                continue;
            }
            "-c" | "--configuration" => {
                o.configfile = Some(arg.into());
                "configfile"
            }
            "-n" | "--nodaemon" => {
                o.nodaemon = true;
                "nodaemon"
            }
            "-s" | "--silent" => {
                o.silent = true;
                "silent"
            }
            "--init" => {
                o.init = true;
                "init"
            }
            "-k" | "--nocleanup" => {
                o.nocleanup = true;
                "nocleanup"
            }
            "-t" | "--strip_ansi" => {
                o.strip_ansi = true;
                "strip_ansi"
            }
            "-u" | "--user" => {
                o.user = Some(arg.clone());
                "user"
            }
            "-i" | "--identifier" => {
                o.identifier = Some(arg.clone());
                "identifier"
            }
            "-m" | "--umask" => {
                o.umask = Some(types::octal(arg).map_err(|e| invalid(e.0))?);
                "umask"
            }
            "-d" | "--directory" => {
                o.directory = Some(types::existing_directory(arg).map_err(|e| invalid(e.0))?);
                "directory"
            }
            "-q" | "--childlogdir" => {
                o.childlogdir = Some(types::existing_directory(arg).map_err(|e| invalid(e.0))?);
                "childlogdir"
            }
            "-l" | "--logfile" => {
                o.logfile = Some(types::existing_dirpath(arg).map_err(|e| invalid(e.0))?);
                "logfile"
            }
            "-j" | "--pidfile" => {
                o.pidfile = Some(types::existing_dirpath(arg).map_err(|e| invalid(e.0))?);
                "pidfile"
            }
            "-y" | "--logfile_maxbytes" => {
                o.logfile_maxbytes = Some(types::byte_size(arg).map_err(|e| invalid(e.0))?);
                "logfile_maxbytes"
            }
            "-z" | "--logfile_backups" => {
                o.logfile_backups = Some(types::integer(arg).map_err(|e| invalid(e.0))?);
                "logfile_backups"
            }
            "-e" | "--loglevel" => {
                o.loglevel = Some(types::log_level(arg).map_err(|e| invalid(e.0))?);
                "loglevel"
            }
            "-a" | "--minfds" => {
                o.minfds = Some(types::integer(arg).map_err(|e| invalid(e.0))?);
                "minfds"
            }
            "--minprocs" => {
                o.minprocs = Some(types::integer(arg).map_err(|e| invalid(e.0))?);
                "minprocs"
            }
            "--profile_options" => {
                o.profile_options = Some(arg.clone());
                "profile_options"
            }
            other => return Err(usage(format!("option {other} not recognized"))),
        };
        if seen.contains(&name) {
            return Err(usage(format!(
                "conflicting command line option {}",
                py::repr(opt)
            )));
        }
        seen.push(name);
    }
    Ok(if check {
        Action::Check(o)
    } else {
        Action::Run(o)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn run(a: &[&str]) -> Options {
        match parse("supervisord", &args(a)).unwrap() {
            Action::Run(o) | Action::Check(o) => o,
            other => panic!("{other:?}"),
        }
    }

    fn error(a: &[&str]) -> String {
        parse("supervisord", &args(a)).unwrap_err().message
    }

    #[test]
    fn short_cluster_and_attached_value() {
        let o = run(&["-nkc/etc/s.conf"]);
        assert!(o.nodaemon && o.nocleanup);
        assert_eq!(o.configfile, Some(PathBuf::from("/etc/s.conf")));
    }

    #[test]
    fn long_prefix_and_equals() {
        let o = run(&["--nodae", "--configuration=/x", "--minfds", "5"]);
        assert!(o.nodaemon);
        assert_eq!(o.configfile, Some(PathBuf::from("/x")));
        assert_eq!(o.minfds, Some(5));
    }

    #[test]
    fn getopt_error_texts() {
        assert_eq!(error(&["--bogus"]), "option --bogus not recognized");
        assert_eq!(error(&["-x"]), "option -x not recognized");
        assert_eq!(error(&["-c"]), "option -c requires argument");
        assert_eq!(error(&["--logfile"]), "option --logfile requires argument");
        assert_eq!(
            error(&["--nodaemon=1"]),
            "option --nodaemon must not have an argument"
        );
        assert_eq!(
            error(&["--logfile_"]),
            "option --logfile_ not a unique prefix"
        );
    }

    #[test]
    fn positional_arguments_rejected() {
        assert_eq!(
            error(&["-n", "foo", "-k"]),
            "positional arguments are not supported: ['foo', '-k']"
        );
    }

    #[test]
    fn invalid_and_conflicting_values() {
        assert_eq!(
            error(&["-m", "9"]),
            "invalid value for -m '9': 9 can not be converted to an octal type"
        );
        assert_eq!(
            error(&["-n", "--nodaemon"]),
            "conflicting command line option '--nodaemon'"
        );
    }

    #[test]
    fn help_and_version() {
        let Action::Help(h) = parse("/usr/bin/supervisord", &args(&["-h"])).unwrap() else {
            panic!()
        };
        assert!(h.contains("Usage: /usr/bin/supervisord [options]"));
        assert!(h.ends_with("e.g. 'cumulative,callers')\n\n"));
        assert_eq!(parse("s", &args(&["-v"])).unwrap(), Action::Version);
    }

    #[test]
    fn check_flag() {
        assert!(matches!(
            parse("s", &args(&["--check", "-c", "x"])).unwrap(),
            Action::Check(_)
        ));
    }
}
