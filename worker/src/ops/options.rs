//! The keyword arguments (`**options`) the reference passes to python-irodsclient.
//!
//! `sync_data_from_file` sets `allow_redirect=False` for every operation and `regRepl=""` when it
//! registers a new replica; the operation functions add `destRescName`, `dataSize` and
//! `dataModify`. python-irodsclient copies every keyword it does not consume into the request's
//! `KeyValPair` as `str(value)`, so `register` and `modDataObjMeta` carry `allow_redirect=False`
//! on the wire, while `open`/`put` consume `allow_redirect` as a parameter. The options are kept
//! here as a [`KeyValPair`] of those `str()` values, in insertion order.

use irods_proto::messages::KeyValPair;

/// The keyword python-irodsclient's `open` consumes instead of sending.
pub const ALLOW_REDIRECT: &str = "allow_redirect";

/// `{"allow_redirect": False}`: the options every non-NO_OP file operation starts from.
pub fn sync_options() -> KeyValPair {
    KeyValPair::new().with(ALLOW_REDIRECT, "False")
}

/// `options` as python-irodsclient's `open`/`put` send them (without `allow_redirect`).
pub fn open_options(options: &KeyValPair) -> KeyValPair {
    KeyValPair { pairs: options.pairs.iter().filter(|(k, _)| k != ALLOW_REDIRECT).cloned().collect() }
}
