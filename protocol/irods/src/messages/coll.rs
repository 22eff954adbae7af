//! Collection create/remove input and the remove progress reply.

use super::common::KeyValPair;
use crate::error::DecodeError;
use crate::pi::{PackStruct, nested};
use crate::xml::Element;

/// `CollInpNew_PI` = `str collName[1088]; int flags; int oprType; struct KeyValPair_PI;` — input
/// of COLL_CREATE_AN (681) and RM_COLL_AN (679).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollInpNew {
    pub coll_name: String,
    pub flags: i32,
    pub opr_type: i32,
    pub cond_input: KeyValPair,
}

impl CollInpNew {
    pub fn new(coll_name: impl Into<String>) -> Self {
        CollInpNew { coll_name: coll_name.into(), ..Default::default() }
    }
}

impl PackStruct for CollInpNew {
    const PI_NAME: &'static str = "CollInpNew_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("collName", &self.coll_name)
            .push_int("flags", self.flags)
            .push_int("oprType", self.opr_type)
            .push_child(self.cond_input.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(CollInpNew {
            coll_name: el.get_str("collName"),
            flags: el.get_int("flags")?,
            opr_type: el.get_int("oprType")?,
            cond_input: nested(el)?,
        })
    }
}

/// `CollOprStat_PI` = `int filesCnt; int totalFileCnt; double bytesWritten; str lastObjPath[1088];`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollOprStat {
    pub files_cnt: i32,
    pub total_file_cnt: i32,
    pub bytes_written: i64,
    pub last_obj_path: String,
}

impl PackStruct for CollOprStat {
    const PI_NAME: &'static str = "CollOprStat_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("filesCnt", self.files_cnt)
            .push_int("totalFileCnt", self.total_file_cnt)
            .push_long("bytesWritten", self.bytes_written)
            .push_str("lastObjPath", &self.last_obj_path);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(CollOprStat {
            files_cnt: el.get_int("filesCnt")?,
            total_file_cnt: el.get_int("totalFileCnt")?,
            bytes_written: el.get_long("bytesWritten")?,
            last_obj_path: el.get_str("lastObjPath"),
        })
    }
}
