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
pub use broker::{Broker, TransportOptions, retry_while_transient};
pub use consumer::{QueueConsumer, QueueCycle, Taken};
pub use names::{DEAD_LETTER_LIST, DEFAULT_PRIORITY_STEPS, DEFAULT_SEP, KeyNames};
pub use peers::{EPOCH_KEY, Epoch, PEERS_HASH, node_of};
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

impl TransportError {
    /// True when the error says the server is (for now) unreachable, restarting or loading its
    /// data, not that the command was wrong: repeating it later can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Redis(e) => is_transient_redis(e),
            TransportError::Url(_) => false,
        }
    }
}

/// The same test on a bare redis error (for crates that talk to Redis directly).
pub fn is_transient_redis(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
            )
        )
}
