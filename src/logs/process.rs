//! Child output capture: one [`ProcessLogs`] per process, reader tasks per attached pipe.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::unix::pipe;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;

use crate::config::{LogFile, LogLevel, ProcessConfig, StreamConfig, Supervisord};
use crate::supervisor::Channel;

use super::ansi::strip_ansi;
use super::auto::create_auto_log;
use super::main_log::MainLog;
use super::rotating::RotatingFile;

/// Bytes read from a child pipe per read, as Python's dispatchers.
pub const READ_CHUNK: usize = 128 * 1024;

/// Called with every chunk of child output after it was logged: `(channel, pid, bytes)`.
/// The seam for capture mode and PROCESS_LOG events.
pub type OutputSink = Arc<dyn Fn(Channel, u32, &[u8]) + Send + Sync>;

type SharedFile = Arc<Mutex<RotatingFile>>;

fn lock(f: &SharedFile) -> MutexGuard<'_, RotatingFile> {
    f.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything a reader task needs for one stream; shared between the handle and its tasks.
struct StreamCtx {
    name: String,
    channel: Channel,
    file: Option<SharedFile>,
    syslog: bool,
    strip_ansi: bool,
    mainlog: Option<MainLog>,
    sink: Option<OutputSink>,
}

impl StreamCtx {
    fn channel_name(&self) -> &'static str {
        channel_name(self.channel)
    }

    /// Logs one chunk: file (with rotation), syslog lines, main log echo at debug, sink.
    fn handle(&self, pid: u32, raw: &[u8]) {
        let stripped;
        let data = if self.strip_ansi {
            stripped = strip_ansi(raw);
            &stripped[..]
        } else {
            raw
        };
        if data.is_empty() {
            return;
        }
        if let Some(f) = &self.file {
            let _ = lock(f).write(data);
        }
        if self.syslog {
            let text = data.strip_suffix(b"\n").unwrap_or(data);
            for line in text.split(|&b| b == b'\n') {
                let mut msg = Vec::with_capacity(self.name.len() + 1 + line.len());
                msg.extend_from_slice(self.name.as_bytes());
                msg.push(b' ');
                msg.extend_from_slice(line);
                crate::sys::syslog::info(&msg);
            }
        }
        if let Some(main) = &self.mainlog {
            let text = match std::str::from_utf8(data) {
                Ok(s) => s.to_string(),
                Err(_) => format!("Undecodable: {}", bytes_repr(data)),
            };
            main.debug(format!(
                "'{}' {} output:\n{}",
                self.name,
                self.channel_name(),
                text
            ));
        }
        if let Some(sink) = &self.sink {
            sink(self.channel, pid, data);
        }
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Stdout => "stdout",
        Channel::Stderr => "stderr",
    }
}

/// Python's `repr(bytes)`, for `Undecodable: b'...'`.
fn bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = format!("b{quote}");
    for &b in data {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            _ if b == quote as u8 => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push(quote);
    s
}

thread_local! {
    /// One read buffer per runtime thread, so idle processes hold no buffer.
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// Pipe capacity asked for (best effort): fewer wake-ups per megabyte under a flood.
const PIPE_SIZE: i32 = 1 << 20;

/// Bytes one burst may move before the task yields to the runtime.
const BURST_MAX: usize = 16 << 20;

/// What a read (or a burst of reads) ended with.
enum Drain {
    /// A full buffer: more is probably waiting.
    More,
    /// The pipe is empty for now.
    Empty,
    /// EOF, or an error that ends the stream.
    Done,
}

fn read_once(fd: &BorrowedFd<'_>, ctx: &StreamCtx, pid: u32) -> Drain {
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        loop {
            return match nix::unistd::read(fd, &mut buf) {
                Ok(0) => Drain::Done,
                Ok(n) => {
                    ctx.handle(pid, &buf[..n]);
                    if n == buf.len() {
                        Drain::More
                    } else {
                        Drain::Empty
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => Drain::Empty,
                Err(_) => Drain::Done,
            };
        }
    })
}

/// Reads and logs until the pipe is empty, EOF, or [`BURST_MAX`] bytes.
fn burst(fd: &BorrowedFd<'_>, ctx: &StreamCtx, pid: u32) -> Drain {
    for _ in 0..BURST_MAX / READ_CHUNK {
        match read_once(fd, ctx, pid) {
            Drain::More => {}
            end => return end,
        }
    }
    Drain::More
}

/// Reads the pipe to EOF, handing every chunk to `ctx`. A single short read (a line from a
/// chatty child) is handled in place; a full buffer starts a burst that runs under
/// `block_in_place` on a multi-threaded runtime, so file writes that stall in the kernel
/// never hold up other tasks. An empty pipe clears the readiness without another `read`.
async fn pump(rx: pipe::Receiver, ctx: Arc<StreamCtx>, pid: u32) {
    let multi_thread = Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread;
    let fd = rx.as_fd();
    loop {
        if rx.readable().await.is_err() {
            return;
        }
        let mut end = Drain::More;
        let _ = rx.try_io(|| {
            end = read_once(&fd, &ctx, pid);
            if let Drain::More = end {
                end = if multi_thread {
                    tokio::task::block_in_place(|| burst(&fd, &ctx, pid))
                } else {
                    burst(&fd, &ctx, pid)
                };
            }
            match end {
                Drain::Empty => Err(io::ErrorKind::WouldBlock.into()),
                Drain::More | Drain::Done => Ok(()),
            }
        });
        if let Drain::Done = end {
            return;
        }
    }
}

/// The log files of one process and the tasks draining its pipes.
///
/// Created when its group is added; [`attach`](Self::attach) is called at each spawn.
/// Dropping it (or [`close`](Self::close)) stops the reader tasks at once (a grandchild still
/// holding a pipe then gets EPIPE) and closes the files once the last task let go of them.
pub struct ProcessLogs {
    name: String,
    stdout: Stream,
    stderr: Stream,
    strip_ansi: bool,
    mainlog: Option<MainLog>,
    sink: Option<OutputSink>,
    readers: Vec<JoinHandle<()>>,
}

struct Stream {
    file: Option<SharedFile>,
    syslog: bool,
}

fn open_stream(
    p: &ProcessConfig,
    sup: &Supervisord,
    channel: Channel,
    cfg: &StreamConfig,
    other: Option<&SharedFile>,
) -> io::Result<Stream> {
    let path = match &cfg.logfile {
        LogFile::None => None,
        LogFile::Auto => Some(create_auto_log(
            &sup.childlogdir,
            &p.name,
            channel_name(channel),
            &sup.identifier,
        )?),
        LogFile::Path(path) => Some(path.clone()),
    };
    let file = match path {
        None => None,
        Some(path) => match other.filter(|o| lock(o).path() == path) {
            Some(shared) => Some(Arc::clone(shared)),
            None => Some(Arc::new(Mutex::new(RotatingFile::open(
                &path,
                cfg.logfile_maxbytes,
                cfg.logfile_backups,
            )?))),
        },
    };
    Ok(Stream {
        file,
        syslog: cfg.syslog,
    })
}

impl ProcessLogs {
    /// Opens (creating `AUTO` files in `childlogdir`) the log files of `p`. With
    /// `redirect_stderr` stderr has no file. When both streams name the same path they share
    /// one writer (stdout's maxbytes/backups apply), so rotation keeps them together.
    pub fn new(p: &ProcessConfig, sup: &Supervisord) -> io::Result<ProcessLogs> {
        let stdout = open_stream(p, sup, Channel::Stdout, &p.stdout, None)?;
        let stderr = if p.redirect_stderr {
            Stream {
                file: None,
                syslog: false,
            }
        } else {
            open_stream(p, sup, Channel::Stderr, &p.stderr, stdout.file.as_ref())?
        };
        Ok(ProcessLogs {
            name: p.name.clone(),
            stdout,
            stderr,
            strip_ansi: sup.strip_ansi,
            mainlog: None,
            sink: None,
            readers: Vec::new(),
        })
    }

    fn stream(&self, channel: Channel) -> &Stream {
        match channel {
            Channel::Stdout => &self.stdout,
            Channel::Stderr => &self.stderr,
        }
    }

    /// The stream's log file, `None` for `NONE` (and for stderr under `redirect_stderr`).
    pub fn path(&self, channel: Channel) -> Option<PathBuf> {
        self.stream(channel)
            .file
            .as_ref()
            .map(|f| lock(f).path().to_path_buf())
    }

    /// Echo child output to `main` as `DEBG '<name>' <channel> output:\n<data>` when its
    /// level is debug or lower (Python's `log_to_mainlog`). Applies to later `attach` calls.
    pub fn set_mainlog(&mut self, main: MainLog) {
        self.mainlog = main.enabled(LogLevel::Debug).then_some(main);
    }

    /// Hand every chunk (after logging) to `sink`. Applies to later `attach` calls.
    pub fn set_sink(&mut self, sink: Option<OutputSink>) {
        self.sink = sink;
    }

    /// Starts a task on the current tokio runtime that drains `pipe` (the read end of the
    /// child's `channel`) until EOF into the stream's log file; without a file the output is
    /// still read and dropped. The file is reopened first (Python opens it at each spawn).
    /// Fails when `pipe` is not a pipe or FIFO; panics outside a tokio runtime.
    pub fn attach(&mut self, channel: Channel, pipe: OwnedFd, pid: u32) -> io::Result<()> {
        let _ = nix::fcntl::fcntl(&pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
        let rx = pipe::Receiver::from_owned_fd(pipe)?;
        let stream = self.stream(channel);
        if let Some(f) = &stream.file {
            let _ = lock(f).reopen();
        }
        let ctx = Arc::new(StreamCtx {
            name: self.name.clone(),
            channel,
            file: stream.file.clone(),
            syslog: stream.syslog,
            strip_ansi: self.strip_ansi,
            mainlog: self.mainlog.clone(),
            sink: self.sink.clone(),
        });
        self.readers.retain(|h| !h.is_finished());
        self.readers.push(tokio::spawn(pump(rx, ctx, pid)));
        Ok(())
    }

    /// Whether any reader task is still draining a pipe.
    pub fn is_reading(&self) -> bool {
        self.readers.iter().any(|h| !h.is_finished())
    }

    fn files(&self) -> Vec<&SharedFile> {
        let mut files: Vec<&SharedFile> = Vec::new();
        for f in [&self.stdout.file, &self.stderr.file].into_iter().flatten() {
            if !files.iter().any(|g| Arc::ptr_eq(g, f)) {
                files.push(f);
            }
        }
        files
    }

    /// Reopens both streams' files (SIGUSR2), also under running readers.
    pub fn reopen(&self) -> io::Result<()> {
        self.files().into_iter().try_for_each(|f| lock(f).reopen())
    }

    /// Unlinks and reopens both streams' files (`clearProcessLogs`); backups are untouched.
    pub fn clear(&self) -> io::Result<()> {
        self.files().into_iter().try_for_each(|f| lock(f).clear())
    }

    /// Stops the reader tasks now; see the type's documentation.
    pub fn close(&mut self) {
        for h in self.readers.drain(..) {
            h.abort();
        }
    }
}

impl Drop for ProcessLogs {
    fn drop(&mut self) {
        self.close();
    }
}
