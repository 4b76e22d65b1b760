"""``/account``: the applications a person allowed, and ``Revoke``, which ends that application's tokens for that
person at once, forgets the consent, tells resource-server caches and is audited."""

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tessera.events import decode_revoked
from tessera.passwords import hash_password
from tessera.store import Store
from tessera.tokens import digest
from tessera.web.context import server_of
from tests.conftest import (
    INTROSPECT,
    TOKEN,
    ChannelListener,
    RegisteredClient,
    app_for,
    csrf_from,
    exchange,
    get_code,
    login,
    pkce_pair,
    register_client,
)


def _tokens(client: FlaskClient, registered: RegisteredClient, scope: str = "api restricted") -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    response = exchange(client, registered, get_code(client, registered, challenge, scope=scope), verifier)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def _active(client: FlaskClient, service: RegisteredClient, token: str) -> bool:
    return bool(client.post(INTROSPECT, data={"token": token}, headers=service.basic).json["active"])


def _revoke(client: FlaskClient, client_id: str) -> Any:
    page = client.get("/logout").get_data(as_text=True)  # the session's CSRF token, whatever /account lists
    return client.post("/account", data={"csrf_token": csrf_from(page), "client_id": client_id})


def test_signed_out_it_asks_for_a_sign_in_first(client: FlaskClient) -> None:
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/account")


def test_it_lists_each_allowed_app_with_its_scopes_and_when(
    client: FlaskClient, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    other = register_client(store, name="Photo printer", scope="api")
    _tokens(client, web_client)
    _tokens(client, other, "api")
    page = client.get("/account")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Test app" in html and "Photo printer" in html
    assert "<code>api</code> <code>restricted</code>" in html
    assert len(re.findall(r"Allowed \d{4}-\d\d-\d\d \d\d:\d\d UTC · last used \d{4}", html)) == 2
    assert html.count(">Revoke</button>") == 2


def test_revoke_ends_that_apps_tokens_for_that_person_only_and_forgets_the_consent(
    app: Flask, client: FlaskClient, store: Store, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    mine = _tokens(client, web_client)
    other_app = register_client(store, name="Other app")
    kept = _tokens(client, other_app)
    # someone else's tokens with the same app stay
    store.users.create("bob", hash_password("bob's password"))
    bob = app.test_client()
    login(bob, "bob", "bob's password")
    bobs = _tokens(bob, web_client)

    response = _revoke(client, web_client.client_id)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert "Test app no longer has access to your account." in page
    assert "Test app" not in page.replace("Test app no longer has access to your account.", "")

    assert not _active(client, service, mine["access_token"])
    refreshed = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": mine["refresh_token"]}, headers=web_client.basic
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    assert _active(client, service, kept["access_token"])
    assert _active(client, service, bobs["access_token"])
    # the consent is forgotten: the next authorization asks again
    assert store.consents.get(user.id, web_client.client_id) is None
    verifier, challenge = pkce_pair()
    from urllib.parse import urlencode

    from tests.conftest import authorize_params

    again = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge)))
    assert again.status_code == 200 and "Allow" in again.get_data(as_text=True)

    event = store.audit.list(user="alice", limit=1)[0]
    assert event.event == "consent.revoked" and event.client_id == web_client.client_id
    assert event.detail == {"via": "account", "scope": "api restricted", "revoked": 1}


def test_an_unredeemed_code_dies_with_the_consent(client: FlaskClient, web_client: RegisteredClient, user: Any) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    _revoke(client, web_client.client_id)
    assert exchange(client, web_client, code, verifier).json["error"] == "invalid_grant"


def test_revoke_needs_the_csrf_token(client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient,
                                     user: Any) -> None:  # fmt: skip
    tokens = _tokens(client, web_client)
    response = client.post("/account", data={"client_id": web_client.client_id, "csrf_token": "forged"})
    assert response.status_code == 400
    assert _active(client, service, tokens["access_token"])


def test_an_app_not_allowed_has_nothing_to_revoke(
    client: FlaskClient, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    stranger = register_client(store, name="Never allowed")
    for client_id in (stranger.client_id, "no-such-client", ""):
        response = _revoke(client, client_id)
        assert response.status_code == 303
        assert "That application has no access to revoke." in client.get("/account").get_data(as_text=True)


def test_the_account_page_is_linked_from_the_home_sign_out_and_consent_pages(
    client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    assert 'href="/account"' in client.get("/").get_data(as_text=True)
    assert 'href="/account"' in client.get("/logout").get_data(as_text=True)
    from urllib.parse import urlencode

    from tests.conftest import authorize_params

    _, challenge = pkce_pair()
    consent = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge)))
    assert 'href="/account"' in consent.get_data(as_text=True)


@pytest.mark.redis
def test_revoke_is_published_to_resource_server_caches(
    sqlite_url: str, store: Store, redis_url: str, revocation_channel: str, channel_listener: ChannelListener,
    web_client: RegisteredClient, user: Any,
) -> None:  # fmt: skip
    app = app_for(store, sqlite_url, TESSERA_REDIS_URL=redis_url, TESSERA_REVOCATION_CHANNEL=revocation_channel)
    client = app.test_client()
    tokens = _tokens(client, web_client)
    _revoke(client, web_client.client_id)
    payload = channel_listener.next_payload()
    assert payload is not None and decode_revoked(payload) == [digest(tokens["access_token"])]
    assert server_of(app).context.store.tokens.active(digest(tokens["access_token"])) is None
