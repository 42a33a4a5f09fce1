//! Reading log files for `readLog`, `readProcess*Log` and `tail*Log` (spec §3.6), with
//! Python's `readFile` / `tailFile` semantics.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Why [`read_range`] gave no data.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// `length < 0`, or `offset < 0` with `length != 0` (fault BAD_ARGUMENTS).
    #[error("BAD_ARGUMENTS")]
    BadArguments,
    /// The file is missing or unreadable (fault FAILED, as Python's `readFile`).
    #[error("FAILED: {0}")]
    Failed(#[from] io::Error),
}

fn read_at(f: &mut File, pos: u64, limit: Option<u64>) -> io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(pos))?;
    let mut data = Vec::new();
    match limit {
        Some(n) => f.take(n).read_to_end(&mut data)?,
        None => f.read_to_end(&mut data)?,
    };
    Ok(data)
}

/// `readFile(path, offset, length)`: `offset >= 0` reads `length` bytes at `offset` (to EOF
/// when `length == 0`); `offset < 0` with `length == 0` reads the last `|offset|` bytes; past
/// EOF gives nothing.
pub fn read_range(path: &Path, offset: i64, length: i64) -> Result<Vec<u8>, ReadError> {
    if (offset < 0 && length != 0) || length < 0 {
        return Err(ReadError::BadArguments);
    }
    let mut f = File::open(path)?;
    let data = if offset < 0 {
        let size = f.seek(SeekFrom::End(0))?;
        let back = offset.unsigned_abs();
        read_at(&mut f, size.saturating_sub(back), Some(back))?
    } else {
        let limit = (length > 0).then_some(length as u64);
        read_at(&mut f, offset as u64, limit)?
    };
    Ok(data)
}

/// `tailFile(path, offset, length)` → `(data, size, overflow)`: `overflow = size > offset +
/// length`; `data` is empty when `offset >= size`, else the last `min(length, size)` bytes,
/// whatever `offset` is (Python's quirk).
pub fn tail(path: &Path, offset: i64, length: i64) -> io::Result<(Vec<u8>, u64, bool)> {
    let mut f = File::open(path)?;
    let size = f.seek(SeekFrom::End(0))?;
    let sz = size as i64;
    let (mut offset, mut length) = (offset, length);
    let overflow = sz > offset.saturating_add(length);
    if overflow {
        offset = sz - 1;
    }
    if offset.saturating_add(length) > sz {
        if offset > sz - 1 {
            length = 0;
        }
        offset = sz - length;
    }
    let (offset, length) = (offset.max(0), length.max(0));
    let data = if length == 0 {
        Vec::new()
    } else {
        read_at(&mut f, offset as u64, Some(length as u64))?
    };
    Ok((data, size, overflow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.log");
        std::fs::write(&p, content).unwrap();
        (dir, p)
    }

    #[test]
    fn read_range_semantics() {
        let (_d, p) = file(b"0123456789");
        let r = |o, l| read_range(&p, o, l).unwrap();
        assert_eq!(r(0, 0), b"0123456789");
        assert_eq!(r(3, 0), b"3456789");
        assert_eq!(r(3, 4), b"3456");
        assert_eq!(r(8, 100), b"89");
        assert_eq!(r(10, 0), b"");
        assert_eq!(r(50, 5), b"");
        assert_eq!(r(-3, 0), b"789");
        assert_eq!(r(-100, 0), b"0123456789");
        for (o, l) in [(-3, 1), (-3, -1), (0, -1), (5, -5)] {
            assert!(matches!(read_range(&p, o, l), Err(ReadError::BadArguments)));
        }
        let missing = p.with_file_name("missing");
        assert!(matches!(
            read_range(&missing, 0, 0),
            Err(ReadError::Failed(_))
        ));
        assert!(matches!(
            read_range(&missing, -1, 1),
            Err(ReadError::BadArguments)
        ));
    }

    #[test]
    fn tail_semantics() {
        let (_d, p) = file(b"0123456789");
        let t = |o, l| tail(&p, o, l).unwrap();
        assert_eq!(t(0, 4), (b"6789".to_vec(), 10, true));
        assert_eq!(t(2, 4), (b"6789".to_vec(), 10, true));
        assert_eq!(t(6, 4), (b"6789".to_vec(), 10, false));
        assert_eq!(t(8, 4), (b"6789".to_vec(), 10, false));
        assert_eq!(t(0, 100), (b"0123456789".to_vec(), 10, false));
        assert_eq!(t(10, 4), (Vec::new(), 10, false));
        assert_eq!(t(20, 4), (Vec::new(), 10, false));
        assert_eq!(t(0, 0), (Vec::new(), 10, true));
        assert_eq!(t(9, 1), (b"9".to_vec(), 10, false));
        let (_d2, empty) = file(b"");
        assert_eq!(tail(&empty, 0, 100).unwrap(), (Vec::new(), 0, false));
        assert!(tail(&p.with_file_name("missing"), 0, 1).is_err());
    }
}
