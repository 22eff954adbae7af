//! The revoked-id set, bounded like Celery's `LimitedSet(maxlen=50000, expires=10800)`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Celery's `CELERY_WORKER_REVOKES_MAX`.
pub const REVOKES_MAX: usize = 50_000;
/// Celery's `CELERY_WORKER_REVOKE_EXPIRES`.
pub const REVOKE_EXPIRES: Duration = Duration::from_secs(10_800);

/// Ids revoked recently: oldest entries fall out when the set is full or they expire.
#[derive(Debug)]
pub struct RevokedSet {
    max: usize,
    expires: Duration,
    when: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl Default for RevokedSet {
    fn default() -> Self {
        Self::new(REVOKES_MAX, REVOKE_EXPIRES)
    }
}

impl RevokedSet {
    pub fn new(max: usize, expires: Duration) -> Self {
        Self { max: max.max(1), expires, when: HashMap::new(), order: VecDeque::new() }
    }

    pub fn insert(&mut self, id: &str) {
        let now = Instant::now();
        self.when.insert(id.to_string(), now);
        self.order.push_back((now, id.to_string()));
        self.purge(now);
    }

    pub fn contains(&mut self, id: &str) -> bool {
        self.purge(Instant::now());
        self.when.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.when.len()
    }

    pub fn is_empty(&self) -> bool {
        self.when.is_empty()
    }

    pub fn ids(&self) -> Vec<String> {
        self.when.keys().cloned().collect()
    }

    /// Drops expired entries, then the oldest ones beyond the size bound. The queue may hold stale
    /// duplicates of re-inserted ids; an entry only counts when its time matches the map.
    fn purge(&mut self, now: Instant) {
        while let Some((at, id)) = self.order.front() {
            let current = self.when.get(id).copied();
            let stale = current != Some(*at);
            let expired = now.duration_since(*at) >= self.expires;
            let over = self.when.len() > self.max;
            if stale {
                self.order.pop_front();
            } else if expired || over {
                let (_, id) = self.order.pop_front().expect("front exists");
                self.when.remove(&id);
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_size() {
        let mut set = RevokedSet::new(3, REVOKE_EXPIRES);
        for id in ["a", "b", "c", "d"] {
            set.insert(id);
        }
        assert_eq!(set.len(), 3);
        assert!(!set.contains("a"));
        assert!(set.contains("d"));
        set.insert("b"); // refreshed: now the newest
        set.insert("e");
        assert!(set.contains("b") && !set.contains("c"));
    }

    #[test]
    fn entries_expire() {
        let mut set = RevokedSet::new(10, Duration::from_millis(0));
        set.insert("a");
        assert!(!set.contains("a"));
    }
}
