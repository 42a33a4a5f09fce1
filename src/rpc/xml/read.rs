//! Reading XML-RPC documents: one pass over quick-xml's events, building [`Value`]s as the
//! elements go by, with no element tree in between (a `getAllProcessInfo` of 1000 processes is
//! ~60,000 elements; building and freeing a tree for it cost ten times the parse).
//!
//! Tolerant as Python's reader is: an untyped `<value>` is a string, the first child element of
//! a `<value>` decides its type, elements nobody asked for are skipped, and only the text before
//! an element's first child counts. Never tolerant of what could hurt: a `<!DOCTYPE>` is refused,
//! only the predefined entities and character references are resolved, and nesting is bounded.

use std::borrow::Cow;

use base64::Engine as _;
use chrono::NaiveDateTime;
use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::Reader;

use super::{bad, MethodCall, ParseError, Value};
use crate::rpc::fault::Fault;

/// Nesting deeper than this is refused, so a hostile body cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

/// One step through the document: an element opens (by its XML-RPC name, `""` for any other),
/// the current one closes, or a piece of text.
enum Tok<'a> {
    Open(&'static str),
    Close,
    Text(Piece<'a>),
    Eof,
}

/// A piece of text, decoded only by the reader that wants it: most text in a response is the
/// whitespace between elements, which nobody reads.
enum Piece<'a> {
    Raw(BytesText<'a>),
    Ready(Cow<'a, str>),
}

impl<'a> Piece<'a> {
    fn text(self) -> Result<Cow<'a, str>, ParseError> {
        match self {
            Piece::Raw(t) => t.xml10_content().map_err(|e| bad(e.to_string())),
            Piece::Ready(c) => Ok(c),
        }
    }
}

/// The element names of XML-RPC documents, so that reading one allocates no names.
fn known(start: &BytesStart<'_>) -> &'static str {
    match start.name().as_ref() {
        b"methodCall" => "methodCall",
        b"methodName" => "methodName",
        b"methodResponse" => "methodResponse",
        b"params" => "params",
        b"param" => "param",
        b"value" => "value",
        b"int" => "int",
        b"i4" => "i4",
        b"i8" => "i8",
        b"boolean" => "boolean",
        b"string" => "string",
        b"double" => "double",
        b"dateTime.iso8601" => "dateTime.iso8601",
        b"base64" => "base64",
        b"array" => "array",
        b"data" => "data",
        b"struct" => "struct",
        b"member" => "member",
        b"name" => "name",
        b"nil" => "nil",
        b"fault" => "fault",
        _ => "",
    }
}

/// quick-xml's events as [`Tok`]s: `<x/>` is an open and a close, entity references are text,
/// whitespace outside the root is dropped, and the well-formedness checks happen here.
struct Cursor<'a> {
    reader: Reader<&'a [u8]>,
    depth: usize,
    /// The close of an empty element, still to be handed out.
    pending_close: bool,
}

impl<'a> Cursor<'a> {
    fn new(body: &'a [u8]) -> Result<Cursor<'a>, ParseError> {
        let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        Ok(Cursor {
            reader,
            depth: 0,
            pending_close: false,
        })
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<Tok<'a>, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(bad("nested too deeply"));
        }
        self.depth += 1;
        Ok(Tok::Open(known(start)))
    }

    fn text(&self, piece: Piece<'a>) -> Result<Option<Tok<'a>>, ParseError> {
        if self.depth > 0 {
            Ok(Some(Tok::Text(piece)))
        } else if piece.text()?.trim().is_empty() {
            Ok(None)
        } else {
            Err(bad("text outside the root element"))
        }
    }

    fn next(&mut self) -> Result<Tok<'a>, ParseError> {
        if self.pending_close {
            self.pending_close = false;
            self.depth -= 1;
            return Ok(Tok::Close);
        }
        loop {
            let event = self.reader.read_event().map_err(|e| bad(e.to_string()))?;
            let text = match event {
                Event::Start(start) => return self.open(&start),
                Event::Empty(start) => {
                    let tok = self.open(&start)?;
                    self.pending_close = true;
                    return Ok(tok);
                }
                Event::End(_) => {
                    if self.depth == 0 {
                        return Err(bad("unbalanced end tag"));
                    }
                    self.depth -= 1;
                    return Ok(Tok::Close);
                }
                Event::Text(t) => Piece::Raw(t),
                Event::CData(c) => Piece::Ready(c.decode().map_err(|e| bad(e.to_string()))?),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().map_err(|e| bad(e.to_string()))? {
                        Some(ch) => ch,
                        None => match r.as_ref() {
                            b"amp" => '&',
                            b"lt" => '<',
                            b"gt" => '>',
                            b"quot" => '"',
                            b"apos" => '\'',
                            other => {
                                return Err(bad(format!(
                                    "undefined entity &{};",
                                    String::from_utf8_lossy(other)
                                )))
                            }
                        },
                    };
                    Piece::Ready(Cow::Owned(resolved.to_string()))
                }
                Event::DocType(_) => return Err(bad("DOCTYPE declarations are not accepted")),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
                Event::Eof => return Ok(Tok::Eof),
            };
            if let Some(tok) = self.text(text)? {
                return Ok(tok);
            }
        }
    }

    /// Past the rest of an element whose open was just read, children and all.
    fn skip(&mut self) -> Result<(), ParseError> {
        let mut depth = 1;
        while depth > 0 {
            match self.next()? {
                Tok::Open(_) => depth += 1,
                Tok::Close => depth -= 1,
                Tok::Text(_) => {}
                Tok::Eof => return Err(bad("unclosed element")),
            }
        }
        Ok(())
    }

    /// An element's text before its first child (Python's `elem.text`); the rest is skipped.
    fn text_of(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let mut text = Cow::Borrowed("");
        loop {
            match self.next()? {
                Tok::Text(t) => append(&mut text, t.text()?),
                Tok::Close => return Ok(text),
                Tok::Open(_) => {
                    self.skip()?;
                    self.skip()?;
                    return Ok(text);
                }
                Tok::Eof => return Err(bad("unclosed element")),
            }
        }
    }

    /// The root element's name.
    fn root(&mut self) -> Result<&'static str, ParseError> {
        match self.next()? {
            Tok::Open(name) => Ok(name),
            Tok::Eof => Err(bad("no root element")),
            Tok::Close | Tok::Text(_) => Err(bad("unbalanced end tag")),
        }
    }

    /// After the root closed: nothing but the end of the document.
    fn finish(&mut self) -> Result<(), ParseError> {
        match self.next()? {
            Tok::Eof => Ok(()),
            _ => Err(bad("content after the root element")),
        }
    }

    /// Calls `each` for every child element of the current element (by name), until it closes;
    /// `each` must consume the child entirely.
    fn children(
        &mut self,
        mut each: impl FnMut(&mut Self, &'static str) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        loop {
            match self.next()? {
                Tok::Open(name) => each(self, name)?,
                Tok::Close => return Ok(()),
                Tok::Text(_) => {}
                Tok::Eof => return Err(bad("unclosed element")),
            }
        }
    }

    /// Calls `each` for every child element named `wanted` (which it must consume), skipping
    /// the others, until the current element closes.
    fn each(
        &mut self,
        wanted: &str,
        mut each: impl FnMut(&mut Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.children(|c, name| if name == wanted { each(c) } else { c.skip() })
    }

    /// A `<value>` whose open was just read.
    fn value(&mut self) -> Result<Value, ParseError> {
        let mut text = Cow::Borrowed("");
        loop {
            match self.next()? {
                Tok::Text(t) => append(&mut text, t.text()?),
                Tok::Close => return Ok(Value::String(text.into_owned())),
                Tok::Open(ty) => {
                    let v = self.typed(ty)?;
                    // Anything after the type element is ignored, as Python ignores it.
                    self.children(|c, _| c.skip())?;
                    return Ok(v);
                }
                Tok::Eof => return Err(bad("unclosed element")),
            }
        }
    }

    /// The type element `ty` of a value, whose open was just read.
    fn typed(&mut self, ty: &'static str) -> Result<Value, ParseError> {
        Ok(match ty {
            "int" | "i4" | "i8" => {
                let text = self.text_of()?;
                Value::Int(
                    text.trim()
                        .parse()
                        .map_err(|_| bad(format!("bad integer {text:?}")))?,
                )
            }
            "boolean" => Value::Bool(self.text_of()?.trim() == "1"),
            "string" => Value::String(self.text_of()?.into_owned()),
            "double" => {
                let text = self.text_of()?;
                Value::Double(
                    text.trim()
                        .parse()
                        .map_err(|_| bad(format!("bad double {text:?}")))?,
                )
            }
            "dateTime.iso8601" => {
                let text = self.text_of()?;
                Value::DateTime(
                    NaiveDateTime::parse_from_str(text.trim(), "%Y%m%dT%H:%M:%S")
                        .map_err(|_| bad(format!("bad dateTime {text:?}")))?,
                )
            }
            "base64" => {
                let compact: String = self.text_of()?.split_whitespace().collect();
                Value::Base64(
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .map_err(|_| bad("bad base64"))?,
                )
            }
            "array" => {
                let mut items = Vec::new();
                let mut seen_data = false;
                self.children(|c, name| {
                    if name != "data" || seen_data {
                        return c.skip();
                    }
                    seen_data = true;
                    c.each("value", |c| {
                        items.push(c.value()?);
                        Ok(())
                    })
                })?;
                Value::Array(items)
            }
            "struct" => {
                let mut members = Vec::new();
                self.each("member", |c| {
                    members.push(c.member()?);
                    Ok(())
                })?;
                Value::Struct(members)
            }
            "nil" => {
                self.skip()?;
                Value::Nil
            }
            // Python reads an unknown type element as its text.
            _ => Value::String(self.text_of()?.into_owned()),
        })
    }

    /// A struct `<member>`: its first `<name>` and first `<value>`.
    fn member(&mut self) -> Result<(String, Value), ParseError> {
        let mut name = None;
        let mut value = None;
        self.children(|c, el| match el {
            "name" if name.is_none() => {
                name = Some(c.text_of()?.into_owned());
                Ok(())
            }
            "value" if value.is_none() => {
                value = Some(c.value()?);
                Ok(())
            }
            _ => c.skip(),
        })?;
        let value = value.ok_or_else(|| bad("member without value"))?;
        Ok((name.unwrap_or_default(), value))
    }

    /// The first `<value>` child of the current element (the rest skipped), until it closes.
    fn first_value(&mut self) -> Result<Option<Value>, ParseError> {
        let mut value = None;
        self.children(|c, name| {
            if name == "value" && value.is_none() {
                value = Some(c.value()?);
                Ok(())
            } else {
                c.skip()
            }
        })?;
        Ok(value)
    }

    /// `<params>`, whose open was just read: the first `<value>` of each `<param>`.
    fn params(&mut self) -> Result<Vec<Value>, ParseError> {
        let mut values = Vec::new();
        self.each("param", |c| {
            let value = c.first_value()?;
            values.push(value.ok_or_else(|| bad("param without value"))?);
            Ok(())
        })?;
        Ok(values)
    }
}

fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

/// Parses a `<methodCall>` (server side). A missing `<params>` means no arguments; a missing or
/// empty `<methodName>` is an error.
pub fn parse_call(body: &[u8]) -> Result<MethodCall, ParseError> {
    let mut c = Cursor::new(body)?;
    c.root()?;
    let mut name: Option<String> = None;
    let mut params: Option<Vec<Value>> = None;
    c.children(|c, el| match el {
        "methodName" if name.is_none() => {
            name = Some(c.text_of()?.trim().to_string());
            Ok(())
        }
        "params" if params.is_none() => {
            params = Some(c.params()?);
            Ok(())
        }
        _ => c.skip(),
    })?;
    c.finish()?;
    let name = name.unwrap_or_default();
    if name.is_empty() {
        return Err(bad("no method name"));
    }
    Ok(MethodCall {
        name,
        params: params.unwrap_or_default(),
    })
}

/// Parses a `<methodResponse>` (client side): the value, or the fault it carries.
pub fn parse_response(body: &[u8]) -> Result<Result<Value, Fault>, ParseError> {
    let mut c = Cursor::new(body)?;
    c.root()?;
    let mut fault: Option<Option<Value>> = None;
    let mut params: Option<Vec<Value>> = None;
    c.children(|c, el| match el {
        "fault" if fault.is_none() => {
            fault = Some(c.first_value()?);
            Ok(())
        }
        "params" if params.is_none() => {
            params = Some(c.params()?);
            Ok(())
        }
        _ => c.skip(),
    })?;
    c.finish()?;
    // A fault wins over params.
    if let Some(v) = fault {
        let v = v.ok_or_else(|| bad("fault without value"))?;
        return match (v.member("faultCode"), v.member("faultString")) {
            (Some(Value::Int(code)), Some(Value::String(string))) => Ok(Err(Fault {
                code: i32::try_from(*code).map_err(|_| bad("fault code out of range"))?,
                string: string.clone(),
            })),
            _ => Err(bad("malformed fault")),
        };
    }
    let mut values = params.unwrap_or_default();
    if values.len() != 1 {
        return Err(bad("a response carries exactly one value"));
    }
    Ok(Ok(values.remove(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(inner: &str) -> Value {
        let body =
            format!("<methodResponse><params><param>{inner}</param></params></methodResponse>");
        parse_response(body.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn structs_keep_member_order_and_skip_strangers() {
        let v = response(
            "<value><struct>\
               <member><name>z</name><value><int>1</int></value></member>\
               <extra><value><int>9</int></value></extra>\
               <member><value>two</value><name>a</name><name>ignored</name></member>\
             </struct></value>",
        );
        assert_eq!(
            v,
            Value::structure([("z", Value::Int(1)), ("a", Value::from("two"))])
        );
    }

    #[test]
    fn the_first_child_types_a_value_and_only_text_before_children_counts() {
        assert_eq!(response("<value/>"), Value::from(""));
        assert_eq!(
            response("<value>  <i4> 7 </i4> tail<x/></value>"),
            Value::Int(7)
        );
        assert_eq!(
            response("<value><string>a<b>c</b>d</string></value>"),
            Value::from("a")
        );
        assert_eq!(
            response("<value><array><data/></array></value>"),
            Value::Array(vec![])
        );
        assert_eq!(
            response("<value><array><data><value>x</value><junk/></data><data><value>y</value></data></array></value>"),
            Value::Array(vec![Value::from("x")])
        );
        assert_eq!(
            response("<value><custom>t&amp;u</custom></value>"),
            Value::from("t&u")
        );
    }

    #[test]
    fn responses_need_exactly_one_value_and_well_formed_documents() {
        for body in [
            "<methodResponse><params/></methodResponse>",
            "<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>",
            "<methodResponse><params><param><value>a</value></param></params></methodResponse><x/>",
            "<methodResponse><params><param/></params></methodResponse>",
            "<methodResponse><fault/></methodResponse>",
            "text<methodResponse/>",
        ] {
            assert!(parse_response(body.as_bytes()).is_err(), "{body}");
        }
    }
}
