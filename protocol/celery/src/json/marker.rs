//! kombu's JSON type markers: `{"__type__": T, "__value__": V}`.
//!
//! kombu >= 5.3 encodes datetimes, dates, times, decimals, UUIDs and bytes this way, and its
//! decoder treats **every** object whose key set is exactly `{"__type__", "__value__"}` as a
//! marker, failing the whole message (`ValueError('Unsupported type')`) when `T` is unknown.
//!
//! Choice made here: markers stay plain [`PyValue::Dict`]s after parsing, so a message decoded
//! and re-encoded is byte-identical and nothing is interpreted behind the caller's back.
//! [`Marker::from_value`] gives a typed view on demand, the `Marker::*` constructors build
//! markers exactly as kombu writes them, and [`check_markers`] finds dicts that *look* like
//! markers but would make kombu fail. Message builders run [`check_markers`] on everything they
//! emit, so an accidental marker is an error in Rust instead of a poisoned message in Python.

use base64::Engine;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

use super::string::PyStr;
use super::value::{PyDict, PyValue};

/// The `__type__` names kombu's default decoder knows.
pub const KNOWN_MARKER_TYPES: [&str; 7] = ["datetime", "date", "time", "decimal", "uuid", "bytes", "base64"];

/// A decoded kombu marker.
#[derive(Debug, Clone, PartialEq)]
pub enum Marker {
    /// `datetime` with an offset (`datetime.isoformat()` of an aware datetime).
    DateTime(DateTime<FixedOffset>),
    /// `datetime` without an offset (naive).
    NaiveDateTime(NaiveDateTime),
    /// `date`.
    Date(NaiveDate),
    /// `time` (an offset, if present, is kept in the text only).
    Time(String),
    /// `decimal`: the exact decimal text (`str(Decimal)`).
    Decimal(String),
    /// `uuid`.
    Uuid(uuid::Uuid),
    /// `bytes` (valid UTF-8) or `base64` (anything else): the raw bytes.
    Bytes(Vec<u8>),
}

/// A dict shaped like a marker that kombu could not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kombu marker {type_name:?} at {path}: {reason}")]
pub struct MarkerError {
    /// The `__type__` value (lossy text).
    pub type_name: String,
    /// Where in the value, e.g. `$[0]["when"]`.
    pub path: String,
    /// Why kombu would reject it.
    pub reason: String,
}

/// True if the dict's keys are exactly `__type__` and `__value__`.
pub fn is_marker_shape(d: &PyDict) -> bool {
    d.len() == 2 && d.contains_key("__type__") && d.contains_key("__value__")
}

fn marker(type_name: &str, value: PyValue) -> PyValue {
    let mut d = PyDict::with_capacity(2);
    d.insert("__type__", type_name);
    d.insert("__value__", value);
    PyValue::Dict(d)
}

impl Marker {
    /// Decodes `value` if it has the marker shape: `None` if it is not a marker at all,
    /// `Some(Err)` if kombu would refuse it.
    pub fn from_value(value: &PyValue) -> Option<Result<Marker, MarkerError>> {
        let d = value.as_dict()?;
        if !is_marker_shape(d) {
            return None;
        }
        Some(decode(d, "$"))
    }

    /// Encodes as kombu does.
    pub fn to_value(&self) -> PyValue {
        match self {
            Marker::DateTime(dt) => marker("datetime", python_isoformat_fixed(dt).into()),
            Marker::NaiveDateTime(dt) => marker("datetime", python_isoformat_naive(dt).into()),
            Marker::Date(d) => marker("date", d.format("%Y-%m-%d").to_string().into()),
            Marker::Time(t) => marker("time", t.as_str().into()),
            Marker::Decimal(t) => marker("decimal", t.as_str().into()),
            Marker::Uuid(u) => {
                let mut inner = PyDict::new();
                inner.insert("hex", u.simple().to_string());
                marker("uuid", PyValue::Dict(inner))
            }
            Marker::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => marker("bytes", s.into()),
                Err(_) => marker("base64", base64::engine::general_purpose::STANDARD.encode(b).into()),
            },
        }
    }

    /// A `time` marker from a naive time (`time.isoformat()`).
    pub fn time(t: NaiveTime) -> Marker {
        Marker::Time(python_isoformat_time(&t))
    }
}

/// `datetime.isoformat()` of an aware datetime: microseconds only when non-zero, offset as
/// `+HH:MM`.
pub fn python_isoformat_fixed(dt: &DateTime<FixedOffset>) -> String {
    let naive = python_isoformat_naive(&dt.naive_local());
    let secs = dt.offset().local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (h, m, s) = (abs / 3600, (abs / 60) % 60, abs % 60);
    if s == 0 { format!("{naive}{sign}{h:02}:{m:02}") } else { format!("{naive}{sign}{h:02}:{m:02}:{s:02}") }
}

/// `datetime.isoformat()` of a naive datetime.
pub fn python_isoformat_naive(dt: &NaiveDateTime) -> String {
    format!("{}T{}", dt.date().format("%Y-%m-%d"), python_isoformat_time(&dt.time()))
}

fn python_isoformat_time(t: &NaiveTime) -> String {
    use chrono::Timelike;
    let micros = t.nanosecond() / 1000 % 1_000_000;
    if micros == 0 {
        t.format("%H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", t.format("%H:%M:%S"))
    }
}

fn err(type_name: &str, path: &str, reason: impl Into<String>) -> MarkerError {
    MarkerError { type_name: type_name.to_owned(), path: path.to_owned(), reason: reason.into() }
}

fn decode(d: &PyDict, path: &str) -> Result<Marker, MarkerError> {
    let type_value = d.get("__type__").unwrap_or(&PyValue::Null);
    let value = d.get("__value__").unwrap_or(&PyValue::Null);
    let Some(type_name) = type_value.as_str() else {
        return Err(err(
            &crate::json::py_repr(type_value).to_string_lossy(),
            path,
            "__type__ is not a known type name",
        ));
    };
    let text = || {
        value.as_py_str().ok_or_else(|| {
            err(type_name, path, format!("__value__ must be a str, not {}", value.type_name()))
        })
    };
    let utf8 = || {
        text()?
            .as_str()
            .ok_or_else(|| err(type_name, path, "__value__ holds lone surrogates, which kombu cannot decode"))
    };
    match type_name {
        "datetime" => {
            let t = utf8()?;
            match crate::message::time::parse_python_isoformat(t) {
                Some(crate::message::time::IsoDateTime::Aware(dt)) => Ok(Marker::DateTime(dt)),
                Some(crate::message::time::IsoDateTime::Naive(dt)) => Ok(Marker::NaiveDateTime(dt)),
                None => Err(err(type_name, path, format!("{t:?} is not an ISO datetime"))),
            }
        }
        "date" => {
            let t = utf8()?;
            // kombu decodes dates with datetime.fromisoformat(...).date().
            match crate::message::time::parse_python_isoformat(t) {
                Some(crate::message::time::IsoDateTime::Aware(dt)) => Ok(Marker::Date(dt.date_naive())),
                Some(crate::message::time::IsoDateTime::Naive(dt)) => Ok(Marker::Date(dt.date())),
                None => Err(err(type_name, path, format!("{t:?} is not an ISO date"))),
            }
        }
        "time" => {
            let t = utf8()?;
            let core = t.split(['+', '-', 'Z']).next().unwrap_or(t);
            if NaiveTime::parse_from_str(core, "%H:%M:%S%.f").is_ok()
                || NaiveTime::parse_from_str(core, "%H:%M").is_ok()
            {
                Ok(Marker::Time(t.to_owned()))
            } else {
                Err(err(type_name, path, format!("{t:?} is not an ISO time")))
            }
        }
        "decimal" => {
            let t = utf8()?;
            if is_decimal_text(t) {
                Ok(Marker::Decimal(t.to_owned()))
            } else {
                Err(err(type_name, path, format!("{t:?} is not a decimal number")))
            }
        }
        "uuid" => {
            let hex = value
                .as_dict()
                .filter(|inner| inner.len() == 1)
                .and_then(|inner| inner.get("hex"))
                .and_then(PyValue::as_str)
                .ok_or_else(|| err(type_name, path, "__value__ must be {\"hex\": \"<uuid>\"}"))?;
            uuid::Uuid::parse_str(hex)
                .map(Marker::Uuid)
                .map_err(|e| err(type_name, path, format!("bad uuid {hex:?}: {e}")))
        }
        "bytes" => Ok(Marker::Bytes(utf8()?.as_bytes().to_vec())),
        "base64" => {
            let t = utf8()?;
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map(Marker::Bytes)
                .map_err(|e| err(type_name, path, format!("bad base64: {e}")))
        }
        other => Err(err(other, path, "unknown __type__: kombu raises ValueError('Unsupported type')")),
    }
}

/// Loose check of Python's `Decimal(str)` syntax (sign, digits, point, exponent, or the
/// special values).
fn is_decimal_text(t: &str) -> bool {
    let t = t.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    if ["inf", "infinity", "nan", "snan"].contains(&lower.as_str()) {
        return true;
    }
    let (mantissa, exp) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    let mantissa_ok = {
        let (a, b) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        (!a.is_empty() || !b.is_empty())
            && a.bytes().all(|c| c.is_ascii_digit() || c == b'_')
            && b.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exp_ok
}

/// Walks `value` and returns the first dict that has the marker shape but that kombu's decoder
/// would reject (unknown `__type__`, wrong value type, unparsable text). Valid markers pass.
pub fn check_markers(value: &PyValue) -> Result<(), MarkerError> {
    let mut path = String::from("$");
    walk(value, &mut path)
}

fn walk(value: &PyValue, path: &mut String) -> Result<(), MarkerError> {
    match value {
        PyValue::List(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        PyValue::Dict(d) => {
            // kombu's object_hook runs bottom-up: inner values first.
            for (k, v) in d.iter() {
                let len = path.len();
                path.push_str(&format!("[{:?}]", k.to_string_lossy()));
                walk(v, path)?;
                path.truncate(len);
            }
            if is_marker_shape(d) {
                decode(d, path)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The marker text for a `__type__` value that is itself a [`PyStr`], for diagnostics.
pub fn marker_type(d: &PyDict) -> Option<&PyStr> {
    if is_marker_shape(d) { d.get("__type__").and_then(PyValue::as_py_str) } else { None }
}
