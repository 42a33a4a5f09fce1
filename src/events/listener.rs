//! The event listener protocol of one listener process, as a pure state machine (Python's
//! `PEventListenerDispatcher.handle_listener_state_change`): bytes from the listener's stdout
//! in, its new protocol state and what the actor must do out. No I/O happens here.

use crate::config::LogLevel;

use super::pool::Queued;

/// `EventListenerStates`. The names are what the debug lines print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    /// After spawn and after each result: waiting for `READY\n`.
    Acknowledged,
    /// May be sent one event.
    Ready,
    /// An event was sent; waiting for `RESULT <len>\n<result>`.
    Busy,
    /// Broke the protocol; gets no more events until it is restarted.
    Unknown,
}

impl ListenerState {
    pub fn name(self) -> &'static str {
        match self {
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Unknown => "UNKNOWN",
        }
    }
}

const READY_TOKEN: &[u8] = b"READY\n";
/// `RESULT_TOKEN_START`: Python slices this many bytes off the result line without checking
/// what they are.
const RESULT_TOKEN_LEN: usize = b"RESULT ".len();

/// What the actor must do after a chunk of listener output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Log(LogLevel, String),
    /// The listener became READY: dispatch to its pool.
    Ready,
    /// The event in flight was rejected (a result other than `OK`, a bad result line): put it
    /// back at the head of the pool's buffer.
    Rejected(Queued),
}

/// One listener process's protocol state; a fresh one per spawn, as Python makes a new
/// dispatcher at each spawn.
#[derive(Debug, Clone)]
pub struct Listener {
    pub state: ListenerState,
    /// The event sent and not yet answered (Python's `process.event`).
    pub event: Option<Queued>,
    buffer: Vec<u8>,
    /// `None` until the `RESULT <len>` line was read.
    result_len: Option<usize>,
    result: Vec<u8>,
}

impl Default for Listener {
    fn default() -> Listener {
        Listener {
            state: ListenerState::Acknowledged,
            event: None,
            buffer: Vec::new(),
            result_len: None,
            result: Vec::new(),
        }
    }
}

impl Listener {
    /// The pool sent `event`: BUSY until its result arrives.
    pub fn sent(&mut self, event: Queued) {
        self.state = ListenerState::Busy;
        self.event = Some(event);
    }

    /// Handles `data` read from the listener's stdout; `name` is the process name for the log.
    pub fn feed(&mut self, name: &str, data: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        self.buffer.extend_from_slice(data);
        while !self.buffer.is_empty() && self.step(name, &mut out) {}
        out
    }

    /// One pass of `handle_listener_state_change`; `true` to go on with what is left.
    fn step(&mut self, name: &str, out: &mut Vec<Action>) -> bool {
        match self.state {
            ListenerState::Unknown => {
                self.buffer.clear();
                false
            }
            ListenerState::Acknowledged => {
                if self.buffer.len() < READY_TOKEN.len() {
                    return false;
                }
                if self.buffer.starts_with(READY_TOKEN) {
                    self.change(name, ListenerState::Ready, out);
                    self.buffer.drain(..READY_TOKEN.len());
                    out.push(Action::Ready);
                } else {
                    self.change(name, ListenerState::Unknown, out);
                    self.buffer.clear();
                }
                self.event = None;
                true
            }
            ListenerState::Ready => {
                // Spurious data: Python is strict about it.
                self.change(name, ListenerState::Unknown, out);
                self.buffer.clear();
                self.event = None;
                false
            }
            ListenerState::Busy => match self.result_len {
                None => self.result_line(name, out),
                Some(len) => {
                    let take = len.saturating_sub(self.result.len()).min(self.buffer.len());
                    self.result.extend(self.buffer.drain(..take));
                    if self.result.len() == len {
                        let result = std::mem::take(&mut self.result);
                        self.result_len = None;
                        self.handle_result(name, &result, out);
                        self.event = None;
                    }
                    true
                }
            },
        }
    }

    /// Reads `RESULT <len>\n`; a length Python's `int()` rejects makes the listener UNKNOWN.
    fn result_line(&mut self, name: &str, out: &mut Vec<Action>) -> bool {
        let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') else {
            return false;
        };
        let line: Vec<u8> = self.buffer.drain(..=pos).take(pos).collect();
        let len = std::str::from_utf8(&line[RESULT_TOKEN_LEN.min(line.len())..])
            .ok()
            .and_then(|s| crate::py::parse_int(s, 10));
        match len {
            // A negative length never completes in Python either: the listener stays BUSY.
            Some(n) => self.result_len = Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => {
                let shown = match std::str::from_utf8(&line) {
                    Ok(s) => s.to_string(),
                    Err(_) => format!("Undecodable: {}", crate::py::bytes_repr(&line)),
                };
                out.push(Action::Log(
                    LogLevel::Warn,
                    format!("{name}: bad result line: '{shown}'"),
                ));
                self.change(name, ListenerState::Unknown, out);
                self.buffer.clear();
                if let Some(event) = self.event.take() {
                    out.push(Action::Rejected(event));
                }
                return false;
            }
        }
        true
    }

    /// `default_handler`: `OK` is processed, anything else rejected.
    fn handle_result(&mut self, name: &str, result: &[u8], out: &mut Vec<Action>) {
        if result == b"OK" {
            out.push(Action::Log(
                LogLevel::Debug,
                format!("{name}: event was processed"),
            ));
            self.change(name, ListenerState::Acknowledged, out);
        } else {
            out.push(Action::Log(
                LogLevel::Warn,
                format!("{name}: event was rejected"),
            ));
            self.change(name, ListenerState::Acknowledged, out);
            if let Some(event) = self.event.take() {
                out.push(Action::Rejected(event));
            }
        }
    }

    fn change(&mut self, name: &str, to: ListenerState, out: &mut Vec<Action>) {
        out.push(Action::Log(
            LogLevel::Debug,
            format!("{name}: {} -> {}", self.state.name(), to.name()),
        ));
        self.state = to;
        if to == ListenerState::Unknown {
            out.push(Action::Log(
                LogLevel::Warn,
                format!(
                    "{name}: has entered the UNKNOWN state and will no longer receive events, \
                     this usually indicates the process violated the eventlistener protocol"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::events::{Event, EventType};

    fn queued() -> Queued {
        Queued {
            serial: 3,
            pool_serial: 1,
            event: Arc::new(Event::tick(EventType::Tick5, 5)),
        }
    }

    fn warnings(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(LogLevel::Warn, m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ready_then_ok_acknowledges() {
        let mut l = Listener::default();
        assert!(l.feed("l", b"REA").is_empty());
        assert!(l.feed("l", b"DY\n").contains(&Action::Ready));
        assert_eq!(l.state, ListenerState::Ready);
        l.sent(queued());
        let a = l.feed("l", b"RESULT 2\nOK");
        assert_eq!(l.state, ListenerState::Acknowledged);
        assert!(l.event.is_none());
        assert!(warnings(&a).is_empty());
    }

    #[test]
    fn result_and_ready_in_one_write() {
        let mut l = Listener::default();
        l.feed("l", b"READY\n");
        l.sent(queued());
        let a = l.feed("l", b"RESULT 2\nOKREADY\n");
        assert_eq!(l.state, ListenerState::Ready);
        assert!(a.contains(&Action::Ready));
    }

    #[test]
    fn result_split_over_reads() {
        let mut l = Listener::default();
        l.feed("l", b"READY\n");
        l.sent(queued());
        l.feed("l", b"RESULT ");
        l.feed("l", b"2\nO");
        assert_eq!(l.state, ListenerState::Busy);
        l.feed("l", b"K");
        assert_eq!(l.state, ListenerState::Acknowledged);
    }

    #[test]
    fn fail_rejects_the_event() {
        let mut l = Listener::default();
        l.feed("l", b"READY\n");
        l.sent(queued());
        let a = l.feed("l", b"RESULT 4\nFAIL");
        assert_eq!(warnings(&a), ["l: event was rejected"]);
        assert!(a.contains(&Action::Rejected(queued())));
        assert_eq!(l.state, ListenerState::Acknowledged);
    }

    #[test]
    fn garbage_makes_it_unknown() {
        let mut l = Listener::default();
        let a = l.feed("l", b"hello there\n");
        assert_eq!(l.state, ListenerState::Unknown);
        assert_eq!(warnings(&a).len(), 1);
        assert!(l.feed("l", b"READY\n").is_empty());

        let mut l = Listener::default();
        l.feed("l", b"READY\n");
        l.feed("l", b"x");
        assert_eq!(l.state, ListenerState::Unknown);
    }

    #[test]
    fn bad_result_line_rejects_and_is_unknown() {
        let mut l = Listener::default();
        l.feed("l", b"READY\n");
        l.sent(queued());
        let a = l.feed("l", b"RESULT two\n");
        assert_eq!(l.state, ListenerState::Unknown);
        assert_eq!(warnings(&a)[0], "l: bad result line: 'RESULT two'");
        assert!(a.contains(&Action::Rejected(queued())));
    }
}
