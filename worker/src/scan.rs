//! One directory pass of `filesystem_sync_path` (§3.4 and §9 of the reference notes).
//!
//! [`DirScanner`] lists one directory in the order the kernel returns it (what `os.scandir`
//! sees), applies the reference's exclusion and readability rules, and yields, in the order the
//! reference would enqueue them, the sub-directories (each becomes a `filesystem_sync_path` task)
//! and the chunks of `files_per_task` entries (each becomes a `filesystem_sync_files` task). It
//! publishes nothing; the task layer turns events into messages.
//!
//! Where the reference aborts the whole task, the scanner reports and carries on:
//! an entry that vanishes or cannot be `lstat`ed between listing and stat is skipped with
//! [`SkipReason::StatFailed`] (the reference raises and retries the whole directory); an error
//! while reading the directory ends the listing with [`ScanEvent::ListingFailed`] after flushing
//! what was gathered. A directory that cannot be opened at all is an [`ScanError::Open`], the one
//! case the task layer has to fail or retry. Dangling symlinks are ordinary entries here, as in
//! the reference (`lstat` works), but are flagged so the file task need not stat their target.
//!
//! Exclusion patterns are Python `re.match` patterns (anchored at the start, not the end) applied
//! to the absolute path. They run on Rust's `regex` crate: look-around, back-references and
//! possessive/atomic groups are compile errors here, `$` matches only at the very end (Python also
//! before a final newline), and an undecodable byte in a path is matched as one U+FFFD where
//! Python sees one lone surrogate (so `.` matches it in both).

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::paths::{SourcePath, abspath, join, lossy_one_char_per_bad_byte, needs_unicode_error_handling};

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const S_IFSOCK: u32 = 0o140000;
const S_IFIFO: u32 = 0o010000;
const S_IFLNK: u32 = 0o120000;
const S_IRGRP: u32 = 0o040;

/// Why a scan could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot list directory {path:?}: {source}")]
    Open { path: SourcePath, source: io::Error },
    #[error("exclude pattern {pattern:?} does not compile: {message}")]
    BadPattern { pattern: String, message: String },
}

/// The reference's `exclude_file_type` / `exclude_file_name` / `exclude_directory_name` options.
#[derive(Debug, Clone, Default)]
pub struct ExcludeRules {
    types: Vec<String>,
    file_patterns: Vec<regex::Regex>,
    directory_patterns: Vec<regex::Regex>,
}

impl ExcludeRules {
    /// `types` are the strings of `meta["exclude_file_type"]` (`regular`, `directory`,
    /// `character`, `block`, `socket`, `pipe`, `link`); the patterns those of
    /// `meta["exclude_file_name"]` and `meta["exclude_directory_name"]`. The CLI's default
    /// artifacts (`["n"]`, `["n","o","n","e"]`) are accepted and, as in the reference, never match
    /// an absolute path.
    pub fn new(
        types: &[String],
        file_names: &[String],
        directory_names: &[String],
    ) -> Result<Self, ScanError> {
        Ok(Self {
            types: types.to_vec(),
            file_patterns: compile_all(file_names)?,
            directory_patterns: compile_all(directory_names)?,
        })
    }

    /// The reference's `exclude_file_type(ex_list, dir_regex, file_regex, full_path, logger, mode)`.
    pub fn excludes(&self, full_path: &str, mode: u32) -> Exclusion {
        if self.types.is_empty() && self.file_patterns.is_empty() && self.directory_patterns.is_empty() {
            return Exclusion::Kept;
        }
        let file_type = mode & S_IFMT;
        if file_type == S_IFDIR {
            let matched = self.directory_patterns.iter().any(|p| p.is_match(full_path));
            return if matched || self.has_type("directory") { Exclusion::Excluded } else { Exclusion::Kept };
        }
        let matched = self.file_patterns.iter().any(|p| p.is_match(full_path));
        let type_name = match file_type {
            S_IFREG => "regular",
            S_IFCHR => "character",
            S_IFBLK => "block",
            S_IFSOCK => "socket",
            S_IFIFO => "pipe",
            S_IFLNK => "link",
            _ => return Exclusion::UnknownMode,
        };
        if matched || self.has_type(type_name) { Exclusion::Excluded } else { Exclusion::Kept }
    }

    fn has_type(&self, name: &str) -> bool {
        self.types.iter().any(|t| t == name)
    }
}

/// Outcome of the exclusion test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    Kept,
    Excluded,
    /// A file type the reference does not know; it keeps the entry and logs a warning.
    UnknownMode,
}

fn compile_all(patterns: &[String]) -> Result<Vec<regex::Regex>, ScanError> {
    patterns
        .iter()
        .map(|pattern| {
            // `re.match`: anchored at the start only.
            regex::Regex::new(&format!("^(?:{pattern})"))
                .map_err(|e| ScanError::BadPattern { pattern: pattern.clone(), message: e.to_string() })
        })
        .collect()
}

/// How to decide that an entry is "not readable" and must be skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Readability {
    /// The reference's test (#277): skip any non-symlink whose group-read bit is clear, whoever
    /// owns it. A `0600` file owned by the worker is skipped; a `0040` one is kept.
    #[default]
    GroupReadBit,
    /// Skip what this process cannot read (`faccessat(R_OK, AT_EACCESS)`). Not the reference's
    /// behaviour; a mixed fleet then ingests `0600` files only where Rust workers scan.
    Access,
}

/// Everything the scanner needs from `meta`.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// `meta["files_per_task"]`; a chunk is flushed when it reaches this many entries
    /// (0 behaves like 1, as in the reference's `len(chunk) >= files_per_task`).
    pub files_per_task: usize,
    pub exclude: ExcludeRules,
    pub readability: Readability,
}

/// `lstat` facts of a chunk entry, as published in `meta["chunk"][path]`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryStat {
    pub is_link: bool,
    pub is_socket: bool,
    /// `st_mtime` as Python computes it: `sec + nsec * 1e-9` in double precision.
    pub mtime: f64,
    pub ctime: f64,
    pub size: u64,
}

/// A non-directory entry: regular file, symlink (never followed), FIFO, socket or device.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkEntry {
    pub path: SourcePath,
    pub stat: EntryStat,
    /// A symlink whose target does not exist. Not published (the chunk dict has the reference's
    /// keys only); the file task can use it instead of failing on `getmtime` as the reference does.
    pub dangling_link: bool,
}

/// A sub-directory to scan in its own task, with its `lstat` times.
#[derive(Debug, Clone, PartialEq)]
pub struct SubDirectory {
    pub path: SourcePath,
    pub mtime: f64,
    pub ctime: f64,
}

/// Why an entry did not become a task.
#[derive(Debug)]
pub enum SkipReason {
    /// Matched an exclusion option.
    Excluded,
    /// The readability rule rejected it (reference log: `physical path is not readable [...]`).
    NotReadable,
    /// `lstat` failed: the entry vanished after listing (`NotFound`) or cannot be examined.
    StatFailed(io::Error),
}

/// One step of a directory pass, in the reference's enqueue order.
#[derive(Debug)]
pub enum ScanEvent {
    Directory(SubDirectory),
    Chunk(Vec<ChunkEntry>),
    Skipped {
        path: SourcePath,
        reason: SkipReason,
    },
    /// A file type the reference does not recognise; kept (it is in a chunk), reported for the log.
    UnknownFileType {
        path: SourcePath,
        mode: u32,
    },
    /// Reading the directory failed part-way; what was read before has been yielded.
    ListingFailed(io::Error),
}

/// Iterator over one directory's [`ScanEvent`]s. Blocking: run it off the async executor.
pub struct DirScanner {
    dir: SourcePath,
    entries: fs::ReadDir,
    options: ScanOptions,
    chunk: Vec<ChunkEntry>,
    pending: VecDeque<ScanEvent>,
    finished: bool,
    saw_undecodable_name: bool,
}

impl DirScanner {
    pub fn open(dir: &SourcePath, options: ScanOptions) -> Result<Self, ScanError> {
        let entries =
            fs::read_dir(dir.as_path()).map_err(|source| ScanError::Open { path: dir.clone(), source })?;
        Ok(Self {
            dir: dir.clone(),
            entries,
            options,
            chunk: Vec::new(),
            pending: VecDeque::new(),
            finished: false,
            saw_undecodable_name: false,
        })
    }

    /// True once an entry path that is not valid UTF-8 was listed (the reference then disables
    /// delete mode for the rest of the task).
    pub fn saw_undecodable_name(&self) -> bool {
        self.saw_undecodable_name
    }

    fn flush_chunk(&mut self) {
        if !self.chunk.is_empty() {
            self.pending.push_back(ScanEvent::Chunk(std::mem::take(&mut self.chunk)));
        }
    }

    /// Examines one listed name and queues what the reference would do with it.
    fn examine(&mut self, name: &[u8]) {
        let full = abspath(&join(self.dir.as_bytes(), name));
        let Ok(path) = SourcePath::from_bytes(full) else { return };
        if needs_unicode_error_handling(path.as_bytes()) {
            self.saw_undecodable_name = true;
        }
        let meta = match fs::symlink_metadata(path.as_path()) {
            Ok(meta) => meta,
            Err(error) => {
                self.pending.push_back(ScanEvent::Skipped { path, reason: SkipReason::StatFailed(error) });
                return;
            }
        };
        let mode = meta.mode();
        let file_type = mode & S_IFMT;
        let is_link = file_type == S_IFLNK;
        match self.options.exclude.excludes(&lossy_one_char_per_bad_byte(path.as_bytes()), mode) {
            Exclusion::Excluded => {
                self.pending.push_back(ScanEvent::Skipped { path, reason: SkipReason::Excluded });
                return;
            }
            Exclusion::UnknownMode => {
                self.pending.push_back(ScanEvent::UnknownFileType { path: path.clone(), mode });
            }
            Exclusion::Kept => {}
        }
        if !is_link && !self.readable(&path, mode) {
            self.pending.push_back(ScanEvent::Skipped { path, reason: SkipReason::NotReadable });
            return;
        }
        let mtime = python_time(meta.mtime(), meta.mtime_nsec());
        let ctime = python_time(meta.ctime(), meta.ctime_nsec());
        if file_type == S_IFDIR {
            self.pending.push_back(ScanEvent::Directory(SubDirectory { path, mtime, ctime }));
            return;
        }
        let dangling_link = is_link && fs::metadata(path.as_path()).is_err();
        let stat = EntryStat { is_link, is_socket: file_type == S_IFSOCK, mtime, ctime, size: meta.size() };
        self.chunk.push(ChunkEntry { path, stat, dangling_link });
        if self.chunk.len() >= self.options.files_per_task {
            self.flush_chunk();
        }
    }

    fn readable(&self, path: &SourcePath, mode: u32) -> bool {
        match self.options.readability {
            Readability::GroupReadBit => mode & S_IRGRP != 0,
            Readability::Access => {
                let Ok(c_path) = std::ffi::CString::new(path.as_bytes()) else { return false };
                // SAFETY: faccessat with a valid NUL-terminated path and constant flags.
                unsafe { libc::faccessat(libc::AT_FDCWD, c_path.as_ptr(), libc::R_OK, libc::AT_EACCESS) == 0 }
            }
        }
    }
}

impl Iterator for DirScanner {
    type Item = ScanEvent;

    fn next(&mut self) -> Option<ScanEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            match self.entries.next() {
                Some(Ok(entry)) => self.examine(entry.file_name().as_bytes()),
                Some(Err(error)) => {
                    self.finished = true;
                    self.flush_chunk();
                    self.pending.push_back(ScanEvent::ListingFailed(error));
                }
                None => {
                    self.finished = true;
                    self.flush_chunk();
                }
            }
        }
    }
}

/// CPython's `st_mtime`: `(double)sec + nsec * 1e-9`.
pub fn python_time(sec: i64, nsec: i64) -> f64 {
    sec as f64 + nsec as f64 * 1e-9
}
