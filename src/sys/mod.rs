//! Thin wrappers around the few libc calls that need `unsafe`; everything else uses safe APIs.

pub mod syslog;
