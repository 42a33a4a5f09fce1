//! Config errors: Python's message plus where the problem is (file, section, option, line).
//!
//! `load` gathers every problem it can; the first one is the one Python would have stopped at.

use std::fmt;
use std::path::PathBuf;

/// What went wrong, coarsely; the message carries Python's exact wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No config file, unreadable file, missing `[supervisord]`.
    File,
    /// Ini syntax (`Source contains parsing errors: ...`).
    Syntax,
    /// `%(name)s` expansion.
    Expansion,
    /// A value that does not convert (bad integer, unknown user, ...).
    Value,
    /// A required option or section is missing, or options contradict each other.
    Missing,
}

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub kind: ErrorKind,
    /// Python's message, including its own ` in section 'program:x' (file: '...')` suffix.
    pub message: String,
    pub file: Option<PathBuf>,
    pub section: Option<String>,
    pub option: Option<String>,
    pub line: Option<usize>,
    /// Python already named the section and file (program sections): only the line is added.
    pub python_located: bool,
}

impl ConfigError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ConfigError {
        ConfigError {
            kind,
            message: message.into(),
            file: None,
            section: None,
            option: None,
            line: None,
            python_located: false,
        }
    }
}

impl fmt::Display for ConfigError {
    /// Python's message, then ` in section '<s>' (file: '<path>', line <n>)` where known. For
    /// messages that already end in Python's `(file: '<path>')`, only `, line <n>` is inserted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.python_located {
            return match (self.line, self.message.strip_suffix(')')) {
                (Some(line), Some(head)) => write!(f, "{head}, line {line})"),
                _ => f.write_str(&self.message),
            };
        }
        f.write_str(&self.message)?;
        let Some(section) = &self.section else {
            return Ok(());
        };
        write!(f, " in section '{section}'")?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " (file: '{}', line {line})", file.display()),
            (Some(file), None) => write!(f, " (file: '{}')", file.display()),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem `load` found, in the order Python would meet them (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn first(&self) -> &ConfigError {
        &self.0[0]
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_adds_location() {
        let mut e = ConfigError::new(ErrorKind::Value, "bad");
        e.section = Some("supervisord".into());
        e.file = Some("/e/s.conf".into());
        e.line = Some(3);
        assert_eq!(
            e.to_string(),
            "bad in section 'supervisord' (file: '/e/s.conf', line 3)"
        );
    }

    #[test]
    fn python_located_message_keeps_python_prefix() {
        let mut e = ConfigError::new(ErrorKind::Value, "x in section 'program:a' (file: 'f')");
        e.python_located = true;
        e.line = Some(7);
        assert_eq!(
            e.to_string(),
            "x in section 'program:a' (file: 'f', line 7)"
        );
    }
}
