//! `[supervisord]`: read in Python's order (`ServerOptions.read_config`), then the command-line
//! overrides applied as `realize()` does (CLI > file > default).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::cli::Options;
use super::error::{ConfigError, ErrorKind};
use super::expand::{expand, Value};
use super::model::{LogLevel, LogTarget, Supervisord};
use super::reader::{strs, Reader};
use super::types;
use crate::py;

const SECTION: &str = "supervisord";

/// `tempfile.gettempdir()`: `$TMPDIR`, `$TEMP`, `$TMP` when they name a directory, else `/tmp`.
pub fn default_tempdir() -> String {
    for var in ["TMPDIR", "TEMP", "TMP"] {
        if let Ok(v) = std::env::var(var) {
            if std::path::Path::new(&v).is_dir() {
                return py::abspath(&v);
            }
        }
    }
    "/tmp".to_string()
}

/// Keeps a value, or records its error and yields `None` so reading goes on.
fn take<T>(errors: &mut Vec<ConfigError>, res: Result<T, ConfigError>) -> Option<T> {
    match res {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// Reads `[supervisord]`, recording each bad option in `errors` and carrying on with its default.
/// Also extends `reader.env` with the `environment=` pairs, as Python does.
pub(crate) fn read(
    reader: &mut Reader,
    cli: &Options,
    errors: &mut Vec<ConfigError>,
) -> Supervisord {
    let here = strs(&[("here", &reader.here)]);
    let r = &*reader;
    let minfds = take(
        errors,
        r.convert(SECTION, "minfds", "1024", &here, types::integer),
    )
    .unwrap_or(1024);
    let minprocs = take(
        errors,
        r.convert(SECTION, "minprocs", "200", &here, types::integer),
    )
    .unwrap_or(200);
    let directory = match take(errors, r.get(SECTION, "directory", None, &here, true)).flatten() {
        Some(got) => take(
            errors,
            r.check(SECTION, "directory", &got, types::existing_directory),
        ),
        None => None,
    };
    let user_got = take(errors, r.get(SECTION, "user", None, &here, true)).flatten();
    let umask = take(
        errors,
        r.convert(SECTION, "umask", "022", &here, types::octal),
    )
    .unwrap_or(0o22);
    let logfile = take(
        errors,
        r.convert(
            SECTION,
            "logfile",
            "supervisord.log",
            &here,
            types::existing_dirpath,
        ),
    )
    .unwrap_or_else(|| "supervisord.log".into());
    let logfile_maxbytes = take(
        errors,
        r.convert(SECTION, "logfile_maxbytes", "50MB", &here, types::byte_size),
    )
    .unwrap_or(50 << 20);
    let logfile_backups = take(
        errors,
        r.convert(SECTION, "logfile_backups", "10", &here, types::integer),
    )
    .unwrap_or(10);
    let loglevel = take(
        errors,
        r.convert(SECTION, "loglevel", "info", &here, types::log_level),
    )
    .unwrap_or(LogLevel::Info);
    let pidfile = take(
        errors,
        r.convert(
            SECTION,
            "pidfile",
            "supervisord.pid",
            &here,
            types::existing_dirpath,
        ),
    )
    .unwrap_or_else(|| "supervisord.pid".into());
    let identifier = take(
        errors,
        r.convert(SECTION, "identifier", "supervisor", &here, |v| {
            Ok(v.to_string())
        }),
    )
    .unwrap_or_else(|| "supervisor".into());
    let nodaemon = take(
        errors,
        r.convert(SECTION, "nodaemon", "false", &here, types::boolean),
    )
    .unwrap_or(false);
    let silent = take(
        errors,
        r.convert(SECTION, "silent", "false", &here, types::boolean),
    )
    .unwrap_or(false);
    let tempdir = default_tempdir();
    let childlogdir = take(
        errors,
        r.convert(
            SECTION,
            "childlogdir",
            &tempdir,
            &here,
            types::existing_directory,
        ),
    )
    .unwrap_or_else(|| tempdir.clone());
    let nocleanup = take(
        errors,
        r.convert(SECTION, "nocleanup", "false", &here, types::boolean),
    )
    .unwrap_or(false);
    let strip_ansi = take(
        errors,
        r.convert(SECTION, "strip_ansi", "false", &here, types::boolean),
    )
    .unwrap_or(false);
    let init = take(
        errors,
        r.convert(SECTION, "init", "false", &here, types::boolean),
    )
    .unwrap_or(false);
    let remember_stopped = take(
        errors,
        r.convert(SECTION, "remember_stopped", "false", &here, types::boolean),
    )
    .unwrap_or(false);

    // environment: expanded by saneget, then a second time with host_node_name available.
    let mut environment = BTreeMap::new();
    if let Some(got) = take(errors, r.get(SECTION, "environment", Some(""), &here, true)).flatten()
    {
        let mut exp = strs(&[("here", &r.here), ("host_node_name", &r.host_node_name)]);
        exp.extend(r.env.clone());
        match expand(&got.value, &exp, "environment") {
            Ok(v) => {
                let got2 = super::reader::Got {
                    value: v,
                    opt: got.opt.clone(),
                };
                if let Some(env) = take(
                    errors,
                    r.check(SECTION, "environment", &got2, types::key_value_pairs),
                ) {
                    environment = env;
                }
            }
            Err(e) => errors.push(r.error(
                ErrorKind::Expansion,
                e.to_string(),
                SECTION,
                got.opt.as_ref(),
                Some("environment"),
            )),
        }
    }
    for (k, v) in &environment {
        reader.env.insert(format!("ENV_{k}"), Value::Str(v.clone()));
    }

    // realize(): CLI values win; paths normalised; the user must exist.
    let user = cli
        .user
        .clone()
        .or(user_got.as_ref().map(|g| g.value.clone()));
    if let Some(u) = &user {
        if let Err(e) = types::name_to_uid(u) {
            match (&cli.user, &user_got) {
                (None, Some(got)) => errors.push(reader.error(
                    ErrorKind::Value,
                    e.0,
                    SECTION,
                    got.opt.as_ref(),
                    Some("user"),
                )),
                _ => errors.push(ConfigError::new(ErrorKind::Value, e.0)),
            }
        }
    }
    let logfile = cli
        .logfile
        .clone()
        .filter(|l| !l.is_empty())
        .unwrap_or(logfile);
    let logfile = if logfile == "syslog" {
        LogTarget::Syslog
    } else {
        LogTarget::File(PathBuf::from(py::normalize_path(&logfile)))
    };
    let pidfile = cli
        .pidfile
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or(pidfile);
    let nonneg = |v: i64| u64::try_from(v).unwrap_or(0);
    Supervisord {
        logfile,
        logfile_maxbytes: nonneg(cli.logfile_maxbytes.unwrap_or(logfile_maxbytes)),
        logfile_backups: u32::try_from(cli.logfile_backups.unwrap_or(logfile_backups)).unwrap_or(0),
        loglevel: cli.loglevel.unwrap_or(loglevel),
        pidfile: Some(PathBuf::from(py::normalize_path(&pidfile))),
        umask: cli.umask.unwrap_or(umask),
        nodaemon: cli.nodaemon || nodaemon,
        silent: cli.silent || silent,
        minfds: nonneg(cli.minfds.unwrap_or(minfds)),
        minprocs: nonneg(cli.minprocs.unwrap_or(minprocs)),
        nocleanup: cli.nocleanup || nocleanup,
        childlogdir: PathBuf::from(cli.childlogdir.clone().unwrap_or(childlogdir)),
        user,
        directory: cli.directory.clone().or(directory).map(PathBuf::from),
        strip_ansi: cli.strip_ansi || strip_ansi,
        environment,
        identifier: cli.identifier.clone().unwrap_or(identifier),
        init: cli.init || init,
        remember_stopped,
    }
}
