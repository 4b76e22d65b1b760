"""The device authorization grant, RFC 8628: the device authorization endpoint (§3.1, §3.2) and polling the
token endpoint (§3.4, §3.5), each answer and each bad input. The pages a person uses are in
tests/web/test_device_pages.py; sixteen pollers racing on one approved code in test_concurrency.py."""

import base64
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.server.device import DeviceAuthorizationEndpoint, normal_user_code, user_code_digest
from tessera.store import DeviceRecord, Store
from tessera.tokens import TokenKind, digest, mint, parse, random_id
from tests.conftest import ISSUER, MovableClock, RegisteredClient, register_client
from tests.device import (
    DEVICE_AUTHORIZATION,
    DEVICE_GRANT,
    answer,
    device_client,
    error_of,
    poll,
    request_device,
    start,
)
from tests.server.conftest import assert_invalid_client, introspect, refresh

USER_CODE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")


@pytest.fixture
def tv(store: Store) -> RegisteredClient:
    return device_client(store)


def test_the_device_authorization_response_has_every_member(client: FlaskClient, tv: RegisteredClient) -> None:
    response = request_device(client, tv)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert parse(body["device_code"], TokenKind.DEVICE) is TokenKind.DEVICE
    assert body["device_code"].startswith("tsr_dc_")
    assert USER_CODE.fullmatch(body["user_code"]), body["user_code"]
    assert body["verification_uri"] == f"{ISSUER}/device"
    assert body["verification_uri_complete"] == f"{ISSUER}/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)


def test_codes_are_stored_as_digests_only(client: FlaskClient, tv: RegisteredClient, store: Store) -> None:
    body = start(client, tv)
    record = store.devices.get(digest(body["device_code"]))
    assert record is not None and record.client_id == tv.client_id and record.pending
    normal = normal_user_code(body["user_code"])
    assert normal is not None and record.user_code_digest == user_code_digest(normal) != normal


def test_the_lifetime_is_the_setting(store: Store, sqlite_url: str, tv: RegisteredClient) -> None:
    from tests.conftest import app_for

    client = app_for(store, sqlite_url, TESSERA_DEVICE_CODE_TTL="120").test_client()
    assert start(client, tv)["expires_in"] == 120


def test_pending_then_one_token_then_never_again(
    client: FlaskClient,
    tv: RegisteredClient,
    user: Any,
    clock: MovableClock,
    service: RegisteredClient,
    store: Store,
) -> None:
    body = start(client, tv)
    assert error_of(poll(client, tv, body["device_code"])) == (400, "authorization_pending")

    page = answer(client.application.test_client(), body["user_code"])
    assert "Device connected" in page.get_data(as_text=True)

    clock.advance(5)
    response = poll(client, tv, body["device_code"])
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    token = response.get_json()
    assert token["token_type"] == "Bearer" and token["scope"] == "api restricted"
    assert token["access_token"].startswith("tsr_at_") and "refresh_token" not in token  # not registered for it
    seen = introspect(client, service, token["access_token"])
    assert seen["active"] is True and seen["username"] == "alice" and seen["client_id"] == tv.client_id

    for _ in range(2):
        clock.advance(5)
        assert error_of(poll(client, tv, body["device_code"])) == (400, "invalid_grant")
    assert introspect(client, service, token["access_token"])["active"] is True  # a late poll revokes nothing
    (issued,) = [e for e in store.audit.list(client_id=tv.client_id) if e.event == "token.issued"]
    assert (
        issued.user == "alice" and (issued.detail or {})["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    )


def test_a_client_registered_for_refresh_tokens_gets_one(
    client: FlaskClient, store: Store, user: Any, clock: MovableClock
) -> None:
    cli = device_client(store, refresh=True)
    body = start(client, cli, scope="api")
    answer(client.application.test_client(), body["user_code"])
    clock.advance(5)
    token = poll(client, cli, body["device_code"]).get_json()
    assert token["scope"] == "api" and token["refresh_token"].startswith("tsr_rt_")
    rotated = refresh(client, cli, token["refresh_token"])
    assert rotated.status_code == 200 and rotated.get_json()["scope"] == "api"


def test_a_confidential_device_client_authenticates_with_its_secret(
    client: FlaskClient, store: Store, user: Any, clock: MovableClock
) -> None:
    headless = device_client(store, public=False)
    body = start(client, headless)
    answer(client.application.test_client(), body["user_code"])
    clock.advance(5)
    assert poll(client, headless, body["device_code"]).status_code == 200


def test_polling_faster_than_the_interval_is_slow_down_and_the_interval_grows(
    client: FlaskClient, tv: RegisteredClient, clock: MovableClock
) -> None:
    code = start(client, tv)["device_code"]
    assert error_of(poll(client, tv, code)) == (400, "authorization_pending")
    assert error_of(poll(client, tv, code)) == (400, "slow_down")  # at once: the interval is now 10 s
    clock.advance(10)
    assert error_of(poll(client, tv, code)) == (400, "authorization_pending")
    clock.advance(5)  # the old interval no longer does: it grew for every later poll too (RFC 8628 §3.5)
    assert error_of(poll(client, tv, code)) == (400, "slow_down")  # and now 15 s
    clock.advance(15)
    assert error_of(poll(client, tv, code)) == (400, "authorization_pending")


def test_an_expired_device_code_is_expired_token(
    client: FlaskClient, tv: RegisteredClient, clock: MovableClock, user: Any
) -> None:
    body = start(client, tv)
    clock.advance(600)
    assert error_of(poll(client, tv, body["device_code"])) == (400, "expired_token")
    page = client.application.test_client()
    from tests.device import enter_code

    assert "not valid or has expired" in enter_code(page, body["user_code"]).get_data(as_text=True)


def test_a_denied_device_code_is_access_denied_for_good(
    client: FlaskClient, tv: RegisteredClient, clock: MovableClock, user: Any
) -> None:
    body = start(client, tv)
    page = answer(client.application.test_client(), body["user_code"], decision="deny")
    assert "Device denied" in page.get_data(as_text=True)
    for _ in range(2):
        clock.advance(5)
        assert error_of(poll(client, tv, body["device_code"])) == (400, "access_denied")


def test_a_user_disabled_after_approving_gets_no_token(
    client: FlaskClient, tv: RegisteredClient, clock: MovableClock, user: Any, store: Store
) -> None:
    body = start(client, tv)
    answer(client.application.test_client(), body["user_code"])
    store.users.disable("alice")
    clock.advance(5)
    assert error_of(poll(client, tv, body["device_code"])) == (400, "invalid_grant")


# bad input at the device authorization endpoint


def test_a_client_not_registered_for_the_grant_is_unauthorized_client(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient
) -> None:
    for registered in (web_client, service):
        assert error_of(request_device(client, registered)) == (400, "unauthorized_client")


def test_unknown_or_unauthenticated_clients_are_invalid_client(
    client: FlaskClient, store: Store, tv: RegisteredClient
) -> None:
    headless = device_client(store, public=False)
    refused = [
        {"client_id": "nope"},
        {},
        {"client_id": headless.client_id},  # a confidential client without its secret
        {"client_id": headless.client_id, "client_secret": mint(TokenKind.CLIENT_SECRET)},  # or a wrong one
        {"client_id": tv.client_id, "client_secret": mint(TokenKind.CLIENT_SECRET)},  # a public one with one
    ]
    for data in refused:
        response = client.post(DEVICE_AUTHORIZATION, data=data, content_type="application/x-www-form-urlencoded")
        assert_invalid_client(response, statuses=(400, 401))
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{headless.client_id}:nope".encode()).decode()}
    assert_invalid_client(
        client.post(DEVICE_AUTHORIZATION, data={}, headers=wrong, content_type="application/x-www-form-urlencoded")
    )


def test_the_scope_is_narrowed_to_the_clients_or_refused(
    client: FlaskClient, store: Store, user: Any, clock: MovableClock
) -> None:
    narrow = device_client(store, scope="api")
    assert error_of(request_device(client, narrow, scope="restricted")) == (400, "invalid_scope")
    body = start(client, narrow, scope="api restricted admin")
    assert store.devices.get(digest(body["device_code"])).scope == "api"  # type: ignore[union-attr]
    answer(client.application.test_client(), body["user_code"])
    clock.advance(5)
    assert poll(client, narrow, body["device_code"]).get_json()["scope"] == "api"


def test_what_the_machine_endpoints_refuse_the_device_endpoint_refuses(
    client: FlaskClient, tv: RegisteredClient
) -> None:
    assert client.get(DEVICE_AUTHORIZATION).status_code == 405
    response = client.post(DEVICE_AUTHORIZATION, json={"client_id": tv.client_id})
    assert error_of(response) == (400, "invalid_request")
    response = client.post(f"{DEVICE_AUTHORIZATION}?client_id={tv.client_id}", data={"client_id": tv.client_id})
    assert error_of(response) == (400, "invalid_request")
    response = client.post(
        DEVICE_AUTHORIZATION,
        data=f"client_id={tv.client_id}&client_id={tv.client_id}",
        content_type="application/x-www-form-urlencoded",
    )
    assert error_of(response) == (400, "invalid_request")


# bad input at the token endpoint


def test_a_device_code_that_is_missing_malformed_or_unknown_is_refused(
    client: FlaskClient, tv: RegisteredClient
) -> None:
    data = {"grant_type": DEVICE_GRANT, "client_id": tv.client_id}
    assert error_of(client.post("/oauth/token", data=data)) == (400, "invalid_request")
    for code in ("", "nope", mint(TokenKind.DEVICE), mint(TokenKind.CODE), mint(TokenKind.DEVICE)[:-1] + "x"):
        response = client.post("/oauth/token", data={**data, "device_code": code})
        assert error_of(response) in ((400, "invalid_grant"), (400, "invalid_request")), code
    assert error_of(client.post("/oauth/token", data={**data, "device_code": mint(TokenKind.DEVICE)})) == (
        400,
        "invalid_grant",
    )


def test_a_device_code_is_bound_to_its_client(
    client: FlaskClient, store: Store, tv: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    other = device_client(store)
    body = start(client, tv)
    answer(client.application.test_client(), body["user_code"])
    clock.advance(5)
    assert error_of(poll(client, other, body["device_code"])) == (400, "invalid_grant")
    assert poll(client, tv, body["device_code"]).status_code == 200  # the other's attempt spoilt nothing


def test_a_client_not_registered_for_the_grant_cannot_poll(
    client: FlaskClient, tv: RegisteredClient, store: Store
) -> None:
    web = register_client(store, public=True)
    body = start(client, tv)
    assert error_of(poll(client, web, body["device_code"])) == (400, "unauthorized_client")


# storage


def test_deleting_the_client_or_the_user_deletes_their_device_authorizations(
    client: FlaskClient, store: Store, tv: RegisteredClient, user: Any
) -> None:
    first, second = start(client, tv), start(client, tv)
    answer(client.application.test_client(), second["user_code"])
    store.users.delete("alice")
    assert store.devices.get(digest(second["device_code"])) is None
    assert store.devices.get(digest(first["device_code"])) is not None  # nobody had answered it
    store.clients.delete(tv.client_id)
    assert store.devices.get(digest(first["device_code"])) is None


def test_purge_deletes_device_authorizations_a_day_after_they_expire(store: Store, tv: RegisteredClient) -> None:
    def add(expires_at: int) -> str:
        code = mint(TokenKind.DEVICE)
        user_code = "".join(random_id(4))[:8]
        store.devices.create(
            DeviceRecord(digest(code), digest(user_code), tv.client_id, "api", random_id(), 0, expires_at)
        )
        return digest(code)

    old, recent = add(1_000), add(90_000)
    assert store.devices.purge(now=1_000 + 86_400) == 1
    assert store.devices.get(old) is None and store.devices.get(recent) is not None


def test_a_user_code_already_taken_is_drawn_again(
    client: FlaskClient, store: Store, tv: RegisteredClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = start(client, tv)["user_code"]
    drawn = iter([taken, "BBBB-CCCC"])
    monkeypatch.setattr(DeviceAuthorizationEndpoint, "generate_user_code", lambda self: next(drawn))
    monkeypatch.setattr("tessera.server.device.create_string_user_code", lambda: "DDDD-FFFF")
    body = start(client, tv)
    assert body["user_code"] == "DDDD-FFFF"
    assert body["verification_uri_complete"] == f"{ISSUER}/device?user_code=DDDD-FFFF"
    assert store.devices.by_user_code(user_code_digest("DDDDFFFF")) is not None
