//! `environment_file = PATH[, PATH...]` (ours): `KEY=VALUE` files in the syntax of systemd's
//! `EnvironmentFile=`, read at each spawn so that editing a file and restarting the program is
//! enough. Python's supervisord ignores the key.
//!
//! Syntax, line by line: blank lines and lines starting with `#` or `;` are skipped; an optional
//! `export ` prefix; a shell-style name (`[A-Za-z_][A-Za-z0-9_]*`), `=`, the value, with the
//! whitespace around `=` and at both ends of an unquoted value trimmed. A value in single quotes
//! is taken as it is; in double quotes `\"`, `\\`, `` \` `` and `\$` stand for the character and any
//! other backslash stays (systemd's rule: `\n` is a backslash and an `n`). Unquoted, a backslash
//! takes the next character as it is. A backslash before a line end continues the value on the
//! next line (except in single quotes); quoted values may span lines, and may be followed by a
//! `#` comment.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One `environment_file` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// Absolute, `%(...)s`-expanded.
    pub path: PathBuf,
    /// Written with a leading `-`: a missing file is no error.
    pub optional: bool,
}

/// A program's env files and the names its own `environment=` sets: those win over the files,
/// while the files win over `[supervisord] environment` (both are merged in
/// `ProcessConfig::environment`, so the program's own names are kept apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFiles {
    pub files: Vec<EnvFile>,
    pub program_keys: Vec<String>,
}

/// Why an env file cannot feed a spawn: the text is the `spawnerr`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    #[error("environment_file {}: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("environment_file {} line {line}: {reason}", .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl EnvFiles {
    /// The variables the files set (later files win), without those `environment=` sets.
    pub fn load(&self) -> Result<BTreeMap<String, String>, EnvFileError> {
        let mut env = BTreeMap::new();
        for file in &self.files {
            let bytes = match std::fs::read(&file.path) {
                Ok(b) => b,
                Err(e) if file.optional && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(EnvFileError::Unreadable {
                        path: file.path.clone(),
                        reason: io_reason(&e),
                    })
                }
            };
            let syntax = |line, reason: &str| EnvFileError::Syntax {
                path: file.path.clone(),
                line,
                reason: reason.to_string(),
            };
            let text = String::from_utf8(bytes).map_err(|e| {
                let bytes = e.as_bytes();
                let line = 1 + bytes[..e.utf8_error().valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                syntax(line, "not valid UTF-8")
            })?;
            for (key, value) in parse(&text).map_err(|(line, reason)| syntax(line, reason))? {
                env.insert(key, value);
            }
        }
        for key in &self.program_keys {
            env.remove(key);
        }
        Ok(env)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The `(name, value)` pairs of one file in order, or the 1-based line and reason of the first
/// problem.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, &'static str)> {
    let mut out = Vec::new();
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
    };
    while p.pos < p.chars.len() {
        p.skip_blanks();
        match p.peek() {
            None => break,
            Some('\n') => {
                p.bump();
                continue;
            }
            Some('#' | ';') => {
                p.skip_line();
                continue;
            }
            Some(_) => {}
        }
        let start = p.line;
        if p.rest_starts_with("export") && matches!(p.at(6), Some(' ' | '\t')) {
            p.pos += 6;
            p.skip_blanks();
        }
        let mut key = String::new();
        while let Some(c) = p.peek().filter(|&c| c != '=' && c != '\n') {
            key.push(c);
            p.bump();
        }
        if p.peek() != Some('=') {
            return Err((start, "expected KEY=VALUE"));
        }
        p.bump();
        let key = key.trim_end();
        if !valid_name(key) {
            return Err((start, "invalid variable name"));
        }
        p.skip_blanks();
        let value = p.value()?;
        if value.contains('\0') {
            return Err((start, "value contains a NUL character"));
        }
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn valid_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.at(0)
    }

    fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.at(i) == Some(c))
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    /// The value from after `=` (blanks skipped) through the end of its line.
    fn value(&mut self) -> Result<String, (usize, &'static str)> {
        let start = self.line;
        let mut value = String::new();
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                self.bump();
                loop {
                    match self.bump() {
                        None => return Err((start, "unterminated quoted value")),
                        Some(c) if c == q => break,
                        Some('\\') if q == '"' => match self.bump() {
                            None => return Err((start, "unterminated quoted value")),
                            Some('\n') => {}
                            Some(c @ ('"' | '\\' | '`' | '$')) => value.push(c),
                            Some(c) => {
                                value.push('\\');
                                value.push(c);
                            }
                        },
                        Some(c) => value.push(c),
                    }
                }
                self.skip_blanks();
                if self.peek() == Some('#') {
                    self.skip_line();
                    return Ok(value);
                }
                match self.bump() {
                    None | Some('\n') => Ok(value),
                    Some(_) => Err((self.line, "unexpected text after the closing quote")),
                }
            }
            _ => {
                while let Some(c) = self.bump() {
                    match c {
                        '\n' => break,
                        '\\' => match self.bump() {
                            None | Some('\n') => {}
                            Some(c) => value.push(c),
                        },
                        c => value.push(c),
                    }
                }
                Ok(value.trim_end_matches([' ', '\t', '\r']).to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_pairs_blank_lines_and_comments() {
        assert_eq!(
            ok("A=1\n\n  # a comment\n; another\nB=two words\n"),
            pairs(&[("A", "1"), ("B", "two words")])
        );
        assert_eq!(ok(""), pairs(&[]));
        assert_eq!(ok("LAST=x"), pairs(&[("LAST", "x")]));
    }

    #[test]
    fn whitespace_around_equals_and_value_is_trimmed() {
        assert_eq!(
            ok("  A  =  spaced out \t\nB=\nC =\r\n"),
            pairs(&[("A", "spaced out"), ("B", ""), ("C", "")])
        );
    }

    #[test]
    fn export_prefix_is_dropped() {
        assert_eq!(
            ok("export A=1\nexport\tB=2\nexported=3\n"),
            pairs(&[("A", "1"), ("B", "2"), ("exported", "3")])
        );
    }

    #[test]
    fn single_quotes_keep_everything() {
        assert_eq!(
            ok("A=' a \\n \"b\" $c # d '\nB='two\nlines'\n"),
            pairs(&[("A", " a \\n \"b\" $c # d "), ("B", "two\nlines")])
        );
    }

    #[test]
    fn double_quotes_take_systemd_escapes() {
        assert_eq!(
            ok(r#"A="say \"hi\" \\ \$HOME \` \n \x""#),
            pairs(&[("A", r#"say "hi" \ $HOME ` \n \x"#)])
        );
        assert_eq!(
            ok("A=\"multi\nline\"\nB=\"cont\\\ninued\"\n"),
            pairs(&[("A", "multi\nline"), ("B", "continued")])
        );
    }

    #[test]
    fn unquoted_backslashes_and_continuations() {
        assert_eq!(
            ok("A=one\\\ntwo\nB=a\\ b\\#c\nC=x # not a comment\n"),
            pairs(&[("A", "onetwo"), ("B", "a b#c"), ("C", "x # not a comment")])
        );
    }

    #[test]
    fn later_duplicates_are_kept_in_order() {
        assert_eq!(ok("A=1\nA=2\n"), pairs(&[("A", "1"), ("A", "2")]));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("A=1\n\nnonsense\n"), Err((3, "expected KEY=VALUE")));
        assert_eq!(parse("=1\n"), Err((1, "invalid variable name")));
        assert_eq!(parse("1A=1\n"), Err((1, "invalid variable name")));
        assert_eq!(parse("MY VAR=1\n"), Err((1, "invalid variable name")));
        assert_eq!(
            parse("A=1\nB=\"open\nC=2\n"),
            Err((2, "unterminated quoted value"))
        );
        assert_eq!(
            parse("A='x'y\n"),
            Err((1, "unexpected text after the closing quote"))
        );
        assert_eq!(
            ok("A='x' # trailing comment\nB=2"),
            pairs(&[("A", "x"), ("B", "2")])
        );
        assert_eq!(
            parse("A=a\0b\n"),
            Err((1, "value contains a NUL character"))
        );
    }

    fn files(dir: &std::path::Path, list: &[(&str, bool)]) -> EnvFiles {
        EnvFiles {
            files: list
                .iter()
                .map(|(name, optional)| EnvFile {
                    path: dir.join(name),
                    optional: *optional,
                })
                .collect(),
            program_keys: vec!["MINE".into()],
        }
    }

    #[test]
    fn load_overlays_files_in_order_and_leaves_program_keys_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.env"), "A=1\nB=1\nMINE=file\n").unwrap();
        std::fs::write(dir.path().join("b.env"), "B=2\n").unwrap();
        let env = files(
            dir.path(),
            &[("a.env", false), ("gone.env", true), ("b.env", false)],
        )
        .load()
        .unwrap();
        let want: BTreeMap<String, String> = [("A", "1"), ("B", "2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(env, want);
    }

    #[test]
    fn load_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let gone = files(dir.path(), &[("gone.env", false)])
            .load()
            .unwrap_err();
        assert_eq!(
            gone.to_string(),
            format!(
                "environment_file {}: no such file",
                dir.path().join("gone.env").display()
            )
        );
        std::fs::write(dir.path().join("bad.env"), "A=1\n\nB\n").unwrap();
        let bad = files(dir.path(), &[("bad.env", true)]).load().unwrap_err();
        assert_eq!(
            bad.to_string(),
            format!(
                "environment_file {} line 3: expected KEY=VALUE",
                dir.path().join("bad.env").display()
            )
        );
        std::fs::write(dir.path().join("bin.env"), b"A=1\nB=\xff\n").unwrap();
        let bin = files(dir.path(), &[("bin.env", false)]).load().unwrap_err();
        assert!(
            bin.to_string().ends_with("line 2: not valid UTF-8"),
            "{bin}"
        );
    }
}
