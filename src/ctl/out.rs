//! Where the ctl's output goes: stdout, buffered, flushed before every prompt and after every
//! command. A reader that goes away (`supervisorctl status | head -1`) ends the ctl quietly
//! rather than with an error or a panic.

use std::io::{self, Write};

/// Buffered stdout that exits the process quietly when the pipe it writes to closes.
pub struct Out {
    inner: io::BufWriter<io::Stdout>,
}

impl Default for Out {
    fn default() -> Out {
        Out {
            inner: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
        }
    }
}

impl Out {
    /// `Controller.output`: the message and a newline.
    pub fn line(&mut self, message: &str) {
        self.bytes(message.as_bytes());
        self.bytes(b"\n");
    }

    /// Raw bytes (log tails), unchanged.
    pub fn bytes(&mut self, data: &[u8]) {
        if let Err(e) = self.inner.write_all(data) {
            gone(e);
        }
    }

    pub fn flush(&mut self) {
        if let Err(e) = self.inner.flush() {
            gone(e);
        }
    }
}

/// The reader closed the pipe: nothing more can be said to it, so stop here. Any other write
/// error is reported once on stderr.
fn gone(e: io::Error) -> ! {
    if e.kind() != io::ErrorKind::BrokenPipe {
        let _ = writeln!(io::stderr(), "supervisorctl: stdout: {e}");
        std::process::exit(1);
    }
    std::process::exit(0)
}
