//! GenQuery1 (702) and specific queries (722): translate, run against the catalog, page through the shared cursors.

use irods_proto::Packet;
use irods_proto::messages::{GenQueryInp, GenQueryOut, SpecificQueryInp};

use super::session::{Session, decode, ok_with};
use crate::error::{ApiError, ApiResult, codes};
use crate::genquery::{Paging, QuerySpec};

impl Session {
    pub(super) fn gen_query(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: GenQueryInp = decode(packet)?;
        if let Some(zone) = input.cond_input.get("zone").filter(|z| !z.is_empty())
            && zone != self.zone()
        {
            return Err(ApiError::new(codes::SYS_INVALID_ZONE_NAME, format!("unknown zone {zone}")));
        }
        let spec = QuerySpec {
            select: input.select.pairs.clone(),
            conditions: input.conditions.pairs.clone(),
            options: input.options,
        };
        let paging = Paging {
            max_rows: input.max_rows,
            continue_inx: input.continue_inx,
            row_offset: input.partial_start_index,
        };
        let mut cursors = self.state.cursors.lock().unwrap_or_else(|p| p.into_inner());
        let page = self.state.catalog.read(|db| cursors.run(db, &spec, paging))?;
        let mut out = GenQueryOut::from_rows(&page.columns, &page.rows, page.continue_inx);
        out.total_row_count = page.total_row_count;
        ok_with(0, &out)
    }
}

/// `SPECIFIC_QUERY_AN`: runs a registered SQL query (by alias or by its exact text).
pub const SPECIFIC_QUERY_AN: i32 = 722;

impl Session {
    /// SPECIFIC_QUERY (722). The catalog uses iRODS's table and column names, so SQL registered for a real ICAT
    /// runs here as long as SQLite understands it. Only read-only statements run.
    pub(super) fn specific_query(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: SpecificQueryInp = decode(packet)?;
        let target = input.sql.clone();
        let args: Vec<String> = input.args.iter().flatten().cloned().collect();
        let paging = Paging {
            max_rows: input.max_rows,
            continue_inx: input.continue_inx,
            row_offset: input.row_offset,
        };
        let mut cursors = self.state.cursors.lock().unwrap_or_else(|p| p.into_inner());
        let page = self.state.catalog.read(|db| {
            if paging.continue_inx > 0 {
                return cursors.run_statement(db, crate::genquery::sql::Statement::default(), 0, paging);
            }
            // `ls` and `lsl` are built into the server, not catalog rows.
            let builtin = match target.as_str() {
                "ls" => Some("SELECT alias, sqlstr FROM r_specific_query"),
                "lsl" => Some("SELECT alias, sqlstr FROM r_specific_query WHERE sqlstr LIKE ?"),
                _ => None,
            };
            let sql: String = match builtin {
                Some(sql) => sql.to_string(),
                None => db
                    .query_row(
                        "SELECT sqlstr FROM r_specific_query WHERE alias = ?1 OR sqlstr = ?1 LIMIT 1",
                        [&target],
                        |r| r.get(0),
                    )
                    .map_err(|_| {
                        ApiError::new(
                            codes::CAT_UNKNOWN_SPECIFIC_QUERY,
                            format!("unknown specific query {target}"),
                        )
                    })?,
            };
            let stmt = db.prepare(&sql)?;
            if !stmt.readonly() {
                return Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, "specific queries must be read-only"));
            }
            let width = stmt.column_count() as i32;
            let needed = stmt.parameter_count();
            let mut params = args.clone();
            params.resize(needed, String::new());
            let statement = crate::genquery::sql::Statement { sql, params, columns: (0..width).collect() };
            cursors.run_statement(db, statement, 0, paging)
        })?;
        let mut out = GenQueryOut::from_rows(&page.columns, &page.rows, page.continue_inx);
        out.total_row_count = page.total_row_count;
        ok_with(0, &out)
    }
}
