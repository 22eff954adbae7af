//! Numeric constants and keyword strings of the iRODS API (`rodsKeyWdDef.h`, `dataObjInpOut.h`,
//! `objInfo.h`, `rodsGenQuery.h`). Keyword strings are case-sensitive.

/// Open flags (Linux values, as the server expects).
pub mod open_flags {
    pub const O_RDONLY: i32 = 0;
    pub const O_WRONLY: i32 = 1;
    pub const O_RDWR: i32 = 2;
    pub const O_CREAT: i32 = 64;
    pub const O_EXCL: i32 = 128;
    pub const O_TRUNC: i32 = 512;
    pub const O_APPEND: i32 = 1024;
}

/// `oprType` values.
pub mod opr_type {
    pub const PUT_OPR: i32 = 1;
    pub const GET_OPR: i32 = 2;
    pub const REPLICATE_OPR: i32 = 6;
    pub const COPY_DEST: i32 = 9;
    pub const COPY_SRC: i32 = 10;
    pub const RENAME_DATA_OBJ: i32 = 11;
    pub const RENAME_COLL: i32 = 12;
    pub const UNREG_OPR: i32 = 26;
}

/// Object types (RodsObjStat `objType`, OBJ_STAT intInfo).
pub mod obj_type {
    pub const UNKNOWN_OBJ_T: i32 = 0;
    pub const DATA_OBJ_T: i32 = 1;
    pub const COLL_OBJ_T: i32 = 2;
}

/// Replica status values.
pub mod repl_status {
    pub const STALE_REPLICA: i32 = 0;
    pub const GOOD_REPLICA: i32 = 1;
    pub const INTERMEDIATE_REPLICA: i32 = 2;
    pub const READ_LOCKED: i32 = 3;
    pub const WRITE_LOCKED: i32 = 4;
}

/// Seek origins.
pub mod whence {
    pub const SEEK_SET: i32 = 0;
    pub const SEEK_CUR: i32 = 1;
    pub const SEEK_END: i32 = 2;
}

/// GenQuery `options` bits and select flags.
pub mod genquery_flags {
    pub const RETURN_TOTAL_ROW_COUNT: i32 = 0x20;
    pub const NO_DISTINCT: i32 = 0x40;
    pub const QUOTA_QUERY: i32 = 0x80;
    pub const AUTO_CLOSE: i32 = 0x100;
    pub const UPPER_CASE_WHERE: i32 = 0x200;
    pub const SELECT_NORMAL: i32 = 1;
    pub const SELECT_MIN: i32 = 2;
    pub const SELECT_MAX: i32 = 3;
    pub const SELECT_SUM: i32 = 4;
    pub const SELECT_AVG: i32 = 5;
    pub const SELECT_COUNT: i32 = 6;
    pub const ORDER_BY: i32 = 0x400;
    pub const ORDER_BY_DESC: i32 = 0x800;
    /// Maximum number of result columns (`MAX_SQL_ATTR`).
    pub const MAX_SQL_ATTR: usize = 50;
}

/// Fixed string sizes of packing instructions; a value must be shorter than its limit.
pub mod limits {
    pub const NAME_LEN: usize = 64;
    pub const LONG_NAME_LEN: usize = 256;
    pub const MAX_NAME_LEN: usize = 1088;
    pub const HEADER_TYPE_LEN: usize = 128;
    pub const ERR_MSG_LEN: usize = 1024;
    pub const CHALLENGE_LEN: usize = 64;
    pub const RESPONSE_LEN: usize = 16;
    pub const MAX_PASSWORD_LEN: usize = 50;
}

/// condInput keywords.
pub mod kw {
    pub const FORCE_FLAG: &str = "forceFlag";
    pub const RECURSIVE_OPR: &str = "recursiveOpr";
    pub const OPR_TYPE: &str = "oprType";
    pub const DATA_SIZE: &str = "dataSize";
    pub const DATA_MODIFY: &str = "dataModify";
    pub const DATA_CREATE: &str = "dataCreate";
    pub const DATA_TYPE: &str = "dataType";
    pub const DATA_MODE: &str = "dataMode";
    pub const DEST_RESC_NAME: &str = "destRescName";
    pub const RESC_NAME: &str = "rescName";
    pub const DEF_RESC_NAME: &str = "defRescName";
    pub const LEAF_RESC_NAME: &str = "leafRescName";
    pub const RESC_HIER: &str = "resc_hier";
    pub const REPLICA_TOKEN: &str = "replicaToken";
    pub const NUM_THREADS: &str = "numThreads";
    pub const REG_REPL: &str = "regRepl";
    pub const FILE_PATH: &str = "filePath";
    pub const COLLECTION: &str = "collection";
    pub const REG_CHKSUM: &str = "regChksum";
    pub const VERIFY_CHKSUM: &str = "verifyChksum";
    pub const FORCE_CHKSUM: &str = "forceChksum";
    pub const CHKSUM_ALL: &str = "ChksumAll";
    pub const CHKSUM: &str = "chksum";
    pub const REPL_NUM: &str = "replNum";
    pub const REPL_STATUS: &str = "replStatus";
    pub const ALL_REPL_STATUS: &str = "allReplStatus";
    pub const ALL: &str = "all";
    pub const UPDATE_REPL: &str = "updateRepl";
    pub const ZONE: &str = "zone";
    pub const IRODS_ADMIN: &str = "irodsAdmin";
    pub const IRODS_RM_TRASH: &str = "irodsRmTrash";
    pub const IRODS_ADMIN_RM_TRASH: &str = "irodsAdminRmTrash";
    pub const UNREG: &str = "unreg";
    pub const DATA_INCLUDED: &str = "dataIncluded";
    pub const EXCLUDE_FILE: &str = "excludeFile";
    pub const SELECTED_HIERARCHY: &str = "selected_hierarchy";
    pub const NO_CHK_FILE_PERM: &str = "noChkFilePerm";
}
