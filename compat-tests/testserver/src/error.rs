//! The error an API handler returns: an iRODS error code plus a message for the client.
//!
//! Every failure a client can cause becomes one of these and travels back as the reply's
//! `intInfo` (and an `RError_PI` text); nothing a client sends may take the server down.

use std::fmt;

/// iRODS error codes this server produces (values from iRODS 4.3.4 `rodsErrorTable.h`).
pub mod codes {
    pub const SYS_HEADER_READ_LEN_ERR: i32 = -4000;
    pub const SYS_FILE_DESC_OUT_OF_RANGE: i32 = -19000;
    pub const SYS_UNMATCHED_API_NUM: i32 = -12000;
    pub const SYS_NO_API_PRIV: i32 = -13000;
    pub const SYS_API_INPUT_ERR: i32 = -14000;
    pub const SYS_PACK_INSTRUCT_FORMAT_ERR: i32 = -15000;
    pub const SYS_INVALID_ZONE_NAME: i32 = -26000;
    pub const SYS_INVALID_FILE_PATH: i32 = -31000;
    pub const SYS_PROXYUSER_NO_PRIV: i32 = -39000;
    pub const SYS_NOT_SUPPORTED: i32 = -66000;
    pub const SYS_RESC_DOES_NOT_EXIST: i32 = -78000;
    pub const SYS_COLLECTION_NOT_EMPTY: i32 = -79000;
    pub const SYS_INVALID_PROTOCOL_TYPE: i32 = -85000;
    pub const SYS_INVALID_INPUT_PARAM: i32 = -130000;
    pub const SYS_INTERNAL_ERR: i32 = -154000;
    pub const SYS_REPLICA_DOES_NOT_EXIST: i32 = -164000;
    pub const SYS_REPLICA_INACCESSIBLE: i32 = -168000;
    pub const USER_PACKSTRUCT_INPUT_ERR: i32 = -308000;
    pub const USER_FILE_DOES_NOT_EXIST: i32 = -310000;
    pub const OVERWRITE_WITHOUT_FORCE_FLAG: i32 = -312000;
    pub const USER_CHKSUM_MISMATCH: i32 = -314000;
    pub const USER_INPUT_PATH_ERR: i32 = -317000;
    pub const CHECK_VERIFICATION_RESULTS: i32 = -407000;
    pub const BAD_INPUT_DESC_INDEX: i32 = -345000;
    pub const CANT_UNREG_IN_VAULT_FILE: i32 = -355000;
    pub const OBJ_PATH_DOES_NOT_EXIST: i32 = -358000;
    pub const USER_INCOMPATIBLE_PARAMS: i32 = -402000;
    pub const UNIX_FILE_OPEN_ERR: i32 = -510000;
    pub const UNIX_FILE_CREATE_ERR: i32 = -511000;
    pub const UNIX_FILE_READ_ERR: i32 = -512000;
    pub const UNIX_FILE_WRITE_ERR: i32 = -513000;
    pub const UNIX_FILE_UNLINK_ERR: i32 = -515000;
    pub const UNIX_FILE_STAT_ERR: i32 = -516000;
    pub const UNIX_FILE_MKDIR_ERR: i32 = -520000;
    pub const UNIX_FILE_LSEEK_ERR: i32 = -518000;
    pub const UNIX_FILE_TRUNCATE_ERR: i32 = -529000;
    pub const CAT_SQL_ERR: i32 = -806000;
    pub const CAT_NO_ROWS_FOUND: i32 = -808000;
    pub const CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME: i32 = -809000;
    pub const CAT_INVALID_RESOURCE_TYPE: i32 = -810000;
    pub const CAT_UNKNOWN_COLLECTION: i32 = -814000;
    pub const CAT_INVALID_ARGUMENT: i32 = -816000;
    pub const CAT_UNKNOWN_FILE: i32 = -817000;
    pub const CAT_NO_ACCESS_PERMISSION: i32 = -818000;
    pub const CAT_COLLECTION_NOT_EMPTY: i32 = -821000;
    pub const CAT_INVALID_AUTHENTICATION: i32 = -826000;
    pub const CAT_INVALID_USER: i32 = -827000;
    pub const CAT_INSUFFICIENT_PRIVILEGE_LEVEL: i32 = -830000;
    pub const CAT_INVALID_USER_TYPE: i32 = -820000;
    pub const CAT_INVALID_RESOURCE: i32 = -831000;
    pub const CAT_NAME_EXISTS_AS_COLLECTION: i32 = -833000;
    pub const CAT_NAME_EXISTS_AS_DATAOBJ: i32 = -834000;
    pub const CAT_RESOURCE_NOT_EMPTY: i32 = -835000;
    pub const CAT_NOT_A_DATAOBJ_AND_NOT_A_COLLECTION: i32 = -836000;
    pub const CAT_UNKNOWN_RESOURCE: i32 = -852000;
    pub const CAT_NO_CHECKSUM_FOR_REPLICA: i32 = -862000;
    pub const CAT_UNKNOWN_SPECIFIC_QUERY: i32 = -853000;
    pub const CAT_INVALID_OBJ_COUNT: i32 = -877000;
    pub const INPUT_ARG_NOT_WELL_FORMED_ERR: i32 = -1084000;
    pub const KEY_NOT_FOUND: i32 = -1800000;
    pub const HIERARCHY_ERROR: i32 = -1803000;
    pub const INVALID_OPERATION: i32 = -1811000;
    pub const DIRECT_CHILD_ACCESS: i32 = -1816000;
}

/// A failed API call: the code goes into the reply's `intInfo`, the message into `RError_PI`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: i32,
    pub message: String,
}

impl ApiError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// A Unix error code with the system errno subtracted, as iRODS reports file-system failures.
    pub fn unix(code: i32, error: &std::io::Error, context: impl fmt::Display) -> Self {
        let errno = error.raw_os_error().unwrap_or(0);
        Self { code: code - errno, message: format!("{context}: {error}") }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ApiError {}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        ApiError::new(codes::CAT_SQL_ERR, format!("catalog: {error}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
