//! The `supervisor_rs.*` namespace (ours): what Supervisor has no method for. Kept out of
//! `system.listMethods`, whose answer stays Python's byte for byte (tools compare it);
//! `supervisor_rs.listMethods` lists these.

use crate::supervisor::{DependsInfo, Handle, HealthInfo, ScheduleInfo, TreeInfo};

use crate::rpc::dispatch::Args;
use crate::rpc::fault::Fault;
use crate::rpc::xml::Value;

/// The namespace's name.
pub(crate) const NAMESPACE: &str = "supervisor_rs";

/// Every method of the namespace, as `listMethods` gives them.
const METHODS: [&str; 9] = [
    "supervisor_rs.getAllProcessDependencies",
    "supervisor_rs.getAllProcessHealth",
    "supervisor_rs.getAllProcessSchedules",
    "supervisor_rs.getAllProcessTrees",
    "supervisor_rs.getProcessDependencies",
    "supervisor_rs.getProcessHealth",
    "supervisor_rs.getProcessSchedule",
    "supervisor_rs.getProcessTree",
    "supervisor_rs.listMethods",
];

/// One `HealthInfo` as a struct (integers as `<int>`, as everywhere).
fn health(h: HealthInfo) -> Value {
    Value::structure([
        ("name", Value::from(h.name)),
        ("group", Value::from(h.group)),
        ("health", Value::from(h.status)),
        ("failures", Value::Int(i64::from(h.failures))),
        ("checked", Value::Int(h.checked)),
        ("passed", Value::Bool(h.passed)),
        ("output", Value::from(h.output)),
    ])
}

/// One `DependsInfo` as a struct: each dependency with whether it is met, whether the process
/// waits for them, and why its start was given up (empty if it was not).
fn depends(d: DependsInfo) -> Value {
    let deps = d.depends_on.into_iter().map(|dep| {
        Value::structure([
            ("name", Value::from(dep.name)),
            ("condition", Value::from(dep.condition)),
            ("met", Value::Bool(dep.met)),
        ])
    });
    Value::structure([
        ("name", Value::from(d.name)),
        ("group", Value::from(d.group)),
        ("depends_on", Value::Array(deps.collect())),
        ("waiting", Value::Bool(d.waiting)),
        ("blocked", Value::from(d.blocked)),
    ])
}

/// One `ScheduleInfo` as a struct (times as epoch seconds, `<int>`s).
fn schedule(s: ScheduleInfo) -> Value {
    Value::structure([
        ("name", Value::from(s.name)),
        ("group", Value::from(s.group)),
        ("kind", Value::from(s.kind)),
        ("schedule", Value::from(s.schedule)),
        ("timezone", Value::from(s.timezone)),
        ("overlap", Value::from(s.overlap)),
        ("next", Value::Int(s.next)),
        ("last_start", Value::Int(s.last_start)),
        ("last_exitstatus", Value::Int(s.last_exitstatus)),
        ("running", Value::Bool(s.running)),
    ])
}

/// One `TreeInfo` as a struct: sizes in KiB and CPU in microseconds, so that they stay
/// plain `<int>`s any client reads.
fn tree(t: TreeInfo) -> Value {
    Value::structure([
        ("name", Value::from(t.name)),
        ("group", Value::from(t.group)),
        ("pid", Value::Int(i64::from(t.pid))),
        (
            "pids",
            Value::Array(t.pids.iter().map(|&p| Value::Int(i64::from(p))).collect()),
        ),
        (
            "rss_kb",
            Value::Int(i64::try_from(t.usage.rss_kb).unwrap_or(i64::MAX)),
        ),
        (
            "cpu_usec",
            Value::Int(i64::try_from(t.usage.cpu_usec).unwrap_or(i64::MAX)),
        ),
    ])
}

/// The one entry a namespec's query answers, BAD_NAME when there is none.
fn only<T>(mut all: Vec<T>, name: &str) -> Result<T, Fault> {
    all.pop()
        .ok_or_else(|| Fault::from(crate::supervisor::SupervisorError::BadName(name.into())))
}

pub(crate) async fn call(handle: &Handle, name: &str, args: &Args<'_>) -> Result<Value, Fault> {
    match name {
        "listMethods" => {
            args.count(0, 0)?;
            Ok(Value::Array(
                METHODS.iter().map(|&m| Value::from(m)).collect(),
            ))
        }
        "getProcessHealth" => {
            args.count(1, 1)?;
            let name = args.string(0)?;
            let mut all = handle.get_health(Some(name)).await?;
            all.pop().map(health).ok_or_else(|| {
                Fault::from(crate::supervisor::SupervisorError::BadName(name.into()))
            })
        }
        "getAllProcessHealth" => {
            args.count(0, 0)?;
            let all = handle.get_health(None).await?;
            Ok(Value::Array(all.into_iter().map(health).collect()))
        }
        "getProcessDependencies" => {
            args.count(1, 1)?;
            let name = args.string(0)?;
            only(handle.get_depends(Some(name)).await?, name).map(depends)
        }
        "getAllProcessDependencies" => {
            args.count(0, 0)?;
            let all = handle.get_depends(None).await?;
            Ok(Value::Array(all.into_iter().map(depends).collect()))
        }
        "getProcessTree" => {
            args.count(1, 1)?;
            let name = args.string(0)?;
            only(handle.get_trees(Some(name)).await?, name).map(tree)
        }
        "getProcessSchedule" => {
            args.count(1, 1)?;
            let name = args.string(0)?;
            only(handle.get_schedules(Some(name)).await?, name).map(schedule)
        }
        "getAllProcessSchedules" => {
            args.count(0, 0)?;
            let all = handle.get_schedules(None).await?;
            Ok(Value::Array(all.into_iter().map(schedule).collect()))
        }
        "getAllProcessTrees" => {
            args.count(0, 0)?;
            let all = handle.get_trees(None).await?;
            Ok(Value::Array(all.into_iter().map(tree).collect()))
        }
        _ => Err(Fault::unknown_method()),
    }
}
