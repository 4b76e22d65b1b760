"""How the server handles what must stay secret: client secrets and CSRF tokens are compared in constant time,
and no token, code, secret, verifier, password or session ever reaches a log record, on any path of the
authorization-code flow, including the failing ones."""

import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import INTROSPECT, REVOKE, TOKEN, RegisteredClient, csrf_from, exchange, get_code, pkce_pair
from tests.device import answer, device_client, poll, start


class CompareSpy:
    """Stands in for ``hmac.compare_digest`` and remembers what it compared."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self._real = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return self._real(a, b)

    def compared(self, value: str) -> bool:
        wanted = value.encode()
        return any(wanted in (a, b) or value in (a, b) for a, b in self.calls)


@pytest.fixture
def compare_spy(monkeypatch: pytest.MonkeyPatch) -> CompareSpy:
    spy = CompareSpy()
    monkeypatch.setattr(hmac, "compare_digest", spy)
    return spy


@pytest.mark.parametrize("right", [True, False], ids=["right secret", "wrong secret"])
def test_client_secrets_are_compared_in_constant_time(
    client: FlaskClient, service: RegisteredClient, compare_spy: CompareSpy, right: bool
) -> None:
    secret = str(service.secret) if right else str(service.secret)[:-1] + "x"
    form = {"grant_type": "client_credentials", "client_id": service.client_id, "client_secret": secret}
    response = client.post(TOKEN, data=form)
    assert response.status_code == (200 if right else 401)
    # the digest of what was sent was compared with the stored digest by hmac.compare_digest, not ==
    assert compare_spy.compared(digest(secret))
    assert compare_spy.compared(str(service.record.secret_digest))


def test_csrf_tokens_are_compared_in_constant_time(client: FlaskClient, user: Any, compare_spy: CompareSpy) -> None:
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "alice", "password": "correct horse", "csrf_token": csrf})
    assert compare_spy.compared(csrf)


def test_nothing_secret_reaches_the_logs(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any, caplog: Any, store: Store
) -> None:
    caplog.set_level(logging.DEBUG)
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    tokens = exchange(client, web_client, code, verifier).get_json()
    rotated = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, headers=web_client.basic
    ).get_json()
    # failing paths too: a replayed code, a reused refresh token, a wrong secret, a wrong password
    exchange(client, web_client, code, verifier)
    client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, headers=web_client.basic
    )
    wrong_secret = str(web_client.secret)[:-1] + "x"
    client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": web_client.client_id, "client_secret": wrong_secret},
    )
    client.post(INTROSPECT, data={"token": rotated["access_token"]}, headers=service.basic)
    client.post(REVOKE, data={"token": rotated["access_token"]}, headers=web_client.basic)
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "alice", "password": "not correct horse", "csrf_token": csrf})
    session = client.get_cookie("tessera_session")
    # the device grant: its codes, the page that takes the user code (also from verification_uri_complete), polls
    tv = device_client(store)
    device = start(client, tv)
    complete = urlsplit(device["verification_uri_complete"])
    client.get(f"{complete.path}?{complete.query}")
    answer(client.application.test_client(), device["user_code"])
    for _ in range(2):  # a token, then invalid_grant
        poll(client, tv, device["device_code"])

    logged = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert "tessera.access" in logged  # the records were captured
    secrets_ = {
        "code": code,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "rotated access token": rotated["access_token"],
        "rotated refresh token": rotated["refresh_token"],
        "client secret": str(web_client.secret),
        "wrong client secret": wrong_secret,
        "service secret": str(service.secret),
        "PKCE verifier": verifier,
        "password": "correct horse",
        "wrong password": "not correct horse",
        "CSRF token": csrf,
        "session cookie": session.value if session else "no session cookie",
        "device code": device["device_code"],
        "user code": device["user_code"],
        "user code as typed": device["user_code"].replace("-", ""),
    }
    for name, value in secrets_.items():
        assert value not in logged, f"the {name} was logged"
        assert value[7:-6] not in logged or len(value) < 20, f"part of the {name} was logged"
