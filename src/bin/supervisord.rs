//! `supervisord`: the daemon. Argument handling and exit codes live here; the work is in the library.

use std::process::ExitCode;

use supervisor::config::{self, check, Action, LogLevel};

/// Prints Python's usage error (`Error: <msg>` / `For help, use <argv0> -h`) and exits 2.
fn usage(progname: &str, messages: &[String]) -> ExitCode {
    for m in messages {
        eprintln!("Error: {m}");
    }
    eprintln!("For help, use {progname} -h");
    ExitCode::from(2)
}

fn load_or_usage(opts: &config::Options) -> Result<config::Config, ExitCode> {
    config::load(opts).map_err(|errs| {
        let msgs: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
        usage(&opts.progname, &msgs)
    })
}

fn main() -> anyhow::Result<ExitCode> {
    let mut argv = std::env::args();
    let progname = argv.next().unwrap_or_else(|| "supervisord".to_string());
    let args: Vec<String> = argv.collect();
    let action = match config::cli::parse(&progname, &args) {
        Ok(a) => a,
        Err(e) => return Ok(usage(&e.progname, &[e.message])),
    };
    match action {
        Action::Help(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Action::Version => {
            println!("{}", supervisor::VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Action::Check(opts) => {
            let cfg = match load_or_usage(&opts) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            for m in &cfg.messages {
                match m.level {
                    LogLevel::Warn => eprintln!("WARN {}", m.text),
                    LogLevel::Info => eprintln!("INFO {}", m.text),
                    _ => {}
                }
            }
            for line in check::render(&cfg) {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Run(opts) => {
            let _cfg = match load_or_usage(&opts) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            eprintln!("supervisord: engine not built yet");
            Ok(ExitCode::from(1))
        }
    }
}
