//! Feeds arbitrary bytes to the XML parser and to every message decoder. Nothing may panic;
//! whatever decodes must re-encode and decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    irods_proto::fuzzing::decode_everything(data);
});
