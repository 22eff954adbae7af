//! Collection create, remove and unregister (APIs 681 and 679).

use super::connection::Connection;
use super::error::Result;
use crate::codes::api;
use crate::consts::{kw, opr_type};
use crate::frame::Packet;
use crate::messages::{CollInpNew, KeyValPair};

/// How [`Connection::remove_collection`] removes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoveCollection {
    /// Remove contents too (else the collection must be empty).
    pub recursive: bool,
    /// Delete instead of moving to trash.
    pub force: bool,
    /// Only remove catalog entries, keep files (UNREG_OPR).
    pub unregister: bool,
}

impl Connection {
    /// COLL_CREATE. With `recursive`, missing parents are created and an existing collection is
    /// success; without, the parent must exist and the name must be free.
    pub async fn create_collection(&mut self, path: &str, recursive: bool) -> Result<()> {
        let mut input = CollInpNew::new(path);
        if recursive {
            input.cond_input.set(kw::RECURSIVE_OPR, "");
        }
        self.call(&Packet::api_request(api::COLL_CREATE_AN, &input)).await?;
        Ok(())
    }

    /// RM_COLL, as python-irodsclient's `collections.remove`/`unregister` send it.
    pub async fn remove_collection(&mut self, path: &str, how: RemoveCollection) -> Result<()> {
        let mut cond = KeyValPair::new();
        if how.recursive {
            cond.set(kw::RECURSIVE_OPR, "");
        }
        if how.force {
            cond.set(kw::FORCE_FLAG, "");
        }
        let mut input = CollInpNew::new(path);
        if how.unregister {
            input.opr_type = opr_type::UNREG_OPR;
            cond.set(kw::OPR_TYPE, opr_type::UNREG_OPR.to_string());
        }
        input.cond_input = cond;
        self.call(&Packet::api_request(api::RM_COLL_AN, &input)).await?;
        Ok(())
    }

    /// Unregisters one (empty) collection, as the ingest does for vanished directories.
    pub async fn unregister_collection(&mut self, path: &str) -> Result<()> {
        self.remove_collection(path, RemoveCollection { unregister: true, ..Default::default() }).await
    }
}
