//! Connection set-up: the startup pack, client-server negotiation, the version reply, and the
//! error stack that may accompany any reply.

use crate::error::DecodeError;
use crate::pi::PackStruct;
use crate::xml::Element;

/// XML_PROT, the only protocol python-irodsclient and this crate speak (NATIVE_PROT is 0).
pub const XML_PROT: i32 = 1;

/// The option substring that asks the server for client-server negotiation.
pub const REQUEST_SERVER_NEGOTIATION: &str = "request_server_negotiation";

/// A user as the startup pack names one: the authenticated **proxy** user, or the **client** user
/// the server acts as afterwards (the ingest's `as_user`). An empty client user means "same as proxy".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserIdentity {
    pub name: String,
    pub zone: String,
}

impl UserIdentity {
    pub fn new(name: impl Into<String>, zone: impl Into<String>) -> Self {
        UserIdentity { name: name.into(), zone: zone.into() }
    }
}

/// `StartupPack_PI` = `int irodsProt; int reconnFlag; int connectCnt; str proxyUser[64];
/// str proxyRcatZone[64]; str clientUser[64]; str clientRcatZone[64]; str relVersion[64];
/// str apiVersion[64]; str option[256];`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartupPack {
    pub irods_prot: i32,
    pub reconn_flag: i32,
    pub connect_cnt: i32,
    pub proxy: UserIdentity,
    pub client: UserIdentity,
    pub rel_version: String,
    pub api_version: String,
    pub option: String,
}

impl StartupPack {
    /// Whether the client asked for negotiation (the server searches for the substring).
    pub fn requests_negotiation(&self) -> bool {
        self.option.contains(REQUEST_SERVER_NEGOTIATION)
    }

    /// The user the session acts as: the client user, or the proxy if the client user is empty.
    pub fn effective_client(&self) -> &UserIdentity {
        if self.client.name.is_empty() { &self.proxy } else { &self.client }
    }
}

impl PackStruct for StartupPack {
    const PI_NAME: &'static str = "StartupPack_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("irodsProt", self.irods_prot)
            .push_int("reconnFlag", self.reconn_flag)
            .push_int("connectCnt", self.connect_cnt)
            .push_str("proxyUser", &self.proxy.name)
            .push_str("proxyRcatZone", &self.proxy.zone)
            .push_str("clientUser", &self.client.name)
            .push_str("clientRcatZone", &self.client.zone)
            .push_str("relVersion", &self.rel_version)
            .push_str("apiVersion", &self.api_version)
            .push_str("option", &self.option);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(StartupPack {
            irods_prot: el.get_int("irodsProt")?,
            reconn_flag: el.get_int("reconnFlag")?,
            connect_cnt: el.get_int("connectCnt")?,
            proxy: UserIdentity::new(el.get_str("proxyUser"), el.get_str("proxyRcatZone")),
            client: UserIdentity::new(el.get_str("clientUser"), el.get_str("clientRcatZone")),
            rel_version: el.get_str("relVersion"),
            api_version: el.get_str("apiVersion"),
            option: el.get_str("option"),
        })
    }
}

/// `CS_NEG_PI` = `int status; str result[1088];`
///
/// The server sends its policy (`CS_NEG_REFUSE`, `CS_NEG_DONT_CARE`, `CS_NEG_REQUIRE`) in `result`;
/// the client answers `cs_neg_result_kw=CS_NEG_USE_TCP;` (or `..._USE_SSL;`), status 1, or
/// status 0 with `CS_NEG_FAILURE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsNeg {
    pub status: i32,
    pub result: String,
}

impl PackStruct for CsNeg {
    const PI_NAME: &'static str = "CS_NEG_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("status", self.status).push_str("result", &self.result);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(CsNeg { status: el.get_int("status")?, result: el.get_str("result") })
    }
}

/// `Version_PI` = `int status; str relVersion[64]; str apiVersion[64]; int reconnPort;
/// str reconnAddr[256]; int cookie;`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Version {
    pub status: i32,
    pub rel_version: String,
    pub api_version: String,
    pub reconn_port: i32,
    pub reconn_addr: String,
    pub cookie: i32,
}

impl Version {
    /// `rods4.3.4` → `[4, 3, 4]`; unparsable parts are skipped.
    pub fn version_tuple(&self) -> Vec<u32> {
        parse_release(&self.rel_version)
    }
}

/// Parses a release string such as `rods4.3.4` into its numeric parts.
pub fn parse_release(rel_version: &str) -> Vec<u32> {
    rel_version.trim_start_matches("rods").split('.').filter_map(|p| p.trim().parse().ok()).collect()
}

impl PackStruct for Version {
    const PI_NAME: &'static str = "Version_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("status", self.status)
            .push_str("relVersion", &self.rel_version)
            .push_str("apiVersion", &self.api_version)
            .push_int("reconnPort", self.reconn_port)
            .push_str("reconnAddr", &self.reconn_addr)
            .push_int("cookie", self.cookie);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(Version {
            status: el.get_int("status")?,
            rel_version: el.get_str("relVersion"),
            api_version: el.get_str("apiVersion"),
            reconn_port: el.get_int("reconnPort")?,
            reconn_addr: el.get_str("reconnAddr"),
            cookie: el.get_int("cookie")?,
        })
    }
}

/// `RErrMsg_PI` = `int status; str msg[1024];`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RErrMsg {
    pub status: i32,
    pub msg: String,
}

impl PackStruct for RErrMsg {
    const PI_NAME: &'static str = "RErrMsg_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("status", self.status).push_str("msg", &self.msg);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(RErrMsg { status: el.get_int("status")?, msg: el.get_str("msg") })
    }
}

/// `RError_PI` = `int count; struct *RErrMsg_PI[count];` — the error section of a reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RError {
    pub messages: Vec<RErrMsg>,
}

impl RError {
    /// A stack with one message.
    pub fn single(status: i32, msg: impl Into<String>) -> Self {
        RError { messages: vec![RErrMsg { status, msg: msg.into() }] }
    }
}

impl PackStruct for RError {
    const PI_NAME: &'static str = "RError_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("count", self.messages.len() as i32);
        for m in &self.messages {
            el.push_child(m.to_element());
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let messages =
            el.children_named(RErrMsg::PI_NAME).map(RErrMsg::from_element).collect::<Result<_, _>>()?;
        Ok(RError { messages })
    }
}
