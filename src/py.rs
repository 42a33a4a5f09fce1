//! Small pieces of Python string semantics we must match byte for byte in config errors and
//! log lines: `str.isspace()`, `str.strip()`, `repr(str)`, `int()` and `os.path` helpers.
//!
//! Kept apart so every other module can say "as Python does" by calling one function.

use std::path::{Component, Path, PathBuf};

/// `str.isspace()` for one character: Unicode whitespace plus the ASCII separators 0x1c..0x1f.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `str.strip()` with no argument.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `repr(str)`: single quotes unless the text has a `'` and no `"`, escapes as CPython.
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python `int(s, base)` for bases 10 and 8: surrounding whitespace, a sign, `_` between digits,
/// and (base 8) an optional `0o` prefix. `None` when Python would raise `ValueError`.
pub fn parse_int(s: &str, base: u32) -> Option<i64> {
    let t = strip(s);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let rest = if base == 8 {
        rest.strip_prefix("0o")
            .or_else(|| rest.strip_prefix("0O"))
            .map(|r| r.strip_prefix('_').unwrap_or(r))
            .unwrap_or(rest)
    } else {
        rest
    };
    if rest.is_empty() || rest.starts_with('_') || rest.ends_with('_') || rest.contains("__") {
        return None;
    }
    // Base 10: Python rejects leading zeros on non-zero literals? No: int('010') == 10.
    let digits: String = rest.chars().filter(|&c| c != '_').collect();
    if !digits.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.chars() {
        v = v
            .checked_mul(i64::from(base))?
            .checked_add(i64::from(c.to_digit(base)?))?;
    }
    Some(if neg { -v } else { v })
}

/// The `invalid literal for int() with base 10: '<v>'` message.
pub fn int_error(s: &str) -> String {
    format!("invalid literal for int() with base 10: {}", repr(s))
}

/// `os.path.expanduser`: `~` → `$HOME` (or the passwd entry), `~name` → that user's home.
pub fn expanduser(v: &str) -> String {
    if !v.starts_with('~') {
        return v.to_string();
    }
    let end = v.find('/').unwrap_or(v.len());
    let (head, tail) = v.split_at(end);
    let home = if head == "~" {
        std::env::var("HOME").ok().or_else(|| {
            crate::users::user_by_uid(nix::unistd::getuid().as_raw())
                .map(|u| u.dir.to_string_lossy().into_owned())
        })
    } else {
        crate::users::user_by_name(&head[1..]).map(|u| u.dir.to_string_lossy().into_owned())
    };
    match home {
        Some(h) => {
            let h = if h.len() > 1 {
                h.trim_end_matches('/').to_string()
            } else {
                h
            };
            let joined = format!("{h}{tail}");
            if joined.is_empty() {
                "/".to_string()
            } else {
                joined
            }
        }
        None => v.to_string(),
    }
}

/// `os.path.dirname`.
pub fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        None => "",
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head
            } else {
                trimmed
            }
        }
    }
}

/// `os.path.normpath(os.path.abspath(p))` (`abspath` already normalises).
pub fn abspath(p: &str) -> String {
    let joined = if p.starts_with('/') {
        PathBuf::from(p)
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    normpath(&joined)
}

/// `os.path.normpath` for an absolute path: drops `.`, resolves `..` textually.
pub fn normpath(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let lead = if p.to_string_lossy().starts_with("//") && !p.to_string_lossy().starts_with("///") {
        "//"
    } else {
        "/"
    };
    format!("{lead}{}", parts.join("/"))
}

/// `normalize_path` of options.py: `normpath(abspath(expanduser(v)))`.
pub fn normalize_path(v: &str) -> String {
    abspath(&expanduser(v))
}

/// Python's `repr(bytes)`, for `Undecodable: b'...'`.
pub fn bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = format!("b{quote}");
    for &b in data {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            _ if b == quote as u8 => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push(quote);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_picks_double_quotes_for_single_quote() {
        assert_eq!(repr("a'b"), "\"a'b\"");
        assert_eq!(repr("a'b\""), "'a\\'b\"'");
        assert_eq!(repr("x\n"), "'x\\n'");
    }

    #[test]
    fn int_accepts_python_literals() {
        assert_eq!(parse_int(" 1_000 ", 10), Some(1000));
        assert_eq!(parse_int("+5", 10), Some(5));
        assert_eq!(parse_int("-5", 10), Some(-5));
        assert_eq!(parse_int("010", 10), Some(10));
        assert_eq!(parse_int("1__0", 10), None);
        assert_eq!(parse_int("_1", 10), None);
        assert_eq!(parse_int("1.5", 10), None);
        assert_eq!(parse_int("", 10), None);
        assert_eq!(parse_int("0o22", 8), Some(0o22));
        assert_eq!(parse_int("8", 8), None);
    }

    #[test]
    fn dirname_like_python() {
        assert_eq!(dirname("a"), "");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("a/b/"), "a/b");
    }

    #[test]
    fn abspath_normalises() {
        assert_eq!(abspath("/a/./b/../c"), "/a/c");
        assert_eq!(abspath("/"), "/");
    }
}
