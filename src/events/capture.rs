//! Capture mode (`stdout_capture_maxbytes` > 0): what a process writes between
//! `<!--XSUPERVISOR:BEGIN-->` and `<!--XSUPERVISOR:END-->` becomes a PROCESS_COMMUNICATION
//! event instead of log output (Python's `POutputDispatcher.record_output`). Pure: the log
//! reader feeds it chunks and carries out what it returns.

pub const BEGIN_TOKEN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
pub const END_TOKEN: &[u8] = b"<!--XSUPERVISOR:END-->";

/// What to do with a piece of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Outside the tokens: the log file, syslog, PROCESS_LOG events, as without capture.
    Normal(&'a [u8]),
    /// Inside the tokens: kept for the event (and still a PROCESS_LOG event and main log echo,
    /// as in Python), not written to the log file.
    Captured(&'a [u8]),
    /// The END token: the PROCESS_COMMUNICATION event's data.
    Communication(Vec<u8>),
}

/// One stream's capture state; a fresh one per spawn.
#[derive(Debug, Clone)]
pub struct Capture {
    maxbytes: usize,
    capturing: bool,
    /// Output held back: shorter than the token looked for, or a token's prefix at the end.
    pending: Vec<u8>,
    /// The capture buffer (Python's `BoundIO`).
    captured: Vec<u8>,
}

impl Capture {
    pub fn new(maxbytes: u64) -> Capture {
        Capture {
            maxbytes: usize::try_from(maxbytes).unwrap_or(usize::MAX),
            capturing: false,
            pending: Vec::new(),
            captured: Vec::new(),
        }
    }

    /// Handles one chunk read from the pipe, calling `out` for each piece in order.
    pub fn feed(&mut self, data: &[u8], out: &mut impl FnMut(Piece<'_>)) {
        self.pending.extend_from_slice(data);
        loop {
            let token = if self.capturing {
                END_TOKEN
            } else {
                BEGIN_TOKEN
            };
            // Python waits for more than a token's length before it looks.
            if self.pending.len() <= token.len() {
                return;
            }
            let data = std::mem::take(&mut self.pending);
            match find(&data, token) {
                None => {
                    let keep = prefix_at_end(&data, token);
                    let (log, held) = data.split_at(data.len() - keep);
                    self.log(log, out);
                    self.pending = held.to_vec();
                    return;
                }
                Some(at) => {
                    self.log(&data[..at], out);
                    self.toggle(out);
                    self.pending = data[at + token.len()..].to_vec();
                    if self.pending.is_empty() {
                        return;
                    }
                }
            }
        }
    }

    fn log(&mut self, data: &[u8], out: &mut impl FnMut(Piece<'_>)) {
        if data.is_empty() {
            return;
        }
        if self.capturing {
            // BoundIO.write: when it would overflow, drop as many bytes from the front as are
            // being written (not as many as would fit).
            if self.captured.len() + data.len() > self.maxbytes {
                let drop = data.len().min(self.captured.len());
                self.captured.drain(..drop);
            }
            self.captured.extend_from_slice(data);
            out(Piece::Captured(data));
        } else {
            out(Piece::Normal(data));
        }
    }

    fn toggle(&mut self, out: &mut impl FnMut(Piece<'_>)) {
        self.capturing = !self.capturing;
        if !self.capturing {
            out(Piece::Communication(std::mem::take(&mut self.captured)));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `find_prefix_at_end`: the length of the longest proper prefix of `token` that `data` ends
/// with.
fn prefix_at_end(data: &[u8], token: &[u8]) -> usize {
    (1..token.len())
        .rev()
        .find(|&l| data.ends_with(&token[..l]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: &mut Capture, chunks: &[&[u8]]) -> Vec<String> {
        let mut seen = Vec::new();
        for chunk in chunks {
            c.feed(chunk, &mut |p| {
                seen.push(match p {
                    Piece::Normal(d) => format!("N:{}", String::from_utf8_lossy(d)),
                    Piece::Captured(d) => format!("C:{}", String::from_utf8_lossy(d)),
                    Piece::Communication(d) => format!("E:{}", String::from_utf8_lossy(&d)),
                })
            });
        }
        seen
    }

    #[test]
    fn a_message_between_tokens_is_an_event() {
        let mut c = Capture::new(1000);
        let seen = run(
            &mut c,
            &[b"before\n<!--XSUPERVISOR:BEGIN-->hello<!--XSUPERVISOR:END-->after the message, long enough\n"],
        );
        assert_eq!(
            seen,
            [
                "N:before\n",
                "C:hello",
                "E:hello",
                "N:after the message, long enough\n"
            ]
        );
    }

    #[test]
    fn tokens_split_across_reads_are_held_back() {
        let mut c = Capture::new(1000);
        let seen = run(
            &mut c,
            &[
                b"line one\n<!--XSUPER",
                b"VISOR:BEGIN-->data<!--XSUPERVISOR:E",
                b"ND-->tail of it all, long enough\n",
            ],
        );
        assert_eq!(
            seen,
            [
                "N:line one\n",
                "C:data",
                "E:data",
                "N:tail of it all, long enough\n"
            ]
        );
    }

    #[test]
    fn short_output_waits_for_more() {
        let mut c = Capture::new(1000);
        assert!(run(&mut c, &[b"short\n"]).is_empty());
        assert_eq!(
            run(&mut c, &[b"and now it is long enough\n"]),
            ["N:short\nand now it is long enough\n"]
        );
    }

    #[test]
    fn the_capture_buffer_is_bounded_as_pythons() {
        let mut c = Capture::new(4);
        let seen = run(
            &mut c,
            &[
                b"<!--XSUPERVISOR:BEGIN-->0123456789012345678901234",
                b"abcdefghijklmnopqrstuvwxyz",
                b"<!--XSUPERVISOR:END-->x",
            ],
        );
        assert_eq!(seen.last().unwrap(), "E:abcdefghijklmnopqrstuvwxyz");
    }
}
