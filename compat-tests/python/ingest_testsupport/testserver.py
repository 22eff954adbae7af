import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .ports import free_port


class IrodsTestServer:
    """The project's ``irods-testserver`` on a free loopback port with a private data directory.

    ``env_file`` is an ``irods_environment.json`` for python-irodsclient (user ``rods``, zone
    ``tempZone``); ``environ()`` gives the ``IRODS_*`` variables the reference package reads.
    """

    def __init__(self, binary: str, data_dir: str | None = None):
        self.binary = binary
        self.data_dir = data_dir
        self._own_dir = data_dir is None
        self.port = None
        self.process = None
        self.env_file = None

    def start(self) -> "IrodsTestServer":
        if self.data_dir is None:
            self.data_dir = tempfile.mkdtemp(prefix="irods-testserver-")
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = free_port()
        self.env_file = os.path.join(self.data_dir, "irods_environment.json")
        self._launch(15.0)
        return self

    def _launch(self, timeout: float) -> None:
        log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--data-dir", self.data_dir, "--env-file", self.env_file],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"irods-testserver exited; see {self.data_dir}/server.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                if os.path.exists(self.env_file):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("irods-testserver did not start listening")

    def crash(self) -> None:
        """SIGKILL the server; its catalog and vaults stay in the data directory."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def restart(self, timeout: float = 30.0) -> None:
        """Start the server again on the same port and data directory (after :meth:`crash`)."""
        if self.process is not None:
            self.crash()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._launch(15.0)
                return
            except RuntimeError:
                # The port can stay unbindable for a moment after the kill.
                if self.process is not None:
                    self.process.kill()
                    self.process.wait()
                    self.process = None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def environ(self) -> dict:
        with open(self.env_file) as f:
            env = json.load(f)
        return {
            "IRODS_HOST": env["irods_host"],
            "IRODS_PORT": str(env["irods_port"]),
            "IRODS_USER_NAME": env["irods_user_name"],
            "IRODS_ZONE_NAME": env["irods_zone_name"],
            "IRODS_PASSWORD": "rods",
            "IRODS_ENVIRONMENT_FILE": self.env_file,
        }

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self) -> "IrodsTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
