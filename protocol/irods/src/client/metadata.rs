//! AVU metadata: single operations (706) and atomic batches (20002).

use serde_json::{Value, json};

use super::connection::{Connection, reply_message};
use super::error::{Error, Result};
use crate::codes::{ErrorCode, api};
use crate::frame::Packet;
use crate::messages::{BinBytesBuf, ModAvuMetadataInp};

/// What kind of entity carries the metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AvuTarget {
    DataObject,
    Collection,
    Resource,
    User,
}

impl AvuTarget {
    /// The `imeta` flag (`-d`, `-C`, `-R`, `-u`).
    pub fn flag(self) -> &'static str {
        match self {
            AvuTarget::DataObject => "-d",
            AvuTarget::Collection => "-C",
            AvuTarget::Resource => "-R",
            AvuTarget::User => "-u",
        }
    }

    /// The `entity_type` of the atomic metadata API.
    pub fn entity_type(self) -> &'static str {
        match self {
            AvuTarget::DataObject => "data_object",
            AvuTarget::Collection => "collection",
            AvuTarget::Resource => "resource",
            AvuTarget::User => "user",
        }
    }
}

/// One attribute-value-unit triple; empty units mean none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Avu {
    pub attribute: String,
    pub value: String,
    pub units: String,
}

impl Avu {
    pub fn new(attribute: impl Into<String>, value: impl Into<String>, units: impl Into<String>) -> Self {
        Avu { attribute: attribute.into(), value: value.into(), units: units.into() }
    }
}

/// An operation of an atomic batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvuOperation {
    Add(Avu),
    Remove(Avu),
}

impl Connection {
    /// MOD_AVU_METADATA with operation `add`, `rm` or `set`.
    pub async fn modify_avu(
        &mut self,
        operation: &str,
        target: AvuTarget,
        name: &str,
        avu: &Avu,
    ) -> Result<()> {
        let input = ModAvuMetadataInp::from_args(&[
            operation,
            target.flag(),
            name,
            &avu.attribute,
            &avu.value,
            &avu.units,
        ]);
        self.call(&Packet::api_request(api::MOD_AVU_METADATA_AN, &input)).await?;
        Ok(())
    }

    pub async fn add_avu(&mut self, target: AvuTarget, name: &str, avu: &Avu) -> Result<()> {
        self.modify_avu("add", target, name, avu).await
    }

    pub async fn remove_avu(&mut self, target: AvuTarget, name: &str, avu: &Avu) -> Result<()> {
        self.modify_avu("rm", target, name, avu).await
    }

    /// Replaces every AVU with this attribute by `avu`.
    pub async fn set_avu(&mut self, target: AvuTarget, name: &str, avu: &Avu) -> Result<()> {
        self.modify_avu("set", target, name, avu).await
    }

    /// ATOMIC_APPLY_METADATA_OPERATIONS: all operations or none. On failure the error carries
    /// the server's description of the failing operation.
    pub async fn apply_avus_atomically(
        &mut self,
        target: AvuTarget,
        name: &str,
        operations: &[AvuOperation],
        admin_mode: bool,
    ) -> Result<()> {
        let ops: Vec<Value> = operations
            .iter()
            .map(|op| {
                let (kind, avu) = match op {
                    AvuOperation::Add(a) => ("add", a),
                    AvuOperation::Remove(a) => ("remove", a),
                };
                let mut v = json!({"operation": kind, "attribute": avu.attribute, "value": avu.value});
                if !avu.units.is_empty() {
                    v["units"] = Value::String(avu.units.clone());
                }
                v
            })
            .collect();
        let input = json!({"admin_mode": admin_mode, "entity_name": name, "entity_type": target.entity_type(), "operations": ops});
        let request =
            Packet::api_request(api::ATOMIC_APPLY_METADATA_OPERATIONS_APN, &BinBytesBuf::from_json(&input));
        let reply = self.exchange(&request).await?;
        if reply.int_info < 0 {
            let detail = super::connection::json_body(&reply)
                .ok()
                .and_then(|v| v.get("error_message").and_then(Value::as_str).map(str::to_string))
                .or_else(|| reply_message(&reply));
            return Err(Error::Irods {
                api: request.int_info,
                code: ErrorCode(reply.int_info),
                message: detail,
            });
        }
        Ok(())
    }
}
