//! `%(name)s` expansion: Python's `str % dict` for the subset config values use, with
//! Supervisor's error wording (`options.expand`).
//!
//! Which names are available where is decided by the builders; this module only formats.

use std::collections::BTreeMap;

use crate::py;

/// A value in the expansion dict: environment strings, `here`, names, and the integers
/// `process_num` / `numprocs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i64),
}

/// The expansion dict. Sorted, as Python sorts the names in its error message.
pub type Expansions = BTreeMap<String, Value>;

/// Why a format string could not be expanded; Display is Python's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("Format string {} for {} contains names ({}) which cannot be expanded. Available names: {}", py::repr(format), py::repr(name), py::repr(missing), available.join(", "))]
    UnknownName {
        format: String,
        name: String,
        missing: String,
        available: Vec<String>,
    },
    #[error(
        "Format string {} for {} is badly formatted: {reason}",
        py::repr(format),
        py::repr(name)
    )]
    BadlyFormatted {
        format: String,
        name: String,
        reason: String,
    },
}

/// `expand(s, expansions, name)` of options.py.
pub fn expand(s: &str, expansions: &Expansions, name: &str) -> Result<String, ExpandError> {
    percent_format(s, expansions).map_err(|e| match e {
        FormatError::Key(missing) => ExpandError::UnknownName {
            format: s.to_string(),
            name: name.to_string(),
            missing,
            available: expansions.keys().cloned().collect(),
        },
        FormatError::Other(reason) => ExpandError::BadlyFormatted {
            format: s.to_string(),
            name: name.to_string(),
            reason,
        },
    })
}

enum FormatError {
    Key(String),
    Other(String),
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
}

/// The widest field and the longest precision honoured; larger ones are refused with the words
/// CPython uses for the ones it cannot represent at all. Python pads to any width that fits in
/// memory; here a huge width overflowed the padding's allocation (a panic, found by fuzzing),
/// and nothing legitimate in a config pads a value to more than a megabyte.
pub(crate) const MAX_FIELD: usize = 1 << 20;

/// CPython's `PyUnicode_Format` with a mapping argument, restricted to keyed conversions.
fn percent_format(s: &str, map: &Expansions) -> Result<String, FormatError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut key: Option<String> = None;
        if chars.get(i) == Some(&'(') {
            // Key with balanced parentheses.
            let mut depth = 1;
            let kstart = i + 1;
            i += 1;
            while i < chars.len() && depth > 0 {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            if depth > 0 {
                return Err(FormatError::Other("incomplete format key".into()));
            }
            let k: String = chars[kstart..i - 1].iter().collect();
            // Python looks the key up before reading the rest of the spec.
            if !map.contains_key(&k) {
                return Err(FormatError::Key(k));
            }
            key = Some(k);
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'*') {
            return Err(FormatError::Other("* wants int".into()));
        }
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            spec.width = spec.width.saturating_mul(10).saturating_add(d as usize);
            i += 1;
        }
        if spec.width > MAX_FIELD {
            return Err(FormatError::Other("width too big".into()));
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            if chars.get(i) == Some(&'*') {
                return Err(FormatError::Other("* wants int".into()));
            }
            let mut p = 0usize;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                p = p.saturating_mul(10).saturating_add(d as usize);
                i += 1;
            }
            if p > MAX_FIELD {
                return Err(FormatError::Other("precision too big".into()));
            }
            spec.precision = Some(p);
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err(FormatError::Other("incomplete format".into()));
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let value = match &key {
            Some(k) if is_conversion(conv) => match map.get(k) {
                Some(v) => v,
                None => return Err(FormatError::Key(k.clone())),
            },
            _ if !is_conversion(conv) => return Err(unsupported(conv, i - 1)),
            _ if "sra".contains(conv) => {
                // Python formats the whole dict here (in an order we cannot reproduce).
                return Err(FormatError::Other(
                    "not enough arguments for format string".to_string(),
                ));
            }
            _ if "diuxXoc".contains(conv) => {
                return Err(FormatError::Other(format!(
                    "%{conv} format: {} is required, not dict",
                    if "diu".contains(conv) {
                        "a real number"
                    } else {
                        "an integer"
                    }
                )));
            }
            _ => return Err(FormatError::Other("must be real number, not dict".into())),
        };
        out.push_str(&convert(value, conv, &spec, i - 1)?);
    }
    Ok(out)
}

fn is_conversion(c: char) -> bool {
    "diouxXeEfFgGcrsa".contains(c)
}

fn unsupported(c: char, index: usize) -> FormatError {
    FormatError::Other(format!(
        "unsupported format character {} (0x{:x}) at index {index}",
        py::repr(&c.to_string()),
        c as u32
    ))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "str",
        Value::Int(_) => "int",
    }
}

fn convert(v: &Value, conv: char, spec: &Spec, _index: usize) -> Result<String, FormatError> {
    let body = match conv {
        's' | 'r' | 'a' => {
            let mut text = match (v, conv) {
                (Value::Str(s), 's') => s.clone(),
                (Value::Str(s), _) => py::repr(s),
                (Value::Int(n), _) => n.to_string(),
            };
            if let Some(p) = spec.precision {
                text = text.chars().take(p).collect();
            }
            return Ok(pad(text, spec, false));
        }
        'c' => {
            let text = match v {
                Value::Int(n) => u32::try_from(*n)
                    .ok()
                    .and_then(char::from_u32)
                    .map(String::from)
                    .ok_or_else(|| {
                        FormatError::Other("%c arg not in range(0x110000)".to_string())
                    })?,
                Value::Str(s) if s.chars().count() == 1 => s.clone(),
                Value::Str(_) => {
                    return Err(FormatError::Other("%c requires int or char".to_string()))
                }
            };
            return Ok(pad(text, spec, false));
        }
        _ => {
            let Value::Int(n) = v else {
                let what = if "diouxX".contains(conv) {
                    format!(
                        "%{conv} format: an integer is required, not {}",
                        type_name(v)
                    )
                } else {
                    format!("must be real number, not {}", type_name(v))
                };
                let what = if "diu".contains(conv) {
                    format!(
                        "%{conv} format: a real number is required, not {}",
                        type_name(v)
                    )
                } else {
                    what
                };
                return Err(FormatError::Other(what));
            };
            let n = *n;
            let neg = n < 0;
            let mag = n.unsigned_abs();
            let mut digits = match conv {
                'd' | 'i' | 'u' => mag.to_string(),
                'o' => format!("{mag:o}"),
                'x' => format!("{mag:x}"),
                'X' => format!("{mag:X}"),
                'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), mag as f64),
                'e' | 'E' => exp_format(mag as f64, spec.precision.unwrap_or(6), conv == 'E'),
                _ => general_format(
                    mag as f64,
                    spec.precision.unwrap_or(6),
                    conv == 'G',
                    spec.alt,
                ),
            };
            if "diouxX".contains(conv) {
                // Zero-filled to the precision in one go (inserting a zero at a time was
                // quadratic in the precision).
                if let Some(p) = spec.precision.filter(|&p| p > digits.len()) {
                    digits = "0".repeat(p - digits.len()) + &digits;
                }
            }
            let prefix = match (conv, spec.alt) {
                ('o', true) => "0o",
                ('x', true) => "0x",
                ('X', true) => "0X",
                _ => "",
            };
            let sign = if neg {
                "-"
            } else if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            };
            format!("{sign}{prefix}\u{0}{digits}")
        }
    };
    Ok(pad(body, spec, true))
}

/// Applies width: left-justify, zero-fill after the sign/prefix (numbers only), or space-fill.
/// Numeric bodies carry a NUL marking where zero padding goes.
fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let (head, tail) = match body.split_once('\u{0}') {
        Some((h, t)) => (h.to_string(), t.to_string()),
        None => (String::new(), body),
    };
    let len = head.chars().count() + tail.chars().count();
    if len >= spec.width {
        return head + &tail;
    }
    let fill = spec.width - len;
    if spec.left {
        head + &tail + &" ".repeat(fill)
    } else if spec.zero && numeric {
        head + &"0".repeat(fill) + &tail
    } else {
        " ".repeat(fill) + &head + &tail
    }
}

fn exp_format(v: f64, precision: usize, upper: bool) -> String {
    let s = format!("{:.*e}", precision, v);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    let out = format!("{mant}e{sign}{:02}", exp.abs());
    if upper {
        out.to_uppercase()
    } else {
        out
    }
}

fn general_format(v: f64, precision: usize, upper: bool, alt: bool) -> String {
    let p = precision.max(1);
    let exp = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    if exp < -4 || exp >= p as i32 {
        let s = exp_format(v, p - 1, upper);
        if alt {
            return s;
        }
        let (mant, e) = s.split_once(['e', 'E']).unwrap_or((&s, ""));
        let mant = if mant.contains('.') {
            mant.trim_end_matches('0').trim_end_matches('.')
        } else {
            mant
        };
        format!("{mant}{}{e}", if upper { 'E' } else { 'e' })
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, v);
        if alt || !s.contains('.') {
            s
        } else {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict() -> Expansions {
        let mut d = Expansions::new();
        d.insert("program_name".into(), Value::Str("web".into()));
        d.insert("process_num".into(), Value::Int(3));
        d.insert("here".into(), Value::Str("/etc".into()));
        d
    }

    #[test]
    fn named_string_expansion() {
        assert_eq!(expand("%(program_name)s-x", &dict(), "n").unwrap(), "web-x");
    }

    #[test]
    fn process_num_format_spec() {
        let d = dict();
        assert_eq!(expand("w_%(process_num)02d", &d, "n").unwrap(), "w_03");
        assert_eq!(expand("%(process_num)3d|", &d, "n").unwrap(), "  3|");
        assert_eq!(expand("%(process_num)-3d|", &d, "n").unwrap(), "3  |");
        assert_eq!(expand("%(process_num)s", &d, "n").unwrap(), "3");
        assert_eq!(expand("%(process_num)x", &d, "n").unwrap(), "3");
        assert_eq!(expand("%(process_num).2f", &d, "n").unwrap(), "3.00");
        assert_eq!(expand("%(process_num)+d", &d, "n").unwrap(), "+3");
    }

    #[test]
    fn percent_percent_is_literal() {
        assert_eq!(expand("100%% done", &dict(), "n").unwrap(), "100% done");
    }

    #[test]
    fn unknown_name_lists_sorted_names() {
        let err = expand("%(nope)s", &dict(), "program:x.command").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Format string '%(nope)s' for 'program:x.command' contains names ('nope') which \
             cannot be expanded. Available names: here, process_num, program_name"
        );
    }

    #[test]
    fn lone_percent_is_badly_formatted() {
        let err = expand("50%", &dict(), "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Format string '50%' for 'x' is badly formatted: incomplete format"
        );
        let err = expand("a %z", &dict(), "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Format string 'a %z' for 'x' is badly formatted: unsupported format character 'z' (0x7a) at index 3"
        );
    }

    #[test]
    fn string_with_d_conversion_is_badly_formatted() {
        let err = expand("%(here)d", &dict(), "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Format string '%(here)d' for 'x' is badly formatted: %d format: a real number is required, not str"
        );
    }

    #[test]
    fn huge_widths_and_precisions_are_refused() {
        let d = dict();
        let wide = format!("%(here){}s", "8".repeat(30));
        let err = expand(&wide, &d, "x").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is badly formatted: width too big"),
            "{err}"
        );
        let err = expand("%(process_num).9999999d", &d, "x").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is badly formatted: precision too big"),
            "{err}"
        );
        let padded = expand(&format!("%(process_num).{MAX_FIELD}d"), &d, "x").unwrap();
        assert_eq!(padded.len(), MAX_FIELD);
        assert!(padded.ends_with("003"));
    }

    #[test]
    fn unclosed_key_is_incomplete_format_key() {
        let err = expand("%(here", &dict(), "x").unwrap_err();
        assert!(err.to_string().ends_with("incomplete format key"));
    }
}
