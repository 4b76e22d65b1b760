"""Refresh tokens rotate on every use; a used one revokes the whole family (RFC 9700 §4.14.2)."""

from flask.testing import FlaskClient

from tests.conftest import (
    INTROSPECT,
    TOKEN,
    MovableClock,
    RegisteredClient,
    exchange,
    get_code,
    pkce_pair,
    register_client,
)


def _tokens(client: FlaskClient, web_client: RegisteredClient) -> dict[str, str]:
    verifier, challenge = pkce_pair()
    response = exchange(client, web_client, get_code(client, web_client, challenge), verifier)
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def _refresh(client: FlaskClient, registered: RegisteredClient, refresh_token: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}, headers=registered.basic
    )


def _active(client: FlaskClient, service: RegisteredClient, token: str) -> bool:
    return bool(client.post(INTROSPECT, data={"token": token}, headers=service.basic).json["active"])


def test_refresh_rotates_and_old_pair_dies(client: FlaskClient, web_client, user, service) -> None:
    first = _tokens(client, web_client)
    second = _refresh(client, web_client, first["refresh_token"])
    assert second.status_code == 200
    body = second.json
    assert body["refresh_token"] != first["refresh_token"] and body["refresh_token"].startswith("tsr_rt_")
    assert body["access_token"] != first["access_token"]
    assert body["scope"] == "api restricted"
    assert second.headers["Cache-Control"] == "no-store"
    assert _active(client, service, body["access_token"])
    assert not _active(client, service, first["access_token"])


def test_reuse_revokes_the_family(client: FlaskClient, web_client, user, service) -> None:
    first = _tokens(client, web_client)
    second = _refresh(client, web_client, first["refresh_token"]).json
    again = _refresh(client, web_client, first["refresh_token"])
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    assert not _active(client, service, second["access_token"])
    # the newest refresh token of the family is dead too
    assert _refresh(client, web_client, second["refresh_token"]).json["error"] == "invalid_grant"


def test_scope_may_narrow_never_widen(client: FlaskClient, web_client, user) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge, grant=("api",))
    first = exchange(client, web_client, code, verifier).json
    assert first["scope"] == "api"
    wider = _refresh(client, web_client, first["refresh_token"], scope="api restricted")
    assert wider.status_code == 400 and wider.json["error"] == "invalid_scope"

    full = _tokens(client, web_client)
    narrower = _refresh(client, web_client, full["refresh_token"], scope="api")
    assert narrower.status_code == 200 and narrower.json["scope"] == "api"


def test_refresh_token_is_bound_to_its_client(client: FlaskClient, store, web_client, user, service) -> None:
    other = register_client(store, name="Other")
    first = _tokens(client, web_client)
    stolen = _refresh(client, other, first["refresh_token"])
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    assert _active(client, service, first["access_token"])  # the owner's tokens are untouched


def test_another_client_with_a_used_refresh_token_revokes_nothing(
    client: FlaskClient, store, web_client, user, service
) -> None:
    """Reuse is evidence of theft only from the client the token was issued to: another client presenting a
    rotated refresh token is refused and must not be able to kill the owner's live grant."""
    other = register_client(store, name="Other")
    first = _tokens(client, web_client)
    second = _refresh(client, web_client, first["refresh_token"]).json
    stolen = _refresh(client, other, first["refresh_token"])
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    assert _active(client, service, second["access_token"])
    third = _refresh(client, web_client, second["refresh_token"])
    assert third.status_code == 200, third.json
    # the owner presenting its own used token still revokes the whole family
    again = _refresh(client, web_client, first["refresh_token"])
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    assert not _active(client, service, third.json["access_token"])
    assert _refresh(client, web_client, third.json["refresh_token"]).json["error"] == "invalid_grant"


def test_access_token_is_not_a_refresh_token(client: FlaskClient, web_client, user) -> None:
    first = _tokens(client, web_client)
    response = _refresh(client, web_client, first["access_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_expired_refresh_token_is_refused(client: FlaskClient, web_client, user, clock: MovableClock) -> None:
    first = _tokens(client, web_client)
    clock.advance(2_592_000 + 1)
    assert _refresh(client, web_client, first["refresh_token"]).json["error"] == "invalid_grant"


def test_client_without_refresh_grant_gets_no_refresh_token(client: FlaskClient, store, user) -> None:
    code_only = register_client(store, grant_types=("authorization_code",))
    verifier, challenge = pkce_pair()
    body = exchange(client, code_only, get_code(client, code_only, challenge), verifier).json
    assert "refresh_token" not in body


def test_disabled_user_cannot_refresh(client: FlaskClient, store, web_client, user) -> None:
    first = _tokens(client, web_client)
    store.users.disable("alice")
    assert _refresh(client, web_client, first["refresh_token"]).json["error"] == "invalid_grant"


def test_rotation_tells_revocation_listeners_about_the_old_access_token(settings, store, user) -> None:
    from tessera.app import create_app
    from tessera.tokens import digest

    heard: list[str] = []
    app = create_app(settings, store=store, on_revoke=[heard.extend])
    client = app.test_client()
    web = register_client(store)
    first = _tokens(client, web)
    assert _refresh(client, web, first["refresh_token"]).status_code == 200
    assert heard == [digest(first["access_token"])]
