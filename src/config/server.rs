//! `[unix_http_server]`, `[inet_http_server]` (and their `:name` variants), `[rpcinterface:x]`
//! and `[supervisorctl]`, as `server_configs_from_parser`, `get_plugins` and
//! `ClientOptions.read_config` read them.

use std::path::PathBuf;

use super::error::{ConfigError, ErrorKind};
use super::expand::{ExpandError, Expansions};
use super::ini::Ini;
use super::model::{Credentials, InetHttpServer, RpcInterface, Supervisorctl, UnixHttpServer};
use super::reader::{strs, Reader};
use super::types;
use crate::py;

/// The factory Supervisor ships; everything else is a Python plugin we cannot load.
pub const MAIN_RPCINTERFACE: &str = "supervisor.rpcinterface:make_main_rpcinterface";
const FACTORY_KEY: &str = "supervisor.rpcinterface_factory";

fn credentials(r: &Reader, section: &str) -> Result<Option<Credentials>, ConfigError> {
    let none = Expansions::new();
    let username = r.get(section, "username", None, &none, true)?;
    let password = r.get(section, "password", None, &none, true)?;
    match (username, password) {
        (None, None) => Ok(None),
        (Some(u), Some(p)) => Ok(Some(Credentials {
            username: u.value,
            password: p.value,
        })),
        (u, p) => {
            let opt = u.or(p).and_then(|g| g.opt);
            Err(r.error(
                ErrorKind::Missing,
                format!(
                    "Section [{section}] contains incomplete authentication: If a username or a \
                     password is specified, both the username and password must be specified"
                ),
                section,
                opt.as_ref(),
                None,
            ))
        }
    }
}

fn sections_with_prefix(r: &Reader, prefix: &str) -> Vec<String> {
    r.ini
        .sections()
        .filter(|s| s.name.starts_with(prefix))
        .map(|s| s.name.clone())
        .collect()
}

/// All `inet_http_server*` sections, in file order.
pub(crate) fn inet_servers(r: &Reader, errors: &mut Vec<ConfigError>) -> Vec<InetHttpServer> {
    let mut out = Vec::new();
    for section in sections_with_prefix(r, "inet_http_server") {
        let res = (|| {
            let auth = credentials(r, &section)?;
            let Some(port) = r.get(&section, "port", None, &Expansions::new(), true)? else {
                return Err(r.error(
                    ErrorKind::Missing,
                    format!("section [{section}] has no port value"),
                    &section,
                    None,
                    Some("port"),
                ));
            };
            let (host, port) = r.check(&section, "port", &port, types::inet_address)?;
            Ok(InetHttpServer {
                section: section.clone(),
                host,
                port,
                auth,
            })
        })();
        match res {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e),
        }
    }
    out
}

/// All `unix_http_server*` sections, in file order.
pub(crate) fn unix_servers(r: &Reader, errors: &mut Vec<ConfigError>) -> Vec<UnixHttpServer> {
    let mut out = Vec::new();
    for section in sections_with_prefix(r, "unix_http_server") {
        let res = (|| {
            let here = strs(&[("here", &r.here)]);
            let Some(file) = r.get(&section, "file", None, &here, true)? else {
                return Err(r.error(
                    ErrorKind::Missing,
                    format!("section [{section}] has no file value"),
                    &section,
                    None,
                    Some("file"),
                ));
            };
            let path = py::normalize_path(py::strip(&file.value));
            let auth = credentials(r, &section)?;
            let none = Expansions::new();
            let chown = match r.get(&section, "chown", None, &none, true)? {
                Some(got) => Some(r.check(&section, "chown", &got, |v| {
                    types::user_group(v)
                        .map_err(|_| types::ValueError(format!("Invalid sockchown value {v}")))
                })?),
                None => None,
            };
            let chmod = match r.get(&section, "chmod", None, &none, true)? {
                Some(got) => r.check(&section, "chmod", &got, |v| {
                    types::octal(v)
                        .map_err(|_| types::ValueError(format!("Invalid chmod value {v}")))
                })?,
                None => 0o700,
            };
            Ok(UnixHttpServer {
                section: section.clone(),
                file: PathBuf::from(path),
                chmod,
                chown,
                auth,
            })
        })();
        match res {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e),
        }
    }
    out
}

/// `[rpcinterface:x]` sections. Non-builtin factories are accepted with a warning.
pub(crate) fn rpcinterfaces(r: &Reader, errors: &mut Vec<ConfigError>) -> Vec<RpcInterface> {
    let mut out = Vec::new();
    let none = Expansions::new();
    for section in sections_with_prefix(r, "rpcinterface:") {
        let name = section
            .split_once(':')
            .map(|(_, n)| n)
            .unwrap_or("")
            .to_string();
        let factory = match r.get(&section, FACTORY_KEY, None, &none, true) {
            Ok(Some(f)) => f.value,
            Ok(None) => {
                errors.push(r.error(
                    ErrorKind::Missing,
                    format!("section [{section}] does not specify a {FACTORY_KEY}"),
                    &section,
                    None,
                    Some(FACTORY_KEY),
                ));
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        // The other keys are factory kwargs; Python expands them (and fails on bad ones).
        let keys: Vec<String> = r
            .ini
            .options(&section)
            .iter()
            .map(|o| o.name.clone())
            .collect();
        for k in keys.iter().filter(|k| *k != FACTORY_KEY) {
            if let Err(e) = r.get(&section, k, None, &none, true) {
                errors.push(e);
            }
        }
        let builtin = factory == MAIN_RPCINTERFACE;
        if !builtin {
            r.warnings_sink().push(format!(
                "[{section}] uses the Python plugin factory {factory}, which supervisor-rs \
                 cannot load; methods in the '{name}' namespace will not be available"
            ));
        }
        out.push(RpcInterface {
            name,
            factory,
            builtin,
        });
    }
    out
}

/// `[supervisorctl]` as supervisorctl reads it: the main file only, its own environment,
/// `%(here)s` available in `serverurl` and `history_file`. `None` when absent or unreadable.
pub(crate) fn supervisorctl(main: &Ini, configfile: &str) -> Option<Supervisorctl> {
    supervisorctl_section(main, configfile).ok().flatten()
}

/// `ClientOptions.read_config` on an already parsed file: `None` without a `[supervisorctl]`
/// section, the first value that cannot be expanded as an error (Python's `ValueError`).
pub fn supervisorctl_section(
    main: &Ini,
    configfile: &str,
) -> Result<Option<Supervisorctl>, ExpandError> {
    const S: &str = "supervisorctl";
    if main.section(S).is_none() {
        return Ok(None);
    }
    let here = py::dirname(&py::normalize_path(configfile)).to_string();
    let mut env = Expansions::new();
    for (k, v) in std::env::vars_os() {
        env.insert(
            format!("ENV_{}", k.to_string_lossy()),
            super::expand::Value::Str(v.to_string_lossy().into_owned()),
        );
    }
    let get = |opt: &str, with_here: bool| -> Result<Option<String>, ExpandError> {
        let Some(o) = main.get(S, opt) else {
            return Ok(None);
        };
        let mut exp = env.clone();
        if with_here {
            exp.extend(strs(&[("here", &here)]));
        }
        super::expand::expand(&o.value, &exp, opt).map(Some)
    };
    let serverurl = get("serverurl", true)?.unwrap_or_else(|| "http://localhost:9001".into());
    let serverurl = match serverurl.strip_prefix("unix://") {
        Some(p) => format!("unix://{}", py::normalize_path(p)),
        None => serverurl,
    };
    let prompt = get("prompt", false)?.unwrap_or_else(|| "supervisor".into());
    let username = get("username", false)?;
    let password = get("password", false)?;
    let history_file = get("history_file", true)?
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(py::normalize_path(&h)));
    Ok(Some(Supervisorctl {
        serverurl,
        username,
        password,
        prompt,
        history_file,
    }))
}
