//! Feeds arbitrary bytes to the frame parser (header length, MsgHeader_PI, section lengths).
//! Nothing may panic, and parsing must consume what it reports.
#![no_main]

use irods_proto::{FrameLimits, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = FrameLimits { max_body: 1 << 16, max_error: 1 << 16, max_bs: 1 << 16 };
    let mut rest = data;
    while let Ok(Some((_packet, used))) = Packet::parse(rest, &limits) {
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
    }
});
