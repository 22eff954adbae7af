//! Put-type operations of the S3 source: stream an S3 object into a data object (the reference's
//! `s3_bucket._upload_file` / `single_stream_upload_from_S3`).
//!
//! The object is read with one GetObject (from an offset when appending) and written through one
//! iRODS descriptor opened with `oprType=1` (PUT, so put policies fire) and `regChksum` (the
//! server records a checksum on close), as the reference does. The bytes are MD5-hashed on the
//! way and compared with the object's ETag (per part for multipart ETags); a mismatch is logged as
//! an error, as in the reference.
//!
//! Intended differences from the reference (see the README):
//! * PUT_SYNC on an existing object re-uploads the whole object and PUT_APPEND appends the bytes
//!   beyond the data object's size (the reference raises `TypeError` for both);
//! * objects over 32 MiB are streamed like smaller ones (the reference's parallel path raises
//!   `NameError`);
//! * appending when the data object is already as long as the object (or longer) writes nothing
//!   (the reference would fail on the empty range);
//! * a new data object whose transfer fails is removed, so that the next pass uploads it again
//!   instead of keeping a partial copy (PUT never revisits an existing object).

use irods_proto::client::OpenMode;
use irods_proto::consts::{kw, whence};
use irods_proto::messages::KeyValPair;
use irods_proto::{Connection, Pool};
use md5::{Digest, Md5};

use crate::meta::Meta;
use crate::ops::{self, FileEntry, Operation, OpsError};
use crate::s3::{ObjectReader, S3Client, S3Error, S3Settings};

/// Size of each GetObject read and iRODS write.
const PIECE: usize = 4 << 20;

/// Uploads the object behind `entry.path` (`/bucket/key`) to `entry.target`.
///
/// * `existing`: the data object exists and the object changed (`sync_file`); otherwise this is
///   `upload_file` for a new data object.
/// * `meta`: the meta the hooks passed on (S3 settings, `s3_multipart_chunksize_in_mib`).
/// * `resource`: `to_resource()`'s answer, sent as `destRescName`.
pub async fn upload_from_s3(
    pool: &Pool,
    meta: &Meta<'_>,
    entry: &FileEntry,
    resource: Option<&str>,
    options: &KeyValPair,
    op: Operation,
    existing: bool,
) -> ops::Result<()> {
    let source = entry
        .path
        .to_str()
        .ok_or_else(|| OpsError::NotUtf8 { what: "S3 object path", lossy: entry.path.display_lossy() })?;
    let (bucket, key) = split_bucket_path(source)?;
    let client = S3Client::new(S3Settings::from_meta(meta).map_err(s3_error)?);
    let part_mib = meta.opt_int("s3_multipart_chunksize_in_mib")?.filter(|m| *m > 0).unwrap_or(8) as u64;

    let mut conn = pool.get().await?;
    // PUT_SYNC rewrites the object; PUT_APPEND and a new upload continue after what the data
    // object already holds (for a new one that is normally nothing; the reference resumes too).
    let offset = if existing && op != Operation::PutAppend {
        0
    } else {
        ops::data_object_size(&mut conn, &entry.target).await?.unwrap_or(0)
    };
    let Some(object) = client.get_object(bucket, key, offset).await.map_err(s3_error)? else {
        tracing::info!(source, target = %entry.target, offset, "nothing to append: the data object is as long as the S3 object");
        return Ok(());
    };

    let mut open = ops::open_options(options);
    if let Some(resource) = resource {
        open.set(kw::DEST_RESC_NAME, resource);
    }
    if !open.contains(kw::OPR_TYPE) {
        open.set(kw::OPR_TYPE, "1");
    }
    if !open.contains(kw::REG_CHKSUM) {
        open.set(kw::REG_CHKSUM, "");
    }
    let mode = if offset == 0 { OpenMode::Write } else { OpenMode::Append };
    tracing::info!(source, target = %entry.target, offset, ?mode, "uploading S3 object");
    let fd = conn.open(&entry.target, mode, open).await?;
    let copied = async {
        if offset > 0 {
            conn.seek(fd, offset as i64, whence::SEEK_SET).await?;
        }
        copy(&mut conn, fd, object, part_mib << 20).await
    }
    .await;
    let closed = conn.close(fd, KeyValPair::new()).await;
    let outcome = copied.and_then(|check| closed.map(|()| check).map_err(OpsError::from));
    match outcome {
        Ok(check) => {
            if offset == 0 {
                check.verify(source);
            }
            Ok(())
        }
        Err(error) => {
            if !existing && offset == 0 {
                // Best effort; the error that matters is the transfer's.
                if let Err(e) = conn.unlink(&entry.target, true).await {
                    tracing::warn!(target = %entry.target, error = %e, "could not remove the partial data object");
                }
            }
            Err(error)
        }
    }
}

/// `/bucket/key` → (`bucket`, `key`), as the reference splits it (`lstrip("/").split("/", 1)`).
pub fn split_bucket_path(path: &str) -> ops::Result<(&str, &str)> {
    match path.trim_start_matches('/').split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket, key)),
        _ => Err(OpsError::Caller(
            format!("Object name or bucket name missing from path to S3 object: [{path}]").into(),
        )),
    }
}

pub fn s3_error(error: S3Error) -> OpsError {
    OpsError::Caller(Box::new(error))
}

/// Streams the object into descriptor `fd`; returns what is needed to check its ETag.
async fn copy(
    conn: &mut Connection,
    fd: i32,
    mut object: ObjectReader,
    part_size: u64,
) -> ops::Result<EtagCheck> {
    let mut hasher = PartHasher::new(part_size);
    let mut total = 0u64;
    while let Some(piece) = object.next_chunk(PIECE).await.map_err(s3_error)? {
        let written = conn.write(fd, &piece).await?;
        if written != piece.len() {
            return Err(irods_proto::Error::Protocol(format!(
                "short write: {written} of {} bytes",
                piece.len()
            ))
            .into());
        }
        hasher.update(&piece);
        total += piece.len() as u64;
    }
    if let Some(expected) = object.content_length
        && expected != total
    {
        return Err(s3_error(S3Error::Malformed {
            peer: "S3".into(),
            message: format!("GetObject announced {expected} bytes, sent {total}"),
        }));
    }
    Ok(EtagCheck { etag: object.etag, hashes: hasher.finish() })
}

/// MD5 of the whole object and of each `part_size` part (for multipart ETags).
struct PartHasher {
    part_size: u64,
    whole: Md5,
    part: Md5,
    in_part: u64,
    parts: Vec<[u8; 16]>,
}

impl PartHasher {
    fn new(part_size: u64) -> Self {
        PartHasher {
            part_size: part_size.max(1),
            whole: Md5::new(),
            part: Md5::new(),
            in_part: 0,
            parts: Vec::new(),
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.whole.update(data);
        while !data.is_empty() {
            let room = (self.part_size - self.in_part).min(data.len() as u64) as usize;
            self.part.update(&data[..room]);
            self.in_part += room as u64;
            data = &data[room..];
            if self.in_part == self.part_size {
                self.parts.push(std::mem::take(&mut self.part).finalize().into());
                self.in_part = 0;
            }
        }
    }

    fn finish(mut self) -> Hashes {
        if self.in_part > 0 {
            self.parts.push(self.part.finalize().into());
        }
        Hashes { whole: self.whole.finalize().into(), parts: self.parts }
    }
}

struct Hashes {
    whole: [u8; 16],
    parts: Vec<[u8; 16]>,
}

struct EtagCheck {
    etag: String,
    hashes: Hashes,
}

impl EtagCheck {
    /// The ETag the bytes imply: plain MD5, or for a multipart ETag (`<hex>-<n>`) the MD5 of the
    /// parts' MD5s with the part count.
    fn recreated(&self) -> String {
        if self.etag.contains('-') {
            let mut joined = Md5::new();
            for part in &self.hashes.parts {
                joined.update(part);
            }
            format!("{}-{}", hex(&joined.finalize()), self.hashes.parts.len())
        } else {
            hex(&self.hashes.whole)
        }
    }

    fn verify(&self, source: &str) {
        if self.etag.is_empty() {
            return;
        }
        let recreated = self.recreated();
        if recreated != self.etag {
            tracing::error!(
                source,
                etag = %self.etag,
                recreated = %recreated,
                "checksums do not match! (for multipart objects, s3_multipart_chunksize_in_mib must be the part size used to upload)"
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_paths() {
        assert_eq!(split_bucket_path("/b/dir/k.txt").unwrap(), ("b", "dir/k.txt"));
        assert_eq!(split_bucket_path("b/k").unwrap(), ("b", "k"));
        assert!(split_bucket_path("/b").is_err());
        assert!(split_bucket_path("/b/").is_err());
    }

    #[test]
    fn etags_plain_and_multipart() {
        let mut h = PartHasher::new(4);
        h.update(b"hel");
        h.update(b"lo wor");
        h.update(b"ld");
        let hashes = h.finish();
        // md5("hello world")
        let plain = EtagCheck { etag: "5eb63bbbe01eeed093cb22bb8f5acdc3".into(), hashes };
        assert_eq!(plain.recreated(), plain.etag);
        // Parts "hell", "o wo", "rld": md5 of their md5s, "-3" (what S3 computes for a
        // multipart upload with these parts).
        let parts: Vec<[u8; 16]> =
            [&b"hell"[..], b"o wo", b"rld"].iter().map(|p| Md5::digest(p).into()).collect();
        let mut joined = Md5::new();
        parts.iter().for_each(|p| joined.update(p));
        let expected = format!("{}-3", hex(&joined.finalize()));
        let multipart = EtagCheck { etag: expected.clone(), hashes: plain.hashes };
        assert_eq!(multipart.recreated(), expected);
    }
}
