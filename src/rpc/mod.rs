//! The XML-RPC API: the codec ([`xml`]), fault codes ([`fault`]), dispatch of `supervisor.*`
//! and `system.*` calls to the supervisor [`Handle`](crate::supervisor::Handle) ([`dispatch`]),
//! reading logs through [`crate::logs`]. HTTP lives in [`crate::http`].

pub mod dispatch;
pub mod fault;
#[doc(hidden)]
pub mod fuzz;
mod help;
mod methods;
pub mod xml;

pub use dispatch::Dispatcher;
pub use fault::Fault;
pub(crate) use methods::supervisor::read_process_log;
pub use xml::Value;
