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
//! - [`client`]: an async client (connection set-up, authentication, pool, API calls) configured
//!   by [`config`] the way the Python ingest is; [`query`] builds GenQuery1 requests.

pub mod auth;
pub mod client;
pub mod codes;
pub mod config;
pub mod consts;
pub mod error;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod messages;
pub mod obfuscation;
mod pi;
pub mod query;
pub mod xml;

pub use client::{Connection, Error, Pool, PoolOptions};
pub use codes::{ErrorCode, api, error as error_code};
pub use config::{IrodsConfig, Password};
pub use error::{DecodeError, FrameError};
pub use frame::{FrameLimits, MsgHeader, MsgType, Packet, read_packet, write_packet};
pub use pi::PackStruct;
pub use query::{Column, Query, col};
