//! supervisor-rs: a process control system compatible with Supervisor 4.3.
//!
//! # Layout
//! - [`config`]: `supervisord.conf` → typed [`config::Config`].
//! - [`process`]: one supervised child: its states and how it is spawned.
//! - [`supervisor`]: the actor that owns the process table, and the [`supervisor::Handle`] to it.
//! - [`signal`]: signal names and numbers as Supervisor spells them.
//! - `sys`: the raw POSIX calls (child setup, reaping, fork); the only module with `unsafe`.

pub mod config;
pub mod process;
pub mod signal;
pub mod supervisor;
#[allow(unsafe_code)]
mod sys;

/// The Supervisor version we are compatible with; reported by `-v` and `getSupervisorVersion`.
pub const VERSION: &str = "4.3.0";
