//! An async iRODS client over the codec: connections, a pool, and the API calls the ingest needs.
//!
//! Calls are methods on [`Connection`], grouped by concept in the submodules (catalog queries,
//! collections, data objects, descriptor I/O, metadata); [`transfer`] builds uploads and downloads
//! (including python-irodsclient's multi-connection parallel put) on a [`Pool`].

mod admin;
mod catalog;
mod collections;
mod connection;
mod data_objects;
mod error;
mod io;
mod metadata;
mod pool;
mod tls;
pub mod transfer;

pub use catalog::{ObjectKind, split_path};
pub use collections::RemoveCollection;
pub use connection::{CLIENT_API_VERSION, CLIENT_REL_VERSION, Connection, negotiate};
pub use error::{Error, Result};
pub use io::{DescriptorInfo, OpenMode};
pub use metadata::{Avu, AvuOperation, AvuTarget};
pub use pool::{Pool, PoolOptions, PooledConnection};
