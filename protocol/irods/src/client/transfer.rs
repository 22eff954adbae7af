//! Uploads and downloads between local files and data objects.
//!
//! Large uploads follow python-irodsclient's parallel scheme (no portal protocol): the first
//! connection opens the object for writing and learns its replica token; the other connections
//! open the same replica with that token, each writes its own byte range, the secondaries end
//! with REPLICA_CLOSE and the first one closes (finalizes) last.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::connection::Connection;
use super::error::{Error, Result};
use super::io::OpenMode;
use super::pool::{Pool, PooledConnection};
use crate::consts::{kw, whence};
use crate::messages::KeyValPair;

/// Files above this size are sent in parallel (python-irodsclient's threshold).
pub const PARALLEL_THRESHOLD: u64 = 32 << 20;
/// Write size of single-stream uploads.
pub const SINGLE_STREAM_CHUNK: usize = 8 << 20;
/// Write size of each parallel stream.
pub const PARALLEL_CHUNK: usize = 4 << 20;

/// Options of [`put_file`].
#[derive(Clone, Debug)]
pub struct PutOptions {
    /// Number of connections for large files (1 = always single stream).
    pub threads: usize,
    /// Extra open keywords (`destRescName`, `regChksum`, ...).
    pub options: KeyValPair,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions { threads: 3, options: KeyValPair::new() }
    }
}

/// Uploads `local` to `logical`, overwriting an existing object. Returns the bytes sent.
///
/// Extra connections for a parallel upload are taken from the pool only if available right away
/// (fewer streams otherwise), so concurrent uploads sharing a pool can never deadlock waiting for
/// each other's connections. After a failure the connections involved are closed rather than
/// returned to the pool, since descriptors may still be open on them.
pub async fn put_file(pool: &Pool, local: &Path, logical: &str, put: &PutOptions) -> Result<u64> {
    let size = tokio::fs::metadata(local).await?.len();
    let mut primary = pool.get().await?;
    let parallel = put.threads > 1 && size > PARALLEL_THRESHOLD && primary.server_at_least(&[4, 2, 9]);
    let mut spare = Vec::new();
    if parallel {
        while spare.len() + 1 < put.threads {
            match pool.try_get().await? {
                Some(conn) => spare.push(conn),
                None => break,
            }
        }
    }
    let result = if spare.is_empty() {
        put_single(&mut primary, local, logical, &put.options).await
    } else {
        put_parallel(&mut primary, spare, local, logical, size, &put.options).await
    };
    if result.is_err() {
        drop(primary.detach());
    }
    result
}

async fn put_parallel(
    primary: &mut Connection,
    spare: Vec<PooledConnection>,
    local: &Path,
    logical: &str,
    size: u64,
    put_options: &KeyValPair,
) -> Result<u64> {
    let threads = spare.len() as u64 + 1;
    let mut options = put_options.clone();
    options.set(kw::NUM_THREADS, threads.to_string());
    options.set(kw::DATA_SIZE, size.to_string());
    let fd = primary.open(logical, OpenMode::Write, options.clone()).await?;
    let info = primary.descriptor_info(fd).await?;

    // Each secondary stream opens the same replica with the token, writes its range, and ends
    // with REPLICA_CLOSE (no finalization); the primary writes the first range.
    let span = size.div_ceil(threads);
    let mut tasks = Vec::new();
    for (i, mut conn) in spare.into_iter().enumerate() {
        let start = span * (i as u64 + 1);
        let end = (start + span).min(size);
        let path = local.to_path_buf();
        let mut opts = KeyValPair::new();
        opts.set(kw::NUM_THREADS, threads.to_string());
        opts.set(kw::DATA_SIZE, size.to_string());
        opts.set(kw::RESC_HIER, &info.data_object_info.resource_hierarchy);
        opts.set(kw::REPLICA_TOKEN, &info.replica_token);
        let logical = logical.to_string();
        tasks.push(tokio::spawn(async move {
            let result = async {
                let sfd = conn.open(&logical, OpenMode::AppendExisting, opts).await?;
                let sent = send_range(&mut conn, sfd, &path, start, end).await?;
                conn.replica_close(sfd, false).await?;
                Ok::<u64, Error>(sent)
            }
            .await;
            if result.is_err() {
                drop(conn.detach());
            }
            result
        }));
    }
    let mut total = send_range(primary, fd, local, 0, span.min(size)).await;
    for task in tasks {
        let sent = task.await.map_err(|e| Error::Protocol(format!("transfer task failed: {e}")))?;
        total = match (total, sent) {
            (Ok(a), Ok(b)) => Ok(a + b),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    let total = total?;
    primary.close(fd, options).await?;
    Ok(total)
}

async fn put_single(conn: &mut Connection, local: &Path, logical: &str, options: &KeyValPair) -> Result<u64> {
    let fd = conn.open(logical, OpenMode::Write, options.clone()).await?;
    let size = tokio::fs::metadata(local).await?.len();
    let sent = send_range(conn, fd, local, 0, size).await?;
    conn.close(fd, options.clone()).await?;
    Ok(sent)
}

/// Writes bytes `start..end` of the local file through descriptor `fd`.
async fn send_range(conn: &mut Connection, fd: i32, local: &Path, start: u64, end: u64) -> Result<u64> {
    if start >= end {
        return Ok(0);
    }
    let mut file = tokio::fs::File::open(local).await?;
    file.seek(std::io::SeekFrom::Start(start)).await?;
    if start > 0 {
        conn.seek(fd, start as i64, whence::SEEK_SET).await?;
    }
    let chunk =
        if start == 0 && end - start <= PARALLEL_THRESHOLD { SINGLE_STREAM_CHUNK } else { PARALLEL_CHUNK };
    let mut buf = vec![0u8; chunk];
    let mut sent = 0u64;
    while start + sent < end {
        let want = ((end - start - sent) as usize).min(chunk);
        file.read_exact(&mut buf[..want]).await?;
        let written = conn.write(fd, &buf[..want]).await?;
        if written != want {
            return Err(Error::Protocol(format!("short write: {written} of {want} bytes")));
        }
        sent += want as u64;
    }
    Ok(sent)
}

/// Downloads `logical` into `local` (created or truncated). Objects over 32 MiB are read through
/// up to `threads` pool connections as python-irodsclient does (each secondary opens the replica
/// with the primary's token, reads its range, and ends with REPLICA_CLOSE); connections that are
/// not free right away are not waited for. Returns the size.
pub async fn get_file_pooled(pool: &Pool, logical: &str, local: &Path, threads: usize) -> Result<u64> {
    let mut primary = pool.get().await?;
    let fd = primary.open(logical, OpenMode::Read, KeyValPair::new()).await?;
    let result = async {
        let size = primary.seek(fd, 0, whence::SEEK_END).await? as u64;
        primary.seek(fd, 0, whence::SEEK_SET).await?;
        let mut spare = Vec::new();
        if threads > 1 && size > PARALLEL_THRESHOLD {
            while spare.len() + 1 < threads {
                match pool.try_get().await? {
                    Some(conn) => spare.push(conn),
                    None => break,
                }
            }
        }
        let file = tokio::fs::File::create(local).await?;
        file.set_len(size).await?;
        drop(file);
        let n = spare.len() as u64 + 1;
        let span = size.div_ceil(n);
        let mut tasks = Vec::new();
        if !spare.is_empty() {
            let info = primary.descriptor_info(fd).await?;
            for (i, mut conn) in spare.into_iter().enumerate() {
                let start = span * (i as u64 + 1);
                let end = (start + span).min(size);
                let mut opts = KeyValPair::new();
                opts.set(kw::NUM_THREADS, n.to_string());
                opts.set(kw::DATA_SIZE, size.to_string());
                opts.set(kw::RESC_HIER, &info.data_object_info.resource_hierarchy);
                opts.set(kw::REPLICA_TOKEN, &info.replica_token);
                let (logical, local) = (logical.to_string(), local.to_path_buf());
                tasks.push(tokio::spawn(async move {
                    let result = async {
                        let sfd = conn.open(&logical, OpenMode::Read, opts).await?;
                        let got = receive_range(&mut conn, sfd, &local, start, end).await?;
                        conn.replica_close(sfd, false).await?;
                        Ok::<u64, Error>(got)
                    }
                    .await;
                    if result.is_err() {
                        drop(conn.detach());
                    }
                    result
                }));
            }
        }
        let mut total = receive_range(&mut primary, fd, local, 0, span.min(size)).await;
        for task in tasks {
            let got = task.await.map_err(|e| Error::Protocol(format!("transfer task failed: {e}")))?;
            total = match (total, got) {
                (Ok(a), Ok(b)) => Ok(a + b),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        total
    }
    .await;
    match result {
        Ok(total) => {
            primary.close(fd, KeyValPair::new()).await?;
            Ok(total)
        }
        Err(e) => {
            drop(primary.detach());
            Err(e)
        }
    }
}

/// Reads bytes `start..end` of the object through `fd` into the same range of the local file.
async fn receive_range(conn: &mut Connection, fd: i32, local: &Path, start: u64, end: u64) -> Result<u64> {
    if start >= end {
        return Ok(0);
    }
    let mut file = tokio::fs::OpenOptions::new().write(true).open(local).await?;
    file.seek(std::io::SeekFrom::Start(start)).await?;
    conn.seek(fd, start as i64, whence::SEEK_SET).await?;
    let mut got = 0u64;
    while start + got < end {
        let want = ((end - start - got) as usize).min(PARALLEL_CHUNK);
        let data = conn.read(fd, want).await?;
        if data.is_empty() {
            return Err(Error::Protocol(format!("object ended at {} before {end}", start + got)));
        }
        file.write_all(&data).await?;
        got += data.len() as u64;
    }
    file.flush().await?;
    Ok(got)
}

/// Downloads `logical` into `local` (created or truncated) over one connection. Returns the size.
pub async fn get_file(conn: &mut Connection, logical: &str, local: &Path) -> Result<u64> {
    let fd = conn.open(logical, OpenMode::Read, KeyValPair::new()).await?;
    let mut out = tokio::fs::File::create(local).await?;
    let mut total = 0u64;
    let result = async {
        loop {
            let data = conn.read(fd, SINGLE_STREAM_CHUNK).await?;
            if data.is_empty() {
                break;
            }
            out.write_all(&data).await?;
            total += data.len() as u64;
        }
        out.flush().await?;
        Ok::<(), Error>(())
    }
    .await;
    let closed = conn.close(fd, KeyValPair::new()).await;
    result?;
    closed?;
    Ok(total)
}

/// Reads a whole data object into memory (for small objects).
pub async fn read_to_vec(conn: &mut Connection, logical: &str) -> Result<Vec<u8>> {
    let fd = conn.open(logical, OpenMode::Read, KeyValPair::new()).await?;
    let mut out = Vec::new();
    loop {
        let data = conn.read(fd, SINGLE_STREAM_CHUNK).await?;
        if data.is_empty() {
            break;
        }
        out.extend_from_slice(&data);
    }
    conn.close(fd, KeyValPair::new()).await?;
    Ok(out)
}

/// Writes bytes as a data object (create or overwrite) over one connection.
pub async fn write_from_slice(
    conn: &mut Connection,
    logical: &str,
    data: &[u8],
    options: KeyValPair,
) -> Result<()> {
    let fd = conn.open(logical, OpenMode::Write, options.clone()).await?;
    for chunk in data.chunks(SINGLE_STREAM_CHUNK) {
        conn.write(fd, chunk).await?;
    }
    conn.close(fd, options).await
}
