//! The supervisor: one actor owns the process table; everyone else holds a [`Handle`].

pub mod handle;
pub mod info;
pub mod request;

pub use handle::Handle;
pub use info::{
    namespec, Channel, ConfigDiff, ConfigSnapshot, DaemonInfo, LogLocation, ProcessInfo,
    ProcessResult, SupervisorError,
};
pub use request::{Reply, Request};
