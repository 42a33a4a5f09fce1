//! The web UI on every HTTP server: a page that shows the process table live and controls it.
//!
//! - [`assets`]: the page, its script and style, embedded in the binary (works offline).
//! - [`render`]: the page filled in on the server: the table, the message and `tail.html`'s
//!   log, with forms for the actions, so it works without script and for plain HTTP clients.
//! - [`events`]: one server-sent-event stream per open page, fed by the actor's own changes.
//! - [`api`]: the actions; POST only, refused unless the request provably comes from our page
//!   (its script, or a form post the browser says is same-origin).
//! - [`download`]: a whole log file, as an attachment.
//!
//! Every answer carries [`secure`]'s headers. The page holds no secret: the browser sends the
//! server's Basic credentials itself, as it does for Python's page.

mod api;
mod assets;
mod download;
mod events;
mod render;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::supervisor::Handle;

/// The Content-Security-Policy of every web answer: nothing inline, nothing from elsewhere, no
/// framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Serves the paths that are neither XML-RPC nor log tails: the page (`/`, `/index.html`, and
/// `/tail.html` for Python's per-process tail links), `/ok.html`, and `/web/…`. A query string
/// never acts: Python's `index.html?processname=x&action=stop` links just show the page; it
/// only says what to show (`message`, `processname`, `limit`).
pub(crate) async fn serve(
    handle: &Handle,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let mut response = if let Some(action) = path.strip_prefix("/web/api/") {
        api::act(handle, method, action, headers).await
    } else if method != Method::GET && method != Method::HEAD {
        crate::http::error(StatusCode::BAD_REQUEST)
    } else if let Some(log) = path.strip_prefix("/web/download/") {
        download::serve(handle, log).await
    } else {
        match path {
            "/" | "/index.html" => render::status(handle, query).await,
            "/tail.html" => render::tail(handle, query).await,
            "/ok.html" => assets::ok(),
            "/web/events" => events::stream(handle.clone()),
            _ => assets::find(path).unwrap_or_else(|| crate::http::error(StatusCode::NOT_FOUND)),
        }
    };
    secure(response.headers_mut());
    response
}

/// The headers that keep the page from being framed, sniffed, or made to load or run anything
/// not its own.
fn secure(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name, value| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
}
