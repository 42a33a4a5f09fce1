//! Unknown keys in known sections (ours): Python's supervisord silently ignores them, so a typo
//! (`startsec=5`) quietly leaves the default in force. Each one becomes a warning naming file,
//! section and line, with the closest known key when one is near enough to be the intended one.
//! `[rpcinterface:x]` and `[ctlplugin:x]` take any key (plugins read their own); unknown
//! sections are not ours to judge.

use super::ini::Ini;

/// Every key Python 4.3 reads in `[program:x]` (also the base of eventlistener and fcgi-program
/// sections), then ours.
const PROGRAM: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "autorestart",
    "startsecs",
    "startretries",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
    // Ours.
    "required",
    "killmode",
    "environment_file",
    "healthcheck",
    "healthcheck_interval",
    "healthcheck_timeout",
    "healthcheck_retries",
    "healthcheck_start_period",
    "healthcheck_action",
    "memory_limit",
    "depends_on",
    "schedule",
    "schedule_timezone",
    "schedule_overlap",
    "restart_schedule",
];

const EVENTLISTENER: &[&str] = &["events", "buffer_size", "result_handler"];

const FCGI: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];

const SUPERVISORD: &[&str] = &[
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "umask",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "nocleanup",
    "childlogdir",
    "user",
    "directory",
    "strip_ansi",
    "environment",
    "identifier",
    // Documented by Python (read and then ignored).
    "profile_options",
    // Ours.
    "init",
    "remember_stopped",
];

const GROUP: &[&str] = &["programs", "priority"];

const UNIX_HTTP_SERVER: &[&str] = &["file", "chmod", "chown", "username", "password"];

const INET_HTTP_SERVER: &[&str] = &["port", "username", "password"];

const SUPERVISORCTL: &[&str] = &[
    "serverurl",
    "username",
    "password",
    "prompt",
    "history_file",
];

const INCLUDE: &[&str] = &["files"];

/// The keys a section may hold, as lists to search in turn; `None` for sections not checked.
fn known(section: &str) -> Option<Vec<&'static [&'static str]>> {
    let kind = section.split_once(':').map_or(section, |(kind, _)| kind);
    Some(match kind {
        "supervisord" if section == kind => vec![SUPERVISORD],
        "supervisorctl" if section == kind => vec![SUPERVISORCTL],
        "include" if section == kind => vec![INCLUDE],
        "program" => vec![PROGRAM],
        "eventlistener" => vec![PROGRAM, EVENTLISTENER],
        "fcgi-program" => vec![PROGRAM, FCGI],
        "group" => vec![GROUP],
        // The server readers take every section starting with the name.
        _ if section.starts_with("unix_http_server") => vec![UNIX_HTTP_SERVER],
        _ if section.starts_with("inet_http_server") => vec![INET_HTTP_SERVER],
        _ => return None,
    })
}

/// One warning per unknown key in a known section, in file order.
pub(crate) fn unknown_key_warnings(ini: &Ini) -> Vec<String> {
    let mut out = Vec::new();
    for section in ini.sections() {
        let Some(lists) = known(&section.name) else {
            continue;
        };
        let all = || lists.iter().flat_map(|l| l.iter().copied());
        for opt in section.options.iter().filter(|o| !ini.is_default(o)) {
            if all().any(|k| k == opt.name) {
                continue;
            }
            let mut text = format!(
                "unknown key '{}' in [{}] (file {}, line {})",
                opt.name,
                section.name,
                opt.file.display(),
                opt.line
            );
            if let Some(near) = closest(&opt.name, all()) {
                text.push_str(&format!("; did you mean '{near}'?"));
            }
            out.push(text);
        }
    }
    out
}

/// The known key nearest to `key`, when it is within 2 edits and the edits are at most a third
/// of the key (so `usr` suggests `user`, but `foo` suggests nothing).
fn closest<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let len = key.chars().count();
    let limit = 2.min(len / 3).max(1);
    known
        // The distance is at least the difference in length: most keys need no table.
        .filter(|k| k.len().abs_diff(len) <= limit)
        .map(|k| (distance(key, k), k))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and transpositions of
/// neighbours (`stratsecs` is one edit from `startsecs`).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn warnings(text: &str) -> Vec<String> {
        let mut ini = Ini::new();
        ini.read_str(text, Path::new("/etc/x.conf")).unwrap();
        unknown_key_warnings(&ini)
    }

    #[test]
    fn distances() {
        assert_eq!(distance("startsec", "startsecs"), 1);
        assert_eq!(distance("stratsecs", "startsecs"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("same", "same"), 0);
    }

    #[test]
    fn typos_get_suggestions_with_file_and_line() {
        let w = warnings(
            "[supervisord]\nlogfle=/tmp/x\n[program:foo]\ncommand=x\nstartsec=5\n\
             autorestar=true\nfoo=bar\n[group:g]\nprogram=foo\n",
        );
        assert_eq!(
            w,
            [
                "unknown key 'logfle' in [supervisord] (file /etc/x.conf, line 2); did you \
                 mean 'logfile'?",
                "unknown key 'startsec' in [program:foo] (file /etc/x.conf, line 5); did you \
                 mean 'startsecs'?",
                "unknown key 'autorestar' in [program:foo] (file /etc/x.conf, line 6); did you \
                 mean 'autorestart'?",
                "unknown key 'foo' in [program:foo] (file /etc/x.conf, line 7)",
                "unknown key 'program' in [group:g] (file /etc/x.conf, line 9); did you mean \
                 'programs'?",
            ]
        );
    }

    #[test]
    fn section_kinds_have_their_own_keys() {
        assert_eq!(
            warnings("[eventlistener:l]\nevents=TICK\nsocket=tcp://x:1\n"),
            ["unknown key 'socket' in [eventlistener:l] (file /etc/x.conf, line 3)"]
        );
        assert!(warnings("[fcgi-program:f]\nsocket=tcp://x:1\nsocket_mode=0700\n").is_empty());
        assert_eq!(
            warnings("[inet_http_server:two]\nprot=9001\n"),
            [
                "unknown key 'prot' in [inet_http_server:two] (file /etc/x.conf, line 2); did \
                 you mean 'port'?"
            ]
        );
    }

    #[test]
    fn plugin_and_unknown_sections_and_defaults_are_not_checked() {
        assert!(warnings(
            "[DEFAULT]\nanything=%(here)s\n[rpcinterface:x]\nsupervisor.rpcinterface_factory=a:b\n\
             retries=1\n[ctlplugin:y]\nz=1\n[mine]\nwhatever=1\n[program:p]\ncommand=x\n"
        )
        .is_empty());
    }

    fn is_key_line(line: &str) -> bool {
        line.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || "_.".contains(c))
        })
    }

    /// Python's own sample config (`echo_supervisord_conf`) with every commented-out section and
    /// key switched on names each key Python documents: none may be unknown.
    #[test]
    fn every_key_of_pythons_sample_is_known() {
        let text: String = super::super::SAMPLE
            .lines()
            .map(|l| match l.strip_prefix(';') {
                Some(rest) if rest.starts_with('[') || is_key_line(rest) => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let mut ini = Ini::new();
        ini.read_str(&text, Path::new("/etc/sample.conf")).unwrap();
        let sections: Vec<&str> = ini.sections().map(|s| s.name.as_str()).collect();
        assert!(
            sections.contains(&"eventlistener:theeventlistenername"),
            "{sections:?}"
        );
        let keys: usize = ini.sections().map(|s| s.options.len()).sum();
        assert!(keys > 80, "{keys}");
        assert_eq!(unknown_key_warnings(&ini), Vec::<String>::new());
    }

    #[test]
    fn short_keys_only_get_close_suggestions() {
        assert_eq!(closest("usr", PROGRAM.iter().copied()), Some("user"));
        assert_eq!(closest("xyz", PROGRAM.iter().copied()), None);
    }
}
