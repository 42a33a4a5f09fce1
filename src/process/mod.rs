//! Processes: the state machine of one supervised child, and how it is spawned and signalled.

pub mod exit;
pub mod spawn;
pub mod state;
pub mod transition;

pub use exit::ProcessEnd;
pub use state::ProcessState;
pub use transition::{transition, Context, Effect, Input, Lifecycle, Transition};
