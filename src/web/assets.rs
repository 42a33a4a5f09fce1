//! The page's files, embedded with `include_str!` so the binary needs nothing at run time.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The page's template; [`super::render`] fills its `{{name}}` markers.
pub(super) const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");
const ICON: &str = include_str!("assets/icon.svg");

/// Headers Python's UI sends with every page: always revalidated, so an upgraded daemon serves
/// its own page at once.
const NO_CACHE: [(header::HeaderName, &str); 3] = [
    (header::PRAGMA, "no-cache"),
    (header::CACHE_CONTROL, "no-cache"),
    (header::EXPIRES, "Thu, 01 Jan 1970 00:00:00 GMT"),
];

/// The page itself, rendered, for `/`, `/index.html` and `/tail.html`.
pub(super) fn html(page: String) -> Response {
    file("text/html;charset=utf-8", page)
}

/// `/ok.html`, as Python's.
pub(super) fn ok() -> Response {
    file("text/plain", "OK")
}

/// The page's script, style and icon.
pub(super) fn find(path: &str) -> Option<Response> {
    match path {
        "/web/app.js" => Some(file("text/javascript;charset=utf-8", SCRIPT)),
        "/web/app.css" => Some(file("text/css;charset=utf-8", STYLE)),
        "/web/icon.svg" | "/favicon.ico" => Some(file("image/svg+xml", ICON)),
        _ => None,
    }
}

fn file(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        NO_CACHE,
        body.into(),
    )
        .into_response()
}
