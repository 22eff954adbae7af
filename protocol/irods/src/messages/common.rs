//! Small structs shared by many APIs: key/value lists, byte buffers, single strings and ints.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DecodeError;
use crate::pi::PackStruct;
use crate::xml::Element;

/// `KeyValPair_PI` = `int ssLen; str *keyWord[ssLen]; str *svalue[ssLen];`
///
/// The "condInput" of most APIs: ordered keyword options (`forceFlag`, `destRescName`, ...).
/// Keys are case-sensitive; an empty value is an empty string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValPair {
    pub pairs: Vec<(String, String)>,
}

impl KeyValPair {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`KeyValPair::set`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Sets `key`, replacing an earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.pairs.iter().position(|(k, _)| k == key)?;
        Some(self.pairs.remove(at).1)
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl PackStruct for KeyValPair {
    const PI_NAME: &'static str = "KeyValPair_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("ssLen", self.pairs.len() as i32);
        for (k, _) in &self.pairs {
            el.push_str("keyWord", k);
        }
        for (_, v) in &self.pairs {
            el.push_str("svalue", v);
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        // ssLen is advisory: trust the elements actually present.
        let keys = el.get_strs("keyWord");
        let mut values = el.get_strs("svalue");
        values.resize(keys.len(), String::new());
        Ok(KeyValPair { pairs: keys.into_iter().zip(values).collect() })
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for KeyValPair {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut kvp = KeyValPair::new();
        for (k, v) in iter {
            kvp.set(k, v);
        }
        kvp
    }
}

/// `InxIvalPair_PI` = `int iiLen; int *inx(iiLen); int *ivalue(iiLen);` (GenQuery selects).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InxIvalPair {
    pub pairs: Vec<(i32, i32)>,
}

impl PackStruct for InxIvalPair {
    const PI_NAME: &'static str = "InxIvalPair_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("iiLen", self.pairs.len() as i32);
        for (i, _) in &self.pairs {
            el.push_int("inx", *i);
        }
        for (_, v) in &self.pairs {
            el.push_int("ivalue", *v);
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let inx = el.get_ints("inx")?;
        let mut values = el.get_ints("ivalue")?;
        values.resize(inx.len(), 0);
        Ok(InxIvalPair { pairs: inx.into_iter().zip(values).collect() })
    }
}

/// `InxValPair_PI` = `int isLen; int *inx(isLen); str *svalue[isLen];` (GenQuery conditions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InxValPair {
    pub pairs: Vec<(i32, String)>,
}

impl PackStruct for InxValPair {
    const PI_NAME: &'static str = "InxValPair_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("isLen", self.pairs.len() as i32);
        for (i, _) in &self.pairs {
            el.push_int("inx", *i);
        }
        for (_, v) in &self.pairs {
            el.push_str("svalue", v);
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let inx = el.get_ints("inx")?;
        let mut values = el.get_strs("svalue");
        values.resize(inx.len(), String::new());
        Ok(InxValPair { pairs: inx.into_iter().zip(values).collect() })
    }
}

/// `BinBytesBuf_PI` = `int buflen; bin *buf(buflen);` — the carrier of JSON for plugin APIs
/// (numbers >= 20000) and the 4.3 authentication framework.
///
/// Requests carry the JSON without a trailing NUL (the server parses exactly `buflen` bytes);
/// server replies include one and count it. [`BinBytesBuf::json`] strips NULs either way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BinBytesBuf {
    pub buflen: i32,
    pub buf: Vec<u8>,
}

impl BinBytesBuf {
    /// Raw bytes, `buflen` = their length.
    pub fn new(buf: Vec<u8>) -> Self {
        BinBytesBuf { buflen: buf.len() as i32, buf }
    }

    /// JSON as a client sends it: no trailing NUL.
    pub fn from_json<T: Serialize + ?Sized>(value: &T) -> Self {
        Self::new(serde_json::to_vec(value).expect("serializing to a Vec cannot fail"))
    }

    /// JSON as the server sends it (`to_bytes_buffer`): a trailing NUL, counted in `buflen`.
    pub fn from_json_with_nul<T: Serialize + ?Sized>(value: &T) -> Self {
        let mut buf = serde_json::to_vec(value).expect("serializing to a Vec cannot fail");
        buf.push(0);
        Self::new(buf)
    }

    /// The payload with trailing NULs removed.
    pub fn trimmed(&self) -> &[u8] {
        let end = self.buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        &self.buf[..end]
    }

    /// Parses the payload as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        serde_json::from_slice(self.trimmed())
            .map_err(|e| DecodeError::BadJson { field: "buf".into(), reason: e.to_string() })
    }
}

impl PackStruct for BinBytesBuf {
    const PI_NAME: &'static str = "BinBytesBuf_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("buflen", self.buflen).push_bin("buf", &self.buf);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(BinBytesBuf { buflen: el.get_int("buflen")?, buf: el.get_bin("buf")? })
    }
}

/// `BytesBuf_PI` = `int buflen; char *buf(buflen);` — text carried escaped like a `str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BytesBuf {
    pub buflen: i32,
    pub buf: String,
}

impl PackStruct for BytesBuf {
    const PI_NAME: &'static str = "BytesBuf_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("buflen", self.buflen).push_str("buf", &self.buf);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(BytesBuf { buflen: el.get_int("buflen")?, buf: el.get_str("buf") })
    }
}

/// `STR_PI` = `str myStr;` (checksum replies, JSON replies of some APIs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StrPi {
    pub my_str: String,
}

impl PackStruct for StrPi {
    const PI_NAME: &'static str = "STR_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("myStr", &self.my_str);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(StrPi { my_str: el.get_str("myStr") })
    }
}

/// `INT_PI` = `int myInt;`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntPi {
    pub my_int: i32,
}

impl PackStruct for IntPi {
    const PI_NAME: &'static str = "INT_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("myInt", self.my_int);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(IntPi { my_int: el.get_int("myInt")? })
    }
}
