//! Reading log files with Python Supervisor's offset semantics (`options.readFile`/`tailFile`):
//! what `readLog`, `readProcess*Log` and `tailProcess*Log` return.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Why a read failed; the RPC layer turns these into BAD_ARGUMENTS and FAILED faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Negative length, or a negative offset with a non-zero length.
    BadArguments,
    /// The file could not be opened or read.
    Failed,
}

/// `readFile(path, offset, length)`:
/// - `offset >= 0, length == 0`: from offset to EOF; `length > 0`: `length` bytes at offset;
/// - `offset < 0, length == 0`: the last `|offset|` bytes.
pub fn read_range(path: &Path, offset: i64, length: i64) -> Result<Vec<u8>, ReadError> {
    if length < 0 || (offset < 0 && length != 0) {
        return Err(ReadError::BadArguments);
    }
    let mut file = File::open(path).map_err(|_| ReadError::Failed)?;
    let size = file.metadata().map_err(|_| ReadError::Failed)?.len();
    let (start, count) = if offset < 0 {
        let back = offset.unsigned_abs();
        (size.saturating_sub(back), back)
    } else {
        let start = offset.unsigned_abs();
        let rest = size.saturating_sub(start);
        let count = if length == 0 {
            rest
        } else {
            rest.min(length.unsigned_abs())
        };
        (start, count)
    };
    read_at(&mut file, start, count).map_err(|_| ReadError::Failed)
}

/// What `tailFile` answers: `[data, size, overflow]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub data: Vec<u8>,
    /// The file's size: the offset a client passes next time.
    pub offset: i64,
    /// The file grew past `offset + length` since the client's last read.
    pub overflow: bool,
}

/// `tailFile(path, offset, length)`, arithmetic kept exactly as Python's: when there is anything
/// past `offset`, the data is the last `min(length, size)` bytes of the file. An unreadable file
/// answers `('', offset, false)`.
pub fn tail(path: &Path, offset: i64, length: i64) -> Tail {
    let unreadable = Tail {
        data: Vec::new(),
        offset,
        overflow: false,
    };
    let Ok(mut file) = File::open(path) else {
        return unreadable;
    };
    let Ok(meta) = file.metadata() else {
        return unreadable;
    };
    let size = i64::try_from(meta.len()).unwrap_or(i64::MAX);
    let (mut offset, mut length) = (offset, length);
    let mut overflow = false;
    if size > offset.saturating_add(length) {
        overflow = true;
        offset = size - 1;
    }
    if offset.saturating_add(length) > size {
        if offset > size - 1 {
            length = 0;
        }
        offset = size - length;
    }
    let offset = offset.max(0);
    let length = length.max(0);
    let data = if length == 0 {
        Vec::new()
    } else {
        match read_at(&mut file, offset.unsigned_abs(), length.unsigned_abs()) {
            Ok(data) => data,
            Err(_) => return unreadable,
        }
    };
    Tail {
        data,
        offset: size,
        overflow,
    }
}

fn read_at(file: &mut File, start: u64, count: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut data = Vec::new();
    file.take(count).read_to_end(&mut data)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, content).unwrap();
        f
    }

    #[test]
    fn read_range_follows_python_offsets() {
        let f = log(b"0123456789");
        let p = f.path();
        assert_eq!(read_range(p, 0, 0).unwrap(), b"0123456789");
        assert_eq!(read_range(p, 2, 3).unwrap(), b"234");
        assert_eq!(read_range(p, -3, 0).unwrap(), b"789");
        assert_eq!(read_range(p, -30, 0).unwrap(), b"0123456789");
        assert_eq!(read_range(p, 30, 0).unwrap(), b"");
        assert_eq!(read_range(p, -3, 1), Err(ReadError::BadArguments));
        assert_eq!(read_range(p, 0, -1), Err(ReadError::BadArguments));
        assert_eq!(
            read_range(Path::new("/nonexistent/x"), 0, 0),
            Err(ReadError::Failed)
        );
    }

    #[test]
    fn tail_returns_the_last_bytes_regardless_of_offset() {
        let f = log(b"0123456789");
        let p = f.path();
        let t = tail(p, 0, 4);
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b"6789"[..], 10, true)
        );
        let t = tail(p, 8, 4);
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b"6789"[..], 10, false)
        );
        let t = tail(p, 10, 4);
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b""[..], 10, false)
        );
        let t = tail(p, 0, 100);
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b"0123456789"[..], 10, false)
        );
        let t = tail(Path::new("/nonexistent/x"), 5, 4);
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b""[..], 5, false)
        );
    }
}
