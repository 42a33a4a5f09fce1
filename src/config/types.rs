//! Datatype conversions of `supervisor/datatypes.py`, each failing with Python's exact
//! `ValueError` text.
//!
//! These are the only config functions that look at the system (users, groups, directories).

use std::collections::BTreeMap;

use super::model::{AutoRestart, EnvFile, KillMode, LogLevel};
use crate::py;
use crate::signal::Signal;
use crate::users;

/// Python's `ValueError(message)`: the text is what the user sees after `Error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

pub type Result<T> = std::result::Result<T, ValueError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(ValueError(msg.into()))
}

/// `integer()`: Python `int(value)`.
pub fn integer(v: &str) -> Result<i64> {
    py::parse_int(v, 10).ok_or_else(|| ValueError(py::int_error(v)))
}

/// `boolean()`: exact lowercase match, no stripping.
pub fn boolean(v: &str) -> Result<bool> {
    match v.to_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => err(format!("not a valid boolean value: {}", py::repr(v))),
    }
}

/// `byte_size()`: lowercased, then `<int>kb|mb|gb` or `<int>`; errors quote the lowercased number.
pub fn byte_size(v: &str) -> Result<i64> {
    let lower = v.to_lowercase();
    for (suffix, mult) in [("kb", 1i64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)] {
        if let Some(num) = lower.strip_suffix(suffix) {
            let n = integer(num)?;
            return n
                .checked_mul(mult)
                .ok_or_else(|| ValueError(py::int_error(num)));
        }
    }
    integer(&lower)
}

/// `octal_type()`: `int(v, 8)`.
pub fn octal(v: &str) -> Result<u32> {
    py::parse_int(v, 8)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ValueError(format!("{v} can not be converted to an octal type")))
}

/// Python's `SIGNUMS`: the values of every `SIG*` attribute of its `signal` module on Linux,
/// the signals 1..=31, SIGRTMIN (34) and SIGRTMAX (64), and, by accident, the constants
/// `SIG_DFL`/`SIG_BLOCK` (0), `SIG_IGN`/`SIG_UNBLOCK` (1) and `SIG_SETMASK` (2).
fn python_signal_number(n: i64) -> bool {
    (0..=31).contains(&n) || n == i64::from(libc::SIGRTMIN()) || n == i64::from(libc::SIGRTMAX())
}

/// `signal_number()`: a number Python knows, or a name with or without `SIG`, any case.
pub fn signal(v: &str) -> Result<Signal> {
    let num = match py::parse_int(v, 10) {
        Some(n) => n,
        None => {
            // `getattr(signal, 'SIG' + name)` unless the name already starts with SIG.
            let upper = py::strip(v).to_uppercase();
            let name = upper.strip_prefix("SIG").unwrap_or(&upper);
            let n = match name {
                "RTMIN" => Some(i64::from(libc::SIGRTMIN())),
                "RTMAX" => Some(i64::from(libc::SIGRTMAX())),
                "_DFL" | "_BLOCK" => Some(0),
                "_IGN" | "_UNBLOCK" => Some(1),
                "_SETMASK" => Some(2),
                _ => Signal::from_name(name).map(|s| i64::from(s.number())),
            };
            match n {
                Some(n) => n,
                None => return err(format!("value {} is not a valid signal name", py::repr(v))),
            }
        }
    };
    let sig = python_signal_number(num)
        .then(|| i32::try_from(num).ok().and_then(Signal::from_number))
        .flatten();
    sig.ok_or_else(|| {
        ValueError(format!(
            "value {} is not a valid signal number",
            py::repr(v)
        ))
    })
}

/// `list_of_exitcodes()`: comma-separated ints in 0..=255; empty → `[]`.
pub fn exitcodes(v: &str) -> Result<Vec<i32>> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || ValueError(format!("not a valid list of exit codes: {}", py::repr(v)));
    v.split(',')
        .map(|part| {
            py::parse_int(part, 10)
                .filter(|n| (0..=255).contains(n))
                .map(|n| n as i32)
                .ok_or_else(bad)
        })
        .collect()
}

/// `list_of_strings()`: comma split, each stripped; empty → `[]`.
pub fn list_of_strings(v: &str) -> Vec<String> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split(',').map(|s| py::strip(s).to_string()).collect()
}

/// `logging_level()`.
pub fn log_level(v: &str) -> Result<LogLevel> {
    Ok(match v.to_lowercase().as_str() {
        "critical" => LogLevel::Critical,
        "error" => LogLevel::Error,
        "warn" => LogLevel::Warn,
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        "blather" => LogLevel::Blather,
        _ => return err(format!("bad logging level name {}", py::repr(v))),
    })
}

/// `auto_restart()`: the error quotes the lowercased value.
pub fn auto_restart(v: &str) -> Result<AutoRestart> {
    let lower = v.to_lowercase();
    match lower.as_str() {
        "yes" | "true" | "on" | "1" => Ok(AutoRestart::Always),
        "no" | "false" | "off" | "0" => Ok(AutoRestart::Never),
        "unexpected" => Ok(AutoRestart::Unexpected),
        _ => err(format!("invalid 'autorestart' value {}", py::repr(&lower))),
    }
}

/// `killmode` (ours): `mixed` (the default) or `process` (Python's behaviour).
pub fn kill_mode(v: &str) -> Result<KillMode> {
    match v.to_lowercase().as_str() {
        "mixed" => Ok(KillMode::Mixed),
        "process" => Ok(KillMode::Process),
        _ => err(format!(
            "invalid 'killmode' value {} (mixed or process)",
            py::repr(v)
        )),
    }
}

/// `environment_file` (ours): comma-separated absolute paths, each optional with a leading `-`.
/// Relative paths are refused: the daemon's working directory is no place to look for them.
pub fn env_files(v: &str) -> Result<Vec<EnvFile>> {
    list_of_strings(v)
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (optional, path) = match p.strip_prefix('-') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, p.as_str()),
            };
            if !path.starts_with('/') {
                return err(format!(
                    "environment_file path {} is not absolute (use %(here)s for the config's \
                     directory)",
                    py::repr(path)
                ));
            }
            Ok(EnvFile {
                path: path.into(),
                optional,
            })
        })
        .collect()
}

/// What `logfile_name()` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFileName {
    None,
    Auto,
    Syslog,
    Path(String),
}

/// `logfile_name()`: NONE/OFF, AUTO, syslog (any case), else an `existing_dirpath`.
pub fn logfile_name(v: &str) -> Result<LogFileName> {
    match v.to_lowercase().as_str() {
        "none" | "off" => Ok(LogFileName::None),
        "auto" => Ok(LogFileName::Auto),
        "syslog" => Ok(LogFileName::Syslog),
        _ => existing_dirpath(v).map(LogFileName::Path),
    }
}

/// `existing_directory()`: `~` expanded; must be a directory.
pub fn existing_directory(v: &str) -> Result<String> {
    let nv = py::expanduser(v);
    if std::path::Path::new(&nv).is_dir() {
        Ok(nv)
    } else {
        err(format!("{v} is not an existing directory"))
    }
}

/// `existing_dirpath()`: `~` expanded; the directory part (if any) must exist.
pub fn existing_dirpath(v: &str) -> Result<String> {
    let nv = py::expanduser(v);
    let dir = py::dirname(&nv);
    if dir.is_empty() || std::path::Path::new(dir).is_dir() {
        Ok(nv)
    } else {
        err(format!(
            "The directory named as part of the path {v} does not exist"
        ))
    }
}

/// `name_to_uid()`: a numeric uid that exists, or a user name.
pub fn name_to_uid(v: &str) -> Result<u32> {
    match py::parse_int(v, 10) {
        Some(n) => {
            let found = u32::try_from(n).ok().and_then(users::user_by_uid);
            match found {
                Some(u) => Ok(u.uid.as_raw()),
                None => err(format!("Invalid user id {v}")),
            }
        }
        None => match users::user_by_name(v) {
            Some(u) => Ok(u.uid.as_raw()),
            None => err(format!("Invalid user name {v}")),
        },
    }
}

/// `name_to_gid()`.
pub fn name_to_gid(v: &str) -> Result<u32> {
    match py::parse_int(v, 10) {
        Some(n) => {
            let found = u32::try_from(n).ok().and_then(users::group_by_gid);
            match found {
                Some(g) => Ok(g.gid.as_raw()),
                None => err(format!("Invalid group id {v}")),
            }
        }
        None => match users::group_by_name(v) {
            Some(g) => Ok(g.gid.as_raw()),
            None => err(format!("Invalid group name {v}")),
        },
    }
}

/// `gid_for_uid()`: the user's primary group.
pub fn gid_for_uid(uid: u32) -> Option<u32> {
    users::user_by_uid(uid).map(|u| u.gid.as_raw())
}

/// `colon_separated_user_group()`: `user` → `(uid, None)` (Python's `-1`), `user:group`.
pub fn user_group(v: &str) -> Result<(u32, Option<u32>)> {
    let parsed = match v.split_once(':') {
        None => name_to_uid(v).map(|u| (u, None)),
        Some((u, g)) => name_to_uid(u).and_then(|u| Ok((u, Some(name_to_gid(g)?)))),
    };
    parsed.map_err(|_| ValueError(format!("Invalid user:group definition {v}")))
}

/// `process_or_group_name()`: stripped; no space, `:` or `/`.
pub fn process_or_group_name(v: &str) -> Result<String> {
    let s = py::strip(v);
    for c in [' ', ':', '/'] {
        if s.contains(c) {
            return err(format!(
                "Invalid name: {} because of character: {}",
                py::repr(v),
                py::repr(&c.to_string())
            ));
        }
    }
    Ok(s.to_string())
}

/// `inet_address()`: `host:port`, `port`, `*:port`; host lowercased, `*`/empty → `""`.
pub fn inet_address(v: &str) -> Result<(String, u16)> {
    match v.rsplit_once(':') {
        Some((host, port)) => {
            if port.is_empty() {
                return err(format!("no port number specified in {}", py::repr(port)));
            }
            let port = port_number(port)?;
            let host = host.to_lowercase();
            let host = if host == "*" { String::new() } else { host };
            Ok((host, port))
        }
        None => port_number(v)
            .map(|p| (String::new(), p))
            .map_err(|_| ValueError(format!("not a valid port number: {} ", py::repr(v)))),
    }
}

/// `port_number`: an integer in 1..=65535.
pub fn port_number(v: &str) -> Result<u16> {
    let n = integer(v)?;
    if n < 1 {
        return err(format!("{n} is below lower bound (1)"));
    }
    if n > 0xffff {
        return err(format!("{n} is above upper bound (65535)"));
    }
    Ok(n as u16)
}

/// One token of Python's non-POSIX `shlex.shlex` as `dict_of_key_value_pairs` configures it.
fn shlex_tokens(s: &str) -> Result<Vec<String>> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || "/.+-():".contains(c);
    let is_ws = |c: char| " \t\r\n".contains(c);
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    // State: ' ' (between tokens), 'a' (in a word), or a quote char.
    let mut state = ' ';
    let mut token = String::new();
    loop {
        let next = chars.get(i).copied();
        i += 1;
        match state {
            ' ' => match next {
                None => break,
                Some(c) if is_ws(c) => {}
                Some('#') => {
                    // Comment: skip to the end of the line.
                    while let Some(&c) = chars.get(i) {
                        i += 1;
                        if c == '\n' {
                            break;
                        }
                    }
                }
                Some(c) if is_word(c) => {
                    token.push(c);
                    state = 'a';
                }
                Some(c) if c == '"' || c == '\'' => {
                    token.push(c);
                    state = c;
                }
                Some(c) => tokens.push(c.to_string()),
            },
            'a' => match next {
                None => {
                    tokens.push(std::mem::take(&mut token));
                    break;
                }
                Some(c) if is_ws(c) => {
                    tokens.push(std::mem::take(&mut token));
                    state = ' ';
                }
                Some('#') => {
                    // Non-POSIX quirk: the comment is skipped and the word goes on.
                    while let Some(&c) = chars.get(i) {
                        i += 1;
                        if c == '\n' {
                            break;
                        }
                    }
                }
                Some(c) if is_word(c) || c == '"' || c == '\'' => token.push(c),
                Some(c) => {
                    tokens.push(std::mem::take(&mut token));
                    tokens.push(c.to_string());
                    state = ' ';
                }
            },
            q => match next {
                None => return err("No closing quotation"),
                Some(c) => {
                    token.push(c);
                    if c == q {
                        tokens.push(std::mem::take(&mut token));
                        state = ' ';
                    }
                }
            },
        }
    }
    Ok(tokens)
}

/// `dict_of_key_value_pairs()`: `K=v,K2="a,b"`; the separator token is never checked.
pub fn key_value_pairs(v: &str) -> Result<BTreeMap<String, String>> {
    let tokens = shlex_tokens(v)?;
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() {
        let kev = &tokens[i..tokens.len().min(i + 3)];
        if kev.len() != 3 || kev[1] != "=" {
            return err(format!("Unexpected end of key/value pairs in value '{v}'"));
        }
        out.insert(kev[0].clone(), kev[2].trim_matches(['\'', '"']).to_string());
        i += 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().0
    }

    #[test]
    fn boolean_values() {
        assert!(boolean("Yes").unwrap());
        assert!(!boolean("OFF").unwrap());
        assert_eq!(msg(boolean("maybe")), "not a valid boolean value: 'maybe'");
    }

    #[test]
    fn integer_allows_python_literals() {
        assert_eq!(integer(" 1_000 ").unwrap(), 1000);
        assert_eq!(integer("-3").unwrap(), -3);
        assert_eq!(
            msg(integer("1.5")),
            "invalid literal for int() with base 10: '1.5'"
        );
    }

    #[test]
    fn byte_size_suffixes_any_case() {
        assert_eq!(byte_size("1KB").unwrap(), 1024);
        assert_eq!(byte_size("2mb").unwrap(), 2 << 20);
        assert_eq!(byte_size("1Gb").unwrap(), 1 << 30);
        assert_eq!(byte_size("0").unwrap(), 0);
    }

    #[test]
    fn byte_size_rejects_1k() {
        assert_eq!(
            msg(byte_size("1K")),
            "invalid literal for int() with base 10: '1k'"
        );
        assert_eq!(
            msg(byte_size("1.5MB")),
            "invalid literal for int() with base 10: '1.5'"
        );
    }

    #[test]
    fn octal_rejects_8() {
        assert_eq!(octal("022").unwrap(), 0o22);
        assert_eq!(octal("0o777").unwrap(), 0o777);
        assert_eq!(msg(octal("8")), "8 can not be converted to an octal type");
    }

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(signal("sigterm").unwrap(), Signal::TERM);
        assert_eq!(signal(" Hup").unwrap(), Signal::HUP);
        assert_eq!(signal("9").unwrap(), Signal::KILL);
        assert_eq!(msg(signal("FOO")), "value 'FOO' is not a valid signal name");
        assert_eq!(msg(signal("40")), "value '40' is not a valid signal number");
    }

    #[test]
    fn exitcodes_range_and_empty() {
        assert_eq!(exitcodes("0, 2").unwrap(), vec![0, 2]);
        assert_eq!(exitcodes("").unwrap(), Vec::<i32>::new());
        assert_eq!(
            msg(exitcodes("256")),
            "not a valid list of exit codes: '256'"
        );
    }

    #[test]
    fn loglevel_warning_is_invalid() {
        assert_eq!(log_level("WARN").unwrap(), LogLevel::Warn);
        assert_eq!(
            msg(log_level("warning")),
            "bad logging level name 'warning'"
        );
    }

    #[test]
    fn autorestart_error_quotes_lowercased() {
        assert_eq!(auto_restart("TRUE").unwrap(), AutoRestart::Always);
        assert_eq!(
            msg(auto_restart("Sometimes")),
            "invalid 'autorestart' value 'sometimes'"
        );
    }

    #[test]
    fn logfile_name_magic_words() {
        assert_eq!(logfile_name("Off").unwrap(), LogFileName::None);
        assert_eq!(logfile_name("auto").unwrap(), LogFileName::Auto);
        assert_eq!(logfile_name("SYSLOG").unwrap(), LogFileName::Syslog);
        assert_eq!(
            msg(logfile_name("/nonexistent/dir/x.log")),
            "The directory named as part of the path /nonexistent/dir/x.log does not exist"
        );
    }

    #[test]
    fn names_reject_space_colon_slash() {
        assert_eq!(process_or_group_name(" ok ").unwrap(), "ok");
        assert_eq!(
            msg(process_or_group_name("a b")),
            "Invalid name: 'a b' because of character: ' '"
        );
        assert_eq!(
            msg(process_or_group_name("a/b:c")),
            "Invalid name: 'a/b:c' because of character: ':'"
        );
    }

    #[test]
    fn inet_address_forms() {
        assert_eq!(inet_address("9001").unwrap(), (String::new(), 9001));
        assert_eq!(inet_address("*:9001").unwrap(), (String::new(), 9001));
        assert_eq!(inet_address(":9001").unwrap(), (String::new(), 9001));
        assert_eq!(
            inet_address("LocalHost:9001").unwrap(),
            ("localhost".into(), 9001)
        );
        assert_eq!(msg(inet_address("x")), "not a valid port number: 'x' ");
        assert_eq!(msg(inet_address("h:")), "no port number specified in ''");
        assert_eq!(msg(inet_address("h:0")), "0 is below lower bound (1)");
    }

    #[test]
    fn environment_quoted_commas() {
        let d = key_value_pairs("A=1,B=\"x,y\",C='z', D=/a/b:c").unwrap();
        assert_eq!(d["A"], "1");
        assert_eq!(d["B"], "x,y");
        assert_eq!(d["C"], "z");
        assert_eq!(d["D"], "/a/b:c");
        assert!(key_value_pairs("A=1,").unwrap().contains_key("A"));
    }

    #[test]
    fn environment_unchecked_separator_quirk() {
        let d = key_value_pairs("D=a b").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d["D"], "a");
        assert_eq!(
            msg(key_value_pairs("K=a b c")),
            "Unexpected end of key/value pairs in value 'K=a b c'"
        );
    }

    #[test]
    fn environment_unclosed_quote() {
        assert_eq!(msg(key_value_pairs("A=\"x")), "No closing quotation");
    }

    #[test]
    fn user_group_resolution() {
        assert_eq!(name_to_uid("root").unwrap(), 0);
        assert_eq!(name_to_uid("0").unwrap(), 0);
        assert_eq!(
            msg(name_to_uid("no_such_user_x")),
            "Invalid user name no_such_user_x"
        );
        assert_eq!(user_group("root").unwrap(), (0, None));
        assert_eq!(
            msg(user_group("root:no_such_group_x")),
            "Invalid user:group definition root:no_such_group_x"
        );
    }
}
