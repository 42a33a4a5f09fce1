//! The ini layer: CPython 3.11 `RawConfigParser(strict=False, inline_comment_prefixes=(';', '#'))`,
//! as Supervisor's `UnhosedConfigParser` uses it, reproduced quirk for quirk.
//!
//! It yields raw strings only (no `%(...)s` expansion, no datatypes), each remembering the file
//! and line it came from so later stages can say where a bad value is.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::py;

/// One `name = value` entry, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// Lowercased option name.
    pub name: String,
    /// Stripped value; continuation lines joined with `\n`.
    pub value: String,
    pub file: PathBuf,
    /// 1-based line of the `name = value` line.
    pub line: usize,
}

/// A `[section]`: options in first-definition order (later duplicates overwrite in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// The file that first defined the section.
    pub file: PathBuf,
    pub line: usize,
    pub options: Vec<Opt>,
}

impl Section {
    fn new(name: &str, file: &Path, line: usize) -> Section {
        Section {
            name: name.to_string(),
            file: file.to_path_buf(),
            line,
            options: Vec::new(),
        }
    }

    fn get(&self, name: &str) -> Option<&Opt> {
        self.options.iter().find(|o| o.name == name)
    }

    fn set(&mut self, opt: Opt) {
        match self.options.iter_mut().find(|o| o.name == opt.name) {
            Some(slot) => *slot = opt,
            None => self.options.push(opt),
        }
    }
}

/// A configparser syntax error, worded as CPython words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IniError {
    /// Lines that are neither a header, an option nor a continuation (`ParsingError`).
    #[error("{}", parsing_message(file, lines))]
    Parsing {
        file: String,
        /// `(line number, raw line with its newline)`.
        lines: Vec<(usize, String)>,
    },
    /// An option before any `[section]` (`MissingSectionHeaderError`).
    #[error(
        "File contains no section headers.\nfile: {}, line: {line}\n{}",
        py::repr(file),
        py::repr(text)
    )]
    MissingSectionHeader {
        file: String,
        line: usize,
        text: String,
    },
}

impl IniError {
    /// The file and first line the error points at.
    pub fn location(&self) -> (&str, usize) {
        match self {
            IniError::Parsing { file, lines } => (file, lines.first().map(|l| l.0).unwrap_or(0)),
            IniError::MissingSectionHeader { file, line, .. } => (file, *line),
        }
    }
}

fn parsing_message(file: &str, lines: &[(usize, String)]) -> String {
    let mut msg = format!("Source contains parsing errors: {}", py::repr(file));
    for (n, text) in lines {
        msg.push_str(&format!("\n\t[line {n:2}]: {}", py::repr(text)));
    }
    msg
}

/// The parsed configuration: `[DEFAULT]` plus named sections in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    defaults: Vec<Opt>,
    sections: Vec<Section>,
    /// Section name → index in `sections`. Every option read looks its section up, so a scan
    /// made reading a config quadratic in its sections (8000 programs: 39 s).
    index: HashMap<String, usize>,
}

/// A value being accumulated: the section index (`None` = DEFAULT), option name, lines.
struct Pending {
    section: Option<usize>,
    opt: Opt,
    lines: Vec<String>,
}

impl Ini {
    pub fn new() -> Ini {
        Ini::default()
    }

    /// Reads one file's text into this parser (merging with what is already there), as
    /// `RawConfigParser._read`. `source` is the name used in errors and kept on each option.
    pub fn read_str(&mut self, text: &str, source: &Path) -> Result<(), IniError> {
        let source_name = source.to_string_lossy().into_owned();
        let mut errors: Vec<(usize, String)> = Vec::new();
        // `None` = no section yet; `Some(None)` = DEFAULT; `Some(Some(i))` = sections[i].
        let mut cursect: Option<Option<usize>> = None;
        let mut pending: Option<Pending> = None;
        let mut indent_level = 0usize;

        for (idx, line) in split_lines(text).into_iter().enumerate() {
            let lineno = idx + 1;
            let comment_start = comment_start(&line);
            let value = py::strip(match comment_start {
                Some(i) => &line[..i],
                None => &line,
            });
            if value.is_empty() {
                // empty_lines_in_values: keep the blank line unless it carried a comment.
                if comment_start.is_none() {
                    if let Some(p) = pending.as_mut() {
                        p.lines.push(String::new());
                    }
                }
                continue;
            }
            let cur_indent = line.chars().take_while(|&c| py::is_space(c)).count();
            if cursect.is_some() && pending.is_some() && cur_indent > indent_level {
                if let Some(p) = pending.as_mut() {
                    p.lines.push(value.to_string());
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(value) {
                self.finish(pending.take());
                if header == "DEFAULT" {
                    cursect = Some(None);
                } else {
                    let i = match self.index.get(header) {
                        Some(&i) => i,
                        None => {
                            self.index.insert(header.to_string(), self.sections.len());
                            self.sections.push(Section::new(header, source, lineno));
                            self.sections.len() - 1
                        }
                    };
                    cursect = Some(Some(i));
                }
                continue;
            }
            let Some(sect) = cursect else {
                return Err(IniError::MissingSectionHeader {
                    file: source_name,
                    line: lineno,
                    text: line,
                });
            };
            match split_option(value) {
                Some((name, val)) => {
                    self.finish(pending.take());
                    if name.is_empty() {
                        errors.push((lineno, line.clone()));
                    }
                    let opt = Opt {
                        name: name.to_lowercase(),
                        value: String::new(),
                        file: source.to_path_buf(),
                        line: lineno,
                    };
                    // An empty option name is an error, but the option is still stored and
                    // cannot take continuation lines (its name is falsy in Python).
                    let p = Pending {
                        section: sect,
                        opt,
                        lines: vec![val.to_string()],
                    };
                    if name.is_empty() {
                        self.finish(Some(p));
                    } else {
                        pending = Some(p);
                    }
                }
                None => errors.push((lineno, line.clone())),
            }
        }
        self.finish(pending.take());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(IniError::Parsing {
                file: source_name,
                lines: errors,
            })
        }
    }

    fn finish(&mut self, pending: Option<Pending>) {
        let Some(mut p) = pending else { return };
        p.opt.value = p
            .lines
            .join("\n")
            .trim_end_matches(py::is_space)
            .to_string();
        match p.section {
            None => match self.defaults.iter_mut().find(|o| o.name == p.opt.name) {
                Some(slot) => *slot = p.opt,
                None => self.defaults.push(p.opt),
            },
            Some(i) => self.sections[i].set(p.opt),
        }
    }

    /// Section names in first-seen order (`DEFAULT` excluded), as `sections()`.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.index.get(name).map(|&i| &self.sections[i])
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// `get(section, option)`: the section's own value, else `[DEFAULT]`'s.
    pub fn get(&self, section: &str, option: &str) -> Option<&Opt> {
        let sect = self.section(section)?;
        sect.get(option)
            .or_else(|| self.defaults.iter().find(|o| o.name == option))
    }

    /// Whether `opt` is a `[DEFAULT]` entry (`expand_here` copies some into sections).
    pub fn is_default(&self, opt: &Opt) -> bool {
        self.defaults
            .iter()
            .any(|d| d.name == opt.name && d.file == opt.file && d.line == opt.line)
    }

    /// `options(section)`: the section's names, then `[DEFAULT]` names not overridden.
    pub fn options(&self, section: &str) -> Vec<&Opt> {
        let Some(sect) = self.section(section) else {
            return Vec::new();
        };
        let mut out: Vec<&Opt> = sect.options.iter().collect();
        for d in &self.defaults {
            if sect.get(&d.name).is_none() {
                out.push(d);
            }
        }
        out
    }

    /// `UnhosedConfigParser.expand_here`: textually replaces `%(here)s` in every value of every
    /// section (defaults are copied into the section when they contain it).
    pub fn expand_here(&mut self, here: &str) {
        const HERE: &str = "%(here)s";
        let defaults = self.defaults.clone();
        for sect in &mut self.sections {
            // items(): defaults first, then the section's own options.
            let mut items: Vec<Opt> = defaults
                .iter()
                .filter(|d| sect.get(&d.name).is_none())
                .cloned()
                .collect();
            items.extend(sect.options.iter().cloned());
            for mut opt in items {
                if opt.value.contains(HERE) {
                    opt.value = opt.value.replace(HERE, here);
                    sect.set(opt);
                }
            }
        }
    }
}

/// Splits text into lines as Python's universal-newline file iteration does, each keeping `\n`.
fn split_lines(text: &str) -> Vec<String> {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    normalized
        .split_inclusive('\n')
        .map(str::to_string)
        .collect()
}

/// Where the comment on `line` starts, if any: CPython's round-robin scan over the inline
/// prefixes (`;` then `#`), then the full-line check.
fn comment_start(line: &str) -> Option<usize> {
    const INLINE: [char; 2] = [';', '#'];
    let mut comment: Option<usize> = None;
    // Each prefix's last-found byte index; `None` once exhausted. Start at "-1".
    let mut positions: Vec<(char, Option<usize>)> = INLINE.iter().map(|&p| (p, None)).collect();
    let mut live: Vec<bool> = vec![true; INLINE.len()];
    while comment.is_none() && live.iter().any(|&l| l) {
        for (k, (prefix, last)) in positions.iter_mut().enumerate() {
            if !live[k] {
                continue;
            }
            let from = match last {
                None => 0,
                Some(i) => *i + prefix.len_utf8(),
            };
            match line.get(from..).and_then(|rest| rest.find(*prefix)) {
                None => live[k] = false,
                Some(off) => {
                    let index = from + off;
                    *last = Some(index);
                    let preceded_by_space =
                        index == 0 || line[..index].chars().next_back().is_some_and(py::is_space);
                    if preceded_by_space {
                        comment = Some(comment.map_or(index, |c: usize| c.min(index)));
                    }
                }
            }
        }
    }
    let stripped = py::strip(line);
    if stripped.starts_with('#') || stripped.starts_with(';') {
        return Some(0);
    }
    comment
}

/// `SECTCRE`: `\[(?P<header>.+)\]` matched at the start of the stripped line (greedy, so the
/// header runs to the last `]`; text after it is ignored).
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let header = &rest[..end];
    (!header.is_empty()).then_some(header)
}

/// `OPTCRE`: the name is everything before the first `=` or `:` (right-stripped), the value
/// everything after it (left-stripped).
fn split_option(value: &str) -> Option<(&str, &str)> {
    let i = value.find(['=', ':'])?;
    let name = value[..i].trim_end_matches(py::is_space);
    let val = value[i + 1..].trim_start_matches(py::is_space);
    Some((name, val))
}

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Ini {
        let mut ini = Ini::new();
        ini.read_str(text, Path::new("/t/s.conf")).unwrap();
        ini
    }

    fn val(ini: &Ini, s: &str, o: &str) -> String {
        ini.get(s, o).unwrap().value.clone()
    }

    #[test]
    fn inline_semicolon_without_space_is_kept() {
        let ini = parse("[a]\nx=b;c\n");
        assert_eq!(val(&ini, "a", "x"), "b;c");
    }

    #[test]
    fn inline_comment_after_space_is_cut() {
        let ini = parse("[a]\nx=b ;c\ny=b #c\nz=bash -c 'foo ; bar'\n");
        assert_eq!(val(&ini, "a", "x"), "b");
        assert_eq!(val(&ini, "a", "y"), "b");
        assert_eq!(val(&ini, "a", "z"), "bash -c 'foo");
    }

    #[test]
    fn round_robin_inline_comment_quirk() {
        let ini = parse("[a]\ncommand=/bin/echo a;b c ;d #e\n");
        assert_eq!(val(&ini, "a", "command"), "/bin/echo a;b c ;d");
    }

    #[test]
    fn first_delimiter_wins_and_names_are_lowercased() {
        let ini = parse("[Prog]\nCommand : a=b:c\nk=v:w\n");
        assert_eq!(val(&ini, "Prog", "command"), "a=b:c");
        assert_eq!(val(&ini, "Prog", "k"), "v:w");
        assert!(ini.get("prog", "command").is_none());
    }

    #[test]
    fn continuation_lines_and_blank_lines_inside_values() {
        let ini = parse("[a]\nx=1\n  2\n\n  3\n\ny=4\n");
        assert_eq!(val(&ini, "a", "x"), "1\n2\n\n3");
        assert_eq!(val(&ini, "a", "y"), "4");
    }

    #[test]
    fn comment_line_inside_value_is_skipped_not_blank() {
        let ini = parse("[a]\nx=1\n# c\n  2\n");
        assert_eq!(val(&ini, "a", "x"), "1\n2");
    }

    #[test]
    fn duplicate_sections_and_keys_merge_later_wins() {
        let ini = parse("[a]\nx=1\ny=2\n[b]\n[a]\nx=3\n");
        assert_eq!(val(&ini, "a", "x"), "3");
        assert_eq!(val(&ini, "a", "y"), "2");
        assert_eq!(ini.get("a", "x").unwrap().line, 6);
        let names: Vec<_> = ini.sections().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn default_section_is_inherited() {
        let ini = parse("[DEFAULT]\nx=d\n[a]\n[b]\nx=own\n");
        assert_eq!(val(&ini, "a", "x"), "d");
        assert_eq!(val(&ini, "b", "x"), "own");
        assert!(!ini.has_section("DEFAULT"));
    }

    #[test]
    fn parse_error_quotes_lines_like_python() {
        let mut ini = Ini::new();
        let err = ini
            .read_str("[a]\nthis is not ini\nx=1\nbad\n", Path::new("/t/s.conf"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Source contains parsing errors: '/t/s.conf'\n\t[line  2]: 'this is not ini\\n'\n\t[line  4]: 'bad\\n'"
        );
    }

    #[test]
    fn missing_section_header_message() {
        let mut ini = Ini::new();
        let err = ini.read_str("x=1\n", Path::new("f.conf")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "File contains no section headers.\nfile: 'f.conf', line: 1\n'x=1\\n'"
        );
    }

    #[test]
    fn section_header_trailing_text_ignored() {
        let ini = parse("[a] junk\nx=1\n");
        assert_eq!(val(&ini, "a", "x"), "1");
    }

    #[test]
    fn expand_here_replaces_text() {
        let mut ini = parse("[DEFAULT]\nd=%(here)s/d\n[a]\nx=%(here)s/x\n");
        ini.expand_here("/h");
        assert_eq!(val(&ini, "a", "x"), "/h/x");
        assert_eq!(val(&ini, "a", "d"), "/h/d");
    }

    #[test]
    fn crlf_lines() {
        let ini = parse("[a]\r\nx=1\r\n");
        assert_eq!(val(&ini, "a", "x"), "1");
    }
}
