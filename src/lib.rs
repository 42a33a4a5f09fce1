//! supervisor-rs: a process control system compatible with Supervisor 4.3.
//!
//! # Layout
//! - [`config`]: `supervisord.conf` → typed [`config::Config`].
//! - [`signal`]: signal names and numbers as Supervisor spells them.

pub mod config;
pub mod signal;

/// The Supervisor version we are compatible with; reported by `-v` and `getSupervisorVersion`.
pub const VERSION: &str = "4.3.0";
