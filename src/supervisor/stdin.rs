//! Writing to a child's stdin (`sendProcessStdin`) without ever blocking the actor: a small task
//! per child writes queued bytes in order; a broken pipe is remembered and reported next time,
//! as Python reports EPIPE from its buffered stdin dispatcher.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

/// The parent's end of one child's stdin.
pub struct StdinWriter {
    /// Unbounded: `sendProcessStdin` data is small and must be written in order, never dropped.
    queue: mpsc::UnboundedSender<Vec<u8>>,
    closed: Arc<AtomicBool>,
}

impl StdinWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(stdin: OwnedFd) -> io::Result<StdinWriter> {
        let mut sender = pipe::Sender::from_owned_fd(stdin)?;
        let (queue, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let closed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&closed);
        tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if sender.write_all(&data).await.is_err() {
                    flag.store(true, Ordering::Relaxed);
                    break;
                }
            }
        });
        Ok(StdinWriter { queue, closed })
    }

    /// Queues `data`; `Err` when the pipe is known to be closed (EPIPE).
    pub fn send(&self, data: Vec<u8>) -> Result<(), ()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(());
        }
        self.queue.send(data).map_err(|_| ())
    }
}
