//! Writing to a child's stdin (`sendProcessStdin`, events to a listener) without ever blocking
//! the actor. A write goes straight to the pipe when nothing is queued before it, as Python's
//! `PInputDispatcher.flush` writes at once; what the pipe does not take is queued for a small
//! task per child that writes it in order. A broken pipe fails the write that meets it (Python
//! raises EPIPE from `Subprocess.write`) and every later one.
//!
//! The pipe's registration with the runtime is made on the first write, and the task on the
//! first write that has to wait: most children are never written to, and those ~2 KB per
//! child were most of the daemon's heap with many programs.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::unix::pipe;
use tokio::sync::mpsc;

/// The parent's end of one child's stdin.
pub struct StdinWriter(State);

enum State {
    /// Nothing was written yet: the bare pipe.
    Idle(OwnedFd),
    /// Registered with the runtime; `queue` once some write had to wait.
    Open {
        pipe: Arc<pipe::Sender>,
        queue: Option<Queue>,
    },
    /// The pipe is broken (EPIPE), or could not be registered (not a pipe): every write fails.
    Failed,
}

/// The writer task's side: what it still has to write, in order.
struct Queue {
    /// Unbounded: `sendProcessStdin` data is small and must be written in order, never
    /// dropped.
    sender: mpsc::UnboundedSender<Vec<u8>>,
    /// Writes queued and not yet written: a direct write may only go first when it is 0.
    pending: Arc<AtomicUsize>,
    closed: Arc<AtomicBool>,
}

impl StdinWriter {
    /// Keeps the pipe; it is registered with the runtime at the first [`send`](Self::send).
    pub fn new(stdin: OwnedFd) -> StdinWriter {
        StdinWriter(State::Idle(stdin))
    }

    /// Writes `data`, or queues what the pipe does not take now; `Err` when the pipe is known
    /// to be broken (EPIPE) or unusable. Must run on the runtime.
    pub fn send(&mut self, mut data: Vec<u8>) -> Result<(), ()> {
        self.0 = match std::mem::replace(&mut self.0, State::Failed) {
            State::Idle(stdin) => pipe::Sender::from_owned_fd(stdin)
                .map(|pipe| State::Open {
                    pipe: Arc::new(pipe),
                    queue: None,
                })
                .unwrap_or(State::Failed),
            other => other,
        };
        let State::Open { pipe, queue } = &mut self.0 else {
            return Err(());
        };
        if let Some(q) = queue.as_ref() {
            if q.closed.load(Ordering::Relaxed) {
                self.0 = State::Failed;
                return Err(());
            }
        }
        let idle = queue
            .as_ref()
            .is_none_or(|q| q.pending.load(Ordering::Acquire) == 0);
        if idle {
            match write_now(pipe, &data) {
                Ok(n) if n == data.len() => return Ok(()),
                Ok(n) => drop(data.drain(..n)),
                Err(_) => {
                    self.0 = State::Failed;
                    return Err(());
                }
            }
        }
        let q = queue.get_or_insert_with(|| start(Arc::clone(pipe)));
        q.pending.fetch_add(1, Ordering::AcqRel);
        q.sender.send(data).map_err(|_| ())
    }
}

/// Writes what the pipe takes now: `Ok(0)` when it is full, `Err` when it is broken. A plain
/// `write(2)`: tokio's `try_write` would not even try before the runtime has seen the pipe
/// writable once, and the waiting task learns of a full pipe by its own try.
fn write_now(pipe: &pipe::Sender, mut data: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while !data.is_empty() {
        match nix::unistd::write(pipe, data) {
            Ok(n) => {
                written += n;
                data = &data[n..];
            }
            Err(nix::Error::EAGAIN) => break,
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(written)
}

/// The task's write: what the pipe takes, once the runtime says it is writable.
async fn write_when_ready(pipe: &pipe::Sender, data: &[u8]) -> io::Result<usize> {
    loop {
        pipe.writable().await?;
        match pipe.try_write(data) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Spawns the task that writes the queue to the pipe as it drains.
fn start(pipe: Arc<pipe::Sender>) -> Queue {
    let (sender, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let pending = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let (left, flag) = (Arc::clone(&pending), Arc::clone(&closed));
    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            let mut rest = &data[..];
            while !rest.is_empty() {
                match write_when_ready(&pipe, rest).await {
                    Ok(n) => rest = &rest[n..],
                    Err(_) => {
                        flag.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
            left.fetch_sub(1, Ordering::AcqRel);
        }
    });
    Queue {
        sender,
        pending,
        closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pipe_pair() -> (std::fs::File, OwnedFd) {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        (std::fs::File::from(read), write)
    }

    /// A write bigger than the pipe is partly written at once and partly queued; what comes
    /// after it waits behind it, so the reader sees every byte in order.
    #[tokio::test]
    async fn writes_arrive_whole_and_in_order_past_a_full_pipe() {
        let (mut reader, write) = pipe_pair();
        let mut stdin = StdinWriter::new(write);
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        stdin.send(big.clone()).unwrap();
        stdin.send(b"after".to_vec()).unwrap();
        let expected = [big, b"after".to_vec()].concat();
        let reading = std::thread::spawn(move || {
            let mut got = vec![0u8; expected.len()];
            reader.read_exact(&mut got).unwrap();
            got == expected
        });
        while !reading.is_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(reading.join().unwrap());
        drop(stdin);
    }

    /// Once the child's end is closed, the write that meets EPIPE fails, and so does every
    /// later one (Python's `Subprocess.write` raises EPIPE; `sendProcessStdin` says NO_FILE).
    #[tokio::test]
    async fn a_broken_pipe_fails_the_write_that_meets_it() {
        let (reader, write) = pipe_pair();
        let mut stdin = StdinWriter::new(write);
        assert_eq!(stdin.send(b"one".to_vec()), Ok(()));
        drop(reader);
        assert_eq!(stdin.send(b"two".to_vec()), Err(()));
        assert_eq!(stdin.send(b"three".to_vec()), Err(()));
    }
}
