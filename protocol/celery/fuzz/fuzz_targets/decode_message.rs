//! Fuzzes every message decoder (JSON value, envelope, task, unacked entry, pidbox, event,
//! result meta) with arbitrary bytes; see `celery_proto::message::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    celery_proto::message::fuzzing::exercise_decoders(data);
});
