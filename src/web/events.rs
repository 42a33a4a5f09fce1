//! `GET /web/events`: the page's live view, as server-sent events. A `snapshot` of every
//! process first, then one `process` event per state change the actor publishes; a new snapshot
//! when groups change or the page fell too far behind. Nothing polls the process table.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use crate::http::ChannelBody;
use crate::supervisor::{Change, Handle, LiveInfo};

/// A comment this often keeps idle proxies and the browser from dropping the stream.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Events queued for one page; a page slower than this makes its feeder wait, and a feeder
/// that waits long enough lags and resends a snapshot.
const QUEUE: usize = 16;

/// One process as the page shows it: in the stream, and in the server-rendered table.
#[derive(Serialize)]
pub(super) struct Row<'a> {
    pub(super) namespec: String,
    pub(super) group: &'a str,
    pub(super) name: &'a str,
    pub(super) state: &'static str,
    pub(super) description: String,
    /// Epoch seconds of the last start (0 = never), for the page's ticking uptime.
    start: i64,
    /// Epoch seconds this row was taken at, for the page to correct its clock.
    now: i64,
    pid: u32,
    /// `none` without a `healthcheck`, else `unknown`, `healthy` or `unhealthy`.
    pub(super) health: &'static str,
    /// Epoch seconds of the next scheduled run (0 = none).
    pub(super) next_run: i64,
    /// Asked to start, waiting for its dependencies.
    pub(super) waiting: bool,
}

impl<'a> Row<'a> {
    pub(super) fn new(live: &'a LiveInfo) -> Row<'a> {
        let info = &live.info;
        Row {
            namespec: info.namespec(),
            group: &info.group,
            name: &info.name,
            state: info.state.name(),
            description: info.description(),
            start: info.start,
            now: info.now,
            pid: info.pid,
            health: live.health,
            next_run: live.next_run,
            waiting: live.waiting,
        }
    }
}

#[derive(Serialize)]
struct Snapshot<'a> {
    identifier: String,
    version: &'static str,
    processes: Vec<Row<'a>>,
}

/// Opens the stream; a task feeds it until the page goes away.
pub(super) fn stream(handle: Handle) -> Response {
    let changes = handle.changes();
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(feed(handle, changes, tx));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        [("X-Accel-Buffering", "no")],
        ChannelBody(rx).into_body(),
    )
        .into_response()
}

/// Sends a snapshot, then every change. Subscribed before the snapshot is taken, so no change
/// falls between the two (one seen twice is harmless: rows are whole).
async fn feed(
    handle: Handle,
    mut changes: Option<broadcast::Receiver<Change>>,
    tx: mpsc::Sender<Bytes>,
) {
    if !send_snapshot(&handle, &tx).await {
        return;
    }
    loop {
        let next = async {
            match changes.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            change = next => match change {
                Ok(Change::Process(info)) => event("process", &Row::new(&info)),
                Ok(Change::Groups) | Err(RecvError::Lagged(_)) => {
                    if !send_snapshot(&handle, &tx).await {
                        return;
                    }
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
            () = tokio::time::sleep(KEEPALIVE) => Bytes::from_static(b": keepalive\n\n"),
            () = tx.closed() => return,
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// The daemon's identifier and every process, as the actor has them now: the stream's
/// snapshot and the server-rendered page are taken the same way, so they cannot disagree.
pub(super) struct Table {
    pub(super) identifier: String,
    pub(super) infos: Vec<LiveInfo>,
}

/// `None` while the daemon is shutting down.
pub(super) async fn table(handle: &Handle) -> Option<Table> {
    let (Ok(state), Ok(infos)) = (handle.get_state().await, handle.get_live_table().await) else {
        return None;
    };
    Some(Table {
        identifier: state.identifier,
        infos,
    })
}

/// Sends every process; `false` once the page is gone or the daemon is shutting down (the
/// stream then ends and the browser reconnects by itself).
async fn send_snapshot(handle: &Handle, tx: &mpsc::Sender<Bytes>) -> bool {
    let Some(table) = table(handle).await else {
        return false;
    };
    let snapshot = Snapshot {
        identifier: table.identifier,
        version: crate::VERSION,
        processes: table.infos.iter().map(Row::new).collect(),
    };
    let mut first = b"retry: 1000\n".to_vec();
    first.extend_from_slice(&event("snapshot", &snapshot));
    tx.send(Bytes::from(first)).await.is_ok()
}

/// One SSE event: JSON has no raw newlines, so the data fits one `data:` line.
fn event(name: &str, data: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".to_string());
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}
