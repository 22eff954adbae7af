//! Every Redis key and pub/sub channel name kombu's Redis transport uses.
//!
//! Both Python and Rust peers must compute identical names, so all naming lives here and nowhere
//! else. `global_keyprefix` is prepended verbatim to keys *and* channels, never to the names that
//! travel inside JSON payloads (delivery_info, binding members).

/// kombu's default separator between a queue name and its priority step (`Q\x06\x16N`).
pub const DEFAULT_SEP: &str = "\x06\x16";
/// kombu's default priority steps. Step 0 is the bare queue and is polled first.
pub const DEFAULT_PRIORITY_STEPS: [u8; 4] = [0, 3, 6, 9];
/// Name of the list that receives messages this crate cannot decode or route (before the prefix).
pub const DEAD_LETTER_LIST: &str = "celery-proto.dead-letter";

/// The naming scheme of one broker connection: database, prefix, separator and priority steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyNames {
    db: i64,
    prefix: String,
    sep: String,
    steps: Vec<u8>,
}

impl KeyNames {
    /// The default scheme for database `db`, as a Python peer with no transport options uses it.
    pub fn new(db: i64) -> Self {
        Self {
            db,
            prefix: String::new(),
            sep: DEFAULT_SEP.to_string(),
            steps: DEFAULT_PRIORITY_STEPS.to_vec(),
        }
    }

    /// kombu's `global_keyprefix` transport option.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// kombu's `sep` transport option.
    pub fn with_sep(mut self, sep: impl Into<String>) -> Self {
        self.sep = sep.into();
        self
    }

    /// kombu's `priority_steps` transport option; sorted, deduplicated, and always containing 0.
    pub fn with_priority_steps(mut self, steps: &[u8]) -> Self {
        let mut steps: Vec<u8> = steps.iter().map(|s| (*s).min(9)).collect();
        steps.push(0);
        steps.sort_unstable();
        steps.dedup();
        self.steps = steps;
        self
    }

    pub fn db(&self) -> i64 {
        self.db
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn priority_steps(&self) -> &[u8] {
        &self.steps
    }

    /// Prepends the global key prefix to any key or channel name.
    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// The priority step a message priority lands in: the largest step `<=` the clamped priority.
    pub fn step_for(&self, priority: i64) -> u8 {
        let p = priority.clamp(0, 9) as u8;
        self.steps.iter().copied().filter(|s| *s <= p).max().unwrap_or(0)
    }

    /// The list a message with `priority` for `queue` is pushed to (`Q` or `Q<sep><step>`).
    pub fn queue_key(&self, queue: &str, priority: i64) -> String {
        self.step_key(queue, self.step_for(priority))
    }

    fn step_key(&self, queue: &str, step: u8) -> String {
        if step == 0 { self.key(queue) } else { format!("{}{}{}{}", self.prefix, queue, self.sep, step) }
    }

    /// All lists of `queue`, one per priority step, in polling order.
    pub fn all_queue_keys(&self, queue: &str) -> Vec<String> {
        self.steps.iter().map(|s| self.step_key(queue, *s)).collect()
    }

    /// BRPOP key order: for each priority step, every queue in the given (round-robin) order.
    pub fn brpop_keys<S: AsRef<str>>(&self, queues: &[S]) -> Vec<String> {
        let mut keys = Vec::with_capacity(queues.len() * self.steps.len());
        for step in &self.steps {
            for q in queues {
                keys.push(self.step_key(q.as_ref(), *step));
            }
        }
        keys
    }

    /// The queue a BRPOP key belongs to: prefix and `<sep><step>` removed.
    pub fn queue_of_key<'a>(&self, key: &'a str) -> &'a str {
        let key = key.strip_prefix(self.prefix.as_str()).unwrap_or(key);
        match key.rsplit_once(self.sep.as_str()) {
            Some((queue, step)) if !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()) => queue,
            _ => key,
        }
    }

    /// SET holding the bindings of `exchange` (`_kombu.binding.<exchange>`).
    pub fn binding_key(&self, exchange: &str) -> String {
        self.key(&format!("_kombu.binding.{exchange}"))
    }

    /// kombu >= 5.7's twin SET that marks bindings the sweeper must keep.
    pub fn binding_permanent_key(&self, exchange: &str) -> String {
        self.key(&format!("_kombu.binding_permanent.{exchange}"))
    }

    /// A binding SET member: `<routing_key><sep><pattern><sep><queue>` (never prefixed).
    pub fn binding_member(&self, routing_key: &str, pattern: &str, queue: &str) -> String {
        format!("{routing_key}{sep}{pattern}{sep}{queue}", sep = self.sep)
    }

    /// Splits a binding member into (routing_key, pattern, queue); `None` if it is not one.
    pub fn parse_binding_member<'a>(&self, member: &'a str) -> Option<(&'a str, &'a str, &'a str)> {
        let mut parts = member.splitn(3, self.sep.as_str());
        Some((parts.next()?, parts.next()?, parts.next()?))
    }

    /// Pub/sub channel of a fanout exchange: `/<db>.<exchange>` or `/<db>.<exchange>/<routing_key>`.
    pub fn fanout_channel(&self, exchange: &str, routing_key: &str) -> String {
        if routing_key.is_empty() {
            self.key(&format!("/{}.{exchange}", self.db))
        } else {
            self.key(&format!("/{}.{exchange}/{routing_key}", self.db))
        }
    }

    /// HASH of unacknowledged messages: tag -> `[envelope, exchange, routing_key]`.
    pub fn unacked(&self) -> String {
        self.key("unacked")
    }

    /// ZSET of unacknowledged delivery tags scored by delivery time.
    pub fn unacked_index(&self) -> String {
        self.key("unacked_index")
    }

    /// Lock that serializes `restore_visible` across the whole fleet.
    pub fn unacked_mutex(&self) -> String {
        self.key("unacked_mutex")
    }

    /// The dead-letter list of this crate (see the README): raw bytes of rejected messages.
    pub fn dead_letter(&self) -> String {
        self.key(DEAD_LETTER_LIST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_keys_match_kombu() {
        let names = KeyNames::new(0);
        assert_eq!(names.queue_key("file", 0), "file");
        assert_eq!(names.queue_key("file", 2), "file");
        assert_eq!(names.queue_key("file", 5), "file\x06\x163");
        assert_eq!(names.queue_key("file", 9), "file\x06\x169");
        assert_eq!(names.queue_key("file", 42), "file\x06\x169");
        assert_eq!(names.queue_key("file", -3), "file");
    }

    #[test]
    fn brpop_order_matches_capture() {
        // monitor_worker_lifecycle.txt: BRPOP path file path\x06\x163 file\x06\x163 ...
        let names = KeyNames::new(15);
        let keys = names.brpop_keys(&["path", "file"]);
        assert_eq!(
            keys,
            [
                "path",
                "file",
                "path\x06\x163",
                "file\x06\x163",
                "path\x06\x166",
                "file\x06\x166",
                "path\x06\x169",
                "file\x06\x169"
            ]
        );
        assert_eq!(names.queue_of_key("file\x06\x166"), "file");
        assert_eq!(names.queue_of_key("path"), "path");
    }

    #[test]
    fn prefix_applies_to_keys_and_channels_but_not_members() {
        let names = KeyNames::new(3).with_prefix("pfx:");
        assert_eq!(names.queue_key("qb", 9), "pfx:qb\x06\x169");
        assert_eq!(names.binding_key("qa"), "pfx:_kombu.binding.qa");
        assert_eq!(names.unacked_mutex(), "pfx:unacked_mutex");
        assert_eq!(names.fanout_channel("celeryev", "worker.online"), "pfx:/3.celeryev/worker.online");
        assert_eq!(names.fanout_channel("celery.pidbox", ""), "pfx:/3.celery.pidbox");
        assert_eq!(names.binding_member("qa", "", "qa"), "qa\x06\x16\x06\x16qa");
        assert_eq!(names.queue_of_key("pfx:qb\x06\x163"), "qb");
        assert_eq!(names.dead_letter(), "pfx:celery-proto.dead-letter");
    }

    #[test]
    fn binding_members_round_trip() {
        let names = KeyNames::new(0);
        let m = names.binding_member("oid", "", "oid.reply.celery.pidbox");
        assert_eq!(names.parse_binding_member(&m), Some(("oid", "", "oid.reply.celery.pidbox")));
        assert_eq!(names.parse_binding_member("garbage"), None);
    }
}
