//! Rule execution, delayed-rule removal, access control and specific-query inputs (APIs 625, 624,
//! 707 and 722). Added for the test server, which decodes what python-irodsclient sends.

use super::common::KeyValPair;
use crate::error::DecodeError;
use crate::pi::{PackStruct, nested};
use crate::xml::Element;

/// `ExecMyRuleInp_PI` = `str myRule[META_STR_LEN]; struct RHostAddr_PI; struct KeyValPair_PI;
/// str outParamDesc[LONG_NAME_LEN]; struct *MsParamArray_PI;` — API 625. The host address and the
/// parameter array are emitted empty and not decoded (python-irodsclient's rules carry their
/// parameters inside `myRule`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecMyRuleInp {
    pub my_rule: String,
    pub cond_input: KeyValPair,
    pub out_param_desc: String,
}

impl PackStruct for ExecMyRuleInp {
    const PI_NAME: &'static str = "ExecMyRuleInp_PI";

    fn to_element(&self) -> Element {
        let mut addr = Element::new("RHostAddr_PI");
        addr.push_str("hostAddr", "").push_str("rodsZone", "").push_int("port", 0).push_int("dummyInt", 0);
        let mut params = Element::new("MsParamArray_PI");
        params.push_int("paramLen", 0).push_int("oprType", 0);
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("myRule", &self.my_rule)
            .push_child(addr)
            .push_child(self.cond_input.to_element())
            .push_str("outParamDesc", &self.out_param_desc)
            .push_child(params);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(ExecMyRuleInp {
            my_rule: el.get_str("myRule"),
            cond_input: nested(el)?,
            out_param_desc: el.get_str("outParamDesc"),
        })
    }
}

/// `RULE_EXEC_DEL_INP_PI` = `str ruleExecId[NAME_LEN];` — API 624.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleExecDelInp {
    pub rule_exec_id: String,
}

impl PackStruct for RuleExecDelInp {
    const PI_NAME: &'static str = "RULE_EXEC_DEL_INP_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("ruleExecId", &self.rule_exec_id);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(RuleExecDelInp { rule_exec_id: el.get_str("ruleExecId") })
    }
}

/// `modAccessControlInp_PI` = `int recursiveFlag; str *accessLevel; str *userName; str *zone;
/// str *path;` — API 707 (`accessLevel` may carry an `admin:` prefix).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModAccessControlInp {
    pub recursive_flag: i32,
    pub access_level: String,
    pub user_name: String,
    pub zone: String,
    pub path: String,
}

impl PackStruct for ModAccessControlInp {
    const PI_NAME: &'static str = "modAccessControlInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_int("recursiveFlag", self.recursive_flag)
            .push_str("accessLevel", &self.access_level)
            .push_str("userName", &self.user_name)
            .push_str("zone", &self.zone)
            .push_str("path", &self.path);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(ModAccessControlInp {
            recursive_flag: el.get_int("recursiveFlag")?,
            access_level: el.get_str("accessLevel"),
            user_name: el.get_str("userName"),
            zone: el.get_str("zone"),
            path: el.get_str("path"),
        })
    }
}

/// `specificQueryInp_PI` = `str *sql; str *arg1; ... str *arg10; int maxRows; int continueInx;
/// int rowOffset; int options; struct KeyValPair_PI;` — API 722. `sql` is an alias or the text of
/// a registered query; absent arguments are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecificQueryInp {
    pub sql: String,
    pub args: [Option<String>; 10],
    pub max_rows: i32,
    pub continue_inx: i32,
    pub row_offset: i32,
    pub options: i32,
    pub cond_input: KeyValPair,
}

impl PackStruct for SpecificQueryInp {
    const PI_NAME: &'static str = "specificQueryInp_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("sql", &self.sql);
        for (i, arg) in self.args.iter().enumerate() {
            if let Some(a) = arg {
                el.push_str(&format!("arg{}", i + 1), a);
            }
        }
        el.push_int("maxRows", self.max_rows)
            .push_int("continueInx", self.continue_inx)
            .push_int("rowOffset", self.row_offset)
            .push_int("options", self.options)
            .push_child(self.cond_input.to_element());
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let mut out = SpecificQueryInp {
            sql: el.get_str("sql"),
            max_rows: el.get_int("maxRows")?,
            continue_inx: el.get_int("continueInx")?,
            row_offset: el.get_int("rowOffset")?,
            options: el.get_int("options")?,
            cond_input: nested(el)?,
            ..Default::default()
        };
        for (i, slot) in out.args.iter_mut().enumerate() {
            *slot = el.get_opt_str(&format!("arg{}", i + 1));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_python_irodsclient_bodies() {
        // Shapes as python-irodsclient 3.3.0 packs them (fields it does not set are left out).
        let acl = ModAccessControlInp::decode(
            b"<modAccessControlInp_PI><recursiveFlag>0</recursiveFlag><accessLevel>read</accessLevel>\
              <userName>alice</userName><zone>tempZone</zone><path>/tempZone/home/rods/x</path></modAccessControlInp_PI>",
        )
        .unwrap();
        assert_eq!(acl.access_level, "read");
        assert_eq!(acl.path, "/tempZone/home/rods/x");
        let del = RuleExecDelInp::decode(
            b"<RULE_EXEC_DEL_INP_PI><ruleExecId>10042</ruleExecId></RULE_EXEC_DEL_INP_PI>",
        )
        .unwrap();
        assert_eq!(del.rule_exec_id, "10042");
        let q = SpecificQueryInp::decode(
            b"<specificQueryInp_PI><sql>lsl</sql><arg1>%OFFSET%</arg1><maxRows>500</maxRows>\
              <continueInx>0</continueInx><rowOffset>0</rowOffset><options>0</options>\
              <KeyValPair_PI><ssLen>0</ssLen></KeyValPair_PI></specificQueryInp_PI>",
        )
        .unwrap();
        assert_eq!(q.sql, "lsl");
        assert_eq!(q.args[0].as_deref(), Some("%OFFSET%"));
        assert_eq!(q.args[1], None);
        assert_eq!(q.max_rows, 500);
        let rule = ExecMyRuleInp::decode(
            b"<ExecMyRuleInp_PI><myRule>@external rule { msiSleep('2','500000') }</myRule>\
              <RHostAddr_PI><hostAddr></hostAddr><rodsZone></rodsZone><port>0</port><dummyInt>0</dummyInt></RHostAddr_PI>\
              <KeyValPair_PI><ssLen>0</ssLen></KeyValPair_PI><outParamDesc>ruleExecOut</outParamDesc>\
              <MsParamArray_PI><paramLen>0</paramLen><oprType>0</oprType></MsParamArray_PI></ExecMyRuleInp_PI>",
        )
        .unwrap();
        assert!(rule.my_rule.contains("msiSleep"));
        assert_eq!(ExecMyRuleInp::decode(&rule.encode()).unwrap(), rule);
        assert_eq!(SpecificQueryInp::decode(&q.encode()).unwrap(), q);
    }
}
