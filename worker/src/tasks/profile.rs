//! `--profile` events (reference §2.2, §11): `task_prerun` / `task_postrun` around every task and
//! `list_dir_prerun` / `list_dir_postrun` around a directory listing, written as JSON lines to the
//! job's profile logger (`meta["config"]["profile"]`) when `meta["profile"]` is true.
//!
//! The reference's own task events are broken (its signal handlers raise `NameError`, so only the
//! list_dir pair is ever written); these are the events it meant to write, same names and fields.
//! `index` is the worker slot the task ran in (the reference: the pool process index): the lowest
//! slot free when the task started, so that a timeline can draw one row per slot.

use std::sync::Mutex;

use celery_proto::json::{PyDict, PyValue};
use celery_proto::worker::{TaskContext, TaskError, TaskRequest, TaskResult};

use super::IngestApp;
use super::joblog::Level;
use crate::meta::Meta;

/// Which slots are taken, per process.
#[derive(Default)]
pub struct Slots {
    taken: Mutex<Vec<bool>>,
}

impl Slots {
    fn take(&self) -> usize {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        match taken.iter().position(|t| !t) {
            Some(i) => {
                taken[i] = true;
                i
            }
            None => {
                taken.push(true);
                taken.len() - 1
            }
        }
    }

    fn give_back(&self, slot: usize) {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = taken.get_mut(slot) {
            *t = false;
        }
    }
}

/// One task's profile: `begin` at prerun, `end` at postrun. Does nothing unless the task's meta
/// asks for profiling.
pub struct TaskProfile<'a> {
    app: &'a IngestApp,
    fields: Option<PyDict>,
    meta: Option<PyDict>,
    slot: usize,
}

impl<'a> TaskProfile<'a> {
    pub fn begin(app: &'a IngestApp, name: &str, req: &TaskRequest, ctx: &TaskContext) -> Self {
        let meta = match req.arg(0, "meta") {
            Some(PyValue::Dict(meta)) if Meta::from_dict(meta).profile() => meta.clone(),
            _ => return Self { app, fields: None, meta: None, slot: 0 },
        };
        let slot = app.profile_slots.take();
        let mut fields = PyDict::with_capacity(6);
        fields.insert("event_id", req.id.as_str());
        fields.insert("event_name", name);
        fields.insert("path", meta.get("path").cloned().unwrap_or(PyValue::Null));
        fields.insert("target", meta.get("target").cloned().unwrap_or(PyValue::Null));
        fields.insert("hostname", ctx.hostname());
        fields.insert("index", slot as i64);
        write(app, &meta, "task_prerun", fields.clone());
        Self { app, fields: Some(fields), meta: Some(meta), slot }
    }

    pub fn end(self, result: &TaskResult) {
        let (Some(mut fields), Some(meta)) = (self.fields, self.meta) else { return };
        let state = match result {
            Ok(_) => "SUCCESS",
            Err(TaskError::Retry(_)) => "RETRY",
            Err(TaskError::Reject { .. }) => "REJECTED",
            Err(_) => "FAILURE",
        };
        fields.insert("state", state);
        write(self.app, &meta, "task_postrun", fields);
        self.app.profile_slots.give_back(self.slot);
    }
}

/// `list_dir_prerun` / `list_dir_postrun` of a sync_path task (`event` is either name).
pub fn list_dir(app: &IngestApp, meta: &PyDict, ctx: &TaskContext, event: &str) {
    if !Meta::from_dict(meta).profile() {
        return;
    }
    let mut fields = PyDict::with_capacity(4);
    fields.insert("event_id", format!("{}:list_dir", ctx.id()));
    fields.insert("event_name", "list_dir");
    fields.insert("hostname", ctx.hostname());
    fields.insert("index", 0i64);
    write(app, meta, event, fields);
}

fn write(app: &IngestApp, meta: &PyDict, event: &str, fields: PyDict) {
    if let Ok(config) = Meta::from_dict(meta).profile_config() {
        app.log.log_to(&config, Level::Info, event, fields);
    }
}
