//! Process trees where cgroup v2 is not writable (cgroup v1 only, a container without the
//! hierarchy, a non-root daemon): the daemon is a child subreaper, so what a program leaves
//! behind (the workers of a master that exited, a grandchild that called `setsid`) is
//! reparented to the daemon instead of to init. Such an orphan is told apart by the
//! `SUPERVISOR_GROUP_NAME` / `SUPERVISOR_PROCESS_NAME` the daemon gave its ancestor, which it
//! inherited; its own descendants follow by parent pid.
//!
//! A SIGKILLed daemon's orphans go to init instead, so each daemon keeps a record beside its
//! pidfile (its own pid and start time, then each main process it spawns) and removes it when
//! it exits cleanly. The next daemon on the same config that finds the record of a dead
//! predecessor kills what it left: the recorded main processes still alive, and every process
//! whose environment names one of its programs with its server URL.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::proctree::{self, Parents};

/// A program's identity as its children's environment carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Naming {
    pub group: String,
    pub name: String,
}

/// What `SUPERVISOR_*` variables a process was started with (`/proc/<pid>/environ`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Marks {
    pub naming: Option<Naming>,
    pub server_url: Option<String>,
}

/// The `SUPERVISOR_*` marks in `/proc/<pid>/environ` (`None`: not one of a supervisor's).
pub fn marks_of(pid: u32) -> Option<Marks> {
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let mut enabled = false;
    let (mut group, mut name, mut url) = (None, None, None);
    for var in env.split(|&b| b == 0) {
        let Some(eq) = var.iter().position(|&b| b == b'=') else {
            continue;
        };
        let value = || String::from_utf8_lossy(&var[eq + 1..]).into_owned();
        match &var[..eq] {
            b"SUPERVISOR_ENABLED" => enabled = true,
            b"SUPERVISOR_GROUP_NAME" => group = Some(value()),
            b"SUPERVISOR_PROCESS_NAME" => name = Some(value()),
            b"SUPERVISOR_SERVER_URL" => url = Some(value()),
            _ => {}
        }
    }
    enabled.then(|| Marks {
        naming: group.zip(name).map(|(group, name)| Naming { group, name }),
        server_url: url,
    })
}

/// The daemon's children now: `/proc/self/task/*/children` (each thread's own), or a scan of
/// every process's parent where the kernel has no such file (`CONFIG_PROC_CHILDREN` off).
fn own_children() -> Vec<u32> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut found = false;
    let mut children = Vec::new();
    for text in tasks
        .filter_map(Result::ok)
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
    {
        found = true;
        children.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    if !found {
        return Parents::scan().children(std::process::id()).to_vec();
    }
    children
}

/// One look at procfs: the daemon's adopted orphans by the program they came from, and (read
/// on first need) every process's children.
#[derive(Debug, Default)]
pub struct Scan {
    parents: OnceCell<Parents>,
    adopted: HashMap<Naming, Vec<u32>>,
}

impl Scan {
    /// Looks at the daemon's children. `is_main` says which are its programs' main processes;
    /// every other child of the daemon is an orphan it adopted.
    pub fn take(is_main: impl Fn(u32) -> bool) -> Scan {
        let mut adopted: HashMap<Naming, Vec<u32>> = HashMap::new();
        for pid in own_children() {
            if is_main(pid) {
                continue;
            }
            if let Some(naming) = marks_of(pid).and_then(|m| m.naming) {
                adopted.entry(naming).or_default().push(pid);
            }
        }
        Scan {
            parents: OnceCell::new(),
            adopted,
        }
    }

    fn parents(&self) -> &Parents {
        self.parents.get_or_init(Parents::scan)
    }

    /// The tree of a program: its main process `main` (0: none) and the orphans it left, with
    /// all their descendants.
    pub fn tree(&self, main: u32, naming: &Naming) -> Vec<u32> {
        let mut out = if main == 0 {
            Vec::new()
        } else {
            self.parents().tree(main)
        };
        for &root in self.adopted.get(naming).into_iter().flatten() {
            out.extend(self.parents().tree(root));
        }
        out
    }

    /// What `naming` left behind: its adopted orphans and their descendants.
    pub fn left_by(&self, naming: &Naming) -> Vec<u32> {
        self.tree(0, naming)
    }

    /// Every adopted orphan and its descendants, but those of the programs in `keep`.
    pub fn adopted_except(&self, keep: &[Naming]) -> Vec<u32> {
        self.adopted
            .iter()
            .filter(|(naming, _)| !keep.contains(naming))
            .flat_map(|(_, roots)| roots.iter())
            .flat_map(|&root| self.parents().tree(root))
            .collect()
    }
}

/// A process a previous daemon left behind, killed by [`Record::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub pid: u32,
    /// `/proc/<pid>/cmdline`, spaces for NULs.
    pub command: String,
}

/// The daemon's record of what it spawned, beside its pidfile.
#[derive(Debug)]
pub struct Record {
    path: PathBuf,
    file: fs::File,
    /// Main processes noted since the record was last written whole.
    noted: usize,
    /// When `noted` passes it, the record is looked at against the live processes.
    next_look: usize,
}

/// `pid starttime` of a live process, the pair that names it across pid reuse.
fn identity(pid: u32) -> Option<String> {
    proctree::start_time(pid).map(|t| format!("{pid} {t}"))
}

impl Record {
    /// The record of the daemon whose pidfile is `pidfile`.
    pub fn path_for(pidfile: &Path) -> PathBuf {
        let mut name = pidfile.as_os_str().to_owned();
        name.push(".procs");
        PathBuf::from(name)
    }

    /// Kills what a dead predecessor left (see the module's doc; `ours` says whether a
    /// process's marks are those this config gives), then starts this daemon's record.
    pub fn open(
        path: PathBuf,
        ours: impl Fn(&Marks) -> bool,
    ) -> io::Result<(Record, Vec<Leftover>)> {
        let killed = match fs::read_to_string(&path) {
            Ok(text) => kill_left(&text, ours),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut file = fs::File::create(&path)?;
        if let Some(me) = identity(std::process::id()) {
            writeln!(file, "{me}")?;
        }
        Ok((
            Record {
                path,
                file,
                noted: 0,
                next_look: 1024,
            },
            killed,
        ))
    }

    /// Notes a main process just spawned. `live` are the main processes now; a program
    /// restarting for days would grow the record without end, so once it notes many more
    /// than are alive it is written again with only those.
    pub fn spawned(&mut self, pid: u32, live: impl FnOnce() -> Vec<u32>) {
        self.noted += 1;
        let live = (self.noted > self.next_look).then(live);
        if let Some(live) = &live {
            self.next_look = self.next_look.max(4 * live.len());
        }
        match live {
            Some(mut live) if self.noted > 4 * live.len() => {
                live.push(pid);
                live.sort_unstable();
                live.dedup();
                let _ = self.rewrite(&live);
            }
            _ => {
                if let Some(line) = identity(pid) {
                    let _ = writeln!(self.file, "{line}");
                }
            }
        }
    }

    /// The record anew: this daemon, then `live` (written beside it, then renamed over it).
    fn rewrite(&mut self, live: &[u32]) -> io::Result<()> {
        let mut text = String::new();
        for pid in std::iter::once(std::process::id()).chain(live.iter().copied()) {
            if let Some(line) = identity(pid) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        let mut fresh = self.path.clone().into_os_string();
        fresh.push(".new");
        fs::write(&fresh, text)?;
        fs::rename(&fresh, &self.path)?;
        self.file = fs::OpenOptions::new().append(true).open(&self.path)?;
        self.noted = live.len();
        Ok(())
    }

    /// The daemon exits cleanly: nothing is left to find.
    pub fn remove(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The record's first line is the daemon that wrote it, the others its main processes. If
/// that daemon is still alive, nothing is a leftover.
fn kill_left(text: &str, ours: impl Fn(&Marks) -> bool) -> Vec<Leftover> {
    let alive = |line: &str| {
        let pid: u32 = line.split_whitespace().next()?.parse().ok()?;
        (identity(pid).as_deref() == Some(line.trim())).then_some(pid)
    };
    let mut lines = text.lines();
    match lines.next() {
        Some(daemon) if alive(daemon).is_none() => {}
        _ => return Vec::new(),
    }
    let me = std::process::id();
    let parents = Parents::scan();
    let mut doomed: Vec<u32> = lines.filter_map(alive).collect();
    doomed.extend(
        parents
            .all()
            .filter(|&pid| pid != me)
            .filter(|&pid| marks_of(pid).is_some_and(|m| ours(&m))),
    );
    let mut trees: Vec<u32> = doomed.iter().flat_map(|&pid| parents.tree(pid)).collect();
    trees.sort_unstable();
    trees.dedup();
    trees.retain(|&pid| pid != me && !proctree::is_zombie(pid));
    let killed: Vec<Leftover> = trees
        .into_iter()
        .map(|pid| Leftover {
            pid,
            command: proctree::command_of(pid),
        })
        .collect();
    for left in &killed {
        let _ = crate::sys::child::kill(left.pid as i32, libc::SIGKILL);
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marks_of_a_child_are_read_from_its_environment() {
        let mut child = std::process::Command::new("sleep")
            .arg("7361")
            .env("SUPERVISOR_ENABLED", "1")
            .env("SUPERVISOR_GROUP_NAME", "g")
            .env("SUPERVISOR_PROCESS_NAME", "p")
            .env("SUPERVISOR_SERVER_URL", "unix:///tmp/x.sock")
            .spawn()
            .unwrap();
        // Just after an exec the new environment may not be in place yet: polled.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let marks = loop {
            let marks = marks_of(child.id());
            if marks.is_some() || std::time::Instant::now() > deadline {
                break marks;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            marks,
            Some(Marks {
                naming: Some(Naming {
                    group: "g".into(),
                    name: "p".into()
                }),
                server_url: Some("unix:///tmp/x.sock".into()),
            })
        );
    }

    #[test]
    fn a_record_is_written_again_when_it_notes_far_more_than_is_alive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.pid.procs");
        let (mut record, killed) = Record::open(path.clone(), |_| false).unwrap();
        assert!(killed.is_empty());
        let me = std::process::id();
        for _ in 0..3000 {
            record.spawned(me, Vec::new);
        }
        let lines = fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 1100, "{lines} lines");
        let mine = identity(me).unwrap();
        assert!(fs::read_to_string(&path).unwrap().starts_with(&mine));
        record.remove();
        assert!(!path.exists());
    }

    #[test]
    fn a_record_of_a_live_daemon_names_no_leftover() {
        let me = identity(std::process::id()).unwrap();
        assert!(kill_left(&format!("{me}\n"), |_| true).is_empty());
        assert!(kill_left("", |_| true).is_empty());
    }
}
