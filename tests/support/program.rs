//! Program configs for tests that drive the library directly: read by the real config loader,
//! so every option a test does not set has Python's default.

use supervisor::config::{Options, ProcessConfig};

/// `[program:name]` with every option at its default; `command` is set as given (not expanded).
pub fn program(name: &str, command: &str) -> ProcessConfig {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("supervisord.conf");
    std::fs::write(
        &conf,
        format!("[supervisord]\n[program:{name}]\ncommand=true\n"),
    )
    .unwrap();
    let config = supervisor::config::load(&Options::for_file(&conf)).unwrap();
    let group = config.groups.into_iter().next().unwrap();
    ProcessConfig {
        command: command.into(),
        command_raw: command.into(),
        ..(*group.processes[0]).clone()
    }
}
