//! A minimal XML-RPC client over the daemon's unix socket (HTTP/1.0, one request per connection):
//! just enough to drive and observe a daemon from tests. It is test tooling, not the codec under
//! test, so it accepts any whitespace between tags and keeps only the value kinds tests read.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// An XML-RPC value as the tests see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
    Struct(BTreeMap<String, Value>),
    /// double, dateTime.iso8601, base64 and nil, kept as their text.
    Other(String),
}

impl Value {
    pub fn field(&self, key: &str) -> &Value {
        match self {
            Value::Struct(members) => members
                .get(key)
                .unwrap_or_else(|| panic!("no member {key:?} in {self}")),
            _ => panic!("not a struct: {self}"),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            _ => panic!("not an int: {self}"),
        }
    }

    pub fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            _ => panic!("not a string: {self}"),
        }
    }

    pub fn bool(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            _ => panic!("not a boolean: {self}"),
        }
    }

    pub fn array(&self) -> &[Value] {
        match self {
            Value::Array(items) => items,
            _ => panic!("not an array: {self}"),
        }
    }

    fn encode(&self, out: &mut String) {
        out.push_str("<value>");
        match self {
            Value::Int(i) => out.push_str(&format!("<int>{i}</int>")),
            Value::Bool(b) => out.push_str(&format!("<boolean>{}</boolean>", u8::from(*b))),
            Value::Str(s) | Value::Other(s) => {
                out.push_str(&format!("<string>{}</string>", escape(s)))
            }
            Value::Array(items) => {
                out.push_str("<array><data>");
                items.iter().for_each(|v| v.encode(out));
                out.push_str("</data></array>");
            }
            Value::Struct(members) => {
                out.push_str("<struct>");
                for (k, v) in members {
                    out.push_str(&format!("<member><name>{}</name>", escape(k)));
                    v.encode(out);
                    out.push_str("</member>");
                }
                out.push_str("</struct>");
            }
        }
        out.push_str("</value>");
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) | Value::Other(s) => write!(f, "{s:?}"),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
            Value::Struct(members) => {
                let parts: Vec<String> = members.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
        }
    }
}

/// Why a call did not return a value.
#[derive(Debug)]
pub enum RpcError {
    /// The socket could not be reached or the answer was not HTTP 200 XML-RPC.
    Transport(String),
    /// An XML-RPC fault: code and string.
    Fault(i64, String),
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Transport(msg) => write!(f, "transport: {msg}"),
            RpcError::Fault(code, msg) => write!(f, "fault {code}: {msg}"),
        }
    }
}

/// Calls `method` on the daemon listening on the unix socket `socket`.
pub fn call(socket: &Path, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    let transport = |e: std::io::Error| RpcError::Transport(e.to_string());
    let mut body = format!(
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>{method}</methodName>\n<params>\n"
    );
    for p in params {
        body.push_str("<param>");
        p.encode(&mut body);
        body.push_str("</param>\n");
    }
    body.push_str("</params>\n</methodCall>\n");
    let mut stream = UnixStream::connect(socket).map_err(transport)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(transport)?;
    let request = format!(
        "POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(transport)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(transport)?;
    let (head, payload) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| RpcError::Transport(format!("no HTTP header end in {response:?}")))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(RpcError::Transport(format!("HTTP status: {head}")));
    }
    parse_response(payload).map_err(RpcError::Transport)?
}

fn parse_response(xml: &str) -> Result<Result<Value, RpcError>, String> {
    let mut p = Parser { rest: xml };
    if let Some(i) = xml.find("<fault>") {
        p.rest = &xml[i + "<fault>".len()..];
        let fault = p.value()?;
        let code = fault.field("faultCode").int();
        let string = fault.field("faultString").str().to_owned();
        return Ok(Err(RpcError::Fault(code, string)));
    }
    let i = xml
        .find("<param>")
        .ok_or_else(|| format!("no <param> in {xml:?}"))?;
    p.rest = &xml[i + "<param>".len()..];
    Ok(Ok(p.value()?))
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn expect(&mut self, tag: &str) -> Result<(), String> {
        self.rest = self.rest.trim_start();
        self.rest = self
            .rest
            .strip_prefix(tag)
            .ok_or_else(|| format!("expected {tag} at {:?}", head(self.rest)))?;
        Ok(())
    }

    fn text_until(&mut self, end: &str) -> Result<String, String> {
        let i = self
            .rest
            .find(end)
            .ok_or_else(|| format!("no {end} at {:?}", head(self.rest)))?;
        let text = unescape(&self.rest[..i]);
        self.rest = &self.rest[i + end.len()..];
        Ok(text)
    }

    fn value(&mut self) -> Result<Value, String> {
        self.expect("<value>")?;
        if !self.rest.trim_start().starts_with('<') {
            return self.text_until("</value>").map(Value::Str);
        }
        if let Some(rest) = self.rest.strip_prefix("</value>") {
            self.rest = rest;
            return Ok(Value::Str(String::new()));
        }
        self.rest = self.rest.trim_start();
        let tag_end = self.rest.find('>').ok_or("unterminated tag")?;
        let tag = self.rest[1..tag_end].to_owned();
        self.rest = &self.rest[tag_end + 1..];
        let value = match tag.as_str() {
            "int" | "i4" | "i8" => {
                let t = self.text_until(&format!("</{tag}>"))?;
                Value::Int(t.trim().parse().map_err(|e| format!("int {t:?}: {e}"))?)
            }
            "boolean" => Value::Bool(self.text_until("</boolean>")?.trim() == "1"),
            "string" => Value::Str(self.text_until("</string>")?),
            "string/" => Value::Str(String::new()),
            "nil/" => Value::Other("nil".to_owned()),
            "array" => {
                self.expect("<data>")?;
                let mut items = Vec::new();
                while !self.rest.trim_start().starts_with("</data>") {
                    items.push(self.value()?);
                }
                self.expect("</data>")?;
                self.expect("</array>")?;
                Value::Array(items)
            }
            "struct" => {
                let mut members = BTreeMap::new();
                while !self.rest.trim_start().starts_with("</struct>") {
                    self.expect("<member>")?;
                    self.expect("<name>")?;
                    let name = self.text_until("</name>")?;
                    members.insert(name, self.value()?);
                    self.expect("</member>")?;
                }
                self.expect("</struct>")?;
                Value::Struct(members)
            }
            other => Value::Other(self.text_until(&format!("</{other}>"))?),
        };
        self.expect("</value>")?;
        Ok(value)
    }
}

fn head(s: &str) -> &str {
    &s[..s.len().min(60)]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
