//! Configuration: reading `supervisord.conf` exactly as Supervisor 4.3 does.
//!
//! Two stages, as in ripgrep's low/high args: the ini layer yields raw strings with
//! `RawConfigParser` semantics; the build layer expands `%(...)s`, converts datatypes and
//! produces the typed [`Config`] the engine consumes.

pub mod expand;
pub mod ini;
mod model;
mod py;
pub mod types;

pub use model::*;
