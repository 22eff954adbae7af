//! GenQuery1 over the SQLite catalog: translation ([`sql`]), condition parsing ([`condition`]),
//! the column map ([`columns`]) and paging with per-connection cursors (this module).
//!
//! Paging mirrors the real server: a batch that fills `maxRows` keeps a cursor open and returns
//! its number as `continueInx` (even if nothing remains); a batch that ends early closes it; a
//! query or continuation without rows fails with CAT_NO_ROWS_FOUND; `maxRows 0` with a cursor
//! number closes that cursor. Cursors re-run their statement with an offset instead of holding a
//! database cursor, so connections never pin a SQLite read transaction between requests.

pub mod columns;
pub mod condition;
pub mod sql;

use std::collections::HashMap;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::error::{ApiError, ApiResult, codes};
pub use sql::QuerySpec;

/// `RETURN_TOTAL_ROW_COUNT` option bit.
pub const RETURN_TOTAL_ROW_COUNT: i32 = 0x20;
/// `AUTO_CLOSE` option bit: close the cursor after the first batch.
pub const AUTO_CLOSE: i32 = 0x100;
/// Open cursors kept before the oldest is forgotten (clients that never close their queries
/// would otherwise grow the table without bound).
pub const MAX_OPEN_CURSORS: usize = 4096;

/// Paging fields of a GenQuery request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paging {
    pub max_rows: i32,
    pub continue_inx: i32,
    pub row_offset: i32,
}

/// One batch of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Column numbers in select order (empty for the reply to a close).
    pub columns: Vec<i32>,
    /// Rows of values, each as long as `columns`; SQL NULL becomes "".
    pub rows: Vec<Vec<String>>,
    pub continue_inx: i32,
    pub total_row_count: i32,
}

struct Cursor {
    statement: sql::Statement,
    next_offset: i64,
}

/// Open queries, by continuation index.
#[derive(Default)]
pub struct Cursors {
    next_id: i32,
    open: HashMap<i32, Cursor>,
}

impl Cursors {
    /// Runs a GenQuery request (new query, continuation, or close) against `db`.
    pub fn run(&mut self, db: &Connection, spec: &QuerySpec, paging: Paging) -> ApiResult<Page> {
        if paging.continue_inx > 0 {
            return self.continue_query(db, paging);
        }
        if paging.max_rows <= 0 {
            return Ok(Page::default());
        }
        let statement = sql::translate(spec)?;
        self.run_statement(db, statement, spec.options, paging)
    }

    /// Runs an already-built statement (GenQuery or a registered specific query) as a new query.
    pub fn run_statement(
        &mut self,
        db: &Connection,
        statement: sql::Statement,
        options: i32,
        paging: Paging,
    ) -> ApiResult<Page> {
        if paging.continue_inx > 0 {
            return self.continue_query(db, paging);
        }
        if paging.max_rows <= 0 {
            return Ok(Page::default());
        }
        let offset = i64::from(paging.row_offset.max(0));
        let rows = fetch(db, &statement, paging.max_rows, offset)?;
        if rows.is_empty() {
            return Err(no_rows());
        }
        let total_row_count = if options & RETURN_TOTAL_ROW_COUNT != 0 { count(db, &statement)? } else { 0 };
        let full = rows.len() as i64 == i64::from(paging.max_rows);
        let mut continue_inx = 0;
        if full && options & AUTO_CLOSE == 0 {
            continue_inx = self.keep(statement.clone(), offset + rows.len() as i64);
        }
        Ok(Page { columns: statement.columns, rows, continue_inx, total_row_count })
    }

    fn continue_query(&mut self, db: &Connection, paging: Paging) -> ApiResult<Page> {
        if paging.max_rows <= 0 {
            self.open.remove(&paging.continue_inx);
            return Ok(Page::default());
        }
        let Some(cursor) = self.open.get_mut(&paging.continue_inx) else {
            return Err(no_rows());
        };
        let rows = fetch(db, &cursor.statement, paging.max_rows, cursor.next_offset)?;
        cursor.next_offset += rows.len() as i64;
        let columns = cursor.statement.columns.clone();
        let full = rows.len() as i64 == i64::from(paging.max_rows);
        let continue_inx = if full { paging.continue_inx } else { 0 };
        if !full {
            self.open.remove(&paging.continue_inx);
        }
        if rows.is_empty() {
            return Err(no_rows());
        }
        Ok(Page { columns, rows, continue_inx, total_row_count: 0 })
    }

    fn keep(&mut self, statement: sql::Statement, next_offset: i64) -> i32 {
        if self.open.len() >= MAX_OPEN_CURSORS {
            // Forget the oldest cursor, as a client that never closes its queries would otherwise
            // grow this map without bound.
            if let Some(oldest) = self.open.keys().min().copied() {
                self.open.remove(&oldest);
            }
        }
        self.next_id = if self.next_id >= i32::MAX - 1 { 1 } else { self.next_id + 1 };
        self.open.insert(self.next_id, Cursor { statement, next_offset });
        self.next_id
    }
}

fn no_rows() -> ApiError {
    ApiError::new(codes::CAT_NO_ROWS_FOUND, "no rows found")
}

fn fetch(
    db: &Connection,
    statement: &sql::Statement,
    limit: i32,
    offset: i64,
) -> ApiResult<Vec<Vec<String>>> {
    let sql = format!("{} LIMIT {} OFFSET {}", statement.sql, limit.max(0), offset.max(0));
    let mut prepared = db.prepare_cached(&sql)?;
    let width = statement.columns.len();
    let mut rows = prepared.query(rusqlite::params_from_iter(statement.params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(value_text(row.get_ref(i)?));
        }
        out.push(values);
    }
    Ok(out)
}

fn count(db: &Connection, statement: &sql::Statement) -> ApiResult<i32> {
    let sql = format!("SELECT count(*) FROM ({})", statement.sql);
    let total: i64 =
        db.query_row(&sql, rusqlite::params_from_iter(statement.params.iter()), |row| row.get(0))?;
    Ok(total.clamp(0, i64::from(i32::MAX)) as i32)
}

fn value_text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", f as i64)
            } else {
                f.to_string()
            }
        }
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}
