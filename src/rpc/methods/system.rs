//! The `system.*` namespace (`xmlrpc.py`'s `SystemNamespaceRPCInterface`): introspection and
//! `multicall`.

use crate::rpc::dispatch::{Args, Dispatcher};
use crate::rpc::fault::Fault;
use crate::rpc::help::METHODS;
use crate::rpc::xml::Value;

/// Calls one `system.*` method by its bare name.
pub(crate) async fn call(
    dispatcher: &Dispatcher,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    let args = Args(&params);
    match method {
        "listMethods" => {
            args.count(0, 0)?;
            let mut names = published(dispatcher)
                .map(|(name, _, _)| name)
                .collect::<Vec<_>>();
            names.sort();
            Ok(Value::Array(names.into_iter().map(Value::from).collect()))
        }
        "methodHelp" => {
            args.count(1, 1)?;
            let (_, _, doc) = lookup(dispatcher, &params[0])?;
            Ok(Value::from(doc))
        }
        "methodSignature" => {
            args.count(1, 1)?;
            let (_, signature, _) = lookup(dispatcher, &params[0])?;
            Ok(Value::Array(
                signature.iter().map(|&t| Value::from(t)).collect(),
            ))
        }
        "multicall" => {
            args.count(1, 1)?;
            let Value::Array(calls) = &params[0] else {
                return Err(Fault::incorrect_parameters());
            };
            let mut results = Vec::with_capacity(calls.len());
            for call in calls {
                let result = match one_call(call) {
                    Ok((name, params)) => Box::pin(dispatcher.call(name, params)).await,
                    Err(fault) => Err(fault),
                };
                results.push(result.unwrap_or_else(|fault| fault.to_value()));
            }
            Ok(Value::Array(results))
        }
        _ => Err(Fault::unknown_method()),
    }
}

/// Checks one `{methodName, params}` entry of a multicall.
fn one_call(call: &Value) -> Result<(&str, Vec<Value>), Fault> {
    let Value::Struct(_) = call else {
        return Err(Fault::incorrect_parameters());
    };
    let name = match call.member("methodName") {
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(Fault::unknown_method()),
        None => return Err(Fault::incorrect_parameters_with("No methodName")),
    };
    if name == "system.multicall" {
        return Err(Fault::incorrect_parameters_with(
            "Recursive system.multicall forbidden",
        ));
    }
    let params = match call.member("params") {
        None => Vec::new(),
        Some(Value::Array(params)) => params.clone(),
        Some(_) => return Err(Fault::incorrect_parameters()),
    };
    Ok((name, params))
}

/// Every published method as `(full name, signature, docstring)`: the `system` methods and the
/// supervisor methods under each built-in namespace.
fn published(
    dispatcher: &Dispatcher,
) -> impl Iterator<Item = (String, &'static [&'static str], &'static str)> + '_ {
    METHODS.iter().flat_map(move |&(name, signature, doc)| {
        let (namespace, bare) = name.split_once('.').unwrap_or(("", name));
        let namespaces: Vec<&str> = if namespace == "system" {
            vec!["system"]
        } else {
            dispatcher.namespaces().iter().map(String::as_str).collect()
        };
        namespaces
            .into_iter()
            .map(move |ns| (format!("{ns}.{bare}"), signature, doc))
    })
}

fn lookup(
    dispatcher: &Dispatcher,
    name: &Value,
) -> Result<(String, &'static [&'static str], &'static str), Fault> {
    let Value::String(name) = name else {
        return Err(Fault::signature_unsupported());
    };
    published(dispatcher)
        .find(|(full, _, _)| full == name)
        .ok_or_else(Fault::signature_unsupported)
}
