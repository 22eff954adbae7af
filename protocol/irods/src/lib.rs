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
//!
//! ```no_run
//! # async fn demo() -> Result<(), irods_proto::Error> {
//! use irods_proto::messages::KeyValPair;
//! use irods_proto::{IrodsConfig, Pool, PoolOptions, Query, col, error_code};
//!
//! let pool = Pool::new(IrodsConfig::from_env()?, PoolOptions::default());
//! let mut conn = pool.get().await?;
//! conn.create_collection("/tempZone/home/rods/ingest", true).await?;
//! let options: KeyValPair = [("dataSize", "1234"), ("dataModify", "1700000000")].into_iter().collect();
//! match conn.register("/data/a.txt", "/tempZone/home/rods/ingest/a.txt", options).await {
//!     Err(e) if e.is(error_code::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME) => {}
//!     other => other?,
//! }
//! let rows = conn
//!     .query(&Query::select(&[col::DATA_NAME, col::DATA_SIZE]).eq(col::COLL_NAME, "/tempZone/home/rods/ingest"))
//!     .await?;
//! # let _ = rows;
//! # Ok(()) }
//! ```

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
