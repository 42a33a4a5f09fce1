//! `POST /web/api/<action>[/<namespec>]`: the page's buttons. A GET never acts (405), and a
//! POST acts only when a browser could not have been made to send it from another site:
//! it must carry [`HEADER`] (which a cross-origin page can set only after a CORS preflight,
//! and we never grant one) and, when the browser says where it comes from, come from here.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::supervisor::{Handle, SupervisorError};

/// The header our page's `fetch` sets on every action.
pub(super) const HEADER: &str = "x-supervisor-web";

/// Why an action was refused before it was looked at.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum Refused {
    #[error("actions are POST requests")]
    NotPost,
    #[error("the X-Supervisor-Web header is missing")]
    NoHeader,
    #[error("the request comes from another site")]
    CrossSite,
}

/// Runs one action; `action` is the path after `/web/api/`.
pub(super) async fn act(
    handle: &Handle,
    method: &Method,
    action: &str,
    headers: &HeaderMap,
) -> Response {
    if let Err(refused) = check(method, headers) {
        let status = match refused {
            Refused::NotPost => StatusCode::METHOD_NOT_ALLOWED,
            Refused::NoHeader | Refused::CrossSite => StatusCode::FORBIDDEN,
        };
        let mut response = answer(status, json!({ "error": refused.to_string() }));
        if refused == Refused::NotPost {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        return response;
    }
    let (verb, name) = match action.split_once('/') {
        Some((verb, name)) => (verb, crate::http::percent_decode(name)),
        None => (action, String::new()),
    };
    match run(handle, verb, &name).await {
        Some(Ok(message)) => answer(StatusCode::OK, json!({ "message": message })),
        Some(Err(e)) => answer(StatusCode::CONFLICT, json!({ "error": e.to_string() })),
        None => answer(
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no such action: {verb}") }),
        ),
    }
}

/// The same-origin proof: our header, and no sign of another site (`Sec-Fetch-Site`, or
/// `Origin` against `Host` for browsers that do not send it).
fn check(method: &Method, headers: &HeaderMap) -> Result<(), Refused> {
    if method != Method::POST {
        return Err(Refused::NotPost);
    }
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if text(HEADER) != Some("1") {
        return Err(Refused::NoHeader);
    }
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(Refused::CrossSite),
        };
    }
    match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        (None, _) => Ok(()),
        (Some(origin), Some(host))
            if origin.strip_prefix("http://") == Some(host)
                || origin.strip_prefix("https://") == Some(host) =>
        {
            Ok(())
        }
        _ => Err(Refused::CrossSite),
    }
}

/// The action's outcome in Python's page's words; `None` for an unknown action.
async fn run(handle: &Handle, verb: &str, name: &str) -> Option<Result<String, SupervisorError>> {
    let outcome = match verb {
        "start" => handle
            .start_process(name, true)
            .await
            .map(|()| format!("Process {name} started")),
        "stop" => handle
            .stop_process(name, true)
            .await
            .map(|()| format!("Process {name} stopped")),
        "restart" => restart(handle, name)
            .await
            .map(|()| format!("Process {name} restarted")),
        "clearlog" => handle
            .clear_process_logs(name)
            .await
            .map(|()| format!("Log for {name} cleared")),
        "stopall" => handle
            .stop_all_processes(true)
            .await
            .map(|_| "All stopped".to_string()),
        "restartall" => restart_all(handle)
            .await
            .map(|()| "All restarted".to_string()),
        _ => return None,
    };
    Some(outcome)
}

/// Stop (waiting for it; one already stopped is fine), then start.
async fn restart(handle: &Handle, name: &str) -> Result<(), SupervisorError> {
    match handle.stop_process(name, true).await {
        Ok(()) | Err(SupervisorError::NotRunning(_)) => handle.start_process(name, true).await,
        Err(e) => Err(e),
    }
}

/// Every process stopped, then every one started (not waiting for them to be up: the page
/// watches that happen).
async fn restart_all(handle: &Handle) -> Result<(), SupervisorError> {
    handle.stop_all_processes(true).await?;
    handle.start_all_processes(false).await.map(drop)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn only_a_same_origin_post_with_our_header_acts() {
        let ours = [(HEADER, "1")];
        let post = Method::POST;
        assert_eq!(check(&Method::GET, &headers(&ours)), Err(Refused::NotPost));
        assert_eq!(check(&post, &headers(&[])), Err(Refused::NoHeader));
        assert_eq!(check(&post, &headers(&ours)), Ok(()));
        let same = [(HEADER, "1"), ("sec-fetch-site", "same-origin")];
        assert_eq!(check(&post, &headers(&same)), Ok(()));
        let cross = [(HEADER, "1"), ("sec-fetch-site", "cross-site")];
        assert_eq!(check(&post, &headers(&cross)), Err(Refused::CrossSite));
        let here = [
            (HEADER, "1"),
            ("origin", "http://h:9001"),
            ("host", "h:9001"),
        ];
        assert_eq!(check(&post, &headers(&here)), Ok(()));
        let there = [(HEADER, "1"), ("origin", "http://evil"), ("host", "h:9001")];
        assert_eq!(check(&post, &headers(&there)), Err(Refused::CrossSite));
    }
}
