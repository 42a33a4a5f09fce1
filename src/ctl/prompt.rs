//! Questions the shell asks on the terminal: the password, without echo, as Python's `getpass`
//! asks it (echo is off *before* the prompt appears, so nothing typed ahead is shown).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Write as _};

use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};

/// `getpass.getpass(prompt)`: on the controlling terminal with echo off, then a newline; without
/// a terminal, a plain line from stdin after the prompt on stdout.
pub fn password(prompt: &str) -> io::Result<String> {
    let Ok(tty) = OpenOptions::new().read(true).write(true).open("/dev/tty") else {
        return plain(prompt);
    };
    let Ok(saved) = tcgetattr(&tty) else {
        return plain(prompt);
    };
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet)?;
    let answer = ask(&tty, prompt);
    // Restore echo whatever happened, as getpass's `finally` does.
    let restored = tcsetattr(&tty, SetArg::TCSAFLUSH, &saved);
    let mut out = &tty;
    out.write_all(b"\n")?;
    restored?;
    answer
}

fn ask(tty: &File, prompt: &str) -> io::Result<String> {
    let mut out = tty;
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    let mut line = String::new();
    BufReader::new(tty).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn plain(prompt: &str) -> io::Result<String> {
    let mut out = io::stdout();
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
