"""``private_key_jwt`` (RFC 7523 §2.2, OpenID Connect Core §9): clients that authenticate with a JWT signed by
their own key, registered as a JWKS or a ``jwks_uri``, at the token, introspection and revocation endpoints."""

import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from tessera.store import ClientRecord, Store
from tessera.tokens import random_id
from tests.conftest import (
    INTROSPECT,
    ISSUER,
    REVOKE,
    TOKEN,
    LiveServer,
    RegisteredClient,
    register_client,
    unused_port,
)

TOKEN_URL = ISSUER + TOKEN
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _keyed_client(store: Store, key: ECKey | RSAKey | None = None, *, jwks_uri: str | None = None) -> str:
    client_id = random_id()
    jwks = None if key is None else {"keys": [key.as_dict(private=False)]}
    store.clients.create(
        ClientRecord(
            client_id, None, "Keyed", (), ("client_credentials",), "api", False, True, int(time.time()),
            auth_method="private_key_jwt", jwks=jwks, jwks_uri=jwks_uri,
        )
    )  # fmt: skip
    return client_id


def _assertion(
    key: Any, client_id: str, *, alg: str = "ES256", header: dict[str, Any] | None = None, **claims: Any
) -> str:
    now = int(time.time())
    payload = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "iat": now, "exp": now + 60}
    payload["jti"] = secrets.token_urlsafe(16)
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode({"alg": alg, **(header or {})}, payload, key, algorithms=[alg])


def _token(client: FlaskClient, assertion: str, **extra: str) -> TestResponse:
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    return client.post(TOKEN, data={**data, **extra})


def _refused(response: TestResponse) -> str:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json is not None and response.json["error"] == "invalid_client"
    description: str = response.json["error_description"]
    return description


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "one"})


def test_authlibs_private_key_jwt_client_gets_a_token(live_server: LiveServer, key: ECKey) -> None:
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

    client_id = _keyed_client(live_server.store, key)
    token_url = live_server.base_url + TOKEN
    with OAuth2Session(
        client_id, key, token_endpoint_auth_method=PrivateKeyJWT(token_url, alg="ES256"), scope="api"
    ) as oauth:
        token = oauth.fetch_token(token_url, grant_type="client_credentials")
        assert token["access_token"].startswith("tsr_at_") and token["token_type"] == "Bearer"
        # Authlib's assertion carries a fresh jti each time; the same one again is refused
        assert oauth.fetch_token(token_url, grant_type="client_credentials")["access_token"] != token["access_token"]


def test_rsa_keys_work_and_the_issuer_is_an_accepted_audience(client: FlaskClient, store: Store) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r"})
    client_id = _keyed_client(store, rsa)
    assert _token(client, _assertion(rsa, client_id, alg="RS256", aud=ISSUER)).status_code == 200


def _bad(key: ECKey, client_id: str) -> dict[str, str]:
    other = ECKey.generate_key("P-256", parameters={"kid": "one"})
    now = int(time.time())
    return {
        "another key": _assertion(other, client_id),
        "expired": _assertion(key, client_id, iat=now - 600, exp=now - 300),
        "exp more than an hour ahead": _assertion(key, client_id, exp=now + 7200),
        "no jti": _assertion(key, client_id, jti=None),
        "no exp": _assertion(key, client_id, exp=None),
        "another audience": _assertion(key, client_id, aud="https://elsewhere.example/token"),
        "iss not the client": _assertion(key, client_id, iss="someone-else"),
        "alg HS256": jwt.encode({"alg": "HS256"}, {"iss": client_id, "sub": client_id, "aud": TOKEN_URL,
                                                   "exp": now + 60, "jti": "h"}, OctKey.generate_key(256)),
        "alg none": _unsigned(client_id),
        "not a JWT": "garbage",
    }  # fmt: skip


def _unsigned(client_id: str) -> str:
    import base64

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "n"}
    return f"{part({'alg': 'none'})}.{part(claims)}."


@pytest.mark.parametrize("case", sorted(_bad(ECKey.generate_key("P-256"), "x")))
def test_a_bad_assertion_is_401_invalid_client(client: FlaskClient, store: Store, key: ECKey, case: str) -> None:
    client_id = _keyed_client(store, key)
    description = _refused(_token(client, _bad(key, client_id)[case]))
    assert "\n" not in description


def test_an_assertion_is_accepted_once(client: FlaskClient, store: Store, key: ECKey) -> None:
    client_id = _keyed_client(store, key)
    assertion = _assertion(key, client_id)
    assert _token(client, assertion).status_code == 200
    assert "used before" in _refused(_token(client, assertion))


def test_a_keyed_client_has_no_secret_and_a_secret_client_cannot_use_a_key(
    client: FlaskClient, store: Store, key: ECKey, service: RegisteredClient
) -> None:
    client_id = _keyed_client(store, key)
    guess = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "guess"}
    _refused(client.post(TOKEN, data=guess))
    # a client registered with a secret cannot claim a key instead (here: the assertion names the secret client)
    _refused(_token(client, _assertion(key, service.client_id)))
    both = _token(client, _assertion(key, client_id), client_secret="x")
    assert both.status_code == 400 and both.json is not None and both.json["error"] == "invalid_request"


def test_introspection_and_revocation_take_private_key_jwt(client: FlaskClient, store: Store, key: ECKey) -> None:
    client_id = _keyed_client(store, key)
    token = _token(client, _assertion(key, client_id)).json["access_token"]  # type: ignore[index]
    auth = {"client_assertion_type": ASSERTION_TYPE}
    answer = client.post(
        INTROSPECT, data={"token": token, **auth, "client_assertion": _assertion(key, client_id, aud=ISSUER)}
    )
    assert answer.status_code == 200 and answer.json is not None and answer.json["active"] is True
    revoked = client.post(REVOKE, data={"token": token, **auth, "client_assertion": _assertion(key, client_id)})
    assert revoked.status_code == 200
    again = client.post(
        INTROSPECT, data={"token": token, **auth, "client_assertion": _assertion(key, client_id, aud=ISSUER)}
    )
    assert again.json == {"active": False}


class _JwksServer:
    """A client's jwks_uri on a loopback port; counts the fetches."""

    def __init__(self, *keys: ECKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        app = Flask("jwks")

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            self.fetches += 1
            return {"keys": [k.as_dict(private=False) for k in self.keys]}

        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}/jwks"
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


@pytest.fixture
def jwks_server(key: ECKey) -> Iterator[_JwksServer]:
    server = _JwksServer(key)
    yield server
    server.stop()


def test_a_jwks_uri_is_fetched_kept_and_fetched_again_for_an_unknown_kid_at_most_once_a_minute(
    client: FlaskClient, store: Store, key: ECKey, jwks_server: _JwksServer, clock: Any
) -> None:
    client_id = _keyed_client(store, jwks_uri=jwks_server.url)
    assert _token(client, _assertion(key, client_id, header={"kid": "one"})).status_code == 200
    assert _token(client, _assertion(key, client_id, header={"kid": "one"})).status_code == 200
    assert jwks_server.fetches == 1  # kept
    rotated = ECKey.generate_key("P-256", parameters={"kid": "two"})
    jwks_server.keys.append(rotated)
    # an unknown kid fetches the set again, but not within a minute of the last fetch
    _refused(_token(client, _assertion(rotated, client_id, header={"kid": "two"})))
    assert jwks_server.fetches == 1
    clock.advance(61)
    assert _token(client, _assertion(rotated, client_id, header={"kid": "two"})).status_code == 200
    assert jwks_server.fetches == 2
    stranger = ECKey.generate_key("P-256", parameters={"kid": "three"})
    _refused(_token(client, _assertion(stranger, client_id, header={"kid": "three"})))
    assert jwks_server.fetches == 2


def test_an_unreachable_jwks_uri_is_invalid_client_not_a_500(client: FlaskClient, store: Store, key: ECKey) -> None:
    client_id = _keyed_client(store, jwks_uri=f"http://127.0.0.1:{unused_port()}/jwks")
    assert "cannot be fetched" in _refused(_token(client, _assertion(key, client_id)))


def test_registration_rules_for_keys(store: Store, key: ECKey) -> None:
    from tessera.errors import InvalidClientMetadata
    from tessera.server.registration import ClientMetadata, register_client
    from tessera.server.scopes import catalogue

    declared = catalogue(store.scopes)
    jwks = {"keys": [key.as_dict(private=False)]}
    made = register_client(
        store.clients, ClientMetadata("K", auth_method="private_key_jwt", jwks=jwks), scopes=declared
    )
    assert made.secret is None and made.record.jwks == jwks
    bad = [
        ClientMetadata("K", auth_method="private_key_jwt"),
        ClientMetadata("K", auth_method="private_key_jwt", jwks=jwks, jwks_uri="https://k.example/jwks"),
        ClientMetadata("K", auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=True)]}),
        ClientMetadata("K", auth_method="private_key_jwt", jwks={"keys": []}),
        ClientMetadata("K", auth_method="private_key_jwt", jwks_uri="http://k.example/jwks"),
        ClientMetadata("K", auth_method="client_secret_jwt", jwks=jwks),
        ClientMetadata("K", jwks=jwks),
    ]
    for metadata in bad:
        with pytest.raises(InvalidClientMetadata):
            register_client(store.clients, metadata, scopes=declared)
    with pytest.raises(InvalidClientMetadata):
        register_client(
            store.clients,
            ClientMetadata("K", auth_method="private_key_jwt", jwks_uri="http://127.0.0.1:9/jwks"),
            scopes=declared,
            production=True,
        )


def test_the_secret_client_fixture_still_works(client: FlaskClient, store: Store) -> None:
    web = register_client(store, redirect_uris=(), grant_types=("client_credentials",), scope="api")
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=web.basic)
    assert response.status_code == 200
