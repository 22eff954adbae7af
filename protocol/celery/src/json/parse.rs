//! A JSON parser that accepts exactly what Python's `json.loads` accepts and keeps everything.
//!
//! Differences from RFC 8259 that Python relies on: `NaN`, `Infinity` and `-Infinity` literals,
//! unbounded integers, and `\uXXXX` escapes of lone surrogates. Like Python, a repeated key keeps
//! its first position and its last value. Hostile input cannot make it panic or recurse without
//! bound: nesting depth, input size and integer length are limited.

use std::collections::HashMap;

use super::number::BigInt;
use super::string::{PyStr, PyStrBuilder};
use super::value::{PyDict, PyValue};

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Maximum nesting of lists/dicts. Python's recursion limit stops around 1000.
    pub max_depth: usize,
    /// Maximum input size in bytes.
    pub max_bytes: usize,
    /// Maximum digits in an integer literal; Python refuses more than 4300
    /// (`sys.get_int_max_str_digits`).
    pub max_int_digits: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_depth: 512, max_bytes: 512 * 1024 * 1024, max_int_digits: 4300 }
    }
}

/// What went wrong while parsing JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The input is not valid UTF-8 (Python decodes the bytes as UTF-8 first).
    InvalidUtf8,
    /// The input starts with a UTF-8 byte order mark, which `json.loads` rejects.
    ByteOrderMark,
    /// Input ended in the middle of a value.
    UnexpectedEnd,
    /// A character that cannot start or continue a value here.
    UnexpectedChar(char),
    /// Something other than whitespace after the top-level value.
    TrailingData,
    /// An object key that is not a string.
    KeyNotString,
    /// A raw control character (< 0x20) inside a string.
    ControlCharInString(u8),
    /// An unknown backslash escape.
    InvalidEscape(char),
    /// `\u` not followed by four hex digits.
    InvalidUnicodeEscape,
    /// A malformed number.
    InvalidNumber,
    /// An integer with more digits than [`ParseLimits::max_int_digits`].
    IntTooLong(usize),
    /// Nesting deeper than [`ParseLimits::max_depth`].
    TooDeep(usize),
    /// Input larger than [`ParseLimits::max_bytes`].
    TooLarge(usize),
}

/// A JSON syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} at line {line} column {column} (byte {offset})", describe(.kind))]
pub struct JsonError {
    /// What was wrong.
    pub kind: JsonErrorKind,
    /// Byte offset into the input.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
}

fn describe(kind: &JsonErrorKind) -> String {
    match kind {
        JsonErrorKind::InvalidUtf8 => "invalid UTF-8".to_owned(),
        JsonErrorKind::ByteOrderMark => "unexpected UTF-8 byte order mark".to_owned(),
        JsonErrorKind::UnexpectedEnd => "unexpected end of input".to_owned(),
        JsonErrorKind::UnexpectedChar(c) => format!("unexpected character {c:?}"),
        JsonErrorKind::TrailingData => "extra data after the JSON value".to_owned(),
        JsonErrorKind::KeyNotString => "object key must be a string in double quotes".to_owned(),
        JsonErrorKind::ControlCharInString(b) => {
            format!("invalid control character 0x{b:02x} in string")
        }
        JsonErrorKind::InvalidEscape(c) => format!("invalid escape \\{c}"),
        JsonErrorKind::InvalidUnicodeEscape => "invalid \\uXXXX escape".to_owned(),
        JsonErrorKind::InvalidNumber => "invalid number".to_owned(),
        JsonErrorKind::IntTooLong(n) => format!("integer with {n} digits exceeds the limit"),
        JsonErrorKind::TooDeep(n) => format!("nesting deeper than {n} levels"),
        JsonErrorKind::TooLarge(n) => format!("input larger than {n} bytes"),
    }
}

/// Parses JSON text (bytes that must be UTF-8) with the default [`ParseLimits`].
pub fn parse(input: &[u8]) -> Result<PyValue, JsonError> {
    parse_with_limits(input, ParseLimits::default())
}

/// Parses JSON text with explicit limits.
pub fn parse_with_limits(input: &[u8], limits: ParseLimits) -> Result<PyValue, JsonError> {
    let mut p = Parser { input, pos: 0, limits };
    if input.len() > limits.max_bytes {
        return Err(p.error(JsonErrorKind::TooLarge(limits.max_bytes)));
    }
    if let Err(e) = std::str::from_utf8(input) {
        p.pos = e.valid_up_to();
        return Err(p.error(JsonErrorKind::InvalidUtf8));
    }
    if input.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(p.error(JsonErrorKind::ByteOrderMark));
    }
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != input.len() {
        return Err(p.error(JsonErrorKind::TrailingData));
    }
    Ok(value)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    limits: ParseLimits,
}

impl Parser<'_> {
    fn error(&self, kind: JsonErrorKind) -> JsonError {
        let upto = &self.input[..self.pos.min(self.input.len())];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = upto.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&upto[line_start..]).chars().count() + 1;
        JsonError { kind, offset: self.pos, line, column }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn unexpected(&self) -> JsonError {
        match self.current_char() {
            Some(c) => self.error(JsonErrorKind::UnexpectedChar(c)),
            None => self.error(JsonErrorKind::UnexpectedEnd),
        }
    }

    fn current_char(&self) -> Option<char> {
        let rest = self.input.get(self.pos..)?;
        // The whole input was validated as UTF-8, but `pos` could sit mid-character only
        // through a bug; degrade to a lossy view rather than panic.
        String::from_utf8_lossy(&rest[..rest.len().min(4)]).chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, lit: &[u8]) -> bool {
        if self.input[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, JsonError> {
        match self.peek() {
            None => Err(self.error(JsonErrorKind::UnexpectedEnd)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(PyValue::Str(self.string()?)),
            Some(b'n') if self.eat_literal(b"null") => Ok(PyValue::Null),
            Some(b't') if self.eat_literal(b"true") => Ok(PyValue::Bool(true)),
            Some(b'f') if self.eat_literal(b"false") => Ok(PyValue::Bool(false)),
            Some(b'N') if self.eat_literal(b"NaN") => Ok(PyValue::Float(f64::NAN)),
            Some(b'I') if self.eat_literal(b"Infinity") => Ok(PyValue::Float(f64::INFINITY)),
            Some(b'-') if self.eat_literal(b"-Infinity") => Ok(PyValue::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.unexpected()),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.limits.max_depth {
            Err(self.error(JsonErrorKind::TooDeep(self.limits.max_depth)))
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<PyValue, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(PyValue::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(PyValue::List(items));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<PyValue, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut dict = PyDict::new();
        // Duplicate-key lookups go through an index once the object gets large, so a hostile
        // object with many keys stays linear.
        let mut index: Option<HashMap<PyStr, usize>> = None;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(PyValue::Dict(dict));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(match self.peek() {
                    None => self.error(JsonErrorKind::UnexpectedEnd),
                    Some(_) => self.error(JsonErrorKind::KeyNotString),
                });
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected());
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            let existing = match &index {
                Some(map) => map.get(&key).copied(),
                None => dict.position(&key),
            };
            match existing {
                Some(i) => dict.set_at(i, value),
                None => {
                    if let Some(map) = &mut index {
                        map.insert(key.clone(), dict.len());
                    }
                    dict.push_unique(key, value);
                    if index.is_none() && dict.len() > 32 {
                        index = Some(dict.keys().cloned().enumerate().map(|(i, k)| (k, i)).collect());
                    }
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(PyValue::Dict(dict));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.input.get(self.pos..self.pos + 4);
        let value = digits.and_then(|d| {
            d.iter().try_fold(0u32, |acc, &b| {
                let v = (b as char).to_digit(16)?;
                Some(acc * 16 + v)
            })
        });
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error(JsonErrorKind::InvalidUnicodeEscape)),
        }
    }

    fn string(&mut self) -> Result<PyStr, JsonError> {
        self.pos += 1; // opening quote
        let mut out = PyStrBuilder::new();
        loop {
            let start = self.pos;
            // Copy the longest run of plain characters at once.
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            if self.pos > start {
                // Runs end on ASCII bytes, so they are whole UTF-8 sequences.
                match std::str::from_utf8(&self.input[start..self.pos]) {
                    Ok(s) => out.push_str(s),
                    Err(_) => return Err(self.error(JsonErrorKind::InvalidUtf8)),
                }
            }
            match self.peek() {
                None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out.finish());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(esc) = self.peek() else {
                        return Err(self.error(JsonErrorKind::UnexpectedEnd));
                    };
                    self.pos += 1;
                    match esc {
                        b'"' => out.push_str("\""),
                        b'\\' => out.push_str("\\"),
                        b'/' => out.push_str("/"),
                        b'b' => out.push_str("\u{8}"),
                        b'f' => out.push_str("\u{c}"),
                        b'n' => out.push_str("\n"),
                        b'r' => out.push_str("\r"),
                        b't' => out.push_str("\t"),
                        b'u' => {
                            let cp = self.hex4()?;
                            out.push_code_point(cp);
                        }
                        _ => {
                            self.pos -= 1;
                            let c = self.current_char().unwrap_or('?');
                            return Err(self.error(JsonErrorKind::InvalidEscape(c)));
                        }
                    }
                }
                Some(b) => return Err(self.error(JsonErrorKind::ControlCharInString(b))),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Python's number grammar: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`; an int unless a
    /// fraction or exponent is present.
    fn number(&mut self) -> Result<PyValue, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(JsonErrorKind::InvalidNumber)),
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.input.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                // Python's regex does not take the exponent then; what follows is an error
                // in the enclosing context.
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        // Safe: the number grammar is ASCII.
        let text = std::str::from_utf8(&self.input[start..self.pos]).unwrap_or("0");
        if is_float {
            let f: f64 = text.parse().map_err(|_| self.error(JsonErrorKind::InvalidNumber))?;
            return Ok(PyValue::Float(f));
        }
        let ndigits = int_end - start - usize::from(text.starts_with('-'));
        if ndigits > self.limits.max_int_digits {
            self.pos = start;
            return Err(self.error(JsonErrorKind::IntTooLong(ndigits)));
        }
        match text.parse::<i64>() {
            Ok(i) => Ok(PyValue::Int(i)),
            Err(_) => BigInt::parse(text)
                .map(PyValue::BigInt)
                .ok_or_else(|| self.error(JsonErrorKind::InvalidNumber)),
        }
    }
}
