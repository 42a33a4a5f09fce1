//! The XML-RPC codec shared by the daemon and clients: a [`Value`] type, a tolerant parser for
//! calls and responses, and an encoder whose output is byte-identical to Python's
//! `xmlrpc.client.dumps`.
//!
//! The parser never expands entities declared in a DTD: any `<!DOCTYPE>` is refused, and only
//! the five predefined entities and character references are resolved.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::NaiveDateTime;

use super::fault::Fault;

/// One XML-RPC value. Structs keep their members in insertion order, as Python dicts do.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Encoded as `<int>`; `<i4>`, `<int>` and `<i8>` all decode here.
    Int(i64),
    Bool(bool),
    String(String),
    Double(f64),
    DateTime(NaiveDateTime),
    Base64(Vec<u8>),
    Array(Vec<Value>),
    Struct(Vec<(String, Value)>),
    Nil,
}

impl Value {
    /// A struct from `(key, value)` pairs, in the given order.
    pub fn structure<const N: usize>(members: [(&str, Value); N]) -> Value {
        Value::Struct(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// The member named `key`, if this is a struct that has one.
    pub fn member(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i64::from(i))
    }
}

/// A parsed `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    pub name: String,
    pub params: Vec<Value>,
}

/// Why a body could not be parsed. Servers answer HTTP 400; the detail is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid XML-RPC body: {0}")]
pub struct ParseError(String);

fn bad(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

mod read;

pub use read::{parse_call, parse_response};

/// Escapes text as Python's `xmlrpc.client.escape` does: `&`, `<`, `>` only.
fn escape(out: &mut String, s: &str) {
    // Most strings are short and plain: a byte scan beats setting up a vector search.
    if s.len() < 32 && !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>')) {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for i in memchr::memchr3_iter(b'&', b'<', b'>', s.as_bytes()) {
        let replacement = match s.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        };
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// The encoder: appends values exactly as Python's `Marshaller.__dump` writes them. Values can
/// be written from a [`Value`] tree or straight from the data they describe, with the same bytes.
pub struct Writer<'a> {
    out: &'a mut String,
}

impl Writer<'_> {
    pub fn int(&mut self, i: i64) {
        self.out.push_str("<value><int>");
        self.out.push_str(itoa::Buffer::new().format(i));
        self.out.push_str("</int></value>\n");
    }

    pub fn boolean(&mut self, b: bool) {
        self.out.push_str(if b {
            "<value><boolean>1</boolean></value>\n"
        } else {
            "<value><boolean>0</boolean></value>\n"
        });
    }

    pub fn string(&mut self, s: &str) {
        self.out.push_str("<value><string>");
        escape(self.out, s);
        self.out.push_str("</string></value>\n");
    }

    pub fn begin_array(&mut self) {
        self.out.push_str("<value><array><data>\n");
    }

    pub fn end_array(&mut self) {
        self.out.push_str("</data></array></value>\n");
    }

    pub fn begin_struct(&mut self) {
        self.out.push_str("<value><struct>\n");
    }

    /// Opens a member named `name`: its value is written next, then [`Writer::end_member`].
    pub fn member(&mut self, name: &str) {
        self.out.push_str("<member>\n<name>");
        escape(self.out, name);
        self.out.push_str("</name>\n");
    }

    pub fn end_member(&mut self) {
        self.out.push_str("</member>\n");
    }

    pub fn end_struct(&mut self) {
        self.out.push_str("</struct></value>\n");
    }

    /// A string member named by a constant that needs no escaping.
    pub fn string_member(&mut self, name: &'static str, value: &str) {
        debug_assert!(!name.contains(['&', '<', '>']));
        self.out.push_str("<member>\n<name>");
        self.out.push_str(name);
        self.out.push_str("</name>\n<value><string>");
        escape(self.out, value);
        self.out.push_str("</string></value>\n</member>\n");
    }

    /// An int member named by a constant that needs no escaping.
    pub fn int_member(&mut self, name: &'static str, value: i64) {
        debug_assert!(!name.contains(['&', '<', '>']));
        self.out.push_str("<member>\n<name>");
        self.out.push_str(name);
        self.out.push_str("</name>\n<value><int>");
        self.out.push_str(itoa::Buffer::new().format(value));
        self.out.push_str("</int></value>\n</member>\n");
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Int(i) => self.int(*i),
            Value::Bool(b) => self.boolean(*b),
            Value::String(s) => self.string(s),
            Value::Double(f) => {
                let _ = writeln!(
                    self.out,
                    "<value><double>{}</double></value>",
                    python_float(*f)
                );
            }
            Value::DateTime(t) => {
                let _ = writeln!(
                    self.out,
                    "<value><dateTime.iso8601>{}</dateTime.iso8601></value>",
                    t.format("%Y%m%dT%H:%M:%S")
                );
            }
            Value::Base64(bytes) => {
                self.out.push_str("<value><base64>\n");
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                // `base64.encodebytes`: lines of 76 characters, each ending in a newline.
                for line in encoded.as_bytes().chunks(76) {
                    self.out
                        .push_str(std::str::from_utf8(line).unwrap_or_default());
                    self.out.push('\n');
                }
                self.out.push_str("</base64></value>\n");
            }
            Value::Array(items) => {
                self.begin_array();
                for item in items {
                    self.value(item);
                }
                self.end_array();
            }
            Value::Struct(members) => {
                self.begin_struct();
                for (k, v) in members {
                    self.member(k);
                    self.value(v);
                    self.end_member();
                }
                self.end_struct();
            }
            Value::Nil => self.out.push_str("<value><nil/></value>"),
        }
    }
}

/// Roughly how many bytes `v` encodes to, so the output is allocated once.
fn size_hint(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 40,
        Value::Base64(b) => b.len() * 4 / 3 + b.len() / 57 + 40,
        Value::Array(items) => items.iter().map(size_hint).sum::<usize>() + 48,
        Value::Struct(members) => {
            members
                .iter()
                .map(|(k, v)| k.len() + 32 + size_hint(v))
                .sum::<usize>()
                + 40
        }
        _ => 64,
    }
}

/// A double as Python's `repr(float)`: `1.0`, `0.1`, `1e+20`, `1.5e-05`.
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f:?}")
    }
}

/// Appends one value exactly as Python's `Marshaller.__dump` writes it.
fn encode_value(out: &mut String, v: &Value) {
    Writer { out }.value(v);
}

const PROLOGUE: &str = "<?xml version='1.0'?>\n";

/// `xmlrpc.client.dumps((value,), methodresponse=True)`.
pub fn encode_response(v: &Value) -> String {
    encode_response_with(size_hint(v), |w| w.value(v))
}

/// A response whose one value `write` writes; `size_hint` is its approximate length.
pub fn encode_response_with(size_hint: usize, write: impl FnOnce(&mut Writer)) -> String {
    let mut out = String::with_capacity(size_hint + 128);
    out.push_str(PROLOGUE);
    out.push_str("<methodResponse>\n<params>\n<param>\n");
    write(&mut Writer { out: &mut out });
    out.push_str("</param>\n</params>\n</methodResponse>\n");
    out
}

/// `xmlrpc.client.dumps(Fault(code, string))`.
pub fn encode_fault(fault: &Fault) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(PROLOGUE);
    out.push_str("<methodResponse>\n<fault>\n");
    encode_value(&mut out, &fault.to_value());
    out.push_str("</fault>\n</methodResponse>\n");
    out
}

/// `xmlrpc.client.dumps(params, name)`: a request body, as Python clients send it.
pub fn encode_call(name: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(PROLOGUE);
    out.push_str("<methodCall>\n<methodName>");
    escape(&mut out, name);
    out.push_str("</methodName>\n<params>\n");
    for p in params {
        out.push_str("<param>\n");
        encode_value(&mut out, p);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untyped_value_is_a_string_and_missing_params_is_no_args() {
        let call = parse_call(
            b"<?xml version='1.0'?><methodCall><methodName>a.b</methodName></methodCall>",
        )
        .unwrap();
        assert_eq!(call.params, vec![]);
        let call = parse_call(
            b"<methodCall><methodName>a.b</methodName><params><param><value>x &amp; y&#33;</value></param></params></methodCall>",
        )
        .unwrap();
        assert_eq!(call.params, vec![Value::from("x & y!")]);
    }

    #[test]
    fn every_scalar_type_parses() {
        let body = "<methodCall><methodName>m</methodName><params>\
            <param><value><i4>-3</i4></value></param>\
            <param><value><i8>5000000000</i8></value></param>\
            <param><value><boolean>1</boolean></value></param>\
            <param><value><double>2.5</double></value></param>\
            <param><value><dateTime.iso8601>20200102T03:04:05</dateTime.iso8601></value></param>\
            <param><value><base64>aGk=</base64></value></param>\
            <param><value><nil/></value></param>\
            <param><value><string></string></value></param>\
            </params></methodCall>";
        let call = parse_call(body.as_bytes()).unwrap();
        assert_eq!(call.params[0], Value::Int(-3));
        assert_eq!(call.params[1], Value::Int(5_000_000_000));
        assert_eq!(call.params[2], Value::Bool(true));
        assert_eq!(call.params[3], Value::Double(2.5));
        assert!(matches!(call.params[4], Value::DateTime(_)));
        assert_eq!(call.params[5], Value::Base64(b"hi".to_vec()));
        assert_eq!(call.params[6], Value::Nil);
        assert_eq!(call.params[7], Value::from(""));
    }

    #[test]
    fn entity_declarations_are_refused() {
        let bomb = b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\
            <methodCall><methodName>&lol2;</methodName></methodCall>";
        assert!(parse_call(bomb).is_err());
        let undeclared = b"<methodCall><methodName>&xxe;</methodName></methodCall>";
        assert!(parse_call(undeclared).is_err());
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b""[..],
            b"garbage",
            b"<methodCall><methodName>a.b</methodName>",
            b"<methodCall><params/></methodCall>",
            b"<methodCall><methodName>a</methodName></wrong>",
            b"\xff\xfe<a/>",
        ] {
            assert!(parse_call(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let body = format!(
            "<methodCall><methodName>m</methodName><params><param>{}{}</param></params></methodCall>",
            "<value><array><data>".repeat(10_000),
            "</data></array></value>".repeat(10_000)
        );
        assert!(parse_call(body.as_bytes()).is_err());
    }

    #[test]
    fn escaping_keeps_multibyte_text() {
        let mut out = String::new();
        escape(&mut out, "é<ü>&&x");
        assert_eq!(out, "é&lt;ü&gt;&amp;&amp;x");
    }

    #[test]
    fn floats_print_like_python_repr() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e20), "1e+20");
        assert_eq!(python_float(1.5e-5), "1.5e-05");
    }

    #[test]
    fn calls_round_trip() {
        let params = vec![
            Value::Int(7),
            Value::from("a<b>&c"),
            Value::Array(vec![Value::Bool(false), Value::Double(0.5)]),
            Value::structure([("z", Value::Nil), ("a", Value::Base64(vec![0, 255]))]),
        ];
        let body = encode_call("x.y", &params);
        let call = parse_call(body.as_bytes()).unwrap();
        assert_eq!(call.name, "x.y");
        assert_eq!(call.params, params);
    }

    #[test]
    fn responses_and_faults_round_trip() {
        let v = Value::Array(vec![Value::from("x"), Value::Int(1)]);
        assert_eq!(
            parse_response(encode_response(&v).as_bytes()).unwrap(),
            Ok(v)
        );
        let f = Fault {
            code: 10,
            string: "BAD_NAME: x".into(),
        };
        assert_eq!(parse_response(encode_fault(&f).as_bytes()).unwrap(), Err(f));
    }
}
