//! The logging layer with real child processes writing into real pipes.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use supervisor::config::{LogFile, LogLevel, LogTarget, ProcessConfig, StreamConfig, Supervisord};
use supervisor::logs::{MainLog, ProcessLogs};
use supervisor::supervisor::Channel;

fn supervisord(dir: &Path) -> Supervisord {
    Supervisord {
        logfile: LogTarget::File(dir.join("supervisord.log")),
        logfile_maxbytes: 0,
        logfile_backups: 0,
        loglevel: LogLevel::Info,
        pidfile: None,
        umask: 0o22,
        nodaemon: false,
        silent: false,
        minfds: 1024,
        minprocs: 200,
        nocleanup: false,
        childlogdir: dir.to_path_buf(),
        user: None,
        directory: None,
        strip_ansi: false,
        environment: Default::default(),
        identifier: "supervisor".into(),
        init: false,
        remember_stopped: false,
    }
}

fn stream(logfile: LogFile, maxbytes: u64, backups: u32) -> StreamConfig {
    StreamConfig {
        logfile,
        logfile_maxbytes: maxbytes,
        logfile_backups: backups,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
    }
}

fn process(name: &str, stdout: StreamConfig, stderr: StreamConfig) -> ProcessConfig {
    ProcessConfig {
        stdout,
        stderr,
        ..crate::support::program::program(name, "")
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

/// Spawns `sh -c script` with stdout and stderr into fresh pipes attached to `logs`.
fn spawn(logs: &mut ProcessLogs, script: &str, stdin: Stdio) -> Child {
    let mut command = Command::new("sh");
    command.args(["-c", script]).stdin(stdin);
    spawn_attached(logs, command)
}

/// Spawns `command` with stdout and stderr into fresh pipes attached to `logs`.
fn spawn_attached(logs: &mut ProcessLogs, mut command: Command) -> Child {
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let child = command.stdout(out_w).stderr(err_w).spawn().unwrap();
    let nonblocking = |fd| supervisor::sys::fd::nonblocking(fd).unwrap();
    logs.attach(Channel::Stdout, nonblocking(out_r), None)
        .unwrap();
    logs.attach(Channel::Stderr, nonblocking(err_r), None)
        .unwrap();
    child
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn drained(logs: &ProcessLogs, mut child: Child) {
    until("the child to exit", || child.try_wait().unwrap().is_some()).await;
    until("the readers to reach EOF", || !logs.is_reading()).await;
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

fn numbered(p: &Path, n: u32) -> PathBuf {
    PathBuf::from(format!("{}.{n}", p.display()))
}

/// Deterministic, incompressible-looking test data.
fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_byte_lands_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let expected = data(64 << 20);
    std::fs::write(&src, &expected).unwrap();
    let sup = supervisord(dir.path());
    let p = process(
        "big",
        stream(LogFile::Auto, 0, 0),
        stream(LogFile::Auto, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    let child = spawn(&mut logs, &format!("cat {}", src.display()), Stdio::null());
    drained(&logs, child).await;
    let got = read(&logs.path(Channel::Stdout).unwrap());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "content differs");
    assert_eq!(read(&logs.path(Channel::Stderr).unwrap()), b"");
}

#[tokio::test]
async fn a_current_thread_runtime_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let sup = supervisord(dir.path());
    let p = process(
        "single",
        stream(LogFile::Auto, 0, 0),
        stream(LogFile::Auto, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    let child = spawn(
        &mut logs,
        "head -c 5000000 /dev/zero; echo err >&2",
        Stdio::null(),
    );
    drained(&logs, child).await;
    assert_eq!(read(&logs.path(Channel::Stdout).unwrap()).len(), 5_000_000);
    assert_eq!(read(&logs.path(Channel::Stderr).unwrap()), b"err\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_a_real_writer() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("rot.log");
    let sup = supervisord(dir.path());
    let p = process(
        "rot",
        stream(LogFile::Path(log.clone()), 1000, 2),
        stream(LogFile::None, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    // Three bursts, each waiting until the previous one has been rotated out: however the
    // reader chunks the pipe, there are at least two rotations of at least 1000 bytes each.
    let script = format!(
        "log='{}'; i=0; for stop in 700 1400 2000; do \
           while [ $i -lt $stop ]; do echo line-$i; i=$((i+1)); done; \
           case $stop in 700) n=1;; 1400) n=2;; *) n=;; esac; \
           if [ -n \"$n\" ]; then while [ ! -e \"$log.$n\" ]; do sleep 0.01; done; fi; \
         done",
        log.display()
    );
    let child = spawn(&mut logs, &script, Stdio::null());
    drained(&logs, child).await;
    let (b2, b1, cur) = (
        read(&numbered(&log, 2)),
        read(&numbered(&log, 1)),
        read(&log),
    );
    assert!(
        b1.len() >= 1000 && b2.len() >= 1000,
        "{} {}",
        b1.len(),
        b2.len()
    );
    assert!(cur.len() < 1000);
    assert!(!numbered(&log, 3).exists());
    let all: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line-{i}\n").into_bytes())
        .collect();
    let kept = [b2, b1, cur].concat();
    assert!(all.ends_with(&kept), "backups are not the tail, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_for_both_streams_and_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("qrd.log");
    let sup = supervisord(dir.path());
    let p = process(
        "qrd",
        stream(LogFile::Path(log.clone()), 0, 0),
        stream(LogFile::Path(log.clone()), 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    assert_eq!(logs.path(Channel::Stdout), Some(log.clone()));
    assert_eq!(logs.path(Channel::Stderr), Some(log.clone()));
    let script = "i=0; while [ $i -lt 300 ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); done";
    let child = spawn(&mut logs, script, Stdio::null());
    drained(&logs, child).await;
    let text = String::from_utf8(read(&log)).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("out-")).count(), 300);
    assert_eq!(text.lines().filter(|l| l.starts_with("err-")).count(), 300);

    let mut redirected = process(
        "red",
        stream(LogFile::Auto, 0, 0),
        stream(LogFile::Auto, 0, 0),
    );
    redirected.redirect_stderr = true;
    let logs = ProcessLogs::new(&redirected, &sup).unwrap();
    assert!(logs.path(Channel::Stdout).is_some());
    assert_eq!(logs.path(Channel::Stderr), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_without_a_file_is_drained() {
    let dir = tempfile::tempdir().unwrap();
    let sup = supervisord(dir.path());
    let p = process(
        "quiet",
        stream(LogFile::None, 0, 0),
        stream(LogFile::None, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    assert_eq!(logs.path(Channel::Stdout), None);
    let child = spawn(
        &mut logs,
        "head -c 20000000 /dev/zero; head -c 20000000 /dev/zero >&2",
        Stdio::null(),
    );
    drained(&logs, child).await;
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(names.is_empty());
}

/// Pipes start at the default 64 KiB (a non-root user's pipes share a 64 MiB quota) and grow
/// to 1 MiB only for a child that writes fast: the quiet stream stays small, the flooded one
/// grows. The child reads its own pipes' sizes (F_GETPIPE_SZ) and prints them to stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_fast_writer_gets_a_big_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let sup = supervisord(dir.path());
    let p = process(
        "flood",
        stream(LogFile::Auto, 0, 0),
        stream(LogFile::Auto, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    let script = r#"
import fcntl, os, sys, time
F_GETPIPE_SZ = 1032
before = fcntl.fcntl(1, F_GETPIPE_SZ)
for _ in range(256):
    os.write(1, b"x" * 65536)
deadline = time.monotonic() + 10
while fcntl.fcntl(1, F_GETPIPE_SZ) < 1 << 20 and time.monotonic() < deadline:
    time.sleep(0.01)
sys.stderr.write(f"{before} {fcntl.fcntl(1, F_GETPIPE_SZ)} {fcntl.fcntl(2, F_GETPIPE_SZ)}\n")
"#;
    let mut command = Command::new("python3");
    command.args(["-c", script]).stdin(Stdio::null());
    let child = spawn_attached(&mut logs, command);
    drained(&logs, child).await;
    assert_eq!(
        read(&logs.path(Channel::Stdout).unwrap()).len(),
        256 * 65536
    );
    let sizes = String::from_utf8(read(&logs.path(Channel::Stderr).unwrap())).unwrap();
    assert_eq!(sizes, "65536 1048576 65536\n");
}

/// The splice path (nothing transforms the bytes) with rotation: every byte lands once, in
/// order, across the backups, and each rotated file ends at or past maxbytes by less than one
/// transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spliced_output_is_byte_exact_across_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let expected = data(6 << 20);
    std::fs::write(&src, &expected).unwrap();
    let log = dir.path().join("spliced.log");
    let sup = supervisord(dir.path());
    const MAX: u64 = 1 << 20;
    let p = process(
        "spliced",
        stream(LogFile::Path(log.clone()), MAX, 20),
        stream(LogFile::None, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    let child = spawn(&mut logs, &format!("cat {}", src.display()), Stdio::null());
    drained(&logs, child).await;
    let mut backups: Vec<Vec<u8>> = (1..=20)
        .map(|n| numbered(&log, n))
        .take_while(|p| p.exists())
        .map(|p| read(&p))
        .collect();
    assert!(backups.len() >= 4, "{} backups", backups.len());
    for b in &backups {
        let len = b.len() as u64;
        assert!(
            len >= MAX && len < MAX + supervisor::logs::READ_CHUNK as u64,
            "{len}"
        );
    }
    backups.reverse();
    backups.push(read(&log));
    assert!(backups.concat() == expected, "content differs");
}

/// A child that writes slow lines (coalesced: the reader pauses between looks), then floods,
/// then writes slow lines again: nothing lost, nothing reordered, on both streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_chatty_output_stays_complete_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sup = supervisord(dir.path());
    let p = process(
        "chatty",
        stream(LogFile::Auto, 0, 0),
        stream(LogFile::Auto, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    let script = "i=0; while [ $i -lt 250 ]; do echo out-$i; echo err-$i >&2; sleep 0.004; \
                  i=$((i+1)); done; head -c 3000000 /dev/zero | tr '\\0' x; echo; \
                  while [ $i -lt 300 ]; do echo out-$i; sleep 0.002; i=$((i+1)); done";
    let child = spawn(&mut logs, script, Stdio::null());
    drained(&logs, child).await;
    let mut out = Vec::new();
    for i in 0..250 {
        out.extend(format!("out-{i}\n").into_bytes());
    }
    out.extend(std::iter::repeat_n(b'x', 3_000_000));
    out.push(b'\n');
    for i in 250..300 {
        out.extend(format!("out-{i}\n").into_bytes());
    }
    let got = read(&logs.path(Channel::Stdout).unwrap());
    assert_eq!(got.len(), out.len());
    assert!(got == out, "stdout differs");
    let err: Vec<u8> = (0..250)
        .flat_map(|i| format!("err-{i}\n").into_bytes())
        .collect();
    assert_eq!(read(&logs.path(Channel::Stderr).unwrap()), err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_and_clear_reach_a_running_reader() {
    let dir = tempfile::tempdir().unwrap();
    let sup = supervisord(dir.path());
    let p = process(
        "live",
        stream(LogFile::Auto, 0, 0),
        stream(LogFile::Auto, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    let out = logs.path(Channel::Stdout).unwrap();
    let err = logs.path(Channel::Stderr).unwrap();
    let (in_r, in_w) = pipe();
    let mut feed = std::fs::File::from(in_w);
    let script = "while read l; do echo \"$l\"; echo \"e$l\" >&2; done";
    let child = spawn(&mut logs, script, Stdio::from(in_r));
    use std::io::Write;
    writeln!(feed, "one").unwrap();
    until("one", || read(&out) == b"one\n" && read(&err) == b"eone\n").await;
    let moved = dir.path().join("moved.log");
    std::fs::rename(&out, &moved).unwrap();
    logs.reopen().unwrap();
    writeln!(feed, "two").unwrap();
    until("two", || read(&out) == b"two\n").await;
    assert_eq!(read(&moved), b"one\n");
    logs.clear().unwrap();
    assert_eq!((read(&out), read(&err)), (vec![], vec![]));
    writeln!(feed, "three").unwrap();
    until("three", || {
        read(&out) == b"three\n" && read(&err) == b"ethree\n"
    })
    .await;
    drop(feed);
    drained(&logs, child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strip_ansi_and_debug_echo_to_the_main_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut sup = supervisord(dir.path());
    sup.strip_ansi = true;
    sup.loglevel = LogLevel::Debug;
    let main = MainLog::open(&sup).unwrap();
    let p = process(
        "colour",
        stream(LogFile::Auto, 0, 0),
        stream(LogFile::None, 0, 0),
    );
    let mut logs = ProcessLogs::new(&p, &sup).unwrap();
    logs.set_mainlog(main.clone());
    let child = spawn(
        &mut logs,
        "printf '\\033[1;31mred\\033[0m\\n'",
        Stdio::null(),
    );
    drained(&logs, child).await;
    assert_eq!(read(&logs.path(Channel::Stdout).unwrap()), b"red\n");
    let text = String::from_utf8(read(&main.path().unwrap())).unwrap();
    assert!(
        text.ends_with(" DEBG 'colour' stdout output:\nred\n\n"),
        "{text:?}"
    );
}

fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(u.user_time()) + t(u.system_time())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Worst lateness of a 1 ms timer on the same runtime while `work` runs: how much other daemon
/// work would be delayed.
fn lateness_probe() -> (
    tokio::task::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let worst = std::sync::Arc::new(AtomicU64::new(0));
    let w = worst.clone();
    let task = tokio::spawn(async move {
        loop {
            let t = Instant::now();
            tokio::time::sleep(Duration::from_millis(1)).await;
            let late = t.elapsed().saturating_sub(Duration::from_millis(1));
            w.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
        }
    });
    (task, worst)
}

/// Capture throughput against `generator | cat > file`, interleaved, the daemon's CPU and the
/// delay it causes to other tasks; then 50 chatty children.
/// Run: `cargo test --release --test integration -- --ignored --nocapture capture_benchmark`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn capture_benchmark() {
    use std::sync::atomic::Ordering;
    const COUNT: u64 = 8192;
    const BYTES: u64 = COUNT * 128 * 1024;
    let gen = format!("dd if=/dev/zero bs=128k count={COUNT} status=none");
    let dir = tempfile::tempdir().unwrap();
    let sup = supervisord(dir.path());
    let (mut cat, mut ours, mut cpu) = (vec![], vec![], vec![]);
    let (mut cat_late, mut late) = (vec![], vec![]);
    let sync = || assert!(Command::new("sync").status().unwrap().success());
    for round in 0..7 {
        let target = dir.path().join("cat.out");
        sync();
        let (probe, worst) = lateness_probe();
        let t = Instant::now();
        let mut sh = Command::new("sh")
            .args(["-c", &format!("{gen} | cat > {}", target.display())])
            .spawn()
            .unwrap();
        until("cat", || sh.try_wait().unwrap().is_some()).await;
        cat.push(BYTES as f64 / t.elapsed().as_secs_f64() / 1e6);
        probe.abort();
        cat_late.push(worst.load(Ordering::Relaxed) as f64 / 1000.0);
        std::fs::remove_file(&target).unwrap();

        let log = dir.path().join(format!("ours{round}.log"));
        let p = process(
            "flood",
            stream(LogFile::Path(log.clone()), 0, 0),
            stream(LogFile::None, 0, 0),
        );
        let mut logs = ProcessLogs::new(&p, &sup).unwrap();
        sync();
        let (probe, worst) = lateness_probe();
        let (c0, t) = (cpu_seconds(), Instant::now());
        let child = spawn(&mut logs, &gen, Stdio::null());
        drained(&logs, child).await;
        ours.push(BYTES as f64 / t.elapsed().as_secs_f64() / 1e6);
        cpu.push((cpu_seconds() - c0) / (BYTES as f64 / (100 << 20) as f64));
        probe.abort();
        late.push(worst.load(Ordering::Relaxed) as f64 / 1000.0);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), BYTES);
        std::fs::remove_file(&log).unwrap();
    }
    println!(
        "1 GiB capture: cat {:.0} MB/s, ours {:.0} MB/s (ratio {:.2}); ours {:.3} CPU-s per 100 MiB; worst 1 ms timer delay: during cat {:.1} ms, during ours {:.1} ms",
        median(cat.clone()),
        median(ours.clone()),
        median(ours.clone()) / median(cat.clone()),
        median(cpu),
        median(cat_late),
        median(late),
    );
    println!("rounds: cat {cat:.0?} ours {ours:.0?}");

    let script = "import sys, time\nfor i in range(3000):\n    sys.stdout.write('chatty line %d\\n' % i); sys.stdout.flush(); time.sleep(0.001)";
    let mut all = Vec::new();
    for n in 0..50 {
        let p = process(
            &format!("chatty{n}"),
            stream(LogFile::Auto, 0, 0),
            stream(LogFile::Auto, 0, 0),
        );
        let mut logs = ProcessLogs::new(&p, &sup).unwrap();
        let mut command = Command::new("python3");
        command.args(["-c", script]);
        let child = spawn_attached(&mut logs, command);
        all.push((logs, child));
    }
    let (c0, t) = (cpu_seconds(), Instant::now());
    while all
        .iter_mut()
        .any(|(logs, child)| logs.is_reading() || child.try_wait().unwrap().is_none())
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = t.elapsed().as_secs_f64();
    let lines: usize = all
        .iter()
        .map(|(l, _)| {
            read(&l.path(Channel::Stdout).unwrap())
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        })
        .sum();
    println!(
        "50 chatty children: {lines} lines in {wall:.1} s ({:.0} lines/s); daemon CPU {:.1} % of a core",
        lines as f64 / wall,
        (cpu_seconds() - c0) / wall * 100.0
    );
}
