//! Logical path helpers: normalisation, parent/name split, and the rules iRODS applies to them.

use crate::error::{ApiError, ApiResult, codes};

/// The longest logical path iRODS accepts (`MAX_NAME_LEN` minus the terminator).
pub const MAX_PATH_LEN: usize = 1087;

/// Normalises an absolute logical path: collapses repeated slashes and strips a trailing slash.
/// Relative paths fail with SYS_INVALID_FILE_PATH, as on iRODS 4.3.
pub fn normalize(path: &str) -> ApiResult<String> {
    if !path.starts_with('/') {
        return Err(ApiError::new(codes::SYS_INVALID_FILE_PATH, format!("not an absolute path: {path:?}")));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(ApiError::new(codes::USER_PACKSTRUCT_INPUT_ERR, "path too long"));
    }
    if path.contains('\0') {
        return Err(ApiError::new(codes::USER_INPUT_PATH_ERR, "path contains a NUL byte"));
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    Ok(if parts.is_empty() { "/".to_string() } else { format!("/{}", parts.join("/")) })
}

/// Splits a normalised path into parent collection and last element (`/` has no parent).
pub fn split(path: &str) -> Option<(&str, &str)> {
    if path == "/" {
        return None;
    }
    let at = path.rfind('/')?;
    let parent = if at == 0 { "/" } else { &path[..at] };
    Some((parent, &path[at + 1..]))
}

/// Joins a collection and a name.
pub fn join(collection: &str, name: &str) -> String {
    if collection == "/" { format!("/{name}") } else { format!("{collection}/{name}") }
}

/// Rejects `.` and `..` as the last element of a path to create.
pub fn check_new_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(ApiError::new(codes::USER_INPUT_PATH_ERR, format!("invalid name {name:?}")));
    }
    Ok(())
}

/// The zone a logical path belongs to (its first element).
pub fn zone_of(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

/// Fails with SYS_INVALID_ZONE_NAME unless `path` lies in this server's zone (or is `/`): there
/// is no federation, and iRODS refuses to create anything under an unknown zone.
pub fn check_local_zone(path: &str) -> ApiResult<()> {
    let zone = zone_of(path);
    if path == "/" || zone == super::ZONE {
        return Ok(());
    }
    Err(ApiError::new(codes::SYS_INVALID_ZONE_NAME, format!("unknown zone {zone:?} in {path}")))
}

/// Whether `path` is `ancestor` or lies below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return path.starts_with('/');
    }
    path == ancestor || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_splits() {
        assert_eq!(normalize("/a//b/").unwrap(), "/a/b");
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(normalize("t").unwrap_err().code, codes::SYS_INVALID_FILE_PATH);
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/a"), Some(("/", "a")));
        assert_eq!(split("/"), None);
        assert!(is_within("/a/b", "/a"));
        assert!(!is_within("/ab", "/a"));
    }
}
