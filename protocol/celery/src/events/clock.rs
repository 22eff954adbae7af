//! Celery's Lamport clock, shared by events and remote-control replies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Debug, Default)]
pub struct LamportClock(Arc<AtomicU64>);

impl LamportClock {
    /// Ticks and returns the new value (sending an event or reply).
    pub fn forward(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Merges a clock seen on an incoming message: `max(ours, theirs) + 1`.
    pub fn adjust(&self, other: u64) -> u64 {
        let mut current = self.0.load(Ordering::SeqCst);
        loop {
            let next = current.max(other) + 1;
            match self.0.compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }

    pub fn value(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
