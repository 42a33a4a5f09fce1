//! Our `supervisorctl` as a person uses it: the interactive shell on a real pseudo-terminal
//! (`tests/py/pty_screen.py` types at it and renders the screen with a terminal emulator),
//! the seed's login-and-reload session, tab completion, `fg`, history, piped input, and the
//! extensions (`status --json`, completion scripts).

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{normalise, pyref, Daemon, Impl, Output};

/// Our ctl binary.
fn ours() -> String {
    env!("CARGO_BIN_EXE_supervisorctl").to_string()
}

/// Python's ctl binary.
fn python() -> String {
    pyref().join("bin/supervisorctl").display().to_string()
}

/// Runs `ctl args...` on a pty, typing `steps` (JSON), and returns the final screen.
#[track_caller]
fn screen(ctl: &str, args: &[&str], steps: &str, dir: &Path) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/pty_screen.py");
    let mut child = Command::new(pyref().join("bin/python"))
        .arg(script)
        .arg(ctl)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pty_screen.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(steps.as_bytes())
        .expect("steps");
    let out = child.wait_with_output().expect("pty_screen.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{ctl} {args:?}: {}\n--- screen ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The seed's config: an inet server with the post's credentials, and qrd.
const SEED: &str = "
[inet_http_server]
port=127.0.0.1:{port}
username=user
password=123

[program:qrd]
command=sleep 1000
startsecs=0

[group:grp]
programs=ga,gb

[program:ga]
command=sleep 1000
startsecs=0

[program:gb]
command=sleep 1000
startsecs=0
";

fn url(d: &Daemon) -> String {
    format!("http://127.0.0.1:{}", d.port())
}

/// The seed's session, typed at both ctls against the same daemon: `Server requires
/// authentication`, the `Username:`/`Password:` prompts (the password not echoed), `status`,
/// `help`, `quit`. The screens must be identical.
#[test]
fn login_status_help_screen_is_pythons() {
    for kind in [Impl::Ours, Impl::Python] {
        let d = Daemon::start(kind, SEED);
        d.wait_for_state("qrd", "RUNNING", std::time::Duration::from_secs(20));
        let steps = r#"[
            {"expect": "Username:"}, {"send": "user\r"},
            {"expect": "Password:"}, {"send": "123\r"},
            {"expect": "supervisor> "}, {"send": "help\r"},
            {"expect": "supervisor> "}, {"send": "status qrd\r"},
            {"expect": "supervisor> "}, {"send": "quit\r"},
            {"exit": true}
        ]"#;
        let url = url(&d);
        let args = ["-c", "supervisord.conf", "-s", &url];
        let py = d.normalise(&screen(&python(), &args, steps, d.dir()));
        let rs = d.normalise(&screen(&ours(), &args, steps, d.dir()));
        crate::support::assert_same(&format!("seed session on {kind:?}"), &py, &rs);
        assert!(
            rs.starts_with("Server requires authentication\nUsername:user\nPassword:\n\ngrp:ga ")
        );
        assert!(!rs.contains("123"), "the password was echoed:\n{rs}");
        assert!(rs.ends_with("supervisor> quit\n--- exit 0 ---\n"), "{rs}");
    }
}

/// `reload` asks, restarts the daemon, and the shell goes on once it is back; `shutdown`
/// answered `n` does nothing.
#[test]
fn reload_asks_and_the_shell_goes_on() {
    let d = Daemon::start(Impl::Ours, SEED);
    let steps = r#"[
        {"expect": "supervisor> "}, {"send": "reload\r"},
        {"expect": "Really restart the remote supervisord process y/N? "}, {"send": "y\r"},
        {"expect": "Restarted supervisord"}, {"expect": "supervisor> "},
        {"send": "status qrd\r", "until": "uptime"},
        {"expect": "supervisor> "}, {"send": "shutdown\r"},
        {"expect": "Really shut the remote supervisord process down y/N? "}, {"send": "n\r"},
        {"expect": "supervisor> "}, {"send": "exit\r"},
        {"exit": true}
    ]"#;
    let url = url(&d);
    let s = screen(
        &ours(),
        &[
            "-c",
            "supervisord.conf",
            "-s",
            &url,
            "-u",
            "user",
            "-p",
            "123",
        ],
        steps,
        d.dir(),
    );
    assert!(
        s.contains("y/N? y\nRestarted supervisord\nsupervisor> "),
        "{s}"
    );
    assert!(s.contains("down y/N? n\nsupervisor> exit\n"), "{s}");
    // Still serving after the refused shutdown.
    assert_eq!(d.info("qrd").field("statename").str(), "RUNNING");
}

/// Tab completes commands, process names, `group:*` and group names from the server. Each step
/// waits for the command's own output, not a prompt (completion redraws the prompt too).
#[test]
fn tab_completes_names_from_the_server() {
    let d = Daemon::start(Impl::Ours, SEED);
    let steps = r#"[
        {"expect": "supervisor> "}, {"send": "stat\tq\t\r"},
        {"expect": "uptime"}, {"expect": "supervisor> "}, {"send": "stop grp:g\t\t"},
        {"expect": "grp:gb"}, {"send": "a\r"},
        {"expect": "grp:ga: stopped"}, {"send": "rem\tgr\t\r"},
        {"expect": "still running: grp"}, {"send": "quit\r"},
        {"exit": true}
    ]"#;
    let s = screen(&ours(), &["-c", "supervisord.conf"], steps, d.dir());
    let s = normalise(&s);
    assert!(
        s.contains("supervisor> status qrd\nqrd                              RUNNING   pid <pid>"),
        "{s}"
    );
    assert!(
        s.contains("grp:ga  grp:gb"),
        "both group members listed:\n{s}"
    );
    assert!(
        s.contains("supervisor> stop grp:ga\ngrp:ga: stopped\n"),
        "{s}"
    );
    assert!(
        s.contains("supervisor> remove grp\nERROR: process/group still running: grp\n"),
        "{s}"
    );
}

/// `fg` shows the process's output, forwards typed lines to its stdin, and Ctrl-C detaches
/// without stopping it, as Python's does.
#[test]
fn fg_forwards_input_and_ctrl_c_detaches() {
    let d = Daemon::start(
        Impl::Ours,
        "
[program:echo]
command=cat
startsecs=0
",
    );
    d.wait_for_state("echo", "RUNNING", std::time::Duration::from_secs(20));
    let steps = r#"[
        {"expect": "supervisor> "}, {"send": "fg echo\r"},
        {"expect": "==> Press Ctrl-C to exit <=="}, {"send": "hello there\r"},
        {"expect": "hello there"}, {"expect": "hello there"}, {"send": "\u0003"},
        {"expect": "Exiting foreground"},
        {"expect": "supervisor> "}, {"send": "status\r"},
        {"expect": "supervisor> "}, {"send": "quit\r"},
        {"exit": true}
    ]"#;
    // Ours only: Python's fg thread is racy (it may print `CLOSED Cannot connect, error:
    // <class 'SystemExit'>` after detaching), so its screen is not a stable reference.
    let s = normalise(&screen(
        &ours(),
        &["-c", "supervisord.conf"],
        steps,
        d.dir(),
    ));
    assert!(
        s.contains("supervisor> fg echo\n==> Press Ctrl-C to exit <==\nhello there\nhello there\n"),
        "{s}"
    );
    assert!(
        s.contains("Exiting foreground\nsupervisor> status\necho "),
        "{s}"
    );
    assert_eq!(d.info("echo").field("statename").str(), "RUNNING");
}

/// `-r FILE` keeps the shell's history across sessions; Up, Up recalls the line before `quit`.
#[test]
fn history_file_persists_across_sessions() {
    let d = Daemon::start(Impl::Ours, SEED);
    let history = d.dir().join("history");
    let h = history.display().to_string();
    let first = r#"[
        {"expect": "supervisor> "}, {"send": "pid qrd\r"},
        {"expect": "supervisor> "}, {"send": "quit\r"}, {"exit": true}
    ]"#;
    screen(
        &ours(),
        &["-c", "supervisord.conf", "-r", &h],
        first,
        d.dir(),
    );
    assert!(
        fs::read_to_string(&history)
            .unwrap_or_default()
            .contains("pid qrd"),
        "history not written"
    );
    let second = r#"[
        {"expect": "supervisor> "}, {"send": "\u001b[A\u001b[A\r"},
        {"expect": "supervisor> "}, {"send": "quit\r"}, {"exit": true}
    ]"#;
    let s = normalise(&screen(
        &ours(),
        &["-c", "supervisord.conf", "-r", &h],
        second,
        d.dir(),
    ));
    // The recalled line runs (the emulator may keep a trace of the line it replaced).
    assert!(s.contains("supervisor> pid qrd\n"), "{s}");
    assert!(s.contains("\n<pid>\nsupervisor> quit\n"), "{s}");
}

/// Runs a ctl with `input` on a pipe (not a terminal) and returns what it printed.
fn piped(ctl: &str, d: &Daemon, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(ctl)
        .arg("-c")
        .arg(d.conf())
        .args(args)
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ctl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input");
    let out = child.wait_with_output().expect("ctl");
    Output {
        stdout: d.normalise(&String::from_utf8_lossy(&out.stdout)),
        stderr: d.normalise(&String::from_utf8_lossy(&out.stderr)),
        code: out.status.code().unwrap_or(-1),
    }
}

/// A shell fed from a pipe prints its prompts on stdout and exits 0 whatever failed, as
/// Python's does.
#[test]
fn piped_shell_matches_python() {
    let d = Daemon::start(Impl::Ours, SEED);
    d.wait_for_state("qrd", "RUNNING", std::time::Duration::from_secs(20));
    let input = "status qrd\nfoo bar\nstart nosuch\n\nhelp stop\n";
    let py = piped(&python(), &d, &[], input);
    let rs = piped(&ours(), &d, &[], input);
    assert_eq!(py, rs);
    assert_eq!(rs.code, 0);
    assert!(rs
        .stdout
        .contains("supervisor> *** Unknown syntax: foo bar\n"));
}

/// `status --json`: every getProcessInfo field of each process, in the API's types; the exit
/// status is `status`'s.
#[test]
fn status_json_has_every_process_info_field() {
    let d = Daemon::start(Impl::Ours, SEED);
    d.wait_for_state("qrd", "RUNNING", std::time::Duration::from_secs(20));
    let out = piped(&ours(), &d, &["status", "--json", "qrd", "grp:*"], "");
    assert_eq!(out.code, 0, "{out:?}");
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 3);
    let qrd = &list[0];
    let info = d.info("qrd");
    for key in [
        "name",
        "group",
        "start",
        "stop",
        "now",
        "state",
        "statename",
        "spawnerr",
        "exitstatus",
        "logfile",
        "stdout_logfile",
        "stderr_logfile",
        "pid",
        "description",
    ] {
        assert!(qrd.get(key).is_some(), "no {key} in {qrd}");
    }
    assert_eq!(qrd["name"], "qrd");
    assert_eq!(qrd["pid"].as_i64(), Some(info.field("pid").int()));
    assert_eq!(qrd["statename"], "RUNNING");
    assert_eq!(list[1]["name"], "ga");
    // Then what our extensions say of it.
    assert_eq!(qrd["health"]["health"], "none", "{qrd}");
    assert_eq!(
        qrd["dependencies"]["depends_on"],
        serde_json::json!([]),
        "{qrd}"
    );
    assert_eq!(qrd["dependencies"]["waiting"], false, "{qrd}");
    let out = piped(&ours(), &d, &["status", "--json", "nosuch"], "");
    assert_eq!((out.stdout.as_str(), out.code), ("[]\n", 4));
    assert_eq!(out.stderr, "nosuch: ERROR (no such process)\n");
}

/// Against Python's supervisord, `status --json` has the getProcessInfo fields only.
#[test]
fn status_json_against_python_leaves_the_extensions_out() {
    let d = Daemon::start(Impl::Python, SEED);
    d.wait_for_state("qrd", "RUNNING", std::time::Duration::from_secs(20));
    let out = piped(&ours(), &d, &["status", "--json", "qrd"], "");
    assert_eq!(out.code, 0, "{out:?}");
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let qrd = &list[0];
    assert_eq!(qrd["statename"], "RUNNING");
    assert_eq!(qrd.as_object().map(|o| o.len()), Some(14), "{qrd}");
}

/// `completion bash` is valid bash, and completing `status q` with it asks the server.
#[test]
fn bash_completion_completes_process_names() {
    let d = Daemon::start(Impl::Ours, SEED);
    let script = Command::new(ours())
        .args(["completion", "bash"])
        .output()
        .expect("completion bash");
    assert!(script.status.success());
    let path = d.dir().join("completion.bash");
    fs::write(&path, &script.stdout).expect("write script");
    let bin = Path::new(&ours())
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    let conf = d.conf().display().to_string();
    let probe = format!(
        "set -e; PATH={bin}:$PATH; . {}; \
         COMP_WORDS=(supervisorctl -c {conf} status q); COMP_CWORD=4; _supervisorctl; \
         echo \"${{COMPREPLY[*]}}\"; \
         COMP_WORDS=(supervisorctl -c {conf} st); COMP_CWORD=3; _supervisorctl; \
         echo \"${{COMPREPLY[*]}}\"",
        path.display()
    );
    let out = Command::new("bash")
        .args(["-c", &probe])
        .output()
        .expect("bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "qrd\nstart status stop\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shell in ["zsh", "fish"] {
        let out = Command::new(ours())
            .args(["completion", shell])
            .output()
            .expect("completion");
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let out = Command::new(ours())
        .args(["completion", "tcsh"])
        .output()
        .expect("completion");
    assert_eq!(out.status.code(), Some(1));
}

/// On a terminal the states are coloured; `--no-color` turns that off. (In a pipe they never
/// are: the differential tests compare piped bytes with Python's.)
#[test]
fn states_are_coloured_on_a_terminal_only_when_wanted() {
    let d = Daemon::start(Impl::Ours, SEED);
    d.wait_for_state("qrd", "RUNNING", std::time::Duration::from_secs(20));
    let coloured = r#"[
        {"expect": "\u001b[32mRUNNING\u001b[0m   pid"}, {"expect": "supervisor> "},
        {"send": "quit\r"}, {"exit": true}
    ]"#;
    screen(&ours(), &["-c", "supervisord.conf"], coloured, d.dir());
    let plain = r#"[
        {"expect": "RUNNING   pid"}, {"expect": "supervisor> "},
        {"send": "quit\r"}, {"exit": true}
    ]"#;
    screen(
        &ours(),
        &["--no-color", "-c", "supervisord.conf"],
        plain,
        d.dir(),
    );
}

/// A reader that goes away (`supervisorctl tail -f x | head -1`) ends the ctl quietly.
#[test]
fn closed_pipe_ends_quietly() {
    let d = Daemon::start(
        Impl::Ours,
        "
[program:ticker]
command=sh -c 'while :; do echo tick; sleep 0.05; done'
startsecs=0
",
    );
    d.wait_for_state("ticker", "RUNNING", std::time::Duration::from_secs(20));
    let mut child = Command::new(ours())
        .arg("-c")
        .arg(d.conf())
        .args(["tail", "-f", "ticker"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ctl");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("tick") {
        let n = std::io::Read::read(&mut stdout, &mut buf).expect("read");
        assert!(
            n > 0,
            "ctl ended early: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    drop(stdout);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("ctl still writing into a closed pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert_eq!((status.code(), err.as_str()), (Some(0), ""));
}
