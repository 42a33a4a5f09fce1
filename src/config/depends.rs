//! `depends_on = NAME[=CONDITION], ...` (ours): what a program waits for before it starts, and
//! what waits for it to stop. Parsed per program section; the names are resolved and the graph
//! checked for cycles once every group is read, so a typo or a loop is a config error naming
//! the name or the cycle, before anything runs.

use std::collections::{BTreeMap, BTreeSet};

use super::error::{ConfigError, ErrorKind};
use super::model::GroupConfig;
use super::reader::Reader;
use super::types::{self, ValueError};

/// What a dependency must reach before its dependent starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// RUNNING (the default).
    Started,
    /// RUNNING and its health check passed (RUNNING alone without a health check).
    Healthy,
    /// EXITED with one of its `exitcodes`: a run-to-completion job (a migration) finished.
    Completed,
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}

/// One `NAME[=CONDITION]` of `depends_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The name as written: a program, a group, or `group:program`.
    pub name: String,
    pub condition: Condition,
    /// The processes it names, as namespecs (`group:process`), resolved once every group is
    /// read.
    pub members: Vec<String>,
}

/// The value of `depends_on`: comma-separated `NAME[=CONDITION]`, members not yet resolved.
pub(crate) fn parse(value: &str) -> types::Result<Vec<Dependency>> {
    let mut deps = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, condition) = match item.split_once('=') {
            None => (item, Condition::Started),
            Some((name, cond)) => {
                let condition = match cond.trim() {
                    "started" => Condition::Started,
                    "healthy" => Condition::Healthy,
                    "completed" => Condition::Completed,
                    other => {
                        return Err(ValueError(format!(
                            "depends_on: unknown condition {other:?} for {} (use started, \
                             healthy or completed)",
                            name.trim()
                        )))
                    }
                };
                (name.trim(), condition)
            }
        };
        if name.is_empty() {
            return Err(ValueError(format!("depends_on: {item:?} names nothing")));
        }
        deps.push(Dependency {
            name: name.to_string(),
            condition,
            members: Vec::new(),
        });
    }
    Ok(deps)
}

/// The section a program's processes came from (`program:x` or `fcgi-program:x`).
fn section_of(r: &Reader, program: &str) -> String {
    let plain = format!("program:{program}");
    if r.ini.has_section(&plain) {
        plain
    } else {
        format!("fcgi-program:{program}")
    }
}

/// The namespecs `name` stands for: `group:process` (or `group:*`), a group, or a program.
fn resolve(groups: &[GroupConfig], name: &str) -> Vec<String> {
    let spec = |g: &GroupConfig, p: &str| format!("{}:{p}", g.name);
    if let Some((group, process)) = name.split_once(':') {
        return groups
            .iter()
            .filter(|g| g.name == group)
            .flat_map(|g| {
                g.processes
                    .iter()
                    .filter(|p| process == "*" || p.name == process)
                    .map(move |p| spec(g, &p.name))
            })
            .collect();
    }
    if let Some(g) = groups.iter().find(|g| g.name == name) {
        return g.processes.iter().map(|p| spec(g, &p.name)).collect();
    }
    groups
        .iter()
        .flat_map(|g| {
            g.processes
                .iter()
                .filter(|p| p.program_name == name)
                .map(move |p| spec(g, &p.name))
        })
        .collect()
}

/// Resolves every `depends_on` name to its processes and rejects unknown names and cycles
/// (between program sections: a program that depends on its own group is a cycle too).
pub(crate) fn resolve_all(r: &Reader, groups: &mut [GroupConfig], errors: &mut Vec<ConfigError>) {
    let error = |program: &str, message: String| {
        let section = section_of(r, program);
        let opt = r.ini.get(&section, "depends_on").cloned();
        r.error(
            ErrorKind::Value,
            message,
            &section,
            opt.as_ref(),
            Some("depends_on"),
        )
    };
    let mut resolved: Vec<(usize, usize, Vec<Vec<String>>)> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        for (pi, p) in g.processes.iter().enumerate() {
            if p.depends_on.is_empty() {
                continue;
            }
            let mut members = Vec::new();
            for dep in &p.depends_on {
                let found = resolve(groups, &dep.name);
                if found.is_empty() {
                    errors.push(error(
                        &p.program_name,
                        format!(
                            "depends_on names {:?}, which is no program or group",
                            dep.name
                        ),
                    ));
                    return;
                }
                members.push(found);
            }
            resolved.push((gi, pi, members));
        }
    }
    // The graph between programs: program -> the programs of the processes it depends on.
    let program_of: BTreeMap<String, String> = groups
        .iter()
        .flat_map(|g| {
            g.processes
                .iter()
                .map(move |p| (format!("{}:{}", g.name, p.name), p.program_name.clone()))
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (gi, pi, members) in &resolved {
        let from = groups[*gi].processes[*pi].program_name.clone();
        let to = members.iter().flatten().filter_map(|m| program_of.get(m));
        edges.entry(from).or_default().extend(to.cloned());
    }
    if let Some(cycle) = find_cycle(&edges) {
        errors.push(error(
            &cycle[0],
            format!("depends_on makes a cycle: {}", cycle.join(" -> ")),
        ));
        return;
    }
    for (gi, pi, members) in resolved {
        let p = std::sync::Arc::make_mut(&mut groups[gi].processes[pi]);
        for (dep, found) in p.depends_on.iter_mut().zip(members) {
            dep.members = found;
        }
    }
}

/// A cycle of `edges` as a path that ends where it starts (`[a, b, a]`), if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::OnPath) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::OnPath);
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in edges.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(node, edges, &mut marks, &mut path) {
            return Some(cycle);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_conditions_parse() {
        let deps = parse(" db=healthy, cache ,migrate = completed,g:web=started").unwrap();
        let got: Vec<(&str, Condition)> = deps
            .iter()
            .map(|d| (d.name.as_str(), d.condition))
            .collect();
        assert_eq!(
            got,
            [
                ("db", Condition::Healthy),
                ("cache", Condition::Started),
                ("migrate", Condition::Completed),
                ("g:web", Condition::Started),
            ]
        );
        assert!(parse("db=ready")
            .unwrap_err()
            .0
            .contains("unknown condition \"ready\""));
        assert!(parse("=healthy").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn a_cycle_is_found_and_a_dag_is_not() {
        let graph = |pairs: &[(&str, &str)]| {
            let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (a, b) in pairs {
                edges
                    .entry(a.to_string())
                    .or_default()
                    .insert(b.to_string());
            }
            edges
        };
        let dag = graph(&[("web", "db"), ("web", "cache"), ("cache", "db")]);
        assert_eq!(find_cycle(&dag), None);
        let cyclic = graph(&[("web", "db"), ("db", "cache"), ("cache", "web")]);
        assert_eq!(
            find_cycle(&cyclic).unwrap(),
            ["cache", "web", "db", "cache"]
        );
        assert_eq!(find_cycle(&graph(&[("a", "a")])).unwrap(), ["a", "a"]);
    }
}
