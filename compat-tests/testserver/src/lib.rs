//! `irods-testserver`: a server that speaks the iRODS 4.3.4 protocol over a SQLite catalog and an
//! on-disk vault, faithful enough that python-irodsclient and the reference ingest run against it
//! unmodified.
//!
//! Layout: [`catalog`] holds the ICAT-like tables and the operations on them; [`genquery`] turns
//! GenQuery1 requests into SQL; [`vault`] maps logical paths to files; [`server`] accepts
//! connections and dispatches API requests to its handlers. The wire codec comes from
//! `irods-proto`, shared with the Rust client.

pub mod catalog;
pub mod error;
pub mod genquery;
pub mod password;
pub mod server;
pub mod vault;
