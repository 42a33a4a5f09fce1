//! Child output capture: one [`ProcessLogs`] per process, reader tasks per attached pipe.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::unix::pipe;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;

use crate::config::{LogFile, LogLevel, ProcessConfig, StreamConfig, Supervisord};
use crate::events::capture::{Capture, Piece};
use crate::supervisor::Channel;

use super::ansi::strip_ansi;
use super::auto::create_auto_log;
use super::main_log::MainLog;
use super::rotating::RotatingFile;

/// Bytes read from a child pipe per read, as Python's dispatchers.
pub const READ_CHUNK: usize = 128 * 1024;

type SharedFile = Arc<Mutex<RotatingFile>>;

fn lock(f: &SharedFile) -> MutexGuard<'_, RotatingFile> {
    f.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a reader hands to the actor besides the log file, for events.
#[derive(Debug)]
pub enum Tapped {
    /// An event listener's stdout: the protocol channel (`READY`, `RESULT`).
    Protocol(Vec<u8>),
    /// Output of a stream with `*_events_enabled`: one PROCESS_LOG event.
    Output(Vec<u8>),
    /// Capture mode's data at the END token: one PROCESS_COMMUNICATION event.
    Communication(Vec<u8>),
    /// The pipe reached EOF (every writer closed it).
    Eof,
}

/// One message from a tapped reader: whose (the actor's tag and the child's pid), which stream.
#[derive(Debug)]
pub struct TapMessage {
    pub tag: u64,
    pub pid: u32,
    pub channel: Channel,
    pub what: Tapped,
}

pub type TapSender = tokio::sync::mpsc::UnboundedSender<TapMessage>;

/// Where a tapped stream's messages go: the actor's channel, with the process's tag and pid.
#[derive(Debug, Clone)]
pub struct Tap {
    pub sender: TapSender,
    pub tag: u64,
    pub pid: u32,
}

/// Everything a reader task needs for one stream; shared between the handle and its tasks.
struct StreamCtx {
    name: String,
    channel: Channel,
    file: Option<SharedFile>,
    syslog: bool,
    strip_ansi: bool,
    mainlog: Option<MainLog>,
    /// Set when the actor must see the stream: an event listener's stdout (`protocol`),
    /// `*_events_enabled` (`events`), capture mode (`capture`).
    tap: Option<Tap>,
    protocol: bool,
    events: bool,
    capture: Option<Mutex<Capture>>,
}

impl StreamCtx {
    /// Whether nothing but the file needs the bytes, so they may be spliced into it.
    fn splice_ok(&self) -> bool {
        !self.strip_ansi && !self.syslog && self.mainlog.is_none() && self.tap.is_none()
    }

    fn channel_name(&self) -> &'static str {
        channel_name(self.channel)
    }

    fn send(&self, what: Tapped) {
        if let Some(tap) = &self.tap {
            let _ = tap.sender.send(TapMessage {
                tag: tap.tag,
                pid: tap.pid,
                channel: self.channel,
                what,
            });
        }
    }

    /// Handles one chunk: an event listener's protocol bytes go to the actor (and the log),
    /// capture mode splits out what is between its tokens, the rest is logged.
    fn handle(&self, raw: &[u8]) {
        if self.protocol {
            self.log(raw, true, true);
            self.send(Tapped::Protocol(raw.to_vec()));
            return;
        }
        match &self.capture {
            None => self.log(raw, true, false),
            Some(capture) => {
                let mut capture = capture.lock().unwrap_or_else(|e| e.into_inner());
                capture.feed(raw, &mut |piece| match piece {
                    Piece::Normal(data) => self.log(data, true, false),
                    Piece::Captured(data) => self.log(data, false, false),
                    Piece::Communication(data) => self.send(Tapped::Communication(data)),
                });
            }
        }
    }

    /// Logs one piece: file (with rotation) and syslog lines unless it was captured, the main
    /// log echo at debug (bytes as Python's `repr` for a listener's stdout, as Python prints
    /// them), a PROCESS_LOG event when enabled.
    fn log(&self, raw: &[u8], to_file: bool, repr: bool) {
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
        if to_file {
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
        }
        if let Some(main) = &self.mainlog {
            let text = if repr {
                crate::py::bytes_repr(raw)
            } else {
                match std::str::from_utf8(data) {
                    Ok(s) => s.to_string(),
                    Err(_) => format!("Undecodable: {}", crate::py::bytes_repr(data)),
                }
            };
            main.debug(format!(
                "'{}' {} output:\n{}",
                self.name,
                self.channel_name(),
                text
            ));
        }
        if self.events {
            self.send(Tapped::Output(data.to_vec()));
        }
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Stdout => "stdout",
        Channel::Stderr => "stderr",
    }
}

thread_local! {
    /// One read buffer per runtime thread, so idle processes hold no buffer.
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// Pipe capacity asked for (best effort) once a child proves to write fast ([`Pipe::grow`]):
/// fewer wake-ups per megabyte under a flood.
const PIPE_SIZE: usize = 1 << 20;

/// The capacity of a pipe whose size cannot be read (Linux's default).
const DEFAULT_PIPE_SIZE: usize = 64 * 1024;

/// Bytes one burst may move before the task yields to the runtime: on the daemon's one thread,
/// a flood must let the actor and the API in every ~2 ms (1 MiB at ~500 MB/s), or `getState`
/// waits for the whole burst.
const BURST_MAX: usize = 1 << 20;

/// How long a reader waits after a wake-up that found little data before it looks at the pipe
/// again, so that a chatty child's lines pile up in the pipe and are taken with one transfer
/// (one file write) instead of one wake-up, read and write per line: 50 children writing 1000
/// lines/s cost the daemon ~2500 wake-ups/s instead of 50 000.
///
/// Nothing is lost or reordered: the bytes wait in the pipe. The delay is taken only when the
/// child's recent peak rate ([`Rate`]) would fill less than a quarter of the pipe's capacity
/// during it, so a steady writer never blocks on a full pipe because of it; a child that
/// suddenly writes more than three quarters of the capacity (48 KiB with the default 64 KiB
/// pipe, 768 KiB once grown to 1 MiB) within one delay blocks in `write` for at most the
/// rest of that one delay, after which its rate is known and the reader drains without
/// pausing until the rate has decayed ([`RATE_HALF_LIFE`]). Tail -f, `readLog` and EOF are
/// later by at most this delay.
const COALESCE_DELAY: Duration = Duration::from_millis(20);

/// How fast the remembered peak rate of a pipe decays: a bulk writer that is descheduled for a
/// moment keeps its fast path; one that went quiet gets coalesced again within a second or so.
const RATE_HALF_LIFE: Duration = Duration::from_millis(100);

/// The rate a new pipe starts with, bytes/s: a child that floods its output from the start is
/// never paused; a chatty one is coalesced after ~0.6 s (six half-lives).
const ASSUMED_RATE: f64 = 1e9;

/// A pipe's recent peak transfer rate, decaying by half every [`RATE_HALF_LIFE`].
struct Rate {
    /// Bytes per second.
    peak: f64,
    last: Instant,
}

impl Rate {
    /// A new pipe is assumed fast ([`ASSUMED_RATE`]) until its rate has decayed to what it is.
    fn new() -> Rate {
        Rate {
            peak: ASSUMED_RATE,
            last: Instant::now(),
        }
    }

    /// Records `moved` bytes since the previous call; returns whether to sleep
    /// [`COALESCE_DELAY`]: whether the bytes expected during it stay under a quarter of
    /// `capacity`.
    fn worth_waiting(&mut self, moved: usize, capacity: usize) -> bool {
        let now = Instant::now();
        let interval = (now - self.last).as_secs_f64().max(1e-6);
        self.last = now;
        let decay = 0.5f64.powf(interval / RATE_HALF_LIFE.as_secs_f64());
        self.peak = (moved as f64 / interval).max(self.peak * decay);
        self.peak * COALESCE_DELAY.as_secs_f64() < (capacity / 4) as f64
    }
}

/// What a read (or a burst of reads) ended with.
enum Drain {
    /// A full buffer: more is probably waiting.
    More,
    /// The pipe is empty for now.
    Empty,
    /// EOF, or an error that ends the stream.
    Done,
}

/// One transfer out of the pipe.
enum Step {
    /// `n` bytes handled; `full` when the transfer was as large as allowed (more is probably
    /// waiting); `drained` when a short count proves the pipe empty (a pipe `read` returns all
    /// there is, a splice may stop short for the file's sake).
    Moved {
        n: usize,
        full: bool,
        drained: bool,
    },
    Empty,
    Done,
}

fn read_once(fd: &BorrowedFd<'_>, ctx: &StreamCtx) -> Step {
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        loop {
            return match nix::unistd::read(fd, &mut buf) {
                Ok(0) => Step::Done,
                Ok(n) => {
                    ctx.handle(&buf[..n]);
                    let full = n == buf.len();
                    Step::Moved {
                        n,
                        full,
                        drained: !full,
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => Step::Empty,
                Err(_) => Step::Done,
            };
        }
    })
}

/// How a reader moves bytes: splice(2) straight into the file when nothing needs to see them
/// (no `strip_ansi`, syslog or debug echo), else read + [`StreamCtx::handle`].
struct Mover {
    /// Splice at most this many bytes per call (the pipe's capacity, or [`READ_CHUNK`] when the
    /// file rotates, so rotation is checked as often as with reads); 0 = read + write.
    splice_len: usize,
    /// Whether the pipe is off the poller ([`Watch::Ticks`]): then a short splice ends the
    /// drain, as the next tick looks again, instead of a second splice proving it empty.
    ticking: bool,
}

impl Mover {
    fn new(ctx: &StreamCtx, capacity: usize) -> Mover {
        let splice_len = match &ctx.file {
            Some(f) if ctx.splice_ok() => Mover::splice_len(f, capacity),
            _ => 0,
        };
        Mover {
            splice_len,
            ticking: false,
        }
    }

    fn splice_len(file: &SharedFile, capacity: usize) -> usize {
        if lock(file).rotates() {
            capacity.min(READ_CHUNK)
        } else {
            capacity
        }
    }

    /// The pipe grew to `capacity`: splice up to that much per call (unless splicing was
    /// given up).
    fn resize(&mut self, ctx: &StreamCtx, capacity: usize) {
        if let (true, Some(f)) = (self.splice_len > 0, &ctx.file) {
            self.splice_len = Mover::splice_len(f, capacity);
        }
    }

    fn step(&mut self, fd: &BorrowedFd<'_>, ctx: &StreamCtx) -> Step {
        if self.splice_len > 0 {
            if let Some(f) = &ctx.file {
                // The splice target costs an open (and its close): a child that exits without
                // a byte (most short jobs) only ever meets EOF, which a read finds as well.
                // Its first bytes are read; the target is opened for the ones after.
                if !lock(f).splice_ready() {
                    let step = read_once(fd, ctx);
                    if matches!(step, Step::Moved { .. }) && lock(f).prepare_splice().is_err() {
                        self.splice_len = 0;
                    }
                    return step;
                }
                loop {
                    return match lock(f).splice_from(*fd, self.splice_len) {
                        Ok(0) => Step::Done,
                        Ok(n) => Step::Moved {
                            n,
                            full: n >= self.splice_len,
                            drained: self.ticking && n < self.splice_len,
                        },
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Step::Empty,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => {
                            // Not spliceable (file system, /proc missing): read from now on.
                            self.splice_len = 0;
                            break;
                        }
                    };
                }
            }
        }
        read_once(fd, ctx)
    }

    /// Moves bytes until the pipe is empty, EOF, [`BURST_MAX`] bytes, or (with `stop_on_full`)
    /// the first full transfer. Returns how it ended and the bytes moved.
    fn drain(
        &mut self,
        fd: &BorrowedFd<'_>,
        ctx: &StreamCtx,
        stop_on_full: bool,
    ) -> (Drain, usize) {
        let mut moved = 0;
        loop {
            match self.step(fd, ctx) {
                Step::Done => return (Drain::Done, moved),
                Step::Empty => return (Drain::Empty, moved),
                Step::Moved { n, full, drained } => {
                    moved += n;
                    if drained {
                        return (Drain::Empty, moved);
                    }
                    if (full && stop_on_full) || moved >= BURST_MAX {
                        return (Drain::More, moved);
                    }
                }
            }
        }
    }
}

/// The next multiple of [`COALESCE_DELAY`] since a process-wide epoch: all readers that pause
/// wake at the same instants, so the daemon wakes once per delay for all of them.
fn next_tick() -> tokio::time::Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let period = COALESCE_DELAY.as_nanos();
    let ticks = epoch.elapsed().as_nanos() / period + 1;
    let offset = Duration::from_nanos(u64::try_from(ticks * period).unwrap_or(u64::MAX));
    tokio::time::Instant::from_std(epoch + offset)
}

/// Moves what is in the pipe now (see [`Mover::drain`]); bursts run under `block_in_place` on
/// a multi-threaded runtime.
fn drain_now(
    mover: &mut Mover,
    fd: &BorrowedFd<'_>,
    ctx: &StreamCtx,
    multi_thread: bool,
) -> (Drain, usize) {
    let (mut end, mut moved) = mover.drain(fd, ctx, multi_thread);
    if let (Drain::More, true) = (&end, multi_thread) {
        let (e, m) = tokio::task::block_in_place(|| mover.drain(fd, ctx, false));
        end = e;
        moved += m;
    }
    (end, moved)
}

/// The pipe's capacity in bytes (Linux's default when it cannot be read).
fn pipe_capacity(fd: BorrowedFd<'_>) -> usize {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETPIPE_SZ)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PIPE_SIZE)
}

/// Asks for a [`PIPE_SIZE`] pipe the first time a wake-up finds it half full, i.e. for a child that
/// writes fast; returns the capacity it has now. Pipes start at the default size because a
/// non-root daemon's pipes count against the per-user quota (`fs.pipe-user-pages-soft`,
/// 64 MiB): asking 1 MiB for every stream would exhaust it at ~30 children, after which the
/// kernel gives every new pipe of that user 8 KiB.
fn grow(fd: BorrowedFd<'_>, capacity: usize) -> usize {
    let asked = i32::try_from(PIPE_SIZE).unwrap_or(i32::MAX);
    match nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(asked)) {
        Ok(n) => usize::try_from(n).unwrap_or(capacity),
        Err(_) => capacity,
    }
}

/// How a reader waits for its pipe.
enum Watch {
    /// Registered with the runtime's poller: woken when the child writes.
    Ready(pipe::Receiver),
    /// Not registered, looked at every [`COALESCE_DELAY`] on the shared ticks: a chatty child's
    /// writes wake nobody (an edge-triggered poller would wake the daemon for the first write
    /// after every drain, one wake-up per pipe per delay).
    Ticks(OwnedFd),
}

/// Reads the pipe to EOF, handing every chunk to `ctx` (or splicing it into the file). Small
/// transfers (a line from a chatty child) are handled in place; a full one starts a burst that
/// runs under `block_in_place` on a multi-threaded runtime, so file writes that stall in the
/// kernel never hold up other tasks. An empty pipe clears the readiness without another
/// `read`. After a wake-up that found little ([`Rate`]), the reader leaves the poller and looks
/// at the pipe on the shared ticks ([`next_tick`]) until a tick finds it empty or its rate
/// grows, then waits on the poller again.
async fn pump(rx: pipe::Receiver, ctx: Arc<StreamCtx>) {
    let multi_thread = Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread;
    let mut capacity = pipe_capacity(rx.as_fd());
    let mut grown = false;
    let mut mover = Mover::new(&ctx, capacity);
    let mut rate = Rate::new();
    let mut watch = Watch::Ready(rx);
    loop {
        watch = match watch {
            Watch::Ready(rx) => {
                if rx.readable().await.is_err() {
                    return;
                }
                let fd = rx.as_fd();
                let mut end = Drain::More;
                let mut moved = 0;
                let _ = rx.try_io(|| {
                    (end, moved) = drain_now(&mut mover, &fd, &ctx, multi_thread);
                    match end {
                        Drain::Empty => Err(io::ErrorKind::WouldBlock.into()),
                        Drain::More | Drain::Done => Ok(()),
                    }
                });
                if !grown && moved >= capacity / 2 {
                    grown = true;
                    capacity = grow(rx.as_fd(), capacity);
                    mover.resize(&ctx, capacity);
                }
                // Tapped streams are never held back: the actor waits on them (a listener's reply).
                let wait = rate.worth_waiting(moved, capacity) && ctx.tap.is_none();
                match end {
                    Drain::Done => return,
                    Drain::Empty if wait => match rx.into_nonblocking_fd() {
                        Ok(fd) => {
                            tokio::time::sleep_until(next_tick()).await;
                            Watch::Ticks(fd)
                        }
                        Err(_) => return,
                    },
                    Drain::Empty => Watch::Ready(rx),
                    // Readiness is still set, so `readable` would not yield: yield here, or
                    // a flooding child starves every other task until tokio's budget runs out.
                    Drain::More => {
                        tokio::task::yield_now().await;
                        Watch::Ready(rx)
                    }
                }
            }
            Watch::Ticks(fd) => {
                mover.ticking = true;
                let (end, moved) = drain_now(&mut mover, &fd.as_fd(), &ctx, multi_thread);
                mover.ticking = false;
                // Tapped streams are never held back: the actor waits on them (a listener's reply).
                let wait = rate.worth_waiting(moved, capacity) && ctx.tap.is_none();
                match end {
                    Drain::Done => return,
                    Drain::Empty if wait && moved > 0 => {
                        tokio::time::sleep_until(next_tick()).await;
                        Watch::Ticks(fd)
                    }
                    Drain::More => {
                        tokio::task::yield_now().await;
                        Watch::Ticks(fd)
                    }
                    Drain::Empty => match pipe::Receiver::from_owned_fd_unchecked(fd) {
                        Ok(rx) => Watch::Ready(rx),
                        Err(_) => return,
                    },
                }
            }
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
    /// An event listener's: stdout is its protocol channel.
    protocol: bool,
    readers: Vec<JoinHandle<()>>,
}

struct Stream {
    file: Option<SharedFile>,
    syslog: bool,
    events: bool,
    capture_maxbytes: u64,
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
            None => Some(Arc::new(Mutex::new(RotatingFile::unopened(
                &path,
                cfg.logfile_maxbytes,
                cfg.logfile_backups,
            )))),
        },
    };
    Ok(Stream {
        file,
        syslog: cfg.syslog,
        events: cfg.events_enabled,
        capture_maxbytes: cfg.capture_maxbytes,
    })
}

impl ProcessLogs {
    /// Prepares the log files of `p`: `AUTO` files are created in `childlogdir` now (Python's
    /// `mkstemp` when the config is realized), named files at the first spawn. With
    /// `redirect_stderr` stderr has no file. When both streams name the same path they share
    /// one writer (stdout's maxbytes/backups apply), so rotation keeps them together.
    pub fn new(p: &ProcessConfig, sup: &Supervisord) -> io::Result<ProcessLogs> {
        let stdout = open_stream(p, sup, Channel::Stdout, &p.stdout, None)?;
        let stderr = if p.redirect_stderr {
            Stream {
                file: None,
                syslog: false,
                events: false,
                capture_maxbytes: 0,
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
            protocol: false,
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

    /// Makes stdout an event listener's protocol channel (no capture mode, no PROCESS_LOG
    /// events on it, as Python's `PEventListenerDispatcher`).
    pub fn set_protocol(&mut self) {
        self.protocol = true;
    }

    /// Whether the actor must see `channel`'s output ([`attach`](Self::attach) then needs a
    /// [`Tap`]): a listener's stdout, `*_events_enabled`, capture mode.
    pub fn wants_tap(&self, channel: Channel) -> bool {
        let stream = self.stream(channel);
        (self.protocol && channel == Channel::Stdout)
            || stream.events
            || stream.capture_maxbytes > 0
    }

    /// Whether nothing would ever read `channel`'s output: no file, no syslog, no tap, no
    /// echo in the main log. The child's end can then be `/dev/null` (see
    /// `process::spawn::Wiring::discard`) and no pipe is attached.
    pub fn discards(&self, channel: Channel) -> bool {
        let stream = self.stream(channel);
        stream.file.is_none()
            && !stream.syslog
            && self.mainlog.is_none()
            && !self.wants_tap(channel)
    }

    /// Starts a task on the current tokio runtime that drains `pipe` (the read end of the
    /// child's `channel`) until EOF into the stream's log file; without a file the output is
    /// still read and dropped. With a `tap` (see [`wants_tap`](Self::wants_tap)) the actor
    /// also gets what events need, then [`Tapped::Eof`]. `pipe` must be the read end of a
    /// pipe, already non-blocking (as a spawn's `Child` gives them: checking again would cost
    /// three syscalls per stream and spawn). Panics outside a tokio runtime.
    pub fn attach(&mut self, channel: Channel, pipe: OwnedFd, tap: Option<Tap>) -> io::Result<()> {
        let rx = pipe::Receiver::from_owned_fd_unchecked(pipe)?;
        let stream = self.stream(channel);
        let protocol = self.protocol && channel == Channel::Stdout;
        let capture = (!protocol && stream.capture_maxbytes > 0)
            .then(|| Mutex::new(Capture::new(stream.capture_maxbytes)));
        let ctx = Arc::new(StreamCtx {
            name: self.name.clone(),
            channel,
            file: stream.file.clone(),
            syslog: stream.syslog,
            strip_ansi: self.strip_ansi,
            mainlog: self.mainlog.clone(),
            events: stream.events && !protocol && tap.is_some(),
            tap,
            protocol,
            capture,
        });
        self.readers.retain(|h| !h.is_finished());
        self.readers.push(tokio::spawn(async move {
            pump(rx, Arc::clone(&ctx)).await;
            ctx.send(Tapped::Eof);
        }));
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

    /// (Re)opens both streams' files, creating them if missing: Python opens them at each
    /// spawn, and a file that cannot be opened stops the spawn.
    pub fn open_files(&self) -> io::Result<()> {
        self.files()
            .into_iter()
            .try_for_each(|f| lock(f).open_now())
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
