//! Vault layout and file helpers.
//!
//! A replica created through the server lives at `<leaf vault>/<logical path without "/zone/">`,
//! as on iRODS (`/tempZone/home/rods/x` -> `<vault>/home/rods/x`). Registered replicas keep the
//! path the client named, which is how the server tells "in the vault" (may be deleted) from
//! "registered in place" (only ever unregistered).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult, codes};

/// The physical path for a new replica of `logical` on a leaf whose vault is `vault`.
pub fn physical_path(vault: &str, logical: &str) -> PathBuf {
    let without_zone = logical.trim_start_matches('/').split_once('/').map(|(_, rest)| rest).unwrap_or("");
    Path::new(vault).join(without_zone)
}

/// Whether a physical path lies inside a vault directory.
pub fn is_in_vault(vault: &str, path: &str) -> bool {
    if vault.is_empty() {
        return false;
    }
    let vault = vault.trim_end_matches('/');
    path.starts_with(vault) && path.as_bytes().get(vault.len()) == Some(&b'/')
}

/// Creates the parent directories of a physical path.
pub fn make_parent_dirs(path: &Path) -> ApiResult<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ApiError::unix(codes::UNIX_FILE_MKDIR_ERR, &e, parent.display()))?;
    }
    Ok(())
}

/// The iRODS default checksum: `sha2:` + base64 of the SHA-256 digest.
pub fn checksum(path: &Path) -> ApiResult<String> {
    use base64::Engine as _;
    let mut file = std::fs::File::open(path)
        .map_err(|e| ApiError::unix(codes::UNIX_FILE_OPEN_ERR, &e, path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n =
            file.read(&mut buf).map_err(|e| ApiError::unix(codes::UNIX_FILE_READ_ERR, &e, path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("sha2:{}", base64::engine::general_purpose::STANDARD.encode(hasher.finalize())))
}

/// Removes a file; a file that is already gone is fine.
pub fn remove_file(path: &Path) -> ApiResult<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ApiError::unix(codes::UNIX_FILE_UNLINK_ERR, &e, path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_paths() {
        assert_eq!(physical_path("/v", "/tempZone/home/rods/x"), PathBuf::from("/v/home/rods/x"));
        assert!(is_in_vault("/v", "/v/home/x"));
        assert!(!is_in_vault("/v", "/vx/home"));
        assert!(!is_in_vault("", "/v/home"));
    }
}
