//! Writing to a child's stdin (`sendProcessStdin`) without ever blocking the actor: a small task
//! per child writes queued bytes in order; a broken pipe is remembered and reported next time,
//! as Python reports EPIPE from its buffered stdin dispatcher.
//!
//! The task, its queue and the pipe's registration with the runtime are made on the first
//! write only: most children are never written to, and those ~2 KB per child were most of the
//! daemon's heap with many programs.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

/// The parent's end of one child's stdin.
pub struct StdinWriter(State);

enum State {
    /// Nothing was written yet: the bare pipe.
    Idle(OwnedFd),
    /// The writer task runs.
    Writing {
        /// Unbounded: `sendProcessStdin` data is small and must be written in order, never
        /// dropped.
        queue: mpsc::UnboundedSender<Vec<u8>>,
        closed: Arc<AtomicBool>,
    },
    /// The pipe could not be registered with the runtime (not a pipe): every write fails.
    Failed,
}

impl StdinWriter {
    /// Keeps the pipe; the writer task starts at the first [`send`](Self::send).
    pub fn new(stdin: OwnedFd) -> StdinWriter {
        StdinWriter(State::Idle(stdin))
    }

    /// Queues `data`; `Err` when the pipe is known to be closed (EPIPE) or unusable. Starts the
    /// writer task on the current runtime the first time.
    pub fn send(&mut self, data: Vec<u8>) -> Result<(), ()> {
        self.0 = match std::mem::replace(&mut self.0, State::Failed) {
            State::Idle(stdin) => start(stdin).unwrap_or(State::Failed),
            started => started,
        };
        match &self.0 {
            State::Writing { queue, closed } => {
                if closed.load(Ordering::Relaxed) {
                    return Err(());
                }
                queue.send(data).map_err(|_| ())
            }
            State::Idle(_) | State::Failed => Err(()),
        }
    }
}

/// Registers the pipe and spawns the task writing the queue to it.
fn start(stdin: OwnedFd) -> io::Result<State> {
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
    Ok(State::Writing { queue, closed })
}
