//! Kombu/Celery protocol v2 over Redis: messages, transport, pidbox control, events and results.
//!
//! Python Celery 5.x workers and producers must not be able to tell a Rust peer built on this crate
//! from a Python one. Nothing here knows about iRODS or ingest.
//!
//! Layers, bottom up:
//!
//! * [`json`] — the JSON value as Python's `json` module sees it (lone surrogates, NaN, big ints,
//!   byte-identical `json.dumps` output);
//! * [`message`] — one type per kombu/Celery message (envelope, task, unacked entry, pidbox
//!   request/reply, event, result meta) and a builder matching `apply_async`;
//! * [`transport`] — kombu's Redis transport on raw envelope bytes: key names, BRPOP order, ack
//!   emulation, restores, `restore_visible`, fanout, the dead-letter list;
//! * [`producer`], [`results`], [`events`], [`control`] — sending tasks, the result backend, the
//!   event dispatcher and the pidbox mailbox;
//! * [`worker`] — a library-shaped worker: the caller registers async tasks in a
//!   [`worker::TaskRegistry`]; consuming, acking, retries, ETA, time limits, revoke, remote
//!   control and shutdown live here. `examples/demo_worker.rs` is a complete binary.

pub mod control;
pub mod events;
pub mod json;
pub mod message;
pub mod producer;
pub mod results;
pub mod transport;
pub mod worker;
