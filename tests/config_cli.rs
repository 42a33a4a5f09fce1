//! `supervisord` command line and `--check`, run as a real binary.

use std::process::{Command, Output};

fn supervisord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .args(args)
        .output()
        .expect("run supervisord")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn version_prints_4_3_0() {
    let out = supervisord(&["-v"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "4.3.0\n");
}

#[test]
fn help_prints_module_doc() {
    let out = supervisord(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("supervisord -- run a set of applications as daemons."));
}

#[test]
fn unknown_option_is_usage_error() {
    let out = supervisord(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("Error: option --bogus not recognized\nFor help, use "),
        "{err}"
    );
    assert!(err.ends_with(" -h\n"));
}

#[test]
fn check_prints_config_lines() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        "[supervisord]\nidentifier=t\n[program:a]\ncommand=/bin/true\nstdout_logfile_maxbytes=0\n",
    )
    .unwrap();
    let out = supervisord(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("supervisord - {"));
    assert!(lines[0].contains("\"identifier\":\"t\""));
    assert!(lines[1].starts_with("group a {\"kind\":\"process\""));
    assert!(lines[2].starts_with("process a:a {"));
    assert!(
        text(&out.stderr).contains("WARN For [program:a], AUTO logging used for stdout_logfile")
    );
}

#[test]
fn check_reports_errors_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, "[supervisord]\nminfds=x\n[program:a]\n").unwrap();
    let out = supervisord(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with(
        "Error: invalid literal for int() with base 10: 'x' in section 'supervisord'"
    ));
    assert!(lines[1].starts_with(
        "Error: program section program:a does not specify a command in section 'program:a'"
    ));
    assert!(lines[2].starts_with("For help, use "));
}

#[test]
fn missing_config_file() {
    let out = supervisord(&["-c", "/nonexistent/s.conf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("Error: could not find config file /nonexistent/s.conf\n")
    );
}

/// A Python rpcinterface plugin cannot load in a Rust daemon; the config must still be usable
/// (Python exits 2 only when the plugin is not installed). See docs/compatibility.md.
#[test]
fn python_rpcinterface_plugin_is_accepted_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        "[supervisord]\n[rpcinterface:twiddler]\n\
         supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface\n",
    )
    .unwrap();
    let out = supervisord(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(
        "rpcinterface twiddler {\"factory\":\"supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface\"}"
    ));
    assert!(text(&out.stderr).contains("WARN [rpcinterface:twiddler]"));
}

/// A Python `result_handler` plugin cannot load either: the listener runs with the default
/// handler, and the config says so (Python exits 2 only when the plugin is not installed).
#[test]
fn python_result_handler_plugin_is_accepted_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        "[supervisord]\n[eventlistener:x]\ncommand=/bin/cat\nevents=TICK_5\n\
         result_handler=no.such.module:handler\n",
    )
    .unwrap();
    let out = supervisord(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(
        "WARN [eventlistener:x] uses the Python plugin result_handler no.such.module:handler"
    ));
}

/// Typos Python would silently ignore are warnings (ours) naming the file, section and line,
/// with the key that was meant; the config is still valid (exit 0), and so is its output.
#[test]
fn check_warns_about_unknown_keys_with_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        "[supervisord]\nnodeamon=true\n[program:foo]\ncommand=/bin/cat\nstartsec=5\n\
         stopwaitsec=3\nenvironment_files=/x.env\nflavour=mint\n\
         [unix_http_server]\nfile=/tmp/x.sock\nchmode=0700\n",
    )
    .unwrap();
    let out = supervisord(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("process foo:foo "));
    let c = conf.display();
    let warnings: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("WARN unknown key"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        warnings,
        [
            format!("WARN unknown key 'nodeamon' in [supervisord] (file {c}, line 2); did you mean 'nodaemon'?"),
            format!("WARN unknown key 'startsec' in [program:foo] (file {c}, line 5); did you mean 'startsecs'?"),
            format!("WARN unknown key 'stopwaitsec' in [program:foo] (file {c}, line 6); did you mean 'stopwaitsecs'?"),
            format!("WARN unknown key 'environment_files' in [program:foo] (file {c}, line 7); did you mean 'environment_file'?"),
            format!("WARN unknown key 'flavour' in [program:foo] (file {c}, line 8)"),
            format!("WARN unknown key 'chmode' in [unix_http_server] (file {c}, line 11); did you mean 'chmod'?"),
        ]
    );
}

/// Every config the differential tests hold as valid, and the shipped example, use known keys
/// only (one of them, `unicode_and_unknown.conf`, has unknown keys on purpose).
#[test]
fn valid_configs_have_no_unknown_keys() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/configs/good"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("unicode_and_unknown.conf"))
        .collect();
    files.push(root.join("examples/supervisord.conf"));
    files.push(root.join("examples/beyond.conf"));
    assert!(files.len() > 10);
    for file in files {
        let out = Command::new(env!("CARGO_BIN_EXE_supervisord"))
            .args(["--check", "-c"])
            .arg(&file)
            .current_dir(file.parent().unwrap())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(
            !stderr.contains("unknown key"),
            "{}: {stderr}",
            file.display()
        );
    }
}

/// `echo_supervisord_conf > /etc/supervisord.conf` is a user's first step: the same bytes as
/// Python's, and a file our daemon reads without complaint.
#[test]
fn echo_supervisord_conf_prints_pythons_sample() {
    let ours = Command::new(env!("CARGO_BIN_EXE_echo_supervisord_conf"))
        .output()
        .expect("run echo_supervisord_conf");
    let python = Command::new(crate::support::pyref().join("bin/echo_supervisord_conf"))
        .output()
        .expect("run Python's echo_supervisord_conf");
    assert_eq!(ours.status.code(), Some(0));
    assert_eq!(text(&ours.stdout), text(&python.stdout));

    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("supervisord.conf");
    std::fs::write(&conf, &ours.stdout).unwrap();
    let out = supervisord(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
