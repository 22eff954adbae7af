//! Connection settings, read the way the Python ingest reads them.
//!
//! 1. If all of `IRODS_HOST`, `IRODS_PORT`, `IRODS_USER_NAME`, `IRODS_ZONE_NAME` and `IRODS_PASSWORD`
//!    are non-empty, they define the connection.
//! 2. Otherwise the iRODS environment file (`IRODS_ENVIRONMENT_FILE`, else
//!    `~/.irods/irods_environment.json`) does, with the password taken from the obfuscated
//!    `.irodsA` file (`irods_authentication_file`, `IRODS_AUTHENTICATION_FILE`, else
//!    `~/.irods/.irodsA`).
//!
//! Passwords are held in [`Password`], whose `Debug` output is redacted so they never reach logs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::messages::UserIdentity;
use crate::obfuscation::decode_irods_a;

/// A password that does not print itself.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself; only authentication code should call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Client-server negotiation policy (`irods_client_server_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CsPolicy {
    #[default]
    Refuse,
    DontCare,
    Require,
}

impl CsPolicy {
    pub fn parse(s: &str) -> Option<CsPolicy> {
        match s.trim() {
            "CS_NEG_REFUSE" => Some(CsPolicy::Refuse),
            "CS_NEG_DONT_CARE" => Some(CsPolicy::DontCare),
            "CS_NEG_REQUIRE" => Some(CsPolicy::Require),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CsPolicy::Refuse => "CS_NEG_REFUSE",
            CsPolicy::DontCare => "CS_NEG_DONT_CARE",
            CsPolicy::Require => "CS_NEG_REQUIRE",
        }
    }
}

/// TLS settings (`irods_ssl_*`, `irods_encryption_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub ca_certificate_file: Option<PathBuf>,
    /// `cert`, `hostname` (default) or `none`.
    pub verify_server: String,
    pub encryption_algorithm: String,
    pub encryption_key_size: usize,
    pub encryption_salt_size: usize,
    pub encryption_num_hash_rounds: usize,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca_certificate_file: None,
            verify_server: "hostname".into(),
            encryption_algorithm: "AES-256-CBC".into(),
            encryption_key_size: 32,
            encryption_salt_size: 8,
            encryption_num_hash_rounds: 16,
        }
    }
}

/// Everything needed to open an authenticated connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrodsConfig {
    pub host: String,
    pub port: u16,
    /// The authenticating (proxy) user.
    pub user_name: String,
    pub zone_name: String,
    pub password: Password,
    /// Act as this user after authenticating (the handlers' `as_user`); requires a rodsadmin proxy.
    pub client_user: Option<UserIdentity>,
    pub authentication_scheme: String,
    pub default_resource: Option<String>,
    /// Whether to send `request_server_negotiation` in the startup pack.
    pub request_negotiation: bool,
    pub cs_policy: CsPolicy,
    pub tls: TlsSettings,
    /// Force the legacy 703/704 authentication even against 4.3+ servers.
    pub force_legacy_auth: bool,
    pub application_name: String,
    pub connect_timeout: Duration,
    /// Longest wait for one request's reply before the connection is given up (python-irodsclient
    /// uses 120 s as socket timeout); `None` waits forever.
    pub request_timeout: Option<Duration>,
}

impl IrodsConfig {
    /// A configuration with defaults for everything but the essentials.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        zone: impl Into<String>,
        password: Password,
    ) -> Self {
        IrodsConfig {
            host: host.into(),
            port,
            user_name: user.into(),
            zone_name: zone.into(),
            password,
            client_user: None,
            authentication_scheme: "native".into(),
            default_resource: None,
            request_negotiation: false,
            cs_policy: CsPolicy::Refuse,
            tls: TlsSettings::default(),
            force_legacy_auth: false,
            application_name: "irods-ingest".into(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Some(Duration::from_secs(120)),
        }
    }

    /// The same settings acting as another user (proxy authentication).
    pub fn as_user(&self, user: impl Into<String>, zone: impl Into<String>) -> Self {
        IrodsConfig { client_user: Some(UserIdentity::new(user, zone)), ..self.clone() }
    }

    /// Reads the process environment, the environment file and `.irodsA`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let uid = current_uid();
        Self::from_sources(|name| std::env::var(name).ok(), std::env::var_os("HOME").map(PathBuf::from), uid)
    }

    /// [`IrodsConfig::from_env`] with the inputs made explicit (for tests and embedding).
    pub fn from_sources(
        var: impl Fn(&str) -> Option<String>,
        home: Option<PathBuf>,
        uid: u32,
    ) -> Result<Self, ConfigError> {
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty());
        if let (Some(host), Some(port), Some(user), Some(zone), Some(password)) = (
            nonempty("IRODS_HOST"),
            nonempty("IRODS_PORT"),
            nonempty("IRODS_USER_NAME"),
            nonempty("IRODS_ZONE_NAME"),
            nonempty("IRODS_PASSWORD"),
        ) {
            let port = port
                .trim()
                .parse()
                .map_err(|_| ConfigError::Invalid { key: "IRODS_PORT".into(), value: port })?;
            let mut cfg = IrodsConfig::new(host, port, user, zone, Password::new(password));
            cfg.default_resource = nonempty("IRODS_DEFAULT_RESOURCE");
            if let Some(scheme) = nonempty("IRODS_AUTHENTICATION_SCHEME") {
                cfg.authentication_scheme = scheme.to_lowercase();
            }
            return Ok(cfg);
        }
        let env_file = match nonempty("IRODS_ENVIRONMENT_FILE") {
            Some(path) => PathBuf::from(path),
            None => home.clone().ok_or(ConfigError::NoHome)?.join(".irods/irods_environment.json"),
        };
        let text = std::fs::read_to_string(&env_file)
            .map_err(|e| ConfigError::Read { path: env_file.clone(), error: e.to_string() })?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError::Json { path: env_file.clone(), error: e.to_string() })?;
        let mut cfg = Self::from_environment_json(&json)?;
        let auth_file = json
            .get("irods_authentication_file")
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .or_else(|| nonempty("IRODS_AUTHENTICATION_FILE").map(PathBuf::from))
            .or_else(|| home.map(|h| h.join(".irods/.irodsA")));
        if let Some(path) = auth_file {
            cfg.password = read_irods_a(&path, uid)?;
        }
        Ok(cfg)
    }

    /// Builds settings from the parsed `irods_environment.json` (password left empty).
    pub fn from_environment_json(json: &Value) -> Result<Self, ConfigError> {
        let text = |key: &str| -> Option<String> {
            match json.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        };
        let required = |key: &str| text(key).ok_or_else(|| ConfigError::Missing(key.to_string()));
        let number = |key: &str| -> Result<Option<usize>, ConfigError> {
            text(key)
                .map(|v| v.trim().parse().map_err(|_| ConfigError::Invalid { key: key.into(), value: v }))
                .transpose()
        };
        let port_text = required("irods_port")?;
        let port = port_text
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid { key: "irods_port".into(), value: port_text })?;
        let mut cfg = IrodsConfig::new(
            required("irods_host")?,
            port,
            required("irods_user_name")?,
            required("irods_zone_name")?,
            Password::default(),
        );
        if let Some(scheme) = text("irods_authentication_scheme") {
            cfg.authentication_scheme = scheme.to_lowercase();
        }
        cfg.default_resource = text("irods_default_resource").filter(|r| !r.is_empty());
        cfg.request_negotiation = text("irods_client_server_negotiation")
            .is_some_and(|v| v == crate::messages::REQUEST_SERVER_NEGOTIATION);
        if let Some(policy) = text("irods_client_server_policy") {
            cfg.cs_policy = CsPolicy::parse(&policy)
                .ok_or(ConfigError::Invalid { key: "irods_client_server_policy".into(), value: policy })?;
        }
        cfg.tls.ca_certificate_file = text("irods_ssl_ca_certificate_file").map(PathBuf::from);
        if let Some(v) = text("irods_ssl_verify_server") {
            cfg.tls.verify_server = v;
        }
        if let Some(v) = text("irods_encryption_algorithm") {
            cfg.tls.encryption_algorithm = v;
        }
        if let Some(v) = number("irods_encryption_key_size")? {
            cfg.tls.encryption_key_size = v;
        }
        if let Some(v) = number("irods_encryption_salt_size")? {
            cfg.tls.encryption_salt_size = v;
        }
        if let Some(v) = number("irods_encryption_num_hash_rounds")? {
            cfg.tls.encryption_num_hash_rounds = v;
        }
        Ok(cfg)
    }
}

/// Reads and decodes an `.irodsA` file; a missing file means an empty password (as in PRC).
pub fn read_irods_a(path: &Path, uid: u32) -> Result<Password, ConfigError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            decode_irods_a(&text, uid)
                .map(Password::new)
                .map_err(|e| ConfigError::Read { path: path.to_path_buf(), error: e.to_string() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Password::default()),
        Err(e) => Err(ConfigError::Read { path: path.to_path_buf(), error: e.to_string() }),
    }
}

/// The real uid of this process, the salt of `.irodsA`.
pub fn current_uid() -> u32 {
    // /proc/self/status has "Uid:\t<real>\t<effective>..." on Linux; avoids an unsafe libc call.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The configuration could not be assembled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: String },
    #[error("{path} is not valid JSON: {error}")]
    Json { path: PathBuf, error: String },
    #[error("the iRODS environment lacks {0}")]
    Missing(String),
    #[error("invalid value for {key}: {value:?}")]
    Invalid { key: String, value: String },
    #[error("HOME is not set and no IRODS_ENVIRONMENT_FILE was given")]
    NoHome,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_variables_win_when_complete() {
        let cfg = IrodsConfig::from_sources(
            vars(&[
                ("IRODS_HOST", "127.0.0.1"),
                ("IRODS_PORT", "2247"),
                ("IRODS_USER_NAME", "rods"),
                ("IRODS_ZONE_NAME", "tempZone"),
                ("IRODS_PASSWORD", "secret"),
            ]),
            None,
            0,
        )
        .unwrap();
        assert_eq!((cfg.host.as_str(), cfg.port, cfg.user_name.as_str()), ("127.0.0.1", 2247, "rods"));
        assert_eq!(cfg.password.expose(), "secret");
        assert!(!format!("{cfg:?}").contains("secret"), "passwords never print");
    }

    #[test]
    fn environment_file_and_irods_a() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".irods")).unwrap();
        std::fs::write(
            home.path().join(".irods/irods_environment.json"),
            r#"{"irods_host": "localhost", "irods_port": 1247, "irods_user_name": "alice", "irods_zone_name": "z",
                "irods_default_resource": "demoResc", "irods_client_server_negotiation": "request_server_negotiation",
                "irods_client_server_policy": "CS_NEG_DONT_CARE", "irods_encryption_key_size": 16}"#,
        )
        .unwrap();
        std::fs::write(
            home.path().join(".irods/.irodsA"),
            crate::obfuscation::encode_irods_a("pw!", 1000, 99),
        )
        .unwrap();
        // Incomplete variables fall back to the file.
        let cfg =
            IrodsConfig::from_sources(vars(&[("IRODS_HOST", "ignored")]), Some(home.path().into()), 1000)
                .unwrap();
        assert_eq!((cfg.host.as_str(), cfg.port, cfg.zone_name.as_str()), ("localhost", 1247, "z"));
        assert_eq!(cfg.default_resource.as_deref(), Some("demoResc"));
        assert!(cfg.request_negotiation);
        assert_eq!(cfg.cs_policy, CsPolicy::DontCare);
        assert_eq!(cfg.tls.encryption_key_size, 16);
        assert_eq!(cfg.password.expose(), "pw!");

        let missing =
            IrodsConfig::from_sources(vars(&[("IRODS_ENVIRONMENT_FILE", "/nonexistent/env.json")]), None, 0);
        assert!(matches!(missing, Err(ConfigError::Read { .. })));
    }
}
