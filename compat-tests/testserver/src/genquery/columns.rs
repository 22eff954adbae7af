//! GenQuery1 column numbers (iRODS `rodsGenQuery.h`) and where each lives in the SQLite catalog.
//!
//! A column belongs to a *table*: one or more SQL tables joined as a unit under one alias (the
//! metadata tables come with their object-to-metadata map, access rows with their token names).
//! Tables form a fixed tree rooted at data objects; a query joins the smallest subtree that
//! connects every table it mentions, which reproduces the joins iRODS builds for the queries
//! clients send (collections alone, data objects with their collection and resource, metadata
//! with its owner, users with their groups).

/// Which kind of metadata owner a `META_*` column belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetaOwner {
    Data,
    Coll,
    Resc,
    User,
}

/// A joinable unit of the catalog. Metadata tables carry an alias index so that several
/// attribute/value condition pairs can each match their own AVU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Data,
    Coll,
    Resc,
    Meta(MetaOwner, u8),
    DataAccess,
    CollAccess,
    CollAccessUser,
    User,
    UserGroup,
    Zone,
    RuleExec,
}

impl Table {
    /// The table this one joins to, with the SQL join condition (`None` for tree roots).
    pub fn parent(self) -> Option<Table> {
        match self {
            Table::Data | Table::Zone | Table::RuleExec => None,
            Table::Coll | Table::Resc | Table::DataAccess => Some(Table::Data),
            Table::Meta(MetaOwner::Data, _) => Some(Table::Data),
            Table::Meta(MetaOwner::Coll, _) => Some(Table::Coll),
            Table::Meta(MetaOwner::Resc, _) => Some(Table::Resc),
            Table::Meta(MetaOwner::User, _) => Some(Table::User),
            Table::CollAccess => Some(Table::Coll),
            Table::CollAccessUser => Some(Table::CollAccess),
            Table::User => Some(Table::DataAccess),
            Table::UserGroup => Some(Table::User),
        }
    }

    /// SQL that introduces this table as the first one of a FROM clause.
    pub fn from_sql(self) -> String {
        match self {
            Table::Data => "r_data_main d".into(),
            Table::Coll => "r_coll_main c".into(),
            Table::Resc => "r_resc_main r".into(),
            Table::User => "r_user_main u".into(),
            Table::Zone => "r_zone_main z".into(),
            Table::RuleExec => "r_rule_exec re".into(),
            Table::DataAccess => {
                "r_objt_access da JOIN r_tokn_main dat ON dat.token_namespace = 'access_type' \
                 AND dat.token_id = da.access_type_id"
                    .into()
            }
            Table::CollAccess => {
                "r_objt_access ca JOIN r_tokn_main cat ON cat.token_namespace = 'access_type' \
                 AND cat.token_id = ca.access_type_id"
                    .into()
            }
            Table::CollAccessUser => "r_user_main cau".into(),
            Table::UserGroup => {
                "r_user_group ug JOIN r_user_main grp ON grp.user_id = ug.group_user_id".into()
            }
            Table::Meta(owner, k) => {
                let (map, meta) = meta_aliases(owner, k);
                format!("r_objt_metamap {map} JOIN r_meta_main {meta} ON {meta}.meta_id = {map}.meta_id")
            }
        }
    }

    /// SQL that joins this table to its parent (which is already in the FROM clause).
    pub fn join_sql(self) -> String {
        match self {
            Table::Coll => "JOIN r_coll_main c ON c.coll_id = d.coll_id".into(),
            Table::Resc => "JOIN r_resc_main r ON r.resc_id = d.resc_id".into(),
            Table::DataAccess => "JOIN r_objt_access da ON da.object_id = d.data_id \
                 JOIN r_tokn_main dat ON dat.token_namespace = 'access_type' AND dat.token_id = da.access_type_id"
                .into(),
            Table::CollAccess => "JOIN r_objt_access ca ON ca.object_id = c.coll_id \
                 JOIN r_tokn_main cat ON cat.token_namespace = 'access_type' AND cat.token_id = ca.access_type_id"
                .into(),
            Table::CollAccessUser => "JOIN r_user_main cau ON cau.user_id = ca.user_id".into(),
            Table::User => "JOIN r_user_main u ON u.user_id = da.user_id".into(),
            Table::UserGroup => "JOIN r_user_group ug ON ug.user_id = u.user_id \
                 JOIN r_user_main grp ON grp.user_id = ug.group_user_id"
                .into(),
            Table::Meta(owner, k) => {
                let (map, meta) = meta_aliases(owner, k);
                let owner_id = match owner {
                    MetaOwner::Data => "d.data_id",
                    MetaOwner::Coll => "c.coll_id",
                    MetaOwner::Resc => "r.resc_id",
                    MetaOwner::User => "u.user_id",
                };
                format!(
                    "JOIN r_objt_metamap {map} ON {map}.object_id = {owner_id} \
                     JOIN r_meta_main {meta} ON {meta}.meta_id = {map}.meta_id"
                )
            }
            Table::Data | Table::Zone | Table::RuleExec => String::new(),
        }
    }
}

fn meta_aliases(owner: MetaOwner, k: u8) -> (String, String) {
    let tag = match owner {
        MetaOwner::Data => "d",
        MetaOwner::Coll => "c",
        MetaOwner::Resc => "r",
        MetaOwner::User => "u",
    };
    (format!("om{tag}{k}"), format!("m{tag}{k}"))
}

/// Which part of an AVU a metadata column is; conditions on the same part bind to successive
/// aliases (the k-th attribute-name condition pairs with the k-th value condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaPart {
    Name,
    Value,
    Units,
    Id,
    Created,
    Modified,
}

/// Where a GenQuery column lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// A plain column: table and SQL expression (with the table's alias).
    Plain(Table, &'static str),
    /// A metadata column; its alias is chosen per query.
    Meta(MetaOwner, MetaPart),
}

impl Column {
    /// The SQL expression for this column with metadata alias `k`.
    pub fn sql(self, k: u8) -> (Table, String) {
        match self {
            Column::Plain(table, expr) => (table, expr.to_string()),
            Column::Meta(owner, part) => {
                let (_, meta) = meta_aliases(owner, k);
                let field = match part {
                    MetaPart::Name => "meta_attr_name",
                    MetaPart::Value => "meta_attr_value",
                    MetaPart::Units => "meta_attr_unit",
                    MetaPart::Id => "meta_id",
                    MetaPart::Created => "create_ts",
                    MetaPart::Modified => "modify_ts",
                };
                (Table::Meta(owner, k), format!("{meta}.{field}"))
            }
        }
    }
}

/// COL_COLL_NAME, COL_DATA_NAME, COL_DATA_REPL_NUM: iRODS orders by these when they are selected.
pub const COLL_NAME: i32 = 501;
pub const DATA_NAME: i32 = 403;
pub const DATA_REPL_NUM: i32 = 404;

/// Looks a GenQuery column number up; `None` for columns this server does not model.
pub fn lookup(number: i32) -> Option<Column> {
    use Column::Plain as P;
    use Table::*;
    let column = match number {
        101 => P(Zone, "z.zone_id"),
        102 => P(Zone, "z.zone_name"),
        103 => P(Zone, "z.zone_type_name"),
        104 => P(Zone, "z.zone_conn_string"),
        105 => P(Zone, "z.r_comment"),
        106 => P(Zone, "z.create_ts"),
        107 => P(Zone, "z.modify_ts"),

        201 => P(User, "u.user_id"),
        202 => P(User, "u.user_name"),
        203 => P(User, "u.user_type_name"),
        204 => P(User, "u.zone_name"),
        206 => P(User, "u.user_info"),
        207 => P(User, "u.r_comment"),
        208 => P(User, "u.create_ts"),
        209 => P(User, "u.modify_ts"),

        301 => P(Resc, "r.resc_id"),
        302 => P(Resc, "r.resc_name"),
        303 => P(Resc, "r.zone_name"),
        304 => P(Resc, "r.resc_type_name"),
        305 => P(Resc, "r.resc_class_name"),
        306 => P(Resc, "r.resc_net"),
        307 => P(Resc, "r.resc_def_path"),
        308 => P(Resc, "r.free_space"),
        309 => P(Resc, "r.resc_info"),
        310 => P(Resc, "r.r_comment"),
        311 => P(Resc, "r.create_ts"),
        312 => P(Resc, "r.modify_ts"),
        313 => P(Resc, "r.resc_status"),
        314 => P(Resc, "r.free_space_ts"),
        315 => P(Resc, "r.resc_children"),
        316 => P(Resc, "r.resc_context"),
        317 => P(Resc, "r.resc_parent"),
        318 => P(Resc, "r.resc_parent_context"),

        401 => P(Data, "d.data_id"),
        402 => P(Data, "d.coll_id"),
        403 => P(Data, "d.data_name"),
        404 => P(Data, "d.data_repl_num"),
        405 => P(Data, "d.data_version"),
        406 => P(Data, "d.data_type_name"),
        407 => P(Data, "d.data_size"),
        409 => P(Data, "d.resc_name"),
        410 => P(Data, "d.data_path"),
        411 => P(Data, "d.data_owner_name"),
        412 => P(Data, "d.data_owner_zone"),
        413 => P(Data, "d.data_is_dirty"),
        414 => P(Data, "d.data_status"),
        415 => P(Data, "d.data_checksum"),
        416 => P(Data, "d.data_expiry_ts"),
        417 => P(Data, "d.data_map_id"),
        418 => P(Data, "d.r_comment"),
        419 => P(Data, "d.create_ts"),
        420 => P(Data, "d.modify_ts"),
        421 => P(Data, "d.data_mode"),
        422 => P(Data, "d.resc_hier"),
        423 => P(Data, "d.resc_id"),

        500 => P(Coll, "c.coll_id"),
        501 => P(Coll, "c.coll_name"),
        502 => P(Coll, "c.parent_coll_name"),
        503 => P(Coll, "c.coll_owner_name"),
        504 => P(Coll, "c.coll_owner_zone"),
        505 => P(Coll, "c.coll_map_id"),
        506 => P(Coll, "c.coll_inheritance"),
        507 => P(Coll, "c.r_comment"),
        508 => P(Coll, "c.create_ts"),
        509 => P(Coll, "c.modify_ts"),
        510 => P(Coll, "c.coll_type"),
        511 => P(Coll, "c.coll_info1"),
        512 => P(Coll, "c.coll_info2"),

        600..=605 => Column::Meta(MetaOwner::Data, meta_part(number - 600)?),
        610..=615 => Column::Meta(MetaOwner::Coll, meta_part(number - 610)?),
        630..=635 => Column::Meta(MetaOwner::Resc, meta_part(number - 630)?),
        640..=645 => Column::Meta(MetaOwner::User, meta_part(number - 640)?),

        700 => P(DataAccess, "da.access_type_id"),
        701 => P(DataAccess, "dat.token_name"),
        702 => P(DataAccess, "dat.token_namespace"),
        703 => P(DataAccess, "da.user_id"),
        704 => P(DataAccess, "da.object_id"),
        710 => P(CollAccess, "ca.access_type_id"),
        711 => P(CollAccess, "cat.token_name"),
        712 => P(CollAccess, "cat.token_namespace"),
        713 => P(CollAccess, "ca.user_id"),
        714 => P(CollAccess, "ca.object_id"),

        900 => P(UserGroup, "ug.group_user_id"),
        901 => P(UserGroup, "grp.user_name"),

        1000 => P(RuleExec, "re.rule_exec_id"),
        1001 => P(RuleExec, "re.rule_name"),
        1002 => P(RuleExec, "re.rei_file_path"),
        1003 => P(RuleExec, "re.user_name"),
        1004 => P(RuleExec, "re.exe_address"),
        1005 => P(RuleExec, "re.exe_time"),
        1006 => P(RuleExec, "re.exe_frequency"),
        1007 => P(RuleExec, "re.priority"),
        1008 => P(RuleExec, "re.estimated_exe_time"),
        1009 => P(RuleExec, "re.notification_addr"),
        1010 => P(RuleExec, "re.last_exe_time"),
        1011 => P(RuleExec, "re.exe_status"),
        1012 => P(RuleExec, "re.exe_context"),

        1300 => P(CollAccessUser, "cau.user_name"),
        1301 => P(CollAccessUser, "cau.zone_name"),
        _ => return None,
    };
    Some(column)
}

fn meta_part(offset: i32) -> Option<MetaPart> {
    Some(match offset {
        0 => MetaPart::Name,
        1 => MetaPart::Value,
        2 => MetaPart::Units,
        3 => MetaPart::Id,
        4 => MetaPart::Created,
        5 => MetaPart::Modified,
        _ => return None,
    })
}
