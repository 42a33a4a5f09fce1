//! Event types as Python's `EventTypes` names them, their hierarchy (what a subscription to an
//! abstract type such as `PROCESS_STATE` matches) and their payloads, byte for byte.

use crate::process::ProcessState;

/// A concrete event type: what `eventname:` says. The abstract types exist only as
/// subscriptions ([`subscription_mask`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ProcessState(ProcessState),
    ProcessLogStdout,
    ProcessLogStderr,
    ProcessCommunicationStdout,
    ProcessCommunicationStderr,
    RemoteCommunication,
    SupervisorStateChangeRunning,
    SupervisorStateChangeStopping,
    Tick5,
    Tick60,
    Tick3600,
    ProcessGroupAdded,
    ProcessGroupRemoved,
    /// Ours: a health check passed after the process was not known healthy.
    ProcessHealthHealthy,
    /// Ours: `healthcheck_retries` probes failed in a row.
    ProcessHealthUnhealthy,
    /// Ours: the program's tree went over its `memory_limit`.
    ProcessMemoryLimit,
}

/// The tick types with their periods, in the order Python sends them (`TICK_EVENTS`).
pub const TICKS: [(EventType, i64); 3] = [
    (EventType::Tick5, 5),
    (EventType::Tick60, 60),
    (EventType::Tick3600, 3600),
];

impl EventType {
    /// The `eventname:` token.
    pub fn name(self) -> &'static str {
        match self {
            EventType::ProcessState(s) => match s {
                ProcessState::Stopped => "PROCESS_STATE_STOPPED",
                ProcessState::Starting => "PROCESS_STATE_STARTING",
                ProcessState::Running => "PROCESS_STATE_RUNNING",
                ProcessState::Backoff => "PROCESS_STATE_BACKOFF",
                ProcessState::Stopping => "PROCESS_STATE_STOPPING",
                ProcessState::Exited => "PROCESS_STATE_EXITED",
                ProcessState::Fatal => "PROCESS_STATE_FATAL",
                ProcessState::Unknown => "PROCESS_STATE_UNKNOWN",
            },
            EventType::ProcessLogStdout => "PROCESS_LOG_STDOUT",
            EventType::ProcessLogStderr => "PROCESS_LOG_STDERR",
            EventType::ProcessCommunicationStdout => "PROCESS_COMMUNICATION_STDOUT",
            EventType::ProcessCommunicationStderr => "PROCESS_COMMUNICATION_STDERR",
            EventType::RemoteCommunication => "REMOTE_COMMUNICATION",
            EventType::SupervisorStateChangeRunning => "SUPERVISOR_STATE_CHANGE_RUNNING",
            EventType::SupervisorStateChangeStopping => "SUPERVISOR_STATE_CHANGE_STOPPING",
            EventType::Tick5 => "TICK_5",
            EventType::Tick60 => "TICK_60",
            EventType::Tick3600 => "TICK_3600",
            EventType::ProcessGroupAdded => "PROCESS_GROUP_ADDED",
            EventType::ProcessGroupRemoved => "PROCESS_GROUP_REMOVED",
            EventType::ProcessHealthHealthy => "PROCESS_HEALTH_HEALTHY",
            EventType::ProcessHealthUnhealthy => "PROCESS_HEALTH_UNHEALTHY",
            EventType::ProcessMemoryLimit => "PROCESS_MEMORY_LIMIT",
        }
    }

    /// This type's bit in a subscription mask.
    pub fn bit(self) -> u32 {
        let n = match self {
            EventType::ProcessState(s) => s as u32,
            EventType::ProcessLogStdout => 8,
            EventType::ProcessLogStderr => 9,
            EventType::ProcessCommunicationStdout => 10,
            EventType::ProcessCommunicationStderr => 11,
            EventType::RemoteCommunication => 12,
            EventType::SupervisorStateChangeRunning => 13,
            EventType::SupervisorStateChangeStopping => 14,
            EventType::Tick5 => 15,
            EventType::Tick60 => 16,
            EventType::Tick3600 => 17,
            EventType::ProcessGroupAdded => 18,
            EventType::ProcessGroupRemoved => 19,
            EventType::ProcessHealthHealthy => 20,
            EventType::ProcessHealthUnhealthy => 21,
            EventType::ProcessMemoryLimit => 22,
        };
        1 << n
    }
}

/// Python's types: what `EVENT` matches. Ours (bits 20 and up) go only to the pools that
/// name them, so a listener written for Python never meets a type it does not know.
const ALL: u32 = (1 << 20) - 1;
const PROCESS_STATE: u32 = 0xff;

/// The tick types' bits: a daemon whose pools want none of them never wakes for ticks.
pub const TICK_MASK: u32 = (1 << 15) | (1 << 16) | (1 << 17);

/// The concrete types a name in `events=` matches (Python's `isinstance` on the class
/// hierarchy): `EVENT` everything, `PROCESS_STATE` its eight subtypes, a concrete name itself.
/// `None` for a name `EventTypes` does not have (the config reader rejects those).
pub fn subscription_mask(name: &str) -> Option<u32> {
    let bit = |t: EventType| Some(t.bit());
    match name {
        "EVENT" => Some(ALL),
        "PROCESS_STATE" => Some(PROCESS_STATE),
        "PROCESS_LOG" => {
            Some(EventType::ProcessLogStdout.bit() | EventType::ProcessLogStderr.bit())
        }
        "PROCESS_COMMUNICATION" => Some(
            EventType::ProcessCommunicationStdout.bit()
                | EventType::ProcessCommunicationStderr.bit(),
        ),
        "SUPERVISOR_STATE_CHANGE" => Some(
            EventType::SupervisorStateChangeRunning.bit()
                | EventType::SupervisorStateChangeStopping.bit(),
        ),
        "TICK" => Some(TICK_MASK),
        "PROCESS_GROUP" => {
            Some(EventType::ProcessGroupAdded.bit() | EventType::ProcessGroupRemoved.bit())
        }
        "PROCESS_LOG_STDOUT" => bit(EventType::ProcessLogStdout),
        "PROCESS_LOG_STDERR" => bit(EventType::ProcessLogStderr),
        "PROCESS_COMMUNICATION_STDOUT" => bit(EventType::ProcessCommunicationStdout),
        "PROCESS_COMMUNICATION_STDERR" => bit(EventType::ProcessCommunicationStderr),
        "REMOTE_COMMUNICATION" => bit(EventType::RemoteCommunication),
        "SUPERVISOR_STATE_CHANGE_RUNNING" => bit(EventType::SupervisorStateChangeRunning),
        "SUPERVISOR_STATE_CHANGE_STOPPING" => bit(EventType::SupervisorStateChangeStopping),
        "TICK_5" => bit(EventType::Tick5),
        "TICK_60" => bit(EventType::Tick60),
        "TICK_3600" => bit(EventType::Tick3600),
        "PROCESS_HEALTH" => {
            Some(EventType::ProcessHealthHealthy.bit() | EventType::ProcessHealthUnhealthy.bit())
        }
        "PROCESS_HEALTH_HEALTHY" => bit(EventType::ProcessHealthHealthy),
        "PROCESS_HEALTH_UNHEALTHY" => bit(EventType::ProcessHealthUnhealthy),
        "PROCESS_MEMORY_LIMIT" => bit(EventType::ProcessMemoryLimit),
        "PROCESS_GROUP_ADDED" => bit(EventType::ProcessGroupAdded),
        "PROCESS_GROUP_REMOVED" => bit(EventType::ProcessGroupRemoved),
        _ => ProcessState::ALL
            .iter()
            .find(|s| name.strip_prefix("PROCESS_STATE_") == Some(s.name()))
            .map(|&s| EventType::ProcessState(s).bit()),
    }
}

/// One event: its type and its payload as Python renders it (a `str`; `len:` counts its
/// characters, as Python 4.x does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub payload: String,
}

/// Python's `as_string(data)` with its fallback: UTF-8 text, or `Undecodable: b'...'`.
fn decode(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(_) => format!("Undecodable: {}", crate::py::bytes_repr(data)),
    }
}

/// The facts a PROCESS_STATE_* payload is made of, taken when the state changed (Python
/// renders `tries`/`pid` eagerly, so later changes do not leak into a queued event).
#[derive(Debug, Clone, Copy)]
pub struct StateFacts<'a> {
    pub process: &'a str,
    pub group: &'a str,
    pub from: ProcessState,
    pub to: ProcessState,
    pub expected: bool,
    pub pid: u32,
    pub tries: u32,
}

impl Event {
    /// `PROCESS_STATE_<to>`: `processname groupname from_state` plus `tries` (STARTING,
    /// BACKOFF), `pid` (RUNNING, STOPPING, STOPPED), `expected pid` (EXITED).
    pub fn process_state(f: StateFacts<'_>) -> Event {
        let mut payload = format!(
            "processname:{} groupname:{} from_state:{}",
            f.process,
            f.group,
            f.from.name()
        );
        match f.to {
            ProcessState::Starting | ProcessState::Backoff => {
                payload += &format!(" tries:{}", f.tries);
            }
            ProcessState::Running | ProcessState::Stopping | ProcessState::Stopped => {
                payload += &format!(" pid:{}", f.pid);
            }
            ProcessState::Exited => {
                payload += &format!(" expected:{} pid:{}", u8::from(f.expected), f.pid);
            }
            ProcessState::Fatal | ProcessState::Unknown => {}
        }
        Event {
            kind: EventType::ProcessState(f.to),
            payload,
        }
    }

    /// PROCESS_LOG_STDOUT / _STDERR: one chunk of a process's output.
    pub fn process_log(stderr: bool, process: &str, group: &str, pid: u32, data: &[u8]) -> Event {
        let (kind, channel) = if stderr {
            (EventType::ProcessLogStderr, "stderr")
        } else {
            (EventType::ProcessLogStdout, "stdout")
        };
        Event {
            kind,
            payload: format!(
                "processname:{process} groupname:{group} pid:{pid} channel:{channel}\n{}",
                decode(data)
            ),
        }
    }

    /// PROCESS_COMMUNICATION_STDOUT / _STDERR: what a process wrote between the capture tokens.
    pub fn process_communication(
        stderr: bool,
        process: &str,
        group: &str,
        pid: u32,
        data: &[u8],
    ) -> Event {
        let kind = if stderr {
            EventType::ProcessCommunicationStderr
        } else {
            EventType::ProcessCommunicationStdout
        };
        Event {
            kind,
            payload: format!(
                "processname:{process} groupname:{group} pid:{pid}\n{}",
                decode(data)
            ),
        }
    }

    /// REMOTE_COMMUNICATION, from `sendRemoteCommEvent(type, data)`.
    pub fn remote_communication(kind: &str, data: &str) -> Event {
        Event {
            kind: EventType::RemoteCommunication,
            payload: format!("type:{kind}\n{data}"),
        }
    }

    /// SUPERVISOR_STATE_CHANGE_RUNNING / _STOPPING: an empty payload.
    pub fn supervisor_state(running: bool) -> Event {
        Event {
            kind: if running {
                EventType::SupervisorStateChangeRunning
            } else {
                EventType::SupervisorStateChangeStopping
            },
            payload: String::new(),
        }
    }

    /// TICK_5 / TICK_60 / TICK_3600 at the start of the period `when` (epoch seconds).
    pub fn tick(kind: EventType, when: i64) -> Event {
        Event {
            kind,
            payload: format!("when:{when}"),
        }
    }

    /// PROCESS_HEALTH_HEALTHY / _UNHEALTHY (ours), in the PROCESS_STATE payloads' form, plus
    /// the failures in a row and, after the header line, what the last probe said.
    pub fn health(
        healthy: bool,
        process: &str,
        group: &str,
        pid: u32,
        failures: u32,
        detail: &str,
    ) -> Event {
        Event {
            kind: if healthy {
                EventType::ProcessHealthHealthy
            } else {
                EventType::ProcessHealthUnhealthy
            },
            payload: format!(
                "processname:{process} groupname:{group} pid:{pid} failures:{failures}\n{detail}"
            ),
        }
    }

    /// PROCESS_MEMORY_LIMIT (ours): the tree's resident memory and the limit, in KiB.
    pub fn memory_limit(process: &str, group: &str, pid: u32, rss_kb: u64, limit_kb: u64) -> Event {
        Event {
            kind: EventType::ProcessMemoryLimit,
            payload: format!(
                "processname:{process} groupname:{group} pid:{pid} rss_kb:{rss_kb} limit_kb:{limit_kb}"
            ),
        }
    }

    /// PROCESS_GROUP_ADDED / _REMOVED (the payload ends with a newline, as Python's).
    pub fn group(added: bool, group: &str) -> Event {
        Event {
            kind: if added {
                EventType::ProcessGroupAdded
            } else {
                EventType::ProcessGroupRemoved
            },
            payload: format!("groupname:{group}\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_events_accepts_has_a_mask() {
        for name in crate::config::EVENT_TYPES {
            assert!(subscription_mask(name).is_some(), "{name}");
        }
        assert_eq!(subscription_mask("PROCESS_STATE_NOPE"), None);
    }

    #[test]
    fn event_never_matches_our_own_types() {
        let all = subscription_mask("EVENT").unwrap();
        for ours in [
            EventType::ProcessHealthHealthy,
            EventType::ProcessHealthUnhealthy,
            EventType::ProcessMemoryLimit,
        ] {
            assert_eq!(all & ours.bit(), 0, "{}", ours.name());
            assert_eq!(subscription_mask(ours.name()), Some(ours.bit()));
        }
        let health = subscription_mask("PROCESS_HEALTH").unwrap();
        assert_ne!(health & EventType::ProcessHealthHealthy.bit(), 0);
        assert_eq!(health & EventType::ProcessMemoryLimit.bit(), 0);
    }

    #[test]
    fn abstract_types_match_their_subtypes_only() {
        let state = subscription_mask("PROCESS_STATE").unwrap();
        let exited = EventType::ProcessState(ProcessState::Exited);
        assert_ne!(state & exited.bit(), 0);
        assert_eq!(state & EventType::Tick5.bit(), 0);
        assert_eq!(
            subscription_mask("PROCESS_STATE_EXITED"),
            Some(exited.bit())
        );
        let all = subscription_mask("EVENT").unwrap();
        assert_ne!(all & EventType::ProcessGroupRemoved.bit(), 0);
        assert_eq!(subscription_mask("TICK"), Some(TICK_MASK));
    }

    #[test]
    fn payloads_are_pythons() {
        let f = StateFacts {
            process: "exiter",
            group: "exiter",
            from: ProcessState::Running,
            to: ProcessState::Exited,
            expected: true,
            pid: 4324,
            tries: 0,
        };
        let e = Event::process_state(f);
        assert_eq!(e.kind.name(), "PROCESS_STATE_EXITED");
        assert_eq!(
            e.payload,
            "processname:exiter groupname:exiter from_state:RUNNING expected:1 pid:4324"
        );
        let backoff = Event::process_state(StateFacts {
            from: ProcessState::Starting,
            to: ProcessState::Backoff,
            tries: 2,
            ..f
        });
        assert_eq!(
            backoff.payload,
            "processname:exiter groupname:exiter from_state:STARTING tries:2"
        );
        let fatal = Event::process_state(StateFacts {
            from: ProcessState::Backoff,
            to: ProcessState::Fatal,
            ..f
        });
        assert_eq!(
            fatal.payload,
            "processname:exiter groupname:exiter from_state:BACKOFF"
        );
        assert_eq!(
            Event::process_log(false, "p", "g", 7, b"hi\n").payload,
            "processname:p groupname:g pid:7 channel:stdout\nhi\n"
        );
        assert_eq!(
            Event::process_log(true, "p", "g", 7, b"\xff").payload,
            "processname:p groupname:g pid:7 channel:stderr\nUndecodable: b'\\xff'"
        );
        assert_eq!(Event::group(true, "g").payload, "groupname:g\n");
        assert_eq!(Event::remote_communication("t", "d").payload, "type:t\nd");
        assert_eq!(Event::tick(EventType::Tick5, 10).payload, "when:10");
    }
}
