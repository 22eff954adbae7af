//! A Python-compatible JSON value: what `json.loads` returns and `json.dumps` writes.
//!
//! Celery peers exchange JSON produced by Python's `json` module (through kombu). That JSON is
//! not quite RFC 8259, and Python's data model is not quite serde's:
//!
//! * strings may hold lone surrogates (`"caf\udce9.txt"` is how an undecodable filename
//!   travels) — [`PyStr`] keeps them and converts to and from filesystem bytes the way
//!   `os.fsencode`/`os.fsdecode` do;
//! * `NaN`, `Infinity`, `-Infinity` are valid literals;
//! * ints are unbounded — [`PyValue::BigInt`] keeps the digits;
//! * objects keep insertion order, a repeated key keeps its first position and last value.
//!
//! [`to_json_string`] reproduces `json.dumps(value)` byte for byte (`", "`/`": "` separators,
//! `\uXXXX` escapes with lowercase hex, `repr(float)`), so a message built here cannot be told
//! apart from one built by Python, and a message parsed and re-serialised is unchanged.
//!
//! kombu's `__type__`/`__value__` markers are kept as plain dicts; see [`marker`].

pub mod emit;
pub mod marker;
pub mod number;
pub mod parse;
mod printable_table;
pub mod repr;
pub mod string;
pub mod value;

pub use emit::{json_float, to_json_string};
pub use marker::{Marker, MarkerError, check_markers};
pub use number::{BigInt, float_repr};
pub use parse::{JsonError, JsonErrorKind, ParseLimits, parse, parse_with_limits};
pub use repr::{ARGSREPR_MAXSIZE, ArgsStyle, py_repr, saferepr, saferepr_args};
pub use string::{FsEncodeError, PyStr};
pub use value::{PyDict, PyValue};

impl PyValue {
    /// Parses JSON text as Python's `json.loads` would (see [`parse()`]).
    pub fn from_json(input: &[u8]) -> Result<PyValue, JsonError> {
        parse(input)
    }

    /// Serialises as Python's `json.dumps(value)` would.
    pub fn to_json(&self) -> String {
        to_json_string(self)
    }
}

impl std::fmt::Display for PyValue {
    /// Writes `json.dumps(value)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl PyDict {
    /// Serialises as Python's `json.dumps(dict)` would.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        emit::write_dict(&mut out, self);
        out
    }
}

#[cfg(test)]
mod tests;
