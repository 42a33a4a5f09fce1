//! `supervisorctl`: Supervisor's command-line client, a drop-in for Python's against our daemon
//! and against Python's supervisord 4.3: the same commands, output lines, exit codes and help.
//!
//! - [`options`]: the command line and `[supervisorctl]`.
//! - [`client`]: XML-RPC calls and log-tail streams over HTTP (unix socket or TCP).
//! - [`Controller`] (here): one command line → one command, Python's `onecmd` and `upcheck`.
//! - `process`, `config`, `daemon`, `tail`: the commands, grouped as the API groups them.
//! - [`shell`]: the interactive shell (line editing, history, completion).
//! - `extras`: what Python's ctl lacks — `status --json`, colour, completion scripts.

pub mod client;
mod config;
mod daemon;
mod extras;
mod help;
pub mod options;
mod out;
mod process;
mod prompt;
pub mod shell;
mod tail;

use std::future::Future;
use std::io::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use client::{CallError, Client};
use options::{CtlOptions, Invocation};
use out::Out;

use crate::rpc::fault::code;
use crate::rpc::Value;
// Python's `make_namespec`: `name` when the group has the process's name, else `group:name`.
use crate::supervisor::info::namespec as make_namespec;

/// LSB exit statuses of init scripts, as `LSBInitExitStatuses`.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const GENERIC: i32 = 1;
    pub const INVALID_ARGS: i32 = 2;
    pub const UNIMPLEMENTED_FEATURE: i32 = 3;
    pub const INSUFFICIENT_PRIVILEGES: i32 = 4;
    pub const NOT_INSTALLED: i32 = 5;
    pub const NOT_RUNNING: i32 = 7;
    /// `status`: something matched is not running (`LSBStatusExitStatuses`).
    pub const STATUS_NOT_RUNNING: i32 = 3;
    /// `status`: a bad name or no server.
    pub const STATUS_UNKNOWN: i32 = 4;
}

/// The XML-RPC API version this client speaks (`rpcinterface.API_VERSION`).
const API_VERSION: &str = "3.0";

/// What a command asks of the shell afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// `quit`, `exit`, end of input.
    Quit,
}

/// Runs supervisorctl with `argv` (including argv[0]); returns its exit status.
pub fn main(argv: Vec<String>) -> i32 {
    let progname = argv
        .first()
        .cloned()
        .unwrap_or_else(|| "supervisorctl".into());
    let invocation = match options::parse(&progname, &argv[1.min(argv.len())..]) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("Error: {}", e.message);
            eprintln!("For help, use {} -h", e.progname);
            return 2;
        }
    };
    let opts = match invocation {
        Invocation::Help(text) => {
            let mut out = Out::default();
            out.bytes(text.as_bytes());
            out.flush();
            return 0;
        }
        Invocation::Run(o) => o,
    };
    // One thread: a ctl makes one call at a time, and a second thread would cost more to start
    // and to hand each response across than the work it could share.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("supervisorctl: cannot start: {e}");
            return 1;
        }
    };
    let mut ctl = Controller::new(opts, Rc::new(runtime));
    if !ctl.opts.args.is_empty() {
        let line = ctl.opts.args.join(" ");
        ctl.run_line(&line);
        ctl.out.flush();
        return ctl.exitstatus;
    }
    shell::run(&mut ctl);
    ctl.out.flush();
    // The shell's exit status is always 0, as Python's.
    0
}

/// One session with a server: Python's `Controller` and its default plugin in one.
pub struct Controller {
    pub opts: CtlOptions,
    pub exitstatus: i32,
    out: Out,
    /// Shared with the shell's completer, which makes its calls between command lines.
    runtime: Rc<tokio::runtime::Runtime>,
    /// Colour states: stdout is a terminal, and neither `--no-color` nor `NO_COLOR` says no.
    color: bool,
    /// Set while a command handles Ctrl-C itself ([`OwnCtrlC`]).
    owns_ctrl_c: Arc<AtomicBool>,
}

impl Controller {
    pub fn new(opts: CtlOptions, runtime: Rc<tokio::runtime::Runtime>) -> Controller {
        let color = extras::color_wanted(opts.no_color);
        Controller {
            opts,
            exitstatus: exit::SUCCESS,
            out: Out::default(),
            runtime,
            color,
            owns_ctrl_c: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The server and credentials commands use now (`open` and the login prompt change them).
    pub fn client(&self) -> Client {
        Client {
            serverurl: self.opts.serverurl.clone(),
            username: self.opts.username.clone(),
            password: self.opts.password.clone(),
        }
    }

    /// `Controller.output`.
    fn output(&mut self, message: &str) {
        self.out.line(message);
    }

    /// One XML-RPC call on this session's server.
    async fn call(&self, method: &str, params: &[Value]) -> Result<Value, CallError> {
        self.client().call(method, params).await
    }

    /// Runs one command line to completion (or until Ctrl-C) on the runtime; what it printed is
    /// flushed before this returns.
    pub fn run_line(&mut self, line: &str) -> Flow {
        let rt = self.runtime.clone();
        let owned = self.owns_ctrl_c.clone();
        let flow = rt.block_on(interruptible(self.onecmd(line), &owned));
        self.out.flush();
        match flow {
            Some(f) => f,
            None => {
                // Ctrl-C while a command waited on the server: the shell gets its prompt back;
                // a one-shot ctl ends as a SIGINT would end it.
                self.output("");
                self.out.flush();
                if !self.opts.interactive || !self.opts.args.is_empty() {
                    std::process::exit(130);
                }
                Flow::Continue
            }
        }
    }

    /// `cmd.Cmd.onecmd` as supervisorctl overrides it: parse, dispatch, and report the errors
    /// no command handled (authentication, connection, unexpected faults).
    async fn onecmd(&mut self, line: &str) -> Flow {
        let Some((cmd, arg, line)) = parseline(line) else {
            return Flow::Continue;
        };
        if cmd.is_empty() || !is_command(&cmd) {
            self.output(&format!("*** Unknown syntax: {line}"));
            self.exitstatus = exit::GENERIC;
            return Flow::Continue;
        }
        loop {
            match self.dispatch(&cmd, &arg).await {
                Ok(flow) => return flow,
                Err(CallError::Http { status: 401, .. }) => {
                    self.output("Server requires authentication");
                    if !self.opts.interactive {
                        self.exitstatus = exit::GENERIC;
                        return Flow::Continue;
                    }
                    if !self.ask_credentials() {
                        return Flow::Continue;
                    }
                }
                Err(e) => {
                    self.output(&format!("error: <class '{}'>, {e}", e.python_class()));
                    self.exitstatus = exit::GENERIC;
                    return Flow::Continue;
                }
            }
        }
    }

    /// `Username:` on stdout, `Password:` on the terminal without echo, then a blank line, as
    /// Python's `raw_input` and `getpass` ask. False when input ended.
    fn ask_credentials(&mut self) -> bool {
        self.out.bytes(b"Username:");
        self.out.flush();
        let mut username = String::new();
        match std::io::stdin().read_line(&mut username) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        let password = match prompt::password("Password:") {
            Ok(p) => p,
            Err(_) => return false,
        };
        self.output("");
        self.opts.username = Some(username.trim_end_matches(['\r', '\n']).to_string());
        self.opts.password = Some(password);
        true
    }

    async fn dispatch(&mut self, cmd: &str, arg: &str) -> Result<Flow, CallError> {
        match cmd {
            "help" => self.do_help(arg),
            "EOF" | "quit" | "exit" => {
                self.output("");
                return Ok(Flow::Quit);
            }
            "status" => self.do_status(arg).await?,
            "start" => self.do_start(arg).await?,
            "stop" => self.do_stop(arg).await?,
            "restart" => self.do_restart(arg).await?,
            "signal" => self.do_signal(arg).await?,
            "pid" => self.do_pid(arg).await?,
            "clear" => self.do_clear(arg).await?,
            "tail" => self.do_tail(arg).await?,
            "maintail" => self.do_maintail(arg).await?,
            "fg" => self.do_fg(arg).await?,
            "avail" => self.do_avail(arg).await?,
            "reread" => self.do_reread(arg).await?,
            "update" => self.do_update(arg).await?,
            "add" => self.do_add(arg).await?,
            "remove" => self.do_remove(arg).await?,
            "shutdown" => self.do_shutdown(arg).await?,
            "reload" => self.do_reload(arg).await?,
            "version" => self.do_version(arg).await?,
            "open" => self.do_open(arg).await?,
            "completion" => self.do_completion(arg),
            _ => unreachable!("is_command() admitted {cmd}"),
        }
        Ok(Flow::Continue)
    }

    fn do_help(&mut self, arg: &str) {
        let arg = arg.trim();
        if arg.is_empty() {
            self.output(help::LISTING);
        } else if let Some(text) = help::topic(arg) {
            self.output(text);
        } else {
            self.output(&format!("*** No help on {arg}"));
        }
    }

    fn help(&mut self, cmd: &str) {
        if let Some(text) = help::topic(cmd) {
            self.output(text);
        }
    }

    /// `upcheck`: is there a supervisord speaking our API version? Prints why not, sets the exit
    /// status and returns false; errors it does not explain go up to `onecmd`.
    async fn upcheck(&mut self) -> Result<bool, CallError> {
        match self.call("supervisor.getVersion", &[]).await {
            Ok(api) => {
                let api = value_str(&api);
                if api != API_VERSION {
                    self.output(&format!(
                        "Sorry, this version of supervisorctl expects to talk to a server with \
                         API version {API_VERSION}, but the remote version is {api}."
                    ));
                    self.exitstatus = exit::NOT_INSTALLED;
                    return Ok(false);
                }
                Ok(true)
            }
            Err(CallError::Fault(f)) if f.code == code::UNKNOWN_METHOD => {
                self.output(
                    "Sorry, supervisord responded but did not recognize the supervisor namespace \
                     commands that supervisorctl uses to control it.  Please check that the \
                     [rpcinterface:supervisor] section is enabled in the configuration file \
                     (see sample.conf).",
                );
                self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                Ok(false)
            }
            Err(e) if e.errno() == Some(libc::ECONNREFUSED) => {
                let url = self.opts.serverurl.clone();
                self.output(&format!("{url} refused connection"));
                self.exitstatus = exit::INSUFFICIENT_PRIVILEGES;
                Ok(false)
            }
            Err(e) if e.errno() == Some(libc::ENOENT) => {
                let url = self.opts.serverurl.clone();
                self.output(&format!("{url} no such file"));
                self.exitstatus = exit::NOT_RUNNING;
                Ok(false)
            }
            Err(e @ (CallError::Fault(_) | CallError::Io(_))) => {
                self.exitstatus = exit::GENERIC;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `set_exitstatus_from_xmlrpc_fault`.
    fn set_exitstatus_from_fault(&mut self, faultcode: i64, ignored: Option<i32>) {
        let faultcode = faultcode as i32;
        if Some(faultcode) == ignored || faultcode == code::SUCCESS {
            return;
        }
        self.exitstatus = if matches!(
            faultcode,
            code::SPAWN_ERROR | code::ABNORMAL_TERMINATION | code::NOT_RUNNING
        ) {
            exit::NOT_RUNNING
        } else {
            exit::GENERIC
        };
    }

    /// Ctrl-C is this command's own until the guard drops.
    fn own_ctrl_c(&self) -> OwnCtrlC {
        OwnCtrlC::new(&self.owns_ctrl_c)
    }

    /// The runtime calls run on.
    pub fn runtime(&self) -> Rc<tokio::runtime::Runtime> {
        self.runtime.clone()
    }

    /// Writes whatever is buffered, e.g. before the shell shows a prompt.
    pub fn flush(&mut self) {
        self.out.flush();
        let _ = std::io::stderr().flush();
    }
}

/// Runs `f` unless Ctrl-C comes first (`None`). While a command that gives Ctrl-C a meaning of
/// its own runs (`tail -f`, `fg`: they set `owned`), Ctrl-C is left to it.
async fn interruptible<T>(f: impl Future<Output = T>, owned: &AtomicBool) -> Option<T> {
    tokio::pin!(f);
    loop {
        tokio::select! {
            biased;
            v = &mut f => return Some(v),
            _ = tokio::signal::ctrl_c() => {
                if !owned.load(Ordering::SeqCst) {
                    return None;
                }
            }
        }
    }
}

/// Marks a command as handling Ctrl-C itself for as long as it lives.
struct OwnCtrlC(Arc<AtomicBool>);

impl OwnCtrlC {
    fn new(flag: &Arc<AtomicBool>) -> OwnCtrlC {
        flag.store(true, Ordering::SeqCst);
        OwnCtrlC(flag.clone())
    }
}

impl Drop for OwnCtrlC {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// `cmd.Cmd.parseline`: `(command, argument, line)`, or `None` for an empty line. `?x` is
/// `help x`; the command is the leading run of identifier characters.
fn parseline(line: &str) -> Option<(String, String, String)> {
    let mut line = line.trim().to_string();
    if line.is_empty() {
        return None;
    }
    if let Some(rest) = line.strip_prefix('?') {
        line = format!("help {rest}");
    }
    let end = line
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(line.len(), |(i, _)| i);
    let cmd = line[..end].to_string();
    let arg = line[end..].trim().to_string();
    Some((cmd, arg, line))
}

fn is_command(cmd: &str) -> bool {
    cmd == "EOF" || help::COMMANDS.contains(&cmd)
}

/// `split_namespec`: `(group, Some(process))`, or `(group, None)` for `group:` / `group:*`.
fn split_namespec(namespec: &str) -> (String, Option<String>) {
    match namespec.split_once(':') {
        Some((g, p)) if p.is_empty() || p == "*" => (g.to_string(), None),
        Some((g, p)) => (g.to_string(), Some(p.to_string())),
        None => (namespec.to_string(), Some(namespec.to_string())),
    }
}

/// A string member of a struct (`info['name']`), or "" when absent.
fn field_str(v: &Value, key: &str) -> String {
    v.member(key).map(value_str).unwrap_or_default()
}

/// An integer member of a struct, or 0.
fn field_int(v: &Value, key: &str) -> i64 {
    match v.member(key) {
        Some(Value::Int(i)) => *i,
        Some(Value::Bool(b)) => i64::from(*b),
        _ => 0,
    }
}

/// `str(value)` for the scalars the API returns.
fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Double(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_cmd_parses_them() {
        let p = |l: &str| parseline(l).map(|(c, a, _)| (c, a));
        assert_eq!(p("  "), None);
        assert_eq!(
            p("status  foo bar "),
            Some(("status".into(), "foo bar".into()))
        );
        assert_eq!(p("?stop"), Some(("help".into(), "stop".into())));
        assert_eq!(p("start-all"), Some(("start".into(), "-all".into())));
        assert_eq!(p("!ls"), Some(("".into(), "!ls".into())));
    }

    #[test]
    fn namespecs() {
        assert_eq!(split_namespec("g:*"), ("g".into(), None));
        assert_eq!(split_namespec("g:"), ("g".into(), None));
        assert_eq!(split_namespec("g:a:b"), ("g".into(), Some("a:b".into())));
        assert_eq!(split_namespec("a"), ("a".into(), Some("a".into())));
    }
}
