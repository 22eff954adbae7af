//! Kombu/Celery protocol v2 over Redis: messages, transport, pidbox control, events and results.
//!
//! Python Celery 5.x workers and producers must not be able to tell a Rust peer built on this crate
//! from a Python one. Nothing here knows about iRODS or ingest.

pub mod control;
pub mod events;
pub mod json;
pub mod message;
pub mod producer;
pub mod results;
pub mod transport;
pub mod worker;
