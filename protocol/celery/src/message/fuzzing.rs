//! The decoder workout shared by the cargo-fuzz target (`fuzz/`) and the mutation test
//! (`tests/golden_fuzz_mutations.rs`).

use crate::json;

use super::{ControlMessage, ControlReply, Envelope, EventMessage, ResultMeta, TaskMessage, UnackedEntry};

/// Feeds `data` to every decoder and checks the invariants that must hold for any input:
/// nothing panics, and whatever parses re-encodes to a fixed point (encode(decode(encode(x)))
/// == encode(x)), so a message passed through us is never altered twice.
///
/// Panics (with the failing input's description) when an invariant is broken, which is what a
/// fuzzer needs.
pub fn exercise_decoders(data: &[u8]) {
    if let Ok(value) = json::parse(data) {
        let once = value.to_json();
        let again = json::parse(once.as_bytes()).expect("our own JSON output must parse");
        assert_eq!(again.to_json(), once, "JSON re-encoding is not a fixed point");
        let _ = json::check_markers(&value);
        let _ = json::py_repr(&value);
        let _ = json::saferepr(&value, Some(json::ARGSREPR_MAXSIZE));
        if let Some(s) = value.as_py_str()
            && let Ok(bytes) = s.to_fs_bytes()
        {
            assert_eq!(&json::PyStr::from_fs_bytes(&bytes), s, "fsencode/fsdecode round trip");
        }
    }
    if let Ok(env) = Envelope::decode(data) {
        let once = env.to_bytes();
        let again = Envelope::decode(&once).expect("our own envelope must decode");
        assert_eq!(again.to_bytes(), once, "envelope re-encoding is not a fixed point");
        let _ = env.delivery_info();
        let _ = env.priority();
        let _ = env.body_json();
        if let Ok(task) = TaskMessage::from_envelope(env.clone()) {
            // The typed views must be re-readable.
            let headers = task.headers.to_dict();
            let reread = super::TaskHeaders::from_dict(&headers).expect("typed headers re-read");
            assert_eq!(reread.to_dict().to_json(), headers.to_json());
            let body = task.body.to_value();
            super::TaskBody::from_value(&body).expect("typed body re-read");
            let mut redelivered = env.clone();
            redelivered.mark_redelivered();
            let _ = TaskMessage::from_envelope(redelivered);
        }
        let _ = ControlMessage::from_envelope(env.clone());
        let _ = ControlReply::from_envelope(&env);
        let _ = EventMessage::from_envelope(&env);
    }
    if let Ok(entry) = UnackedEntry::decode(data) {
        let once = entry.to_bytes();
        assert_eq!(UnackedEntry::decode(&once).expect("own unacked entry").to_bytes(), once);
    }
    if let Ok(meta) = ResultMeta::decode(data)
        && let Ok(text) = meta.to_json()
    {
        let again = ResultMeta::decode(text.as_bytes()).expect("own result meta");
        assert_eq!(again.to_json().ok().as_deref(), Some(text.as_str()));
    }
}
