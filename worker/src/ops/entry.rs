//! The inputs of a file operation, read from `meta` when the operation runs.
//!
//! Hooks receive the same `meta` dict the operation does and may change it in a `pre_*` hook, so
//! a caller builds the [`FileEntry`] from the dict it gets *at call time* (inside the wrapped
//! callable), never earlier.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::collections::CollectionLevel;
use super::error::{OpsError, Result};
use crate::meta::Meta;
use crate::paths::{self, SourcePath};

/// One file entry as the reference's operation functions see it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// `meta["target"]`: the logical path of the data object.
    pub target: String,
    /// `meta["path"]`: the source file, or its parent directory for an undecodable name.
    pub path: SourcePath,
    /// `meta["size"]`.
    pub size: Option<i64>,
    /// `meta["mtime"]`.
    pub mtime: Option<f64>,
    /// `meta["b64_path_str"]`: base64 of the original path bytes (UnicodeEncodeError case).
    pub b64_path_str: Option<String>,
    /// `meta["unicode_error_filename"]`: `irods_UnicodeEncodeError_<b64>`.
    pub unicode_error_filename: Option<String>,
    /// `meta["b64_path_str_charmap"]`: base64 of the source path renamed by `character_map`.
    pub b64_path_str_charmap: Option<String>,
    /// `meta["b64_reason"]`: `UnicodeEncodeError` or `character_map`.
    pub b64_reason: Option<String>,
    /// `meta["is_link"]` / `meta["is_socket"]` (Python truthiness).
    pub is_link: bool,
    pub is_socket: bool,
}

impl FileEntry {
    /// Reads the fields the operations use. Only `target` and `path` are required here; `size`
    /// and `mtime` are checked by the operations that need them, as the reference reads them.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self> {
        Ok(FileEntry {
            target: meta.text("target")?.to_owned(),
            path: meta.path()?,
            size: meta.opt_int("size")?,
            mtime: meta.mtime()?,
            b64_path_str: meta.opt_text("b64_path_str")?.map(str::to_owned),
            unicode_error_filename: meta.opt_text("unicode_error_filename")?.map(str::to_owned),
            b64_path_str_charmap: meta.opt_text("b64_path_str_charmap")?.map(str::to_owned),
            b64_reason: meta.opt_text("b64_reason")?.map(str::to_owned),
            is_link: meta.truthy("is_link"),
            is_socket: meta.truthy("is_socket"),
        })
    }

    /// `str(meta["size"])`.
    pub fn size_text(&self) -> Result<String> {
        self.size.map(|s| s.to_string()).ok_or_else(|| crate::meta::MetaError::Missing("size".into()).into())
    }

    /// `int(meta["mtime"])` (truncation toward zero, like Python's `int(float)`).
    pub fn mtime_secs(&self) -> Result<i64> {
        let mtime = self.mtime.ok_or_else(|| crate::meta::MetaError::Missing("mtime".into()))?;
        if !mtime.is_finite() {
            return Err(crate::meta::MetaError::WrongType {
                key: "mtime".into(),
                expected: "finite number",
                found: "float",
            }
            .into());
        }
        Ok(mtime.trunc() as i64)
    }

    /// The physical path registered in the catalog: the handler's `target_path` if it returned
    /// one, else `meta["path"]`, or for an undecodable name `join(meta["path"],
    /// unicode_error_filename)` (a path that does not exist on disk; the reference records it so).
    pub fn physical_path_to_register(&self, target_path: Option<&str>) -> Result<String> {
        if let Some(explicit) = target_path {
            return Ok(explicit.to_owned());
        }
        let bytes = match (&self.b64_path_str, &self.unicode_error_filename) {
            (Some(_), Some(name)) => paths::join(self.path.as_bytes(), name.as_bytes()),
            _ => self.path.as_bytes().to_vec(),
        };
        String::from_utf8(bytes).map_err(|e| OpsError::NotUtf8 {
            what: "physical path",
            lossy: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The file to read: the original bytes behind `b64_path_str` when set, else `meta["path"]`.
    pub fn local_source(&self) -> Result<SourcePath> {
        match &self.b64_path_str {
            Some(b64) => {
                let bytes = BASE64.decode(b64).map_err(|e| OpsError::BadBase64(e.to_string()))?;
                Ok(SourcePath::from_bytes(bytes)?)
            }
            None => Ok(self.path.clone()),
        }
    }

    /// The `meta2` `sync_data_from_file` gives `create_dirs` before creating a new object: the
    /// parent collection, and the parent directory (unchanged for an undecodable name, whose
    /// `meta["path"]` already is the parent).
    pub fn parent_level(&self) -> Result<CollectionLevel> {
        let (parent, _) = super::split_logical(&self.target);
        let path = if self.b64_path_str.is_some() {
            self.path.clone()
        } else {
            SourcePath::from_bytes(paths::dirname(self.path.as_bytes()).to_vec())?
        };
        Ok(CollectionLevel { target: parent.to_owned(), path })
    }

    /// `meta["path"]` as the text the reference compares replica paths with.
    pub fn path_text(&self) -> Option<&str> {
        self.path.to_str()
    }
}

#[cfg(test)]
mod tests {
    use celery_proto::json::PyValue;

    use super::*;

    fn entry(json: &str) -> FileEntry {
        let value = PyValue::from_json(json.as_bytes()).unwrap();
        FileEntry::from_meta(&Meta::new(&value).unwrap()).unwrap()
    }

    #[test]
    fn plain_file() {
        let e = entry(
            r#"{"target": "/z/c/a.txt", "path": "/d/a.txt", "size": 5, "mtime": 1600000000.9,
                         "is_link": false, "is_socket": 0}"#,
        );
        assert_eq!(e.size_text().unwrap(), "5");
        assert_eq!(e.mtime_secs().unwrap(), 1_600_000_000);
        assert_eq!(e.physical_path_to_register(None).unwrap(), "/d/a.txt");
        assert_eq!(e.physical_path_to_register(Some("/x")).unwrap(), "/x");
        assert_eq!(e.local_source().unwrap().as_bytes(), b"/d/a.txt");
        let parent = e.parent_level().unwrap();
        assert_eq!((parent.target.as_str(), parent.path.as_bytes()), ("/z/c", &b"/d"[..]));
    }

    #[test]
    fn undecodable_name() {
        // base64 of b"/d/bad_\xff"
        let e = entry(
            r#"{"target": "/z/c/irods_UnicodeEncodeError_L2QvYmFkX/8=", "path": "/d",
                         "b64_path_str": "L2QvYmFkX/8=", "unicode_error_filename": "irods_UnicodeEncodeError_L2QvYmFkX/8=",
                         "b64_reason": "UnicodeEncodeError", "size": 1, "mtime": 2}"#,
        );
        assert_eq!(e.physical_path_to_register(None).unwrap(), "/d/irods_UnicodeEncodeError_L2QvYmFkX/8=");
        assert_eq!(e.local_source().unwrap().as_bytes(), b"/d/bad_\xff");
    }

    #[test]
    fn surrogate_path_cannot_be_registered() {
        let e = entry(r#"{"target": "/z/c/x", "path": "/d/bad_\udcff", "size": 1, "mtime": 2}"#);
        assert!(matches!(e.physical_path_to_register(None), Err(OpsError::NotUtf8 { .. })));
        assert_eq!(e.local_source().unwrap().as_bytes(), b"/d/bad_\xff");
        assert!(entry(r#"{"target": "/z/c/x", "path": "/d/x"}"#).mtime_secs().is_err());
    }
}
