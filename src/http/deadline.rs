//! A header deadline that spares idle keep-alive connections.
//!
//! hyper's own `header_read_timeout` also runs while a kept-alive connection waits for its next
//! request, so it would close every idle `supervisorctl` connection (Python's client does not
//! reconnect). This wrapper arms the deadline only when the first byte of a request arrives and
//! disarms it once the request's head has reached the service; the body has its own timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read since the last response: waiting costs nothing.
    Idle,
    /// Part of a request head is in; the deadline runs.
    Head,
    /// The head reached the service; the handler bounds the rest.
    Request,
}

/// A connection whose request heads must arrive within `limit` of their first byte.
pub(super) struct HeadDeadline<S> {
    inner: S,
    limit: Duration,
    sleep: Pin<Box<Sleep>>,
    phase: Phase,
    /// Set by the service when a request head has been parsed.
    received: Arc<AtomicBool>,
    /// How much of the current head matches `\r\n\r\n` so far (`None` once it does not).
    blank: Option<usize>,
}

/// A head made only of an empty line pair: Medusa closes the connection on it (hyper would
/// skip blank lines and wait for more).
const EMPTY_HEAD: &[u8] = b"\r\n\r\n";

impl<S> HeadDeadline<S> {
    /// Wraps `inner`; the service sets the returned flag for every request it receives.
    pub(super) fn new(inner: S, limit: Duration) -> (HeadDeadline<S>, Arc<AtomicBool>) {
        let received = Arc::new(AtomicBool::new(false));
        let wrapper = HeadDeadline {
            inner,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
            phase: Phase::Idle,
            received: received.clone(),
            blank: Some(0),
        };
        (wrapper, received)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.received.swap(false, Ordering::AcqRel) {
            this.phase = Phase::Request;
        }
        if this.phase == Phase::Head && this.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.phase != Phase::Request {
            if let Some(matched) = this.blank {
                let new = &buf.filled()[before..];
                let n = new.len().min(EMPTY_HEAD.len() - matched);
                this.blank = (new[..n] == EMPTY_HEAD[matched..matched + n]).then_some(matched + n);
                if this.blank == Some(EMPTY_HEAD.len()) {
                    return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
                }
            }
        }
        if this.phase == Phase::Idle && buf.filled().len() > before {
            this.phase = Phase::Head;
            let deadline = Instant::now() + this.limit;
            this.sleep.as_mut().reset(deadline);
            // Registers the timer's waker, so a stalled head is noticed.
            let _ = this.sleep.as_mut().poll(cx);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.received.store(false, Ordering::Release);
            this.phase = Phase::Idle;
            this.blank = Some(0);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
