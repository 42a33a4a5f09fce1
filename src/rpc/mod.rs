//! The XML-RPC API: the codec ([`xml`]), fault codes ([`fault`]), dispatch of `supervisor.*`
//! and `system.*` calls to the supervisor [`Handle`](crate::supervisor::Handle) ([`dispatch`]),
//! and the log-read semantics those methods need ([`logread`]). HTTP lives in [`crate::http`].

pub mod dispatch;
pub mod fault;
mod help;
pub mod logread;
mod methods;
pub mod xml;

pub use dispatch::Dispatcher;
pub use fault::Fault;
pub use xml::Value;
