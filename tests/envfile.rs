//! `environment_file=` (ours): real programs print what their env files gave them; a bad file
//! is a spawn error (FATAL with the file and line in `spawnerr` and the main log) while the
//! daemon keeps serving; Python's supervisord accepts the same config and ignores the key.

use std::fs;
use std::time::Duration;

use crate::support::{Daemon, Impl, Value};

const WAIT: Duration = Duration::from_secs(20);

/// Prints the variables under test, then stays up.
const PRINTER: &str = "[supervisord]\nenvironment=A=\"sup\",B=\"sup\",C=\"sup\"\n\
     [program:printer]\n\
     command=sh -c 'echo \"env: A=$A B=$B C=$C D=$D E=$E N=$SUPERVISOR_PROCESS_NAME\"; exec sleep 1000'\n\
     autostart=false\nstartsecs=0\n\
     environment_file=%(here)s/one.env, -%(here)s/missing.env, %(here)s/two.env\n\
     environment=D=\"prog\"\n\
     stdout_logfile=%(here)s/printer.log\n";

fn start(d: &Daemon, name: &str) {
    d.rpc("supervisor.startProcess", &[Value::Str(name.into())])
        .unwrap_or_else(|e| panic!("startProcess({name}): {e}"));
}

#[test]
fn env_files_feed_the_child_below_environment_and_are_read_at_each_spawn() {
    let d = Daemon::start(Impl::Ours, PRINTER);
    fs::write(
        d.dir().join("one.env"),
        "# comment\nexport B = file1\nC=file1\nD=file1\nE=\"say \\\"hi\\\"\"\n",
    )
    .unwrap();
    fs::write(d.dir().join("two.env"), "; two\nC='file2'\n").unwrap();
    start(&d, "printer");
    d.wait_for_log_text(
        "supervisor.tailProcessStdoutLog",
        "printer",
        "env: A=sup B=file1 C=file2 D=prog E=say \"hi\" N=printer\n",
    );
    // Edited, then restarted: the new value is read.
    fs::write(d.dir().join("two.env"), "C=edited\n").unwrap();
    d.rpc("supervisor.stopProcess", &[Value::Str("printer".into())])
        .expect("stopProcess");
    start(&d, "printer");
    d.wait_for_log_text(
        "supervisor.tailProcessStdoutLog",
        "printer",
        "env: A=sup B=file1 C=edited D=prog",
    );
}

#[test]
fn a_bad_env_file_makes_the_program_fatal_and_the_daemon_keeps_serving() {
    let d = Daemon::start(
        Impl::Ours,
        "[program:bad]\ncommand=sleep 1000\nstartsecs=0\nstartretries=0\n\
         environment_file=%(here)s/bad.env\nautostart=false\n\
         [program:good]\ncommand=sleep 1000\nstartsecs=0\nstartsec=1\n",
    );
    let file = d.dir().join("bad.env");
    fs::write(&file, "A=1\n\nnot a pair\n").unwrap();
    let _ = d.rpc("supervisor.startProcess", &[Value::Str("bad".into())]);
    d.wait_for_state("bad", "FATAL", WAIT);
    let text = format!(
        "environment_file {} line 3: expected KEY=VALUE",
        file.display()
    );
    assert_eq!(d.info("bad").field("spawnerr").str(), text);
    d.wait_for_log(&format!("spawnerr: {text}"), WAIT);
    // Missing (not optional) is a spawn error too.
    fs::remove_file(&file).unwrap();
    let _ = d.rpc("supervisor.startProcess", &[Value::Str("bad".into())]);
    d.wait_for_log(
        &format!(
            "spawnerr: environment_file {}: no such file",
            file.display()
        ),
        WAIT,
    );
    d.wait_for_state("good", "RUNNING", WAIT);
    assert!(d.rpc("supervisor.getState", &[]).is_ok());
    // The typo in [program:good] is logged at start, with the key it was meant to be.
    let log = d.main_log();
    assert!(
        log.contains("WARN unknown key 'startsec' in [program:good] (file ")
            && log.contains("did you mean 'startsecs'?"),
        "{log}"
    );
}

/// The same config under Python's supervisord: the key is ignored, the program runs without
/// the file's variables.
#[test]
fn python_accepts_and_ignores_environment_file() {
    let d = Daemon::start(Impl::Python, PRINTER);
    fs::write(d.dir().join("one.env"), "B=file1\n").unwrap();
    fs::write(d.dir().join("two.env"), "C=file2\n").unwrap();
    start(&d, "printer");
    d.wait_for_log_text(
        "supervisor.tailProcessStdoutLog",
        "printer",
        "env: A=sup B=sup C=sup D=prog E= N=printer\n",
    );
}
