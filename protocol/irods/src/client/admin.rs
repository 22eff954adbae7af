//! GENERAL_ADMIN (701): user and resource administration, for tests and set-up tools.

use super::connection::Connection;
use super::error::Result;
use crate::codes::api;
use crate::frame::Packet;
use crate::messages::GeneralAdminInp;

impl Connection {
    /// Sends `iadmin`-style arguments, e.g. `["add", "user", "alice", "rodsuser", "tempZone"]`.
    pub async fn general_admin(&mut self, args: &[&str]) -> Result<()> {
        self.call(&Packet::api_request(api::GENERAL_ADMIN_AN, &GeneralAdminInp::from_args(args))).await?;
        Ok(())
    }
}
