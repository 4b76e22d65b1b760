"""The demo API, as the README describes it, validating by introspection against the real server: registered as
the resource ``http://127.0.0.1:<api-port>/``, it accepts only tokens issued for it."""

import html
import re
import time

import pytest
import requests

from tessera.demo.run import RunningDemo
from tessera.store import ResourceRecord, Store
from tessera.tokens import TokenKind, mint
from tests.conftest import random_free_id, register_client


def _token(demo: RunningDemo, store: Store, scope: str, resource: str | None = "") -> tuple[str, tuple[str, str]]:
    """A client-credentials token with ``scope`` for ``resource`` (default: the demo API; ``None``: no resource),
    from a client registered for the test."""
    registered = register_client(
        store, name="Test service", redirect_uris=(), grant_types=("client_credentials",), scope=scope
    )
    assert registered.secret is not None
    credentials = (registered.client_id, registered.secret)
    answer = requests.post(
        demo.auth_url + "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope}
        | ({} if resource is None else {"resource": resource or demo.api_url + "/"}),
        auth=credentials,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"], credentials


def _get(demo: RunningDemo, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(demo.api_url + path, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("path", "body"), [("/api/data", "Protected API data."), ("/api/restricted", "Restricted API data.")]
)
def test_each_endpoint_with_its_scope(demo: RunningDemo, demo_store: Store, path: str, body: str) -> None:
    token, _ = _token(demo, demo_store, "api restricted")
    response = _get(demo, path, token)
    assert response.status_code == 200
    assert response.text == body


def test_no_token_is_401_with_a_bearer_challenge(demo: RunningDemo) -> None:
    response = _get(demo, "/api/data")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "error=" not in response.headers["WWW-Authenticate"]  # RFC 6750 §3.1: no error code without a token


@pytest.mark.parametrize("token", ["tsr_at_madeup", "not-a-token", mint(TokenKind.ACCESS)], ids=random_free_id)
def test_a_bad_token_is_invalid_token(demo: RunningDemo, token: str) -> None:
    response = _get(demo, "/api/data", token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_missing_scope_is_403_insufficient_scope(demo: RunningDemo, demo_store: Store) -> None:
    token, _ = _token(demo, demo_store, "api")
    assert _get(demo, "/api/data", token).status_code == 200
    response = _get(demo, "/api/restricted", token)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert "Restricted API data." not in response.text


def test_a_revoked_token_is_rejected_at_the_next_call(demo: RunningDemo, demo_store: Store) -> None:
    token, credentials = _token(demo, demo_store, "api")
    assert _get(demo, "/api/data", token).status_code == 200
    revoked = requests.post(demo.auth_url + "/oauth/revoke", data={"token": token}, auth=credentials, timeout=10)
    assert revoked.status_code == 200
    response = _get(demo, "/api/data", token)  # no cache: the very next call asks the server
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_account_revocation_is_seen_by_the_demo_api_at_once(demo: RunningDemo) -> None:
    """A person signs in through the demo app, then revokes the app on the authorization server's /account page:
    the demo API refuses the app's token at the very next call, and the demo's metrics saw the revocation."""
    with requests.Session() as browser:
        page = browser.get(f"{demo.app_url}/")
        form = re.search(
            r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page.text
        )
        assert form is not None
        consent = browser.post(f"{demo.app_url}{form[1]}", data={"csrf_token": form[2]})
        # the authorization server's sign-in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', consent.text)
        nxt = re.search(r'name="next" value="([^"]*)"', consent.text)
        assert csrf and nxt
        answer = browser.post(
            f"{demo.auth_url}/login",
            data={"username": "demo", "password": "demo", "csrf_token": csrf[1], "next": html.unescape(nxt[1])},
        )
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
        action = re.search(r'<form method="post" action="([^"]+)"', answer.text)
        assert csrf and action
        protected = browser.post(
            f"{demo.auth_url}{html.unescape(action[1])}",
            data={"csrf_token": csrf[1], "decision": "allow", "grant_scope": ["api", "restricted"]},
        )
        assert "You are authenticated" in protected.text and protected.text.count("Protected API data.") == 1

        account = browser.get(f"{demo.auth_url}/account")
        assert "Demo app" in account.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', account.text)
        client_id = re.search(r'name="client_id" value="([^"]+)"', account.text)
        assert csrf and client_id
        revoked = browser.post(f"{demo.auth_url}/account", data={"csrf_token": csrf[1], "client_id": client_id[1]})
        assert "no longer has access to your account" in revoked.text

        again = browser.get(f"{demo.app_url}/protected")
        assert "Protected API data." not in again.text and "invalid_token" in again.text

    metrics = requests.get(demo.metrics_url, timeout=5).text
    assert "tessera_revocations_total 1.0" in metrics
    assert 'tessera_tokens_issued_total{grant_type="authorization_code"} 1.0' in metrics


def test_a_token_for_another_audience_or_none_is_refused(demo: RunningDemo, demo_store: Store) -> None:
    other = "http://127.0.0.1:9/other-api"
    demo_store.resources.create(ResourceRecord(other, "Another API", None, int(time.time())))
    for resource in (other, None):
        token, _ = _token(demo, demo_store, "api", resource)
        response = _get(demo, "/api/data", token)
        assert response.status_code == 401, resource
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_it_serves_its_resource_metadata_and_names_it_in_every_challenge(demo: RunningDemo) -> None:
    document = requests.get(demo.api_url + "/.well-known/oauth-protected-resource", timeout=10).json()
    assert document["resource"] == demo.api_url + "/"
    assert document["authorization_servers"] == [demo.auth_url]
    challenge = _get(demo, "/api/data").headers["WWW-Authenticate"]
    assert f'resource_metadata="{demo.api_url}/.well-known/oauth-protected-resource"' in challenge
