//! `supervisord`: the daemon. Argument handling and exit codes live here; the work is in the library.

use std::process::ExitCode;

use std::sync::Arc;

use supervisor::config::{self, check, Action, LogLevel, RpcInterface};
use supervisor::daemon::{self, DaemonError};
use supervisor::http;
use supervisor::logs::MainLog;
use supervisor::rpc::Dispatcher;

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
    #[cfg(target_env = "gnu")]
    supervisor::sys::malloc::return_freed_memory();
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
            let cfg = match load_or_usage(&opts) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            Ok(run(cfg, opts))
        }
    }
}

/// What `bind` hands to `serve` across daemonizing: the listeners, and the rpcinterfaces of
/// the config they were bound for.
struct Servers {
    listeners: Vec<http::BoundListener>,
    rpcinterfaces: Vec<RpcInterface>,
}

/// Runs the daemon until shutdown: the engine from `daemon::main`, the HTTP servers plugged in.
fn run(cfg: config::Config, opts: config::Options) -> ExitCode {
    let progname = opts.progname.clone();
    let load: daemon::Load =
        Arc::new(move || config::load(&opts).map_err(|errs| errs.first().to_string()));
    let bind = |c: &config::Config, log: &MainLog| {
        let listeners = http::bind(c).map_err(|e| e.to_string())?;
        for m in http::startup_messages(c) {
            log.log(m.level, m.text);
        }
        Ok(Servers {
            listeners,
            rpcinterfaces: c.rpcinterfaces.clone(),
        })
    };
    let serve = |servers: Servers, handle, log: MainLog| {
        let dispatcher = Dispatcher::new(handle, &servers.rpcinterfaces);
        let listeners = servers.listeners;
        vec![tokio::spawn(async move {
            let served = http::serve(
                listeners,
                dispatcher,
                http::Limits::default(),
                std::future::pending(),
            )
            .await;
            if let Err(e) = served {
                log.critical(format!("HTTP servers stopped: {e}"));
            }
        })]
    };
    match daemon::main(cfg, load, bind, serve) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ (DaemonError::User(_) | DaemonError::Rlimit(_) | DaemonError::Bind(_))) => {
            usage(&progname, &[e.to_string()])
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}
