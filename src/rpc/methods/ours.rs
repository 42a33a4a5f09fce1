//! The `supervisor_rs.*` namespace (ours): what Supervisor has no method for. Kept out of
//! `system.listMethods`, whose answer stays Python's byte for byte (tools compare it);
//! `supervisor_rs.listMethods` lists these.

use crate::supervisor::{Handle, HealthInfo};

use crate::rpc::dispatch::Args;
use crate::rpc::fault::Fault;
use crate::rpc::xml::Value;

/// The namespace's name.
pub(crate) const NAMESPACE: &str = "supervisor_rs";

/// Every method of the namespace, as `listMethods` gives them.
const METHODS: [&str; 3] = [
    "supervisor_rs.getAllProcessHealth",
    "supervisor_rs.getProcessHealth",
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
        _ => Err(Fault::unknown_method()),
    }
}
