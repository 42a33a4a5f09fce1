//! `/logtail/<namespec>[/stdout|stderr]` and `/mainlogtail`: the last 1024 bytes of a log, then
//! whatever is appended, for as long as the client listens (Python's `tail_f_producer`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::supervisor::{Channel, Handle};

use super::{error, ChannelBody};

/// How much of the existing log a new tail starts with.
const HEAD: u64 = 1024;
/// How often the file is checked for new data, rotation and truncation.
const POLL: Duration = Duration::from_millis(100);
/// The most sent per poll, so a burst of output cannot balloon one response's memory.
const CHUNK: u64 = 1024 * 1024;

/// A process log tail. `path` is the request path (`/logtail/web/stderr`).
pub(super) async fn process(handle: &Handle, path: &str) -> Response {
    let path = percent_decode(path);
    let Some((namespec, channel)) = parse(&path) else {
        return error(StatusCode::NOT_FOUND);
    };
    match handle.process_log(&namespec, channel).await {
        Ok(location) => stream(location.path, true),
        Err(_) => error(StatusCode::NOT_FOUND),
    }
}

/// The main log tail.
pub(super) async fn main(handle: &Handle) -> Response {
    match handle.main_log().await {
        Ok(location) => stream(location.path, false),
        Err(_) => error(StatusCode::NOT_FOUND),
    }
}

/// `logtail/<namespec>[/<channel>]` → `(namespec, channel)`. A group-only namespec or an unknown
/// channel names no log.
fn parse(path: &str) -> Option<(String, Channel)> {
    let (_, rest) = path.trim_start_matches('/').split_once('/')?;
    let (namespec, channel) = match rest.split_once('/') {
        Some((name, "stdout")) => (name, Channel::Stdout),
        Some((name, "stderr")) => (name, Channel::Stderr),
        Some(_) => return None,
        None => (rest, Channel::Stdout),
    };
    match namespec.split_once(':') {
        Some((_, "" | "*")) => None,
        _ => Some((namespec.to_string(), channel)),
    }
}

/// `%xx` escapes decoded, as Medusa's `unquote` (invalid escapes are kept as written).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Starts the tail of an existing log, or answers 404.
fn stream(path: Option<PathBuf>, accel_header: bool) -> Response {
    let Some(path) = path else {
        return error(StatusCode::NOT_FOUND);
    };
    let Ok(follower) = Follower::open(&path) else {
        return error(StatusCode::NOT_FOUND);
    };
    let modified = httpdate(follower.mtime);
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(follow(follower, tx));
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain;charset=utf-8".to_string()),
            (header::LAST_MODIFIED, modified),
        ],
        ChannelBody(rx).into_body(),
    )
        .into_response();
    if accel_header {
        response.headers_mut().insert(
            "X-Accel-Buffering",
            axum::http::HeaderValue::from_static("no"),
        );
    }
    response
}

/// An RFC 1123 date, as Medusa's `build_http_date`.
fn httpdate(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Sends new data until the client goes away.
async fn follow(mut follower: Follower, tx: mpsc::Sender<Bytes>) {
    loop {
        let (next, chunk) = tokio::task::spawn_blocking(move || {
            let chunk = follower.poll();
            (follower, chunk)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        follower = next;
        match chunk {
            Some(data) => {
                if tx.send(data).await.is_err() {
                    return;
                }
            }
            None => {
                tokio::select! {
                    () = tx.closed() => return,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
    }
}

/// An open log file and how much of it has been sent.
struct Follower {
    path: PathBuf,
    file: File,
    inode: u64,
    mtime: i64,
    /// Bytes of the file already sent (or skipped).
    sent: u64,
}

impl Follower {
    fn open(path: &Path) -> std::io::Result<Follower> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        Ok(Follower {
            path: path.to_path_buf(),
            inode: meta.ino(),
            mtime: meta.mtime(),
            sent: meta.len().saturating_sub(HEAD),
            file,
        })
    }

    /// New data, a truncation notice, or `None` when nothing changed.
    fn poll(&mut self) -> Option<Bytes> {
        if let Ok(meta) = std::fs::metadata(&self.path) {
            if meta.ino() != self.inode {
                // Rotated: follow the new file from its start.
                if let Ok(file) = File::open(&self.path) {
                    self.file = file;
                    self.inode = meta.ino();
                    self.sent = 0;
                }
            }
        }
        let size = self.file.metadata().ok()?.len();
        if size < self.sent {
            self.sent = 0;
            return Some(Bytes::from_static(b"==> File truncated <==\n"));
        }
        if size == self.sent {
            return None;
        }
        let want = (size - self.sent).min(CHUNK);
        let mut data = Vec::new();
        self.file.seek(SeekFrom::Start(self.sent)).ok()?;
        (&mut self.file).take(want).read_to_end(&mut data).ok()?;
        self.sent += data.len() as u64;
        (!data.is_empty()).then(|| Bytes::from(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_a_process_and_channel() {
        assert_eq!(
            parse("/logtail/web"),
            Some(("web".to_string(), Channel::Stdout))
        );
        assert_eq!(
            parse("/logtail/g:web/stderr"),
            Some(("g:web".to_string(), Channel::Stderr))
        );
        assert_eq!(parse("/logtail/g:*"), None);
        assert_eq!(parse("/logtail/web/other"), None);
        assert_eq!(parse("/logtail"), None);
        assert_eq!(percent_decode("/logtail/g%3Aweb"), "/logtail/g:web");
        assert_eq!(percent_decode("100%zz"), "100%zz");
    }

    #[test]
    fn follower_sends_tail_then_appends_then_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, vec![b'a'; 2000]).unwrap();
        let mut f = Follower::open(&path).unwrap();
        assert_eq!(f.poll().unwrap().len(), 1024);
        assert_eq!(f.poll(), None);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, b"new"))
            .unwrap();
        assert_eq!(f.poll().unwrap(), Bytes::from_static(b"new"));
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        assert_eq!(
            f.poll().unwrap(),
            Bytes::from_static(b"==> File truncated <==\n")
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"rotated").unwrap();
        assert_eq!(f.poll().unwrap(), Bytes::from_static(b"rotated"));
    }
}
