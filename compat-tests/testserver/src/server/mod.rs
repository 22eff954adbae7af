//! The network side: accept connections, run the iRODS handshake, and dispatch API requests.
//!
//! Each connection is one tokio task ([`connection`]). API handlers are synchronous (they touch
//! SQLite and local files) and run on tokio's blocking pool, one request at a time per
//! connection; a handler that panics costs its client the connection, never the server.

mod admin;
mod auth;
mod connection;
mod data;
mod descriptors;
mod metadata;
mod objects;
mod query;
mod register;
mod removal;
mod replication;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tracing::{debug, info};

use crate::catalog::Catalog;
use crate::genquery::Cursors;

/// The release this server claims to be. PRC picks its code paths from this (4.3 auth framework,
/// JSON plugin APIs, parallel transfers without the portal protocol).
pub const REL_VERSION: &str = "rods4.3.4";
pub const API_VERSION: &str = "d";

/// What every connection shares.
pub struct ServerState {
    pub catalog: Catalog,
    /// Replica tokens issued at open time, so parallel-transfer helpers on other connections can
    /// join an open replica: token -> (data id, replica number).
    pub replica_tokens: Mutex<HashMap<String, (i64, i64)>>,
    /// Open GenQuery cursors. Shared by all connections (a real server keeps them per agent)
    /// because python-irodsclient may continue a query on a different pooled connection.
    pub cursors: Mutex<Cursors>,
    pub boot_time: i64,
}

impl ServerState {
    pub fn new(catalog: Catalog) -> Self {
        let boot_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        ServerState {
            catalog,
            replica_tokens: Mutex::new(HashMap::new()),
            cursors: Mutex::new(Cursors::default()),
            boot_time,
        }
    }
}

/// Accepts connections until the listener fails; every connection runs in its own task.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>) -> std::io::Result<()> {
    info!(addr = %listener.local_addr()?, "listening");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Running out of file descriptors is transient; back off instead of spinning.
                debug!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            debug!(%peer, "connection opened");
            connection::run(stream, state).await;
            debug!(%peer, "connection closed");
        });
    }
}
