//! supervisor-rs: a process control system compatible with Supervisor 4.3.
//!
//! # Layout
//! - [`daemon`]: the supervisord lifecycle: setuid, rlimits, daemonize, pidfile, restart.
//! - [`cgroup`]: process trees in cgroup v2: one cgroup per spawn, leftovers of a killed daemon.
//! - [`config`]: `supervisord.conf` → typed [`config::Config`].
//! - [`ctl`]: `supervisorctl`, the command-line client and its shell.
//! - [`events`]: event types and payloads, listener pools, the listener protocol, capture mode.
//! - [`fcgi`]: an `[fcgi-program:x]`'s listening socket, shared by its processes as their fd 0.
//! - [`http`]: the unix and inet HTTP servers: XML-RPC, log tails, auth.
//! - [`process`]: one supervised child: its states and how it is spawned.
//! - [`supervisor`]: the actor that owns the process table, and the [`supervisor::Handle`] to it.
//! - [`schedule`]: cron schedules (`schedule=`, `restart_schedule=`) and when an occurrence is due.
//! - [`rpc`]: the XML-RPC codec and the `supervisor.*`/`system.*` methods.
//! - [`notify`]: systemd's `Type=notify` messages (READY, STATUS, RELOADING, STOPPING, WATCHDOG).
//! - [`pidproxy`]: the `pidproxy` command: runs a program, forwards signals to its pidfile's pid.
//! - [`py`]: Python string semantics (`repr`, `strip`, `int()`) that messages must match.
//! - [`signal`]: signal names and numbers as Supervisor spells them.
//! - [`logs`]: the main log, child log capture and rotation, log reading for the API.
//! - [`web`]: the web UI: a live process table and log views, its actions CSRF-safe POSTs.
//! - [`sys`]: the few `unsafe` libc wrappers (child setup, reaping, fork, syslog).

pub mod cgroup;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod events;
pub mod family;
pub mod fcgi;
pub mod health;
pub mod http;
pub mod logs;
pub mod notify;
pub mod pidproxy;
pub mod process;
pub mod proctree;
pub mod py;
pub mod rpc;
pub mod schedule;
pub mod signal;
pub mod supervisor;
#[allow(unsafe_code)]
pub mod sys;
pub mod users;
pub mod web;

/// The Supervisor version we are compatible with; reported by `-v` and `getSupervisorVersion`.
pub const VERSION: &str = "4.3.0";
