//! Event listeners under Python's supervisord and ours (issue 13): the same scenario on both
//! daemons, with a recording listener (`tests/py/record_listener.py`) that appends every event it
//! gets (header, payload, its answer) to a file; the recordings are normalised and compared, and
//! so are the WARN/ERRO lines of the main log that name a listener or a pool.
//!
//! Normalised: pids (`pid:<pid>`), tick times (`when:<when>`, checked to be multiples of 5
//! first), `serial` and `poolserial` (relative to the lowest serial the test saw, so redelivery
//! with the same serial and gaps from discarded events still show), and `len` (recomputed from
//! the normalised payload, after checking it matched the payload the listener read; the listener
//! reads `len` characters, as Python 4.x counts them). The server identifier is kept.
//!
//! What makes each recording deterministic in Python (whose main loop may take up to 1 s to act):
//! one listener per pool; programs start only after the listener has taken its own start-up
//! events, so events of different processes never race; output comes in lines 0.3 s apart, so
//! each is one pipe read; and every test ends with a fence, a REMOTE_COMMUNICATION event sent
//! when everything it waits for has happened: a pool's buffer is FIFO, so once the fence is
//! recorded every earlier event has been delivered too.

use std::fs;
use std::sync::LazyLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde_json::Value as Json;

use crate::support::{assert_same, pyref, Daemon, Pair, Value};

const LISTENER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/record_listener.py");
const POLL: Duration = Duration::from_millis(50);
/// How long any one condition may take (a TICK_5 is the slowest: up to 5 s plus a loop pass).
const DEADLINE: Duration = Duration::from_secs(20);

/// `[eventlistener:<name>]` running the recording listener with `args`, recording to
/// `%(here)s/<name>.jsonl`, its stderr in `%(here)s/<name>.err`; `extra` adds option lines.
fn listener(name: &str, events: &str, args: &str, extra: &str) -> String {
    format!(
        "[eventlistener:{name}]\n\
         command={python} {LISTENER} %(here)s/{name}.jsonl {args}\n\
         events={events}\n\
         startsecs=0\n\
         stderr_logfile=%(here)s/{name}.err\n\
         {extra}\n",
        python = pyref().join("bin/python").display(),
    )
}

/// The complete lines of `<name>.jsonl` so far, parsed.
fn records(d: &Daemon, name: &str) -> Vec<Json> {
    let text = fs::read_to_string(d.dir().join(format!("{name}.jsonl"))).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
        .collect()
}

/// The records that are events (not `started` lines).
fn event_records(d: &Daemon, name: &str) -> Vec<Json> {
    records(d, name)
        .into_iter()
        .filter(|r| r.get("header").is_some())
        .collect()
}

/// What to show when a wait fails: the recording, the listener's stderr and the main log.
fn evidence(d: &Daemon, name: &str) -> String {
    let file = |suffix: &str| {
        fs::read_to_string(d.dir().join(format!("{name}{suffix}"))).unwrap_or_default()
    };
    format!(
        "--- {name}.jsonl ---\n{}--- {name}.err ---\n{}--- main log ---\n{}",
        file(".jsonl"),
        file(".err"),
        d.main_log()
    )
}

/// Polls until `done` holds for the recording of listener `name`.
#[track_caller]
fn wait_records(d: &Daemon, name: &str, what: &str, done: impl Fn(&[Json]) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(&records(d, name)) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {DEADLINE:?}\n{}",
            evidence(d, name)
        );
        thread::sleep(POLL);
    }
}

/// Polls until listener `name` has recorded at least `n` events.
#[track_caller]
fn wait_events(d: &Daemon, name: &str, n: usize) {
    wait_records(d, name, &format!("{n} events recorded"), |r| {
        r.iter().filter(|r| r.get("header").is_some()).count() >= n
    });
}

/// Whether a record is an event of type `eventname`.
fn is_event(r: &Json, eventname: &str) -> bool {
    r["header"]
        .as_str()
        .is_some_and(|h| h.contains(&format!(" eventname:{eventname} ")))
}

/// Sends the REMOTE_COMMUNICATION fence and waits until listener `name` has recorded it.
#[track_caller]
fn fence(d: &Daemon, name: &str) {
    remote(d, "fence", "end");
    wait_records(d, name, "the fence event recorded", |r| {
        r.iter()
            .any(|r| is_event(r, "REMOTE_COMMUNICATION") && r["payload"] == "type:fence\nend")
    });
}

/// `supervisor.sendRemoteCommEvent(type, data)`.
#[track_caller]
fn remote(d: &Daemon, kind: &str, data: &str) {
    let params = [Value::Str(kind.into()), Value::Str(data.into())];
    d.rpc("supervisor.sendRemoteCommEvent", &params)
        .unwrap_or_else(|e| panic!("sendRemoteCommEvent: {e}"));
}

/// Once the listener runs: starts the program `comm` (autostart=false), waits until it has
/// exited, then fences the recording, so every event `comm` caused has been delivered.
fn run_comm(pair: &Pair) {
    pair.wait_for_state("listener", "RUNNING");
    pair.both(|d| rpc_process(d, "startProcess", "comm", true));
    pair.both(|d| d.wait_for_state("comm", "EXITED", DEADLINE));
    pair.both(|d| fence(d, "listener"));
}

/// `supervisor.startProcess(name, wait)` / `stopProcess`, panicking on a fault.
#[track_caller]
fn rpc_process(d: &Daemon, method: &str, name: &str, wait: bool) {
    let params = [Value::Str(name.into()), Value::Bool(wait)];
    d.rpc(&format!("supervisor.{method}"), &params)
        .unwrap_or_else(|e| panic!("{method}({name}): {e}"));
}

/// A header's `key:value` tokens, in order.
fn tokens(header: &str) -> Vec<(&str, &str)> {
    header
        .split(' ')
        .map(|t| t.split_once(':').unwrap_or((t, "")))
        .collect()
}

/// The serial in the main log's `pool <pool> event buffer overflowed, discarding event <serial>`.
static DISCARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"discarding event (\d+)").expect("regex"));

/// The serials (`serial` of each recorded event, and `discarding event N` in the main log).
fn serials(recs: &[Json], log: &str) -> Vec<i64> {
    let recorded = recs.iter().filter_map(|r| {
        let header = r["header"].as_str()?;
        let (_, v) = tokens(header).into_iter().find(|(k, _)| *k == "serial")?;
        v.parse().ok()
    });
    let discarded = DISCARD
        .captures_iter(log)
        .filter_map(|c| c[1].parse::<i64>().ok());
    recorded.chain(discarded).collect()
}

/// A serial relative to `base`: `#0`, `#1`, ...; kept as is if not a number.
fn relative(v: &str, base: i64) -> String {
    v.parse::<i64>()
        .map_or_else(|_| v.to_owned(), |n| format!("#{}", n - base))
}

/// Payload normalisation: pids and tick times.
fn normalise_payload(payload: &str) -> String {
    static RULES: LazyLock<[(Regex, &str); 2]> = LazyLock::new(|| {
        [
            (Regex::new(r"\bpid:\d+").expect("regex"), "pid:<pid>"),
            (Regex::new(r"^when:\d+$").expect("regex"), "when:<when>"),
        ]
    });
    RULES.iter().fold(payload.to_owned(), |p, (re, to)| {
        re.replace_all(&p, *to).into_owned()
    })
}

/// The recording of listener `name`, normalised (see the module doc), one line per record:
/// `<proc> started` or `<proc> <answer> <header>` then the payload, debug-quoted.
fn recording(d: &Daemon, name: &str) -> String {
    let recs = records(d, name);
    let base = serials(&recs, &d.main_log()).into_iter().min().unwrap_or(0);
    recs.iter()
        .map(|r| {
            let proc = r["proc"].as_str().unwrap_or("?");
            let Some(header) = r["header"].as_str() else {
                return format!("{proc} started\n");
            };
            let payload = r["payload"].as_str().unwrap_or_default();
            let normalised = normalise_payload(payload);
            let header = tokens(header)
                .into_iter()
                .map(|(k, v)| match k {
                    "serial" | "poolserial" => format!("{k}:{}", relative(v, base)),
                    "len" if v.parse() == Ok(payload.chars().count()) => {
                        format!("len:{}", normalised.chars().count())
                    }
                    "len" => format!(
                        "len:{v}(but the payload read has {})",
                        payload.chars().count()
                    ),
                    _ if v.is_empty() => k.to_owned(),
                    _ => format!("{k}:{v}"),
                })
                .collect::<Vec<_>>()
                .join(" ");
            let answer = r["answer"].as_str().unwrap_or("?");
            let trailing = r["trailing"]
                .as_str()
                .map(|t| format!("\n    then, past len: {t:?}"))
                .unwrap_or_default();
            format!("{proc} {answer} {header}\n    {normalised:?}{trailing}\n")
        })
        .collect()
}

/// The WARN/ERRO/CRIT lines of the main log that name listener `name` (or a pool), without
/// timestamps, normalised; discarded serials relative as in [`recording`].
fn log_lines(d: &Daemon, name: &str) -> String {
    let log = d.main_log();
    let base = serials(&records(d, name), &log)
        .into_iter()
        .min()
        .unwrap_or(0);
    log.lines()
        .filter_map(|l| l.get(24..))
        .filter(|l| ["WARN ", "ERRO ", "CRIT "].iter().any(|p| l.starts_with(p)))
        .filter(|l| l.contains(name) || l.contains(" pool "))
        .map(|l| {
            let l = DISCARD.replace_all(l, |c: &regex::Captures| {
                format!("discarding event {}", relative(&c[1], base))
            });
            format!("{}\n", d.normalise(&l))
        })
        .collect()
}

/// Compares the recordings of listener `name` and the main-log lines about it on both daemons,
/// after checking Python's are `expected` and `expected_log` (so a drift in Python, or in the
/// harness, is not mistaken for a difference in ours).
#[track_caller]
fn compare(pair: &Pair, name: &str, expected: &str, expected_log: &str) {
    let (py, ours) = pair.both(|d| (recording(d, name), log_lines(d, name)));
    assert_eq!(py.0, expected, "python's recording is not the expected one");
    assert_eq!(
        py.1, expected_log,
        "python's main log lines are not the expected ones"
    );
    assert_same(&format!("{name}'s recording"), &py.0, &ours.0);
    assert_same(&format!("main log lines about {name}"), &py.1, &ours.1);
}

/// Waits for both daemons' listener `name` to be RUNNING and to have recorded `n` events.
#[track_caller]
fn settle(pair: &Pair, name: &str, n: usize) {
    pair.wait_for_state(name, "RUNNING");
    pair.both(|d| wait_events(d, name, n));
}

/// The expected recording line of `listener`'s event with (relative) serial and poolserial `n`.
fn ev(answer: &str, n: usize, eventname: &str, payload: &str) -> String {
    format!(
        "listener {answer} ver:3.0 server:supervisor serial:#{n} pool:listener poolserial:#{n} \
         eventname:{eventname} len:{}\n    {payload:?}\n",
        payload.chars().count()
    )
}

/// The fence's line with serial `n`.
fn fence_line(n: usize) -> String {
    ev("OK", n, "REMOTE_COMMUNICATION", "type:fence\nend")
}

const STARTED: &str = "listener started\n";

#[test]
fn crash_loop_to_fatal() {
    // The crash takes 0.2 s: a child dead before `startProcess` returns makes Python's reply
    // a SPAWN_ERROR fault (it reaps right after spawning), even with wait=false.
    let pair = Pair::start(&format!(
        "{}\
         [program:crash]\n\
         command=sh -c 'sleep 0.2; exit 3'\n\
         autostart=false\n\
         startsecs=1\n\
         startretries=1\n",
        listener("listener", "PROCESS_STATE,REMOTE_COMMUNICATION", "", "")
    ));
    // The listener's own STARTING and RUNNING first, then the crash loop.
    settle(&pair, "listener", 2);
    pair.both(|d| rpc_process(d, "startProcess", "crash", false));
    pair.wait_for_state("crash", "FATAL");
    pair.both(|d| fence(d, "listener"));
    let crash = "processname:crash groupname:crash";
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &listener_started_events(),
            &ev(
                "OK",
                2,
                "PROCESS_STATE_STARTING",
                &format!("{crash} from_state:STOPPED tries:0"),
            ),
            &ev(
                "OK",
                3,
                "PROCESS_STATE_BACKOFF",
                &format!("{crash} from_state:STARTING tries:1"),
            ),
            &ev(
                "OK",
                4,
                "PROCESS_STATE_STARTING",
                &format!("{crash} from_state:BACKOFF tries:1"),
            ),
            &ev(
                "OK",
                5,
                "PROCESS_STATE_BACKOFF",
                &format!("{crash} from_state:STARTING tries:2"),
            ),
            &ev(
                "OK",
                6,
                "PROCESS_STATE_FATAL",
                &format!("{crash} from_state:BACKOFF"),
            ),
            &fence_line(7),
        ]
        .concat(),
        "",
    );
}

/// The listener's own PROCESS_STATE events at start-up (serials 0 and 1).
fn listener_started_events() -> String {
    let me = "processname:listener groupname:listener";
    [
        ev(
            "OK",
            0,
            "PROCESS_STATE_STARTING",
            &format!("{me} from_state:STOPPED tries:0"),
        ),
        ev(
            "OK",
            1,
            "PROCESS_STATE_RUNNING",
            &format!("{me} from_state:STARTING pid:<pid>"),
        ),
    ]
    .concat()
}

#[test]
fn stop_and_start_via_ctl_and_rpc() {
    let pair = Pair::start(&format!(
        "{}\
         [program:sleeper]\n\
         command=sleep 1000\n\
         autostart=false\n\
         startsecs=0\n",
        listener("listener", "PROCESS_STATE,REMOTE_COMMUNICATION", "", "")
    ));
    settle(&pair, "listener", 2);
    assert_eq!(pair.ctl(&["start", "sleeper"]).stdout, "sleeper: started\n");
    assert_eq!(pair.ctl(&["stop", "sleeper"]).stdout, "sleeper: stopped\n");
    pair.both(|d| rpc_process(d, "startProcess", "sleeper", true));
    pair.both(|d| rpc_process(d, "stopProcess", "sleeper", true));
    pair.both(|d| fence(d, "listener"));
    let sleeper = "processname:sleeper groupname:sleeper";
    let cycle = |n: usize| {
        [
            ev(
                "OK",
                n,
                "PROCESS_STATE_STARTING",
                &format!("{sleeper} from_state:STOPPED tries:0"),
            ),
            ev(
                "OK",
                n + 1,
                "PROCESS_STATE_RUNNING",
                &format!("{sleeper} from_state:STARTING pid:<pid>"),
            ),
            ev(
                "OK",
                n + 2,
                "PROCESS_STATE_STOPPING",
                &format!("{sleeper} from_state:RUNNING pid:<pid>"),
            ),
            ev(
                "OK",
                n + 3,
                "PROCESS_STATE_STOPPED",
                &format!("{sleeper} from_state:STOPPING pid:<pid>"),
            ),
        ]
        .concat()
    };
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &listener_started_events(),
            &cycle(2),
            &cycle(6),
            &fence_line(10),
        ]
        .concat(),
        "",
    );
}

#[test]
fn log_events_from_stdout_and_stderr() {
    // One line at a time, 0.3 s apart (one pipe read each); the last one not ASCII (`len`
    // counts characters).
    let pair = Pair::start(&format!(
        "{}\
         [program:talker]\n\
         command=sh -c 'echo one; sleep 0.3; echo two >&2; sleep 0.3; printf \"thr\\303\\251e\\n\"; sleep 0.3'\n\
         autostart=false\n\
         autorestart=false\n\
         startsecs=0\n\
         stdout_events_enabled=true\n\
         stderr_events_enabled=true\n",
        listener("listener", "PROCESS_LOG,REMOTE_COMMUNICATION", "", "")
    ));
    pair.wait_for_state("listener", "RUNNING");
    pair.both(|d| rpc_process(d, "startProcess", "talker", true));
    pair.both(|d| d.wait_for_state("talker", "EXITED", DEADLINE));
    pair.both(|d| fence(d, "listener"));
    let talker = "processname:talker groupname:talker pid:<pid>";
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev(
                "OK",
                0,
                "PROCESS_LOG_STDOUT",
                &format!("{talker} channel:stdout\none\n"),
            ),
            &ev(
                "OK",
                1,
                "PROCESS_LOG_STDERR",
                &format!("{talker} channel:stderr\ntwo\n"),
            ),
            &ev(
                "OK",
                2,
                "PROCESS_LOG_STDOUT",
                &format!("{talker} channel:stdout\nthr\u{e9}e\n"),
            ),
            &fence_line(3),
        ]
        .concat(),
        "",
    );
}

#[test]
fn capture_mode_comm_events() {
    let pair = Pair::start(&format!(
        "{}\
         [program:comm]\n\
         command=sh -c 'printf \"<!--XSUPERVISOR:BEGIN-->hello<!--XSUPERVISOR:END-->\\n\"; sleep 0.3; printf \"<!--XSUPERVISOR:BEGIN-->world<!--XSUPERVISOR:END-->\\n\" >&2; sleep 0.3'\n\
         autostart=false\n\
         autorestart=false\n\
         startsecs=0\n\
         stdout_capture_maxbytes=1MB\n\
         stderr_capture_maxbytes=1MB\n",
        listener("listener", "PROCESS_COMMUNICATION,REMOTE_COMMUNICATION", "", "")
    ));
    run_comm(&pair);
    let comm = "processname:comm groupname:comm pid:<pid>";
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev(
                "OK",
                0,
                "PROCESS_COMMUNICATION_STDOUT",
                &format!("{comm}\nhello"),
            ),
            &ev(
                "OK",
                1,
                "PROCESS_COMMUNICATION_STDERR",
                &format!("{comm}\nworld"),
            ),
            &fence_line(2),
        ]
        .concat(),
        "",
    );
}

#[test]
fn capture_mode_with_log_events() {
    // One write: log events for the text before the capture, for the captured text, then the
    // comm event when the END token is seen, then a log event for the rest of the line.
    let pair = Pair::start(&format!(
        "{}\
         [program:comm]\n\
         command=sh -c 'printf \"before<!--XSUPERVISOR:BEGIN-->hello<!--XSUPERVISOR:END-->after the comm event, long enough to pass\\n\"; sleep 0.3'\n\
         autostart=false\n\
         autorestart=false\n\
         startsecs=0\n\
         stdout_capture_maxbytes=1MB\n\
         stdout_events_enabled=true\n",
        listener("listener", "PROCESS_LOG,PROCESS_COMMUNICATION,REMOTE_COMMUNICATION", "", "")
    ));
    run_comm(&pair);
    let comm = "processname:comm groupname:comm pid:<pid>";
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev(
                "OK",
                0,
                "PROCESS_LOG_STDOUT",
                &format!("{comm} channel:stdout\nbefore"),
            ),
            &ev(
                "OK",
                1,
                "PROCESS_LOG_STDOUT",
                &format!("{comm} channel:stdout\nhello"),
            ),
            &ev(
                "OK",
                2,
                "PROCESS_COMMUNICATION_STDOUT",
                &format!("{comm}\nhello"),
            ),
            &ev(
                "OK",
                3,
                "PROCESS_LOG_STDOUT",
                &format!("{comm} channel:stdout\nafter the comm event, long enough to pass\n"),
            ),
            &fence_line(4),
        ]
        .concat(),
        "",
    );
}

#[test]
fn capture_mode_holds_a_short_tail_for_good() {
    // Python's quirk: with capture enabled, output no longer than the BEGIN token (24 bytes)
    // waits for more output, and at exit it is dropped (no PROCESS_LOG event for it, ever).
    let pair = Pair::start(&format!(
        "{}\
         [program:comm]\n\
         command=sh -c 'echo a line long enough to be logged at once; sleep 0.3; echo short tail; sleep 0.3'\n\
         autostart=false\n\
         autorestart=false\n\
         startsecs=0\n\
         stdout_capture_maxbytes=1MB\n\
         stdout_events_enabled=true\n",
        listener("listener", "PROCESS_LOG,REMOTE_COMMUNICATION", "", "")
    ));
    run_comm(&pair);
    let comm = "processname:comm groupname:comm pid:<pid>";
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev(
                "OK",
                0,
                "PROCESS_LOG_STDOUT",
                &format!("{comm} channel:stdout\na line long enough to be logged at once\n"),
            ),
            &fence_line(1),
        ]
        .concat(),
        "",
    );
}

#[test]
fn remote_comm_events() {
    let pair = Pair::start(&listener("listener", "REMOTE_COMMUNICATION", "", ""));
    pair.both(|d| {
        remote(d, "greeting", "h\u{e9}llo w\u{f6}rld\nsecond line");
        remote(d, "empty", "");
    });
    pair.both(|d| fence(d, "listener"));
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev(
                "OK",
                0,
                "REMOTE_COMMUNICATION",
                "type:greeting\nh\u{e9}llo w\u{f6}rld\nsecond line",
            ),
            &ev("OK", 1, "REMOTE_COMMUNICATION", "type:empty\n"),
            &fence_line(2),
        ]
        .concat(),
        "",
    );
}

/// Seconds since the epoch.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

#[test]
fn tick_5() {
    let before = now();
    let pair = Pair::start(&listener("listener", "TICK_5", "", ""));
    pair.both(|d| wait_events(d, "listener", 1));
    let after = now();
    pair.both(|d| {
        let first = event_records(d, "listener").remove(0);
        let when: f64 = first["payload"]
            .as_str()
            .and_then(|p| p.strip_prefix("when:"))
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("not a tick: {first}"));
        assert!(
            when % 5.0 == 0.0 && before < when && when <= after,
            "first TICK_5 at when:{when}: not a multiple of 5 after the start ({before}) and \
             before now ({after})"
        );
    });
    // Only the first tick: a slow run may have seen a second one by now.
    let (py, ours) = pair.both(|d| {
        let text = recording(d, "listener");
        text.lines()
            .take(3)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    });
    assert_eq!(
        py,
        [STARTED, &ev("OK", 0, "TICK_5", "when:<when>")].concat(),
        "python's recording is not the expected one"
    );
    assert_same("listener's first tick", &py, &ours);
}

#[test]
fn group_added_and_removed_by_update() {
    let base = listener("listener", "PROCESS_GROUP,REMOTE_COMMUNICATION", "", "");
    let pair = Pair::start(&base);
    // The listener's own group, added after its pool subscribed.
    pair.both(|d| wait_events(d, "listener", 1));
    let with_extra = format!("{base}[program:extra]\ncommand=sleep 1000\nstartsecs=0\n");
    pair.both(|d| d.rewrite_config(&with_extra));
    assert_eq!(pair.ctl(&["update"]).stdout, "extra: added process group\n");
    pair.both(|d| d.rewrite_config(&base));
    assert_eq!(
        pair.ctl(&["update"]).stdout,
        "extra: stopped\nextra: removed process group\n"
    );
    pair.both(|d| fence(d, "listener"));
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev("OK", 0, "PROCESS_GROUP_ADDED", "groupname:listener\n"),
            &ev("OK", 1, "PROCESS_GROUP_ADDED", "groupname:extra\n"),
            &ev("OK", 2, "PROCESS_GROUP_REMOVED", "groupname:extra\n"),
            &fence_line(3),
        ]
        .concat(),
        "",
    );
}

#[test]
fn supervisor_state_running_and_stopping() {
    // `slow` (stopped first: highest priority) takes 0.5 s to stop on SIGTERM, so the listener,
    // stopped last, is still there to take SUPERVISOR_STATE_CHANGE_STOPPING.
    let mut pair = Pair::start(&format!(
        "{}\
         [program:slow]\n\
         command=sh -c 'trap \"sleep 0.5; exit 0\" TERM; while :; do sleep 0.1; done'\n\
         startsecs=0\n",
        listener("listener", "SUPERVISOR_STATE_CHANGE", "", "")
    ));
    settle(&pair, "listener", 1);
    pair.wait_for_state("slow", "RUNNING");
    assert_eq!(pair.ctl(&["shutdown"]).stdout, "Shut down\n");
    thread::scope(|s| {
        let py = s.spawn(|| pair.python.wait_exit(DEADLINE));
        pair.ours.wait_exit(DEADLINE);
        py.join().expect("python's daemon exits");
    });
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev("OK", 0, "SUPERVISOR_STATE_CHANGE_RUNNING", ""),
            &ev("OK", 1, "SUPERVISOR_STATE_CHANGE_STOPPING", ""),
        ]
        .concat(),
        "WARN stopped: listener (terminated by SIGTERM)\n",
    );
}

#[test]
fn rejected_event_is_redelivered() {
    let pair = Pair::start(&listener(
        "listener",
        "REMOTE_COMMUNICATION",
        "--fail-first 1",
        "",
    ));
    pair.both(|d| {
        remote(d, "first", "a");
        remote(d, "second", "b");
    });
    pair.both(|d| fence(d, "listener"));
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev("FAIL", 0, "REMOTE_COMMUNICATION", "type:first\na"),
            &ev("OK", 0, "REMOTE_COMMUNICATION", "type:first\na"),
            &ev("OK", 1, "REMOTE_COMMUNICATION", "type:second\nb"),
            &fence_line(2),
        ]
        .concat(),
        "WARN listener: event was rejected\n",
    );
}

#[test]
fn listener_exiting_mid_event_gets_it_again() {
    let pair = Pair::start(&listener(
        "listener",
        "REMOTE_COMMUNICATION",
        "--exit-on 1",
        "autorestart=true",
    ));
    pair.both(|d| remote(d, "first", "a"));
    pair.both(|d| fence(d, "listener"));
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev("exit", 0, "REMOTE_COMMUNICATION", "type:first\na"),
            STARTED,
            &ev("OK", 0, "REMOTE_COMMUNICATION", "type:first\na"),
            &fence_line(1),
        ]
        .concat(),
        "WARN exited: listener (exit status 7; not expected)\n",
    );
}

#[test]
fn garbage_result_makes_the_listener_unknown() {
    let pair = Pair::start(&listener(
        "listener",
        "REMOTE_COMMUNICATION",
        "--garbage",
        "",
    ));
    pair.both(|d| remote(d, "first", "a"));
    pair.both(|d| d.wait_for_log("has entered the UNKNOWN state", DEADLINE));
    // UNKNOWN is for good (the READY the listener writes after its garbage is ignored): only a
    // restart brings the listener, and the rejected event, back.
    assert_eq!(
        pair.ctl(&["restart", "listener"]).stdout,
        "listener: stopped\nlistener: started\n"
    );
    pair.both(|d| fence(d, "listener"));
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev("garbage", 0, "REMOTE_COMMUNICATION", "type:first\na"),
            STARTED,
            &ev("OK", 0, "REMOTE_COMMUNICATION", "type:first\na"),
            &fence_line(1),
        ]
        .concat(),
        "WARN listener: bad result line: 'garbage'\n\
         WARN listener: has entered the UNKNOWN state and will no longer receive events, this \
         usually indicates the process violated the eventlistener protocol\n\
         WARN stopped: listener (terminated by SIGTERM)\n",
    );
}

#[test]
fn buffer_overflow_discards_the_oldest() {
    // No listener running while four events arrive for a buffer of two.
    let pair = Pair::start(&listener(
        "listener",
        "REMOTE_COMMUNICATION",
        "",
        "autostart=false\nbuffer_size=2",
    ));
    pair.both(|d| {
        for n in 1..=4 {
            remote(d, "overflow", &n.to_string());
        }
    });
    assert_eq!(
        pair.ctl(&["start", "listener"]).stdout,
        "listener: started\n"
    );
    pair.both(|d| wait_events(d, "listener", 2));
    pair.both(|d| fence(d, "listener"));
    compare(
        &pair,
        "listener",
        &[
            STARTED,
            &ev("OK", 2, "REMOTE_COMMUNICATION", "type:overflow\n3"),
            &ev("OK", 3, "REMOTE_COMMUNICATION", "type:overflow\n4"),
            &fence_line(4),
        ]
        .concat(),
        "ERRO pool listener event buffer overflowed, discarding event #0\n\
         ERRO pool listener event buffer overflowed, discarding event #1\n",
    );
}
