//! The state of one connection (who the client is, its open descriptors and query cursors) and
//! the dispatch of API numbers to handlers.

use std::sync::Arc;

use irods_proto::api;
use irods_proto::messages::{RError, StartupPack};
use irods_proto::{PackStruct, Packet};
use tracing::debug;

use super::ServerState;
use super::descriptors::Descriptors;
use crate::catalog::users::User;
use crate::error::{ApiError, ApiResult, codes};

/// APIs a client may call before authenticating (iRODS's NO_USER_AUTH APIs that PRC uses).
const NO_AUTH_APIS: &[i32] = &[
    api::AUTH_REQUEST_AN,
    api::AUTH_RESPONSE_AN,
    api::AUTHENTICATION_APN,
    api::GET_MISC_SVR_INFO_AN,
    api::GET_LIBRARY_FEATURES_AN,
];

pub struct Session {
    pub state: Arc<ServerState>,
    pub startup: StartupPack,
    /// The user the connection acts as (the client user) once authenticated.
    pub user: Option<User>,
    /// The authenticated (proxy) user.
    pub proxy_user: Option<User>,
    /// The outstanding authentication challenge (64 ASCII characters).
    pub challenge: Option<Vec<u8>>,
    /// Hex of the first 16 challenge bytes; keys password obfuscation in admin requests.
    pub session_signature: String,
    /// The proxy user's password, kept only to decode obfuscated passwords in admin requests.
    pub auth_password: String,
    pub descriptors: Descriptors,
}

/// Decodes a request body, mapping malformed XML to SYS_PACK_INSTRUCT_FORMAT_ERR.
pub fn decode<T: PackStruct>(packet: &Packet) -> ApiResult<T> {
    if packet.body.is_empty() {
        return Err(ApiError::new(codes::SYS_API_INPUT_ERR, "this API needs an input struct"));
    }
    T::decode(&packet.body).map_err(|e| ApiError::new(codes::SYS_PACK_INSTRUCT_FORMAT_ERR, e.to_string()))
}

/// A success reply with only a status.
pub fn ok(int_info: i32) -> ApiResult<Packet> {
    Ok(Packet::api_reply_empty(int_info))
}

/// A success reply with an output struct.
pub fn ok_with(int_info: i32, output: &impl PackStruct) -> ApiResult<Packet> {
    Ok(Packet::api_reply(int_info, output))
}

impl Session {
    pub fn new(state: Arc<ServerState>, startup: StartupPack) -> Self {
        Session {
            state,
            startup,
            user: None,
            proxy_user: None,
            challenge: None,
            session_signature: String::new(),
            auth_password: String::new(),
            descriptors: Descriptors::default(),
        }
    }

    /// The authenticated client user (handlers run only after authentication).
    pub fn user(&self) -> ApiResult<&User> {
        self.user.as_ref().ok_or_else(|| ApiError::new(codes::SYS_NO_API_PRIV, "not authenticated"))
    }

    pub fn zone(&self) -> &str {
        crate::catalog::ZONE
    }

    /// Answers one API request; every failure becomes an error reply.
    pub fn dispatch(&mut self, packet: &Packet) -> Packet {
        let number = packet.int_info;
        let result = if self.user.is_none() && !NO_AUTH_APIS.contains(&number) {
            Err(ApiError::new(codes::SYS_NO_API_PRIV, "authenticate first"))
        } else {
            self.call(number, packet)
        };
        match result {
            Ok(reply) => reply,
            Err(error) => {
                debug!(api = number, code = error.code, message = %error.message, "request failed");
                Packet::api_reply_empty(error.code).with_error(&RError::single(error.code, error.message))
            }
        }
    }

    fn call(&mut self, number: i32, packet: &Packet) -> ApiResult<Packet> {
        match number {
            api::AUTH_REQUEST_AN => self.auth_request(),
            api::AUTH_RESPONSE_AN => self.auth_response(packet),
            api::AUTHENTICATION_APN => self.authentication(packet),
            api::GET_MISC_SVR_INFO_AN => self.misc_server_info(),
            api::GET_LIBRARY_FEATURES_AN => self.library_features(),
            api::GEN_QUERY_AN => self.gen_query(packet),
            api::COLL_CREATE_AN => self.coll_create(packet),
            api::RM_COLL_AN => self.rm_coll(packet),
            api::DATA_OBJ_CREATE_AN => self.data_obj_open(packet, true),
            api::DATA_OBJ_OPEN_AN => self.data_obj_open(packet, false),
            api::DATA_OBJ_READ_AN => self.data_obj_read(packet),
            api::DATA_OBJ_WRITE_AN => self.data_obj_write(packet),
            api::DATA_OBJ_LSEEK_AN => self.data_obj_lseek(packet),
            api::DATA_OBJ_CLOSE_AN => self.data_obj_close(packet),
            api::REPLICA_CLOSE_APN => self.replica_close(packet),
            api::GET_FILE_DESCRIPTOR_INFO_APN => self.file_descriptor_info(packet),
            api::DATA_OBJ_UNLINK_AN => self.data_obj_unlink(packet),
            api::DATA_OBJ_TRIM_AN => self.data_obj_trim(packet),
            api::DATA_OBJ_RENAME_AN => self.data_obj_rename(packet),
            api::DATA_OBJ_CHKSUM_AN => self.data_obj_chksum(packet),
            api::DATA_OBJ_TRUNCATE_AN => self.data_obj_truncate(packet, false),
            api::REPLICA_TRUNCATE_AN => self.data_obj_truncate(packet, true),
            api::DATA_OBJ_COPY_AN => self.data_obj_copy(packet),
            api::DATA_OBJ_REPL_AN => self.data_obj_repl(packet),
            api::OBJ_STAT_AN => self.obj_stat(packet),
            api::TOUCH_APN => self.touch(packet),
            api::PHY_PATH_REG_AN => self.phy_path_reg(packet),
            api::MOD_DATA_OBJ_META_AN => self.mod_data_obj_meta(packet),
            api::MOD_AVU_METADATA_AN => self.mod_avu_metadata(packet),
            api::ATOMIC_APPLY_METADATA_OPERATIONS_APN => self.atomic_metadata(packet),
            api::GENERAL_ADMIN_AN => self.general_admin(packet),
            api::USER_ADMIN_AN => self.user_admin(packet),
            api::MOD_ACCESS_CONTROL_AN => self.mod_access_control(packet),
            EXEC_MY_RULE_AN => self.exec_my_rule(packet),
            RULE_EXEC_DEL_AN => self.rule_exec_del(packet),
            super::query::SPECIFIC_QUERY_AN => self.specific_query(packet),
            _ => Err(ApiError::new(codes::SYS_UNMATCHED_API_NUM, format!("API {number} is not supported"))),
        }
    }

    /// Closes every open descriptor (finalising replicas opened for writing).
    pub fn close_all(&mut self) {
        let open: Vec<i32> = self.descriptors.open_indexes();
        for fd in open {
            if let Some(open) = self.descriptors.take(fd) {
                let _ = self.finalize(open);
            }
        }
    }
}

/// `EXEC_MY_RULE_AN`: PRC's tests use it for `msiSleep` and to queue a delayed rule.
pub const EXEC_MY_RULE_AN: i32 = 625;
/// `RULE_EXEC_DEL_AN`: removes a queued delayed rule.
pub const RULE_EXEC_DEL_AN: i32 = 624;
