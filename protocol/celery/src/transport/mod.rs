//! kombu's Redis transport, spoken exactly: names, BRPOP consumption, ack emulation and restores,
//! bindings, and fanout publishing.
//!
//! Everything here works on raw envelope bytes; the message layer ([`crate::message`]) gives them
//! meaning. The only envelope fields the transport reads are the delivery tag, delivery_info and
//! priority (see [`wire`]).

mod ack;
mod broker;
mod consumer;
mod names;
mod peers;
mod publish;
mod url;
pub mod wire;

pub use ack::{RestoreEnd, RestoreOutcome, unix_now};
pub use broker::{Broker, TransportOptions};
pub use consumer::{Popped, QueueConsumer, QueueCycle};
pub use names::{DEAD_LETTER_LIST, DEFAULT_PRIORITY_STEPS, DEFAULT_SEP, KeyNames};
pub use peers::PEERS_HASH;
pub use url::{RedisUrl, SentinelUrl, redact, resolve_sentinel};

/// Failures of the transport: the broker connection or a bad URL. Malformed messages are not
/// errors here; they are routed to the dead-letter list by the caller.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("bad broker URL {0}")]
    Url(String),
}
