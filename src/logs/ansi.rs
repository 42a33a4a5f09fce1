//! `strip_ansi`: Python's `stripEscapes`, applied to each chunk read from a child.

const TERMINATORS: &[u8] = b"HfABCDRsuJKhlpm";

/// Removes every `ESC[` and what follows up to and including the first byte of
/// `HfABCDRsuJKhlpm`. An escape cut off at the end of `data` is dropped to the end, as in
/// Python (the state does not carry over to the next chunk).
pub fn strip_ansi(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = rest.windows(2).position(|w| w == b"\x1b[") {
        out.extend_from_slice(&rest[..start]);
        let after = &rest[start + 2..];
        match after.iter().position(|b| TERMINATORS.contains(b)) {
            Some(end) => rest = &after[end + 1..],
            None => return out,
        }
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_and_cursor_escapes() {
        assert_eq!(strip_ansi(b"\x1b[1;31mred\x1b[0m plain"), b"red plain");
        assert_eq!(strip_ansi(b"a\x1b[2Jb\x1b[10;5Hc"), b"abc");
        assert_eq!(strip_ansi(b"no escapes"), b"no escapes");
        assert_eq!(strip_ansi(b""), b"");
    }

    #[test]
    fn python_quirks() {
        assert_eq!(strip_ansi(b"x\x1b[31"), b"x");
        assert_eq!(strip_ansi(b"x\x1b[?25l!"), b"x!");
        assert_eq!(strip_ansi(b"x\x1b[zzzmy"), b"xy");
        assert_eq!(strip_ansi(b"lone \x1b escape"), b"lone \x1b escape");
        assert_eq!(strip_ansi(b"\x1b[m\x1b[mz"), b"z");
    }
}
