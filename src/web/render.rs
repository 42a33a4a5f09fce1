//! The page rendered on the server, so it works without JavaScript and for plain HTTP clients
//! (`curl`, `requests`), as Python's page does: the process table in exactly the markup
//! `app.js` builds (which rebuilds it from its first snapshot, so script users see no change),
//! each action a form posting to `/web/api/`, `?message=` shown, and `tail.html`'s log text.
//!
//! `index.html` stays the one template: its `{{name}}` markers are filled in one pass over the
//! template, so text from a process that looks like a marker is never filled in turn. Every
//! value from a process, the config or the query string goes through [`escape`].

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::Response;

use super::events::{self, Row, Table};
use crate::rpc::fault::code;
use crate::supervisor::{Channel, Handle};

/// Python's tail page shows at least this much of the log, whatever `limit` asks.
const TAIL_MIN: u64 = 1024;

/// `GET /` and `/index.html`: the status page.
pub(super) async fn status(handle: &Handle, query: Option<&str>) -> Response {
    page(handle, query, None).await
}

/// `GET /tail.html?processname=<ns>[&limit=<n>]`: the status page with the last
/// max(limit, 1024) bytes of the process's stdout log in it, in Python's words.
pub(super) async fn tail(handle: &Handle, query: Option<&str>) -> Response {
    let name = param(query, "processname").filter(|n| !n.is_empty());
    let limit = param(query, "limit")
        .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        // All digits, so a parse can only fail by being too large: as much as there is.
        .map_or(TAIL_MIN, |l| l.parse().unwrap_or(u64::MAX))
        .max(TAIL_MIN);
    let text = match &name {
        None => "No process name found".to_string(),
        Some(name) => {
            let back = i64::try_from(limit).unwrap_or(i64::MAX);
            match crate::rpc::read_process_log(handle, name, Channel::Stdout, -back, 0).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(fault) if fault.code == code::NO_FILE => format!("No file for {name}"),
                Err(fault) => format!(
                    "ERROR: unexpected rpc fault [{}] {}",
                    fault.code, fault.string
                ),
            }
        }
    };
    page(handle, query, Some(Tail { name, limit, text })).await
}

/// What `tail.html` shows above the table.
struct Tail {
    name: Option<String>,
    limit: u64,
    text: String,
}

async fn page(handle: &Handle, query: Option<&str>, tail: Option<Tail>) -> Response {
    let Some(table) = events::table(handle).await else {
        return crate::http::error(StatusCode::SERVICE_UNAVAILABLE);
    };
    let message = param(query, "message");
    super::assets::html(fill(&table, message.as_deref(), tail.as_ref()))
}

/// The template with every marker filled.
fn fill(table: &Table, message: Option<&str>, tail: Option<&Tail>) -> String {
    let title = match tail {
        // Python's title, `None` and all when no name was given.
        Some(tail) => format!(
            "Supervisor tail of process {}",
            tail.name.as_deref().unwrap_or("None")
        ),
        None => format!("Supervisor Status ({})", table.identifier),
    };
    let template = super::assets::INDEX;
    let mut out = String::with_capacity(template.len() + 256 * table.infos.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        match &rest[start + 2..start + len] {
            "title" => out.push_str(&escape(&title)),
            "identifier" => out.push_str(&escape(&table.identifier)),
            "version" => out.push_str(&escape(crate::VERSION)),
            "message" => message_html(&mut out, message),
            "tail" => tail.into_iter().for_each(|t| tail_html(&mut out, t)),
            "rows" => rows_html(&mut out, table),
            "empty" => out.push_str(if table.infos.is_empty() {
                r#"<p id="empty">No programs to manage</p>"#
            } else {
                r#"<p id="empty" hidden>No programs to manage</p>"#
            }),
            other => unreachable!("index.html has an unknown marker {{{{{other}}}}}"),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// `#message`, hidden when there is none; Python's error messages (and ours from a form post)
/// start with `ERROR`, which is what makes one an error here.
fn message_html(out: &mut String, message: Option<&str>) {
    let _ = match message.filter(|m| !m.is_empty()) {
        None => write!(
            out,
            r#"<p id="message" role="status" aria-live="polite" hidden></p>"#
        ),
        Some(m) => write!(
            out,
            r#"<p id="message" role="status" aria-live="polite" class="{}">{}</p>"#,
            if m.starts_with("ERROR") {
                "error"
            } else {
                "ok"
            },
            escape(m)
        ),
    };
}

/// The static tail, which `app.js` removes (it opens the live log view instead).
fn tail_html(out: &mut String, tail: &Tail) {
    let heading = tail.name.as_deref().unwrap_or("Tail");
    let _ = write!(
        out,
        r#"<section id="static-tail" aria-labelledby="static-tail-title"><h2 id="static-tail-title">{}</h2><pre id="static-tail-text">{}</pre>"#,
        escape(heading),
        escape(&tail.text)
    );
    if let Some(name) = &tail.name {
        let _ = write!(
            out,
            r#"<a class="button" href="/tail.html?processname={}&amp;limit={}">Refresh</a>"#,
            quote(name, b""),
            tail.limit
        );
    }
    out.push_str("</section>");
}

/// The table's bodies as `app.js`'s `buildTable` makes them: a `tbody.loose` for the programs
/// alone in their namesake group (always there, first), then one `tbody.group` per other group,
/// rows sorted as Python's page sorts them (group, then name).
fn rows_html(out: &mut String, table: &Table) {
    let mut rows: Vec<Row> = table.infos.iter().map(Row::new).collect();
    rows.sort_by(|a, b| (a.group, a.name).cmp(&(b.group, b.name)));
    let mut groups: Vec<&[Row]> = rows.chunk_by(|a, b| a.group == b.group).collect();
    let alone = |g: &&[Row]| g.len() == 1 && g[0].name == g[0].group;
    out.push_str(r#"<tbody class="loose">"#);
    for group in groups.iter().filter(|g| alone(g)) {
        row_html(out, &group[0]);
    }
    out.push_str("</tbody>");
    groups.retain(|g| !alone(g));
    for members in groups {
        let group = escape(members[0].group);
        let up = members.iter().filter(|r| r.state == "RUNNING").count();
        let _ = write!(
            out,
            r#"<tbody class="group" data-group="{group}"><tr class="group-head"><th colspan="4" scope="rowgroup"><button type="button" class="fold" aria-expanded="true"><span class="chevron" aria-hidden="true"></span>{group}</button><span class="group-count">{up}/{} running</span></th></tr>"#,
            members.len()
        );
        for row in members {
            row_html(out, row);
        }
        out.push_str("</tbody>");
    }
}

/// One `tr.proc` as `makeRow` makes it, with the actions Python's page offers in that state
/// (Restart and Stop when RUNNING, Start when STOPPED, EXITED or FATAL; Clear log and Tail
/// always), each a form, so a click acts without script.
fn row_html(out: &mut String, row: &Row) {
    let ns = escape(&row.namespec);
    let lower = row.state.to_ascii_lowercase();
    let _ = write!(
        out,
        r#"<tr class="proc" data-namespec="{ns}" data-state="{}"><td class="status"><span class="state s-{lower}">{lower}</span></td><td class="desc"><span class="text">{}</span><span class="tags">"#,
        row.state,
        escape(&row.description)
    );
    tags_html(out, row);
    let _ = write!(
        out,
        r#"</span></td><td class="name">{ns}</td><td class="actions">"#
    );
    let verbs: &[(&str, &str)] = match row.state {
        "RUNNING" => &[("restart", "Restart"), ("stop", "Stop")],
        "STOPPED" | "EXITED" | "FATAL" => &[("start", "Start")],
        _ => &[],
    };
    let encoded = quote(&row.namespec, b"");
    for (verb, label) in verbs.iter().chain(&[("clearlog", "Clear log")]) {
        let class = if *verb == "clearlog" { "clear" } else { verb };
        let _ = write!(
            out,
            r#"<form method="post" action="/web/api/{verb}/{encoded}"><button type="submit" class="{class}" aria-label="{label} {ns}">{label}</button></form>"#
        );
    }
    let _ = write!(
        out,
        r#"<a class="button tail" href="/tail.html?processname={encoded}" aria-label="Tail {ns}">Tail</a></td></tr>"#
    );
}

/// What our additions say of a row, as `app.js`'s `tagsOf`: the health check's verdict, a wait
/// for dependencies, the next scheduled run (in the daemon's time zone; the script shows the
/// browser's).
fn tags_html(out: &mut String, row: &Row) {
    if row.health != "none" {
        let text = match row.health {
            "unknown" => "health unknown",
            other => other,
        };
        let _ = write!(out, r#"<span class="tag h-{}">{text}</span>"#, row.health);
    }
    if row.waiting {
        out.push_str(r#"<span class="tag waiting">waiting for dependencies</span>"#);
    }
    if let Ok(when) = jiff::Timestamp::from_second(row.next_run) {
        if row.next_run > 0 {
            let local = when.to_zoned(jiff::tz::TimeZone::system());
            let _ = write!(
                out,
                r#"<span class="tag next">next run <time datetime="{when}">{}</time></span>"#,
                local.strftime("%Y-%m-%d %H:%M:%S")
            );
        }
    }
}

/// Text made safe for HTML content and quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Python's `urllib.parse.quote(text, safe)`: every byte but letters, digits, `_.-~` and
/// `safe` as `%XX`.
pub(super) fn quote(text: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The first value of `key` in a query string, decoded as a form field (`+` is a space).
fn param(query: Option<&str>, key: &str) -> Option<String> {
    let decode = |s: &str| crate::http::percent_decode(&s.replace('+', " "));
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_quote_as_python() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('&')">"#),
            "&lt;img src=x onerror=&quot;a(&#39;&amp;&#39;)&quot;&gt;"
        );
        assert_eq!(quote("g:p 1/é", b""), "g%3Ap%201%2F%C3%A9");
        assert_eq!(
            quote("Process a/b stopped", b"/"),
            "Process%20a/b%20stopped"
        );
    }

    #[test]
    fn every_marker_is_filled_and_process_text_is_not_a_marker() {
        let table = Table {
            identifier: "{{rows}}<i>".to_string(),
            infos: Vec::new(),
        };
        let page = fill(&table, Some("ERROR: <b>{{title}}</b>"), None);
        assert!(!page.contains("{{rows}}<i>") && !page.contains("{{title}}</b>"));
        // Twice the identifier, once the message; nothing else is left.
        assert_eq!(page.matches("{{").count(), 3, "{page}");
        assert!(page.contains("<title>Supervisor Status ({{rows}}&lt;i&gt;)</title>"));
        assert!(page.contains(r#"class="error">ERROR: &lt;b&gt;{{title}}&lt;/b&gt;</p>"#));
        assert!(page.contains(r#"<p id="empty">No programs to manage</p>"#));
        assert!(page.contains(r#"<tbody class="loose"></tbody>"#));
        let tail = Tail {
            name: None,
            limit: TAIL_MIN,
            text: "No process name found".to_string(),
        };
        let page = fill(&table, None, Some(&tail));
        assert!(page.contains("<title>Supervisor tail of process None</title>"));
        assert!(page.contains(r#"<pre id="static-tail-text">No process name found</pre>"#));
        assert!(!page.contains("Refresh"));
    }

    #[test]
    fn query_fields_are_decoded_once() {
        let q = Some("processname=a%3Ab&message=x+y%2B%3Cb%3E&limit");
        assert_eq!(param(q, "processname").as_deref(), Some("a:b"));
        assert_eq!(param(q, "message").as_deref(), Some("x y+<b>"));
        assert_eq!(param(q, "limit").as_deref(), Some(""));
        assert_eq!(param(q, "action"), None);
        assert_eq!(param(None, "message"), None);
    }
}
