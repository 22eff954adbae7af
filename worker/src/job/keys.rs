//! Redis key names of the reference (§4.2): every job key is `"<category>:/<identifier>"`.

/// List of periodic job names.
pub const PERIODIC: &str = "periodic";
/// List of single-pass job names.
pub const SINGLEPASS: &str = "singlepass";
/// JSON array of `asdict()` records of stopped jobs (category `irods_ingest_stopped_jobs`, empty
/// identifier).
pub const STOPPED_JOBS: &str = "irods_ingest_stopped_jobs:/";
/// Name of the lock that guards job creation, stop and listing. python-redis-lock prefixes it
/// again, so the Redis key is `lock:lock:periodic`. Workers never take it.
pub const JOBS_LOCK_NAME: &str = "lock:periodic";
/// What `irods_sync start` stores in `cleanup:/<job>`: no files to remove.
pub const EMPTY_CLEANUP_LIST: &str = "[]";

/// `"<category>:/<identifier>"`, the reference's `redis_key_handle.get_key()`.
pub fn key(category: &str, identifier: &str) -> String {
    format!("{category}:/{identifier}")
}

/// The per-job keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobKeys {
    pub job_name: String,
    /// `tasks:/<job>`: outstanding task count (int string).
    pub tasks: String,
    /// `count:/<job>`: every task id enqueued in the current pass.
    pub count: String,
    /// `dequeue:/<job>`: finished task ids.
    pub dequeue: String,
    /// `failures:/<job>`: failed task count.
    pub failures: String,
    /// `retries:/<job>`: retry count.
    pub retries: String,
    /// `stop:/<job>`: present (value `""`) while the CLI revokes the job's tasks.
    pub stop: String,
    /// `cleanup:/<job>`: JSON list of files to remove when done; its existence means "job exists".
    pub cleanup: String,
    /// `irods_ingest_job_start_time:/<job>`: `repr(time.time())` of the current pass's start.
    pub start_time: String,
    /// `irods_ingest_task_ledger:/<job>` (not the reference's): a hash of the current pass's task
    /// ids enqueued or finished by workers of this project, which makes counting and finishing a
    /// task safe to repeat (see `redis_store`). Python peers never read it.
    pub ledger: String,
}

impl JobKeys {
    pub fn new(job_name: &str) -> Self {
        Self {
            job_name: job_name.to_owned(),
            tasks: key("tasks", job_name),
            count: key("count", job_name),
            dequeue: key("dequeue", job_name),
            failures: key("failures", job_name),
            retries: key("retries", job_name),
            stop: key("stop", job_name),
            cleanup: key("cleanup", job_name),
            start_time: key("irods_ingest_job_start_time", job_name),
            ledger: key("irods_ingest_task_ledger", job_name),
        }
    }

    /// The keys `sync_job.reset()` deletes, in its order.
    pub fn reset_keys(&self) -> [&str; 6] {
        [&self.count, &self.dequeue, &self.tasks, &self.failures, &self.retries, &self.start_time]
    }

    /// [`JobKeys::reset_keys`] and this project's own per-pass key, the ledger.
    pub fn pass_keys(&self) -> [&str; 7] {
        [
            &self.count,
            &self.dequeue,
            &self.tasks,
            &self.failures,
            &self.retries,
            &self.start_time,
            &self.ledger,
        ]
    }
}

/// `sync_time:/<sync key>`, where the sync key is `<path>:<root target>` (or `<b64>:<root target>`
/// for undecodable paths, `<object name>:<target>` for S3); see `paths::EntryNames::sync_key`.
pub fn sync_time_key(sync_key: &str) -> String {
    key("sync_time", sync_key)
}

/// `custom_event_handler:/<job>::<uuid4 hex>`, where the CLI stores the handler source.
pub fn event_handler_key(job_name: &str, uuid_hex: &str) -> String {
    key("custom_event_handler", &format!("{job_name}::{uuid_hex}"))
}

/// Whether an entry is a file or a directory, as in the lock names `sync_file:` / `sync_dir:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    Dir,
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::File => "file",
            EntryType::Dir => "dir",
        }
    }
}

/// Lock name of one entry: `sync_file:<sync key>` / `sync_dir:<sync key>` (key `lock:sync_file:…`).
pub fn entry_lock_name(entry_type: EntryType, sync_key: &str) -> String {
    format!("sync_{}:{sync_key}", entry_type.as_str())
}

/// Lock name serialising collection creation: `create_dirs:<collection>`.
pub fn create_dirs_lock_name(collection: &str) -> String {
    format!("create_dirs:{collection}")
}

/// Lock name serialising collection removal: `delete_collection:<collection>`.
pub fn delete_collection_lock_name(collection: &str) -> String {
    format!("delete_collection:{collection}")
}
