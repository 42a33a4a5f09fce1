//! `POST /web/api/<action>[/<namespec>]`: the page's buttons. A GET never acts (405), and a
//! POST acts only when a browser could not have been made to send it from another site:
//!
//! - from the page's script, it carries [`HEADER`] (which a cross-origin page can set only
//!   after a CORS preflight, and we never grant one) and, when the browser says where it comes
//!   from, comes from here; the answer is JSON;
//! - as a plain form post (the server-rendered page without script), it must prove it comes
//!   from here: `Sec-Fetch-Site: same-origin`, or, from a browser that does not send that,
//!   an `Origin` equal to `http(s)://<Host>`. A form post without either is refused, so one
//!   forged by another site (or sent by a tool that says nothing) never acts. The answer is
//!   `303 See Other` to `/?message=…`, as Python's page redirects to `?message=`.

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
    #[error("neither the X-Supervisor-Web header nor proof of a same-origin form post")]
    NoProof,
    #[error("the request comes from another site")]
    CrossSite,
}

/// Who sent an accepted action, which decides how it is answered.
#[derive(Debug, PartialEq, Eq)]
enum Sender {
    /// The page's script: JSON.
    Script,
    /// A form on the server-rendered page: a redirect back to it with the message.
    Form,
}

/// Runs one action; `action` is the path after `/web/api/`.
pub(super) async fn act(
    handle: &Handle,
    method: &Method,
    action: &str,
    headers: &HeaderMap,
) -> Response {
    let sender = match check(method, headers) {
        Ok(sender) => sender,
        Err(refused) => {
            let status = match refused {
                Refused::NotPost => StatusCode::METHOD_NOT_ALLOWED,
                Refused::NoProof | Refused::CrossSite => StatusCode::FORBIDDEN,
            };
            let mut response = answer(status, json!({ "error": refused.to_string() }));
            if refused == Refused::NotPost {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            return response;
        }
    };
    let (verb, name) = match action.split_once('/') {
        Some((verb, name)) => (verb, crate::http::percent_decode(name)),
        None => (action, String::new()),
    };
    let (status, outcome) = match run(handle, verb, &name).await {
        Some(Ok(message)) => (StatusCode::OK, Ok(message)),
        Some(Err(e)) => (StatusCode::CONFLICT, Err(e.to_string())),
        None => (
            StatusCode::NOT_FOUND,
            Err(format!("no such action: {verb}")),
        ),
    };
    match (sender, outcome) {
        (Sender::Script, Ok(message)) => answer(status, json!({ "message": message })),
        (Sender::Script, Err(error)) => answer(status, json!({ "error": error })),
        (Sender::Form, Ok(message)) => back_to_page(&message),
        // `ERROR` first, as Python's error messages: the page shows it as an error.
        (Sender::Form, Err(error)) => back_to_page(&format!("ERROR: {error}")),
    }
}

/// The same-origin proof: our header and no sign of another site (`Sec-Fetch-Site`, or
/// `Origin` against `Host` for browsers that do not send it); without our header, a positive
/// sign that it is this site's own form.
fn check(method: &Method, headers: &HeaderMap) -> Result<Sender, Refused> {
    if method != Method::POST {
        return Err(Refused::NotPost);
    }
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let site = text("sec-fetch-site");
    let origin = text(header::ORIGIN.as_str());
    let here = |origin: &str| {
        text(header::HOST.as_str()).is_some_and(|host| {
            origin.strip_prefix("http://") == Some(host)
                || origin.strip_prefix("https://") == Some(host)
        })
    };
    if text(HEADER) == Some("1") {
        return match (site, origin) {
            (Some("same-origin" | "none"), _) | (None, None) => Ok(Sender::Script),
            (None, Some(origin)) if here(origin) => Ok(Sender::Script),
            _ => Err(Refused::CrossSite),
        };
    }
    match (site, origin) {
        (Some("same-origin"), _) => Ok(Sender::Form),
        (None, Some(origin)) if here(origin) => Ok(Sender::Form),
        (None, None) => Err(Refused::NoProof),
        _ => Err(Refused::CrossSite),
    }
}

/// `303 See Other` to the page with `message` in its query string, so a reload does not post
/// again.
fn back_to_page(message: &str) -> Response {
    let location = format!("/?message={}", super::render::quote(message, b"/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
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
    fn only_a_same_origin_post_acts() {
        let ours = [(HEADER, "1")];
        let post = Method::POST;
        assert_eq!(check(&Method::GET, &headers(&ours)), Err(Refused::NotPost));
        assert_eq!(check(&post, &headers(&ours)), Ok(Sender::Script));
        let same = [(HEADER, "1"), ("sec-fetch-site", "same-origin")];
        assert_eq!(check(&post, &headers(&same)), Ok(Sender::Script));
        let cross = [(HEADER, "1"), ("sec-fetch-site", "cross-site")];
        assert_eq!(check(&post, &headers(&cross)), Err(Refused::CrossSite));
        let here = [
            (HEADER, "1"),
            ("origin", "http://h:9001"),
            ("host", "h:9001"),
        ];
        assert_eq!(check(&post, &headers(&here)), Ok(Sender::Script));
        let there = [(HEADER, "1"), ("origin", "http://evil"), ("host", "h:9001")];
        assert_eq!(check(&post, &headers(&there)), Err(Refused::CrossSite));
    }

    #[test]
    fn a_form_post_acts_only_with_positive_proof() {
        let post = Method::POST;
        assert_eq!(check(&post, &headers(&[])), Err(Refused::NoProof));
        let host = ("host", "h:9001");
        assert_eq!(check(&post, &headers(&[host])), Err(Refused::NoProof));
        let same = [("sec-fetch-site", "same-origin"), host];
        assert_eq!(check(&post, &headers(&same)), Ok(Sender::Form));
        // A browser with Referrer-Policy no-referrer sends `Origin: null`: Sec-Fetch-Site decides.
        let null = [("sec-fetch-site", "same-origin"), ("origin", "null"), host];
        assert_eq!(check(&post, &headers(&null)), Ok(Sender::Form));
        for site in ["same-site", "cross-site", "none"] {
            let other = [("sec-fetch-site", site), ("origin", "http://h:9001"), host];
            assert_eq!(
                check(&post, &headers(&other)),
                Err(Refused::CrossSite),
                "{site}"
            );
        }
        let here = [("origin", "https://h:9001"), host];
        assert_eq!(check(&post, &headers(&here)), Ok(Sender::Form));
        for origin in ["http://evil", "null", "http://h:9002", "http://h"] {
            let there = [("origin", origin), host];
            assert_eq!(
                check(&post, &headers(&there)),
                Err(Refused::CrossSite),
                "{origin}"
            );
        }
        assert_eq!(
            check(&post, &headers(&[("origin", "http://h:9001")])),
            Err(Refused::CrossSite)
        );
        // Our header with another value is no header.
        let other = [(HEADER, "0"), host];
        assert_eq!(check(&post, &headers(&other)), Err(Refused::NoProof));
    }
}
