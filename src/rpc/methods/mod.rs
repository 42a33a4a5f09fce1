//! The method implementations, one module per namespace.

pub(crate) mod ours;
pub(crate) mod supervisor;
pub(crate) mod system;
