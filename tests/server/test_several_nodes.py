"""Several nodes on PostgreSQL and Redis: two ``tessera serve`` processes and two resource servers with caches
(``examples/flask_api.py``), each a real process on its own loopback port.

Revocation through node A reaches both resource servers' caches within a second; a client deleted (by the CLI,
as by any node) is refused by node B at once instead of after its 5-second cache; a resource server paused while
revocations happen applies them when it runs again, and one restarted refuses them too.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import reset_postgres, unused_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent.parent
TESSERA = Path(sys.executable).with_name("tessera")


@dataclass
class Process:
    name: str
    base_url: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: "subprocess.Popen[bytes] | None" = field(default=None)

    def start(self, ready: str) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"
            try:
                if httpx.get(self.base_url + ready, timeout=2).status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{self.name} did not answer within 30 s:\n{self.log()}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _cli(args: list[str], env: dict[str, str]) -> str:
    """A ``tessera`` command in a process of its own, as an operator runs it (and its connections end with it)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    result = subprocess.run([str(TESSERA), *args], env=base | env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass
class Cluster:
    settings: dict[str, str]
    nodes: dict[str, Process]
    apis: dict[str, Process]
    api_client: dict[str, str]
    caller: dict[str, str]

    def token(self, node: str = "a") -> str:
        response = httpx.post(
            self.nodes[node].base_url + "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "api"},
            auth=(self.caller["client_id"], self.caller["client_secret"]),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def revoke(self, token: str, node: str = "a") -> None:
        response = httpx.post(
            self.nodes[node].base_url + "/oauth/revoke",
            data={"token": token},
            auth=(self.caller["client_id"], self.caller["client_secret"]),
            timeout=10,
        )
        assert response.status_code == 200

    def call(self, api: str, token: str) -> int:
        url = self.apis[api].base_url + "/api/data"
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def _within(seconds: float, condition: Callable[[], bool]) -> float:
    started = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - started
        if elapsed > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
def cluster(
    postgres_url: str, redis_url: str, redis_prefix: str, revocation_channel: str, tmp_path: Path
) -> Iterator[Cluster]:
    reset_postgres(postgres_url)
    ports = {name: unused_port() for name in ("a", "b", "api1", "api2")}
    issuer = f"http://127.0.0.1:{ports['a']}"  # one issuer, as behind a load balancer
    settings = {
        "TESSERA_DATABASE_URL": postgres_url,
        "TESSERA_ISSUER": issuer,
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
        "TESSERA_REDIS_URL": redis_url,
        "TESSERA_REDIS_PREFIX": redis_prefix,
        "TESSERA_REVOCATION_CHANNEL": revocation_channel,
    }
    _cli(["db", "upgrade"], settings)
    create = ["clients", "create", "--grant-type", "client_credentials", "--json"]
    api_client = json.loads(_cli([*create, "--name", "API", "--introspect"], settings))
    caller = json.loads(_cli([*create, "--name", "Caller"], settings))
    base = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    nodes = {
        name: Process(
            f"node {name}",
            f"http://127.0.0.1:{ports[name]}",
            [str(TESSERA), "serve", "--port", str(ports[name]), "--workers", "1"],
            base | settings,
            tmp_path / f"node-{name}.log",
        )
        for name in ("a", "b")
    }
    apis = {
        name: Process(
            name,
            f"http://127.0.0.1:{ports[name]}",
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "examples.flask_api:from_environment()",
                "run",
                "--port",
                str(ports[name]),
                "--no-reload",
            ],  # fmt: skip
            base
            | {
                "TESSERA_ISSUER": issuer,
                "TESSERA_REDIS_URL": redis_url,
                "TESSERA_REVOCATION_CHANNEL": revocation_channel,
                "API_CLIENT_ID": api_client["client_id"],
                "API_CLIENT_SECRET": api_client["client_secret"],
                # api1 asks node a, api2 node b
                "API_INTROSPECTION_ENDPOINT": f"http://127.0.0.1:{ports[node]}/oauth/introspect",
            },
            tmp_path / f"{name}.log",
        )
        for name, node in (("api1", "a"), ("api2", "b"))
    }
    running = Cluster(settings, nodes, apis, api_client, caller)
    try:
        for process in nodes.values():
            process.start("/healthz")
        for process in apis.values():
            process.start("/api/data")
        time.sleep(0.5)  # the APIs' subscribers connect to Redis
        yield running
    finally:
        for process in [*apis.values(), *nodes.values()]:
            process.stop()
        for process in [*apis.values(), *nodes.values()]:
            assert "Traceback" not in process.log(), process.log()


def test_a_revocation_through_node_a_is_refused_by_both_resource_servers_within_a_second(cluster: Cluster) -> None:
    tokens = [cluster.token() for _ in range(5)]
    for token in tokens:
        assert cluster.call("api1", token) == 200 and cluster.call("api2", token) == 200  # both cache it (60 s)
    for token in tokens:
        cluster.revoke(token, "a")
        refused = lambda token=token: cluster.call("api1", token) == 401 and cluster.call("api2", token) == 401  # noqa: E731
        assert _within(1, refused) < 1


def test_a_client_deleted_is_refused_by_node_b_at_once(cluster: Cluster) -> None:
    auditor = json.loads(
        _cli(
            ["clients", "create", "--name", "Auditor", "--grant-type", "client_credentials", "--introspect", "--json"],
            cluster.settings,
        )  # fmt: skip
    )

    def introspect_at_b() -> int:
        response = httpx.post(
            cluster.nodes["b"].base_url + "/oauth/introspect",
            data={"token": "tsr_at_unknown"},
            auth=(auditor["client_id"], auditor["client_secret"]),
            timeout=10,
        )
        return response.status_code

    assert introspect_at_b() == 200  # node b caches the client for 5 s
    _cli(["clients", "delete", auditor["client_id"]], cluster.settings)
    assert _within(0.5, lambda: introspect_at_b() == 401) < 0.5


def test_a_resource_server_paused_or_restarted_while_revocations_happen_catches_up(cluster: Cluster) -> None:
    tokens = [cluster.token() for _ in range(6)]
    for token in tokens:
        assert cluster.call("api2", token) == 200
    api2 = cluster.apis["api2"]
    assert api2.process is not None
    # paused: its cache and its position in the stream stay as they were, and it hears nothing
    api2.process.send_signal(signal.SIGSTOP)
    try:
        for token in tokens[:3]:
            cluster.revoke(token, "a")
    finally:
        api2.process.send_signal(signal.SIGCONT)
    _within(2, lambda: all(cluster.call("api2", token) == 401 for token in tokens[:3]))
    assert all(cluster.call("api2", token) == 200 for token in tokens[3:])

    # stopped and started again, with revocations meanwhile: nothing revoked is accepted afterwards
    api2.stop()
    cluster.revoke(tokens[3], "b")
    api2.start("/api/data")
    assert cluster.call("api2", tokens[3]) == 401
    assert all(cluster.call("api2", token) == 200 for token in tokens[4:])
    cluster.revoke(tokens[4], "a")
    _within(1, lambda: cluster.call("api2", tokens[4]) == 401)
    assert cluster.call("api2", tokens[5]) == 200
