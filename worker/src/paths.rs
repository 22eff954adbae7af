//! Source paths: bytes on disk versus the Python strings that travel in `meta`.
//!
//! A filesystem path is a byte string. The Python reference turns it into a `str` with
//! `os.fsdecode` (UTF-8 with `surrogateescape`): every byte that is not part of valid UTF-8 becomes
//! the lone surrogate `U+DC00 + byte`, and kombu's JSON encoder writes that as `\udcXX`. This module
//! is the only place that converts between the two forms, so that a Rust worker reaches the same file
//! a Python worker would and re-emits exactly the string a Python worker would have sent.
//!
//! Strings in Python form are handled here as UTF-16 code units (`[u16]`), the form JSON `\u`
//! escapes take; a lone surrogate is simply a unit in `0xD800..=0xDFFF` without a partner.
//!
//! It also holds the path arithmetic the reference does with `os.path` (`abspath`, `relpath`,
//! `join`), the UTF-8 check that selects the reference's "UnicodeEncodeError" handling, and the
//! logical-path computation of `filesystem_sync_entry` (§3.5 step 8 and §8 of the reference notes).

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use celery_proto::json::PyStr;

use crate::charmap::{CharMap, CharMapError};

/// Prefix of the logical name the reference gives to a file whose path is not valid UTF-8.
pub const UNICODE_ERROR_PREFIX: &str = "irods_UnicodeEncodeError_";

/// Why a path could not be converted or placed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// A Python string holds a surrogate that `surrogateescape` cannot turn back into a byte
    /// (a high surrogate, or a low one outside `U+DC80..=U+DCFF`); Python raises
    /// `UnicodeEncodeError` for the same string.
    #[error("string holds surrogate U+{unit:04X} at index {index}, which maps to no byte")]
    UnmappableSurrogate { unit: u16, index: usize },
    /// The path contains a NUL byte, which no system call accepts.
    #[error("path contains a NUL byte")]
    NulByte,
    /// A logical (iRODS) path would contain bytes that are not UTF-8.
    #[error("logical path for {source_path:?} is not valid UTF-8")]
    LogicalPathNotUtf8 { source_path: String },
    /// The character map failed on this path.
    #[error(transparent)]
    CharMap(#[from] CharMapError),
}

/// Python's `os.fsdecode` on Linux: UTF-8, each undecodable byte becomes `U+DC00 + byte`.
///
/// Invalid sequences are split the way CPython's decoder splits them (maximal valid prefix, the
/// Unicode "best practice" that Rust's `Utf8Error::error_len` also follows); since every byte of an
/// invalid run is escaped on its own, the result is the same string Python produces.
pub fn fsdecode(bytes: &[u8]) -> Vec<u16> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.extend(valid.encode_utf16());
                return out;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                // SAFETY-free: `valid` was just validated by from_utf8.
                out.extend(std::str::from_utf8(valid).unwrap_or_default().encode_utf16());
                let bad = error.error_len().unwrap_or(after.len());
                out.extend(after[..bad].iter().map(|&b| 0xDC00 | u16::from(b)));
                rest = &after[bad..];
            }
        }
    }
}

/// Python's `os.fsencode` (`str.encode("utf-8", "surrogateescape")`): the inverse of [`fsdecode`].
///
/// Paired surrogates encode as the character they form; lone `U+DC80..=U+DCFF` become the byte
/// they stand for; any other lone surrogate is an error, as in Python.
pub fn fsencode(units: &[u16]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(units.len());
    let mut index = 0;
    for decoded in char::decode_utf16(units.iter().copied()) {
        match decoded {
            Ok(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                index += c.len_utf16();
            }
            Err(error) => {
                let unit = error.unpaired_surrogate();
                if (0xDC80..=0xDCFF).contains(&unit) {
                    out.push((unit & 0xFF) as u8);
                } else {
                    return Err(PathError::UnmappableSurrogate { unit, index });
                }
                index += 1;
            }
        }
    }
    Ok(out)
}

/// `utils.is_unicode_encode_error_path`: does `str.encode("utf8")` fail, i.e. does the Python
/// string hold a lone surrogate?
pub fn is_unicode_encode_error_path(units: &[u16]) -> bool {
    char::decode_utf16(units.iter().copied()).any(|c| c.is_err())
}

/// The same test on the on-disk bytes: a path needs the UnicodeEncodeError handling exactly when
/// its bytes are not valid UTF-8.
pub fn needs_unicode_error_handling(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err()
}

/// The path as a Rust string for regex matching and logs, with every undecodable byte replaced by
/// one U+FFFD, so that character positions match the Python string (one surrogate per byte).
pub fn lossy_one_char_per_bad_byte(bytes: &[u8]) -> String {
    let units = fsdecode(bytes);
    char::decode_utf16(units.iter().copied()).map(|c| c.unwrap_or('\u{FFFD}')).collect()
}

/// `base64.b64encode(abspath.encode("utf8", "surrogateescape"))` as text: standard alphabet with
/// padding, of the original path bytes. Used for the UnicodeEncodeError names and AVU values.
pub fn b64_path_str(abs_path: &[u8]) -> String {
    BASE64.encode(abs_path)
}

/// `posixpath.normpath` on bytes.
pub fn normpath(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let initial_slashes = if path.starts_with(b"//") && !path.starts_with(b"///") {
        2
    } else if path.starts_with(b"/") {
        1
    } else {
        0
    };
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        if part.is_empty() || part == b"." {
            continue;
        }
        let keep =
            part != b".." || (initial_slashes == 0 && parts.is_empty()) || parts.last() == Some(&&b".."[..]);
        if keep {
            parts.push(part);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let mut out = vec![b'/'; initial_slashes];
    out.extend(parts.join(&b'/'));
    if out.is_empty() { b".".to_vec() } else { out }
}

/// `os.path.abspath` on bytes: joined to the current directory when relative, then normalised.
pub fn abspath(path: &[u8]) -> Vec<u8> {
    if path.starts_with(b"/") {
        return normpath(path);
    }
    let cwd =
        std::env::current_dir().map(|d| d.into_os_string().into_vec()).unwrap_or_else(|_| b"/".to_vec());
    normpath(&join(&cwd, path))
}

/// `posixpath.join(a, b)` for two components.
pub fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    if b.starts_with(b"/") || a.is_empty() {
        return b.to_vec();
    }
    let mut out = a.to_vec();
    if !a.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(b);
    out
}

/// `posixpath.relpath(path, start)` on bytes.
pub fn relpath(path: &[u8], start: &[u8]) -> Vec<u8> {
    let start_abs = abspath(start);
    let path_abs = abspath(path);
    let start_parts: Vec<&[u8]> = start_abs.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
    let path_parts: Vec<&[u8]> = path_abs.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
    let common = start_parts.iter().zip(&path_parts).take_while(|(a, b)| a == b).count();
    let mut rel: Vec<&[u8]> = vec![b".."; start_parts.len() - common];
    rel.extend(&path_parts[common..]);
    if rel.is_empty() { b".".to_vec() } else { rel.join(&b'/') }
}

/// `posixpath.dirname` on bytes.
pub fn dirname(path: &[u8]) -> &[u8] {
    let cut = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let head = &path[..cut];
    if !head.is_empty() && head.iter().any(|&b| b != b'/') {
        let trimmed = head.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        &head[..trimmed]
    } else {
        head
    }
}

/// `posixpath.basename` on bytes.
pub fn basename(path: &[u8]) -> &[u8] {
    let cut = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    &path[cut..]
}

/// An absolute source path as the bytes the kernel knows it by.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourcePath(Vec<u8>);

impl SourcePath {
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, PathError> {
        let bytes = bytes.into();
        if bytes.contains(&0) {
            return Err(PathError::NulByte);
        }
        Ok(Self(bytes))
    }

    /// From the Python string form found in `meta` (UTF-16 units with surrogate escapes).
    pub fn from_python_units(units: &[u16]) -> Result<Self, PathError> {
        Self::from_bytes(fsencode(units)?)
    }

    /// From a Rust string (always valid UTF-8, so no escapes are involved).
    pub fn from_str_path(path: &str) -> Result<Self, PathError> {
        Self::from_bytes(path.as_bytes().to_vec())
    }

    /// From a `meta` string (`celery-proto`'s Python string, lone surrogates allowed).
    pub fn from_py_str(s: &PyStr) -> Result<Self, PathError> {
        let bytes = s.to_fs_bytes().map_err(|e| PathError::UnmappableSurrogate {
            unit: u16::try_from(e.code_point).unwrap_or(u16::MAX),
            index: e.index,
        })?;
        Self::from_bytes(bytes.into_owned())
    }

    /// The `meta` string for this path, exactly what Python's `os.fsdecode` gives.
    pub fn to_py_str(&self) -> PyStr {
        PyStr::from_fs_bytes(&self.0)
    }

    /// The Python string form (`os.fsdecode`) as UTF-16 units.
    pub fn to_python_units(&self) -> Vec<u16> {
        fsdecode(&self.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    pub fn as_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.0))
    }

    /// The path as UTF-8, if it is valid UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// True when the reference would take its UnicodeEncodeError branch for this path.
    pub fn needs_unicode_error_handling(&self) -> bool {
        needs_unicode_error_handling(&self.0)
    }

    /// For logs: undecodable bytes shown as U+FFFD.
    pub fn display_lossy(&self) -> String {
        lossy_one_char_per_bad_byte(&self.0)
    }
}

impl std::fmt::Debug for SourcePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_path())
    }
}

/// What the reference records about an entry whose path is not valid UTF-8 (§8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicodeErrorNames {
    /// `b64_path_str`: base64 of the full original path bytes.
    pub b64_path_str: String,
    /// `unicode_error_filename`: `irods_UnicodeEncodeError_<b64>`.
    pub unicode_error_filename: String,
    /// The value `meta["path"]` takes: the entry's parent directory.
    pub parent: SourcePath,
}

/// Why the logical path carries an AVU naming the original path (`meta["b64_reason"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum B64Reason {
    UnicodeEncodeError,
    CharacterMap,
}

impl B64Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            B64Reason::UnicodeEncodeError => "UnicodeEncodeError",
            B64Reason::CharacterMap => "character_map",
        }
    }
}

/// Everything `filesystem_sync_entry` derives from one entry's path before it touches iRODS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryNames {
    /// `<path>:<root target>` or, for undecodable paths, `<b64>:<root target>`; the suffix of the
    /// `sync_time:/` key and of the `lock:sync_file:` / `lock:sync_dir:` lock names.
    pub sync_key: String,
    /// The iRODS logical path (`meta["target"]` seen by the operation and hooks).
    pub logical_path: String,
    /// Set when the path is not valid UTF-8.
    pub unicode_error: Option<UnicodeErrorNames>,
    /// Set when the path was renamed, with the base64 of the original path to record.
    pub b64_reason: Option<B64Reason>,
    /// `b64_path_str_charmap`, set together with `b64_reason == CharacterMap`.
    pub b64_path_str_charmap: Option<String>,
}

/// Computes the names of one entry as the reference's `filesystem_sync_entry` does.
///
/// * `root`: `meta["root"]` (the realpath of the source directory); `root_target`: the job's
///   target collection (`meta["target"]` as the task received it).
/// * Valid UTF-8: logical path = `root_target` for the root itself, else
///   `os.path.join(root_target, relpath(path, root))`, then the character map (whole path, §8.2).
/// * Not UTF-8 (§8.1): the entry is named `irods_UnicodeEncodeError_<b64 of the full path>`.
///   At the root level this matches the reference exactly. **Intended fix:** for an entry below a
///   sub-directory the reference names it by its parent collection's own path (so the entry fails
///   with "cannot sync file … to collection …"); here it becomes
///   `<parent collection>/irods_UnicodeEncodeError_<b64>`, the name the reference gives root-level
///   files. The b64 text is kept verbatim (it may contain `/`, as in the reference) so both kinds of
///   workers agree on the name wherever the reference produces one.
pub fn entry_names(
    root: &SourcePath,
    root_target: &str,
    path: &SourcePath,
    char_map: Option<&CharMap>,
) -> Result<EntryNames, PathError> {
    let abs = abspath(path.as_bytes());
    if path.needs_unicode_error_handling() {
        let b64 = b64_path_str(&abs);
        let parent = SourcePath::from_bytes(dirname(&abs).to_vec())?;
        let filename = format!("{UNICODE_ERROR_PREFIX}{b64}");
        let parent_collection = collection_for(root, root_target, &parent)?;
        let logical_path = String::from_utf8(join(parent_collection.as_bytes(), filename.as_bytes()))
            .map_err(|_| PathError::LogicalPathNotUtf8 { source_path: path.display_lossy() })?;
        return Ok(EntryNames {
            sync_key: format!("{b64}:{root_target}"),
            logical_path,
            unicode_error: Some(UnicodeErrorNames {
                b64_path_str: b64,
                unicode_error_filename: filename,
                parent,
            }),
            b64_reason: Some(B64Reason::UnicodeEncodeError),
            b64_path_str_charmap: None,
        });
    }
    let path_str = path.to_str().unwrap_or_default();
    let plain = collection_for(root, root_target, path)?;
    let mut names = EntryNames {
        sync_key: format!("{path_str}:{root_target}"),
        logical_path: plain.clone(),
        unicode_error: None,
        b64_reason: None,
        b64_path_str_charmap: None,
    };
    if let Some(map) = char_map {
        let translated = map.translate_path(&plain)?;
        if translated != plain {
            names.logical_path = translated;
            names.b64_reason = Some(B64Reason::CharacterMap);
            names.b64_path_str_charmap = Some(b64_path_str(&abs));
        }
    }
    Ok(names)
}

/// The logical path of a source path without any renaming: `root_target` for the root itself,
/// else `os.path.join(root_target, relpath(path, root))`.
///
/// This is also what the worker uses as the destination collection of a `filesystem_sync_path`
/// task (the collection listed for delete mode). **Intended fix:** the reference computes that one
/// with `relpath(...).lstrip("./")` and `"/".join`, which maps a directory named `.x` (or `..x`)
/// to the collection `x`, so delete mode would compare the wrong collection and could schedule a
/// sibling's objects for removal; here both use the path the entries are really synced to.
pub fn collection_for(root: &SourcePath, root_target: &str, path: &SourcePath) -> Result<String, PathError> {
    if path.as_bytes() == root.as_bytes() {
        return Ok(root_target.to_owned());
    }
    let rel = relpath(path.as_bytes(), root.as_bytes());
    String::from_utf8(join(root_target.as_bytes(), &rel))
        .map_err(|_| PathError::LogicalPathNotUtf8 { source_path: path.display_lossy() })
}

/// The reference's destination collection of `filesystem_sync_path`, quirk included
/// (`"/".join([target, relpath.lstrip("./")])`); kept to document and test the difference.
pub fn reference_destination_collection(root: &SourcePath, root_target: &str, path: &SourcePath) -> Vec<u8> {
    let rel = relpath(path.as_bytes(), root.as_bytes());
    let stripped: &[u8] = {
        let start = rel.iter().position(|&b| b != b'.' && b != b'/').unwrap_or(rel.len());
        &rel[start..]
    };
    if stripped.is_empty() {
        return root_target.as_bytes().to_vec();
    }
    let mut out = root_target.as_bytes().to_vec();
    out.push(b'/');
    out.extend_from_slice(stripped);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn fsdecode_escapes_each_bad_byte() {
        assert_eq!(fsdecode(b"a\xe1\x80b"), vec![0x61, 0xDCE1, 0xDC80, 0x62]);
        assert_eq!(fsdecode(b"\xff"), vec![0xDCFF]);
        assert_eq!(fsdecode("é".as_bytes()), units("é"));
    }

    #[test]
    fn fsencode_round_trips_and_rejects_unmappable() {
        let bytes = b"/d/bad_\xe1\x80.txt/\xf0\x9f\x98\x80".to_vec();
        assert_eq!(fsencode(&fsdecode(&bytes)).unwrap(), bytes);
        assert!(matches!(
            fsencode(&[0x61, 0xDC10]),
            Err(PathError::UnmappableSurrogate { unit: 0xDC10, index: 1 })
        ));
        assert!(matches!(fsencode(&[0xD800]), Err(PathError::UnmappableSurrogate { .. })));
    }

    #[test]
    fn posix_path_helpers() {
        assert_eq!(normpath(b"//a/./b/../c/"), b"//a/c");
        assert_eq!(normpath(b"///a"), b"/a");
        assert_eq!(normpath(b"/.."), b"/");
        assert_eq!(relpath(b"/r/a/b", b"/r"), b"a/b");
        assert_eq!(relpath(b"/r", b"/r"), b".");
        assert_eq!(relpath(b"/x", b"/r/s"), b"../../x");
        assert_eq!(join(b"/t/", b"a"), b"/t/a");
        assert_eq!(dirname(b"/a/b"), b"/a");
        assert_eq!(dirname(b"/a"), b"/");
        assert_eq!(basename(b"/a/b"), b"b");
    }
}
