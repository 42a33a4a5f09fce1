//! The interactive shell: `status` first, then `<prompt>> ` lines until `quit`, `exit`, Ctrl-D
//! or Ctrl-C, with line editing, persistent history and tab completion of commands and of the
//! server's process and group names (rustyline). When stdin or stdout is not a terminal, the
//! shell reads plain lines and writes the prompt to stdout, as Python's `input()` does then.

use std::cell::RefCell;
use std::io::{BufRead as _, IsTerminal as _};
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::client::Client;
use super::{field_str, help, Controller, Flow};
use crate::rpc::Value;

/// Runs the shell on `ctl` until the user leaves.
pub fn run(ctl: &mut Controller) {
    let mut flow = ctl.run_line("status");
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !tty {
        while flow == Flow::Continue {
            flow = plain_prompt(ctl);
        }
        return;
    }
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(true)
        .history_ignore_dups(true)
        .and_then(|b| Ok(b.max_history_size(1000)?.build()));
    let editor = config.and_then(Editor::<Completion, DefaultHistory>::with_config);
    let Ok(mut editor) = editor else {
        while flow == Flow::Continue {
            flow = plain_prompt(ctl);
        }
        return;
    };
    let history = ctl.opts.history_file.clone();
    if let Some(path) = &history {
        // A history file that does not exist yet is created on the way out.
        let _ = editor.load_history(path);
    }
    editor.set_helper(Some(Completion {
        client: ctl.client(),
        runtime: ctl.runtime(),
        infos: RefCell::new(None),
    }));
    while flow == Flow::Continue {
        if let Some(h) = editor.helper_mut() {
            h.client = ctl.client();
            h.infos.replace(None);
        }
        ctl.flush();
        let prompt = format!("{}> ", ctl.opts.prompt);
        flow = match editor.readline(&prompt) {
            Ok(line) => ctl.run_line(&line),
            // rustyline has already moved to a new line; Python prints the newline itself.
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => Flow::Quit,
            Err(_) => plain_prompt(ctl),
        };
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
}

/// One prompt and line without a terminal: the prompt on stdout, a line from stdin.
fn plain_prompt(ctl: &mut Controller) -> Flow {
    let prompt = format!("{}> ", ctl.opts.prompt);
    ctl.out.bytes(prompt.as_bytes());
    ctl.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => ctl.run_line("EOF"),
        Ok(_) => ctl.run_line(line.trim_end_matches(['\n', '\r'])),
    }
}

/// Tab completion as Python's `Controller.complete`: commands first, then process names
/// (`group:name`, `group:*`) or group names depending on the command.
struct Completion {
    client: Client,
    runtime: Rc<tokio::runtime::Runtime>,
    /// `getAllProcessInfo`, fetched at the first Tab of a line: readline asks many times.
    infos: RefCell<Option<Vec<Value>>>,
}

/// Readline's default word delimiters less `:`, `*` and `-`, as Python's shell sets them.
const DELIMITERS: &[char] = &[
    ' ', '\t', '\n', '"', '\\', '\'', '`', '@', '$', '>', '<', '=', ';', '|', '&', '{', '(',
];

/// Commands that take process names, and those that take group names.
const PROCESS_COMMANDS: [&str; 9] = [
    "clear", "fg", "pid", "restart", "signal", "start", "status", "stop", "tail",
];
const GROUP_COMMANDS: [&str; 3] = ["add", "remove", "update"];

impl Completion {
    fn infos(&self) -> Vec<Value> {
        if self.infos.borrow().is_none() {
            let fetched = self
                .runtime
                .block_on(self.client.call("supervisor.getAllProcessInfo", &[]))
                .ok()
                .map(super::array)
                .unwrap_or_default();
            self.infos.replace(Some(fetched));
        }
        self.infos.borrow().clone().unwrap_or_default()
    }

    /// The candidates for `text` (the word being completed) on `line`.
    fn candidates(&self, line: &str, text: &str) -> Vec<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let actions = || -> Vec<String> {
            help::COMMANDS
                .iter()
                .filter(|c| c.starts_with(text))
                .map(|c| format!("{c} "))
                .collect()
        };
        let Some(&action) = words.first() else {
            return actions();
        };
        if words.len() == 1 && !line.ends_with(' ') {
            return actions();
        }
        if action == "help" {
            return actions();
        }
        if GROUP_COMMANDS.contains(&action) {
            let mut groups: Vec<String> = Vec::new();
            for info in self.infos() {
                let g = field_str(&info, "group");
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
            return groups
                .into_iter()
                .filter(|g| g.starts_with(text))
                .map(|g| format!("{g} "))
                .collect();
        }
        if PROCESS_COMMANDS.contains(&action) {
            let mut names: Vec<String> = Vec::new();
            for info in self.infos() {
                let (g, n) = (field_str(&info, "group"), field_str(&info, "name"));
                if text.contains(':') || g != n {
                    names.push(format!("{g}:{n}"));
                    let all = format!("{g}:*");
                    if !names.contains(&all) {
                        names.push(all);
                    }
                } else {
                    names.push(n);
                }
            }
            return names
                .into_iter()
                .filter(|n| n.starts_with(text))
                .map(|n| format!("{n} "))
                .collect();
        }
        Vec::new()
    }
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos].rfind(DELIMITERS).map_or(0, |i| {
            i + line[i..].chars().next().map_or(1, char::len_utf8)
        });
        let text = &line[start..pos];
        let pairs = self
            .candidates(line, text)
            .into_iter()
            .map(|c| Pair {
                display: c.trim_end().to_string(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}
