//! Per-send options, the `apply_async` keywords that matter on Redis.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Options for one task send (`apply_async(queue=, priority=, countdown=, eta=, expires=, task_id=,
/// time_limit=, soft_time_limit=)`).
#[derive(Clone, Debug, Default)]
pub struct SendOptions {
    pub queue: String,
    pub task_id: Option<String>,
    /// 0..=9; Redis polls 0 first (inverted vs AMQP).
    pub priority: Option<i64>,
    pub countdown: Option<Duration>,
    pub eta: Option<DateTime<Utc>>,
    /// Absolute expiry.
    pub expires: Option<DateTime<Utc>>,
    pub time_limit: Option<f64>,
    pub soft_time_limit: Option<f64>,
    pub parent_id: Option<String>,
    pub root_id: Option<String>,
    pub ignore_result: bool,
    /// `properties.reply_to`: the sending app's oid (Python clients always send one).
    pub reply_to: Option<String>,
}

impl SendOptions {
    pub fn to_queue(queue: &str) -> Self {
        Self { queue: queue.to_string(), ..Self::default() }
    }

    pub fn task_id(mut self, id: impl Into<String>) -> Self {
        self.task_id = Some(id.into());
        self
    }

    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = Some(priority);
        self
    }

    pub fn countdown(mut self, countdown: Duration) -> Self {
        self.countdown = Some(countdown);
        self
    }

    pub fn eta(mut self, eta: DateTime<Utc>) -> Self {
        self.eta = Some(eta);
        self
    }

    /// Expires `after` from now (Celery converts relative expiry to an absolute time on send).
    pub fn expires_in(mut self, after: Duration) -> Self {
        self.expires = Some(Utc::now() + chrono::Duration::from_std(after).unwrap_or_default());
        self
    }

    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires = Some(at);
        self
    }

    pub fn time_limits(mut self, hard: Option<f64>, soft: Option<f64>) -> Self {
        self.time_limit = hard;
        self.soft_time_limit = soft;
        self
    }

    pub fn parent(mut self, parent_id: &str, root_id: &str) -> Self {
        self.parent_id = Some(parent_id.to_string());
        self.root_id = Some(root_id.to_string());
        self
    }

    pub fn reply_to(mut self, oid: impl Into<String>) -> Self {
        self.reply_to = Some(oid.into());
        self
    }

    pub fn ignore_result(mut self, ignore: bool) -> Self {
        self.ignore_result = ignore;
        self
    }

    /// The ETA this send asks for: an explicit one wins over a countdown.
    pub fn effective_eta(&self) -> Option<DateTime<Utc>> {
        self.eta.or_else(|| {
            self.countdown.map(|c| Utc::now() + chrono::Duration::from_std(c).unwrap_or_default())
        })
    }
}
