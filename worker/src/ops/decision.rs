//! The decision table of `sync_data_from_file` (§7.1): given what exists and what changed, which
//! operation function runs inside which hook. Pure; the task layer calls it between the catalog
//! checks and the hooks.

use irods_proto::messages::KeyValPair;

use super::options::sync_options;
use super::register::ReplicaState;

/// The reference's `Operation` and `DeleteMode` enums, shared with the handler runtime (one
/// definition: `Operation::from_handler_value` and `DeleteMode::is_compatible_with`, §7.9, live
/// there).
pub use ingest_pyhandlers::{DeleteMode, Operation};

/// The handler event whose `on_*`/`pre_*`/`post_*` hooks wrap the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataObjEvent {
    /// `on_data_obj_create`.
    Create,
    /// `on_data_obj_modify`.
    Modify,
}

impl DataObjEvent {
    /// The hook name the reference dispatches.
    pub fn hook_name(self) -> &'static str {
        match self {
            DataObjEvent::Create => "on_data_obj_create",
            DataObjEvent::Modify => "on_data_obj_modify",
        }
    }
}

/// What to do for one file entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// NO_OP: run the no-op function inside the event's hooks; create no collections.
    NoOp(DataObjEvent),
    /// New object, put-type operation: `create_dirs(parent)`, then
    /// `on_data_obj_create(upload_file, op)` ([`super::upload_file`]).
    Upload,
    /// New object, registration: `create_dirs(parent)`, then `on_data_obj_create(register_file)`
    /// ([`super::register_file`]).
    Register,
    /// Existing object without a replica under `to_resource`:
    /// `on_data_obj_create(register_file)` with `regRepl=""` (no collections created).
    RegisterReplica,
    /// PUT on an existing object whose file changed: nothing, no hooks (debug log only).
    IgnoreExisting,
    /// PUT_SYNC/PUT_APPEND on a changed file: `on_data_obj_modify(sync_file, op)`
    /// ([`super::sync_file`]).
    SyncFile,
    /// Registration on a changed file: `on_data_obj_modify(update_metadata)`
    /// ([`super::update_metadata`]).
    UpdateMetadata,
    /// Only the ctime changed: `on_data_obj_modify(sync_file_meta)`, a no-op inside hooks.
    SyncFileMeta,
}

impl FileAction {
    /// The hook event, `None` when no hook fires.
    pub fn event(self) -> Option<DataObjEvent> {
        match self {
            FileAction::NoOp(event) => Some(event),
            FileAction::Upload | FileAction::Register | FileAction::RegisterReplica => {
                Some(DataObjEvent::Create)
            }
            FileAction::IgnoreExisting => None,
            FileAction::SyncFile | FileAction::UpdateMetadata | FileAction::SyncFileMeta => {
                Some(DataObjEvent::Modify)
            }
        }
    }

    /// Whether the parent collections are created (`create_dirs`) before the hook.
    pub fn creates_parent_collections(self) -> bool {
        matches!(self, FileAction::Upload | FileAction::Register)
    }

    /// The reference function the hook wraps (its `__name__`, as handlers may print `func`).
    pub fn function_name(self) -> Option<&'static str> {
        Some(match self {
            FileAction::NoOp(_) => "no_op",
            FileAction::Upload => "upload_file",
            FileAction::Register | FileAction::RegisterReplica => "register_file",
            FileAction::IgnoreExisting => return None,
            FileAction::SyncFile => "sync_file",
            FileAction::UpdateMetadata => "update_metadata",
            FileAction::SyncFileMeta => "sync_file_meta",
        })
    }

    /// Whether the hooks get the operation as their fifth positional argument.
    pub fn passes_operation(self) -> bool {
        matches!(self, FileAction::Upload | FileAction::SyncFile)
    }

    /// The keyword arguments the function and hooks receive: none for NO_OP, else
    /// `allow_redirect=False`, plus `regRepl=""` for a new replica.
    pub fn options(self) -> KeyValPair {
        match self {
            FileAction::NoOp(_) => KeyValPair::new(),
            FileAction::RegisterReplica => sync_options().with(irods_proto::consts::kw::REG_REPL, ""),
            _ => sync_options(),
        }
    }
}

/// Whether the task layer must run [`super::replica_state`] (calling `to_resource()` first)
/// before [`decide`]: REGISTER_AS_REPLICA_SYNC on an existing object.
pub fn needs_replica_check(op: Operation, exists: bool) -> bool {
    exists && op == Operation::RegisterAsReplicaSync
}

/// The §7.1 table.
///
/// * `exists`: `data_objects.exists(target)` (false under `initial_ingest`);
/// * `content_changed`: the task's `content` flag (mtime newer than the last sync, or no cache);
/// * `replica`: the answer of [`super::replica_state`] when [`needs_replica_check`] says so,
///   else `None`.
pub fn decide(
    op: Operation,
    exists: bool,
    content_changed: bool,
    replica: Option<ReplicaState>,
) -> FileAction {
    if op == Operation::NoOp {
        return FileAction::NoOp(if exists { DataObjEvent::Modify } else { DataObjEvent::Create });
    }
    if !exists {
        return if op.is_put() { FileAction::Upload } else { FileAction::Register };
    }
    if op == Operation::RegisterAsReplicaSync && replica == Some(ReplicaState::Missing) {
        return FileAction::RegisterReplica;
    }
    match (content_changed, op) {
        (false, _) => FileAction::SyncFileMeta,
        (true, Operation::Put) => FileAction::IgnoreExisting,
        (true, Operation::PutSync | Operation::PutAppend) => FileAction::SyncFile,
        (true, _) => FileAction::UpdateMetadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows() {
        use FileAction as A;
        use Operation::*;
        assert_eq!(decide(NoOp, false, true, None), FileAction::NoOp(DataObjEvent::Create));
        assert_eq!(decide(NoOp, true, false, None), FileAction::NoOp(DataObjEvent::Modify));
        for op in [Put, PutSync, PutAppend] {
            assert_eq!(decide(op, false, false, None), A::Upload);
            assert_eq!(decide(op, true, false, None), A::SyncFileMeta);
        }
        assert_eq!(decide(RegisterSync, false, true, None), A::Register);
        assert_eq!(decide(RegisterAsReplicaSync, false, true, None), A::Register);
        assert_eq!(
            decide(RegisterAsReplicaSync, true, false, Some(ReplicaState::Missing)),
            A::RegisterReplica
        );
        assert_eq!(decide(RegisterAsReplicaSync, true, true, Some(ReplicaState::Present)), A::UpdateMetadata);
        assert_eq!(decide(RegisterAsReplicaSync, true, false, Some(ReplicaState::Present)), A::SyncFileMeta);
        assert_eq!(decide(Put, true, true, None), A::IgnoreExisting);
        assert_eq!(decide(PutSync, true, true, None), A::SyncFile);
        assert_eq!(decide(PutAppend, true, true, None), A::SyncFile);
        assert_eq!(decide(RegisterSync, true, true, None), A::UpdateMetadata);
        assert!(needs_replica_check(RegisterAsReplicaSync, true));
        assert!(!needs_replica_check(RegisterAsReplicaSync, false));
        assert_eq!(A::IgnoreExisting.event(), None);
        assert_eq!(A::RegisterReplica.options().get("regRepl"), Some(""));
        assert_eq!(A::Register.options().get("allow_redirect"), Some("False"));
        assert!(A::NoOp(DataObjEvent::Create).options().is_empty());
    }
}
