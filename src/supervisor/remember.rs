//! `remember_stopped=true` (ours; Supervisor #214): programs stopped by hand stay stopped across
//! `reload`, SIGHUP and daemon restarts until started by hand. The names live in a file beside
//! the pidfile (`<pidfile>.stopped`, one namespec a line), rewritten atomically on each change.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// The programs stopped by hand, and where they are kept.
#[derive(Debug)]
pub struct StoppedByHand {
    path: PathBuf,
    names: BTreeSet<String>,
}

impl StoppedByHand {
    /// Reads `<pidfile>.stopped` (absent: nothing is stopped).
    pub fn load(pidfile: &Path) -> StoppedByHand {
        let mut path = pidfile.as_os_str().to_owned();
        path.push(".stopped");
        let path = PathBuf::from(path);
        let names = std::fs::read_to_string(&path)
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        StoppedByHand { path, names }
    }

    pub fn contains(&self, namespec: &str) -> bool {
        self.names.contains(namespec)
    }

    /// Records a change; true when something changed (the file is then to be saved).
    pub fn set(&mut self, namespec: &str, stopped: bool) -> bool {
        if stopped {
            self.names.insert(namespec.to_string())
        } else {
            self.names.remove(namespec)
        }
    }

    /// Forgets every process of `group` (the group was removed: `update` re-adds it fresh).
    pub fn forget_group(&mut self, group: &str, members: &[String]) -> bool {
        let before = self.names.len();
        self.names.retain(|n| n != group && !members.contains(n));
        self.names.len() != before
    }

    /// Writes the file (a temp file renamed over it, so a crash leaves the old or the new).
    pub fn save(&self) -> io::Result<()> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let text: String = self.names.iter().map(|n| format!("{n}\n")).collect();
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("s.pid");
        let mut s = StoppedByHand::load(&pidfile);
        assert!(s.set("web", true));
        assert!(s.set("g:a", true));
        assert!(!s.set("g:a", true));
        s.save().unwrap();
        let mut again = StoppedByHand::load(&pidfile);
        assert!(again.contains("web") && again.contains("g:a"));
        assert!(again.forget_group("g", &["g:a".to_string()]));
        assert!(!again.contains("g:a"));
        assert!(again.set("web", false));
    }
}
