//! Process trees as procfs shows them: a process's descendants (by parent pid), and what a set
//! of processes uses (resident memory, CPU time). A program's tree is its cgroup's processes
//! where it has one (`crate::cgroup`); else its main process and the descendants found here.

use std::collections::HashMap;
use std::fs;

/// What a set of processes uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Resident set, KiB (the sum of `statm`'s resident pages).
    pub rss_kb: u64,
    /// User + system CPU time so far, microseconds (`stat`'s utime + stime).
    pub cpu_usec: u64,
}

/// Every live process's children, from the parent pids of `/proc/<pid>/stat` (one scan of
/// `/proc`, for any number of trees).
#[derive(Debug, Default)]
pub struct Parents(HashMap<u32, Vec<u32>>);

/// The fields of `/proc/<pid>/stat` after the `(comm)` (which may hold spaces and parens).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

impl Parents {
    pub fn scan() -> Parents {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Parents::default();
        };
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for pid in dir
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        {
            // After the comm: state, then ppid.
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
        for kids in children.values_mut() {
            kids.sort_unstable();
        }
        Parents(children)
    }

    /// The children of `pid`.
    pub fn children(&self, pid: u32) -> &[u32] {
        self.0.get(&pid).map_or(&[], Vec::as_slice)
    }

    /// Every process seen (each is some process's child).
    pub fn all(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.values().flatten().copied()
    }

    /// `root` and every process descending from it, `root` first.
    pub fn tree(&self, root: u32) -> Vec<u32> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() {
            if let Some(kids) = self.0.get(&out[i]) {
                out.extend_from_slice(kids);
            }
            i += 1;
        }
        out
    }
}

/// When `pid` started, in clock ticks since boot (`stat`'s field 22): with the pid, a name
/// for the process that a reused pid does not share.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// A zombie (state `Z`): it has exited and waits for its parent's wait; nothing to kill.
pub fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z"))
}

/// The process group of `pid` (`stat`'s field 5).
pub fn process_group(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// `/proc/<pid>/cmdline`, spaces for NULs (empty when gone).
pub fn command_of(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            let text = String::from_utf8_lossy(&b).replace('\0', " ");
            text.trim_end().to_string()
        })
        .unwrap_or_default()
}

fn sysconf(name: nix::unistd::SysconfVar, fallback: u64) -> u64 {
    nix::unistd::sysconf(name)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v > 0)
        .unwrap_or(fallback)
}

/// The resident memory of `pids`, KiB (`statm`'s resident pages; a process gone meanwhile
/// counts for nothing). What a memory limit needs, without the CPU [`usage`] also reads.
pub fn rss_kb(pids: &[u32]) -> u64 {
    let page_kb = sysconf(nix::unistd::SysconfVar::PAGE_SIZE, 4096) / 1024;
    pids.iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/statm")).ok())
        .filter_map(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * page_kb)
        .sum()
}

/// The usage of `pids` (a process gone meanwhile counts for nothing).
pub fn usage(pids: &[u32]) -> Usage {
    let ticks = sysconf(nix::unistd::SysconfVar::CLK_TCK, 100);
    let mut total = Usage {
        rss_kb: rss_kb(pids),
        cpu_usec: 0,
    };
    for &pid in pids {
        if let Some(f) = stat_fields(pid) {
            // utime and stime are fields 14 and 15 of stat; 12 and 13 after the comm.
            let t: u64 = [11, 12]
                .iter()
                .filter_map(|&i| f.get(i)?.parse::<u64>().ok())
                .sum();
            total.cpu_usec += t * 1_000_000 / ticks;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn an_exited_child_not_yet_waited_for_is_a_zombie() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_zombie(pid) {
            assert!(Instant::now() < deadline, "{pid} never became a zombie");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.wait().unwrap();
        assert!(!is_zombie(pid));
        assert!(!is_zombie(std::process::id()));
    }

    #[test]
    fn a_shell_and_its_two_children_are_one_tree() {
        let mut sh = Command::new("sh")
            .args(["-c", "sleep 7351 & sleep 7352 & wait"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let root = sh.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        let tree = loop {
            let tree = Parents::scan().tree(root);
            if tree.len() == 3 || Instant::now() > deadline {
                break tree;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(tree.len(), 3, "{tree:?}");
        assert_eq!(tree[0], root);
        let used = usage(&tree);
        assert!(used.rss_kb > 0, "{used:?}");
        let _ = Command::new("pkill")
            .args(["-P", &root.to_string()])
            .status();
        let _ = sh.kill();
        let _ = sh.wait();
        assert_eq!(usage(&[u32::MAX]), Usage::default(), "no such process");
    }
}
