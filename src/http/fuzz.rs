//! The HTTP fuzz target's per-input code (`fuzz/fuzz_targets/http.rs`), also run on stable over
//! the kept corpus and crashes by `tests/fuzz_replay.rs`. Not an API.
//!
//! One input is a byte that picks the server's authentication (`% 4`: 1 = user `user`, password
//! `123`; 2 = the same as `{SHA}`; else none), then whatever a client sends on one connection.
//! The bytes go through the daemon's own connection code (hyper, the head deadline,
//! authentication, Medusa's routing, the body limits, the XML-RPC parser and dispatch) over an
//! in-memory stream; once the server has answered all it can, the client's side is closed and
//! the answer read to its end.
//! The supervisor behind it is gone, so every `supervisor.*` call faults SHUTDOWN_STATE after
//! its arguments are checked; `system.*` methods answer in full.

use std::future::Future as _;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead as _, AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, ReadBuf};

use super::listen::serve_connection;
use super::{App, Limits};
use crate::config::{Credentials, RpcInterface, MAIN_RPCINTERFACE};
use crate::rpc::Dispatcher;
use crate::supervisor::Handle;

/// Small enough that the fuzzer meets the body limit; the deadlines should never be reached,
/// since the client always closes its side.
const LIMITS: Limits = Limits {
    max_body: 4096,
    header_timeout: Duration::from_secs(1),
    body_timeout: Duration::from_secs(1),
};

/// An input answered later than this is a hang.
const BOUND: Duration = Duration::from_secs(5);

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
}

/// Serves one connection's bytes; panics only on a bug (or a hang).
pub fn run(data: &[u8]) {
    let Some((&mode, request)) = data.split_first() else {
        return;
    };
    let credentials = |password: &str| Credentials {
        username: "user".into(),
        password: password.into(),
    };
    let auth = match mode % 4 {
        1 => Some(credentials("123")),
        2 => Some(credentials("{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef")),
        _ => None,
    };
    let reply = RUNTIME.with(|rt| rt.block_on(exchange(request, auth)));
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1."),
        "not an HTTP answer: {:?}",
        String::from_utf8_lossy(&reply)
    );
}

/// Sends `request`, lets the server answer all it can, then closes the client's writing side
/// (hyper drops a request in progress when its client half-closes, so closing at once would
/// skip the handlers) and returns everything answered.
async fn exchange(request: &[u8], auth: Option<Credentials>) -> Vec<u8> {
    let start = Instant::now();
    // The receiver is dropped at once: the actor is gone.
    let (requests, _) = tokio::sync::mpsc::channel(1);
    let dispatcher = Dispatcher::new(
        Handle::new(requests),
        &[RpcInterface {
            name: "supervisor".into(),
            factory: MAIN_RPCINTERFACE.into(),
            builtin: true,
        }],
    );
    let app = Arc::new(App::new(dispatcher, auth, LIMITS));
    // Room for the whole request: it is all sent before the server runs.
    let (mut client, server) = tokio::io::duplex(request.len() + 64 * 1024);
    let _ = client.write_all(request).await;
    let mut serving = pin!(serve_connection(server, app, LIMITS));
    let mut reply = Vec::new();

    // Everything runs in this task, so the server has answered all it can once polling it
    // and reading its answers neither makes progress nor wakes anything: it then waits for
    // the client (or for a deadline, which an end of input makes moot).
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&woken));
    loop {
        assert!(start.elapsed() < BOUND, "still busy after {BOUND:?}");
        woken.0.store(false, Ordering::SeqCst);
        let mut cx = Context::from_waker(&waker);
        if serving.as_mut().poll(&mut cx).is_ready() {
            let _ = client.read_to_end(&mut reply).await;
            return reply;
        }
        let read = drain(&mut client, &mut cx, &mut reply);
        if read == 0 && !woken.0.load(Ordering::SeqCst) {
            break;
        }
        // Back to the runtime, which renews the task's cooperative budget.
        tokio::task::yield_now().await;
    }

    let _ = client.shutdown().await;
    let rest = async {
        let _ = tokio::join!(serving, client.read_to_end(&mut reply));
    };
    tokio::time::timeout(BOUND.saturating_sub(start.elapsed()), rest)
        .await
        .unwrap_or_else(|_| panic!("no end to the answer within {BOUND:?}"));
    reply
}

/// Records that something the server waits on happened.
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Appends what the server has written so far to `reply`, without waiting; how much.
fn drain(client: &mut DuplexStream, cx: &mut Context<'_>, reply: &mut Vec<u8>) -> usize {
    let mut total = 0;
    let mut chunk = [0u8; 4096];
    loop {
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut *client).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                total += buf.filled().len();
                reply.extend_from_slice(buf.filled());
            }
            _ => return total,
        }
    }
}
