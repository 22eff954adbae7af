//! The iRODS wire protocol (XML packing instructions) and an async client for it.
//!
//! Used by the ingest worker for catalog operations and by the test server for decoding what
//! python-irodsclient sends. Nothing here knows about ingest.
//!
//! Layers, bottom up:
//! - [`xml`]: the tolerant packing-instruction XML tree, parser and escaping.
//! - [`PackStruct`] and [`messages`]: one Rust type per packing instruction, both directions.
//! - [`frame`]: `MsgHeader_PI` framing over byte slices and async streams, with length limits.
//! - [`codes`]: API numbers and error codes with their names.

pub mod codes;
pub mod consts;
pub mod error;
pub mod frame;
pub mod messages;
mod pi;
pub mod xml;

pub use codes::{ErrorCode, api, error as error_code};
pub use error::{DecodeError, FrameError};
pub use frame::{FrameLimits, MsgHeader, MsgType, Packet, read_packet, write_packet};
pub use pi::PackStruct;
