//! Entry points shared by the fuzz targets (fuzz/) and the mutation tests (tests/mutations.rs).
//! Not part of the stable API.

use crate::frame::MsgHeader;
use crate::messages::*;
use crate::pi::PackStruct;
use crate::xml;

/// Decodes `data` as every message type. Panics only if a decoded value does not survive
/// re-encoding, which is the property under test; decoding errors are expected and ignored.
pub fn decode_everything(data: &[u8]) {
    if let Ok(tree) = xml::parse(data) {
        let again = xml::parse(&tree.to_xml()).expect("a parsed tree re-encodes to parsable XML");
        assert_eq!(again, tree, "tree round trip");
    }
    round_trip::<MsgHeader>(data);
    round_trip::<StartupPack>(data);
    round_trip::<Version>(data);
    round_trip::<CsNeg>(data);
    round_trip::<RErrMsg>(data);
    round_trip::<RError>(data);
    round_trip::<AuthRequestOut>(data);
    round_trip::<AuthResponseInp>(data);
    round_trip::<BinBytesBuf>(data);
    round_trip::<BytesBuf>(data);
    round_trip::<StrPi>(data);
    round_trip::<IntPi>(data);
    round_trip::<KeyValPair>(data);
    round_trip::<InxIvalPair>(data);
    round_trip::<InxValPair>(data);
    round_trip::<GenQueryInp>(data);
    round_trip::<GenQueryOut>(data);
    round_trip::<SqlResult>(data);
    round_trip::<DataObjInp>(data);
    round_trip::<OpenedDataObjInp>(data);
    round_trip::<FileLseekInp>(data);
    round_trip::<FileLseekOut>(data);
    round_trip::<DataObjCopyInp>(data);
    round_trip::<RodsObjStat>(data);
    round_trip::<DataObjInfo>(data);
    round_trip::<ModDataObjMeta>(data);
    round_trip::<CollInpNew>(data);
    round_trip::<CollOprStat>(data);
    round_trip::<ModAvuMetadataInp>(data);
    round_trip::<GeneralAdminInp>(data);
    round_trip::<MiscSvrInfo>(data);
}

fn round_trip<T: PackStruct + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = T::decode(data) {
        let again = T::decode(&value.encode()).expect("an encoded message decodes");
        assert_eq!(again, value, "{} round trip", T::PI_NAME);
    }
}
