//! Authentication: legacy native (703/704) and the 4.3 framework's native scheme (110000).
//!
//! Both flows prove the password the same way (MD5 over challenge and padded password, see
//! `irods_proto::auth::native_digest`). The proxy user authenticates; the session then acts as
//! the client user, which requires the proxy to be a rodsadmin when the two differ.

use irods_proto::Packet;
use irods_proto::auth::{
    AUTH_AGENT_AUTH_REQUEST, AUTH_AGENT_AUTH_RESPONSE, native_digest, session_signature,
};
use irods_proto::messages::{AuthRequestOut, AuthResponseInp, BinBytesBuf, MiscSvrInfo, StrPi};
use rand::RngCore;
use serde_json::{Map, Value};

use super::session::{Session, decode, ok, ok_with};
use super::{API_VERSION, REL_VERSION};
use crate::catalog::users;
use crate::error::{ApiError, ApiResult, codes};

fn new_challenge() -> Vec<u8> {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes()
}

impl Session {
    /// 703: hand out a challenge.
    pub(super) fn auth_request(&mut self) -> ApiResult<Packet> {
        let challenge = new_challenge();
        self.challenge = Some(challenge.clone());
        ok_with(0, &AuthRequestOut { challenge })
    }

    /// 704: check the response for the proxy user.
    pub(super) fn auth_response(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: AuthResponseInp = decode(packet)?;
        let (name, zone) = match input.username.split_once('#') {
            Some((name, zone)) => (name.to_string(), zone.to_string()),
            None => (input.username.clone(), self.startup.proxy.zone.clone()),
        };
        self.verify(&name, &zone, &input.response)?;
        ok(0)
    }

    /// 110000: the JSON-driven framework; only the `native` scheme.
    pub(super) fn authentication(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: BinBytesBuf = decode(packet)?;
        let request: Map<String, Value> = input
            .json()
            .map_err(|e| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, format!("auth request: {e}")))?;
        let text = |key: &str| -> ApiResult<String> {
            request.get(key).and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
                ApiError::new(codes::SYS_INVALID_INPUT_PARAM, format!("auth request lacks {key}"))
            })
        };
        let scheme = text("scheme")?;
        if scheme != "native" {
            return Err(ApiError::new(codes::SYS_NOT_SUPPORTED, format!("authentication scheme {scheme}")));
        }
        let mut reply = request.clone();
        match text("next_operation")?.as_str() {
            AUTH_AGENT_AUTH_REQUEST => {
                let challenge = new_challenge();
                reply.insert(
                    "request_result".into(),
                    Value::String(String::from_utf8_lossy(&challenge).into()),
                );
                self.challenge = Some(challenge);
            }
            AUTH_AGENT_AUTH_RESPONSE => {
                use base64::Engine as _;
                let digest = base64::engine::general_purpose::STANDARD
                    .decode(text("digest")?.trim())
                    .map_err(|_| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, "digest is not base64"))?;
                let name = text("user_name")?;
                let zone = request.get("zone_name").and_then(Value::as_str).unwrap_or("").to_string();
                let zone = if zone.is_empty() { self.startup.proxy.zone.clone() } else { zone };
                self.verify(&name, &zone, &digest)?;
            }
            other => {
                return Err(ApiError::new(
                    codes::SYS_INVALID_INPUT_PARAM,
                    format!("unknown next_operation {other}"),
                ));
            }
        }
        ok_with(0, &BinBytesBuf::from_json_with_nul(&Value::Object(reply)))
    }

    /// Checks the digest against the stored password and settles who the session acts as.
    fn verify(&mut self, name: &str, zone: &str, digest: &[u8]) -> ApiResult<()> {
        let challenge = self
            .challenge
            .take()
            .ok_or_else(|| ApiError::new(codes::CAT_INVALID_AUTHENTICATION, "no challenge was requested"))?;
        let zone = if zone.is_empty() { crate::catalog::ZONE } else { zone };
        let client_ident = self.startup.effective_client().clone();
        let (proxy, password, client) = self.state.catalog.read(|db| {
            let proxy = users::require(db, name, zone)?;
            let password = users::password(db, proxy.id)?.unwrap_or_default();
            let client_zone = if client_ident.zone.is_empty() { zone } else { client_ident.zone.as_str() };
            let client = if client_ident.name == proxy.name && client_zone == proxy.zone {
                proxy.clone()
            } else {
                users::require(db, &client_ident.name, client_zone)?
            };
            Ok((proxy, password, client))
        })?;
        if password.is_empty() || native_digest(&challenge, &password).as_slice() != digest {
            return Err(ApiError::new(codes::CAT_INVALID_AUTHENTICATION, "authentication failed"));
        }
        if client.id != proxy.id && !proxy.is_admin() {
            return Err(ApiError::new(
                codes::SYS_PROXYUSER_NO_PRIV,
                format!("{} may not act as {}", proxy.name, client.name),
            ));
        }
        self.session_signature = session_signature(&challenge);
        self.auth_password = password;
        self.proxy_user = Some(proxy);
        self.user = Some(client);
        Ok(())
    }

    /// 700: what kind of server this is.
    pub(super) fn misc_server_info(&mut self) -> ApiResult<Packet> {
        ok_with(
            0,
            &MiscSvrInfo {
                server_type: 1,
                server_boot_time: self.state.boot_time as i32,
                rel_version: REL_VERSION.to_string(),
                api_version: API_VERSION.to_string(),
                rods_zone: self.zone().to_string(),
            },
        )
    }

    /// 801: the library feature list of a 4.3.4 server (JSON in a STR_PI).
    pub(super) fn library_features(&mut self) -> ApiResult<Packet> {
        let features = serde_json::json!({
            "IRODS_HAS_LIBRARY_TICKET_ADMINISTRATION": 202208,
            "IRODS_HAS_LIBRARY_ZONE_ADMINISTRATION": 202206,
            "IRODS_HAS_API_ENDPOINT_SWITCH_USER": 202209,
            "IRODS_HAS_API_ENDPOINT_CHECK_AUTH_CREDENTIALS": 202210,
            "IRODS_HAS_LIBRARY_SYSTEM_ERROR": 202210,
        });
        ok_with(0, &StrPi { my_str: features.to_string() })
    }
}
