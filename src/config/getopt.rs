//! Python's `getopt.getopt`, which supervisord and supervisorctl both parse their command lines
//! with: clustered short flags, unique-prefix long options, parsing stops at the first
//! positional argument, and CPython's error texts.
//!
//! `lexopt` and `clap` cannot reproduce getopt's prefix matching and messages, hence this small
//! hand-written one.

/// `(option, value)` pairs as getopt returns them.
pub type Pairs = Vec<(String, String)>;

/// `getopt.getopt(args, short, long)`: `short` in getopt syntax (`"c:v"`), `long` names with a
/// trailing `=` when they take a value. Returns the pairs and the remaining positional arguments.
pub fn getopt(
    mut args: &[String],
    short: &str,
    long: &[&str],
) -> Result<(Pairs, Vec<String>), String> {
    let mut opts = Vec::new();
    while let Some(first) = args.first() {
        if !first.starts_with('-') || first == "-" {
            break;
        }
        if first == "--" {
            args = &args[1..];
            break;
        }
        let rest = &args[1..];
        if let Some(given) = first.strip_prefix("--") {
            let (name, mut value) = match given.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (given, None),
            };
            let matches: Vec<&str> = long
                .iter()
                .copied()
                .filter(|o| o.starts_with(name))
                .collect();
            let full = if matches.is_empty() {
                return Err(format!("option --{name} not recognized"));
            } else if matches.contains(&name) {
                name.to_string()
            } else if matches.contains(&format!("{name}=").as_str()) {
                format!("{name}=")
            } else if matches.len() > 1 {
                return Err(format!("option --{name} not a unique prefix"));
            } else {
                matches[0].to_string()
            };
            let (full, has_arg) = match full.strip_suffix('=') {
                Some(n) => (n.to_string(), true),
                None => (full, false),
            };
            let mut consumed = 0;
            if has_arg {
                if value.is_none() {
                    match rest.first() {
                        Some(v) => {
                            value = Some(v.clone());
                            consumed = 1;
                        }
                        None => return Err(format!("option --{full} requires argument")),
                    }
                }
            } else if value.is_some() {
                return Err(format!("option --{full} must not have an argument"));
            }
            opts.push((format!("--{full}"), value.unwrap_or_default()));
            args = &rest[consumed..];
        } else {
            let mut cluster: Vec<char> = first[1..].chars().collect();
            let mut rest = rest;
            while !cluster.is_empty() {
                let opt = cluster.remove(0);
                let pos = short
                    .char_indices()
                    .find(|&(_, c)| c == opt && c != ':')
                    .map(|(i, _)| i);
                let Some(pos) = pos else {
                    return Err(format!("option -{opt} not recognized"));
                };
                let has_arg = short[pos + opt.len_utf8()..].starts_with(':');
                let value = if has_arg {
                    if cluster.is_empty() {
                        match rest.first() {
                            Some(v) => {
                                let v = v.clone();
                                rest = &rest[1..];
                                v
                            }
                            None => return Err(format!("option -{opt} requires argument")),
                        }
                    } else {
                        std::mem::take(&mut cluster).into_iter().collect()
                    }
                } else {
                    String::new()
                };
                opts.push((format!("-{opt}"), value));
            }
            args = rest;
        }
    }
    Ok((opts, args.to_vec()))
}
