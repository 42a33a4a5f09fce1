//! The XML-RPC API over real sockets: golden bodies captured from Python supervisord 4.3.0
//! (`tests/golden/xmlrpc/`, from the config in `fake.rs`), checked both ways, and a bad-input
//! battery where every case is followed by a successful call.
//!
//! The supervisor actor is being built separately, so these tests answer the API's `Request`s
//! with a small scripted actor (`fake.rs`): a test double at the channel boundary only. The
//! codec, dispatch, HTTP server and auth under test are the real ones.

mod client;
mod fake;
mod golden;
mod http;
