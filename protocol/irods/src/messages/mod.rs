//! One type per iRODS packing instruction, each implementing [`PackStruct`](crate::PackStruct)
//! in both directions (clients encode requests and decode replies; the test server does the
//! opposite).

mod admin;
mod auth;
mod coll;
mod common;
mod connect;
mod data_obj;
mod genquery;
mod rules_acl;

pub use admin::{GeneralAdminInp, MiscSvrInfo, ModAvuMetadataInp};
pub use auth::{AuthRequestOut, AuthResponseInp};
pub use coll::{CollInpNew, CollOprStat};
pub use common::{BinBytesBuf, BytesBuf, IntPi, InxIvalPair, InxValPair, KeyValPair, StrPi};
pub use connect::{
    CsNeg, REQUEST_SERVER_NEGOTIATION, RErrMsg, RError, StartupPack, UserIdentity, Version, XML_PROT,
    parse_release,
};
pub use data_obj::{
    DataObjCopyInp, DataObjInfo, DataObjInp, FileLseekInp, FileLseekOut, ModDataObjMeta, OpenedDataObjInp,
    RodsObjStat,
};
pub use genquery::{GenQueryInp, GenQueryOut, SqlResult};
pub use rules_acl::{ExecMyRuleInp, ModAccessControlInp, RuleExecDelInp, SpecificQueryInp};
