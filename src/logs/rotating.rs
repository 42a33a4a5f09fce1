//! An append-mode log file with Python `RotatingFileHandler` semantics.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{splice, SpliceFFlags};

use crate::sys::fd::file_above_low_zone;

/// One log file: appended to, rotated after a write that leaves it at or past `maxbytes`.
#[derive(Debug)]
pub(crate) struct RotatingFile {
    path: PathBuf,
    /// `None` until first opened: a child's named log file appears with its first spawn, as
    /// in Python (so a program that never ran has no file, and reading it answers NO_FILE).
    file: Option<File>,
    /// The same open file without `O_APPEND` (splice(2) refuses append-mode targets), opened
    /// on first use through `/proc/self/fd` and dropped whenever `file` is replaced.
    splice_out: Option<File>,
    maxbytes: u64,
    backups: u32,
    /// Where the end of the file is thought to be: the position last asked of the kernel plus
    /// what was written since (`None`: ask). Only once it reaches `maxbytes` is the real
    /// position asked for again before rotating, which saves a syscall per line of the main
    /// log; a file truncated behind our back is seen then, as Python sees it.
    end: Option<u64>,
}

/// Log files stay open as long as their child lives, so they are kept out of the fd numbers
/// a spawn copies (see `sys::fd`).
fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().append(true).create(true).open(path)?;
    Ok(file_above_low_zone(file))
}

fn ignore_not_found(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Unlinks `path` (a symlink itself, not its target) if it is, or leads to, a regular file
/// (NotFound if there is nothing). Anything else (`/dev/null`, `/dev/stdout` in a container, a
/// FIFO) is left in place: Python unlinks it too, which as root replaces `/dev/null` with a
/// regular file.
pub(crate) fn remove_log_file(path: &Path) -> io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

impl RotatingFile {
    /// Opens `path` for appending (created if missing). `maxbytes == 0` never rotates.
    pub(crate) fn open(path: &Path, maxbytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let mut f = RotatingFile::unopened(path, maxbytes, backups);
        f.open_now()?;
        Ok(f)
    }

    /// A log file not opened (nor created) until [`open_now`](Self::open_now) or the first
    /// write.
    pub(crate) fn unopened(path: &Path, maxbytes: u64, backups: u32) -> RotatingFile {
        RotatingFile {
            path: path.to_path_buf(),
            file: None,
            splice_out: None,
            maxbytes,
            backups,
            end: None,
        }
    }

    /// (Re)opens the path for appending, creating the file if missing (at each spawn).
    pub(crate) fn open_now(&mut self) -> io::Result<()> {
        self.splice_out = None;
        self.end = None;
        self.file = Some(open_append(&self.path)?);
        Ok(())
    }

    /// The open file, opened now if it never was.
    fn file(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            self.open_now()?;
        }
        Ok(self.file.as_ref().expect("opened above"))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends all of `data`, then rotates if the file position reached `maxbytes`
    /// (checked after every write, as Python does, so a file may exceed it by one write).
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let maxbytes = self.maxbytes;
        let thought = self.end;
        let mut file = self.file()?;
        file.write_all(data)?;
        if maxbytes == 0 {
            return Ok(());
        }
        let end = match thought.map(|e| e + data.len() as u64) {
            Some(e) if e < maxbytes => e,
            _ => file.stream_position()?,
        };
        self.end = Some(end);
        if end >= maxbytes {
            self.rotate()?;
        }
        Ok(())
    }

    /// Whether rotation can happen: then a transfer is limited to what one read would be.
    pub(crate) fn rotates(&self) -> bool {
        self.maxbytes > 0
    }

    /// Moves up to `max` bytes from `pipe` into the file with splice(2), so they never pass
    /// through user space, appending at the current end of the file (as `O_APPEND` would),
    /// then rotates exactly as [`write`](Self::write) does. `Ok(0)` is EOF; `WouldBlock` an
    /// empty pipe; any other error (e.g. `EINVAL` from a file system without splice support)
    /// means the caller should fall back to read + write.
    pub(crate) fn splice_from(&mut self, pipe: BorrowedFd<'_>, max: usize) -> io::Result<usize> {
        let mut offset = self.file()?.seek(SeekFrom::End(0))? as i64;
        self.prepare_splice()?;
        let Some(out) = &self.splice_out else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
        let n = splice(pipe, None, out.as_fd(), Some(&mut offset), max, flags)?;
        self.end = Some(offset as u64);
        if n > 0 && self.maxbytes > 0 && offset as u64 >= self.maxbytes {
            self.rotate()?;
        }
        Ok(n)
    }

    /// Whether [`splice_from`](Self::splice_from) has its non-append target open already.
    pub(crate) fn splice_ready(&self) -> bool {
        self.splice_out.is_some()
    }

    /// Opens the splice target (the same open file without `O_APPEND`) if it is not open yet.
    pub(crate) fn prepare_splice(&mut self) -> io::Result<()> {
        if self.splice_out.is_none() {
            let path = format!("/proc/self/fd/{}", self.file()?.as_raw_fd());
            let out = OpenOptions::new().write(true).open(path)?;
            self.splice_out = Some(file_above_low_zone(out));
        }
        Ok(())
    }

    /// `f.(n-1)` → `f.n` … `f` → `f.1`, then a new empty `f`; with no backups `f` is truncated.
    fn rotate(&mut self) -> io::Result<()> {
        if self.backups > 0 {
            for i in (1..self.backups).rev() {
                let src = self.numbered(i);
                if src.exists() {
                    remove_and_rename(&src, &self.numbered(i + 1))?;
                }
            }
            remove_and_rename(&self.path, &self.numbered(1))?;
        }
        self.splice_out = None;
        self.file = Some(file_above_low_zone(File::create(&self.path)?));
        self.end = Some(0);
        Ok(())
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    /// Closes and reopens the path (SIGUSR2): a file renamed away is left, a new one created.
    /// A file never opened stays so.
    pub(crate) fn reopen(&mut self) -> io::Result<()> {
        match self.file {
            Some(_) => self.open_now(),
            None => Ok(()),
        }
    }

    /// Unlinks the file (see [`remove_log_file`]) and reopens a new empty one; backups
    /// untouched. A file never opened is left alone, as Python has no handler for it yet.
    pub(crate) fn clear(&mut self) -> io::Result<()> {
        if self.file.is_some() {
            ignore_not_found(remove_log_file(&self.path))?;
        }
        self.reopen()
    }
}

/// `src` → `dst`, replacing it. The old `dst` is held open across its unlink and closed on a
/// thread of its own: freeing a big backup's blocks (at the last close) takes tens of ms, which
/// must not stall the daemon's one thread.
fn remove_and_rename(src: &Path, dst: &Path) -> io::Result<()> {
    if dst.exists() {
        let held = File::open(dst).ok();
        ignore_not_found(std::fs::remove_file(dst))?;
        if let Some(held) = held {
            // If no thread can be made, the file is closed here instead.
            let _ = std::thread::Builder::new()
                .name("log-unlink".into())
                .spawn(move || drop(held));
        }
    }
    ignore_not_found(std::fs::rename(src, dst))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap()
    }

    #[test]
    fn appends_without_rotation_when_maxbytes_zero() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"old\n").unwrap();
        let mut f = RotatingFile::open(&p, 0, 3).unwrap();
        for _ in 0..100 {
            f.write(b"0123456789").unwrap();
        }
        assert_eq!(read(&p).len(), 4 + 1000);
        assert!(!dir.path().join("a.log.1").exists());
    }

    #[test]
    fn rotation_shifts_backups_and_respects_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut f = RotatingFile::open(&p, 10, 2).unwrap();
        f.write(b"first-chunk").unwrap();
        assert_eq!(read(&p), b"");
        assert_eq!(read(&dir.path().join("a.log.1")), b"first-chunk");
        f.write(b"12345").unwrap();
        f.write(b"67890").unwrap();
        assert_eq!(read(&dir.path().join("a.log.1")), b"1234567890");
        assert_eq!(read(&dir.path().join("a.log.2")), b"first-chunk");
        f.write(b"third-chunk").unwrap();
        assert_eq!(read(&dir.path().join("a.log.1")), b"third-chunk");
        assert_eq!(read(&dir.path().join("a.log.2")), b"1234567890");
        assert!(!dir.path().join("a.log.3").exists());
        f.write(b"abc").unwrap();
        assert_eq!(read(&p), b"abc");
    }

    #[test]
    fn a_file_truncated_behind_its_back_is_not_rotated_early() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut f = RotatingFile::open(&p, 20, 1).unwrap();
        f.write(b"0123456789").unwrap();
        f.write(b"01234").unwrap();
        // logrotate's copytruncate: the file is emptied while it is open.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        f.write(b"0123456789").unwrap();
        assert_eq!(read(&p), b"0123456789", "thought 25 bytes, asked, found 10");
        assert!(!dir.path().join("a.log.1").exists());
        f.write(b"0123456789").unwrap();
        assert_eq!(read(&dir.path().join("a.log.1")), b"01234567890123456789");
    }

    #[test]
    fn one_write_larger_than_maxbytes_goes_whole_into_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("chatty.out");
        let mut f = RotatingFile::open(&p, 200, 1).unwrap();
        f.write(&[b'x'; 950]).unwrap();
        assert_eq!(read(&dir.path().join("chatty.out.1")).len(), 950);
        assert_eq!(read(&p).len(), 0);
    }

    #[test]
    fn zero_backups_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut f = RotatingFile::open(&p, 10, 0).unwrap();
        f.write(b"0123456789AB").unwrap();
        assert_eq!(read(&p), b"");
        f.write(b"xy").unwrap();
        assert_eq!(read(&p), b"xy");
        assert!(!dir.path().join("a.log.1").exists());
    }

    #[test]
    fn reopen_follows_external_rename_and_clear_unlinks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut f = RotatingFile::open(&p, 0, 0).unwrap();
        f.write(b"before").unwrap();
        std::fs::rename(&p, dir.path().join("moved")).unwrap();
        f.write(b"+").unwrap();
        f.reopen().unwrap();
        f.write(b"after").unwrap();
        assert_eq!(read(&dir.path().join("moved")), b"before+");
        assert_eq!(read(&p), b"after");
        f.clear().unwrap();
        assert_eq!(read(&p), b"");
        f.write(b"new").unwrap();
        assert_eq!(read(&p), b"new");
        std::fs::remove_file(&p).unwrap();
        f.clear().unwrap();
        assert!(p.exists());
    }

    #[test]
    fn unopened_file_appears_only_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut f = RotatingFile::unopened(&p, 0, 0);
        f.reopen().unwrap();
        f.clear().unwrap();
        assert!(
            !p.exists(),
            "reopen and clear leave a never-opened file alone"
        );
        f.open_now().unwrap();
        assert_eq!(read(&p), b"");
        f.write(b"x").unwrap();
        assert_eq!(read(&p), b"x");
    }

    #[test]
    fn clear_unlinks_regular_files_and_links_to_them_only() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"kept").unwrap();
        let link = dir.path().join("stdout");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut f = RotatingFile::open(&link, 0, 0).unwrap();
        f.clear().unwrap();
        assert!(
            std::fs::symlink_metadata(&link).unwrap().is_file(),
            "a new regular file"
        );
        assert_eq!(read(&target), b"kept", "the link's target untouched");
        let mut null = RotatingFile::open(Path::new("/dev/null"), 0, 0).unwrap();
        null.clear().unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    }
}
