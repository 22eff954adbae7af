//! `annotate_metadata_for_special_data_objs` (§7.8): AVUs that record what a data object stands
//! for when its name or content cannot: an undecodable or character-mapped source path, a socket,
//! a symbolic link.

use std::os::unix::ffi::OsStrExt;

use irods_proto::client::{Avu, AvuTarget};
use irods_proto::{Connection, Query, col};

use super::entry::FileEntry;
use super::error::{OpsError, Result};
use crate::paths::{self, SourcePath};

/// Unit of the base64 path AVUs.
pub const B64_PATH_UNITS: &str = "python3.base64.b64encode(full_path_of_source_file)";
/// Unit of the socket and link AVUs.
pub const SPECIAL_FILE_UNITS: &str = "automated_ingest";
/// Attribute prefix of the base64 path AVUs (followed by the reason).
pub const B64_ATTRIBUTE_PREFIX: &str = "irods::automated_ingest::";

/// The AVUs the reference would add for `entry`, before checking which are already present.
///
/// `source` is the file that was read (the decoded original path for undecodable names); a link's
/// target is `join(dirname(source), readlink(source))`.
pub fn special_avus(entry: &FileEntry, source: &SourcePath) -> Result<Vec<Avu>> {
    let mut avus = Vec::new();
    // `meta.get("b64_path_str") or meta.get("b64_path_str_charmap")`: an empty string is falsy.
    let b64 =
        entry.b64_path_str.as_deref().filter(|s| !s.is_empty()).or(entry.b64_path_str_charmap.as_deref());
    if let Some(b64) = b64
        && let Some(reason @ ("UnicodeEncodeError" | "character_map")) = entry.b64_reason.as_deref()
    {
        avus.push(Avu::new(format!("{B64_ATTRIBUTE_PREFIX}{reason}"), b64, B64_PATH_UNITS));
    }
    if entry.is_socket {
        avus.push(Avu::new("socket_target", "socket", SPECIAL_FILE_UNITS));
    } else if entry.is_link {
        let link = std::fs::read_link(source.as_path()).map_err(|e| OpsError::io(source, e))?;
        let target = paths::join(paths::dirname(source.as_bytes()), link.as_os_str().as_bytes());
        let target = String::from_utf8(target).map_err(|e| OpsError::NotUtf8 {
            what: "link target",
            lossy: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })?;
        avus.push(Avu::new("link_target", target, SPECIAL_FILE_UNITS));
    }
    Ok(avus)
}

/// Adds the AVUs of [`special_avus`] to `logical`, each only if the data object has no AVU with
/// that attribute yet (whatever its value).
pub async fn annotate_special_data_object(
    conn: &mut Connection,
    entry: &FileEntry,
    source: &SourcePath,
    logical: &str,
) -> Result<()> {
    for avu in special_avus(entry, source)? {
        if !has_attribute(conn, logical, &avu.attribute).await? {
            conn.add_avu(AvuTarget::DataObject, logical, &avu).await?;
        }
    }
    Ok(())
}

/// Whether the data object carries an AVU named `attribute`.
pub async fn has_attribute(conn: &mut Connection, logical: &str, attribute: &str) -> Result<bool> {
    let (coll, name) = super::split_logical(logical);
    let query = Query::select(&[col::META_DATA_ATTR_NAME])
        .eq(col::COLL_NAME, coll)
        .eq(col::DATA_NAME, name)
        .eq(col::META_DATA_ATTR_NAME, attribute);
    Ok(conn.query_first(&query).await?.is_some())
}
