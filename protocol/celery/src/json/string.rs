//! [`PyStr`]: a Python `str` that may hold lone surrogates.
//!
//! Python turns filename bytes that are not valid UTF-8 into lone surrogates (`os.fsdecode`,
//! error handler `surrogateescape`: byte `0xE9` becomes U+DCE9), and `json.dumps` sends them as
//! `"caf\udce9.txt"`. A Rust `String` cannot hold U+DCE9, so a `PyStr` keeps such strings in
//! WTF-8 (UTF-8 extended to encode surrogate code points) and only hands out `&str` when the
//! text is real Unicode. Nothing is lost: [`PyStr::to_fs_bytes`] gives back exactly the bytes
//! Python's `os.fsencode` would.

use std::borrow::Cow;
use std::fmt;

/// A Python string: valid Unicode, or Unicode plus lone surrogates (U+D800..U+DFFF).
///
/// Equality, ordering and hashing are by code point sequence.
#[derive(Clone)]
pub struct PyStr {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Valid Unicode (no surrogates at all).
    Utf8(String),
    /// WTF-8 bytes containing at least one lone surrogate (encoded as ED A0..BF xx).
    Wtf8(Vec<u8>),
}

/// A code point that cannot be turned back into a filesystem byte by `os.fsencode`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "lone surrogate U+{code_point:04X} at character {index} has no byte equivalent (only U+DC80..U+DCFF map to bytes)"
)]
pub struct FsEncodeError {
    /// The offending surrogate.
    pub code_point: u32,
    /// Its position in code points.
    pub index: usize,
}

impl PyStr {
    /// The empty string.
    pub fn new() -> Self {
        PyStr { repr: Repr::Utf8(String::new()) }
    }

    /// Builds a string from a sequence of code points. Lone surrogates are kept; a high
    /// surrogate directly followed by a low one is combined into one character (as Python's
    /// JSON decoder does, and WTF-8 requires).
    ///
    /// Returns `None` for values above U+10FFFF.
    pub fn from_code_points<I: IntoIterator<Item = u32>>(points: I) -> Option<Self> {
        let mut b = PyStrBuilder::new();
        for cp in points {
            if cp > 0x10FFFF {
                return None;
            }
            b.push_code_point(cp);
        }
        Some(b.finish())
    }

    /// The inverse of Python's `os.fsdecode` on POSIX (UTF-8 with `surrogateescape`): valid
    /// UTF-8 sequences become their characters, every other byte `b` (always `>= 0x80`) becomes
    /// the lone surrogate `U+DC00 + b`.
    pub fn from_fs_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(s) => PyStr::from(s),
            Err(_) => {
                let mut b = PyStrBuilder::new();
                let mut rest = bytes;
                while !rest.is_empty() {
                    match std::str::from_utf8(rest) {
                        Ok(s) => {
                            b.push_str(s);
                            break;
                        }
                        Err(e) => {
                            let (good, bad) = rest.split_at(e.valid_up_to());
                            // `good` is valid by construction.
                            b.push_str(std::str::from_utf8(good).unwrap_or_default());
                            let bad_len = e.error_len().unwrap_or(bad.len());
                            for &byte in &bad[..bad_len] {
                                b.push_code_point(0xDC00 + u32::from(byte));
                            }
                            rest = &bad[bad_len..];
                        }
                    }
                }
                b.finish()
            }
        }
    }

    /// The bytes Python's `os.fsencode` (UTF-8, `surrogateescape`) produces for this string:
    /// U+DC80..U+DCFF become single bytes 0x80..0xFF; any other lone surrogate is an error, as it
    /// is in Python.
    pub fn to_fs_bytes(&self) -> Result<Cow<'_, [u8]>, FsEncodeError> {
        match &self.repr {
            Repr::Utf8(s) => Ok(Cow::Borrowed(s.as_bytes())),
            Repr::Wtf8(_) => {
                let mut out = Vec::with_capacity(self.wtf8_len());
                for (index, cp) in self.code_points().enumerate() {
                    if (0xD800..=0xDFFF).contains(&cp) {
                        if (0xDC80..=0xDCFF).contains(&cp) {
                            out.push((cp - 0xDC00) as u8);
                        } else {
                            return Err(FsEncodeError { code_point: cp, index });
                        }
                    } else {
                        push_utf8(&mut out, cp);
                    }
                }
                Ok(Cow::Owned(out))
            }
        }
    }

    /// `os.fsdecode(path)`: a filesystem path as Python sees it.
    #[cfg(unix)]
    pub fn from_path(path: &std::path::Path) -> Self {
        use std::os::unix::ffi::OsStrExt;
        PyStr::from_fs_bytes(path.as_os_str().as_bytes())
    }

    /// `os.fsencode(self)` as a path: the exact bytes of the file name Python meant.
    #[cfg(unix)]
    pub fn to_path_buf(&self) -> Result<std::path::PathBuf, FsEncodeError> {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(&self.to_fs_bytes()?)).to_path_buf())
    }

    /// The text, if it holds no lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match &self.repr {
            Repr::Utf8(s) => Some(s),
            Repr::Wtf8(_) => None,
        }
    }

    /// The text with every lone surrogate replaced by U+FFFD (for logs and messages only).
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        match &self.repr {
            Repr::Utf8(s) => Cow::Borrowed(s),
            Repr::Wtf8(_) => Cow::Owned(
                self.code_points()
                    .map(|cp| char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            ),
        }
    }

    /// True if the string contains at least one lone surrogate.
    pub fn has_lone_surrogates(&self) -> bool {
        matches!(self.repr, Repr::Wtf8(_))
    }

    /// The WTF-8 bytes (identical to UTF-8 when there are no lone surrogates).
    pub fn as_wtf8(&self) -> &[u8] {
        match &self.repr {
            Repr::Utf8(s) => s.as_bytes(),
            Repr::Wtf8(b) => b,
        }
    }

    fn wtf8_len(&self) -> usize {
        self.as_wtf8().len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.wtf8_len() == 0
    }

    /// Number of code points, i.e. Python's `len(s)`.
    pub fn char_len(&self) -> usize {
        match &self.repr {
            Repr::Utf8(s) => s.chars().count(),
            Repr::Wtf8(_) => self.code_points().count(),
        }
    }

    /// Iterates over the code points (surrogates included), like iterating a Python `str`.
    pub fn code_points(&self) -> CodePoints<'_> {
        CodePoints { bytes: self.as_wtf8(), pos: 0 }
    }

    /// Python's `s[:n]` (by code points).
    pub fn prefix(&self, n: usize) -> PyStr {
        match &self.repr {
            Repr::Utf8(s) => match s.char_indices().nth(n) {
                Some((i, _)) => PyStr::from(&s[..i]),
                None => self.clone(),
            },
            Repr::Wtf8(_) => PyStr::from_code_points(self.code_points().take(n)).unwrap_or_default(),
        }
    }
}

impl PartialEq for PyStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_wtf8() == other.as_wtf8()
    }
}

impl Eq for PyStr {}

impl std::hash::Hash for PyStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_wtf8().hash(state);
    }
}

impl PartialOrd for PyStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PyStr {
    /// WTF-8 byte order equals code point order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_wtf8().cmp(other.as_wtf8())
    }
}

impl Default for PyStr {
    fn default() -> Self {
        PyStr::new()
    }
}

impl From<&str> for PyStr {
    fn from(s: &str) -> Self {
        PyStr { repr: Repr::Utf8(s.to_owned()) }
    }
}

impl From<String> for PyStr {
    fn from(s: String) -> Self {
        PyStr { repr: Repr::Utf8(s) }
    }
}

impl From<&String> for PyStr {
    fn from(s: &String) -> Self {
        PyStr::from(s.as_str())
    }
}

impl PartialEq<str> for PyStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for PyStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl fmt::Debug for PyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Utf8(s) => fmt::Debug::fmt(s, f),
            Repr::Wtf8(_) => {
                f.write_str("\"")?;
                for cp in self.code_points() {
                    match char::from_u32(cp) {
                        Some(c) => write!(f, "{}", c.escape_debug())?,
                        None => write!(f, "\\u{{{cp:x}}}")?,
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for PyStr {
    /// Lossy: lone surrogates are shown as U+FFFD.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// Iterator over the code points of a [`PyStr`].
#[derive(Clone)]
pub struct CodePoints<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Iterator for CodePoints<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let b = self.bytes;
        let i = self.pos;
        let first = *b.get(i)?;
        // The bytes are well-formed WTF-8 by construction, so lengths are trusted but indexing
        // stays checked.
        let (len, init) = match first {
            0x00..=0x7F => (1, u32::from(first)),
            0xC0..=0xDF => (2, u32::from(first & 0x1F)),
            0xE0..=0xEF => (3, u32::from(first & 0x0F)),
            _ => (4, u32::from(first & 0x07)),
        };
        let mut cp = init;
        for k in 1..len {
            cp = (cp << 6) | u32::from(b.get(i + k).copied().unwrap_or(0x80) & 0x3F);
        }
        self.pos = i + len;
        Some(cp)
    }
}

/// Appends the (generalised) UTF-8 encoding of `cp` to `out`; surrogates get the 3-byte form.
pub(crate) fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp < 0x80 {
        out.push(cp as u8);
    } else if cp < 0x800 {
        out.push(0xC0 | (cp >> 6) as u8);
        out.push(0x80 | (cp & 0x3F) as u8);
    } else if cp < 0x10000 {
        out.push(0xE0 | (cp >> 12) as u8);
        out.push(0x80 | ((cp >> 6) & 0x3F) as u8);
        out.push(0x80 | (cp & 0x3F) as u8);
    } else {
        out.push(0xF0 | (cp >> 18) as u8);
        out.push(0x80 | ((cp >> 12) & 0x3F) as u8);
        out.push(0x80 | ((cp >> 6) & 0x3F) as u8);
        out.push(0x80 | (cp & 0x3F) as u8);
    }
}

/// Incremental construction of a [`PyStr`], used by the JSON parser.
///
/// A high surrogate immediately followed by a low surrogate is combined into one supplementary
/// character, as Python's JSON decoder does for `"\ud83d\ude00"`.
#[derive(Default)]
pub(crate) struct PyStrBuilder {
    bytes: Vec<u8>,
    /// Number of lone surrogates currently in `bytes`.
    lone: usize,
    /// The last pushed code point was a high surrogate written at this byte offset.
    pending_high: Option<(usize, u32)>,
}

impl PyStrBuilder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        if !s.is_empty() {
            self.pending_high = None;
            self.bytes.extend_from_slice(s.as_bytes());
        }
    }

    pub(crate) fn push_code_point(&mut self, cp: u32) {
        if (0xDC00..=0xDFFF).contains(&cp) {
            if let Some((at, high)) = self.pending_high.take() {
                self.bytes.truncate(at);
                let combined = 0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00);
                push_utf8(&mut self.bytes, combined);
                self.lone -= 1;
                return;
            }
            self.lone += 1;
            push_utf8(&mut self.bytes, cp);
        } else if (0xD800..=0xDBFF).contains(&cp) {
            self.lone += 1;
            self.pending_high = Some((self.bytes.len(), cp));
            push_utf8(&mut self.bytes, cp);
        } else {
            self.pending_high = None;
            push_utf8(&mut self.bytes, cp);
        }
    }

    pub(crate) fn finish(self) -> PyStr {
        if self.lone > 0 {
            PyStr { repr: Repr::Wtf8(self.bytes) }
        } else {
            match String::from_utf8(self.bytes) {
                Ok(s) => PyStr { repr: Repr::Utf8(s) },
                // Unreachable for well-formed input; keep the bytes rather than panic.
                Err(e) => PyStr { repr: Repr::Wtf8(e.into_bytes()) },
            }
        }
    }
}
