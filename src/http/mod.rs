//! The HTTP side of supervisord: one router serves XML-RPC (`/RPC2`), log tails
//! (`/logtail/…`, `/mainlogtail`) and the web UI ([`crate::web`]) on every unix and inet server; [`bind`]
//! opens the listeners before daemonizing and [`serve`] runs them.
//!
//! Handlers are matched by URI prefix in Medusa's order (`/RPC2*`, `/logtail*`, `/mainlogtail*`,
//! pages). Transport problems get Medusa's exact error page; XML-RPC faults are HTTP 200.

mod auth;
mod deadline;
#[doc(hidden)]
pub mod fuzz;
mod listen;
mod logtail;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use crate::config::Credentials;
use crate::rpc::xml;
use crate::rpc::Dispatcher;

pub use listen::{bind, serve, startup_messages, BoundListener, HttpError};
pub(crate) use logtail::percent_decode;

/// Bounds on what one client may cost. A client past them loses only its own connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body; larger ones get 413.
    pub max_body: usize,
    /// Time allowed to send a request's headers, from its first byte; then the connection is
    /// closed. Idle keep-alive connections are not limited.
    pub header_timeout: Duration,
    /// Time allowed to send a request's body once the headers are in; then 408.
    pub body_timeout: Duration,
}

/// 10 MiB bodies, 30 s to send headers, 30 s to send a body.
impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 10 * 1024 * 1024,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// What every request of one server section needs.
#[derive(Debug)]
pub(crate) struct App {
    dispatcher: Dispatcher,
    limits: Limits,
    /// The section's credentials: when set, every endpoint requires them.
    auth: Option<Credentials>,
}

impl App {
    pub(crate) fn new(dispatcher: Dispatcher, auth: Option<Credentials>, limits: Limits) -> App {
        App {
            dispatcher,
            limits,
            auth,
        }
    }
}

/// The whole HTTP interface of one server section: authentication, then Medusa's dispatch by
/// URI prefix, and the `Server` header on every answer.
pub(crate) async fn handle(app: &App, request: hyper::Request<Incoming>) -> Response {
    let verdict = match &app.auth {
        None => Ok(()),
        Some(credentials) => auth::check(credentials, request.headers().get(header::AUTHORIZATION)),
    };
    let mut response = match verdict {
        Ok(()) => route(app, request).await,
        Err(status) => error(status),
    };
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static(auth::SERVER));
    response
}

/// Medusa's dispatch by URI prefix.
async fn route(app: &App, request: hyper::Request<Incoming>) -> Response {
    let path = request.uri().path();
    if path.starts_with("/RPC2") {
        rpc(app, request).await
    } else if path.starts_with("/logtail") {
        if request.method() != Method::GET {
            return error(StatusCode::BAD_REQUEST);
        }
        logtail::process(app.dispatcher.handle(), path).await
    } else if path.starts_with("/mainlogtail") {
        if request.method() != Method::GET {
            return error(StatusCode::BAD_REQUEST);
        }
        logtail::main(app.dispatcher.handle()).await
    } else {
        crate::web::serve(
            app.dispatcher.handle(),
            request.method(),
            path,
            request.uri().query(),
            request.headers(),
        )
        .await
    }
}

/// One XML-RPC call: POST only; an empty, oversized, slow or unparseable body is a transport
/// error; everything else is answered with a value or a fault.
async fn rpc(state: &App, request: hyper::Request<Incoming>) -> Response {
    if request.method() != Method::POST {
        return error(StatusCode::BAD_REQUEST);
    }
    let limits = state.limits;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return error(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let read = http_body_util::Limited::new(request.into_body(), limits.max_body).collect();
    let body = match tokio::time::timeout(limits.body_timeout, read).await {
        Err(_) => return error(StatusCode::REQUEST_TIMEOUT),
        Ok(Err(_)) => return error(StatusCode::PAYLOAD_TOO_LARGE),
        Ok(Ok(body)) => body.to_bytes(),
    };
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST);
    }
    let Ok(call) = xml::parse_call(&body) else {
        return error(StatusCode::BAD_REQUEST);
    };
    let body = state.dispatcher.respond(&call.name, call.params).await;
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

/// Medusa's reason phrase for a status code (`http_server.http_request.responses`).
fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Time-out",
        413 => "Request Entity Too Large",
        _ => "Internal Server Error",
    }
}

/// Medusa's error page, byte for byte, for every error status.
pub(crate) fn error(status: StatusCode) -> Response {
    let body = format!(
        "<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code {}.\r\n<p>Message: {}.\r\n</body>\r\n",
        status.as_u16(),
        reason(status)
    );
    let mut response = (status, [(header::CONTENT_TYPE, "text/html")], body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let headers = response.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"default\""),
        );
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A streaming response body fed by a task (log tails never end on their own).
pub(crate) struct ChannelBody(pub(crate) tokio::sync::mpsc::Receiver<Bytes>);

impl axum::body::HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|data| Ok(http_body::Frame::data(data))))
    }
}

impl ChannelBody {
    pub(crate) fn into_body(self) -> Body {
        Body::new(self)
    }
}
