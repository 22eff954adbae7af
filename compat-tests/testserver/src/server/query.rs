//! GenQuery1 (702): translate, run against the catalog, page through this connection's cursors.

use irods_proto::Packet;
use irods_proto::messages::{GenQueryInp, GenQueryOut};

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
        let cursors = &mut self.cursors;
        let page = self.state.catalog.read(|db| cursors.run(db, &spec, paging))?;
        let mut out = GenQueryOut::from_rows(&page.columns, &page.rows, page.continue_inx);
        out.total_row_count = page.total_row_count;
        ok_with(0, &out)
    }
}
