//! The XML-RPC fuzz target's per-input code (`fuzz/fuzz_targets/xmlrpc.rs`), also run on stable
//! over the kept corpus and crashes by `tests/fuzz_replay.rs`. Not an API.
//!
//! One input is a body, read both as a call (what the daemon parses) and as a response (what
//! `supervisorctl` parses). Whatever parses must survive our encoder: encoding it and parsing
//! that again gives the same value back.

use super::xml::{self, Value};

/// Parses one body both ways; panics only on a bug.
pub fn run(data: &[u8]) {
    if let Ok(call) = xml::parse_call(data) {
        let body = xml::encode_call(&call.name, &call.params);
        let again = xml::parse_call(body.as_bytes())
            .unwrap_or_else(|e| panic!("our encoding of {call:?} does not parse: {e}\n{body}"));
        assert_eq!(eol(&call.name), again.name, "{body}");
        assert!(
            call.params.len() == again.params.len()
                && call
                    .params
                    .iter()
                    .zip(&again.params)
                    .all(|(a, b)| same(a, b)),
            "{call:?} came back as {again:?}\n{body}"
        );
    }
    match xml::parse_response(data) {
        Ok(Ok(value)) => {
            let body = xml::encode_response(&value);
            match xml::parse_response(body.as_bytes()) {
                Ok(Ok(again)) if same(&value, &again) => {}
                other => panic!("{value:?} came back as {other:?}\n{body}"),
            }
        }
        Ok(Err(fault)) => {
            let body = xml::encode_fault(&fault);
            match xml::parse_response(body.as_bytes()) {
                Ok(Err(again))
                    if again.code == fault.code && again.string == eol(&fault.string) => {}
                other => panic!("{fault:?} came back as {other:?}\n{body}"),
            }
        }
        Err(_) => {}
    }
}

/// XML's end-of-line handling: a `\r` that reached a string through `&#13;` or CDATA is written
/// raw by the encoder (as Python's `xmlrpc.client` writes it) and read back as `\n`.
fn eol(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Equal after a trip through the encoder: strings up to [`eol`], any NaN equal to any NaN.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => eol(a) == eol(b),
        (Value::Double(a), Value::Double(b)) => a == b || (a.is_nan() && b.is_nan()),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Struct(a), Value::Struct(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| eol(ka) == eol(kb) && same(va, vb))
        }
        _ => a == b,
    }
}
