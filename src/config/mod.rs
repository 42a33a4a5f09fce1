//! Configuration: reading `supervisord.conf` exactly as Supervisor 4.3 does.
//!
//! Two stages, as in ripgrep's low/high args: the ini layer ([`ini`]) yields raw strings with
//! `RawConfigParser` semantics; the builders ([`supervisord`], [`server`], [`program`]) expand
//! `%(...)s`, convert datatypes and produce the typed [`Config`] the engine consumes.
//! [`load`] is the one entry point; [`cli`] turns argv into the [`Options`] it takes.

pub mod check;
pub mod cli;
mod depends;
mod envfile;
mod error;
pub mod expand;
#[doc(hidden)]
pub mod fuzz;
pub mod getopt;
mod health;
pub mod ini;
mod keys;
mod model;
mod program;
mod reader;
mod schedule;
mod server;
mod supervisord;
pub mod types;

use crate::py;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cli::{Action, Options, UsageError};
pub use depends::{Condition, Dependency};
pub use error::{ConfigError, ConfigErrors, ErrorKind};
pub use health::{HealthAction, HealthCheck, Probe};
pub use model::*;
pub use program::EVENT_TYPES;
pub use schedule::{Overlap, ScheduleAction, ScheduleConfig};
pub use server::{supervisorctl_section, MAIN_RPCINTERFACE};

use expand::{Expansions, Value};

/// Supervisor 4.3's sample configuration, byte for byte: what `echo_supervisord_conf` prints,
/// the file a user's first `supervisord.conf` is made from.
pub const SAMPLE: &str = include_str!("sample.conf");
use ini::Ini;
use reader::{strs, Reader};

impl Config {
    /// `SUPERVISOR_SERVER_URL` for programs with `serverurl=AUTO` (`realize()`): the first unix
    /// server, else the last inet server (Python's loop does not stop at the first); `None`
    /// without servers.
    pub fn default_serverurl(&self) -> Option<String> {
        if let Some(u) = self.unix_http_servers.first() {
            return Some(format!("unix://{}", u.file.display()));
        }
        self.inet_http_servers.last().map(|s| {
            let host = if s.host.is_empty() {
                "localhost"
            } else {
                &s.host
            };
            format!("http://{host}:{}", s.port)
        })
    }
}

/// The default search path (`Options.searchpaths`), relative to `argv[0]`'s install prefix.
pub fn search_paths(progname: &str) -> Vec<String> {
    let here = py::dirname(py::dirname(progname));
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else if a.ends_with('/') {
            format!("{a}{b}")
        } else {
            format!("{a}/{b}")
        }
    };
    vec![
        join(&join(here, "etc"), "supervisord.conf"),
        join(here, "supervisord.conf"),
        "supervisord.conf".into(),
        "etc/supervisord.conf".into(),
        "/etc/supervisord.conf".into(),
        "/etc/supervisor/supervisord.conf".into(),
    ]
}

fn file_error(msg: String) -> ConfigErrors {
    ConfigError::new(ErrorKind::File, msg).into()
}

fn syntax_error(e: ini::IniError) -> ConfigErrors {
    let (file, line) = e.location();
    let mut err = ConfigError::new(ErrorKind::Syntax, e.to_string());
    err.file = Some(PathBuf::from(file));
    err.line = Some(line);
    err.into()
}

fn read_text(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|_| file_error(format!("could not read config file {}", path.display())))
}

/// Reads the config file `opts` names (or finds one on the default path) with its includes,
/// validates everything and applies the command-line overrides. Nothing is started, bound or
/// opened for writing. On failure, every problem found; the first is the one Python reports.
pub fn load(opts: &Options) -> Result<Config, ConfigErrors> {
    let configfile = match &opts.configfile {
        Some(f) => f.clone(),
        None => {
            let paths = search_paths(&opts.progname);
            match paths.iter().find(|p| Path::new(p).exists()) {
                Some(p) => PathBuf::from(p),
                None => {
                    return Err(file_error(format!(
                        "No config file found at default paths ({}); use the -c option to \
                         specify a config file at a different path",
                        paths.join(", ")
                    )))
                }
            }
        }
    };
    if !configfile.exists() {
        let name = configfile.display();
        return Err(file_error(format!("could not find config file {name}")));
    }
    let text = read_text(&configfile)?;
    load_str(&text, &configfile, opts)
}

/// [`load`] of `text` as the contents of `configfile`, which need not exist: it names the
/// config in messages, and its directory is `%(here)s` and the base of relative `[include]`
/// patterns (included files are still read from disk). For the fuzz target and tools.
pub fn load_str(text: &str, configfile: &Path, opts: &Options) -> Result<Config, ConfigErrors> {
    let configfile = configfile.to_path_buf();
    let name = configfile.to_string_lossy().into_owned();
    let here = py::abspath(py::dirname(&name));
    let mut parsed = Ini::new();
    parsed.read_str(text, &configfile).map_err(syntax_error)?;
    let main_only = parsed.clone();

    let mut env = Expansions::new();
    for (k, v) in std::env::vars_os() {
        env.insert(
            format!("ENV_{}", k.to_string_lossy()),
            Value::Str(v.to_string_lossy().into_owned()),
        );
    }
    let host_node_name = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut warnings = Vec::new();
    let mut infos = Vec::new();

    if parsed.has_section("include") {
        parsed.expand_here(&here);
        let Some(files) = parsed.get("include", "files").cloned() else {
            return Err(file_error(
                ".ini file has [include] section, but no files setting".into(),
            ));
        };
        let mut exp = strs(&[("here", &here), ("host_node_name", &host_node_name)]);
        exp.extend(env.clone());
        let files = expand::expand(&files.value, &exp, "include.files").map_err(|e| {
            let mut err = ConfigError::new(ErrorKind::Expansion, e.to_string());
            err.section = Some("include".into());
            err.file = Some(files.file.clone());
            err.line = Some(files.line);
            ConfigErrors::from(err)
        })?;
        let base = py::dirname(&py::abspath(&name)).to_string();
        for pattern in files.split_whitespace() {
            let pattern = if pattern.starts_with('/') {
                pattern.to_string()
            } else if base.ends_with('/') {
                format!("{base}{pattern}")
            } else {
                format!("{base}/{pattern}")
            };
            let options = glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: true,
            };
            let mut matches: Vec<String> = glob::glob_with(&pattern, options)
                .map(|paths| {
                    paths
                        .filter_map(Result::ok)
                        .map(|p| p.to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            if matches.is_empty() {
                warnings.push(format!("No file matches via include \"{pattern}\""));
                continue;
            }
            matches.sort();
            for file in matches {
                infos.push(format!("Included extra file \"{file}\" during parsing"));
                // RawConfigParser.read() silently skips files it cannot open.
                let Ok(bytes) = std::fs::read(&file) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes);
                parsed
                    .read_str(&text, Path::new(&file))
                    .map_err(syntax_error)?;
                parsed.expand_here(&py::abspath(py::dirname(&file)));
            }
        }
    }

    if !parsed.has_section("supervisord") {
        return Err(file_error(
            ".ini file does not include supervisord section".into(),
        ));
    }

    let mut reader = Reader {
        ini: parsed,
        configfile: configfile.clone(),
        here,
        env,
        host_node_name,
        warnings: RefCell::new(warnings),
        infos,
    };
    let mut errors = Vec::new();
    let supervisord = supervisord::read(&mut reader, opts, &mut errors);
    // The user check happens in realize(), after everything else; keep it last.
    let user_errors: Vec<ConfigError> = match errors.last() {
        Some(e) if e.option.as_deref() == Some("user") || e.section.is_none() => {
            errors.pop().into_iter().collect()
        }
        _ => Vec::new(),
    };
    let rpcinterfaces = server::rpcinterfaces(&reader, &mut errors);
    let mut groups = program::groups(&reader, &mut errors);
    depends::resolve_all(&reader, &mut groups, &mut errors);
    // Python merges each process's environment over [supervisord]'s once all groups are read.
    for p in groups.iter_mut().flat_map(|g| g.processes.iter_mut()) {
        // Not shared yet: no copy is made.
        let p = Arc::make_mut(p);
        let mut env = supervisord.environment.clone();
        env.append(&mut p.environment);
        p.environment = env;
    }
    let inet_http_servers = server::inet_servers(&reader, &mut errors);
    let unix_http_servers = server::unix_servers(&reader, &mut errors);
    errors.extend(user_errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let supervisorctl = server::supervisorctl(&main_only, &name);

    let mut messages = Vec::new();
    if supervisord.user.is_none() && nix::unistd::getuid().is_root() {
        messages.push(ParseMessage {
            level: LogLevel::Critical,
            text: "Supervisor is running as root.  Privileges were not dropped because no user \
                   is specified in the config file.  If you intend to run as root, you can set \
                   user=root in the config file to avoid this message."
                .into(),
        });
    }
    // Ours, after Python's own warnings.
    let unknown = keys::unknown_key_warnings(&reader.ini);
    reader.warnings_sink().extend(unknown);
    for text in reader.warnings.take() {
        messages.push(ParseMessage {
            level: LogLevel::Warn,
            text,
        });
    }
    for text in reader.infos {
        messages.push(ParseMessage {
            level: LogLevel::Info,
            text,
        });
    }
    Ok(Config {
        source: PathBuf::from(py::abspath(&name)),
        supervisord,
        unix_http_servers,
        inet_http_servers,
        supervisorctl,
        rpcinterfaces,
        groups,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> (tempfile::TempDir, Result<Config, ConfigErrors>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, text).unwrap();
        let res = load(&Options::for_file(&path));
        (dir, res)
    }

    fn first_error(text: &str) -> String {
        load_text(text).1.unwrap_err().first().to_string()
    }

    #[test]
    fn numprocs_expands_process_names() {
        let (_d, c) = load_text(
            "[supervisord]\n[program:w]\ncommand=/bin/w %(process_num)d\n\
             process_name=w_%(process_num)02d\nnumprocs=2\nnumprocs_start=3\n",
        );
        let c = c.unwrap();
        let names: Vec<_> = c.groups[0]
            .processes
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["w_03", "w_04"]);
        assert_eq!(c.groups[0].processes[1].command, "/bin/w 4");
    }

    #[test]
    fn process_num_required_when_numprocs_above_one() {
        let msg = first_error("[supervisord]\n[program:w]\ncommand=x\nnumprocs=2\n");
        assert!(msg.starts_with(
            "%(process_num) must be present within process_name when numprocs > 1 in section 'program:w' (file: '"
        ), "{msg}");
        assert!(msg.ends_with(", line 2)"), "{msg}");
    }

    #[test]
    fn process_num_not_available_in_priority() {
        let msg = first_error("[supervisord]\n[program:w]\ncommand=x\npriority=%(process_num)d\n");
        assert!(msg.contains("contains names ('process_num') which cannot be expanded"));
    }

    #[test]
    fn program_environment_feeds_env_expansion() {
        let (_d, c) = load_text(
            "[supervisord]\nenvironment=G=1\n[program:w]\ncommand=x %(ENV_P)s %(ENV_G)s\nenvironment=P=2\n",
        );
        let c = c.unwrap();
        let p = &c.groups[0].processes[0];
        assert_eq!(p.command, "x 2 1");
        assert_eq!(p.environment.get("G").map(String::as_str), Some("1"));
    }

    #[test]
    fn environment_file_paths_are_expanded_and_must_be_absolute() {
        let (d, c) = load_text(
            "[supervisord]\n[program:w]\ncommand=x\nnumprocs=2\nprocess_name=w%(process_num)d\n\
             environment=P=1\n\
             environment_file=%(here)s/%(program_name)s-%(process_num)d.env, - /opt/%(ENV_P)s.env\n",
        );
        let c = c.unwrap();
        let files = &c.groups[0].processes[1].environment_files;
        assert_eq!(
            files.files,
            [
                EnvFile {
                    path: d.path().join("w-1.env"),
                    optional: false
                },
                EnvFile {
                    path: "/opt/1.env".into(),
                    optional: true
                },
            ]
        );
        // Only the program's own names beat the files, not [supervisord]'s.
        assert_eq!(files.program_keys, ["P"]);
        let msg = first_error("[supervisord]\n[program:w]\ncommand=x\nenvironment_file=app.env\n");
        assert!(
            msg.starts_with("environment_file path 'app.env' is not absolute"),
            "{msg}"
        );
    }

    #[test]
    fn group_collects_programs_and_unknown_is_error() {
        let (_d, c) = load_text(
            "[supervisord]\n[program:a]\ncommand=x\n[program:b]\ncommand=y\n[group:g]\nprograms=a,b\npriority=1\n",
        );
        let c = c.unwrap();
        assert_eq!(c.groups.len(), 1);
        assert_eq!(c.groups[0].name, "g");
        assert_eq!(c.groups[0].processes.len(), 2);
        let msg = first_error("[supervisord]\n[group:g]\nprograms=zz\n");
        assert!(msg.starts_with("[group:g] names unknown program or fcgi-program zz"));
    }

    #[test]
    fn eventlistener_defaults_and_validation() {
        let (_d, c) =
            load_text("[supervisord]\n[eventlistener:l]\ncommand=x\nevents=tick_5,PROCESS_STATE\n");
        let g = &c.unwrap().groups[0];
        assert_eq!(g.priority, -1);
        assert!(
            matches!(&g.kind, GroupKind::EventListener { events, buffer_size: 10, .. }
            if events == &["TICK_5", "PROCESS_STATE"])
        );
        let msg = first_error("[supervisord]\n[eventlistener:l]\ncommand=x\nevents=NOPE\n");
        assert!(msg.starts_with("Unknown event type NOPE in [eventlistener:l] events"));
        let msg = first_error(
            "[supervisord]\n[eventlistener:l]\ncommand=x\nevents=TICK\nredirect_stderr=true\n",
        );
        assert!(msg.contains("redirect_stderr=true but this is not allowed"));
    }

    #[test]
    fn auto_log_without_rollover_warns() {
        let (_d, c) =
            load_text("[supervisord]\n[program:w]\ncommand=x\nstdout_logfile_maxbytes=0\n");
        let c = c.unwrap();
        assert!(c.messages.iter().any(|m| m.level == LogLevel::Warn
            && m.text == "For [program:w], AUTO logging used for stdout_logfile without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally"));
    }

    #[test]
    fn include_reads_sorted_matches_and_warns_on_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("conf.d/b.ini"),
            "[program:b]\ncommand=%(here)s/b\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("conf.d/a.ini"), "[program:a]\ncommand=a\n").unwrap();
        let main = dir.path().join("s.conf");
        std::fs::write(
            &main,
            "[supervisord]\n[include]\nfiles=conf.d/*.ini none/*.x\n",
        )
        .unwrap();
        let c = load(&Options::for_file(&main)).unwrap();
        let texts: Vec<_> = c.messages.iter().map(|m| m.text.clone()).collect();
        let d = dir.path().display();
        assert!(texts.contains(&format!("No file matches via include \"{d}/none/*.x\"")));
        let ia = texts
            .iter()
            .position(|t| t.contains("conf.d/a.ini"))
            .unwrap();
        let ib = texts
            .iter()
            .position(|t| t.contains("conf.d/b.ini"))
            .unwrap();
        assert!(ia < ib);
        let b = c.groups.iter().find(|g| g.name == "b").unwrap();
        assert_eq!(b.processes[0].command, format!("{d}/conf.d/b"));
    }

    #[test]
    fn collects_several_errors_first_is_pythons() {
        let errs = load_text(
            "[supervisord]\nminfds=x\n[program:a]\n[program:b]\ncommand=b\nstartsecs=z\n",
        )
        .1
        .unwrap_err();
        assert_eq!(errs.0.len(), 3);
        assert!(errs
            .first()
            .message
            .starts_with("invalid literal for int() with base 10: 'x'"));
    }

    #[test]
    fn missing_supervisord_section() {
        assert_eq!(
            first_error("[program:a]\ncommand=a\n"),
            ".ini file does not include supervisord section"
        );
    }

    #[test]
    fn cli_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, "[supervisord]\nloglevel=debug\nidentifier=file\n").unwrap();
        let mut opts = Options::for_file(&path);
        opts.identifier = Some("cli".into());
        opts.nodaemon = true;
        let c = load(&opts).unwrap();
        assert_eq!(c.supervisord.identifier, "cli");
        assert_eq!(c.supervisord.loglevel, LogLevel::Debug);
        assert!(c.supervisord.nodaemon);
    }

    #[test]
    fn fcgi_socket_required_and_parsed() {
        let (_d, c) =
            load_text("[supervisord]\n[fcgi-program:f]\ncommand=x\nsocket=tcp://LocalHost:9000\n");
        let g = &c.unwrap().groups[0];
        assert!(
            matches!(&g.kind, GroupKind::Fcgi { socket: FcgiSocket::Tcp { host, port: 9000 }, .. } if host == "localhost")
        );
        let msg = first_error("[supervisord]\n[fcgi-program:f]\ncommand=x\n");
        assert!(msg.starts_with("[fcgi-program:f] section requires a \"socket\" line"));
    }
}
