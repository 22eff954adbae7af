//! The operations hooks wrap that act on `meta["target"]` alone: creating or unregistering a
//! collection, removing a data object. The target is read when the operation runs, because a
//! `pre_*` hook may have changed it.

use ingest_pyhandlers::{OperationError, OperationFn, operation_fn};
use irods_proto::Pool;

use super::failure::operation_error;
use crate::meta::Meta;
use crate::ops::{self, DataObjectRemoval};

/// What to do with the target.
#[derive(Debug, Clone, Copy)]
pub enum TargetAction {
    /// `irods_utils.create_dir`.
    CreateCollection,
    /// `irods_utils.unregister_collection`.
    UnregisterCollection,
    /// `unregister_data_object`, `trash_data_object` or `unlink_data_object`.
    RemoveDataObject(DataObjectRemoval),
}

/// The operation for `action`, on a connection from `pool`.
pub fn target_operation(pool: Pool, action: TargetAction) -> OperationFn {
    operation_fn(move |input| {
        let pool = pool.clone();
        async move {
            let target = Meta::from_dict(&input.meta)
                .target()
                .map(str::to_owned)
                .map_err(|e| OperationError::new(e.to_string()))?;
            let mut conn = pool.get().await.map_err(|e| operation_error(&e.into()))?;
            let result = match action {
                TargetAction::CreateCollection => ops::create_dir(&mut conn, &target).await,
                TargetAction::UnregisterCollection => ops::unregister_collection(&mut conn, &target).await,
                TargetAction::RemoveDataObject(removal) => removal.apply(&mut conn, &target).await,
            };
            result.map_err(|e| operation_error(&e))
        }
    })
}
