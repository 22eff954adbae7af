//! One authenticated connection to an iRODS server: TCP, startup pack, optional client-server
//! negotiation, version exchange, authentication, then request/reply calls.
//!
//! A connection carries one request at a time. If a call is abandoned midway (its future dropped)
//! or the transport fails, the connection marks itself broken and the pool discards it.

use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

use super::error::{Error, Result};
use crate::auth::{AUTH_AGENT_AUTH_REQUEST, AUTH_AGENT_AUTH_RESPONSE, native_digest};
use crate::codes::{ErrorCode, api, error as code};
use crate::config::{CsPolicy, IrodsConfig};
use crate::frame::{FrameLimits, MsgType, Packet, read_packet, write_packet};
use crate::messages::{
    AuthRequestOut, AuthResponseInp, BinBytesBuf, CsNeg, REQUEST_SERVER_NEGOTIATION, StartupPack,
    UserIdentity, Version, XML_PROT,
};
use crate::pi::PackStruct;

/// The release this client claims: >= 4.3 selects the 4.3 authentication framework and the JSON
/// plugin APIs on the server side, as python-irodsclient's own claim does.
pub const CLIENT_REL_VERSION: &str = "rods4.3.4";
pub const CLIENT_API_VERSION: &str = "d";

/// The transport under a connection: plain TCP, or TLS over it after negotiation.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// An authenticated connection.
pub struct Connection {
    stream: BufStream<Box<dyn Transport>>,
    limits: FrameLimits,
    server_version: Version,
    proxy: UserIdentity,
    client: UserIdentity,
    default_resource: Option<String>,
    request_timeout: Option<std::time::Duration>,
    /// Set while a request is in flight and on transport failure; a broken connection is unusable.
    broken: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server_version.rel_version)
            .field("proxy", &self.proxy)
            .field("client", &self.client)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Connection {
    /// Connects and authenticates as described by `config`.
    pub async fn connect(config: &IrodsConfig) -> Result<Connection> {
        let address = (config.host.as_str(), config.port);
        let tcp = tokio::time::timeout(config.connect_timeout, TcpStream::connect(address)).await.map_err(
            |_| Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")),
        )??;
        tcp.set_nodelay(true)?;
        let proxy = UserIdentity::new(&config.user_name, &config.zone_name);
        let client = config.client_user.clone().unwrap_or_else(|| proxy.clone());
        let mut conn = Connection {
            stream: BufStream::new(Box::new(tcp)),
            limits: FrameLimits::default(),
            server_version: Version::default(),
            proxy,
            client,
            default_resource: config.default_resource.clone(),
            request_timeout: config.request_timeout,
            broken: false,
        };
        // The start-up exchange (and TLS) is bounded by the connect timeout: a peer that accepts
        // connections but never answers must not hang the caller.
        let startup = async {
            let (version, use_tls) = conn.start(config).await?;
            conn.server_version = version;
            if use_tls {
                // The server sends nothing between RODS_VERSION and the TLS handshake, so no
                // buffered bytes are lost when the plain stream is unwrapped.
                let placeholder: Box<dyn Transport> = Box::new(tokio::io::duplex(1).0);
                let plain = std::mem::replace(&mut conn.stream, BufStream::new(placeholder)).into_inner();
                let tls = super::tls::start_tls(plain, &config.host, &config.tls).await?;
                conn.stream = BufStream::new(Box::new(tls));
            }
            Ok::<(), Error>(())
        };
        tokio::time::timeout(config.connect_timeout, startup).await.map_err(|_| {
            Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer to the startup pack"))
        })??;
        conn.authenticate(config).await?;
        tracing::debug!(server = %conn.server_version.rel_version, user = %conn.client.name, "iRODS connection ready");
        Ok(conn)
    }

    /// Sends the startup pack, negotiates if asked to, and returns the server's version and
    /// whether the negotiation chose TLS.
    async fn start(&mut self, config: &IrodsConfig) -> Result<(Version, bool)> {
        let mut option = config.application_name.clone();
        if config.request_negotiation {
            option.push_str(REQUEST_SERVER_NEGOTIATION);
        }
        let startup = StartupPack {
            irods_prot: XML_PROT,
            reconn_flag: 0,
            connect_cnt: 0,
            proxy: self.proxy.clone(),
            client: self.client.clone(),
            rel_version: CLIENT_REL_VERSION.into(),
            api_version: CLIENT_API_VERSION.into(),
            option,
        };
        self.send(&Packet::with_message(MsgType::Connect, 0, &startup)).await?;
        let mut reply = self.receive().await?;
        let mut use_tls = false;
        if reply.msg_type == MsgType::CsNeg {
            let server: CsNeg = reply.decode_body()?;
            let outcome = negotiate(config.cs_policy, &server.result);
            let answer = match outcome {
                Ok(result) => CsNeg { status: 1, result: format!("cs_neg_result_kw={result};") },
                Err(_) => CsNeg { status: 0, result: "cs_neg_result_kw=CS_NEG_FAILURE;".into() },
            };
            self.send(&Packet::with_message(MsgType::CsNeg, 0, &answer)).await?;
            use_tls = outcome.map_err(Error::Negotiation)? == "CS_NEG_USE_SSL";
            reply = self.receive().await?;
        }
        if reply.msg_type != MsgType::Version {
            return Err(Error::Protocol(format!("expected RODS_VERSION, got {}", reply.msg_type.as_str())));
        }
        let version: Version = reply.decode_body()?;
        if version.status < 0 {
            return Err(Error::Irods {
                api: 0,
                code: ErrorCode(version.status),
                message: reply_message(&reply),
            });
        }
        Ok((version, use_tls))
    }

    /// Proves the proxy user's password: the 4.3 framework against 4.3+ servers, else (or when
    /// forced, or when the server does not know the framework API) the legacy challenge.
    async fn authenticate(&mut self, config: &IrodsConfig) -> Result<()> {
        if config.authentication_scheme != "native" {
            return Err(Error::Auth(format!(
                "authentication scheme {:?} is not supported",
                config.authentication_scheme
            )));
        }
        let password = config.password.expose();
        if self.server_at_least(&[4, 3, 0]) && !config.force_legacy_auth {
            match self.authenticate_framework(password).await {
                Err(e) if e.is(code::SYS_UNMATCHED_API_NUM) => {
                    tracing::debug!(
                        "server lacks the authentication framework; using legacy native authentication"
                    );
                }
                other => return other,
            }
        }
        self.authenticate_legacy(password).await
    }

    async fn authenticate_framework(&mut self, password: &str) -> Result<()> {
        let request = json!({
            "scheme": "native",
            "user_name": self.proxy.name,
            "zone_name": self.proxy.zone,
            "next_operation": AUTH_AGENT_AUTH_REQUEST,
        });
        let reply = self.call_json(api::AUTHENTICATION_APN, &request).await?;
        let mut state: Map<String, Value> = match reply {
            Value::Object(map) => map,
            _ => return Err(Error::Auth("the server's challenge reply is not a JSON object".into())),
        };
        let challenge = state
            .get("request_result")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Auth("the server sent no challenge (request_result)".into()))?
            .to_string();
        use base64::Engine as _;
        let digest =
            base64::engine::general_purpose::STANDARD.encode(native_digest(challenge.as_bytes(), password));
        state.insert("digest".into(), Value::String(digest));
        state.insert("next_operation".into(), Value::String(AUTH_AGENT_AUTH_RESPONSE.into()));
        state.insert("user_name".into(), Value::String(self.proxy.name.clone()));
        state.insert("zone_name".into(), Value::String(self.proxy.zone.clone()));
        state.insert("scheme".into(), Value::String("native".into()));
        self.call_json(api::AUTHENTICATION_APN, &Value::Object(state)).await?;
        Ok(())
    }

    async fn authenticate_legacy(&mut self, password: &str) -> Result<()> {
        let reply = self.call(&Packet::api_request_empty(api::AUTH_REQUEST_AN)).await?;
        let challenge: AuthRequestOut = reply.decode_body()?;
        let response = AuthResponseInp {
            response: native_digest(&challenge.challenge, password).to_vec(),
            username: format!("{}#{}", self.proxy.name, self.proxy.zone),
        };
        self.call(&Packet::api_request(api::AUTH_RESPONSE_AN, &response)).await?;
        Ok(())
    }

    // ---- request/reply ---------------------------------------------------------------------

    async fn send(&mut self, packet: &Packet) -> Result<()> {
        if let Err(e) = write_packet(&mut self.stream, packet).await {
            self.broken = true;
            return Err(e.into());
        }
        Ok(())
    }

    async fn receive(&mut self) -> Result<Packet> {
        match read_packet(&mut self.stream, &self.limits).await {
            Ok(p) => Ok(p),
            Err(e) => {
                self.broken = true;
                Err(e.into())
            }
        }
    }

    /// Sends a request and returns the reply whatever its status. Handles the in-band progress
    /// replies of collection removal (the server asks, the client acknowledges with a bare int).
    pub async fn exchange(&mut self, request: &Packet) -> Result<Packet> {
        if self.broken {
            return Err(Error::Protocol(
                "the connection is broken (an earlier call failed or was abandoned)".into(),
            ));
        }
        match self.request_timeout {
            None => self.exchange_unbounded(request).await,
            Some(limit) => match tokio::time::timeout(limit, self.exchange_unbounded(request)).await {
                Ok(result) => result,
                Err(_) => {
                    // The reply may still arrive; the stream is out of step, so never reuse it.
                    self.broken = true;
                    let message = format!("no reply within {limit:?}");
                    Err(Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, message)))
                }
            },
        }
    }

    async fn exchange_unbounded(&mut self, request: &Packet) -> Result<Packet> {
        self.broken = true; // until the reply has been read completely
        self.send(request).await?;
        let mut reply = self.receive().await?;
        while reply.int_info == code::SYS_SVR_TO_CLI_COLL_STAT {
            self.stream.write_all(&code::SYS_CLI_TO_SVR_COLL_STAT_REPLY.to_be_bytes()).await?;
            self.stream.flush().await?;
            reply = self.receive().await?;
        }
        if reply.msg_type != MsgType::ApiReply {
            return Err(Error::Protocol(format!("expected RODS_API_REPLY, got {}", reply.msg_type.as_str())));
        }
        self.broken = false;
        Ok(reply)
    }

    /// Sends a request; a negative status becomes [`Error::Irods`] with the code's name and the
    /// server's message.
    pub async fn call(&mut self, request: &Packet) -> Result<Packet> {
        let reply = self.exchange(request).await?;
        if reply.int_info < 0 {
            return Err(Error::Irods {
                api: request.int_info,
                code: ErrorCode(reply.int_info),
                message: reply_message(&reply),
            });
        }
        Ok(reply)
    }

    /// Calls a JSON API (BinBytesBuf in and out) and returns the reply JSON (`null` if no body).
    pub async fn call_json(&mut self, api_number: i32, input: &Value) -> Result<Value> {
        let reply = self.call(&Packet::api_request(api_number, &BinBytesBuf::from_json(input))).await?;
        json_body(&reply)
    }

    /// Sends RODS_DISCONNECT and closes the socket.
    pub async fn disconnect(mut self) -> Result<()> {
        if !self.broken {
            self.send(&Packet::new(MsgType::Disconnect, 0)).await?;
        }
        self.stream.get_mut().shutdown().await.ok();
        Ok(())
    }

    // ---- facts about the session -------------------------------------------------------------

    /// The server's Version_PI.
    pub fn server_version(&self) -> &Version {
        &self.server_version
    }

    /// Whether the server release is at least `min` (e.g. `[4, 3, 0]`).
    pub fn server_at_least(&self, min: &[u32]) -> bool {
        self.server_version.version_tuple().as_slice() >= min
    }

    /// The user the server acts as.
    pub fn client_user(&self) -> &UserIdentity {
        &self.client
    }

    /// The authenticated user.
    pub fn proxy_user(&self) -> &UserIdentity {
        &self.proxy
    }

    pub fn default_resource(&self) -> Option<&str> {
        self.default_resource.as_deref()
    }

    /// False once a call failed at the transport level or was abandoned midway.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    /// Checks, without waiting, whether the server closed the connection or sent something
    /// unsolicited while it was idle (servers drop idle agents). Marks the connection broken if so.
    pub fn peer_closed(&mut self) -> bool {
        use std::pin::Pin;
        use std::task::{Context, Poll, Waker};
        use tokio::io::AsyncBufRead;
        if self.broken {
            return true;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut self.stream).poll_fill_buf(&mut cx) {
            Poll::Pending => false,
            // End of stream, an error, or bytes nobody asked for: unusable either way.
            Poll::Ready(_) => {
                self.broken = true;
                true
            }
        }
    }
}

/// The server's first error message, if it sent an RError stack.
pub(crate) fn reply_message(reply: &Packet) -> Option<String> {
    reply.decode_error().and_then(|e| e.messages.into_iter().map(|m| m.msg).find(|m| !m.is_empty()))
}

/// The JSON carried by a reply body (BinBytesBuf_PI or STR_PI); `null` without a body.
pub(crate) fn json_body(reply: &Packet) -> Result<Value> {
    if reply.body.is_empty() {
        return Ok(Value::Null);
    }
    let root = crate::xml::parse(&reply.body)?;
    if root.name == crate::messages::StrPi::PI_NAME {
        let text = crate::messages::StrPi::from_element(&root)?.my_str;
        return serde_json::from_str(&text).map_err(|e| {
            crate::DecodeError::BadJson { field: "myStr".into(), reason: e.to_string() }.into()
        });
    }
    Ok(BinBytesBuf::from_root(&root)?.json()?)
}

/// Client-server negotiation as iRODS defines it: REQUIRE against REFUSE fails, REQUIRE on either
/// side means TLS, anything else plain TCP.
pub fn negotiate(client: CsPolicy, server_policy: &str) -> std::result::Result<&'static str, String> {
    let server =
        CsPolicy::parse(server_policy).ok_or_else(|| format!("unknown server policy {server_policy:?}"))?;
    use CsPolicy::*;
    match (client, server) {
        (Require, Refuse) | (Refuse, Require) => {
            Err(format!("client {} vs server {}", client.as_str(), server.as_str()))
        }
        (Require, _) | (_, Require) => Ok("CS_NEG_USE_SSL"),
        _ => Ok("CS_NEG_USE_TCP"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_table() {
        use CsPolicy::*;
        assert_eq!(negotiate(Refuse, "CS_NEG_REFUSE"), Ok("CS_NEG_USE_TCP"));
        assert_eq!(negotiate(Refuse, "CS_NEG_DONT_CARE"), Ok("CS_NEG_USE_TCP"));
        assert_eq!(negotiate(DontCare, "CS_NEG_REQUIRE"), Ok("CS_NEG_USE_SSL"));
        assert!(negotiate(Refuse, "CS_NEG_REQUIRE").is_err());
        assert!(negotiate(Require, "CS_NEG_REFUSE").is_err());
        assert!(negotiate(Refuse, "bogus").is_err());
    }
}
