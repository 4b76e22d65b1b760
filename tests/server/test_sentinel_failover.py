"""Redis behind Sentinel: a master, a replica and a sentinel of their own (``redis-server``, on free loopback
ports, in a temporary directory), a ``tessera serve`` node and a resource server (``examples/flask_api.py``) that
both reach Redis through ``redis+sentinel://``. The master is failed over (``SENTINEL FAILOVER``, then by killing
the new one): the node's publisher, the resource server's stream subscriber and the rate limits find the new
master by themselves, and a revocation made after each failover reaches the resource server's cache; so does the
DPoP replay cache.

The machine's own Redis is never touched. Skipped where ``redis-server`` is not installed. The timings are printed
(``pytest -s``) and kept in the test's report (``record_property``).
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tessera.dpop import RedisReplayCache
from tests.conftest import unused_port
from tests.server.test_several_nodes import TESSERA, Cluster, Process, _cli, _within

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed"),
]

SERVICE = "mymaster"


@dataclass
class Sentinel:
    ports: dict[str, int]
    processes: dict[str, "subprocess.Popen[bytes]"]

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.ports['sentinel']}/{SERVICE}/0"

    def redis(self, name: str) -> "redis.Redis":
        return redis.Redis(port=self.ports[name], socket_timeout=2)

    def master(self) -> str:
        answer: Any = self.redis("sentinel").sentinel_get_master_addr_by_name(SERVICE)  # type: ignore[no-untyped-call]
        port = answer[1]
        return next(name for name, p in self.ports.items() if p == int(port))

    def replicas_known(self) -> int:
        return len(self.redis("sentinel").sentinel_slaves(SERVICE))  # type: ignore[no-untyped-call]


def _redis_server(args: list[str], log: Path) -> "subprocess.Popen[bytes]":
    with log.open("ab") as out:
        return subprocess.Popen(["redis-server", *args], stdout=out, stderr=subprocess.STDOUT)


def _answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Sentinel]:
    ports = {name: unused_port() for name in ("one", "two", "sentinel")}
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    processes = {
        "one": _redis_server(["--port", str(ports["one"]), *common], tmp_path / "one.log"),
        "two": _redis_server(
            ["--port", str(ports["two"]), "--replicaof", "127.0.0.1", str(ports["one"]), *common], tmp_path / "two.log"
        ),
    }
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites its file as it learns the set-up
    conf.write_text(
        f"port {ports['sentinel']}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {ports['one']} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 1000\nsentinel failover-timeout {SERVICE} 10000\n"
    )
    processes["sentinel"] = _redis_server([str(conf), "--sentinel"], tmp_path / "sentinel.log")
    running = Sentinel(ports, processes)
    try:
        _within(20, lambda: all(_answers(port) for port in ports.values()))
        _within(20, lambda: running.replicas_known() == 1)
        yield running
    finally:
        for process in processes.values():
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def cluster(sentinel: Sentinel, tmp_path: Path) -> Iterator[Cluster]:
    ports = {name: unused_port() for name in ("a", "api1")}
    issuer = f"http://127.0.0.1:{ports['a']}"
    settings = {
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'tessera.db'}",
        "TESSERA_ISSUER": issuer,
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
        "TESSERA_REDIS_URL": sentinel.url,
        # counted in Redis, through Sentinel like everything else
        "TESSERA_TOKEN_LIMIT": "1000/minute",
    }
    _cli(["db", "upgrade"], settings)
    create = ["clients", "create", "--grant-type", "client_credentials", "--json"]
    api_client = json.loads(_cli([*create, "--name", "API", "--introspect"], settings))
    caller = json.loads(_cli([*create, "--name", "Caller"], settings))
    base = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    node = Process(
        "node a",
        issuer,
        [str(TESSERA), "serve", "--port", str(ports["a"]), "--workers", "1"],
        base | settings,
        tmp_path / "node-a.log",
    )
    api = Process(
        "api1",
        f"http://127.0.0.1:{ports['api1']}",
        [sys.executable, "-m", "flask", "--app", "examples.flask_api:from_environment()", "run"]
        + ["--port", str(ports["api1"]), "--no-reload"],
        base
        | {
            "TESSERA_ISSUER": issuer,
            "TESSERA_REDIS_URL": sentinel.url,
            "API_CLIENT_ID": api_client["client_id"],
            "API_CLIENT_SECRET": api_client["client_secret"],
            "API_INTROSPECTION_ENDPOINT": issuer + "/oauth/introspect",
        },
        tmp_path / "api1.log",
    )
    running = Cluster(settings, {"a": node}, {"api1": api}, api_client, caller)
    try:
        node.start("/healthz")
        api.start("/api/data")
        yield running
    finally:
        api.stop()
        node.stop()
        for process in (api, node):
            assert "Traceback" not in process.log(), process.log()


def _rate_limit_keys(sentinel: Sentinel, name: str, client_id: str) -> list[bytes]:
    return list(sentinel.redis(name).scan_iter(match=f"tessera:ratelimit*{client_id}*"))


def _failover_and_revoke(
    cluster: Cluster, sentinel: Sentinel, replay: RedisReplayCache, failover: str, record: dict[str, float]
) -> None:
    """Fail the master over (``failover``: ``command`` or ``kill``), then revoke a token cached by the resource
    server and see it refused there; a client created afterwards is counted on the new master, and a DPoP proof
    seen afterwards is remembered there."""
    tokens = [cluster.token() for _ in range(3)]
    assert all(cluster.call("api1", token) == 200 for token in tokens)  # cached by the API for 60 s
    old = sentinel.master()
    started = time.monotonic()
    if failover == "command":
        sentinel.redis("sentinel").execute_command("SENTINEL", "FAILOVER", SERVICE)  # type: ignore[no-untyped-call]
    else:
        sentinel.processes[old].kill()
        sentinel.processes[old].wait(timeout=10)
    _within(30, lambda: sentinel.master() != old)
    new = sentinel.master()
    _within(10, lambda: sentinel.redis(new).info("replication")["role"] == "master")
    record[f"{failover}: sentinel names the new master, s"] = time.monotonic() - started

    revoked = time.monotonic()
    cluster.revoke(tokens[0])  # through the node's publisher, on the new master
    record[f"{failover}: revocation refused by the API's cache after, s"] = _within(
        10, lambda: cluster.call("api1", tokens[0]) == 401
    )
    record[f"{failover}: failover to revocation refused, s"] = time.monotonic() - started
    assert time.monotonic() - revoked < 10
    assert all(cluster.call("api1", token) == 200 for token in tokens[1:])  # the cache stayed warm

    late = json.loads(
        _cli(
            ["clients", "create", "--grant-type", "client_credentials", "--json", "--name", f"Late {failover}"],
            cluster.settings,
        )  # fmt: skip
    )
    cluster.caller = late
    _within(10, lambda: bool(cluster.token()) and bool(_rate_limit_keys(sentinel, new, late["client_id"])))

    def remembered_on_the_new_master() -> bool:
        key = secrets.token_hex(8)
        return (
            replay.first_use_of(key)
            and not replay.first_use_of(key)
            and bool(sentinel.redis(new).exists(f"ha:dpop:{key}"))
        )

    _within(10, remembered_on_the_new_master)


def test_publisher_subscriber_and_rate_limits_follow_the_master_through_sentinel(
    cluster: Cluster, sentinel: Sentinel, record_property: Callable[[str, object], None]
) -> None:
    first = cluster.token()
    assert cluster.call("api1", first) == 200
    cluster.revoke(first)
    assert _within(1, lambda: cluster.call("api1", first) == 401) < 1
    assert _rate_limit_keys(sentinel, sentinel.master(), cluster.caller["client_id"])

    replay = RedisReplayCache(sentinel.url, prefix="ha")
    record: dict[str, float] = {}
    _failover_and_revoke(cluster, sentinel, replay, "command", record)
    # the old master is a replica now; killing the new one makes Sentinel promote it back
    _within(20, lambda: sentinel.replicas_known() == 1)
    _within(20, lambda: sentinel.redis("sentinel").sentinel_master(SERVICE)["num-slaves"] == 1)  # type: ignore[no-untyped-call]
    _failover_and_revoke(cluster, sentinel, replay, "kill", record)
    replay.close()

    for name, seconds in record.items():
        record_property(name, round(seconds, 3))
        print(f"sentinel failover, {name}: {seconds:.3f}")
