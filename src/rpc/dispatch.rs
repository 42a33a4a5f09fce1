//! Method dispatch: `namespace.method` → the `system` or `supervisor` implementation, with
//! argument checking shared by all methods.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;

use crate::config::RpcInterface;
use crate::supervisor::Handle;

use super::fault::Fault;
use super::methods;
use super::xml::{self, Value};

/// Answers XML-RPC calls for one daemon. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    handle: Handle,
    /// Namespaces served by the built-in `make_main_rpcinterface` factory (normally just
    /// `supervisor`). Plugin factories cannot be loaded, so their namespaces are absent.
    namespaces: Arc<[String]>,
}

impl Dispatcher {
    /// A dispatcher serving the built-in namespaces among `rpcinterfaces`.
    pub fn new(handle: Handle, rpcinterfaces: &[RpcInterface]) -> Dispatcher {
        let namespaces = rpcinterfaces
            .iter()
            .filter(|r| r.builtin)
            .map(|r| r.name.clone())
            .collect();
        Dispatcher { handle, namespaces }
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The namespaces that have the supervisor methods.
    pub(crate) fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Calls `method` with `params` and encodes its answer, a value or a fault, as a response
    /// body. `getAllProcessInfo` is written straight from the process table's snapshot; the
    /// constant answers (`getState`, the versions) are encoded once per process, since status
    /// polling is the hot path.
    pub async fn respond(&self, method: &str, params: Vec<Value>) -> Bytes {
        if let Ok((namespace, name)) = split_method(method) {
            if params.is_empty() && self.namespaces.iter().any(|n| n == namespace) {
                if name == "getAllProcessInfo" {
                    return Bytes::from(match self.handle.get_all_process_info().await {
                        Ok(infos) => xml::encode_response_with(
                            methods::supervisor::process_infos_size(&infos),
                            |w| methods::supervisor::write_process_infos(w, &infos),
                        ),
                        Err(e) => xml::encode_fault(&Fault::from(e)),
                    });
                }
                if let Some(encoded) = encoded_constant(name) {
                    if self.handle.check_running().await.is_ok() {
                        return encoded;
                    }
                }
            }
        }
        Bytes::from(match self.call(method, params).await {
            Ok(value) => xml::encode_response(&value),
            Err(fault) => xml::encode_fault(&fault),
        })
    }

    /// Calls `method` with `params`. Faults are values here; only the transport fails otherwise.
    pub async fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        let (namespace, name) = split_method(method)?;
        if namespace == "system" {
            methods::system::call(self, name, params).await
        } else if self.namespaces.iter().any(|n| n == namespace) {
            methods::supervisor::call(&self.handle, name, &Args(&params)).await
        } else if namespace == methods::ours::NAMESPACE {
            methods::ours::call(&self.handle, name, &Args(&params)).await
        } else {
            Err(Fault::unknown_method())
        }
    }
}

/// The encoded response of a `supervisor.*` method whose answer is constant while RUNNING.
fn encoded_constant(name: &str) -> Option<Bytes> {
    static ENCODED: LazyLock<Vec<(&'static str, Bytes)>> = LazyLock::new(|| {
        methods::supervisor::constants()
            .map(|(name, value)| (name, Bytes::from(xml::encode_response(&value))))
            .collect()
    });
    ENCODED
        .iter()
        .find(|(method, _)| *method == name)
        .map(|(_, encoded)| encoded.clone())
}

/// `ns.method` → `(ns, method)`. Anything else, or a method starting with `_`, is unknown.
fn split_method(method: &str) -> Result<(&str, &str), Fault> {
    let mut parts = method.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(ns), Some(name), None) if !name.starts_with('_') => Ok((ns, name)),
        _ => Err(Fault::unknown_method()),
    }
}

/// A method's positional parameters with Python-compatible conversions. Every mismatch, in
/// count or in type, is INCORRECT_PARAMETERS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Args<'a>(pub(crate) &'a [Value]);

impl<'a> Args<'a> {
    /// Checks that between `min` and `max` arguments were passed.
    pub(crate) fn count(&self, min: usize, max: usize) -> Result<(), Fault> {
        if (min..=max).contains(&self.0.len()) {
            Ok(())
        } else {
            Err(Fault::incorrect_parameters())
        }
    }

    fn get(&self, i: usize) -> Result<&'a Value, Fault> {
        self.0.get(i).ok_or_else(Fault::incorrect_parameters)
    }

    /// A string argument (base64 holding UTF-8 counts, as Python decodes it to `str`).
    pub(crate) fn string(&self, i: usize) -> Result<&'a str, Fault> {
        match self.get(i)? {
            Value::String(s) => Ok(s),
            Value::Base64(b) => std::str::from_utf8(b).map_err(|_| Fault::incorrect_parameters()),
            _ => Err(Fault::incorrect_parameters()),
        }
    }

    /// An int argument, as Python's `int()` makes one: a string of digits, a boolean, a
    /// double (truncated) count.
    pub(crate) fn int(&self, i: usize) -> Result<i64, Fault> {
        match self.get(i)? {
            Value::Int(n) => Ok(*n),
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Double(f) if f.is_finite() => Ok(f.trunc() as i64),
            Value::String(s) => s.trim().parse().map_err(|_| Fault::incorrect_parameters()),
            _ => Err(Fault::incorrect_parameters()),
        }
    }

    /// An optional boolean argument (`wait`): any value, taken by Python's truthiness, as
    /// Python only ever tests it with `if wait`.
    pub(crate) fn flag(&self, i: usize, default: bool) -> bool {
        match self.0.get(i) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::Int(n)) => *n != 0,
            Some(Value::Double(f)) => *f != 0.0,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Base64(b)) => !b.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Struct(m)) => !m.is_empty(),
            Some(Value::DateTime(_)) => true,
            Some(Value::Nil) => false,
        }
    }

    /// A signal argument: a name or number; Python's `signal_number` applies `int()` first,
    /// so booleans and doubles count as the number they truncate to.
    pub(crate) fn signal(&self, i: usize) -> Result<String, Fault> {
        match self.get(i)? {
            Value::Int(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(i64::from(*b).to_string()),
            Value::Double(f) if f.is_finite() => Ok((f.trunc() as i64).to_string()),
            _ => self.string(i).map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_need_exactly_one_dot_and_no_underscore() {
        assert_eq!(
            split_method("supervisor.getState"),
            Ok(("supervisor", "getState"))
        );
        for bad in ["getState", "a.b.c", "supervisor._update", ""] {
            assert_eq!(split_method(bad), Err(Fault::unknown_method()), "{bad}");
        }
    }

    #[test]
    fn constant_answers_are_encoded_once_as_python_writes_them() {
        let state = encoded_constant("getState").expect("getState is constant");
        assert_eq!(
            &state[..],
            b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n\
<member>\n<name>statecode</name>\n<value><int>1</int></value>\n</member>\n<member>\n\
<name>statename</name>\n<value><string>RUNNING</string></value>\n</member>\n</struct></value>\n\
</param>\n</params>\n</methodResponse>\n"
        );
        assert_eq!(
            state.as_ptr(),
            encoded_constant("getState").unwrap().as_ptr()
        );
        assert!(encoded_constant("getPID").is_none());
    }

    #[test]
    fn args_convert_like_python() {
        let params = [
            Value::from("10"),
            Value::Int(1),
            Value::Double(1.5),
            Value::Base64(b"hi".to_vec()),
        ];
        let args = Args(&params);
        assert_eq!(args.int(0), Ok(10));
        assert!(args.flag(1, false));
        assert!(args.flag(9, true));
        assert!(args.flag(2, false), "1.5 is true");
        assert_eq!(args.int(2), Ok(1));
        let falsy = [
            Value::from(""),
            Value::Double(0.0),
            Value::Array(vec![]),
            Value::Nil,
        ];
        assert!((0..falsy.len()).all(|i| !Args(&falsy).flag(i, true)));
        assert_eq!(args.string(1), Err(Fault::incorrect_parameters()));
        assert_eq!(args.string(3), Ok("hi"));
        assert_eq!(args.signal(1), Ok("1".to_string()));
        assert_eq!(args.count(0, 3), Err(Fault::incorrect_parameters()));
    }
}
