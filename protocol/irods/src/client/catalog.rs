//! Catalog lookups: GenQuery with paging, object stat, server information.

use super::connection::Connection;
use super::error::{Error, Result};
use crate::codes::{ErrorCode, api, error as code};
use crate::consts::obj_type;
use crate::frame::Packet;
use crate::messages::{DataObjInp, GenQueryInp, GenQueryOut, MiscSvrInfo, RodsObjStat};
use crate::query::Query;

/// What a logical path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    DataObject,
    Collection,
}

impl Connection {
    /// GET_MISC_SVR_INFO (700): release, zone, boot time. Also a cheap liveness check.
    pub async fn server_info(&mut self) -> Result<MiscSvrInfo> {
        let reply = self.call(&Packet::api_request_empty(api::GET_MISC_SVR_INFO_AN)).await?;
        Ok(reply.decode_body()?)
    }

    /// One GenQuery round trip. CAT_NO_ROWS_FOUND is an empty result, not an error.
    pub async fn gen_query(&mut self, input: &GenQueryInp) -> Result<GenQueryOut> {
        match self.call(&Packet::api_request(api::GEN_QUERY_AN, input)).await {
            Ok(reply) if reply.body.is_empty() => Ok(GenQueryOut::default()),
            Ok(reply) => Ok(reply.decode_body()?),
            Err(e) if e.is(code::CAT_NO_ROWS_FOUND) => Ok(GenQueryOut::default()),
            Err(e) => Err(e),
        }
    }

    /// Runs a query to the end (following continuations) and returns all rows, each with one
    /// value per selected column.
    pub async fn query(&mut self, query: &Query) -> Result<Vec<Vec<String>>> {
        let mut rows = Vec::new();
        let mut out = self.gen_query(&query.to_input(0)).await?;
        loop {
            rows.extend(out.rows());
            if out.continue_inx <= 0 || out.row_cnt == 0 {
                return Ok(rows);
            }
            out = self.gen_query(&query.to_input(out.continue_inx)).await?;
        }
    }

    /// The first row of a query, closing the server-side cursor if more rows were pending.
    pub async fn query_first(&mut self, query: &Query) -> Result<Option<Vec<String>>> {
        let out = self.gen_query(&query.clone().max_rows(1).to_input(0)).await?;
        if out.continue_inx > 0 {
            self.close_query(query, out.continue_inx).await?;
        }
        Ok(out.rows().into_iter().next())
    }

    /// Releases a server-side cursor (`maxRows` 0 with its continuation index).
    pub async fn close_query(&mut self, query: &Query, continue_inx: i32) -> Result<()> {
        let mut input = query.to_input(continue_inx);
        input.max_rows = 0;
        self.gen_query(&input).await.map(|_| ())
    }

    /// OBJ_STAT (633). `Ok(None)` if nothing exists at `path`.
    pub async fn stat(&mut self, path: &str) -> Result<Option<(ObjectKind, RodsObjStat)>> {
        let reply = match self.call(&Packet::api_request(api::OBJ_STAT_AN, &DataObjInp::new(path))).await {
            Ok(reply) => reply,
            Err(e) if e.is(code::USER_FILE_DOES_NOT_EXIST) || e.is(code::OBJ_PATH_DOES_NOT_EXIST) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let stat: RodsObjStat = reply.decode_body()?;
        let kind = match if stat.obj_type != 0 { stat.obj_type } else { reply.int_info } {
            obj_type::DATA_OBJ_T => ObjectKind::DataObject,
            obj_type::COLL_OBJ_T => ObjectKind::Collection,
            other => {
                return Err(Error::Irods {
                    api: api::OBJ_STAT_AN,
                    code: ErrorCode(code::SYS_UNKNOWN_ERROR),
                    message: Some(format!("unknown object type {other}")),
                });
            }
        };
        Ok(Some((kind, stat)))
    }

    /// Whether a collection exists at `path` (by GenQuery, as python-irodsclient checks).
    pub async fn collection_exists(&mut self, path: &str) -> Result<bool> {
        use crate::query::col;
        Ok(self.query_first(&Query::select(&[col::COLL_ID]).eq(col::COLL_NAME, path)).await?.is_some())
    }

    /// Whether a data object exists at `path` (by GenQuery).
    pub async fn data_object_exists(&mut self, path: &str) -> Result<bool> {
        use crate::query::col;
        let (coll, name) = split_path(path);
        let q = Query::select(&[col::D_DATA_ID]).eq(col::COLL_NAME, coll).eq(col::DATA_NAME, name);
        Ok(self.query_first(&q).await?.is_some())
    }
}

/// Splits `/a/b/c` into (`/a/b`, `c`); the parent of a top-level name is `/`.
pub fn split_path(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/", &trimmed[1..]),
        Some(at) => (&trimmed[..at], &trimmed[at + 1..]),
        None => ("", trimmed),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_path_cases() {
        assert_eq!(super::split_path("/z/home/a.txt"), ("/z/home", "a.txt"));
        assert_eq!(super::split_path("/z"), ("/", "z"));
        assert_eq!(super::split_path("/z/c/"), ("/z", "c"));
    }
}
