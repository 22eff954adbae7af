//! The catalog tables, modelled on the iRODS ICAT (`r_*_main` tables) as far as GenQuery needs them.
//!
//! Column names follow iRODS so that the GenQuery column map reads like iRODS's own
//! `general_query_setup.cpp`. Differences that keep this server small:
//! * `r_data_main` stores the leaf resource name and the full hierarchy string next to `resc_id`
//!   (iRODS computes both from `resc_id`); resources are never renamed here, so they cannot drift.
//! * Times are 11-digit zero-padded epoch seconds in TEXT columns, as iRODS stores them.
//! * One id sequence (`r_objectid`) serves every kind of object, as iRODS's `R_ObjectID` does, so
//!   the metadata map can key on a bare object id.

pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS r_objectid (id INTEGER PRIMARY KEY AUTOINCREMENT);

CREATE TABLE IF NOT EXISTS r_zone_main (
    zone_id INTEGER PRIMARY KEY,
    zone_name TEXT NOT NULL UNIQUE,
    zone_type_name TEXT NOT NULL,
    zone_conn_string TEXT NOT NULL DEFAULT '',
    r_comment TEXT NOT NULL DEFAULT '',
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS r_user_main (
    user_id INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL,
    user_type_name TEXT NOT NULL,
    zone_name TEXT NOT NULL,
    user_info TEXT NOT NULL DEFAULT '',
    r_comment TEXT NOT NULL DEFAULT '',
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL,
    UNIQUE (user_name, zone_name)
);

CREATE TABLE IF NOT EXISTS r_user_password (
    user_id INTEGER PRIMARY KEY,
    rcat_password TEXT NOT NULL,
    pass_expiry_ts TEXT NOT NULL DEFAULT '9999-12-31',
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS r_user_group (
    group_user_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL,
    UNIQUE (group_user_id, user_id)
);

CREATE TABLE IF NOT EXISTS r_resc_main (
    resc_id INTEGER PRIMARY KEY,
    resc_name TEXT NOT NULL UNIQUE,
    zone_name TEXT NOT NULL,
    resc_type_name TEXT NOT NULL,
    resc_class_name TEXT NOT NULL,
    resc_net TEXT NOT NULL,
    resc_def_path TEXT NOT NULL,
    free_space TEXT NOT NULL DEFAULT '',
    free_space_ts TEXT NOT NULL DEFAULT '',
    resc_info TEXT NOT NULL DEFAULT '',
    r_comment TEXT NOT NULL DEFAULT '',
    resc_status TEXT NOT NULL DEFAULT '',
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL,
    resc_children TEXT NOT NULL DEFAULT '',
    resc_context TEXT NOT NULL DEFAULT '',
    resc_parent TEXT NOT NULL DEFAULT '',
    resc_parent_context TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS r_coll_main (
    coll_id INTEGER PRIMARY KEY,
    parent_coll_name TEXT NOT NULL,
    coll_name TEXT NOT NULL UNIQUE,
    coll_owner_name TEXT NOT NULL,
    coll_owner_zone TEXT NOT NULL,
    coll_map_id INTEGER NOT NULL DEFAULT 0,
    coll_inheritance TEXT NOT NULL DEFAULT '',
    coll_type TEXT NOT NULL DEFAULT '',
    coll_info1 TEXT NOT NULL DEFAULT '',
    coll_info2 TEXT NOT NULL DEFAULT '',
    r_comment TEXT NOT NULL DEFAULT '',
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_coll_parent ON r_coll_main (parent_coll_name);

CREATE TABLE IF NOT EXISTS r_data_main (
    data_id INTEGER NOT NULL,
    coll_id INTEGER NOT NULL,
    data_name TEXT NOT NULL,
    data_repl_num INTEGER NOT NULL,
    data_version TEXT NOT NULL DEFAULT '',
    data_type_name TEXT NOT NULL DEFAULT 'generic',
    data_size INTEGER NOT NULL DEFAULT 0,
    resc_name TEXT NOT NULL,
    resc_hier TEXT NOT NULL,
    resc_id INTEGER NOT NULL,
    data_path TEXT NOT NULL,
    data_owner_name TEXT NOT NULL,
    data_owner_zone TEXT NOT NULL,
    data_is_dirty INTEGER NOT NULL DEFAULT 1,
    data_status TEXT NOT NULL DEFAULT '',
    data_checksum TEXT NOT NULL DEFAULT '',
    data_expiry_ts TEXT NOT NULL DEFAULT '00000000000',
    data_map_id INTEGER NOT NULL DEFAULT 0,
    data_mode TEXT NOT NULL DEFAULT '',
    r_comment TEXT NOT NULL DEFAULT '',
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL,
    PRIMARY KEY (data_id, data_repl_num),
    UNIQUE (coll_id, data_name, data_repl_num)
);
CREATE INDEX IF NOT EXISTS idx_data_coll_name ON r_data_main (coll_id, data_name);
CREATE INDEX IF NOT EXISTS idx_data_path ON r_data_main (data_path);

CREATE TABLE IF NOT EXISTS r_meta_main (
    meta_id INTEGER PRIMARY KEY,
    meta_namespace TEXT NOT NULL DEFAULT '',
    meta_attr_name TEXT NOT NULL,
    meta_attr_value TEXT NOT NULL,
    meta_attr_unit TEXT NOT NULL DEFAULT '',
    r_comment TEXT NOT NULL DEFAULT '',
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_meta_avu ON r_meta_main (meta_attr_name, meta_attr_value, meta_attr_unit);

CREATE TABLE IF NOT EXISTS r_objt_metamap (
    object_id INTEGER NOT NULL,
    meta_id INTEGER NOT NULL,
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL,
    UNIQUE (object_id, meta_id)
);
CREATE INDEX IF NOT EXISTS idx_metamap_meta ON r_objt_metamap (meta_id);

CREATE TABLE IF NOT EXISTS r_objt_access (
    object_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    access_type_id INTEGER NOT NULL,
    create_ts TEXT NOT NULL,
    modify_ts TEXT NOT NULL,
    UNIQUE (object_id, user_id)
);

CREATE TABLE IF NOT EXISTS r_tokn_main (
    token_namespace TEXT NOT NULL,
    token_id INTEGER NOT NULL,
    token_name TEXT NOT NULL,
    UNIQUE (token_namespace, token_id)
);

CREATE TABLE IF NOT EXISTS r_rule_exec (
    rule_exec_id INTEGER PRIMARY KEY,
    rule_name TEXT NOT NULL,
    rei_file_path TEXT NOT NULL DEFAULT '',
    user_name TEXT NOT NULL,
    exe_address TEXT NOT NULL DEFAULT '',
    exe_time TEXT NOT NULL,
    exe_frequency TEXT NOT NULL DEFAULT '',
    priority TEXT NOT NULL DEFAULT '5',
    estimated_exe_time TEXT NOT NULL DEFAULT '',
    notification_addr TEXT NOT NULL DEFAULT '',
    last_exe_time TEXT NOT NULL DEFAULT '',
    exe_status TEXT NOT NULL DEFAULT '',
    exe_context TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS r_specific_query (
    alias TEXT PRIMARY KEY,
    sqlstr TEXT NOT NULL,
    create_ts TEXT NOT NULL
);
"#;

/// Access levels as iRODS numbers them in `r_tokn_main` (namespace `access_type`).
pub const ACCESS_TYPES: &[(i64, &str)] = &[
    (1000, "null"),
    (1010, "execute"),
    (1020, "read_annotation"),
    (1030, "read_system_metadata"),
    (1040, "read_metadata"),
    (1050, "read_object"),
    (1060, "write_annotation"),
    (1070, "create_metadata"),
    (1080, "modify_metadata"),
    (1090, "delete_metadata"),
    (1100, "administer_object"),
    (1110, "create_object"),
    (1120, "modify_object"),
    (1130, "delete_object"),
    (1140, "create_token"),
    (1150, "delete_token"),
    (1160, "curate"),
    (1200, "own"),
];
