//! iRODS error codes and API numbers, with their names.
//!
//! iRODS error codes are negative multiples of 1000; a system `errno` may be subtracted from them
//! (`UNIX_FILE_OPEN_ERR - ENOENT = -510002`). Names are looked up by the nominal code.

#[path = "gen/api_table.rs"]
mod api_table;
#[path = "gen/error_table.rs"]
mod error_table;

use std::fmt;

/// An iRODS status code as carried in a reply's `intInfo` (negative = error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// The code rounded toward zero to a multiple of 1000 (the part that names the error).
    pub fn nominal(self) -> i32 {
        (self.0 / 1000) * 1000
    }

    /// The `errno` folded into the code, if any (`-510002` → 2).
    pub fn errno(self) -> i32 {
        -(self.0 % 1000)
    }

    /// The symbolic name of the nominal code, e.g. `CAT_NO_ROWS_FOUND`.
    pub fn name(self) -> Option<&'static str> {
        error_name(self.nominal())
    }

    /// The code for a name, e.g. `"CAT_NO_ROWS_FOUND"` → -808000.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        all_errors().find(|(_, n)| *n == name).map(|(c, _)| ErrorCode(c))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.errno()) {
            (Some(name), 0) => write!(f, "{name} ({})", self.0),
            (Some(name), errno) => write!(f, "{name} ({}, errno {errno})", self.0),
            (None, _) => write!(f, "iRODS error {}", self.0),
        }
    }
}

fn all_errors() -> impl Iterator<Item = (i32, &'static str)> {
    error_table::ERROR_TABLE.iter().chain(error_table::EXTRA_ERROR_TABLE).copied()
}

/// Name of an exact (nominal) error code.
pub fn error_name(code: i32) -> Option<&'static str> {
    all_errors().find(|(c, _)| *c == code).map(|(_, n)| n)
}

/// Name of an API number, e.g. 702 → `GEN_QUERY_AN`.
pub fn api_name(number: i32) -> Option<&'static str> {
    api_table::API_TABLE.iter().find(|(n, _)| *n == number).map(|(_, name)| *name)
}

/// Number of a named API.
pub fn api_number(name: &str) -> Option<i32> {
    api_table::API_TABLE.iter().find(|(_, n)| *n == name).map(|(number, _)| *number)
}

/// Error codes the ingest, the client and the test server use by name.
pub mod error {
    pub const SYS_HEADER_READ_LEN_ERR: i32 = -4000;
    pub const SYS_UNMATCHED_API_NUM: i32 = -12000;
    pub const SYS_NO_API_PRIV: i32 = -13000;
    pub const SYS_API_INPUT_ERR: i32 = -14000;
    pub const SYS_PACK_INSTRUCT_FORMAT_ERR: i32 = -15000;
    pub const SYS_FILE_DESC_OUT_OF_RANGE: i32 = -19000;
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
    pub const SYS_UNKNOWN_ERROR: i32 = -165000;
    pub const NOT_A_COLLECTION: i32 = -170000;
    pub const NOT_A_DATA_OBJECT: i32 = -171000;
    pub const JSON_VALIDATION_ERROR: i32 = -172000;
    pub const USER_PACKSTRUCT_INPUT_ERR: i32 = -308000;
    pub const USER_FILE_DOES_NOT_EXIST: i32 = -310000;
    pub const OVERWRITE_WITHOUT_FORCE_FLAG: i32 = -312000;
    pub const UNMATCHED_KEY_OR_INDEX: i32 = -313000;
    pub const USER_INPUT_PATH_ERR: i32 = -317000;
    pub const BAD_INPUT_DESC_INDEX: i32 = -345000;
    pub const CANT_UNREG_IN_VAULT_FILE: i32 = -355000;
    pub const OBJ_PATH_DOES_NOT_EXIST: i32 = -358000;
    pub const USER_INCOMPATIBLE_PARAMS: i32 = -402000;
    pub const INTERMEDIATE_REPLICA_ACCESS: i32 = -405000;
    pub const LOCKED_DATA_OBJECT_ACCESS: i32 = -406000;
    pub const CHECK_VERIFICATION_RESULTS: i32 = -407000;
    pub const UNIX_FILE_OPEN_ERR: i32 = -510000;
    pub const UNIX_FILE_CREATE_ERR: i32 = -511000;
    pub const UNIX_FILE_READ_ERR: i32 = -512000;
    pub const UNIX_FILE_WRITE_ERR: i32 = -513000;
    pub const UNIX_FILE_UNLINK_ERR: i32 = -515000;
    pub const UNIX_FILE_STAT_ERR: i32 = -516000;
    pub const UNIX_FILE_MKDIR_ERR: i32 = -520000;
    pub const CAT_SQL_ERR: i32 = -806000;
    pub const CAT_NO_ROWS_FOUND: i32 = -808000;
    pub const CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME: i32 = -809000;
    pub const CAT_UNKNOWN_COLLECTION: i32 = -814000;
    pub const CAT_INVALID_ARGUMENT: i32 = -816000;
    pub const CAT_UNKNOWN_FILE: i32 = -817000;
    pub const CAT_NO_ACCESS_PERMISSION: i32 = -818000;
    pub const CAT_COLLECTION_NOT_EMPTY: i32 = -821000;
    pub const CAT_INVALID_AUTHENTICATION: i32 = -826000;
    pub const CAT_INVALID_USER: i32 = -827000;
    pub const CAT_INSUFFICIENT_PRIVILEGE_LEVEL: i32 = -830000;
    pub const CAT_NAME_EXISTS_AS_COLLECTION: i32 = -833000;
    pub const CAT_NAME_EXISTS_AS_DATAOBJ: i32 = -834000;
    pub const CAT_NOT_A_DATAOBJ_AND_NOT_A_COLLECTION: i32 = -836000;
    pub const CAT_PASSWORD_EXPIRED: i32 = -840000;
    pub const CAT_UNKNOWN_RESOURCE: i32 = -852000;
    pub const INPUT_ARG_NOT_WELL_FORMED_ERR: i32 = -1084000;
    pub const KEY_NOT_FOUND: i32 = -1800000;
    pub const HIERARCHY_ERROR: i32 = -1803000;
    pub const INVALID_OPERATION: i32 = -1811000;
    pub const SYS_REPLICA_INACCESSIBLE: i32 = -168000;
    pub const USER_CHKSUM_MISMATCH: i32 = -314000;
    pub const UNIX_FILE_LSEEK_ERR: i32 = -518000;
    pub const UNIX_FILE_TRUNCATE_ERR: i32 = -529000;
    pub const CAT_INVALID_RESOURCE_TYPE: i32 = -810000;
    pub const CAT_INVALID_USER_TYPE: i32 = -820000;
    pub const CAT_INVALID_RESOURCE: i32 = -831000;
    pub const CAT_RESOURCE_NOT_EMPTY: i32 = -835000;
    pub const CAT_UNKNOWN_SPECIFIC_QUERY: i32 = -853000;
    pub const CAT_NO_CHECKSUM_FOR_REPLICA: i32 = -862000;
    pub const DIRECT_CHILD_ACCESS: i32 = -1816000;
    pub const SERVER_NEGOTIATION_ERROR: i32 = -1825000;
    /// In-band marker of RM_COLL progress replies (not an error).
    pub const SYS_SVR_TO_CLI_COLL_STAT: i32 = 99999996;
    /// The bare 4-byte answer a client sends to [`SYS_SVR_TO_CLI_COLL_STAT`].
    pub const SYS_CLI_TO_SVR_COLL_STAT_REPLY: i32 = 99999997;
}

/// API numbers the ingest, the client and the test server use.
pub mod api {
    pub const DATA_OBJ_CREATE_AN: i32 = 601;
    pub const DATA_OBJ_OPEN_AN: i32 = 602;
    pub const DATA_OBJ_PUT_AN: i32 = 606;
    pub const DATA_OBJ_GET_AN: i32 = 608;
    pub const DATA_OBJ_UNLINK_AN: i32 = 615;
    pub const MOD_DATA_OBJ_META_AN: i32 = 622;
    pub const DATA_OBJ_RENAME_AN: i32 = 627;
    pub const DATA_OBJ_CHKSUM_AN: i32 = 629;
    pub const PHY_PATH_REG_AN: i32 = 630;
    pub const DATA_OBJ_TRIM_AN: i32 = 632;
    pub const OBJ_STAT_AN: i32 = 633;
    pub const DATA_OBJ_TRUNCATE_AN: i32 = 652;
    pub const DATA_OBJ_CLOSE_AN: i32 = 673;
    pub const DATA_OBJ_LSEEK_AN: i32 = 674;
    pub const DATA_OBJ_READ_AN: i32 = 675;
    pub const DATA_OBJ_WRITE_AN: i32 = 676;
    pub const RM_COLL_AN: i32 = 679;
    pub const COLL_CREATE_AN: i32 = 681;
    pub const DATA_OBJ_REPL_AN: i32 = 695;
    pub const DATA_OBJ_COPY_AN: i32 = 696;
    pub const GET_MISC_SVR_INFO_AN: i32 = 700;
    pub const GENERAL_ADMIN_AN: i32 = 701;
    pub const GEN_QUERY_AN: i32 = 702;
    pub const AUTH_REQUEST_AN: i32 = 703;
    pub const AUTH_RESPONSE_AN: i32 = 704;
    pub const MOD_AVU_METADATA_AN: i32 = 706;
    pub const MOD_ACCESS_CONTROL_AN: i32 = 707;
    pub const USER_ADMIN_AN: i32 = 714;
    pub const GET_LIBRARY_FEATURES_AN: i32 = 801;
    pub const REPLICA_TRUNCATE_AN: i32 = 802;
    pub const GET_RESOURCE_INFO_FOR_OPERATION_AN: i32 = 10220;
    pub const GENQUERY2_AN: i32 = 10221;
    pub const GET_FILE_DESCRIPTOR_INFO_APN: i32 = 20000;
    pub const ATOMIC_APPLY_METADATA_OPERATIONS_APN: i32 = 20002;
    pub const REPLICA_CLOSE_APN: i32 = 20004;
    pub const TOUCH_APN: i32 = 20007;
    pub const AUTHENTICATION_APN: i32 = 110000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_nominal_code() {
        assert_eq!(ErrorCode(-808000).name(), Some("CAT_NO_ROWS_FOUND"));
        assert_eq!(ErrorCode(-510002).name(), Some("UNIX_FILE_OPEN_ERR"));
        assert_eq!(ErrorCode(-510002).errno(), 2);
        assert_eq!(ErrorCode(-510002).to_string(), "UNIX_FILE_OPEN_ERR (-510002, errno 2)");
        assert_eq!(ErrorCode::from_name("CAT_INVALID_AUTHENTICATION"), Some(ErrorCode(-826000)));
        assert_eq!(ErrorCode(-1811000).name(), Some("INVALID_OPERATION"));
        assert_eq!(ErrorCode(-7).name(), None);
    }

    #[test]
    fn named_constants_agree_with_the_table() {
        use error::*;
        for (code, name) in [
            (CAT_NO_ROWS_FOUND, "CAT_NO_ROWS_FOUND"),
            (OBJ_PATH_DOES_NOT_EXIST, "OBJ_PATH_DOES_NOT_EXIST"),
            (CAT_NAME_EXISTS_AS_DATAOBJ, "CAT_NAME_EXISTS_AS_DATAOBJ"),
            (SYS_INVALID_INPUT_PARAM, "SYS_INVALID_INPUT_PARAM"),
            (USER_FILE_DOES_NOT_EXIST, "USER_FILE_DOES_NOT_EXIST"),
        ] {
            assert_eq!(error_name(code), Some(name));
        }
        assert_eq!(api_name(api::GEN_QUERY_AN), Some("GEN_QUERY_AN"));
        assert_eq!(api_number("AUTHENTICATION_APN"), Some(api::AUTHENTICATION_APN));
        assert_eq!(api_name(api::PHY_PATH_REG_AN), Some("PHY_PATH_REG_AN"));
    }
}
