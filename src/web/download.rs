//! `GET /web/download/<namespec>/<stdout|stderr>` and `/web/download/main`: a whole log file as
//! an attachment, read in chunks so a large log costs no more memory than a small one.

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt as _;
use tokio::sync::mpsc;

use crate::http::ChannelBody;
use crate::supervisor::{Channel, Handle};

const CHUNK: usize = 64 * 1024;

/// `log` is the path after `/web/download/`.
pub(super) async fn serve(handle: &Handle, log: &str) -> Response {
    let log = crate::http::percent_decode(log);
    let location = match log.rsplit_once('/') {
        Some((name, "stdout")) => handle.process_log(name, Channel::Stdout).await,
        Some((name, "stderr")) => handle.process_log(name, Channel::Stderr).await,
        None if log == "main" => handle.main_log().await,
        _ => return crate::http::error(StatusCode::NOT_FOUND),
    };
    let Some(path) = location.ok().and_then(|l| l.path) else {
        return crate::http::error(StatusCode::NOT_FOUND);
    };
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return crate::http::error(StatusCode::NOT_FOUND);
    };
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(send(file, tx));
    // Only name characters no header can be confused by.
    let filename: String = log
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain;charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}.log\""),
            ),
        ],
        ChannelBody(rx).into_body(),
    )
        .into_response()
}

/// The file as it is now, to its end.
async fn send(mut file: tokio::fs::File, tx: mpsc::Sender<Bytes>) {
    let mut buf = vec![0; CHUNK];
    while let Ok(n @ 1..) = file.read(&mut buf).await {
        if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
            return;
        }
    }
}
