//! The commands that act on supervisord itself: shutdown, reload, version, open.

use std::io::BufRead as _;

use super::client::CallError;
use super::options::url_scheme;
use super::{exit, value_str, Controller};
use crate::rpc::fault::code;

impl Controller {
    /// The shell's `y/N?` confirmation (`raw_input`); a one-shot command does not ask.
    fn confirm(&mut self, question: &str) -> bool {
        if !self.opts.interactive {
            return true;
        }
        self.out.bytes(question.as_bytes());
        self.out.flush();
        let mut answer = String::new();
        match std::io::stdin().lock().read_line(&mut answer) {
            Ok(0) | Err(_) => {
                // End of input at the question: Python's raw_input raises EOFError, which ends
                // the shell; here it is a "no".
                self.output("");
                false
            }
            Ok(_) => answer.to_lowercase().starts_with('y'),
        }
    }

    pub(super) async fn do_shutdown(&mut self, arg: &str) -> Result<(), CallError> {
        if self.no_arguments("shutdown", arg) {
            return Ok(());
        }
        if !self.confirm("Really shut the remote supervisord process down y/N? ") {
            return Ok(());
        }
        match self.call("supervisor.shutdown", &[]).await {
            Ok(_) => self.output("Shut down"),
            Err(CallError::Fault(f)) if f.code == code::SHUTDOWN_STATE => {
                self.output("ERROR: already shutting down");
            }
            Err(e @ CallError::Fault(_)) => {
                self.exitstatus = exit::GENERIC;
                return Err(e);
            }
            Err(e @ CallError::Io(_)) => {
                self.exitstatus = exit::GENERIC;
                let url = self.opts.serverurl.clone();
                match e.errno() {
                    Some(libc::ECONNREFUSED) => self.output(&format!(
                        "ERROR: {url} refused connection (already shut down?)"
                    )),
                    Some(libc::ENOENT) => {
                        self.output(&format!("ERROR: {url} no such file (already shut down?)"))
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    pub(super) async fn do_reload(&mut self, arg: &str) -> Result<(), CallError> {
        if self.no_arguments("reload", arg) {
            return Ok(());
        }
        if !self.confirm("Really restart the remote supervisord process y/N? ") {
            return Ok(());
        }
        match self.call("supervisor.restart", &[]).await {
            Ok(_) => self.output("Restarted supervisord"),
            // Our daemon refuses to restart into a config that does not read (Python's exits).
            Err(CallError::Fault(f)) if f.code == code::CANT_REREAD => {
                self.exitstatus = exit::GENERIC;
                self.output(&format!("ERROR: {}", f.string));
            }
            Err(e @ CallError::Fault(_)) => {
                self.exitstatus = exit::GENERIC;
                if e.fault_code() != Some(code::SHUTDOWN_STATE) {
                    return Err(e);
                }
                self.output("ERROR: already shutting down");
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    pub(super) async fn do_version(&mut self, arg: &str) -> Result<(), CallError> {
        if self.no_arguments("version", arg) {
            return Ok(());
        }
        if !self.upcheck().await? {
            return Ok(());
        }
        let version = self.call("supervisor.getSupervisorVersion", &[]).await?;
        self.output(&value_str(&version));
        Ok(())
    }

    /// `open <url>`: talk to another server from now on, and show its status.
    pub(super) async fn do_open(&mut self, arg: &str) -> Result<(), CallError> {
        let url = arg.trim();
        if !matches!(url_scheme(url), Some("unix" | "http")) {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.opts.serverurl = url.to_string();
        let before = self.exitstatus;
        let result = self.do_status("").await;
        self.exitstatus = before;
        result
    }
}
