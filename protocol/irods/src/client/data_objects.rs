//! Data-object catalog operations: registration of files in place (630), replica metadata
//! updates (622), unlink/unregister (615), rename (627), checksums (629), touch (20007).

use serde_json::Value;

use super::catalog::ObjectKind;
use super::connection::Connection;
use super::error::Result;
use crate::codes::api;
use crate::consts::{kw, opr_type};
use crate::frame::Packet;
use crate::messages::{
    BinBytesBuf, DataObjCopyInp, DataObjInfo, DataObjInp, KeyValPair, ModDataObjMeta, StrPi,
};

impl Connection {
    /// PHY_PATH_REG: registers the file at `physical_path` as `logical_path` without moving it.
    ///
    /// `options` carries keywords such as `destRescName`, `dataSize`, `dataModify` (epoch seconds
    /// as text), `regRepl` (add a replica to an existing object), `regChksum`; `filePath` is set
    /// from `physical_path`.
    pub async fn register(
        &mut self,
        physical_path: &str,
        logical_path: &str,
        options: KeyValPair,
    ) -> Result<()> {
        let mut cond = options;
        cond.set(kw::FILE_PATH, physical_path);
        let input = DataObjInp::new(logical_path).with_cond(cond);
        self.call(&Packet::api_request(api::PHY_PATH_REG_AN, &input)).await?;
        Ok(())
    }

    /// MOD_DATA_OBJ_META, sent as given: `info` names the object and, through `repl_num`,
    /// `resc_hier` or `resc_name`, the replica; `reg_param` holds the new column values
    /// (`dataSize`, `dataModify`, `allReplStatus`, ...; `all` updates every replica).
    pub async fn mod_data_obj_meta(&mut self, info: DataObjInfo, reg_param: KeyValPair) -> Result<()> {
        let input = ModDataObjMeta { data_obj_info: info, reg_param };
        self.call(&Packet::api_request(api::MOD_DATA_OBJ_META_AN, &input)).await?;
        Ok(())
    }

    /// The ingest's `update_metadata` as python-irodsclient sends it: one replica when
    /// `repl_num` is given, else every replica (`all` is added).
    pub async fn update_replica_metadata(
        &mut self,
        path: &str,
        repl_num: Option<i32>,
        reg_param: KeyValPair,
    ) -> Result<()> {
        let mut reg_param = reg_param;
        let info =
            DataObjInfo { obj_path: path.to_string(), repl_num: repl_num.unwrap_or(0), ..Default::default() };
        if repl_num.is_none() && !reg_param.contains(kw::ALL) {
            reg_param.set(kw::ALL, "");
        }
        self.mod_data_obj_meta(info, reg_param).await
    }

    /// DATA_OBJ_UNLINK: moves the object to trash, or with `force` deletes it (files outside the
    /// resource vault are only unregistered by the server).
    pub async fn unlink(&mut self, path: &str, force: bool) -> Result<()> {
        let mut input = DataObjInp::new(path);
        input.data_size = -1;
        if force {
            input.cond_input.set(kw::FORCE_FLAG, "");
        }
        self.call(&Packet::api_request(api::DATA_OBJ_UNLINK_AN, &input)).await?;
        Ok(())
    }

    /// Removes the catalog entry of a data object and keeps its files (unlink with UNREG_OPR).
    pub async fn unregister(&mut self, path: &str) -> Result<()> {
        let mut input = DataObjInp::new(path);
        input.data_size = -1;
        input.opr_type = opr_type::UNREG_OPR;
        input.cond_input.set(kw::OPR_TYPE, opr_type::UNREG_OPR.to_string());
        self.call(&Packet::api_request(api::DATA_OBJ_UNLINK_AN, &input)).await?;
        Ok(())
    }

    /// DATA_OBJ_RENAME of a data object or a collection.
    pub async fn rename(&mut self, from: &str, to: &str, kind: ObjectKind) -> Result<()> {
        let opr = match kind {
            ObjectKind::DataObject => opr_type::RENAME_DATA_OBJ,
            ObjectKind::Collection => opr_type::RENAME_COLL,
        };
        let input = DataObjCopyInp {
            src: DataObjInp { opr_type: opr, ..DataObjInp::new(from) },
            dest: DataObjInp { opr_type: opr, ..DataObjInp::new(to) },
        };
        self.call(&Packet::api_request(api::DATA_OBJ_RENAME_AN, &input)).await?;
        Ok(())
    }

    /// DATA_OBJ_CHKSUM: returns the checksum (computing it if needed; `forceChksum` recomputes).
    pub async fn checksum(&mut self, path: &str, options: KeyValPair) -> Result<String> {
        let input = DataObjInp::new(path).with_cond(options);
        let reply = self.call(&Packet::api_request(api::DATA_OBJ_CHKSUM_AN, &input)).await?;
        if reply.body.is_empty() {
            return Ok(String::new());
        }
        Ok(reply.decode_body::<StrPi>()?.my_str)
    }

    /// TOUCH (20007): sets the modification time, creating an empty object unless `no_create`
    /// is among `options`.
    pub async fn touch(&mut self, path: &str, options: Value) -> Result<()> {
        let input = serde_json::json!({"logical_path": path, "options": options});
        self.call(&Packet::api_request(api::TOUCH_APN, &BinBytesBuf::from_json(&input))).await?;
        Ok(())
    }
}
