use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, free_port, wait_until};

/// A private `redis-server` on 127.0.0.1 and a free port, with its own empty directory.
///
/// Persistence is off unless started with [`RedisServer::start_with_aof`]; the server dies with
/// the guard. Tests use distinct databases of one server or distinct servers freely.
pub struct RedisServer {
    port: u16,
    aof: bool,
    dir: tempfile::TempDir,
    process: Option<ChildGuard>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_persistent(false)
    }

    /// With `appendonly yes` and `appendfsync always`, as operators who care about their queue
    /// run it: a [`RedisServer::kill`] and [`RedisServer::restart`] lose nothing acknowledged.
    pub fn start_with_aof() -> Self {
        Self::start_persistent(true)
    }

    fn start_persistent(aof: bool) -> Self {
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let started = tempfile::tempdir().map_err(|e| e.to_string()).and_then(|dir| {
                let mut server = Self { port: free_port(), aof, dir, process: None };
                server.launch().map(|()| server)
            });
            match started {
                Ok(server) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("redis.log");
        let appendonly = if self.aof { "yes" } else { "no" };
        let child = Command::new(redis_server_program())
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", ""])
            .args(["--appendonly", appendonly, "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning redis-server (install it with scripts/setup): {e}"))?;
        let mut process = ChildGuard::new("redis-server", child);
        let port = self.port;
        let up = wait_until(Duration::from_secs(10), || ping(port));
        if !up {
            let exited = process.wait_timeout(Duration::from_millis(10)).is_some();
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "redis-server on port {port} did not answer (exited: {exited}); log:\n{log_text}"
            ));
        }
        self.process = Some(process);
        Ok(())
    }

    /// SIGKILL, as an OOM killer does; the directory (and its AOF) stays.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal(libc::SIGKILL);
            let _ = process.wait_timeout(Duration::from_secs(10));
        }
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(error) = self.launch() {
            panic!("could not restart redis-server: {error}");
        }
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
