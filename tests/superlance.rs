//! superlance end to end: the real listeners (crashmail, memmon, httpok, fatalmailbatch from the
//! reference virtualenv) run under a daemon as `[eventlistener:x]`s, get their events over the
//! listener protocol and talk back over XML-RPC on the unix socket named by
//! `SUPERVISOR_SERVER_URL`. Each scenario runs against our daemon and against Python's, which
//! shows the test asks for what Python does. Mail goes to stand-ins: a `sendmail` that files each
//! mail (`tests/py/superlance_sendmail.sh`) and an SMTP server on a thread here. Every wait polls
//! to a deadline; TICK_5 is the fastest tick, so a tick-driven step takes up to 5 s.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use regex::Regex;

use crate::support::{pyref, Daemon, Impl, Value};

const POLL: Duration = Duration::from_millis(50);
/// All a test may take, its daemon's start included: every wait takes what is left. Ticks come
/// on the wall clock's multiples of 5 s; httpok, the longest, waits for three of them.
const TEST_BUDGET: Duration = Duration::from_secs(30);
const SENDMAIL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/py/superlance_sendmail.sh"
);
/// `childutils.get_asctime()`: 2026-11-24 19:03:59,686.
const ASCTIME: &str = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}";

/// A superlance script from the reference virtualenv.
fn script(name: &str) -> String {
    pyref().join("bin").join(name).display().to_string()
}

fn python() -> String {
    script("python")
}

/// A daemon and the test's deadline.
struct Run {
    d: Daemon,
    end: Instant,
}

impl std::ops::Deref for Run {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.d
    }
}

impl Run {
    #[track_caller]
    fn start(kind: Impl, body: &str) -> Run {
        let end = Instant::now() + TEST_BUDGET;
        Run {
            d: Daemon::start(kind, body),
            end,
        }
    }

    fn left(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// Where every test's listener writes its stderr (`stderr_logfile=%(here)s/listener.err`).
    fn listener_err(&self) -> String {
        fs::read_to_string(self.dir().join("listener.err")).unwrap_or_default()
    }

    /// What to look at when a step fails: the listener's stderr and the daemon's main log.
    fn evidence(&self) -> String {
        format!(
            "--- listener stderr ---\n{}\n--- main log ---\n{}",
            self.listener_err(),
            self.main_log()
        )
    }

    /// Polls `f` until it gives `Some`, panicking with `what` and the evidence at the deadline.
    #[track_caller]
    fn wait_for<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                Instant::now() < self.end,
                "{what}: not within the test's {TEST_BUDGET:?}\n{}",
                self.evidence()
            );
            thread::sleep(POLL);
        }
    }

    /// Polls until `name` is in `state`. A listener RUNNING may still be starting its
    /// interpreter: events that come before its READY wait in the pool's buffer.
    #[track_caller]
    fn state(&self, name: &str, state: &str) {
        self.wait_for_state(name, state, self.left());
    }

    /// The pid of `name` once it is RUNNING.
    #[track_caller]
    fn running_pid(&self, name: &str) -> i64 {
        self.state(name, "RUNNING");
        self.info(name).field("pid").int()
    }

    /// The pid of `name` once it is RUNNING with another pid than `old` (it was restarted).
    #[track_caller]
    fn restarted(&self, name: &str, old: i64) -> i64 {
        self.wait_for(&format!("{name} restarted"), || {
            let info = self.rpc("supervisor.getProcessInfo", &[Value::Str(name.into())]);
            info.ok()
                .filter(|i| i.field("statename").str() == "RUNNING")
                .map(|i| i.field("pid").int())
                .filter(|&p| p != 0 && p != old)
        })
    }

    /// The listener's stderr eventually contains `text`.
    #[track_caller]
    fn listener_says(&self, text: &str) {
        self.wait_for(&format!("listener stderr shows {text:?}"), || {
            self.listener_err().contains(text).then_some(())
        });
    }
}

/// The finished mails the sendmail stand-in filed in `dir` (`mail.<pid>`), sorted.
fn mails(dir: &Path) -> Vec<String> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("mail.") && !n.ends_with(".part"))
        })
        .collect();
    found.sort();
    found
        .iter()
        .map(|p| fs::read_to_string(p).expect("read mail"))
        .collect()
}

fn crashmail(kind: Impl) {
    let d = Run::start(
        kind,
        &format!(
            "[eventlistener:crashmail]\n\
             command={crashmail} -a -m ops@example.com -s \"{SENDMAIL} %(here)s\"\n\
             events=PROCESS_STATE_EXITED\n\
             stderr_logfile=%(here)s/listener.err\n\
             \n\
             [program:fine]\n\
             command=sh -c 'sleep 0.3; exit 0'\n\
             autostart=false\n\
             autorestart=false\n\
             startsecs=0\n\
             \n\
             [program:crashy]\n\
             command=sh -c 'echo $$ > %(here)s/crashy.pid; sleep 0.5; exit 3'\n\
             autostart=false\n\
             autorestart=false\n\
             startsecs=0\n",
            crashmail = script("crashmail"),
        ),
    );
    d.state("crashmail", "RUNNING");

    // An expected exit first: crashmail lets it pass. The one listener takes events in order, so
    // once crashy's mail is there, fine's exit has been handled too.
    d.rpc("supervisor.startProcess", &[Value::Str("fine".into())])
        .expect("start fine");
    d.state("fine", "EXITED");
    d.rpc("supervisor.startProcess", &[Value::Str("crashy".into())])
        .expect("start crashy");
    d.state("crashy", "EXITED");
    let pid = fs::read_to_string(d.dir().join("crashy.pid")).expect("crashy.pid");
    let pid = pid.trim();

    let got = d.wait_for("crashmail mails crashy's exit", || {
        Some(mails(d.dir())).filter(|m| !m.is_empty())
    });
    assert_eq!(got.len(), 1, "one mail, for crashy only: {got:#?}");
    let expected = Regex::new(&format!(
        "^To: ops@example.com\n\
         Subject:  crashy crashed at {ASCTIME}\n\
         \n\
         Process crashy in group crashy exited unexpectedly \\(pid {pid}\\) from state RUNNING$"
    ))
    .expect("regex");
    assert!(
        expected.is_match(&got[0]),
        "{kind:?}: mail {:?} does not match {expected}\n{}",
        got[0],
        d.evidence()
    );
    // crashmail logs the mail once sendmail has exited, so after the test may have seen it; the
    // text ends without a newline, as crashmail wrote it.
    d.listener_says(&format!("unexpected exit, mailing\nMailed:\n\n{}", got[0]));
}

#[test]
fn crashmail_python() {
    crashmail(Impl::Python);
}

#[test]
fn crashmail_ours() {
    crashmail(Impl::Ours);
}

fn memmon(kind: Impl) {
    let d = Run::start(
        kind,
        &format!(
            "[eventlistener:memmon]\n\
             command={memmon} -p hog=20MB -p small=20MB\n\
             events=TICK_5\n\
             stderr_logfile=%(here)s/listener.err\n\
             \n\
             [program:hog]\n\
             command={python} -c \"import time; b = b'x' * (50 << 20); time.sleep(1000)\"\n\
             startsecs=0\n\
             \n\
             [program:small]\n\
             command=sleep 1000\n\
             startsecs=0\n",
            memmon = script("memmon"),
            python = python(),
        ),
    );
    d.state("memmon", "RUNNING");
    let hog = d.running_pid("hog");
    let small = d.running_pid("small");

    // On a TICK_5 memmon reads each process's RSS with ps and restarts the hog with
    // supervisor.stopProcess then supervisor.startProcess.
    d.restarted("hog", hog);
    d.listener_says("Restarting hog:hog\n");
    // The same tick measured small (after hog: the processes come sorted) and left it alone.
    d.listener_says("RSS of small:small is ");
    let err = d.listener_err();
    assert!(
        err.contains("Checking programs hog=20971520, small=20971520\n"),
        "{kind:?}: listener stderr\n{err}"
    );
    let rss = Regex::new(r"RSS of hog:hog is (\d+)\n").expect("regex");
    let measured: u64 = rss
        .captures(&err)
        .unwrap_or_else(|| panic!("{kind:?}: no RSS of hog in\n{err}"))[1]
        .parse()
        .expect("rss");
    assert!(measured > 20 << 20, "{kind:?}: hog's RSS {measured}\n{err}");
    assert!(
        !err.contains("Restarting small") && !err.contains("Failed to"),
        "{kind:?}: {err}"
    );
    assert_eq!(
        d.info("small").field("pid").int(),
        small,
        "small kept its pid"
    );
}

#[test]
fn memmon_python() {
    memmon(Impl::Python);
}

#[test]
fn memmon_ours() {
    memmon(Impl::Ours);
}

fn httpok(kind: Impl) {
    // The web server takes the daemon's spare port ({port}); nothing else in the config uses it.
    let d = Run::start(
        kind,
        &format!(
            "[eventlistener:httpok]\n\
             command={httpok} -p web -t 2 http://127.0.0.1:{{port}}/\n\
             events=TICK_5\n\
             stderr_logfile=%(here)s/listener.err\n\
             \n\
             [program:web]\n\
             command={python} -m http.server {{port}} --bind 127.0.0.1\n\
             directory=%(here)s\n\
             stderr_logfile=%(here)s/web.err\n\
             startsecs=0\n\
             stopwaitsecs=1\n",
            httpok = script("httpok"),
            python = python(),
        ),
    );
    d.state("httpok", "RUNNING");
    let web = d.running_pid("web");
    let web_err = || fs::read_to_string(d.dir().join("web.err")).unwrap_or_default();

    // A healthy check first: httpok's GET answered 200 (http.server logs it), nothing restarted.
    d.wait_for("httpok's GET answered", || {
        web_err().contains("\"GET / HTTP/1.1\" 200").then_some(())
    });
    assert_eq!(
        d.info("web").field("pid").int(),
        web,
        "a healthy web is kept"
    );
    assert!(
        !d.listener_err().contains("Restarting"),
        "{kind:?}: {}",
        d.evidence()
    );

    // Frozen, the server still accepts connections (the kernel does) but never answers: the
    // next check times out after 2 s and httpok restarts web (SIGTERM waits on a stopped
    // process; stopwaitsecs=1 brings the SIGKILL).
    kill(Pid::from_raw(web as i32), Signal::SIGSTOP).expect("SIGSTOP web");
    let answered = || web_err().matches("\"GET / HTTP/1.1\" 200").count();
    let before = answered();
    d.restarted("web", web);
    // httpok names processes by make_namespec: "web", its group having the same name.
    d.listener_says("web restarted\n");
    let err = d.listener_err();
    let expected = "Restarting selected processes ['web']\n\
                    web is in RUNNING state, restarting\n\
                    web restarted\n";
    assert!(
        err.starts_with(expected),
        "{kind:?}: listener stderr\n{err}"
    );
    assert!(!err.contains("Failed to"), "{kind:?}: {err}");
    // The new server answers the next check (the frozen one never logged again).
    d.wait_for("the restarted web answers httpok", || {
        (answered() > before).then_some(())
    });
}

#[test]
fn httpok_python() {
    httpok(Impl::Python);
}

#[test]
fn httpok_ours() {
    httpok(Impl::Ours);
}

/// One mail as an SMTP server received it: the envelope and the DATA.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A stand-in SMTP server on 127.0.0.1 (just what `smtplib.SMTP.sendmail` says), on a thread
/// that stops on drop.
struct Smtp {
    port: u16,
    mails: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Smtp {
    fn start() -> Smtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (mails, stop) = (mails.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            // A broken conversation just ends; the test sees no mail.
                            let _ = Smtp::converse(conn, &mails);
                        }
                        // Nothing yet (WouldBlock), or a failed accept: look again.
                        Err(_) => thread::sleep(POLL),
                    }
                }
            })
        };
        Smtp {
            port,
            mails,
            stop,
            thread: Some(thread),
        }
    }

    fn converse(conn: TcpStream, mails: &Mutex<Vec<Received>>) -> std::io::Result<()> {
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut out = conn.try_clone()?;
        let mut lines = BufReader::new(conn);
        let mut line = String::new();
        let mut read = |line: &mut String| -> std::io::Result<bool> {
            line.clear();
            Ok(lines.read_line(line)? > 0)
        };
        out.write_all(b"220 stand-in ESMTP\r\n")?;
        let (mut from, mut to) = (String::new(), Vec::new());
        while read(&mut line)? {
            let command = line.trim_end().to_owned();
            let verb = command.get(..4).unwrap_or("").to_ascii_uppercase();
            let arg = |prefix: &str| {
                command
                    .get(prefix.len()..)
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            };
            match verb.as_str() {
                "EHLO" | "HELO" | "NOOP" => out.write_all(b"250 stand-in\r\n")?,
                "RSET" => {
                    (from, to) = (String::new(), Vec::new());
                    out.write_all(b"250 ok\r\n")?
                }
                "MAIL" => {
                    from = arg("MAIL FROM:");
                    out.write_all(b"250 ok\r\n")?
                }
                "RCPT" => {
                    to.push(arg("RCPT TO:"));
                    out.write_all(b"250 ok\r\n")?
                }
                "DATA" => {
                    out.write_all(b"354 go ahead\r\n")?;
                    let mut data = String::new();
                    while read(&mut line)? && line != ".\r\n" {
                        let text = line.strip_suffix("\r\n").unwrap_or(&line);
                        let text = text.strip_prefix('.').unwrap_or(text);
                        data.push_str(text);
                        data.push('\n');
                    }
                    mails.lock().expect("mails").push(Received {
                        from: std::mem::take(&mut from),
                        to: std::mem::take(&mut to),
                        data,
                    });
                    out.write_all(b"250 ok\r\n")?
                }
                "QUIT" => {
                    out.write_all(b"221 bye\r\n")?;
                    return Ok(());
                }
                _ => out.write_all(b"502 not here\r\n")?,
            }
        }
        Ok(())
    }

    fn mails(&self) -> Vec<Received> {
        self.mails.lock().expect("mails").clone()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn fatalmailbatch(kind: Impl) {
    let smtp = Smtp::start();
    // The batch interval is in minutes and may be fractional: 0.05 is less than one TICK_5
    // (1/12 minute), so every tick sends what the batch holds.
    let d = Run::start(
        kind,
        &format!(
            "[eventlistener:fatalmailbatch]\n\
             command={fatalmailbatch} -t ops@example.com -f supervisor@example.com \
             -H 127.0.0.1:{port} -e TICK_5 -i 0.05\n\
             events=PROCESS_STATE,TICK_5\n\
             stderr_logfile=%(here)s/listener.err\n\
             \n\
             [group:g]\n\
             programs=doomed1,doomed2\n\
             \n\
             [program:doomed1]\n\
             command=false\n\
             autostart=false\n\
             startsecs=1\n\
             startretries=0\n\
             \n\
             [program:doomed2]\n\
             command=false\n\
             autostart=false\n\
             startsecs=1\n\
             startretries=0\n",
            fatalmailbatch = script("fatalmailbatch"),
            port = smtp.port,
        ),
    );
    d.state("fatalmailbatch", "RUNNING");
    // Both fail to start (the call reports the failures; they are the point).
    let _ = d.rpc("supervisor.startProcessGroup", &[Value::Str("g".into())]);
    d.state("g:doomed1", "FATAL");
    d.state("g:doomed2", "FATAL");

    // Both FATALs come milliseconds apart, so they normally share a batch; a tick falling
    // between them would split it in two mails, which is still right.
    let line = |n: u8| {
        Regex::new(&format!(
            "(?m)^{ASCTIME} -- Process g:doomed{n} failed to start too many times$"
        ))
        .expect("regex")
    };
    let got = d.wait_for("fatalmailbatch mails both FATALs", || {
        let got = smtp.mails();
        let all: String = got.iter().map(|m| m.data.as_str()).collect();
        (line(1).is_match(&all) && line(2).is_match(&all)).then_some(got)
    });
    for mail in &got {
        assert_eq!(mail.from, "supervisor@example.com", "{mail:?}");
        assert_eq!(mail.to, ["ops@example.com"], "{mail:?}");
        let (head, body) = mail
            .data
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("no header/body split: {mail:?}"));
        let headers: Vec<&str> = head.lines().collect();
        for h in [
            "Subject: Fatal start alert from supervisord",
            "From: supervisor@example.com",
            "To: ops@example.com",
        ] {
            assert!(headers.contains(&h), "{kind:?}: no {h:?} in {mail:?}");
        }
        let entry = Regex::new(&format!(
            "^{ASCTIME} -- Process g:doomed[12] failed to start too many times$"
        ))
        .expect("regex");
        for l in body.lines() {
            assert!(entry.is_match(l), "{kind:?}: body line {l:?} in {mail:?}");
        }
    }
    d.listener_says("Sending notification email:\n");
    let err = d.listener_err();
    assert!(!err.contains("Error sending email"), "{kind:?}: {err}");
}

#[test]
fn fatalmailbatch_python() {
    fatalmailbatch(Impl::Python);
}

#[test]
fn fatalmailbatch_ours() {
    fatalmailbatch(Impl::Ours);
}
