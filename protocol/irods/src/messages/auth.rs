//! Legacy native authentication (APIs 703/704). The 4.3 framework (API 110000) carries JSON in a
//! [`BinBytesBuf`](super::BinBytesBuf) instead; see [`crate::auth`].

use crate::error::DecodeError;
use crate::pi::PackStruct;
use crate::xml::Element;

/// `authRequestOut_PI` = `bin *challenge(64);` — the server's challenge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthRequestOut {
    pub challenge: Vec<u8>,
}

impl PackStruct for AuthRequestOut {
    const PI_NAME: &'static str = "authRequestOut_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_bin("challenge", &self.challenge);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(AuthRequestOut { challenge: el.get_bin("challenge")? })
    }
}

/// `authResponseInp_PI` = `bin *response(16); str *username;` — the client's 16-byte digest.
/// python-irodsclient sends the bare proxy user name; other clients send `user#zone`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthResponseInp {
    pub response: Vec<u8>,
    pub username: String,
}

impl PackStruct for AuthResponseInp {
    const PI_NAME: &'static str = "authResponseInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_bin("response", &self.response).push_str("username", &self.username);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(AuthResponseInp { response: el.get_bin("response")?, username: el.get_str("username") })
    }
}
