//! Thin wrappers around the raw POSIX calls that need `unsafe`; everything else uses safe APIs.
//! Every `unsafe` block of the crate lives under this module, each with its justification.

pub mod child;
pub mod daemon;
pub mod fd;
#[cfg(target_env = "gnu")]
pub mod malloc;
/// Only in a static build: a dynamic glibc loads its NSS modules safely.
#[cfg(target_feature = "crt-static")]
pub mod nss;
pub mod spawn;
pub mod syslog;
