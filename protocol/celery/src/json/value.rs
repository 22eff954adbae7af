//! [`PyValue`] and [`PyDict`]: the JSON data model as Python sees it.

use super::number::BigInt;
use super::string::PyStr;

/// A value as Python's `json.loads` returns it, losslessly: unbounded ints, `NaN`/`Infinity`,
/// strings with lone surrogates and insertion-ordered dicts.
///
/// kombu's `{"__type__": ..., "__value__": ...}` markers are kept as plain [`PyValue::Dict`]s
/// so that re-encoding reproduces them byte for byte; see [`super::marker`] for typed access
/// and for building them.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `null` / `None`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An int that fits in 64 bits.
    Int(i64),
    /// An int outside the `i64` range, digits kept exactly.
    BigInt(BigInt),
    /// A float, including NaN and the infinities.
    Float(f64),
    /// A string.
    Str(PyStr),
    /// A list (Python emits tuples as lists too).
    List(Vec<PyValue>),
    /// An object.
    Dict(PyDict),
}

impl PyValue {
    /// The Python type name (`NoneType`, `bool`, `int`, `float`, `str`, `list`, `dict`), for error
    /// messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::Null => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) | PyValue::BigInt(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) => "str",
            PyValue::List(_) => "list",
            PyValue::Dict(_) => "dict",
        }
    }

    /// A string value.
    pub fn str(s: impl Into<PyStr>) -> Self {
        PyValue::Str(s.into())
    }

    /// True for `None`.
    pub fn is_null(&self) -> bool {
        matches!(self, PyValue::Null)
    }

    /// The text of a string without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => s.as_str(),
            _ => None,
        }
    }

    /// Any string, lone surrogates included.
    pub fn as_py_str(&self) -> Option<&PyStr> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A bool (not an int: unlike Python, `1` is not `True` here).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            PyValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// An int that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            PyValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Any number as `f64` (ints convert, big ints approximately).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            PyValue::Int(i) => Some(*i as f64),
            PyValue::BigInt(b) => b.as_str().parse().ok(),
            PyValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The elements of a list.
    pub fn as_list(&self) -> Option<&[PyValue]> {
        match self {
            PyValue::List(l) => Some(l),
            _ => None,
        }
    }

    /// The elements of a list, mutably.
    pub fn as_list_mut(&mut self) -> Option<&mut Vec<PyValue>> {
        match self {
            PyValue::List(l) => Some(l),
            _ => None,
        }
    }

    /// A dict.
    pub fn as_dict(&self) -> Option<&PyDict> {
        match self {
            PyValue::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A dict, mutably.
    pub fn as_dict_mut(&mut self) -> Option<&mut PyDict> {
        match self {
            PyValue::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// `value[key]` for a dict value; `None` for other types or a missing key.
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        self.as_dict()?.get(key)
    }

    /// Python truthiness (`bool(x)`).
    pub fn is_truthy(&self) -> bool {
        match self {
            PyValue::Null => false,
            PyValue::Bool(b) => *b,
            PyValue::Int(i) => *i != 0,
            PyValue::BigInt(_) => true,
            PyValue::Float(f) => *f != 0.0,
            PyValue::Str(s) => !s.is_empty(),
            PyValue::List(l) => !l.is_empty(),
            PyValue::Dict(d) => !d.is_empty(),
        }
    }
}

impl From<&str> for PyValue {
    fn from(s: &str) -> Self {
        PyValue::Str(PyStr::from(s))
    }
}

impl From<String> for PyValue {
    fn from(s: String) -> Self {
        PyValue::Str(PyStr::from(s))
    }
}

impl From<PyStr> for PyValue {
    fn from(s: PyStr) -> Self {
        PyValue::Str(s)
    }
}

impl From<bool> for PyValue {
    fn from(b: bool) -> Self {
        PyValue::Bool(b)
    }
}

impl From<i64> for PyValue {
    fn from(i: i64) -> Self {
        PyValue::Int(i)
    }
}

impl From<i32> for PyValue {
    fn from(i: i32) -> Self {
        PyValue::Int(i64::from(i))
    }
}

impl From<u32> for PyValue {
    fn from(i: u32) -> Self {
        PyValue::Int(i64::from(i))
    }
}

impl From<u64> for PyValue {
    fn from(i: u64) -> Self {
        match i64::try_from(i) {
            Ok(v) => PyValue::Int(v),
            Err(_) => PyValue::BigInt(BigInt::from_u64(i)),
        }
    }
}

impl From<f64> for PyValue {
    fn from(f: f64) -> Self {
        PyValue::Float(f)
    }
}

impl From<PyDict> for PyValue {
    fn from(d: PyDict) -> Self {
        PyValue::Dict(d)
    }
}

impl From<Vec<PyValue>> for PyValue {
    fn from(l: Vec<PyValue>) -> Self {
        PyValue::List(l)
    }
}

impl<T: Into<PyValue>> From<Option<T>> for PyValue {
    fn from(o: Option<T>) -> Self {
        match o {
            Some(v) => v.into(),
            None => PyValue::Null,
        }
    }
}

/// A Python dict with string keys, in insertion order.
///
/// Setting an existing key replaces its value in place (Python semantics), so a decoded and
/// re-encoded object keeps its key order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PyDict {
    entries: Vec<(PyStr, PyValue)>,
}

impl PyDict {
    /// An empty dict.
    pub fn new() -> Self {
        PyDict { entries: Vec::new() }
    }

    /// An empty dict with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        PyDict { entries: Vec::with_capacity(n) }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value for `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut PyValue> {
        self.entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value for a key that may hold lone surrogates.
    pub fn get_py(&self, key: &PyStr) -> Option<&PyValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// True if `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`: replaces the value in place if present, else appends. Returns the old value.
    pub fn insert(&mut self, key: impl Into<PyStr>, value: impl Into<PyValue>) -> Option<PyValue> {
        let key = key.into();
        let value = value.into();
        if let Some((_, slot)) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            return Some(std::mem::replace(slot, value));
        }
        self.entries.push((key, value));
        None
    }

    /// Appends without looking for an existing key. Callers must know the key is new.
    pub(crate) fn push_unique(&mut self, key: PyStr, value: PyValue) {
        self.entries.push((key, value));
    }

    /// The index of `key`, used by the parser for duplicate keys.
    pub(crate) fn position(&self, key: &PyStr) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    pub(crate) fn set_at(&mut self, index: usize, value: PyValue) {
        if let Some(slot) = self.entries.get_mut(index) {
            slot.1 = value;
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<PyValue> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&PyStr, &PyValue)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &PyStr> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Consumes the dict into its entries.
    pub fn into_entries(self) -> Vec<(PyStr, PyValue)> {
        self.entries
    }
}

impl<K: Into<PyStr>, V: Into<PyValue>> FromIterator<(K, V)> for PyDict {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut d = PyDict::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

impl<'a> IntoIterator for &'a PyDict {
    type Item = (&'a PyStr, &'a PyValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (PyStr, PyValue)>,
        fn(&'a (PyStr, PyValue)) -> (&'a PyStr, &'a PyValue),
    >;

    fn into_iter(self) -> Self::IntoIter {
        fn split(e: &(PyStr, PyValue)) -> (&PyStr, &PyValue) {
            (&e.0, &e.1)
        }
        self.entries.iter().map(split as fn(&'a (PyStr, PyValue)) -> (&'a PyStr, &'a PyValue))
    }
}

/// Builds a [`PyDict`] from `key => value` pairs, in order.
#[macro_export]
macro_rules! pydict {
    () => { $crate::json::PyDict::new() };
    ($($k:expr => $v:expr),+ $(,)?) => {{
        let mut d = $crate::json::PyDict::new();
        $( d.insert($k, $v); )+
        d
    }};
}
