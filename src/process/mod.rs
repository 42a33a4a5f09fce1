//! Processes: the state machine of one supervised child, and how it is spawned and signalled.

pub mod state;

pub use state::ProcessState;
