//! Serialisation identical to Python's `json.dumps(value)` with default arguments.
//!
//! That means: separators `", "` and `": "`, `ensure_ascii=True` (everything outside printable
//! ASCII becomes `\uXXXX` with lowercase hex, characters above U+FFFF become a surrogate pair,
//! lone surrogates are written as themselves), the short escapes `\" \\ \n \r \t \b \f`,
//! floats as `repr(float)`, and `NaN` / `Infinity` / `-Infinity` (`allow_nan=True`).
//! kombu's `dumps` is `json.dumps` with an encoder that only matters for non-JSON Python types,
//! so this is also kombu's output.

use super::number::float_repr;
use super::string::PyStr;
use super::value::{PyDict, PyValue};

/// `json.dumps(value)`.
pub fn to_json_string(value: &PyValue) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Appends `json.dumps(value)` to `out`.
pub fn write_value(out: &mut String, value: &PyValue) {
    match value {
        PyValue::Null => out.push_str("null"),
        PyValue::Bool(true) => out.push_str("true"),
        PyValue::Bool(false) => out.push_str("false"),
        PyValue::Int(i) => out.push_str(&i.to_string()),
        PyValue::BigInt(b) => out.push_str(b.as_str()),
        PyValue::Float(f) => out.push_str(&json_float(*f)),
        PyValue::Str(s) => write_str(out, s),
        PyValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        PyValue::Dict(d) => write_dict(out, d),
    }
}

/// Appends `json.dumps(dict)`.
pub fn write_dict(out: &mut String, d: &PyDict) {
    out.push('{');
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, k);
        out.push_str(": ");
        write_value(out, v);
    }
    out.push('}');
}

/// How `json.dumps` prints a float: `repr` for finite values, else `NaN`/`Infinity`/`-Infinity`.
pub fn json_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f == f64::INFINITY {
        "Infinity".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-Infinity".to_owned()
    } else {
        float_repr(f)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(out: &mut String, unit: u32) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xF) as usize] as char);
    }
}

/// Appends a JSON string literal with `ensure_ascii=True` escaping.
pub fn write_str(out: &mut String, s: &PyStr) {
    out.push('"');
    match s.as_str() {
        // Fast path: copy runs of printable ASCII.
        Some(text) => {
            let mut run_start = 0;
            for (i, c) in text.char_indices() {
                if (' '..='~').contains(&c) && c != '"' && c != '\\' {
                    continue;
                }
                out.push_str(&text[run_start..i]);
                escape_code_point(out, c as u32);
                run_start = i + c.len_utf8();
            }
            out.push_str(&text[run_start..]);
        }
        None => {
            for cp in s.code_points() {
                if (0x20..0x7F).contains(&cp) && cp != 0x22 && cp != 0x5C {
                    out.push(cp as u8 as char);
                } else {
                    escape_code_point(out, cp);
                }
            }
        }
    }
    out.push('"');
}

fn escape_code_point(out: &mut String, cp: u32) {
    match cp {
        0x22 => out.push_str("\\\""),
        0x5C => out.push_str("\\\\"),
        0x0A => out.push_str("\\n"),
        0x0D => out.push_str("\\r"),
        0x09 => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0C => out.push_str("\\f"),
        0x10000.. => {
            let v = cp - 0x10000;
            push_u_escape(out, 0xD800 | (v >> 10));
            push_u_escape(out, 0xDC00 | (v & 0x3FF));
        }
        _ => push_u_escape(out, cp),
    }
}
