import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .ports import free_port


class RedisServer:
    """A private ``redis-server`` on 127.0.0.1 and a free port.

    Persistence is off unless ``appendonly`` is set: then the server keeps an append-only file
    (``appendfsync`` ``always`` by default, as a site that cares about its queue runs it) in its
    directory, and :meth:`crash` + :meth:`restart` bring it back on the same port with its data,
    as a supervisor restarting it after an OOM kill would. With ``appendonly`` off,
    :meth:`restart` comes back empty (a server run without persistence).

    Use as a context manager, or call ``start()``/``stop()``::

        with RedisServer() as redis:
            os.environ["CELERY_BROKER_URL"] = redis.url(0)
    """

    def __init__(self, program: str | None = None, *, appendonly: bool = False, appendfsync: str = "always"):
        self.program = program or os.environ.get("REDIS_SERVER", "redis-server")
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.port = None
        self.dir = None
        self.process = None

    def _command(self) -> list:
        cmd = [self.program, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
               "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")]
        if self.appendonly:
            cmd += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        else:
            cmd += ["--appendonly", "no"]
        return cmd

    def start(self, attempts: int = 5) -> "RedisServer":
        last_error = None
        for _ in range(attempts):
            self.dir = tempfile.mkdtemp(prefix="ingest-redis-")
            self.port = free_port()
            self.process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_for_pong(10.0):
                return self
            last_error = self._log_text()
            self.stop()
        raise RuntimeError(f"redis-server did not start: {last_error}")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def crash(self) -> None:
        """SIGKILL the server (its directory, and so its append-only file, stays)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def restart(self, timeout: float = 30.0) -> None:
        """Start the server again on the same port and directory (after :meth:`crash`)."""
        if self.process is not None:
            self.crash()
        if not self.appendonly:
            for name in os.listdir(self.dir):
                if name != "redis.log":
                    path = os.path.join(self.dir, name)
                    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        deadline = time.monotonic() + timeout
        while True:
            self.process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_for_pong(10.0):
                return
            self.process.kill()
            self.process.wait()
            self.process = None
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not come back on port {self.port}: {self._log_text()[-2000:]}")
            time.sleep(0.2)  # the port may still be in TIME_WAIT for a moment

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_for_pong(self, limit: float) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def _log_text(self) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log")) as log:
                return log.read()
        except OSError:
            return ""
