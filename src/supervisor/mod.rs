//! The supervisor: one actor owns the process table; everyone else holds a [`Handle`].
//!
//! - [`actor`]: the task serving requests, child exits, signals and deadlines; its methods are
//!   spread by concept over `requests`, `control`, `waiters`, `effects`, `groups`, `snapshot`
//!   and `shutdown`.
//! - `table`: groups, processes and namespec lookup; `timers`: the deadlines; `schedule`:
//!   `schedule=` and `restart_schedule=`;
//!   `reload`: the `reloadConfig` diff; `stdin`: non-blocking writes to children.

pub mod actor;
mod control;
mod depends;
mod effects;
mod events;
mod fcgi;
mod groups;
pub mod handle;
mod health;
pub mod info;
mod memory;
mod reload;
mod remember;
pub mod request;
mod requests;
mod schedule;
mod shutdown;
mod snapshot;
mod stdin;
mod table;
mod timers;
mod trees;
mod waiters;

pub use actor::{Mood, Outcome, Reread, Supervisor};
pub use handle::{Change, Handle};
pub use info::{
    namespec, Channel, ConfigDiff, ConfigSnapshot, DaemonInfo, DependencyInfo, DependsInfo,
    HealthInfo, LiveInfo, LogLocation, ProcessInfo, ProcessResult, ScheduleInfo, SupervisorError,
    TreeInfo,
};
pub use request::{Reply, Request};
