"""The Prometheus series, counted in-process after known traffic: each fact where it is known, exactly once, and
every series there at zero before any traffic."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry, generate_latest

from tessera.app import create_app, new_metrics
from tessera.config import Settings
from tessera.server.metrics import Metrics
from tessera.store import Store
from tests.conftest import (
    INTROSPECT,
    REVOKE,
    TOKEN,
    MovableClock,
    RegisteredClient,
    client_credentials_token,
    csrf_from,
    exchange,
    get_code,
    pkce_pair,
    settings_for,
)


@dataclass
class Counted:
    client: FlaskClient
    registry: CollectorRegistry
    metrics: Metrics

    def value(self, name: str, **labels: str) -> float:
        self.metrics.flush()
        found = self.registry.get_sample_value(name, labels)
        assert found is not None, f"no sample {name}{labels}"
        return found


@pytest.fixture
def counted(settings: Settings, store: Store, clock: MovableClock) -> Iterator[Counted]:
    registry = CollectorRegistry()
    metrics = new_metrics(registry)
    app = create_app(settings, store=store, clock=clock, metrics=metrics)
    yield Counted(app.test_client(), registry, metrics)


def test_every_series_is_there_at_zero_before_any_traffic(counted: Counted) -> None:
    text = generate_latest(counted.registry).decode()
    for series in (
        'tessera_tokens_issued_total{grant_type="authorization_code"} 0.0',
        'tessera_tokens_issued_total{grant_type="refresh_token"} 0.0',
        'tessera_tokens_issued_total{grant_type="client_credentials"} 0.0',
        'tessera_introspections_total{active="true"} 0.0',
        'tessera_introspections_total{active="false"} 0.0',
        "tessera_revocations_total 0.0",
        "tessera_refresh_reuse_detected_total 0.0",
        'tessera_sign_ins_total{result="success"} 0.0',
        'tessera_sign_ins_total{result="failure"} 0.0',
        "tessera_rate_limited_total 0.0",
        'tessera_http_requests_total{endpoint="/oauth/token",status="200"} 0.0',
        'tessera_http_request_duration_seconds_count{endpoint="/oauth/introspect"} 0.0',
    ):
        assert series in text, series


def test_issuance_introspection_and_revocation_are_counted_once_each(
    counted: Counted, service: RegisteredClient
) -> None:
    client = counted.client
    tokens = [client_credentials_token(client, service) for _ in range(3)]
    for token in tokens:
        assert client.post(INTROSPECT, data={"token": token}, headers=service.basic).json["active"] is True
    assert client.post(INTROSPECT, data={"token": "tsr_at_garbage"}, headers=service.basic).json["active"] is False
    assert client.post(REVOKE, data={"token": tokens[0]}, headers=service.basic).status_code == 200
    assert client.post(REVOKE, data={"token": tokens[0]}, headers=service.basic).status_code == 200  # nothing left
    assert client.post(INTROSPECT, data={"token": tokens[0]}, headers=service.basic).json["active"] is False
    assert client.post(TOKEN, data={"grant_type": "client_credentials"}).status_code == 401

    assert counted.value("tessera_tokens_issued_total", grant_type="client_credentials") == 3
    assert counted.value("tessera_introspections_total", active="true") == 3
    assert counted.value("tessera_introspections_total", active="false") == 2
    assert counted.value("tessera_revocations_total") == 1
    assert counted.value("tessera_http_requests_total", endpoint="/oauth/token", status="200") == 3
    assert counted.value("tessera_http_requests_total", endpoint="/oauth/token", status="401") == 1
    assert counted.value("tessera_http_requests_total", endpoint="/oauth/introspect", status="200") == 5
    assert counted.value("tessera_http_request_duration_seconds_count", endpoint="/oauth/introspect") == 5


def test_refresh_and_its_reuse(counted: Counted, web_client: RegisteredClient, user: object) -> None:
    client = counted.client
    verifier, challenge = pkce_pair()
    first = exchange(client, web_client, get_code(client, web_client, challenge), verifier).json
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert client.post(TOKEN, data=refresh, headers=web_client.basic).status_code == 200
    assert client.post(TOKEN, data=refresh, headers=web_client.basic).status_code == 400  # reuse

    assert counted.value("tessera_tokens_issued_total", grant_type="authorization_code") == 1
    assert counted.value("tessera_tokens_issued_total", grant_type="refresh_token") == 1
    assert counted.value("tessera_refresh_reuse_detected_total") == 1
    assert counted.value("tessera_revocations_total") == 1  # the family, revoked by the reuse
    assert counted.value("tessera_sign_ins_total", result="success") == 1


def test_sign_in_results_and_the_rate_limit(sqlite_url: str, store: Store, user: object) -> None:
    registry = CollectorRegistry()
    metrics = new_metrics(registry)
    settings = settings_for(sqlite_url, TESSERA_LOGIN_LIMIT_ACCOUNT="2/minute")
    client = create_app(settings, store=store, metrics=metrics).test_client()
    for _ in range(3):
        csrf = csrf_from(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": "alice", "password": "wrong", "csrf_token": csrf})
    metrics.flush()
    assert registry.get_sample_value("tessera_sign_ins_total", {"result": "failure"}) == 2
    assert registry.get_sample_value("tessera_sign_ins_total", {"result": "rate_limited"}) == 1
    assert registry.get_sample_value("tessera_rate_limited_total") == 1
    assert registry.get_sample_value("tessera_http_requests_total", {"endpoint": "/login", "status": "429"}) == 1


def test_an_unknown_path_is_counted_as_other_never_by_its_path(counted: Counted) -> None:
    for path in ("/wp-admin", "/.env", "/a/b/c"):
        assert counted.client.get(path).status_code == 404
    assert counted.value("tessera_http_requests_total", endpoint="other", status="404") == 3
    text = generate_latest(counted.registry).decode()
    assert "wp-admin" not in text and ".env" not in text


def test_queued_counts_reach_the_series_when_flushed_or_closed(counted: Counted, service: RegisteredClient) -> None:
    counted.metrics.start(interval=3600)  # the thread will not flush during the test: only close() does
    try:
        client_credentials_token(counted.client, service)
        sample = counted.registry.get_sample_value
        assert sample("tessera_tokens_issued_total", {"grant_type": "client_credentials"}) == 0
    finally:
        counted.metrics.close()
    assert sample("tessera_tokens_issued_total", {"grant_type": "client_credentials"}) == 1


def test_metrics_off_count_nothing_and_load_no_prometheus_series() -> None:
    metrics = Metrics.off()
    metrics.token_issued("client_credentials")
    metrics.request("/oauth/token", 200, 0.001)
    metrics.flush()
    assert not hasattr(metrics, "issued")


def test_a_flushed_batch_of_durations_is_exposed_as_the_same_observations_one_by_one() -> None:
    """The flush writes each endpoint's histogram once per bucket and once for the sum, through
    ``prometheus_client``'s private histogram attributes: if they change, this fails. Durations on bucket bounds,
    between them, beyond the last, and exact in binary (so that the sum is the same whatever the order)."""
    seconds = [0.0, 2**-11, 2**-10, 0.0025, 2**-3, 0.5, 1.0, 2.0, 16.0, 2**-11, 2**-8, 0.001]
    batched, one_by_one = CollectorRegistry(), CollectorRegistry()
    metrics = new_metrics(batched)
    metrics.start(interval=3600)
    try:
        for n, duration in enumerate(seconds):
            metrics.request("/oauth/token" if n % 3 else "/nowhere", 200, duration)
    finally:
        metrics.close()
    new_metrics(one_by_one)
    reference: Any = one_by_one._names_to_collectors["tessera_http_request_duration_seconds"]
    reference_requests: Any = one_by_one._names_to_collectors["tessera_http_requests_total"]
    for n, duration in enumerate(seconds):
        endpoint = "/oauth/token" if n % 3 else "other"
        reference.labels(endpoint).observe(duration)
        reference_requests.labels(endpoint, "200").inc()

    def exposed(registry: CollectorRegistry) -> list[str]:
        return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]

    assert exposed(batched) == exposed(one_by_one)
    assert 'tessera_http_request_duration_seconds_bucket{endpoint="other",le="0.001"} 2.0' in exposed(batched)
