//! The same scenario under Python's supervisord and ours; the state-transition lines of the main
//! logs are compared (issue 3).
//!
//! What is deterministic in Python: each process's own sequence of lines; the order of `spawned`
//! lines in one pass (priority, then name); the order of shutdown across groups (descending
//! priority, one group at a time). What is not: the interleaving of different processes' lines
//! within a pass (reaping order), and the throttled `waiting for ...` reports (logged only when
//! a pending RPC or the shutdown loop happens to poll, so left out). So lines
//! are compared per process, and across processes only where the order is defined.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Local, NaiveDateTime};
use nix::sys::signal::Signal;

use crate::support::{assert_same, Daemon, Pair};

/// One state-transition line of the main log.
#[derive(Debug, Clone)]
struct Event {
    /// Seconds since the epoch (local time, only differences matter).
    at: f64,
    /// The process the line is about, if it names one.
    process: Option<String>,
    /// `LEVEL message`, normalised.
    line: String,
}

/// Messages that describe a transition; everything else in the main log is ignored.
const TRANSITIONS: [&str; 8] = [
    "spawned: ",
    "spawnerr: ",
    "success: ",
    "exited: ",
    "gave up: ",
    "stopped: ",
    "killing ",
    "received SIG",
];

fn events(d: &Daemon) -> Vec<Event> {
    d.main_log()
        .lines()
        .filter_map(|raw| {
            let (ts, rest) = raw.split_at_checked(23)?;
            let at = seconds(NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S,%3f").ok()?);
            let (level, msg) = rest.trim_start().split_once(' ')?;
            if !TRANSITIONS.iter().any(|t| msg.starts_with(t)) {
                return None;
            }
            Some(Event {
                at,
                process: process_of(msg),
                line: d.normalise(&format!("{level} {msg}")),
            })
        })
        .collect()
}

/// The process name a transition line is about: `spawned: 'x' ...`, `exited: x (...)`,
/// `success: x entered ...`, `killing 'x' (...)`.
fn process_of(msg: &str) -> Option<String> {
    let (_, rest) = msg
        .split_once(": ")
        .or_else(|| msg.split_once("killing "))?;
    let name = rest.split(' ').next()?.trim_matches('\'');
    Some(name.to_owned()).filter(|_| !msg.starts_with("spawnerr") && !msg.starts_with("received"))
}

/// A local wall-clock time (as in log lines) in seconds; only differences are meaningful.
fn seconds(t: NaiveDateTime) -> f64 {
    t.and_utc().timestamp_millis() as f64 / 1000.0
}

fn per_process(events: &[Event]) -> String {
    let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in events {
        if let Some(p) = &e.process {
            by.entry(p).or_default().push(&e.line);
        }
    }
    by.iter()
        .map(|(p, lines)| format!("[{p}]\n{}\n", lines.join("\n")))
        .collect()
}

/// The lines whose message starts with `kind`, in log order.
fn ordered(events: &[Event], kind: &str) -> String {
    events
        .iter()
        .filter(|e| {
            e.line
                .split_once(' ')
                .is_some_and(|(_, m)| m.starts_with(kind))
        })
        .map(|e| format!("{}\n", e.line))
        .collect()
}

/// Compares the per-process sequences of both daemons and returns (python's, ours) events.
#[track_caller]
fn compare(pair: &Pair) -> (Vec<Event>, Vec<Event>) {
    let (py, ours) = pair.both(events);
    assert_same(
        "per-process transitions",
        &per_process(&py),
        &per_process(&ours),
    );
    (py, ours)
}

/// Seconds from the `n`-th line starting with `from` to the first later line starting with `to`.
fn gap(events: &[Event], process: &str, from: &str, n: usize, to: &str) -> f64 {
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.process.as_deref() == Some(process))
        .collect();
    let starts = |e: &&&Event, kind: &str| {
        e.line
            .split_once(' ')
            .is_some_and(|(_, m)| m.starts_with(kind))
    };
    let (i, a) = mine
        .iter()
        .enumerate()
        .filter(|(_, e)| starts(e, from))
        .nth(n)
        .unwrap_or_else(|| panic!("no {from} #{n} in {mine:?}"));
    let b = mine[i..]
        .iter()
        .find(|e| starts(e, to))
        .unwrap_or_else(|| panic!("no {to} after {from} #{n} in {mine:?}"));
    b.at - a.at
}

#[track_caller]
fn assert_gap(gap: f64, expected: f64, what: &str) {
    // Python acts on its next main-loop pass (≤ 1 s late); never early.
    assert!(
        (expected - 0.1..=expected + 1.2).contains(&gap),
        "{what}: {gap:.3}s, expected {expected}s"
    );
}

#[test]
fn crash_loop_backoff_then_fatal() {
    // startsecs=2 rather than 1: Python may notice an exit up to one loop pass (1 s) late, and
    // an exit noticed after startsecs would count as RUNNING.
    let pair = Pair::start(
        "
[program:crash]
command=sh -c 'echo crashing; exit 3'
startsecs=2
startretries=2
",
    );
    pair.wait_for_state("crash", "FATAL");
    let (py, ours) = compare(&pair);
    assert_eq!(
        per_process(&py),
        "[crash]\n\
         INFO spawned: 'crash' with pid <pid>\n\
         WARN exited: crash (exit status 3; not expected)\n\
         INFO spawned: 'crash' with pid <pid>\n\
         WARN exited: crash (exit status 3; not expected)\n\
         INFO spawned: 'crash' with pid <pid>\n\
         WARN exited: crash (exit status 3; not expected)\n\
         INFO gave up: crash entered FATAL state, too many start retries too quickly\n"
    );
    for (side, events) in [("python", &py), ("ours", &ours)] {
        // Linear backoff: 1 s after the first failure, 2 s after the second.
        assert_gap(gap(events, "crash", "exited", 0, "spawned"), 1.0, side);
        assert_gap(gap(events, "crash", "exited", 1, "spawned"), 2.0, side);
    }
}

#[test]
fn autorestart_unexpected() {
    let pair = Pair::start(
        "
[program:expected]
command=sh -c 'sleep 0.3; exit 2'
startsecs=0
autorestart=unexpected
exitcodes=0,2

[program:unexpected]
command=sh -c 'if [ -e %(here)s/ran ]; then exec sleep 1000; fi; touch %(here)s/ran; sleep 0.3; exit 3'
startsecs=0
autorestart=unexpected
exitcodes=0,2
",
    );
    pair.wait_for_state("expected", "EXITED");
    pair.both(|d| d.wait_for_log("exited: unexpected", Duration::from_secs(10)));
    pair.wait_for_state("unexpected", "RUNNING");
    let (py, _) = compare(&pair);
    assert_eq!(
        per_process(&py),
        "[expected]\n\
         INFO spawned: 'expected' with pid <pid>\n\
         INFO success: expected entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)\n\
         INFO exited: expected (exit status 2; expected)\n\
         [unexpected]\n\
         INFO spawned: 'unexpected' with pid <pid>\n\
         INFO success: unexpected entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)\n\
         WARN exited: unexpected (exit status 3; not expected)\n\
         INFO spawned: 'unexpected' with pid <pid>\n\
         INFO success: unexpected entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)\n"
    );
}

#[test]
fn sigterm_ignored_then_sigkill_after_stopwaitsecs() {
    let pair = Pair::start(
        "
[program:stubborn]
command=sh -c 'trap \"\" TERM; exec sleep 1000'
startsecs=0
stopwaitsecs=1
",
    );
    pair.wait_for_state("stubborn", "RUNNING");
    let asked = seconds(Local::now().naive_local());
    let out = pair.ctl(&["stop", "stubborn"]);
    assert_eq!(out.stdout, "stubborn: stopped\n");
    let (py, ours) = compare(&pair);
    assert_eq!(
        per_process(&py),
        "[stubborn]\n\
         INFO spawned: 'stubborn' with pid <pid>\n\
         INFO success: stubborn entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)\n\
         WARN killing 'stubborn' (<pid>) with SIGKILL\n\
         WARN stopped: stubborn (terminated by SIGKILL)\n"
    );
    for (side, events) in [("python", &py), ("ours", &ours)] {
        let killed = events
            .iter()
            .find(|e| e.line.contains("killing"))
            .expect("killing");
        // From before supervisorctl started (≈0.3 s of Python start-up) to the SIGKILL.
        let waited = killed.at - asked;
        assert!(
            (1.0..=4.0).contains(&waited),
            "{side}: SIGKILL after {waited:.3}s"
        );
    }
}

/// Three single-program groups whose priority order is not their name order.
const PRIORITIES: &str = "
[program:alpha]
command=sleep 1000
startsecs=0
priority=300

[program:bravo]
command=sleep 1000
startsecs=0
priority=100

[program:charlie]
command=sleep 1000
startsecs=0
priority=200
";

fn priorities() -> Pair {
    let pair = Pair::start(PRIORITIES);
    for name in ["alpha", "bravo", "charlie"] {
        pair.wait_for_state(name, "RUNNING");
    }
    pair
}

#[test]
fn priority_start_order() {
    let pair = priorities();
    let (py, ours) = compare(&pair);
    assert_eq!(
        ordered(&py, "spawned"),
        "INFO spawned: 'bravo' with pid <pid>\n\
         INFO spawned: 'charlie' with pid <pid>\n\
         INFO spawned: 'alpha' with pid <pid>\n"
    );
    assert_same(
        "spawn order",
        &ordered(&py, "spawned"),
        &ordered(&ours, "spawned"),
    );
    // startsecs=0: Python spawns every autostart in one pass, then logs the `success:` lines in
    // the next one; the whole startup sequence is deterministic.
    let lines =
        |events: &[Event]| -> String { events.iter().map(|e| format!("{}\n", e.line)).collect() };
    assert_same("startup sequence", &lines(&py), &lines(&ours));
}

#[test]
fn shutdown_in_descending_priority() {
    let mut pair = priorities();
    pair.both(|d| d.signal(Signal::SIGTERM));
    for d in [&mut pair.python, &mut pair.ours] {
        assert!(d.wait_exit(Duration::from_secs(20)).success());
    }
    let (py, ours) = compare(&pair);
    let order = |events: &[Event]| ordered(events, "received") + &ordered(events, "stopped");
    assert_eq!(
        order(&py),
        "WARN received SIGTERM indicating exit request\n\
         WARN stopped: alpha (terminated by SIGTERM)\n\
         WARN stopped: charlie (terminated by SIGTERM)\n\
         WARN stopped: bravo (terminated by SIGTERM)\n"
    );
    assert_same("shutdown order", &order(&py), &order(&ours));
}
