//! Data-object structs: open/create/register/unlink input, descriptor operations, stat, copy and
//! rename input, replica metadata.

use super::common::KeyValPair;
use crate::error::DecodeError;
use crate::pi::{PackStruct, nested};
use crate::xml::Element;

/// `DataObjInp_PI` = `str objPath[1088]; int createMode; int openFlags; double offset;
/// double dataSize; int numThreads; int oprType; struct *SpecColl_PI; struct KeyValPair_PI;`
///
/// Input of open, create, register (630), unlink, trim, chksum, stat, truncate. `SpecColl_PI` is
/// never sent by the clients we serve and is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataObjInp {
    pub obj_path: String,
    pub create_mode: i32,
    pub open_flags: i32,
    pub offset: i64,
    pub data_size: i64,
    pub num_threads: i32,
    pub opr_type: i32,
    pub cond_input: KeyValPair,
}

impl DataObjInp {
    pub fn new(obj_path: impl Into<String>) -> Self {
        DataObjInp { obj_path: obj_path.into(), ..Default::default() }
    }

    pub fn with_cond(mut self, cond_input: KeyValPair) -> Self {
        self.cond_input = cond_input;
        self
    }
}

impl PackStruct for DataObjInp {
    const PI_NAME: &'static str = "DataObjInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("objPath", &self.obj_path)
            .push_int("createMode", self.create_mode)
            .push_int("openFlags", self.open_flags)
            .push_long("offset", self.offset)
            .push_long("dataSize", self.data_size)
            .push_int("numThreads", self.num_threads)
            .push_int("oprType", self.opr_type)
            .push_child(self.cond_input.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(DataObjInp {
            obj_path: el.get_str("objPath"),
            create_mode: el.get_int("createMode")?,
            open_flags: el.get_int("openFlags")?,
            offset: el.get_long("offset")?,
            data_size: el.get_long("dataSize")?,
            num_threads: el.get_int("numThreads")?,
            opr_type: el.get_int("oprType")?,
            cond_input: nested(el)?,
        })
    }
}

/// `OpenedDataObjInp_PI` = `int l1descInx; int len; int whence; int oprType; double offset;
/// double bytesWritten; struct KeyValPair_PI;` — read/write/lseek/close on an L1 descriptor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenedDataObjInp {
    pub l1_desc_inx: i32,
    pub len: i32,
    pub whence: i32,
    pub opr_type: i32,
    pub offset: i64,
    pub bytes_written: i64,
    pub cond_input: KeyValPair,
}

impl PackStruct for OpenedDataObjInp {
    const PI_NAME: &'static str = "OpenedDataObjInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("l1descInx", self.l1_desc_inx)
            .push_int("len", self.len)
            .push_int("whence", self.whence)
            .push_int("oprType", self.opr_type)
            .push_long("offset", self.offset)
            .push_long("bytesWritten", self.bytes_written)
            .push_child(self.cond_input.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(OpenedDataObjInp {
            l1_desc_inx: el.get_int("l1descInx")?,
            len: el.get_int("len")?,
            whence: el.get_int("whence")?,
            opr_type: el.get_int("oprType")?,
            offset: el.get_long("offset")?,
            bytes_written: el.get_long("bytesWritten")?,
            cond_input: nested(el)?,
        })
    }
}

/// `fileLseekInp_PI` = `int fileInx; double offset; int whence;` (server-internal file API; data
/// objects seek with [`OpenedDataObjInp`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileLseekInp {
    pub file_inx: i32,
    pub offset: i64,
    pub whence: i32,
}

impl PackStruct for FileLseekInp {
    const PI_NAME: &'static str = "fileLseekInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("fileInx", self.file_inx)
            .push_long("offset", self.offset)
            .push_int("whence", self.whence);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(FileLseekInp {
            file_inx: el.get_int("fileInx")?,
            offset: el.get_long("offset")?,
            whence: el.get_int("whence")?,
        })
    }
}

/// `fileLseekOut_PI` = `double offset;` — the new absolute position after a seek.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileLseekOut {
    pub offset: i64,
}

impl PackStruct for FileLseekOut {
    const PI_NAME: &'static str = "fileLseekOut_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_long("offset", self.offset);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(FileLseekOut { offset: el.get_long("offset")? })
    }
}

/// `DataObjCopyInp_PI` = `struct DataObjInp_PI; struct DataObjInp_PI;` — rename/copy input; the
/// two structs share a tag and are told apart by position (source first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataObjCopyInp {
    pub src: DataObjInp,
    pub dest: DataObjInp,
}

impl PackStruct for DataObjCopyInp {
    const PI_NAME: &'static str = "DataObjCopyInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_child(self.src.to_element()).push_child(self.dest.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let mut parts = el.children_named(DataObjInp::PI_NAME);
        let src = parts.next().map(DataObjInp::from_element).transpose()?.unwrap_or_default();
        let dest = parts.next().map(DataObjInp::from_element).transpose()?.unwrap_or_default();
        Ok(DataObjCopyInp { src, dest })
    }
}

/// `RodsObjStat_PI` = `double objSize; int objType; int dataMode; str dataId[64]; str chksum[64];
/// str ownerName[64]; str ownerZone[64]; str createTime[32]; str modifyTime[32];
/// struct *SpecColl_PI;` — reply of OBJ_STAT_AN (intInfo 1 = data object, 2 = collection).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RodsObjStat {
    pub obj_size: i64,
    pub obj_type: i32,
    pub data_mode: i32,
    pub data_id: String,
    pub chksum: String,
    pub owner_name: String,
    pub owner_zone: String,
    pub create_time: String,
    pub modify_time: String,
}

impl PackStruct for RodsObjStat {
    const PI_NAME: &'static str = "RodsObjStat_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_long("objSize", self.obj_size)
            .push_int("objType", self.obj_type)
            .push_int("dataMode", self.data_mode)
            .push_str("dataId", &self.data_id)
            .push_str("chksum", &self.chksum)
            .push_str("ownerName", &self.owner_name)
            .push_str("ownerZone", &self.owner_zone)
            .push_str("createTime", &self.create_time)
            .push_str("modifyTime", &self.modify_time);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(RodsObjStat {
            obj_size: el.get_long("objSize")?,
            obj_type: el.get_int("objType")?,
            data_mode: el.get_int("dataMode")?,
            data_id: el.get_str("dataId"),
            chksum: el.get_str("chksum"),
            owner_name: el.get_str("ownerName"),
            owner_zone: el.get_str("ownerZone"),
            create_time: el.get_str("createTime"),
            modify_time: el.get_str("modifyTime"),
        })
    }
}

/// `DataObjInfo_PI` (4.3 layout; iRODS 5 appends `dataAccessTime`). Used inside
/// [`ModDataObjMeta`] to name the replica(s) to update. The pointer items `specColl` and `next` are
/// never sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataObjInfo {
    pub obj_path: String,
    pub resc_name: String,
    pub resc_hier: String,
    pub data_type: String,
    pub data_size: i64,
    pub chksum: String,
    pub version: String,
    pub file_path: String,
    pub data_owner_name: String,
    pub data_owner_zone: String,
    pub repl_num: i32,
    pub repl_status: i32,
    pub status_string: String,
    pub data_id: i64,
    pub coll_id: i64,
    pub data_map_id: i32,
    pub flags: i32,
    pub data_comments: String,
    pub data_mode: String,
    pub data_expiry: String,
    pub data_create: String,
    pub data_modify: String,
    pub data_access: String,
    pub data_access_inx: i32,
    pub write_flag: i32,
    pub dest_resc_name: String,
    pub backup_resc_name: String,
    pub sub_path: String,
    pub reg_uid: i32,
    pub other_flags: i32,
    pub cond_input: KeyValPair,
    pub in_pdmo: String,
    pub resc_id: i64,
    /// Only in iRODS 5; emitted when `Some`.
    pub data_access_time: Option<String>,
}

impl PackStruct for DataObjInfo {
    const PI_NAME: &'static str = "DataObjInfo_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("objPath", &self.obj_path)
            .push_str("rescName", &self.resc_name)
            .push_str("rescHier", &self.resc_hier)
            .push_str("dataType", &self.data_type)
            .push_long("dataSize", self.data_size)
            .push_str("chksum", &self.chksum)
            .push_str("version", &self.version)
            .push_str("filePath", &self.file_path)
            .push_str("dataOwnerName", &self.data_owner_name)
            .push_str("dataOwnerZone", &self.data_owner_zone)
            .push_int("replNum", self.repl_num)
            .push_int("replStatus", self.repl_status)
            .push_str("statusString", &self.status_string)
            .push_long("dataId", self.data_id)
            .push_long("collId", self.coll_id)
            .push_int("dataMapId", self.data_map_id)
            .push_int("flags", self.flags)
            .push_str("dataComments", &self.data_comments)
            .push_str("dataMode", &self.data_mode)
            .push_str("dataExpiry", &self.data_expiry)
            .push_str("dataCreate", &self.data_create)
            .push_str("dataModify", &self.data_modify)
            .push_str("dataAccess", &self.data_access)
            .push_int("dataAccessInx", self.data_access_inx)
            .push_int("writeFlag", self.write_flag)
            .push_str("destRescName", &self.dest_resc_name)
            .push_str("backupRescName", &self.backup_resc_name)
            .push_str("subPath", &self.sub_path)
            .push_int("regUid", self.reg_uid)
            .push_int("otherFlags", self.other_flags)
            .push_child(self.cond_input.to_element())
            .push_str("in_pdmo", &self.in_pdmo)
            .push_long("rescId", self.resc_id);
        if let Some(t) = &self.data_access_time {
            el.push_str("dataAccessTime", t);
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(DataObjInfo {
            obj_path: el.get_str("objPath"),
            resc_name: el.get_str("rescName"),
            resc_hier: el.get_str("rescHier"),
            data_type: el.get_str("dataType"),
            data_size: el.get_long("dataSize")?,
            chksum: el.get_str("chksum"),
            version: el.get_str("version"),
            file_path: el.get_str("filePath"),
            data_owner_name: el.get_str("dataOwnerName"),
            data_owner_zone: el.get_str("dataOwnerZone"),
            repl_num: el.get_int("replNum")?,
            repl_status: el.get_int("replStatus")?,
            status_string: el.get_str("statusString"),
            data_id: el.get_long("dataId")?,
            coll_id: el.get_long("collId")?,
            data_map_id: el.get_int("dataMapId")?,
            flags: el.get_int("flags")?,
            data_comments: el.get_str("dataComments"),
            data_mode: el.get_str("dataMode"),
            data_expiry: el.get_str("dataExpiry"),
            data_create: el.get_str("dataCreate"),
            data_modify: el.get_str("dataModify"),
            data_access: el.get_str("dataAccess"),
            data_access_inx: el.get_int("dataAccessInx")?,
            write_flag: el.get_int("writeFlag")?,
            dest_resc_name: el.get_str("destRescName"),
            backup_resc_name: el.get_str("backupRescName"),
            sub_path: el.get_str("subPath"),
            reg_uid: el.get_int("regUid")?,
            other_flags: el.get_int("otherFlags")?,
            cond_input: nested(el)?,
            in_pdmo: el.get_str("in_pdmo"),
            resc_id: el.get_long("rescId")?,
            data_access_time: el.get_opt_str("dataAccessTime"),
        })
    }
}

/// `ModDataObjMeta_PI` = `struct *DataObjInfo_PI; struct *KeyValPair_PI;` — API 622. The
/// `reg_param` keys name catalog columns to update (`dataSize`, `dataModify`, `allReplStatus`,
/// `all`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModDataObjMeta {
    pub data_obj_info: DataObjInfo,
    pub reg_param: KeyValPair,
}

impl PackStruct for ModDataObjMeta {
    const PI_NAME: &'static str = "ModDataObjMeta_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_child(self.data_obj_info.to_element()).push_child(self.reg_param.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(ModDataObjMeta { data_obj_info: nested(el)?, reg_param: nested(el)? })
    }
}
