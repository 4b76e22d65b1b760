"""Operations against a real ``tessera serve --workers 2``: ``/metrics`` on its own loopback port, summed over both
workers, with exact counts after known traffic; every stderr line a JSON object with ``TESSERA_LOG_FORMAT=json``,
the request id of each response in its access line; the audit rows written by the workers."""

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.test_serve import TESSERA, Server, _children, _free_port, _tessera

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    port, metrics_port = _free_port(), _free_port()
    settings = {
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TESSERA_ISSUER": f"http://127.0.0.1:{port}",
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
        "TESSERA_LOG_FORMAT": "json",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "PROMETHEUS_"))} | settings
    _tessera(["db", "upgrade"], settings)
    service = json.loads(_tessera(["clients", "create", "--name", "Service", "--introspect", "--json"], settings))
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(TESSERA), "serve", "--port", str(port), "--workers", "2", "--metrics-port", str(metrics_port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    running = Server(f"http://127.0.0.1:{port}", process, log_path, service)
    try:
        deadline = time.monotonic() + 30
        while len(_children(process.pid)) < 2 or not _answers(f"{running.base_url}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tessera serve did not start:\n{running.log()}")
            time.sleep(0.1)
        yield running, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        running.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _eventually(url: str, expected: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> None:
    """The workers flush their counts a few times a second: wait (up to 10 s) until the sums are the expected ones,
    then check they stay so."""
    deadline = time.monotonic() + 10
    while True:
        samples = _samples(url)
        got = {key: samples.get(key) for key in expected}
        if got == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == expected


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def test_metrics_count_known_traffic_exactly_summed_over_both_workers(served: tuple[Server, str]) -> None:
    server, metrics_url = served
    at_start = _samples(metrics_url)
    for name in (
        "tessera_revocations_total",
        "tessera_refresh_reuse_detected_total",
        "tessera_rate_limited_total",
    ):
        assert at_start[(name, ())] == 0
    assert at_start[_key("tessera_tokens_issued_total", grant_type="client_credentials")] == 0
    assert at_start[_key("tessera_sign_ins_total", result="failure")] == 0
    assert at_start[_key("tessera_introspections_total", active="true")] == 0

    client_id, secret = server.service["client_id"], server.service["client_secret"]
    workers: set[str] = set()
    # new connections each time, so that both workers answer some of them
    tokens = []
    for _ in range(20):
        response = httpx.post(
            f"{server.base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert response.status_code == 200
        tokens.append(response.json()["access_token"])
        workers.add(response.headers["X-Request-Id"].split("-")[0])
    for token in tokens[:15]:
        answer = httpx.post(f"{server.base_url}/oauth/introspect", data={"token": token}, auth=(client_id, secret))
        assert answer.json()["active"] is True
    for _ in range(4):
        answer = httpx.post(f"{server.base_url}/oauth/introspect", data={"token": "x"}, auth=(client_id, secret))
        assert answer.json() == {"active": False}
    for token in tokens[:3]:
        assert (
            httpx.post(f"{server.base_url}/oauth/revoke", data={"token": token}, auth=(client_id, secret)).status_code
            == 200
        )
    assert httpx.post(f"{server.base_url}/oauth/token", data={"grant_type": "client_credentials"}).status_code == 401
    assert httpx.get(f"{server.base_url}/no/such/page").status_code == 404
    assert len(workers) == 2, "both workers should have answered"

    _eventually(
        metrics_url,
        {
            _key("tessera_tokens_issued_total", grant_type="client_credentials"): 20,
            _key("tessera_introspections_total", active="true"): 15,
            _key("tessera_introspections_total", active="false"): 4,
            _key("tessera_revocations_total"): 3,
            _key("tessera_http_requests_total", endpoint="/oauth/token", status="200"): 20,
            _key("tessera_http_requests_total", endpoint="/oauth/token", status="401"): 1,
            _key("tessera_http_requests_total", endpoint="/oauth/introspect", status="200"): 19,
            _key("tessera_http_requests_total", endpoint="/oauth/revoke", status="200"): 3,
            _key("tessera_http_requests_total", endpoint="other", status="404"): 1,
            _key("tessera_http_request_duration_seconds_count", endpoint="/oauth/introspect"): 19,
        },
    )
    # the metrics are never on the public listener
    assert httpx.get(f"{server.base_url}/metrics").status_code == 404


def test_json_logs_with_request_ids_and_the_audit_rows_of_the_workers(served: tuple[Server, str]) -> None:
    server, _ = served
    client_id, secret = server.service["client_id"], server.service["client_secret"]
    ids = []
    for sent in ("trace-abc.1", "bad id with spaces", None):
        headers = {"X-Request-Id": sent} if sent else {}
        response = httpx.post(
            f"{server.base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            headers=headers,
        )
        assert response.status_code == 200
        ids.append(response.headers["X-Request-Id"])
    assert ids[0] == "trace-abc.1" and ids[1] != "bad id with spaces" and ids[2]
    page = httpx.get(f"{server.base_url}/login")
    assert page.headers["X-Request-Id"]
    assert server.stop() == 0

    lines = server.log().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "tessera.access"]
    # two workers write their lines on their own writer threads: in any order between them
    assert sorted(r["request_id"] for r in access if r["path"] == "/oauth/token") == sorted(ids)
    assert any(r["path"] == "/login" and r["request_id"] == page.headers["X-Request-Id"] for r in access)
    audit = [r for r in records if r["logger"] == "tessera.audit"]
    assert sorted(r["request_id"] for r in audit) == sorted(ids)
    assert all(r["event"] == "token.issued" and r["client_id"] == client_id for r in audit)
    assert secret not in server.log()

    settings = {"TESSERA_DATABASE_URL": f"sqlite:///{server.log_path.parent / 'serve.db'}"}
    rows = [r for r in json.loads(_tessera(["audit", "list", "--json"], settings)) if r["event"] == "token.issued"]
    assert sorted(r["request_id"] for r in rows) == sorted(ids)
    assert all(r["address"] == "127.0.0.1" for r in rows)


def test_counts_survive_the_workers_being_replaced(served: tuple[Server, str]) -> None:
    """granian replaces every worker on SIGHUP; what the old ones counted stays in the sums."""
    server, metrics_url = served
    client_id, secret = server.service["client_id"], server.service["client_secret"]

    def issue() -> None:
        response = httpx.post(
            f"{server.base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert response.status_code == 200

    issued = _key("tessera_tokens_issued_total", grant_type="client_credentials")
    for _ in range(5):
        issue()
    _eventually(metrics_url, {issued: 5})
    before = set(_children(server.process.pid))
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while True:
        now = set(_children(server.process.pid))
        if len(now) == 2 and not now & before and _answers(f"{server.base_url}/healthz"):
            break
        assert time.monotonic() < deadline, f"the workers were not replaced: {before} -> {now}"
        time.sleep(0.2)
    issue()
    _eventually(metrics_url, {issued: 6})


def test_a_metrics_port_in_use_or_the_public_one_is_one_line(tmp_path: Path) -> None:
    import socket

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "PROMETHEUS_"))}
    env["TESSERA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'serve.db'}"
    port = _free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        argv = [str(TESSERA), "serve", "--port", str(port), "--metrics-port", str(taken)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"Error: cannot serve metrics on 127.0.0.1:{taken}: Address already in use"
    same = [str(TESSERA), "serve", "--port", str(port), "--metrics-port", str(port)]
    done = subprocess.run(same, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (1, "Error: --metrics-port must differ from --port\n")
