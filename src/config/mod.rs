//! Configuration: reading `supervisord.conf` exactly as Supervisor 4.3 does.
//!
//! Two stages, as in ripgrep's low/high args: the ini layer ([`ini`]) yields raw strings with
//! `RawConfigParser` semantics; the builders ([`supervisord`], [`server`], [`program`]) expand
//! `%(...)s`, convert datatypes and produce the typed [`Config`] the engine consumes.
//! [`load`] is the one entry point; [`cli`] turns argv into the [`Options`] it takes.

pub mod check;
pub mod cli;
mod error;
pub mod expand;
pub mod ini;
mod model;
mod program;
mod py;
mod reader;
mod server;
mod supervisord;
pub mod types;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

pub use cli::{Action, Options, UsageError};
pub use error::{ConfigError, ConfigErrors, ErrorKind};
pub use model::*;
pub use program::EVENT_TYPES;
pub use server::MAIN_RPCINTERFACE;

use expand::{Expansions, Value};
use ini::Ini;
use reader::{strs, Reader};

impl Config {
    /// The `SUPERVISOR_SERVER_URL` fallback (`realize()`): the first unix server, else the
    /// last inet server; `None` without servers.
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
    let name = configfile.to_string_lossy().into_owned();
    let here = py::abspath(py::dirname(&name));
    if !configfile.exists() {
        return Err(file_error(format!("could not find config file {name}")));
    }
    let text = read_text(&configfile)?;
    let mut parsed = Ini::new();
    parsed.read_str(&text, &configfile).map_err(syntax_error)?;
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
    // Python merges each process's environment over [supervisord]'s once all groups are read.
    for p in groups.iter_mut().flat_map(|g| g.processes.iter_mut()) {
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
