//! Translation of a GenQuery1 request into one parameterised SQLite statement.
//!
//! The statement is `SELECT DISTINCT <columns> FROM <joined tables> WHERE <conditions>
//! [GROUP BY ...] ORDER BY ...`. Every literal from the client is bound as a parameter, never
//! spliced into the SQL text. Ordering follows iRODS: columns the client asked to order by,
//! then COLL_NAME, DATA_NAME and DATA_REPL_NUM when selected, then (to make paging stable, as
//! PostgreSQL's sort-based DISTINCT does) the remaining selected columns in select order.

use std::collections::{BTreeSet, HashMap};

use super::columns::{self, Column, MetaPart, Table};
use super::condition::{self, Condition};
use crate::error::{ApiError, ApiResult, codes};

/// Select flags (iRODS `rodsGenQuery.h`).
pub const ORDER_BY: i32 = 0x400;
pub const ORDER_BY_DESC: i32 = 0x800;
pub const UPPER_CASE_WHERE: i32 = 0x200;
pub const NO_DISTINCT: i32 = 0x40;

/// The client's query, independent of how it was encoded on the wire.
#[derive(Debug, Clone, Default)]
pub struct QuerySpec {
    /// (column number, select flags/aggregate) in the client's order.
    pub select: Vec<(i32, i32)>,
    /// (column number, condition text) in the client's order.
    pub conditions: Vec<(i32, String)>,
    pub options: i32,
}

/// A translated statement.
#[derive(Debug, Clone, Default)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<String>,
    pub columns: Vec<i32>,
}

/// Builds the SQL for `spec`; unknown columns and malformed conditions give CAT_INVALID_ARGUMENT.
pub fn translate(spec: &QuerySpec) -> ApiResult<Statement> {
    if spec.select.is_empty() {
        return Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, "GenQuery without select columns"));
    }
    let upper = spec.options & UPPER_CASE_WHERE != 0;
    let mut tables = BTreeSet::new();

    // Select list: metadata columns use alias 0.
    let mut select_exprs = Vec::new();
    let mut group_by = Vec::new();
    let mut user_order = Vec::new();
    let mut any_aggregate = false;
    for &(number, flags) in &spec.select {
        let column = lookup(number)?;
        let (table, expr) = column.sql(0);
        tables.insert(table);
        let aggregate = match flags & 0xff {
            2 => Some("min"),
            3 => Some("max"),
            4 => Some("sum"),
            5 => Some("avg"),
            6 => Some("count"),
            _ => None,
        };
        match aggregate {
            Some(function) => {
                any_aggregate = true;
                select_exprs.push(format!("{function}({expr})"));
            }
            None => {
                select_exprs.push(expr.clone());
                group_by.push((number, expr.clone()));
            }
        }
        if flags & ORDER_BY_DESC != 0 {
            user_order.push(format!("{expr} DESC"));
        } else if flags & ORDER_BY != 0 {
            user_order.push(format!("{expr} ASC"));
        }
    }

    // Conditions: the k-th condition on a metadata part binds to alias k.
    let mut meta_counters: HashMap<(columns::MetaOwner, MetaPart), u8> = HashMap::new();
    let mut where_parts = Vec::new();
    let mut params = Vec::new();
    for (number, text) in &spec.conditions {
        let column = lookup(*number)?;
        let alias = match column {
            Column::Meta(owner, part) => {
                let counter = meta_counters.entry((owner, part)).or_insert(0);
                let k = *counter;
                *counter = counter.saturating_add(1).min(15);
                k
            }
            Column::Plain(..) => 0,
        };
        let (table, expr) = column.sql(alias);
        tables.insert(table);
        let lhs = if upper { format!("upper({expr})") } else { expr };
        let parsed = condition::parse(text)?;
        where_parts.push(condition_sql(&lhs, parsed, &mut params));
    }

    let from = from_clause(&tables);
    let distinct = if spec.options & NO_DISTINCT != 0 { "" } else { "DISTINCT " };
    let mut sql = format!("SELECT {distinct}{} FROM {from}", select_exprs.join(", "));
    if !where_parts.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&where_parts.join(" AND "));
    }
    if any_aggregate && !group_by.is_empty() {
        sql.push_str(" GROUP BY ");
        sql.push_str(&group_by.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(", "));
    }
    let mut order = user_order;
    for fixed in [columns::COLL_NAME, columns::DATA_NAME, columns::DATA_REPL_NUM] {
        if let Some((_, expr)) = group_by.iter().find(|(n, _)| *n == fixed) {
            order.push(format!("{expr} ASC"));
        }
    }
    for (number, expr) in &group_by {
        if ![columns::COLL_NAME, columns::DATA_NAME, columns::DATA_REPL_NUM].contains(number) {
            order.push(format!("{expr} ASC"));
        }
    }
    if !order.is_empty() {
        sql.push_str(" ORDER BY ");
        sql.push_str(&order.join(", "));
    }
    Ok(Statement { sql, params, columns: spec.select.iter().map(|(n, _)| *n).collect() })
}

fn lookup(number: i32) -> ApiResult<Column> {
    columns::lookup(number).ok_or_else(|| {
        ApiError::new(codes::CAT_INVALID_ARGUMENT, format!("unknown GenQuery column {number}"))
    })
}

fn bind(params: &mut Vec<String>, value: String) -> String {
    params.push(value);
    format!("?{}", params.len())
}

fn condition_sql(lhs: &str, condition: Condition, params: &mut Vec<String>) -> String {
    match condition {
        Condition::Compare(op, value) => format!("{lhs} {op} {}", bind(params, value)),
        Condition::Like { negated, pattern } => {
            let not = if negated { "NOT " } else { "" };
            format!("{lhs} {not}LIKE {} ESCAPE '\\'", bind(params, pattern))
        }
        Condition::In { negated, values } => {
            let not = if negated { "NOT " } else { "" };
            let list: Vec<String> = values.into_iter().map(|v| bind(params, v)).collect();
            format!("{lhs} {not}IN ({})", list.join(", "))
        }
        Condition::Between { negated, low, high } => {
            let not = if negated { "NOT " } else { "" };
            let low = bind(params, low);
            let high = bind(params, high);
            format!("{lhs} {not}BETWEEN {low} AND {high}")
        }
        Condition::BeginOf(value) => {
            // The column is a prefix of the value.
            let value = bind(params, value);
            format!("substr({value}, 1, length({lhs})) = {lhs}")
        }
        Condition::ParentOf(value) => {
            let value = bind(params, value);
            format!(
                "({lhs} = '/' OR substr({value}, 1, length({lhs}) + 1) = {lhs} || '/') AND {lhs} <> {value}"
            )
        }
    }
}

/// Joins the smallest subtrees that connect the given tables (one per tree root; separate roots
/// are cross-joined, as SQL does for unrelated tables).
fn from_clause(tables: &BTreeSet<Table>) -> String {
    let chain = |table: Table| {
        let mut path = vec![table];
        let mut current = table;
        while let Some(parent) = current.parent() {
            path.push(parent);
            current = parent;
        }
        path.reverse(); // root first
        path
    };
    let mut by_root: Vec<(Table, Vec<Vec<Table>>)> = Vec::new();
    for &table in tables {
        let path = chain(table);
        match by_root.iter_mut().find(|(root, _)| *root == path[0]) {
            Some((_, paths)) => paths.push(path),
            None => by_root.push((path[0], vec![path])),
        }
    }
    let mut parts = Vec::new();
    for (_, paths) in by_root {
        // The lowest common ancestor is the longest common prefix of the root-first paths.
        let mut common = 0;
        while paths.iter().all(|p| p.len() > common && p[common] == paths[0][common]) {
            common += 1;
        }
        let top = paths[0][common - 1];
        let mut sql = top.from_sql();
        let mut joined = vec![top];
        for path in &paths {
            for &table in &path[common..] {
                if !joined.contains(&table) {
                    sql.push(' ');
                    sql.push_str(&table.join_sql());
                    joined.push(table);
                }
            }
        }
        parts.push(sql);
    }
    parts.join(" CROSS JOIN ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(select: &[i32], conditions: &[(i32, &str)]) -> QuerySpec {
        QuerySpec {
            select: select.iter().map(|&n| (n, 1)).collect(),
            conditions: conditions.iter().map(|(n, c)| (*n, c.to_string())).collect(),
            options: 0,
        }
    }

    #[test]
    fn collection_only_query_does_not_touch_data() {
        let s = translate(&spec(&[500, 501], &[(501, "= '/tempZone'")])).unwrap();
        assert!(s.sql.contains("FROM r_coll_main c WHERE c.coll_name = ?1"), "{}", s.sql);
        assert!(!s.sql.contains("r_data_main"));
        assert_eq!(s.params, vec!["/tempZone"]);
    }

    #[test]
    fn data_with_collection_joins_from_data() {
        let s = translate(&spec(&[401, 403, 501], &[(501, "= 'x'")])).unwrap();
        assert!(
            s.sql.contains("FROM r_data_main d JOIN r_coll_main c ON c.coll_id = d.coll_id"),
            "{}",
            s.sql
        );
        assert!(s.sql.ends_with("ORDER BY c.coll_name ASC, d.data_name ASC, d.data_id ASC"), "{}", s.sql);
    }

    #[test]
    fn repeated_avu_conditions_use_separate_aliases() {
        let s = translate(&spec(&[401], &[(600, "= 'a'"), (601, "< '2'"), (600, "= 'b'"), (601, ">= '2'")]))
            .unwrap();
        assert!(s.sql.contains("md0.meta_attr_name = ?1"), "{}", s.sql);
        assert!(s.sql.contains("md1.meta_attr_name = ?3"), "{}", s.sql);
        assert!(s.sql.contains("md1.meta_attr_value >= ?4"), "{}", s.sql);
    }

    #[test]
    fn unknown_column_is_an_invalid_argument() {
        let error = translate(&spec(&[99999], &[])).unwrap_err();
        assert_eq!(error.code, codes::CAT_INVALID_ARGUMENT);
    }
}
