//! Events: Supervisor's event system, for `[eventlistener:x]` pools.
//!
//! - [`types`]: the event types, what a subscription matches, payloads as Python renders them.
//! - [`pool`]: the pools' buffers and serials, and the [`Bus`] that hands each event to the
//!   pools subscribed to it.
//! - [`listener`]: the `READY` / `RESULT` protocol of one listener process, a pure state machine
//!   like `process::transition`.
//! - [`capture`]: capture mode (`<!--XSUPERVISOR:BEGIN-->` … `END`), run by the log readers.
//! - [`tick`]: the TICK_* periods on wall-clock boundaries.
//!
//! The actor (`supervisor::events`) is the one that notifies, dispatches and writes to the
//! listeners; nothing here does I/O.

pub mod capture;
pub mod listener;
pub mod pool;
pub mod tick;
pub mod types;

pub use listener::{Action, Listener, ListenerState};
pub use pool::{Bus, Pool, Queued};
pub use types::{Event, EventType, StateFacts};
