//! Conversion between [`PyValue`] and Python objects.
//!
//! Rust to Python is exact: lone surrogates become lone surrogates (UTF-8 `surrogatepass`), big
//! ints become ints, NaN stays NaN, dict order is kept. Python to Rust is exact for everything
//! `json.dumps` accepts, with its key coercion (`1` -> `"1"`, `True` -> `"true"`, `None` ->
//! `"null"`); values it would reject are rendered as their `repr()` (see [`from_python`]), because
//! hooks may park arbitrary objects in `meta` and the reference would not fail on that.

use std::os::raw::c_char;

use celery_proto::json::{BigInt, PyDict, PyStr, PyValue, float_repr};
use pyo3::exceptions::{PyRecursionError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict as PyDictObject, PyFloat, PyInt, PyList, PyString, PyTuple,
};

/// Nesting deeper than this is treated like a reference cycle (Python's `json` would recurse
/// until `RecursionError`; we stop earlier and cleanly).
const MAX_DEPTH: usize = 200;

/// Top-level meta keys that hold `bytes` in the reference's hooks (`base64.b64encode(...)`).
/// They travel as strings in Rust and are turned back into bytes for Python.
pub(crate) const BYTES_META_KEYS: [&str; 2] = ["b64_path_str", "b64_path_str_charmap"];

pub(crate) fn str_to_python<'py>(py: Python<'py>, s: &PyStr) -> PyResult<Bound<'py, PyAny>> {
    match s.as_str() {
        Some(text) => Ok(PyString::new(py, text).into_any()),
        None => {
            let bytes = s.as_wtf8();
            // SAFETY: pointer and length describe `bytes`, which outlives the call; the error
            // handler name is a NUL-terminated literal. The result is a new reference or NULL.
            unsafe {
                let ptr = ffi::PyUnicode_DecodeUTF8(
                    bytes.as_ptr() as *const c_char,
                    bytes.len() as ffi::Py_ssize_t,
                    c"surrogatepass".as_ptr(),
                );
                Bound::from_owned_ptr_or_err(py, ptr)
            }
        }
    }
}

pub(crate) fn str_from_python(s: &Bound<'_, PyString>) -> PyResult<PyStr> {
    if let Ok(text) = s.to_str() {
        return Ok(PyStr::from(text));
    }
    // Lone surrogates: read the code points (UCS-4 copy) and keep them.
    // SAFETY: `s` is a str; PyUnicode_AsUCS4Copy returns a PyMem buffer of len+1 code points
    // (NUL-terminated) or NULL with an exception set; we free it with PyMem_Free.
    unsafe {
        let len = ffi::PyUnicode_GetLength(s.as_ptr());
        if len < 0 {
            return Err(PyErr::fetch(s.py()));
        }
        let buffer = ffi::PyUnicode_AsUCS4Copy(s.as_ptr());
        if buffer.is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        let points = std::slice::from_raw_parts(buffer, len as usize).to_vec();
        ffi::PyMem_Free(buffer as *mut std::ffi::c_void);
        PyStr::from_code_points(points)
            .ok_or_else(|| PyTypeError::new_err("string holds an invalid code point"))
    }
}

/// Builds the Python object for a value.
pub(crate) fn to_python<'py>(py: Python<'py>, value: &PyValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        PyValue::Null => py.None().into_bound(py),
        PyValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        PyValue::Int(i) => i.into_pyobject(py)?.into_any(),
        PyValue::BigInt(big) => big_int_to_python(py, big)?,
        PyValue::Float(f) => PyFloat::new(py, *f).into_any(),
        PyValue::Str(s) => str_to_python(py, s)?,
        PyValue::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        PyValue::Dict(dict) => dict_to_python(py, dict)?.into_any(),
    })
}

pub(crate) fn dict_to_python<'py>(py: Python<'py>, dict: &PyDict) -> PyResult<Bound<'py, PyDictObject>> {
    let out = PyDictObject::new(py);
    for (key, value) in dict {
        out.set_item(str_to_python(py, key)?, to_python(py, value)?)?;
    }
    Ok(out)
}

/// Meta for hooks: [`dict_to_python`] plus the in-process bytes keys as `bytes`.
pub(crate) fn meta_to_python<'py>(py: Python<'py>, meta: &PyDict) -> PyResult<Bound<'py, PyDictObject>> {
    let out = dict_to_python(py, meta)?;
    for key in BYTES_META_KEYS {
        if let Some(PyValue::Str(text)) = meta.get(key) {
            let bytes = text.to_fs_bytes().map_err(|e| PyTypeError::new_err(e.to_string()))?;
            out.set_item(key, PyBytes::new(py, &bytes))?;
        }
    }
    Ok(out)
}

fn big_int_to_python<'py>(py: Python<'py>, big: &BigInt) -> PyResult<Bound<'py, PyAny>> {
    let digits = std::ffi::CString::new(big.as_str())
        .map_err(|_| PyTypeError::new_err("integer digits contain NUL"))?;
    // SAFETY: NUL-terminated decimal digits; base 10; returns a new reference or NULL.
    unsafe {
        let ptr = ffi::PyLong_FromString(digits.as_ptr(), std::ptr::null_mut(), 10);
        Bound::from_owned_ptr_or_err(py, ptr)
    }
}

/// Reads a Python object as a value, `json.dumps`-style; unsupported objects become `repr()`
/// strings and `bytes` are decoded like `os.fsdecode`.
pub(crate) fn from_python(obj: &Bound<'_, PyAny>) -> PyResult<PyValue> {
    convert(obj, 0)
}

/// Reads a dict (meta, options) as a [`PyDict`]; anything else is a `TypeError`.
pub(crate) fn dict_from_python(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<PyDict> {
    match convert(obj, 0)? {
        PyValue::Dict(dict) if obj.is_instance_of::<PyDictObject>() => Ok(dict),
        _ => Err(PyTypeError::new_err(format!("{what} must be a dict, not {}", type_name(obj)))),
    }
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

pub(crate) fn repr_of(obj: &Bound<'_, PyAny>) -> String {
    match obj.repr() {
        Ok(repr) => repr.to_string_lossy().into_owned(),
        Err(_) => format!("<{} object>", type_name(obj)),
    }
}

fn convert(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<PyValue> {
    if depth > MAX_DEPTH {
        return Err(PyRecursionError::new_err("value nested too deeply (or a reference cycle) to convert"));
    }
    if obj.is_none() {
        return Ok(PyValue::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(PyValue::Bool(b.is_true()));
    }
    if let Ok(int) = obj.cast::<PyInt>() {
        if let Ok(i) = int.extract::<i64>() {
            return Ok(PyValue::Int(i));
        }
        // `int.__repr__` gives plain decimal digits even for int subclasses.
        let digits = obj.py().get_type::<PyInt>().call_method1("__repr__", (obj,))?;
        let digits = digits.cast::<PyString>()?.to_str()?.to_owned();
        return BigInt::parse(&digits)
            .map(PyValue::BigInt)
            .ok_or_else(|| PyTypeError::new_err("int has no decimal form"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(PyValue::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(PyValue::Str(str_from_python(s)?));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|item| convert(&item, depth + 1)).collect::<PyResult<_>>().map(PyValue::List);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| convert(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(PyValue::List);
    }
    if let Ok(dict) = obj.cast::<PyDictObject>() {
        let mut out = PyDict::with_capacity(dict.len());
        for (key, value) in dict.iter() {
            out.insert(dict_key(&key)?, convert(&value, depth + 1)?);
        }
        return Ok(PyValue::Dict(out));
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(PyValue::Str(PyStr::from_fs_bytes(bytes.as_bytes())));
    }
    if let Ok(bytes) = obj.cast::<PyByteArray>() {
        return Ok(PyValue::Str(PyStr::from_fs_bytes(&bytes.to_vec())));
    }
    Ok(PyValue::Str(PyStr::from(repr_of(obj))))
}

/// `json.dumps` key coercion: str as is, numbers/bools/None as JSON text, others by `repr()`.
fn dict_key(key: &Bound<'_, PyAny>) -> PyResult<PyStr> {
    if let Ok(s) = key.cast::<PyString>() {
        return str_from_python(s);
    }
    let text = if key.is_none() {
        "null".to_owned()
    } else if let Ok(b) = key.cast::<PyBool>() {
        if b.is_true() { "true" } else { "false" }.to_owned()
    } else if key.is_instance_of::<PyInt>() {
        match convert(key, 0)? {
            PyValue::Int(i) => i.to_string(),
            PyValue::BigInt(big) => big.as_str().to_owned(),
            _ => repr_of(key),
        }
    } else if let Ok(f) = key.cast::<PyFloat>() {
        let f = f.value();
        if f.is_nan() {
            "NaN".to_owned()
        } else if f.is_infinite() {
            if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        } else {
            float_repr(f)
        }
    } else {
        repr_of(key)
    };
    Ok(PyStr::from(text))
}
