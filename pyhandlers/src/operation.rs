//! The ingest operation as Python sees it, and the enums handlers return.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use celery_proto::json::PyDict;

/// `irods_capability_automated_ingest.utils.Operation`, same names and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    RegisterSync = 0,
    RegisterAsReplicaSync = 1,
    Put = 2,
    PutSync = 3,
    PutAppend = 4,
    NoOp = 5,
}

impl Operation {
    pub const ALL: [Operation; 6] = [
        Operation::RegisterSync,
        Operation::RegisterAsReplicaSync,
        Operation::Put,
        Operation::PutSync,
        Operation::PutAppend,
        Operation::NoOp,
    ];

    /// The member name (`op.name` in Python).
    pub fn name(self) -> &'static str {
        match self {
            Operation::RegisterSync => "REGISTER_SYNC",
            Operation::RegisterAsReplicaSync => "REGISTER_AS_REPLICA_SYNC",
            Operation::Put => "PUT",
            Operation::PutSync => "PUT_SYNC",
            Operation::PutAppend => "PUT_APPEND",
            Operation::NoOp => "NO_OP",
        }
    }

    /// The member value (`op.value`).
    pub fn value(self) -> i64 {
        self as i64
    }

    pub fn from_value(value: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.value() == value)
    }

    /// The member with this value, or REGISTER_SYNC for `None`/anything else.
    ///
    /// A handler's `operation()` may return `None` or a value that is no member; for file entries
    /// the reference then behaves exactly as for REGISTER_SYNC, so callers map both to
    /// [`Operation::RegisterSync`].
    pub fn from_handler_value(value: Option<i64>) -> Operation {
        value.and_then(Self::from_value).unwrap_or(Operation::RegisterSync)
    }

    /// PUT, PUT_SYNC and PUT_APPEND: the operations whose hooks get the member as fifth argument.
    pub fn is_put(self) -> bool {
        matches!(self, Operation::Put | Operation::PutSync | Operation::PutAppend)
    }
}

/// `irods_capability_automated_ingest.utils.DeleteMode`, same names and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeleteMode {
    DoNotDelete = 0,
    Unregister = 1,
    Trash = 2,
    NoTrash = 3,
}

impl DeleteMode {
    pub const ALL: [DeleteMode; 4] =
        [DeleteMode::DoNotDelete, DeleteMode::Unregister, DeleteMode::Trash, DeleteMode::NoTrash];

    pub fn name(self) -> &'static str {
        match self {
            DeleteMode::DoNotDelete => "DO_NOT_DELETE",
            DeleteMode::Unregister => "UNREGISTER",
            DeleteMode::Trash => "TRASH",
            DeleteMode::NoTrash => "NO_TRASH",
        }
    }

    pub fn value(self) -> i64 {
        self as i64
    }

    pub fn from_value(value: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.value() == value)
    }

    /// `utils.delete_mode_is_compatible_with_operation` (§7.9).
    pub fn is_compatible_with(self, op: Operation) -> bool {
        use DeleteMode::*;
        match op {
            Operation::NoOp | Operation::Put => self == DoNotDelete,
            Operation::RegisterSync | Operation::RegisterAsReplicaSync => {
                matches!(self, DoNotDelete | Unregister)
            }
            Operation::PutSync | Operation::PutAppend => matches!(self, DoNotDelete | Trash | NoTrash),
        }
    }
}

/// What an `operation()`/`delete_mode()` override returned.
///
/// The reference treats the cases differently depending on the task (`None` is REGISTER_SYNC in
/// entry tasks but "incompatible" in `sync_path`; anything else is compared with `==` and falls
/// through), so the caller decides; [`HandlerChoice::member`] gives the strict reading.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerChoice<T> {
    /// A member of the enum handlers import.
    Member(T),
    /// `None`.
    None,
    /// Anything else, with its Python type name and `repr()`.
    Other { type_name: String, repr: String },
}

impl<T: Copy> HandlerChoice<T> {
    pub fn member(&self) -> Option<T> {
        match self {
            HandlerChoice::Member(value) => Some(*value),
            _ => None,
        }
    }

    /// `repr()` of the value as Python would print it in an error message.
    pub fn repr(&self, name: impl Fn(T) -> String) -> String {
        match self {
            HandlerChoice::Member(value) => name(*value),
            HandlerChoice::None => "None".to_owned(),
            HandlerChoice::Other { repr, .. } => repr.clone(),
        }
    }
}

/// What the Python side passed to the operation callable.
///
/// `meta` is the dict object the hooks see: a `pre_*` hook that changes `meta["target"]` changes
/// what the operation receives, exactly as in the reference, so the operation must read its
/// inputs from here. Values that JSON cannot carry (objects a hook stored in meta) arrive as their
/// `repr()`; bytes arrive as strings decoded like `os.fsdecode`.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationInput {
    pub meta: PyDict,
    /// The keyword arguments (`allow_redirect`, `regRepl`, ...), in call order.
    pub options: PyDict,
    /// The fifth positional argument of put-type operations, when the hook passed one.
    pub op: Option<HandlerChoice<Operation>>,
}

/// Why the Rust operation failed; raised into Python as an exception the hooks can catch.
///
/// With an `irods_code` and python-irodsclient installed, the exception is the matching
/// `irods.exception` class (`get_exception_by_code`), as the reference's own operation would raise.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct OperationError {
    pub message: String,
    pub irods_code: Option<i32>,
}

impl OperationError {
    pub fn new(message: impl Into<String>) -> Self {
        OperationError { message: message.into(), irods_code: None }
    }

    pub fn irods(code: i32, message: impl Into<String>) -> Self {
        OperationError { message: message.into(), irods_code: Some(code) }
    }
}

pub type OperationFuture = Pin<Box<dyn Future<Output = Result<(), OperationError>> + Send>>;

/// The operation a hook wraps. Called from a Python thread (the future runs on the caller's tokio
/// runtime); a handler may call it several times or not at all.
pub type OperationFn = Arc<dyn Fn(OperationInput) -> OperationFuture + Send + Sync>;

/// Builds an [`OperationFn`] from an async closure.
pub fn operation_fn<F, Fut>(f: F) -> OperationFn
where
    F: Fn(OperationInput) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), OperationError>> + Send + 'static,
{
    Arc::new(move |input| Box::pin(f(input)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_handler_values_read_as_register_sync() {
        assert_eq!(Operation::from_handler_value(None), Operation::RegisterSync);
        assert_eq!(Operation::from_handler_value(Some(42)), Operation::RegisterSync);
        assert_eq!(Operation::from_handler_value(Some(4)), Operation::PutAppend);
    }

    #[test]
    fn delete_mode_compatibility() {
        assert!(DeleteMode::Unregister.is_compatible_with(Operation::RegisterSync));
        assert!(!DeleteMode::Trash.is_compatible_with(Operation::RegisterSync));
        assert!(DeleteMode::NoTrash.is_compatible_with(Operation::PutAppend));
        assert!(!DeleteMode::Unregister.is_compatible_with(Operation::Put));
        assert!(DeleteMode::DoNotDelete.is_compatible_with(Operation::NoOp));
    }
}
