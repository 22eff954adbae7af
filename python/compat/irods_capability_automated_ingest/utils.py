"""``Operation`` and ``DeleteMode`` with the reference's member names and values."""

from enum import Enum


class Operation(Enum):
    REGISTER_SYNC = 0
    REGISTER_AS_REPLICA_SYNC = 1
    PUT = 2
    PUT_SYNC = 3
    PUT_APPEND = 4
    NO_OP = 5


class DeleteMode(Enum):
    DO_NOT_DELETE = 0
    UNREGISTER = 1
    TRASH = 2
    NO_TRASH = 3


_ALLOWED_DELETE_MODES = {
    Operation.NO_OP: (DeleteMode.DO_NOT_DELETE,),
    Operation.REGISTER_SYNC: (DeleteMode.DO_NOT_DELETE, DeleteMode.UNREGISTER),
    Operation.REGISTER_AS_REPLICA_SYNC: (DeleteMode.DO_NOT_DELETE, DeleteMode.UNREGISTER),
    Operation.PUT: (DeleteMode.DO_NOT_DELETE,),
    Operation.PUT_SYNC: (DeleteMode.DO_NOT_DELETE, DeleteMode.TRASH, DeleteMode.NO_TRASH),
    Operation.PUT_APPEND: (DeleteMode.DO_NOT_DELETE, DeleteMode.TRASH, DeleteMode.NO_TRASH),
}


def delete_mode_is_compatible_with_operation(delete_mode, operation):
    return delete_mode in _ALLOWED_DELETE_MODES.get(operation, ())


def is_unicode_encode_error_path(path):
    """True when ``path`` holds surrogate escapes, i.e. it came from undecodable bytes."""
    try:
        path.encode("utf8")
    except UnicodeEncodeError:
        return True
    return False
