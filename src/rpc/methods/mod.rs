//! The method implementations, one module per namespace.

pub(crate) mod supervisor;
pub(crate) mod system;
