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
    /// `rediss://` (TLS) is refused with a clear error: this build has no TLS. `sentinel://` URLs
    /// name sentinels, not a server: resolve them first with [`resolve_sentinel`].
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
            return Err(bad("a sentinel:// URL must be resolved to its master first"));
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

/// kombu's `sentinel://` broker URL: `sentinel://[user:password@]host[:port][;sentinel://host[:port]...][/db]`.
///
/// The credentials and db of the first URL are the master's (kombu passes them to
/// `Sentinel.master_for`); the port defaults to 26379. kombu takes the master's name from the
/// transport option `master_name`; without a Celery config module to hold it, it is read from the
/// URL's query (`?master_name=mymaster`) or from `CELERY_BROKER_TRANSPORT_OPTIONS` (a JSON object,
/// e.g. `{"master_name": "mymaster"}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelUrl {
    pub sentinels: Vec<(String, u16)>,
    pub master_name: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: i64,
}

/// The default port of a sentinel.
pub const SENTINEL_PORT: u16 = 26379;

impl SentinelUrl {
    /// `None` when `url` is not a `sentinel://` URL; `transport_options` is the JSON text of
    /// `CELERY_BROKER_TRANSPORT_OPTIONS`, if set.
    pub fn parse(url: &str, transport_options: Option<&str>) -> Option<Result<Self, TransportError>> {
        if !url.starts_with("sentinel://") {
            return None;
        }
        let bad = |why: &str| TransportError::Url(format!("{}: {why}", redact(url)));
        Some((|| {
            let (url, query) = url.split_once('?').unwrap_or((url, ""));
            let mut master_name = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "master_name")
                .map(|(_, v)| percent_decode(v));
            if master_name.is_none()
                && let Some(options) = transport_options
            {
                let options = crate::json::PyValue::from_json(options.as_bytes())
                    .map_err(|e| bad(&format!("CELERY_BROKER_TRANSPORT_OPTIONS is not JSON: {e}")))?;
                master_name = options
                    .as_dict()
                    .and_then(|d| d.get("master_name"))
                    .and_then(crate::json::PyValue::as_str)
                    .map(str::to_owned);
            }
            let master_name = master_name.ok_or_else(|| {
                bad("no master name: add ?master_name=NAME or set CELERY_BROKER_TRANSPORT_OPTIONS='{\"master_name\": \"NAME\"}'")
            })?;
            let mut found =
                SentinelUrl { sentinels: Vec::new(), master_name, username: None, password: None, db: 0 };
            for (i, part) in url.split(';').enumerate() {
                let rest = part
                    .trim()
                    .strip_prefix("sentinel://")
                    .ok_or_else(|| bad("every ';'-separated part must be a sentinel:// URL"))?;
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let (userinfo, hostport) = match authority.rsplit_once('@') {
                    Some((u, h)) => (Some(u), h),
                    None => (None, authority),
                };
                let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad sentinel address"))?;
                if host.is_empty() {
                    return Err(bad("a sentinel address has no host"));
                }
                found.sentinels.push((host, port.unwrap_or(SENTINEL_PORT)));
                if i == 0 {
                    if let Some(userinfo) = userinfo {
                        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                        found.username = (!user.is_empty()).then(|| percent_decode(user));
                        found.password = (!password.is_empty()).then(|| percent_decode(password));
                    }
                    let path = path.trim_matches('/');
                    found.db = if path.is_empty() {
                        0
                    } else {
                        path.parse().map_err(|_| bad("the db must be a number"))?
                    };
                }
            }
            Ok(found)
        })())
    }

    /// Asks the sentinels in turn for the master's address (`SENTINEL get-master-addr-by-name`)
    /// and returns a `redis://` URL for it with the credentials and db.
    pub async fn master_url(&self) -> Result<String, TransportError> {
        let mut failures = Vec::new();
        for (host, port) in &self.sentinels {
            let host_port = (host.as_str(), *port);
            let asked = async {
                let client = redis::Client::open(host_port)?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.master_name)
                    .query_async(&mut conn)
                    .await?;
                Ok::<_, redis::RedisError>(addr)
            };
            match tokio::time::timeout(std::time::Duration::from_secs(5), asked).await {
                Ok(Ok(Some((master_host, master_port)))) => {
                    let auth = match (&self.username, &self.password) {
                        (None, None) => String::new(),
                        (user, password) => format!(
                            "{}:{}@",
                            percent_encode(user.as_deref().unwrap_or("")),
                            percent_encode(password.as_deref().unwrap_or(""))
                        ),
                    };
                    let host =
                        if master_host.contains(':') { format!("[{master_host}]") } else { master_host };
                    return Ok(format!("redis://{auth}{host}:{master_port}/{}", self.db));
                }
                Ok(Ok(None)) => {
                    failures.push(format!("{host}:{port} knows no master {:?}", self.master_name))
                }
                Ok(Err(e)) => failures.push(format!("{host}:{port}: {e}")),
                Err(_) => failures.push(format!("{host}:{port}: timed out")),
            }
        }
        Err(TransportError::Url(format!("no sentinel gave the master's address ({})", failures.join("; "))))
    }
}

/// The Redis URL to connect to: `url` itself, or for a `sentinel://` URL the current master's
/// (reads `CELERY_BROKER_TRANSPORT_OPTIONS` for the master name). Call it wherever a connection's
/// address is decided, so that a reconnection after a failover asks the sentinels again.
pub async fn resolve_sentinel(url: &str) -> Result<String, TransportError> {
    let options = std::env::var("CELERY_BROKER_TRANSPORT_OPTIONS").ok();
    match SentinelUrl::parse(url, options.as_deref()) {
        None => Ok(url.to_owned()),
        Some(parsed) => parsed?.master_url().await,
    }
}

fn split_host_port(hostport: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), Some(port.parse().ok()?))),
        None => Some((hostport.to_owned(), None)),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
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
    fn sentinel_urls_as_kombu_reads_them() {
        let parsed = SentinelUrl::parse("sentinel://:p%40ss@h1;sentinel://h2:26380/3?master_name=m", None)
            .unwrap()
            .unwrap();
        assert_eq!(parsed.sentinels, vec![("h1".to_owned(), 26379), ("h2".to_owned(), 26380)]);
        assert_eq!(
            (parsed.master_name.as_str(), parsed.password.as_deref(), parsed.db),
            ("m", Some("p@ss"), 0)
        );
        let parsed =
            SentinelUrl::parse("sentinel://[::1]:5000/2", Some(r#"{"master_name": "x"}"#)).unwrap().unwrap();
        assert_eq!((parsed.sentinels[0].clone(), parsed.db), (("::1".to_owned(), 5000), 2));
        let err = SentinelUrl::parse("sentinel://:secret@h", None).unwrap().unwrap_err().to_string();
        assert!(err.contains("master_name") && !err.contains("secret"), "{err}");
        assert!(SentinelUrl::parse("redis://h", None).is_none());
        assert!(SentinelUrl::parse("sentinel://h/x?master_name=m", None).unwrap().is_err());
    }

    #[test]
    fn unsupported_schemes_are_refused_without_leaking_passwords() {
        let err = RedisUrl::parse("rediss://u:secret@h:1/0").unwrap_err().to_string();
        assert!(err.contains("TLS") && !err.contains("secret"), "{err}");
        assert!(RedisUrl::parse("amqp://guest@h//").is_err());
        assert!(RedisUrl::parse("redis://h/notanumber").is_err());
    }
}
