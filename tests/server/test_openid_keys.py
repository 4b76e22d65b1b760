"""The ID-token signing keys: encrypted at rest, published as a JWKS, rotated without a client noticing, and a key
that does not decrypt stops the server at start with one line."""

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from sqlalchemy import text

from tessera.app import create_app
from tessera.config import Settings
from tessera.errors import ConfigError
from tessera.server.keys import KeyEncryption, Keyring, ensure_keys, rotate
from tessera.store import Store
from tests.conftest import MovableClock, RegisteredClient, register_client, settings_for
from tests.server.test_openid import SCOPE, sign_in


@pytest.fixture
def rp(store: Store) -> RegisteredClient:
    return register_client(store, name="Relying party", scope=SCOPE)


class CachingRelyingParty:
    """A client that keeps the JWKS it fetched and fetches it again only for a ``kid`` it does not know, as
    oauth4webapi and Authlib's client do."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.fetches = 0
        self.keys = self._fetch()

    def _fetch(self) -> KeySet:
        self.fetches += 1
        return KeySet.import_key_set(self.client.get("/oauth/jwks").get_json())

    def verify(self, id_token: str) -> dict[str, Any]:
        kid = jwt.decode(id_token, self.keys, algorithms=["RS256"]).header["kid"] if self._knows(id_token) else None
        if kid is None:
            self.keys = self._fetch()
        return dict(jwt.decode(id_token, self.keys, algorithms=["RS256"]).claims)

    def _knows(self, id_token: str) -> bool:
        from joserfc import jws

        kid = jws.extract_compact(id_token.encode()).headers().get("kid")
        return any(key.kid == kid for key in self.keys)


def _rotate(store: Store, settings: Settings, alg: str = "RS256") -> str:
    record = rotate(store.signing_keys, KeyEncryption.from_settings(settings), alg)
    time.sleep(1.1)  # every process looks for a rotation at most once a second
    return record.kid


def test_rotation_end_to_end_a_client_with_the_old_jwks_verifies_before_and_after(
    client: FlaskClient, store: Store, settings: Settings, rp: RegisteredClient, user: Any
) -> None:
    before = sign_in(client, rp)["id_token"]
    relying_party = CachingRelyingParty(client)
    old_kid = relying_party.verify(before) and jwt.decode(before, relying_party.keys).header["kid"]
    new_kid = _rotate(store, settings)
    after = sign_in(client, rp)["id_token"]
    assert jwt.decode(after, KeySet.import_key_set(client.get("/oauth/jwks").get_json())).header["kid"] == new_kid
    assert relying_party.verify(after)["aud"] == rp.client_id  # an unknown kid: fetched once more
    assert relying_party.fetches == 2
    assert relying_party.verify(before)["aud"] == rp.client_id  # the old key is still published
    kids = [key["kid"] for key in client.get("/oauth/jwks").get_json()["keys"]]
    assert old_kid in kids and new_kid in kids


def test_a_retired_key_leaves_the_jwks_once_its_id_tokens_have_expired(
    client: FlaskClient, store: Store, settings: Settings, rp: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    sign_in(client, rp)
    (old,) = [key["kid"] for key in client.get("/oauth/jwks").get_json()["keys"]]
    new = _rotate(store, settings)
    clock.advance(settings.id_token_ttl - 5)
    time.sleep(1.1)
    assert {key["kid"] for key in client.get("/oauth/jwks").get_json()["keys"]} == {old, new}
    clock.advance(10)
    time.sleep(1.1)
    assert [key["kid"] for key in client.get("/oauth/jwks").get_json()["keys"]] == [new]


def test_private_keys_are_stored_only_encrypted(store: Store, settings: Settings, sqlite_url: str) -> None:
    made = ensure_keys(store.signing_keys, KeyEncryption.from_settings(settings))
    assert {record.alg for record in made} == {"RS256", "ES256"}
    keyring = Keyring(store.signing_keys, KeyEncryption.from_settings(settings), id_token_ttl=600)
    private = keyring.signing_key("RS256").key.as_dict(private=True)
    with store.engine.connect() as conn:
        rows = [" ".join(map(str, row)) for row in conn.execute(text("SELECT * FROM signing_keys"))]
    dumped = " ".join(rows)
    for member in ("d", "p", "q", "dp", "dq", "qi"):
        assert str(private[member]) not in dumped
    file_bytes = Path(sqlite_url.removeprefix("sqlite:///")).read_bytes()
    assert str(private["d"]).encode() not in file_bytes


def test_a_key_encrypted_under_another_secret_stops_the_server_at_start(store: Store, sqlite_url: str) -> None:
    ensure_keys(store.signing_keys, KeyEncryption("another secret key of at least 32 characters"))
    with pytest.raises(ConfigError, match="cannot be decrypted") as refused:
        create_app(settings_for(sqlite_url), store=store)
    assert "\n" not in str(refused.value)


def test_a_corrupt_stored_key_stops_the_server_at_start(store: Store, sqlite_url: str, settings: Settings) -> None:
    ensure_keys(store.signing_keys, KeyEncryption.from_settings(settings))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE signing_keys SET encrypted_private_key = 'AAAA' || encrypted_private_key"))
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        create_app(settings, store=store)


def test_tessera_serve_says_so_in_one_line_and_exits(store: Store, sqlite_url: str, tmp_path: Any) -> None:
    ensure_keys(store.signing_keys, KeyEncryption("another secret key of at least 32 characters"))
    env = {"TESSERA_DATABASE_URL": sqlite_url, "TESSERA_SECRET_KEY": "x" * 40, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tessera"), "serve", "--port", "1"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("Error: the signing key") and "cannot be decrypted" in line


def test_a_signature_by_any_other_key_is_refused_by_the_published_jwks(
    client: FlaskClient, rp: RegisteredClient, user: Any
) -> None:
    from joserfc.jwk import RSAKey

    claims = jwt.decode(sign_in(client, rp)["id_token"], KeySet.import_key_set(client.get("/oauth/jwks").get_json()))
    forged = jwt.encode({"alg": "RS256", "kid": claims.header["kid"]}, claims.claims, RSAKey.generate_key(2048))
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, KeySet.import_key_set(client.get("/oauth/jwks").get_json()), algorithms=["RS256"])


def test_alg_confusion_none_and_hs256_keyed_with_the_public_key_are_refused(
    client: FlaskClient, rp: RegisteredClient, user: Any
) -> None:
    """The server offers only asymmetric algorithms and publishes each key with its ``alg``: a client that takes
    the algorithms from discovery refuses an unsigned token and an HS256 one whose secret is the public key."""
    import base64
    import json

    from joserfc.errors import JoseError
    from joserfc.jwk import OctKey

    discovery = client.get("/.well-known/openid-configuration").get_json()
    algorithms = discovery["id_token_signing_alg_values_supported"]
    assert not {"none", "HS256", "HS384", "HS512"} & set(algorithms)
    published = client.get("/oauth/jwks").get_json()
    assert all(key["alg"] in algorithms and key["kty"] in ("RSA", "EC") for key in published["keys"])
    keys = KeySet.import_key_set(published)
    genuine = jwt.decode(sign_in(client, rp)["id_token"], keys, algorithms=algorithms)

    def b64(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    payload = b64(json.dumps(genuine.claims).encode())
    unsigned = f"{b64(json.dumps({'alg': 'none', 'kid': genuine.header['kid']}).encode())}.{payload}."
    with pytest.raises(JoseError):
        jwt.decode(unsigned, keys, algorithms=algorithms)
    public_bytes = json.dumps(published["keys"][0]).encode()
    hs = jwt.encode({"alg": "HS256", "kid": genuine.header["kid"]}, genuine.claims, OctKey.import_key(public_bytes))
    with pytest.raises(JoseError):
        jwt.decode(hs, keys, algorithms=algorithms)


def test_an_id_token_is_for_its_client_alone(client: FlaskClient, store: Store, user: Any) -> None:
    """``aud`` is the one client the token was issued to (so no ``azp`` is needed); another client checking ``aud``
    refuses it."""
    from authlib.oauth2.rfc6749.errors import OAuth2Error
    from authlib.oidc.core import CodeIDToken
    from joserfc.errors import InvalidClaimError

    first = register_client(store, name="First", scope=SCOPE)
    second = register_client(store, name="Second", scope=SCOPE)
    keys = KeySet.import_key_set(client.get("/oauth/jwks").get_json())
    token = jwt.decode(sign_in(client, first)["id_token"], keys)
    assert token.claims["aud"] == first.client_id and "azp" not in token.claims
    options: Any = {"aud": {"essential": True, "value": second.client_id}}
    with pytest.raises((OAuth2Error, InvalidClaimError, Exception)) as refused:
        CodeIDToken(token.claims, token.header, options, {}).validate()
    assert "aud" in str(refused.value)


def test_a_server_that_signs_nothing_never_imports_joserfc(store: Store, sqlite_url: str) -> None:
    """A server built as ``tessera serve``'s workers build it (the keys checked beforehand) and that issues,
    introspects and revokes opaque tokens and serves its metadata never imports joserfc, ``cryptography``,
    Authlib's OpenID Connect, RFC 7523 or RFC 7591 modules (about 10 MiB); its JWKS does."""
    rc = register_client(store, grant_types=("client_credentials",), scope="api", introspect=True)
    settings = {
        "TESSERA_DATABASE_URL": sqlite_url,
        "TESSERA_ISSUER": "http://127.0.0.1:1",
        "TESSERA_SECRET_KEY": "x" * 40,
    }
    script = f"""
import sys
from tessera.app import build
from tessera.config import Settings

client = build(Settings.from_env({settings!r}), load_keys=False).flask.test_client()
auth = ({rc.client_id!r}, {rc.secret!r})
token = client.post("/oauth/token", data={{"grant_type": "client_credentials"}}, auth=auth).get_json()["access_token"]
assert client.post("/oauth/introspect", data={{"token": token}}, auth=auth).get_json()["active"]
assert client.post("/oauth/revoke", data={{"token": token}}, auth=auth).status_code == 200
for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/openapi.json"):
    assert client.get(path).status_code == 200
heavy = ("joserfc", "cryptography", "authlib.oidc.core", "authlib.oauth2.rfc7523", "authlib.oauth2.rfc7591")
print(sorted(name for name in heavy if name in sys.modules))
assert client.get("/oauth/jwks").get_json()["keys"]
print(sorted(name for name in heavy if name in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.splitlines()
    assert before == "[]"
    assert after == "['cryptography', 'joserfc']"
