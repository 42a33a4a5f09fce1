//! Process trees, tracked with cgroup v2: each spawn of a program gets its own cgroup under a
//! subtree of the daemon's own, so every descendant (a gunicorn worker, a grandchild that
//! called `setsid`) is found, signalled and killed with it, and the leftovers of a daemon that
//! was SIGKILLed are found by the next one.
//!
//! Only the unified hierarchy's core files are used (`cgroup.procs`, `cgroup.kill`,
//! `cgroup.events`): no controller needs to be delegated. Where the hierarchy is missing or not
//! writable (a non-root daemon, cgroup v1 only), [`Tree::open`] gives `None` and the daemon
//! works as Python's does.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The daemon's subtree: `<unified mount>/<the daemon's cgroup>/supervisor-rs-<key>`.
#[derive(Debug)]
pub struct Tree {
    root: PathBuf,
}

/// A process that a previous daemon left behind, killed by [`Tree::kill_leftovers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub pid: u32,
    /// The cgroup it was in (the program's namespec and spawn number).
    pub cgroup: String,
    /// `/proc/<pid>/cmdline`, spaces for NULs.
    pub command: String,
}

/// The mount point of the unified (v2) hierarchy, from `/proc/self/mountinfo`.
fn unified_mount() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mount = left.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(mount))
    })
}

/// The daemon's own cgroup in the unified hierarchy (`0::/path` in `/proc/self/cgroup`).
fn own_cgroup() -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_start_matches('/').to_string())
}

/// A name that is safe as one path component and never an interface file's name.
fn component(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    format!("p-{clean}")
}

fn pids_in(dir: &Path) -> Vec<u32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Kills every process of `dir` (`cgroup.kill`, or SIGKILL to each where the kernel lacks it).
fn kill_dir(dir: &Path) {
    if fs::write(dir.join("cgroup.kill"), b"1").is_err() {
        for pid in pids_in(dir) {
            let _ = crate::sys::child::kill(pid as i32, libc::SIGKILL);
        }
    }
}

impl Tree {
    /// Opens (creating it if needed) the subtree for the daemon identified by `key` (the same
    /// config gives the same key, so a restarted daemon finds its predecessor's cgroups).
    /// `None` when cgroup v2 is not available and writable here.
    pub fn open(key: &str) -> Option<Tree> {
        let mount = unified_mount()?;
        let own = own_cgroup()?;
        let root = mount.join(own).join(format!("supervisor-rs-{key}"));
        match fs::create_dir(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        // Writable for real: a cgroup we made can be written to.
        fs::OpenOptions::new()
            .write(true)
            .open(root.join("cgroup.procs"))
            .ok()?;
        Some(Tree { root })
    }

    /// The key for a daemon: a hash of its pidfile's path (two daemons cannot share one).
    pub fn key_for(pidfile: &Path) -> String {
        // FNV-1a: stable across builds and runs, unlike std's hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in pidfile.as_os_str().as_encoded_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    fn children(&self) -> Vec<PathBuf> {
        fs::read_dir(&self.root)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Kills every process a previous daemon on the same config left in the subtree and
    /// removes its cgroups; returns what was killed (for the log).
    pub fn kill_leftovers(&self) -> Vec<Leftover> {
        let mut killed = Vec::new();
        for dir in self.children() {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().trim_start_matches("p-").to_string())
                .unwrap_or_default();
            for pid in pids_in(&dir) {
                killed.push(Leftover {
                    pid,
                    cgroup: name.clone(),
                    command: crate::proctree::command_of(pid),
                });
            }
            kill_dir(&dir);
        }
        for dir in self.children() {
            remove_when_empty(&dir);
        }
        killed
    }

    /// Kills everything still in the subtree (the daemon is exiting) and removes it.
    pub fn kill_all(&self) {
        for dir in self.children() {
            kill_dir(&dir);
            remove_when_empty(&dir);
        }
        let _ = fs::remove_dir(&self.root);
    }

    /// A fresh cgroup for spawn number `seq` of the process `namespec`.
    pub fn create(&self, namespec: &str, seq: u64) -> io::Result<Cgroup> {
        let path = self.root.join(format!("{}@{seq}", component(namespec)));
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let events = fs::File::open(path.join("cgroup.events"))?;
        Ok(Cgroup { path, events })
    }
}

/// Removes an emptied cgroup, waiting up to 100 ms for the kernel to finish the kills (rmdir
/// fails with EBUSY while a process is still in it).
fn remove_when_empty(dir: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    while fs::remove_dir(dir).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// One spawn's cgroup: the child joins it before it execs, and so does every descendant.
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
    /// `cgroup.events`, open for as long as the cgroup is ours: it is read at every exit, and a
    /// `pread` is one syscall where opening and reading it again are five.
    events: fs::File,
}

impl Cgroup {
    /// The cgroup's directory, opened for a child to be cloned into it (`CLONE_INTO_CGROUP`),
    /// or to join it by its `cgroup.procs` where the kernel cannot (see `crate::sys::spawn`).
    pub fn dir_for_child(&self) -> io::Result<OwnedFd> {
        Ok(fs::File::open(&self.path)?.into())
    }

    /// The pids in it now.
    pub fn pids(&self) -> Vec<u32> {
        pids_in(&self.path)
    }

    /// Whether any process is left in it (`populated 1` in `cgroup.events`).
    pub fn is_populated(&self) -> bool {
        let mut buf = [0u8; 256];
        let n = self.events.read_at(&mut buf, 0).unwrap_or(0);
        buf[..n].split(|&b| b == b'\n').any(|l| l == b"populated 1")
    }

    /// Sends `signal` to every process in it.
    pub fn signal(&self, signal: i32) {
        if signal == libc::SIGKILL {
            kill_dir(&self.path);
            return;
        }
        for pid in self.pids() {
            let _ = crate::sys::child::kill(pid as i32, signal);
        }
    }

    /// Kills what is left and removes the cgroup once empty.
    pub fn kill_and_remove(&self) {
        if self.is_populated() {
            kill_dir(&self.path);
        }
        remove_when_empty(&self.path);
    }

    /// Removes the cgroup if nothing is left in it; `false` when something still is.
    pub fn remove_if_empty(&self) -> bool {
        !self.is_populated() && fs::remove_dir(&self.path).is_ok()
    }
}
