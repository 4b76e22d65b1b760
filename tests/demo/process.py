"""``tessera demo`` as a real subprocess, for the command's tests and the browser tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tessera.demo.provision import DATABASE_FILE

READY = "Press Ctrl-C to stop."


def free_ports(count: int = 3) -> list[int]:
    """Ports nobody listens on right now (the OS picks them; a tiny race with other programs remains)."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()
    return ports


def tessera_command() -> str:
    """The ``tessera`` script installed next to this interpreter."""
    return str(Path(sys.executable).with_name("tessera"))


def _interruptible() -> None:  # pragma: no cover - runs in the child
    # a shell without job control starts background commands with SIGINT ignored; a terminal's Ctrl-C is not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DemoProcess:
    """Start ``tessera demo`` on free ports; its output goes to files in ``log_dir``."""

    def __init__(
        self,
        data_dir: Path | None,
        log_dir: Path,
        *,
        env: dict[str, str] | None = None,
        ports: list[int] | None = None,
        sigint_default: bool = False,
        umask: int = -1,
    ) -> None:
        self.auth_port, self.api_port, self.app_port = ports or free_ports()
        self.data_dir = data_dir
        self.stdout_path = log_dir / "demo.stdout"
        self.stderr_path = log_dir / "demo.stderr"
        args = [
            tessera_command(),
            "demo",
            "--auth-port",
            str(self.auth_port),
            "--api-port",
            str(self.api_port),
            "--app-port",
            str(self.app_port),
        ]
        if data_dir is not None:
            args += ["--data-dir", str(data_dir)]
        self._out = self.stdout_path.open("wb")
        self._err = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            env={**os.environ, **(env or {})},
            preexec_fn=_interruptible if sigint_default else None,
            umask=umask,  # -1: this process's
        )

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.auth_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def database_url(self) -> str:
        assert self.data_dir is not None
        return f"sqlite:///{self.data_dir / DATABASE_FILE}"

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while READY not in self.stdout():
            if self.process.poll() is not None:
                raise AssertionError(f"tessera demo exited with {self.process.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"tessera demo not ready after {timeout} s:\n{self.stdout()}\n{self.stderr()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.close()

    def close(self) -> None:
        """Leave nothing behind, whatever happened."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._out.close()
        self._err.close()
