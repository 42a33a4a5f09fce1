//! The commands that read logs: `tail`, `maintail` (a slice through XML-RPC, or `-f` following
//! the daemon's `/logtail` and `/mainlogtail` streams) and `fg`, which follows a process's output
//! while forwarding typed lines to its stdin.

use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::sync::mpsc;

use super::client::{CallError, TailError};
use super::process::RUNNING;
use super::{exit, field_int, value_str, Controller};
use crate::py;
use crate::rpc::fault::code;
use crate::rpc::Value;

/// What `tail` and `maintail` show without a size: the last 1600 bytes.
const DEFAULT_BYTES: i64 = 1600;
/// How often `fg` checks that its process still runs while nobody types.
const FG_CHECK: Duration = Duration::from_secs(1);

/// How a followed stream ended.
enum Followed {
    Closed(Result<(), TailError>),
    Interrupted,
}

impl Controller {
    pub(super) async fn do_tail(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let mut args: Vec<&str> = arg.split_whitespace().collect();
        if args.is_empty() || args.len() > 3 {
            let what = if args.is_empty() { "few" } else { "many" };
            self.output(&format!("Error: too {what} arguments"));
            self.exitstatus = exit::GENERIC;
            self.help("tail");
            return Ok(());
        }
        let modifier = args[0].starts_with('-').then(|| args.remove(0));
        let (name, channel) = match args.as_slice() {
            [name] => (*name, "stdout".to_string()),
            [] => {
                self.output("Error: tail requires process name");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            [name, .., last] => {
                let channel = last.to_lowercase();
                if channel != "stderr" && channel != "stdout" {
                    self.output(&format!("Error: bad channel {}", py::repr(&channel)));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
                (*name, channel)
            }
        };
        let bytes = match modifier {
            None => Some(DEFAULT_BYTES),
            Some("-f") => None,
            Some(m) => match py::parse_int(&m[1..], 10) {
                Some(n) => Some(n),
                None => {
                    self.output(&format!("Error: bad argument {m}"));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
            },
        };
        let Some(bytes) = bytes else {
            self.follow(&format!("/logtail/{name}/{channel}")).await;
            return Ok(());
        };
        let method = if channel == "stdout" {
            "supervisor.readProcessStdoutLog"
        } else {
            "supervisor.readProcessStderrLog"
        };
        let params = [name.into(), Value::Int(-bytes), Value::Int(0)];
        match self.call(method, &params).await {
            Ok(text) => self.output(&value_str(&text)),
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                let what = match f.code {
                    code::NO_FILE => "no log file",
                    code::FAILED => "unknown error reading log",
                    code::BAD_NAME => "no such process name",
                    _ => return Err(CallError::Fault(f)),
                };
                self.output(&format!("{name}: ERROR ({what})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    pub(super) async fn do_maintail(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let bytes = match args.as_slice() {
            [] => DEFAULT_BYTES,
            ["-f"] => {
                self.follow("/mainlogtail").await;
                return Ok(());
            }
            [m] => match m.strip_prefix('-').and_then(|n| py::parse_int(n, 10)) {
                Some(n) => n,
                None => {
                    self.output(&format!("Error: bad argument {m}"));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
            },
            _ => {
                self.output("Error: too many arguments");
                self.exitstatus = exit::GENERIC;
                self.help("maintail");
                return Ok(());
            }
        };
        match self
            .call("supervisor.readLog", &[Value::Int(-bytes), Value::Int(0)])
            .await
        {
            Ok(text) => self.output(&value_str(&text)),
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                let what = match f.code {
                    code::NO_FILE => "no log file",
                    code::FAILED => "unknown error reading log",
                    _ => return Err(CallError::Fault(f)),
                };
                self.output(&format!("supervisord: ERROR ({what})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// `_tailf`: follows a log stream until the server ends it or Ctrl-C; problems go to stderr
    /// in the words of Python's `HTTPHandler`.
    async fn follow(&mut self, path: &str) {
        let _owned = self.own_ctrl_c();
        let interrupted = tokio::signal::ctrl_c();
        self.output("==> Press Ctrl-C to exit <==");
        self.out.flush();
        let client = self.client();
        let out = &mut self.out;
        let ended = tokio::select! {
            biased;
            r = client.stream(path, |data| {
                out.bytes(data);
                out.flush();
            }) => Followed::Closed(r),
            _ = interrupted => Followed::Interrupted,
        };
        let url = format!("{}{path}", self.opts.serverurl);
        match ended {
            Followed::Interrupted => self.output(""),
            Followed::Closed(Ok(())) => {}
            Followed::Closed(Err(e)) => {
                self.out.flush();
                report_tail_error(&url, &e);
            }
        }
    }

    pub(super) async fn do_fg(&mut self, arg: &str) -> Result<(), CallError> {
        if !self.upcheck().await? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let name = match names.as_slice() {
            [] => {
                self.output("ERROR: no process name supplied");
                self.exitstatus = exit::GENERIC;
                self.help("fg");
                return Ok(());
            }
            [name] => name.to_string(),
            _ => {
                self.output("ERROR: too many process names supplied");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
        };
        match self
            .call("supervisor.getProcessInfo", &[name.as_str().into()])
            .await
        {
            Ok(info) if field_int(&info, "state") == RUNNING => {}
            Ok(_) => {
                self.output("ERROR: process not running");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            Err(CallError::Fault(f)) if f.code == code::BAD_NAME => {
                self.output("ERROR: bad process name supplied");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            Err(e @ CallError::Fault(_)) => {
                self.output(&format!("ERROR: {e}"));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let _owned = self.own_ctrl_c();
        // One listener for the whole session, so a Ctrl-C between two turns of the loop counts.
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        self.output("==> Press Ctrl-C to exit <==");
        self.out.flush();

        // Both of the process's streams, interleaved as they come, as Python's fg thread shows.
        let (tx, mut output) = mpsc::unbounded_channel::<Vec<u8>>();
        let streams: Vec<_> = ["stdout", "stderr"]
            .into_iter()
            .map(|channel| {
                let client = self.client();
                let tx = tx.clone();
                let path = format!("/logtail/{name}/{channel}");
                tokio::spawn(async move {
                    let _ = client
                        .stream(&path, |d| {
                            let _ = tx.send(d.to_vec());
                        })
                        .await;
                })
            })
            .collect();
        drop(tx);
        let mut input = StdinLines::new();
        let mut check = tokio::time::interval(FG_CHECK);
        check.tick().await;
        let ending = loop {
            tokio::select! {
                Some(data) = output.recv() => {
                    self.out.bytes(&data);
                    self.out.flush();
                }
                line = input.next_line() => {
                    let Some(line) = line else { break Vec::new() };
                    let sent = self
                        .call(
                            "supervisor.sendProcessStdin",
                            &[name.as_str().into(), format!("{line}\n").into()],
                        )
                        .await;
                    match sent {
                        Err(CallError::Fault(f)) if f.code == code::NOT_RUNNING => {
                            break vec!["Process got killed".to_string()];
                        }
                        Err(CallError::Fault(f)) => {
                            break vec![format!("ERROR: {}", CallError::Fault(f))];
                        }
                        Err(e) => break vec![format!("ERROR: {e}")],
                        Ok(_) if !self.still_running(&name).await => {
                            break vec!["Process got killed".to_string()];
                        }
                        Ok(_) => {}
                    }
                }
                _ = check.tick() => {
                    if !self.still_running(&name).await {
                        break vec!["Process got killed".to_string()];
                    }
                }
                _ = &mut interrupted => break Vec::new(),
            }
        };
        for s in &streams {
            s.abort();
        }
        for line in ending {
            self.output(&line);
        }
        self.output("Exiting foreground");
        Ok(())
    }

    async fn still_running(&self, name: &str) -> bool {
        match self.call("supervisor.getProcessInfo", &[name.into()]).await {
            Ok(info) => field_int(&info, "state") == RUNNING,
            Err(_) => false,
        }
    }
}

fn report_tail_error(url: &str, e: &TailError) {
    let msg = match e {
        TailError::Status(status) => format!("Cannot read, status code {status}"),
        TailError::Connect(err) => {
            format!(
                "Cannot connect, error: <class '{}'> ({err})",
                err.python_class()
            )
        }
    };
    let _ = writeln!(io::stderr(), "{url} {msg}");
}

/// Lines typed while `fg` runs. A helper thread reads fd 0 only once `poll` says it is
/// readable and looks at its stop flag in between, so when `fg` ends no read is left pending to
/// swallow what is typed at the next prompt.
struct StdinLines {
    chunks: mpsc::UnboundedReceiver<Vec<u8>>,
    stop: Arc<AtomicBool>,
    buf: Vec<u8>,
    eof: bool,
}

/// How long the stdin thread waits in `poll` before it looks at its stop flag again.
const STDIN_POLL_MS: u16 = 100;

impl StdinLines {
    fn new() -> StdinLines {
        let (tx, chunks) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let stdin = io::stdin();
            let mut chunk = vec![0u8; 64 * 1024];
            while !flag.load(Ordering::Relaxed) {
                let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::from(STDIN_POLL_MS)) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                    Ok(_) => {}
                    Err(_) => break,
                }
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                match nix::unistd::read(stdin.as_fd(), &mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(chunk[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                    Err(_) => break,
                }
            }
        });
        StdinLines {
            chunks,
            stop,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// The next line without its newline; `None` at the end of input.
    async fn next_line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            if self.eof {
                if self.buf.is_empty() {
                    return None;
                }
                let rest = std::mem::take(&mut self.buf);
                return Some(String::from_utf8_lossy(&rest).into_owned());
            }
            match self.chunks.recv().await {
                Some(data) => self.buf.extend_from_slice(&data),
                None => self.eof = true,
            }
        }
    }
}

impl Drop for StdinLines {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
