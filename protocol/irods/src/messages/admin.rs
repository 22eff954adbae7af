//! Metadata (AVU) input, server information, and the admin argument lists.

use super::common::KeyValPair;
use crate::error::DecodeError;
use crate::pi::{PackStruct, nested};
use crate::xml::Element;

/// `ModAVUMetadataInp_PI` = `str *arg0; ... str *arg9; struct KeyValPair_PI;` — API 706.
///
/// arg0 = operation (`add`, `rm`, `set`, `cp`, ...), arg1 = `-d`/`-C`/`-R`/`-u`, arg2 = target,
/// arg3..arg5 = attribute, value, units. The args are pointers: `None` is omitted from the XML
/// (python-irodsclient leaves out unused and empty ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModAvuMetadataInp {
    pub args: [Option<String>; 10],
    pub cond_input: KeyValPair,
}

impl ModAvuMetadataInp {
    /// Builds from leading arguments; empty strings become `None` as python-irodsclient does.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Self {
        let mut out = ModAvuMetadataInp::default();
        for (slot, arg) in out.args.iter_mut().zip(args) {
            let arg = arg.as_ref();
            *slot = (!arg.is_empty()).then(|| arg.to_string());
        }
        out
    }

    /// Argument `i` (0..10), empty if absent.
    pub fn arg(&self, i: usize) -> &str {
        self.args.get(i).and_then(|a| a.as_deref()).unwrap_or("")
    }
}

impl PackStruct for ModAvuMetadataInp {
    const PI_NAME: &'static str = "ModAVUMetadataInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        for (i, arg) in self.args.iter().enumerate() {
            if let Some(a) = arg {
                el.push_str(&format!("arg{i}"), a);
            }
        }
        el.push_child(self.cond_input.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let mut out = ModAvuMetadataInp { cond_input: nested(el)?, ..Default::default() };
        for (i, slot) in out.args.iter_mut().enumerate() {
            *slot = el.get_opt_str(&format!("arg{i}"));
        }
        Ok(out)
    }
}

/// `generalAdminInp_PI` / `userAdminInp_PI` = `str *arg0; ... str *arg9;` — APIs 701 / 714.
/// `pi_name` selects which of the two tags is used; decoding accepts either.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneralAdminInp {
    pub args: [String; 10],
}

impl GeneralAdminInp {
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Self {
        let mut out = GeneralAdminInp::default();
        for (slot, arg) in out.args.iter_mut().zip(args) {
            *slot = arg.as_ref().to_string();
        }
        out
    }
}

impl PackStruct for GeneralAdminInp {
    const PI_NAME: &'static str = "generalAdminInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        for (i, arg) in self.args.iter().enumerate() {
            el.push_str(&format!("arg{i}"), arg);
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let mut out = GeneralAdminInp::default();
        for (i, slot) in out.args.iter_mut().enumerate() {
            *slot = el.get_str(&format!("arg{i}"));
        }
        Ok(out)
    }

    fn from_root(el: &Element) -> Result<Self, DecodeError> {
        if el.name != Self::PI_NAME && el.name != "userAdminInp_PI" {
            return Err(DecodeError::UnexpectedRoot { expected: Self::PI_NAME, found: el.name.clone() });
        }
        Self::from_element(el)
    }
}

/// `MiscSvrInfo_PI` (4.3) = `int serverType; int serverBootTime; str relVersion[64];
/// str apiVersion[64]; str rodsZone[64];` — reply of GET_MISC_SVR_INFO_AN (700).
/// iRODS 5 appends a `BinBytesBuf_PI` with certificate information, which is ignored here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MiscSvrInfo {
    /// 1 = RCAT_ENABLED (catalog provider).
    pub server_type: i32,
    pub server_boot_time: i32,
    pub rel_version: String,
    pub api_version: String,
    pub rods_zone: String,
}

impl PackStruct for MiscSvrInfo {
    const PI_NAME: &'static str = "MiscSvrInfo_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("serverType", self.server_type)
            .push_int("serverBootTime", self.server_boot_time)
            .push_str("relVersion", &self.rel_version)
            .push_str("apiVersion", &self.api_version)
            .push_str("rodsZone", &self.rods_zone);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(MiscSvrInfo {
            server_type: el.get_int("serverType")?,
            server_boot_time: el.get_int("serverBootTime")?,
            rel_version: el.get_str("relVersion"),
            api_version: el.get_str("apiVersion"),
            rods_zone: el.get_str("rodsZone"),
        })
    }
}
