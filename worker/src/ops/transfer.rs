//! Uploads: `upload_file` (PUT and first sync of PUT_SYNC/PUT_APPEND), `sync_file` (re-upload or
//! append of a changed file), `append_to_data_object` (§7.4 to §7.6).

use irods_proto::client::OpenMode;
use irods_proto::client::transfer::{PutOptions, put_file};
use irods_proto::consts::{kw, whence};
use irods_proto::messages::KeyValPair;
use irods_proto::{Connection, Pool, Query, col};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::annotate::annotate_special_data_object;
use super::decision::Operation;
use super::entry::FileEntry;
use super::error::{OpsError, Result};
use super::options::open_options;
use super::split_logical;
use crate::paths::SourcePath;

/// Streams python-irodsclient uses for a parallel put: `min(cpu_count, 3)`.
pub fn default_put_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 3)
}

/// `filesystem.upload_file`: uploads the source file (the original bytes path for undecodable
/// names) to `entry.target`, overwriting, in parallel above 32 MiB; then the special-file AVUs.
///
/// `resource` (from `to_resource()`) becomes `destRescName`; a child resource fails with
/// `DIRECT_CHILD_ACCESS` as in iRODS. The pool must allow `threads` connections for a parallel
/// upload to use them all.
pub async fn upload_file(
    pool: &Pool,
    entry: &FileEntry,
    resource: Option<&str>,
    options: &KeyValPair,
    threads: usize,
) -> Result<()> {
    let source = entry.local_source()?;
    put(pool, &source, &entry.target, resource, options, threads).await?;
    let mut conn = pool.get().await?;
    annotate_special_data_object(&mut conn, entry, &source, &entry.target).await
}

/// `filesystem.sync_file`: the file changed and the object exists. PUT_APPEND appends the new
/// bytes ([`append_to_data_object`]); any other operation re-uploads the whole file. No AVUs.
pub async fn sync_file(
    pool: &Pool,
    entry: &FileEntry,
    op: Operation,
    resource: Option<&str>,
    options: &KeyValPair,
    threads: usize,
) -> Result<()> {
    let source = entry.local_source()?;
    if op == Operation::PutAppend {
        let mut options = options.clone();
        if let Some(resource) = resource {
            options.set(kw::DEST_RESC_NAME, resource);
        }
        let mut conn = pool.get().await?;
        append_to_data_object(&mut conn, &source, &entry.target, &options).await
    } else {
        put(pool, &source, &entry.target, resource, options, threads).await
    }
}

/// python-irodsclient's `data_objects.put(src, logical, **options)` with the force flag it sets
/// by default: the object is opened with `w` (created or truncated) and written; `dataSize` is the
/// local size, as python-irodsclient adds it after measuring the file.
async fn put(
    pool: &Pool,
    source: &SourcePath,
    logical: &str,
    resource: Option<&str>,
    options: &KeyValPair,
    threads: usize,
) -> Result<()> {
    let mut options = open_options(options);
    if let Some(resource) = resource {
        options.set(kw::DEST_RESC_NAME, resource);
    }
    let size = tokio::fs::metadata(source.as_path()).await.map_err(|e| OpsError::io(source, e))?.len();
    options.set(kw::DATA_SIZE, size.to_string());
    tracing::info!(source = %source.display_lossy(), logical, size, "uploading object");
    let put = PutOptions { threads: threads.max(1), options };
    put_file(pool, source.as_path(), logical, &put).await?;
    Ok(())
}

/// `irods_utils.size`: the size of the first replica GenQuery returns, `None` without replicas.
pub async fn data_object_size(conn: &mut Connection, logical: &str) -> Result<Option<u64>> {
    let (coll, name) = split_logical(logical);
    let row = conn
        .query_first(&Query::select(&[col::DATA_SIZE]).eq(col::COLL_NAME, coll).eq(col::DATA_NAME, name))
        .await?;
    Ok(row.and_then(|r| r.into_iter().next()).and_then(|s| s.parse().ok()))
}

/// `filesystem.append_to_data_object`: writes the bytes of `source` beyond the object's catalog
/// size at that offset (open `a`, seek, write, close). A file that shrank writes nothing; the
/// catalog mtime is whatever the server sets on close.
pub async fn append_to_data_object(
    conn: &mut Connection,
    source: &SourcePath,
    logical: &str,
    options: &KeyValPair,
) -> Result<()> {
    let offset =
        data_object_size(conn, logical).await?.ok_or_else(|| OpsError::SizeUnknown(logical.to_owned()))?;
    let mut file = tokio::fs::File::open(source.as_path()).await.map_err(|e| OpsError::io(source, e))?;
    let fd = conn.open(logical, OpenMode::Append, open_options(options)).await?;
    let written = async {
        conn.seek(fd, offset as i64, whence::SEEK_SET).await?;
        copy_from(&mut file, source, offset, conn, fd).await
    }
    .await;
    let closed = conn.close(fd, KeyValPair::new()).await;
    let written = written?;
    closed?;
    tracing::info!(source = %source.display_lossy(), logical, offset, written, "appended");
    Ok(())
}

/// Copies the local file from `offset` to its end through descriptor `fd`.
async fn copy_from(
    file: &mut tokio::fs::File,
    source: &SourcePath,
    offset: u64,
    conn: &mut Connection,
    fd: i32,
) -> Result<u64> {
    // python-irodsclient buffers the reference's 1024-byte writes; larger writes give the same bytes.
    const CHUNK: usize = 4 << 20;
    let io = |e| OpsError::io(source, e);
    file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            return Ok(total);
        }
        let written = conn.write(fd, &buf[..n]).await?;
        if written != n {
            return Err(irods_proto::Error::Protocol(format!("short write: {written} of {n} bytes")).into());
        }
        total += n as u64;
    }
}

/// What an existing object's replicas say, for the check of a cut upload.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaFacts {
    /// Each replica's catalog size (`None`: unreadable).
    pub sizes: Vec<Option<u64>>,
    /// The earliest replica's creation time (seconds since the epoch).
    pub created: Option<f64>,
}

/// The replicas of `entry.target`: sizes and creation time, in one GenQuery.
pub async fn replica_facts(conn: &mut Connection, entry: &FileEntry) -> Result<ReplicaFacts> {
    let (coll, name) = split_logical(&entry.target);
    let rows = conn
        .query(
            &Query::select(&[col::DATA_SIZE, col::D_CREATE_TIME])
                .eq(col::COLL_NAME, coll)
                .eq(col::DATA_NAME, name),
        )
        .await?;
    let sizes = rows.iter().map(|r| r.first().and_then(|s| s.parse().ok())).collect();
    let created = rows
        .iter()
        .filter_map(|r| r.get(1).and_then(|t| t.trim().parse::<f64>().ok()))
        .min_by(|a, b| a.total_cmp(b));
    Ok(ReplicaFacts { sizes, created })
}

/// Whether the object at `entry.target` is a whole copy of the local file: every replica's
/// catalog size (from `facts`) equals the file's, and, with `check_content`, the server's
/// checksum equals the file's SHA-256. Asked before a put-type sync takes an object its own job
/// created as uploaded: the attempt that created it may have been cut mid-write.
pub async fn object_matches_file(
    conn: &mut Connection,
    entry: &FileEntry,
    facts: &ReplicaFacts,
    check_content: bool,
) -> Result<bool> {
    let source = entry.local_source()?;
    let local_size = tokio::fs::metadata(source.as_path()).await.map_err(|e| OpsError::io(&source, e))?.len();
    if facts.sizes.is_empty() || facts.sizes.iter().any(|s| *s != Some(local_size)) {
        tracing::warn!(target = %entry.target, local_size, sizes = ?facts.sizes, "object size differs from the file's");
        return Ok(false);
    }
    if !check_content {
        return Ok(true);
    }
    let remote = conn.checksum(&entry.target, KeyValPair::new()).await?;
    let Some(remote) = remote.strip_prefix("sha2:") else {
        // Another scheme (md5): not compared here; the sizes matched.
        tracing::debug!(target = %entry.target, remote, "checksum scheme is not sha2; sizes compared only");
        return Ok(true);
    };
    let local = sha256_base64(&source).await?;
    if remote != local {
        tracing::warn!(target = %entry.target, "object content differs from the file's");
    }
    Ok(remote == local)
}

/// SHA-256 of a local file, base64 as iRODS writes `sha2:` checksums.
async fn sha256_base64(source: &SourcePath) -> Result<String> {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let mut file = tokio::fs::File::open(source.as_path()).await.map_err(|e| OpsError::io(source, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).await.map_err(|e| OpsError::io(source, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(hasher.finalize()))
}
