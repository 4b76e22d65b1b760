"""OpenID Connect on opaque tokens: ID tokens from the code and refresh grants, discovery, the JWKS, userinfo.
Every ID token is checked with joserfc against the keys the server publishes, as a client would."""

import base64
import hashlib
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from tessera.store import Store
from tests.conftest import ISSUER, TOKEN, MovableClock, RegisteredClient, exchange, get_code, pkce_pair, register_client
from tests.server.conftest import client_token, introspect, refresh

SCOPE = "openid profile email"
USERINFO = "/oauth/userinfo"


@pytest.fixture
def rp(store: Store) -> RegisteredClient:
    """A confidential OpenID Connect client (a relying party)."""
    return register_client(store, name="Relying party", scope=f"{SCOPE} api")


@pytest.fixture
def alice(store: Store, user: Any) -> Any:
    return store.users.update_profile("alice", email="alice@example.com", name="Alice Liddell")


def sign_in(client: FlaskClient, rp: RegisteredClient, scope: str = SCOPE, **extra: Any) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code = get_code(client, rp, challenge, scope=scope, **extra)
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def jwks(client: FlaskClient) -> KeySet:
    return KeySet.import_key_set(client.get("/oauth/jwks").get_json())


def verified(client: FlaskClient, id_token: str, alg: str = "RS256") -> dict[str, Any]:
    token = jwt.decode(id_token, jwks(client), algorithms=[alg])
    assert token.header["alg"] == alg and token.header["kid"]
    return dict(token.claims)


def half_hash(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:16]).rstrip(b"=").decode()


def test_the_code_flow_returns_a_signed_id_token_beside_opaque_tokens(
    client: FlaskClient, rp: RegisteredClient, alice: Any, clock: MovableClock
) -> None:
    tokens = sign_in(client, rp, nonce="n-0S6_WzA2Mj")
    assert tokens["access_token"].startswith("tsr_at_") and tokens["refresh_token"].startswith("tsr_rt_")
    claims = verified(client, tokens["id_token"])
    assert claims["iss"] == ISSUER and claims["aud"] == rp.client_id and claims["sub"] == alice.subject
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["at_hash"] == half_hash(tokens["access_token"])
    assert claims["iat"] <= claims["auth_time"] + 5 and claims["exp"] == claims["iat"] + 600
    assert claims["preferred_username"] == "alice" and claims["name"] == "Alice Liddell"
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is False


def test_scope_openid_alone_releases_sub_and_nothing_else(
    client: FlaskClient, rp: RegisteredClient, alice: Any
) -> None:
    tokens = sign_in(client, rp, scope="openid")
    claims = verified(client, tokens["id_token"])
    assert "nonce" not in claims and "email" not in claims and "name" not in claims
    assert "preferred_username" not in claims and claims["sub"] == alice.subject
    info = client.get(USERINFO, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.get_json() == {"sub": alice.subject}


def test_no_id_token_without_openid_nor_from_client_credentials(
    client: FlaskClient, rp: RegisteredClient, alice: Any, service: RegisteredClient
) -> None:
    assert "id_token" not in sign_in(client, rp, scope="api")
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert response.status_code == 200 and "id_token" not in response.get_json()


def test_a_refresh_of_an_openid_grant_returns_a_fresh_id_token_with_the_same_auth_time(
    client: FlaskClient, rp: RegisteredClient, alice: Any, clock: MovableClock
) -> None:
    first = sign_in(client, rp, nonce="abc")
    before = verified(client, first["id_token"])
    clock.advance(120)
    response = refresh(client, rp, first["refresh_token"])
    assert response.status_code == 200, response.get_json()
    again = response.get_json()
    after = verified(client, again["id_token"])
    assert after["sub"] == before["sub"] and after["aud"] == rp.client_id and after["iss"] == ISSUER
    assert after["auth_time"] == before["auth_time"] and after["iat"] >= before["iat"] + 120
    assert after["at_hash"] == half_hash(again["access_token"])


def test_es256_for_a_client_registered_so(client: FlaskClient, store: Store, user: Any) -> None:
    from tessera.server.registration import ClientMetadata
    from tessera.server.registration import register_client as register
    from tessera.server.scopes import catalogue
    from tests.conftest import REDIRECT_URI

    registered = register(
        store.clients, ClientMetadata("ES client", (REDIRECT_URI,), scope=SCOPE, id_token_alg="ES256"),
        scopes=catalogue(store.scopes),
    )  # fmt: skip
    rp = RegisteredClient(registered.record.client_id, registered.secret, registered.record)
    claims = verified(client, sign_in(client, rp)["id_token"], alg="ES256")
    assert claims["aud"] == rp.client_id
    sign_in(client, register_client(store, name="RS client", scope=SCOPE))  # the default, RS256
    assert {key["alg"] for key in client.get("/oauth/jwks").get_json()["keys"]} == {"RS256", "ES256"}


def test_a_nonce_used_before_by_the_client_is_refused(client: FlaskClient, rp: RegisteredClient, alice: Any) -> None:
    sign_in(client, rp, nonce="once")
    from urllib.parse import parse_qs, urlencode, urlsplit

    from tests.conftest import authorize_params

    _, challenge = pkce_pair()
    params = authorize_params(rp, challenge, scope=SCOPE, nonce="once")
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and query["iss"] == [ISSUER] and query["state"] == ["xyz"]


def test_discovery_names_the_same_endpoints_as_the_oauth_metadata(client: FlaskClient) -> None:
    oauth = client.get("/.well-known/oauth-authorization-server").get_json()
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200 and "max-age" in response.headers["Cache-Control"]
    openid = response.get_json()
    assert {k: v for k, v in openid.items() if k in oauth} == oauth
    assert openid["jwks_uri"] == ISSUER + "/oauth/jwks" and openid["userinfo_endpoint"] == ISSUER + "/oauth/userinfo"
    assert openid["subject_types_supported"] == ["public"]
    assert {"RS256", "ES256"} <= set(openid["id_token_signing_alg_values_supported"])
    assert {"openid", "profile", "email"} <= set(openid["scopes_supported"])
    assert {"sub", "email", "preferred_username", "name"} <= set(openid["claims_supported"])
    assert openid["response_types_supported"] == ["code"]


def test_the_jwks_is_cacheable_and_holds_public_keys_only(
    client: FlaskClient, rp: RegisteredClient, alice: Any
) -> None:
    sign_in(client, rp)
    response = client.get("/oauth/jwks")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "public, max-age=300"
    keys = response.get_json()["keys"]
    assert keys and all(key["use"] == "sig" and key["kid"] for key in keys)
    assert not any(private in key for key in keys for private in ("d", "p", "q", "dp", "dq", "qi"))


def test_userinfo_by_scope_get_and_post(client: FlaskClient, rp: RegisteredClient, alice: Any) -> None:
    tokens = sign_in(client, rp)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    for response in (client.get(USERINFO, headers=bearer), client.post(USERINFO, headers=bearer)):
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        assert response.get_json() == {
            "sub": alice.subject, "preferred_username": "alice", "name": "Alice Liddell",
            "email": "alice@example.com", "email_verified": False,
        }  # fmt: skip
    in_body = client.post(USERINFO, data={"access_token": tokens["access_token"]})
    assert in_body.status_code == 200 and in_body.get_json()["sub"] == alice.subject
    both = client.post(USERINFO, data={"access_token": tokens["access_token"]}, headers=bearer)
    assert both.status_code == 400 and both.get_json()["error"] == "invalid_request"
    profile_only = sign_in(client, rp, scope="openid profile")
    info = client.get(USERINFO, headers={"Authorization": f"Bearer {profile_only['access_token']}"}).get_json()
    assert info == {"sub": alice.subject, "preferred_username": "alice", "name": "Alice Liddell"}


def test_userinfo_errors(client: FlaskClient, rp: RegisteredClient, alice: Any, service: RegisteredClient) -> None:
    missing = client.get(USERINFO)
    assert missing.status_code == 401
    challenge = missing.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and "error=" not in challenge
    for bad in ("tsr_at_nope", "x" * 40):
        refused = client.get(USERINFO, headers={"Authorization": f"Bearer {bad}"})
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert refused.get_json()["error"] == "invalid_token"
    api_only = sign_in(client, rp, scope="api")
    forbidden = client.get(USERINFO, headers={"Authorization": f"Bearer {api_only['access_token']}"})
    assert forbidden.status_code == 403 and forbidden.get_json()["error"] == "insufficient_scope"
    machine = client_token(client, service)
    assert client.get(USERINFO, headers={"Authorization": f"Bearer {machine}"}).status_code == 403
    tokens = sign_in(client, rp)
    client.post("/oauth/revoke", data={"token": tokens["access_token"]}, headers=rp.basic)
    revoked = client.get(USERINFO, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert revoked.status_code == 401 and revoked.get_json()["error"] == "invalid_token"


def test_introspection_sub_is_the_id_tokens_sub(
    client: FlaskClient, rp: RegisteredClient, alice: Any, service: RegisteredClient
) -> None:
    tokens = sign_in(client, rp)
    assert introspect(client, service, tokens["access_token"])["sub"] == verified(client, tokens["id_token"])["sub"]


def test_id_tokens_are_never_written_to_the_database(
    client: FlaskClient, rp: RegisteredClient, alice: Any, store: Store
) -> None:
    tokens = sign_in(client, rp)
    dumped = json.dumps([list(map(str, row)) for row in store.engine.connect().exec_driver_sql("SELECT * FROM tokens")])
    assert tokens["id_token"] not in dumped and tokens["access_token"] not in dumped
