//! Broker and result-backend URLs in the forms Celery accepts for Redis.

use redis::IntoConnectionInfo;

use super::TransportError;

/// A parsed Redis URL: what to connect to and which database the kombu names use.
#[derive(Clone, Debug)]
pub struct RedisUrl {
    info: redis::ConnectionInfo,
    db: i64,
}

impl RedisUrl {
    /// Parses `redis://[user:pass@]host[:port][/db]` and `redis+socket:///path[?virtual_host=N]`.
    ///
    /// `rediss://` (TLS) and `sentinel://` are refused with a clear error: this build has no TLS and
    /// no Sentinel support (see the README's compatibility table).
    pub fn parse(url: &str) -> Result<Self, TransportError> {
        let bad = |why: &str| TransportError::Url(format!("{}: {why}", redact(url)));
        let normalized = if let Some(rest) = url.strip_prefix("redis+socket://") {
            // kombu spells the db of a unix socket as `virtual_host`, the redis crate as `db`.
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let db = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "virtual_host" || *k == "db")
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| "0".into());
            format!("redis+unix://{path}?db={db}")
        } else if url.starts_with("redis://") {
            // Celery treats an empty path or "/" as db 0; the redis crate agrees. A non-numeric
            // path is an error in both.
            url.to_string()
        } else if url.starts_with("rediss://") {
            return Err(bad("TLS (rediss://) is not supported by this build"));
        } else if url.starts_with("sentinel://") {
            return Err(bad("Redis Sentinel is not supported"));
        } else {
            return Err(bad("only redis:// and redis+socket:// URLs are supported"));
        };
        let info = normalized.as_str().into_connection_info().map_err(|e| bad(&e.to_string()))?;
        let db = info.redis_settings().db();
        Ok(Self { info, db })
    }

    /// The database number; it is also part of fanout channel names (`/<db>.`).
    pub fn db(&self) -> i64 {
        self.db
    }

    pub fn connection_info(&self) -> redis::ConnectionInfo {
        self.info.clone()
    }
}

/// The URL with any password replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_comes_from_the_path() {
        assert_eq!(RedisUrl::parse("redis://127.0.0.1:6380/15").unwrap().db(), 15);
        assert_eq!(RedisUrl::parse("redis://127.0.0.1:6380/").unwrap().db(), 0);
        assert_eq!(RedisUrl::parse("redis://127.0.0.1").unwrap().db(), 0);
        assert_eq!(RedisUrl::parse("redis+socket:///tmp/r.sock?virtual_host=4").unwrap().db(), 4);
    }

    #[test]
    fn unsupported_schemes_are_refused_without_leaking_passwords() {
        let err = RedisUrl::parse("rediss://u:secret@h:1/0").unwrap_err().to_string();
        assert!(err.contains("TLS") && !err.contains("secret"), "{err}");
        assert!(RedisUrl::parse("amqp://guest@h//").is_err());
        assert!(RedisUrl::parse("redis://h/notanumber").is_err());
    }
}
