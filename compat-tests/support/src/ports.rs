use std::net::TcpListener;

/// A loopback TCP port that was free a moment ago.
///
/// The port is found by binding port 0 and releasing it; another process could grab it in between,
/// which callers accept by retrying a failed server start.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding an ephemeral loopback port")
}
