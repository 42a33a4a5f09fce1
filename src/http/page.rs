//! The pages outside the API: a minimal status page at `/` and `/index.html` (the full web UI is
//! its own piece of work) and `/ok.html`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::supervisor::Handle;

use super::error;

/// Headers Python's UI sends with every page.
const NO_CACHE: [(header::HeaderName, &str); 4] = [
    (header::CONTENT_TYPE, "text/html;charset=utf-8"),
    (header::PRAGMA, "no-cache"),
    (header::CACHE_CONTROL, "no-cache"),
    (header::EXPIRES, "Thu, 01 Jan 1970 00:00:00 GMT"),
];

pub(super) async fn serve(handle: &Handle, path: &str) -> Response {
    match path {
        "/" | "/index.html" => status(handle).await,
        "/ok.html" => (
            [
                (header::CONTENT_TYPE, "text/plain"),
                (header::PRAGMA, "no-cache"),
                (header::CACHE_CONTROL, "no-cache"),
                (header::EXPIRES, "Thu, 01 Jan 1970 00:00:00 GMT"),
            ],
            "OK",
        )
            .into_response(),
        _ => error(StatusCode::NOT_FOUND),
    }
}

/// The process table: state, description, name; sorted as `getAllProcessInfo`.
async fn status(handle: &Handle) -> Response {
    let Ok(infos) = handle.get_all_process_info().await else {
        return error(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut rows = String::new();
    for info in &infos {
        let class = match info.state.name() {
            "RUNNING" => "statusrunning",
            "FATAL" | "BACKOFF" => "statuserror",
            _ => "statusnominal",
        };
        rows.push_str(&format!(
            "<tr><td class=\"status\"><span class=\"{class}\">{}</span></td><td>{}</td><td>{}</td></tr>\n",
            info.state.name().to_ascii_lowercase(),
            escape(&info.description()),
            escape(&info.namespec()),
        ));
    }
    if infos.is_empty() {
        rows.push_str("<tr><td colspan=\"3\">No programs to manage</td></tr>\n");
    }
    let body = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>Supervisor Status</title></head>\n<body>\n\
         <h1>Supervisor Status</h1>\n<table>\n<tr><th>State</th><th>Description</th><th>Name</th></tr>\n\
         {rows}</table>\n<p>Supervisor {}</p>\n</body>\n</html>\n",
        crate::VERSION
    );
    (NO_CACHE, body).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
