//! `AUTO` child log names (Python `get_autochildlog_name`, a `mkstemp`) and their cleanup at
//! startup (Python `clear_autochildlogdir`).

use std::collections::hash_map::RandomState;
use std::fs::OpenOptions;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::Supervisord;

/// The alphabet of Python's `tempfile` random names.
const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";

fn random_suffix() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let mut bits = h.finish();
    (0..8)
        .map(|_| {
            let c = CHARS[(bits % CHARS.len() as u64) as usize];
            bits /= CHARS.len() as u64;
            char::from(c)
        })
        .collect()
}

/// Creates `<dir>/<name>-<channel>---<identifier>-<8 random>.log`, mode 0600, exclusively
/// (as `mkstemp`), and returns its path.
pub(crate) fn create_auto_log(
    dir: &Path,
    name: &str,
    channel: &str,
    identifier: &str,
) -> io::Result<PathBuf> {
    loop {
        let path = dir.join(format!(
            "{name}-{channel}---{identifier}-{}.log",
            random_suffix()
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether `name` matches Python's `re.match(r'.+?---<identifier>-\S+\.log\.{0,1}\d{0,4}')`.
/// The identifier is taken literally (Python would interpret regex metacharacters in it).
pub fn is_auto_log_name(name: &str, identifier: &str) -> bool {
    let marker = format!("---{identifier}-");
    name.char_indices()
        .skip(1)
        .take_while(|&(i, _)| !name[..i].contains('\n'))
        .any(|(i, _)| {
            name[i..].strip_prefix(marker.as_str()).is_some_and(|rest| {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                rest[..end].get(1..).is_some_and(|s| s.contains(".log"))
            })
        })
}

/// Deletes the `AUTO` logs of earlier runs from `childlogdir` (the caller checks `nocleanup`).
/// Returns Python's warnings: the directory could not be listed, or a file could not be removed
/// (then the others are still tried).
pub fn cleanup_auto_logs(cfg: &Supervisord) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(&cfg.childlogdir) else {
        return vec!["Could not clear childlog dir".to_string()];
    };
    let mut warnings = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if is_auto_log_name(&name.to_string_lossy(), &cfg.identifier)
            && std::fs::remove_file(entry.path()).is_err()
        {
            warnings.push(format!(
                "Failed to clean up {}",
                crate::py::repr(&entry.path().to_string_lossy())
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn auto_name_pattern_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = create_auto_log(dir.path(), "qrd", "stdout", "supervisor").unwrap();
        let b = create_auto_log(dir.path(), "qrd", "stdout", "supervisor").unwrap();
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        let random = name
            .strip_prefix("qrd-stdout---supervisor-")
            .and_then(|r| r.strip_suffix(".log"))
            .unwrap();
        assert_eq!(random.len(), 8);
        assert!(random.bytes().all(|c| CHARS.contains(&c)));
        let meta = std::fs::metadata(&a).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 0);
        assert!(is_auto_log_name(name, "supervisor"));
    }

    #[test]
    fn cleanup_regex() {
        let id = "supervisor";
        for yes in [
            "qrd-stdout---supervisor-abcd1234.log",
            "qrd-stderr---supervisor-abcd1234.log.1",
            "qrd-stderr---supervisor-abcd1234.log.10",
            "x---supervisor-a.log",
            "x---supervisor-a.logfoo",
            "a b---supervisor-x.log",
        ] {
            assert!(is_auto_log_name(yes, id), "{yes}");
        }
        for no in [
            "---supervisor-abcd1234.log",
            "qrd-stdout---supervisor-.log",
            "qrd-stdout---other-abcd1234.log",
            "qrd-stdout---supervisor-ab cd.log",
            "qrd.log",
            "supervisord.log",
            "qrd-stdout--supervisor-abcd1234.log",
        ] {
            assert!(!is_auto_log_name(no, id), "{no}");
        }
    }

    #[test]
    fn cleanup_deletes_only_matching_files() {
        let dir = tempfile::tempdir().unwrap();
        let keep = [
            "supervisord.log",
            "qrd.log",
            "p-stdout---other-abcdefgh.log",
        ];
        let gone = [
            "p-stdout---supervisor-abcdefgh.log",
            "p-stdout---supervisor-abcdefgh.log.1",
        ];
        for n in keep.iter().chain(&gone) {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        let mut cfg = super::super::main_log::tests::supervisord(
            crate::config::LogTarget::None,
            crate::config::LogLevel::Info,
        );
        cfg.childlogdir = dir.path().to_path_buf();
        assert!(cleanup_auto_logs(&cfg).is_empty());
        for n in keep {
            assert!(dir.path().join(n).exists(), "{n}");
        }
        for n in gone {
            assert!(!dir.path().join(n).exists(), "{n}");
        }
        cfg.childlogdir = dir.path().join("missing");
        assert_eq!(cleanup_auto_logs(&cfg), ["Could not clear childlog dir"]);
    }
}
