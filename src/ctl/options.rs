//! supervisorctl's command line and `[supervisorctl]` section, resolved as Python's
//! `ClientOptions.realize` does: getopt syntax, command line over file over default, the same
//! config search path and the same usage errors.

use std::path::{Path, PathBuf};

use crate::config::getopt::getopt;
use crate::config::ini::Ini;
use crate::config::{search_paths, supervisorctl_section};
use crate::py;

/// The module docstring of `supervisorctl.py`, printed by `-h` with `%s` → argv[0].
const HELP: &str = r#"supervisorctl -- control applications run by supervisord from the cmd line.

Usage: %s [options] [action [arguments]]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-h/--help -- print usage message and exit
-i/--interactive -- start an interactive shell after executing commands
-s/--serverurl URL -- URL on which supervisord server is listening
     (default "http://localhost:9001").
-u/--username USERNAME -- username to use for authentication with server
-p/--password PASSWORD -- password to use for authentication with server
-r/--history-file -- keep a readline history (if readline is available)

action [arguments] -- see below

Actions are commands like "tail" or "stop".  If -i is specified or no action is
specified on the command line, a "shell" interpreting actions typed
interactively is started.  Use the action "help" to find out about available
actions.
"#;

/// Short options in getopt syntax, in the order Python registers them.
const SHORT: &str = "h?c:is:u:p:r:";
/// Long options; `no-color` is ours (Python rejects it as unrecognized).
const LONG: &[&str] = &[
    "help",
    "configuration=",
    "interactive",
    "serverurl=",
    "username=",
    "password=",
    "history_file=",
    "no-color",
];

/// Everything supervisorctl needs to know before it runs a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlOptions {
    pub progname: String,
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The prompt's stem: the shell shows `<prompt>> `.
    pub prompt: String,
    pub history_file: Option<PathBuf>,
    /// Interactive: a shell, prompts for credentials, `y/N?` confirmations.
    pub interactive: bool,
    /// `--no-color`: never colour states, even on a terminal.
    pub no_color: bool,
    /// The action and its arguments; empty for the shell.
    pub args: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Run(CtlOptions),
    /// `-h`: the help text, to print on stdout and exit 0.
    Help(String),
}

/// A bad command line or config: `Error: <msg>` / `For help, use <progname> -h`, exit 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub progname: String,
}

/// Parses supervisorctl's arguments (without argv[0]) and reads its config file.
pub fn parse(progname: &str, args: &[String]) -> Result<Invocation, UsageError> {
    let usage = |message: String| UsageError {
        message,
        progname: progname.to_string(),
    };
    let (pairs, positional) = getopt(args, SHORT, LONG).map_err(usage)?;
    let mut configfile: Option<String> = None;
    let mut serverurl: Option<String> = None;
    let mut username: Option<String> = None;
    let mut password: Option<String> = None;
    let mut history: Option<String> = None;
    let mut interactive = false;
    let mut no_color = false;
    let mut seen: Vec<&str> = Vec::new();
    for (opt, arg) in &pairs {
        let name = match opt.as_str() {
            "-h" | "-?" | "--help" => {
                return Ok(Invocation::Help(HELP.replace("%s", progname) + "\n"))
            }
            "--no-color" => {
                no_color = true;
                continue;
            }
            "-c" | "--configuration" => {
                configfile = Some(arg.clone());
                "configfile"
            }
            "-i" | "--interactive" => {
                interactive = true;
                "interactive"
            }
            "-s" | "--serverurl" => {
                if !is_url(arg) {
                    return Err(usage(format!(
                        "invalid value for {opt} {}: value {} is not a URL",
                        py::repr(arg),
                        py::repr(arg)
                    )));
                }
                serverurl = Some(arg.clone());
                "serverurl"
            }
            "-u" | "--username" => {
                username = Some(arg.clone());
                "username"
            }
            "-p" | "--password" => {
                password = Some(arg.clone());
                "password"
            }
            "-r" | "--history_file" => {
                history = Some(arg.clone());
                "history"
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

    let configfile = configfile.or_else(|| {
        search_paths(progname)
            .into_iter()
            .find(|p| Path::new(p).exists())
    });
    let section = match &configfile {
        Some(file) => Some(read_section(file).map_err(usage)?),
        None => None,
    };
    let from_file =
        |f: fn(&crate::config::Supervisorctl) -> Option<String>| section.as_ref().and_then(f);
    let args_empty = positional.is_empty();
    Ok(Invocation::Run(CtlOptions {
        progname: progname.to_string(),
        serverurl: serverurl
            .or_else(|| from_file(|s| Some(s.serverurl.clone())))
            .unwrap_or_else(|| "http://localhost:9001".to_string()),
        username: username.or_else(|| from_file(|s| s.username.clone())),
        password: password.or_else(|| from_file(|s| s.password.clone())),
        prompt: from_file(|s| Some(s.prompt.clone())).unwrap_or_else(|| "supervisor".to_string()),
        // Python parses `-r` into an attribute nothing reads; ours is honoured.
        history_file: history
            .map(|h| PathBuf::from(py::normalize_path(&h)))
            .or_else(|| section.as_ref().and_then(|s| s.history_file.clone())),
        interactive: interactive || args_empty,
        no_color,
        args: positional,
    }))
}

/// `ClientOptions.read_config`: the main file only (no `[include]`), which must have a
/// `[supervisorctl]` section.
fn read_section(file: &str) -> Result<crate::config::Supervisorctl, String> {
    let path = Path::new(file);
    if !path.exists() {
        return Err(format!("could not find config file {file}"));
    }
    let text = std::fs::read(path).map_err(|_| format!("could not read config file {file}"))?;
    let mut ini = Ini::new();
    ini.read_str(&String::from_utf8_lossy(&text), path)
        .map_err(|e| e.to_string())?;
    match supervisorctl_section(&ini, file) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(".ini file does not include supervisorctl section".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `urllib.parse.urlparse` enough for `datatypes.url` and `open`: the scheme, if any.
pub fn url_scheme(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// `datatypes.url`: a scheme and a network location or a path.
fn is_url(value: &str) -> bool {
    let Some(scheme) = url_scheme(value) else {
        return false;
    };
    let rest = &value[scheme.len() + 1..];
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    !rest.is_empty() && rest != "//"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn run(a: &[&str]) -> CtlOptions {
        match parse("supervisorctl", &args(a)).unwrap() {
            Invocation::Run(o) => o,
            other => panic!("{other:?}"),
        }
    }

    fn error(a: &[&str]) -> String {
        parse("supervisorctl", &args(a)).unwrap_err().message
    }

    #[test]
    fn options_stop_at_the_action() {
        let o = run(&["-s", "unix:///x.sock", "status", "-c", "y"]);
        assert_eq!(o.serverurl, "unix:///x.sock");
        assert_eq!(o.args, args(&["status", "-c", "y"]));
        assert!(!o.interactive);
        assert!(run(&["-s", "http://h:1"]).interactive);
    }

    #[test]
    fn python_usage_errors() {
        assert_eq!(
            error(&["-s", "foo"]),
            "invalid value for -s 'foo': value 'foo' is not a URL"
        );
        assert_eq!(
            error(&["-u", "a", "-u", "b"]),
            "conflicting command line option '-u'"
        );
        assert_eq!(error(&["-x"]), "option -x not recognized");
        assert_eq!(
            error(&["-c", "/nonexistent/s.conf"]),
            "could not find config file /nonexistent/s.conf"
        );
    }

    #[test]
    fn help_names_the_program() {
        let Invocation::Help(h) = parse("/bin/ctl", &args(&["-h"])).unwrap() else {
            panic!()
        };
        assert!(h.starts_with("supervisorctl -- control"));
        assert!(h.contains("Usage: /bin/ctl [options] [action [arguments]]"));
    }

    #[test]
    fn urls_as_python_parses_them() {
        assert!(is_url("http://localhost:9001"));
        assert!(is_url("unix:///tmp/s.sock"));
        assert!(is_url("localhost:9001"));
        assert!(!is_url("foo"));
        assert!(!is_url("http://"));
        assert_eq!(url_scheme("unix:///x"), Some("unix"));
        assert_eq!(url_scheme("/x"), None);
    }
}
