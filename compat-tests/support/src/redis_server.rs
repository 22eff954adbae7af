use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, free_port, wait_until};

/// A private `redis-server` on 127.0.0.1 and a free port, with its own empty directory.
///
/// Persistence is off; the server dies with the guard. Tests use distinct databases of one
/// server or distinct servers freely.
pub struct RedisServer {
    port: u16,
    _dir: tempfile::TempDir,
    _process: ChildGuard,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut last_error = String::new();
        for _attempt in 0..5 {
            match Self::try_start() {
                Ok(server) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    fn try_start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let log = dir.path().join("redis.log");
        let child = Command::new(redis_server_program())
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning redis-server (install it with scripts/setup): {e}"))?;
        let mut process = ChildGuard::new("redis-server", child);
        let up = wait_until(Duration::from_secs(10), || ping(port));
        if !up {
            let exited = process.wait_timeout(Duration::from_millis(10)).is_some();
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "redis-server on port {port} did not answer (exited: {exited}); log:\n{log_text}"
            ));
        }
        Ok(Self { port, _dir: dir, _process: process })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/<db>`, the form Celery's `CELERY_BROKER_URL` takes.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{}", self.port, db)
    }
}

fn redis_server_program() -> PathBuf {
    std::env::var_os("REDIS_SERVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// Sends an inline PING and checks for +PONG.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+PONG")
}
