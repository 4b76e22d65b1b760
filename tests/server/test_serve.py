"""``tessera serve`` over a real socket: two worker processes, the machine endpoints end to end, and an
access log with one line per request that never holds a token or secret."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tessera.cli import main
from tessera.tokens import digest

pytestmark = pytest.mark.slow

TESSERA = Path(sys.executable).with_name("tessera")
ACCESS_LINE = re.compile(
    r"request method=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>\d{3}) "
    r"duration_ms=(?P<duration>\d+\.\d+) client_id=(?P<client_id>\S+)$"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@dataclass
class Server:
    base_url: str
    process: "subprocess.Popen[bytes]"
    log_path: Path
    service: dict[str, Any]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def access_lines(self) -> list[dict[str, str]]:
        lines = [line for line in self.log().splitlines() if " tessera.access " in line]
        parsed = [ACCESS_LINE.search(line) for line in lines]
        assert all(parsed), lines
        return [m.groupdict() for m in parsed if m]

    def stop(self) -> int:
        """SIGTERM, as a process manager would, and wait for a graceful exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def _tessera(args: list[str], env: dict[str, str]) -> str:
    """Run a CLI command in-process (quicker than another interpreter; the server itself is a real process)."""
    unset: dict[str, str | None] = {name: None for name in os.environ if name.startswith("TESSERA_")}
    result = CliRunner().invoke(main, args, env={**unset, **env})
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = _free_port()
    settings = {
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TESSERA_ISSUER": f"http://127.0.0.1:{port}",
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | settings
    _tessera(["db", "upgrade"], settings)
    service = json.loads(_tessera(["clients", "create", "--name", "Service", "--introspect", "--json"], settings))
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(TESSERA), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Server(f"http://127.0.0.1:{port}", process, log_path, service)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"tessera serve exited with {process.returncode}:\n{running.log()}")
            try:
                if httpx.get(f"{running.base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"tessera serve did not answer /healthz within 30 s:\n{running.log()}")
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


def test_client_credentials_introspect_revoke_over_a_socket(server: Server) -> None:
    client_id, secret = server.service["client_id"], server.service["client_secret"]
    # the master and its two workers (the second may still be booting when the first answers /healthz)
    deadline = time.monotonic() + 15
    while len(_children(server.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_children(server.process.pid)) == 2

    with httpx.Client(base_url=server.base_url, auth=(client_id, secret), timeout=10) as http:
        issued = http.post("/oauth/token", data={"grant_type": "client_credentials"})
        assert issued.status_code == 200, issued.text
        assert issued.headers["Cache-Control"] == "no-store"
        access = issued.json()["access_token"]
        assert access.startswith("tsr_at_") and issued.json()["scope"] == "api"

        active = http.post("/oauth/introspect", data={"token": access})
        assert active.status_code == 200
        body = active.json()
        assert body["active"] is True and body["client_id"] == client_id and body["sub"] == client_id

        revoked = http.post("/oauth/revoke", data={"token": access})
        assert revoked.status_code == 200

        inactive = http.post("/oauth/introspect", data={"token": access})
        assert inactive.status_code == 200 and inactive.json() == {"active": False}

        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok"

    # the lines are written a moment after each request; stopping the server writes every one still queued
    assert server.stop() == 0
    expected = [
        ("POST", "/oauth/token", "200", client_id),
        ("POST", "/oauth/introspect", "200", client_id),
        ("POST", "/oauth/revoke", "200", client_id),
        ("POST", "/oauth/introspect", "200", client_id),
        ("GET", "/readyz", "200", "-"),
    ]
    lines = server.access_lines()
    requests = [(m["method"], m["path"], m["status"], m["client_id"]) for m in lines if m["path"] != "/healthz"]
    assert requests == expected  # one line per request, none missing, none doubled
    assert all(float(m["duration"]) >= 0 for m in lines)
    assert any(m["path"] == "/healthz" and m["status"] == "200" for m in lines)

    log = server.log()
    assert "Traceback" not in log
    started = [line for line in log.splitlines() if " tessera Tessera " in line]
    assert len(started) == 1, started  # one start-up line, from the master
    assert f"on {server.base_url} " in started[0] and "2 worker(s) x 4 thread(s), SQLite " in started[0]
    assert started[0].endswith(", Redis off, development")
    for value in (secret, access, digest(secret), digest(access), secret[7:-6], access[7:-6]):
        assert value not in log
    assert not _children(server.process.pid)


def test_unauthenticated_and_malformed_requests_are_logged_without_secrets(server: Server) -> None:
    client_id = server.service["client_id"]
    wrong_secret = server.service["client_secret"][:-1] + "x"
    made_up = "tsr_at_" + "A" * 49
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        refused = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, wrong_secret))
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        unknown = http.post(
            "/oauth/introspect", data={"token": made_up}, auth=(client_id, server.service["client_secret"])
        )
        assert unknown.status_code == 200 and unknown.json() == {"active": False}

    assert server.stop() == 0
    requests = [(m["method"], m["path"], m["status"]) for m in server.access_lines() if m["path"] != "/healthz"]
    assert requests == [("POST", "/oauth/token", "401"), ("POST", "/oauth/introspect", "200")]
    log = server.log()
    for value in (wrong_secret, server.service["client_secret"], made_up):
        assert value not in log


def _maps(pid: int) -> str:
    """The files ``pid`` has mapped (Linux /proc): a native library appears there once it is loaded."""
    return Path(f"/proc/{pid}/maps").read_text()


def test_a_worker_loads_cryptography_only_when_it_first_signs(server: Server) -> None:
    """joserfc and ``cryptography`` cost each worker about 10 MiB: the master checks the signing keys in a child
    process, and a worker loads them with its first ID token, DPoP proof, client assertion or JWKS; a worker that
    only issues and introspects opaque tokens never does."""
    auth = (server.service["client_id"], server.service["client_secret"])
    deadline = time.monotonic() + 15
    while len(_children(server.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(server.process.pid)
    assert len(workers) == 2
    for _ in range(10):  # each on a new connection, so both workers serve some
        token = httpx.post(f"{server.base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
        assert token.status_code == 200, token.text
        answer = httpx.post(
            f"{server.base_url}/oauth/introspect", data={"token": token.json()["access_token"]}, auth=auth
        )
        assert answer.json()["active"] is True
    for pid in [server.process.pid, *workers]:
        assert "cryptography" not in _maps(pid), pid

    jwks = httpx.get(f"{server.base_url}/oauth/jwks")
    assert jwks.status_code == 200 and jwks.json()["keys"]
    assert any("cryptography" in _maps(pid) for pid in workers)
    assert "cryptography" not in _maps(server.process.pid)
