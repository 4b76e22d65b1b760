"""DPoP at the token endpoint (RFC 9449 §5): proofs checked, access tokens (and public clients' refresh tokens)
bound to the key, introspection telling the binding, ``dpop_jkt`` at the authorization endpoint, clients that
require DPoP, and server nonces."""

import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.store import Store
from tests.conftest import (
    INTROSPECT,
    ISSUER,
    REDIRECT_URI,
    TOKEN,
    MovableClock,
    RegisteredClient,
    app_for,
    get_code,
    pkce_pair,
    register_client,
)
from tests.dpop_keys import DROP, Prover, hs256, unsigned

URL = ISSUER + TOKEN


def _post(client: FlaskClient, data: dict[str, str], proof: str | None, **headers: str) -> TestResponse:
    if proof is not None:
        headers["DPoP"] = proof
    return client.post(TOKEN, data=data, headers=headers)


def _credentials(client: FlaskClient, service: RegisteredClient, proof: str | None) -> TestResponse:
    return _post(client, {"grant_type": "client_credentials", "scope": "api"}, proof, **service.basic)


def _introspect(client: FlaskClient, service: RegisteredClient, token: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.post(INTROSPECT, data={"token": token}, headers=service.basic).json  # type: ignore[assignment]
    return answer


def _refused(response: TestResponse, error: str = "invalid_dpop_proof") -> str:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json is not None and response.json["error"] == error
    description: str = response.json["error_description"]
    assert "\n" not in description
    return description


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_proof_gets_a_dpop_token_bound_to_its_key(client: FlaskClient, service: RegisteredClient, alg: str) -> None:
    prover = Prover(alg)
    response = _credentials(client, service, prover.proof("POST", URL))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None and response.json["token_type"] == "DPoP"
    answer = _introspect(client, service, response.json["access_token"])
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": prover.jkt}


def test_without_a_proof_the_token_is_a_bearer_token_with_no_cnf(
    client: FlaskClient, service: RegisteredClient
) -> None:
    response = _credentials(client, service, None)
    assert response.json is not None and response.json["token_type"] == "Bearer"
    answer = _introspect(client, service, response.json["access_token"])
    assert answer["token_type"] == "Bearer" and "cnf" not in answer


def test_a_proof_is_accepted_once(client: FlaskClient, service: RegisteredClient) -> None:
    proof = Prover().proof("POST", URL)
    assert _credentials(client, service, proof).status_code == 200
    assert "already used" in _refused(_credentials(client, service, proof))


def _bad_proofs() -> dict[str, Any]:
    return {
        "another method": lambda p: p.proof("GET", URL),
        "another URL": lambda p: p.proof("POST", ISSUER + "/oauth/introspect"),
        "another host": lambda p: p.proof("POST", "http://evil.example" + TOKEN),
        "stale iat": lambda p: p.proof("POST", URL, iat=int(time.time()) - 600),
        "iat in the future": lambda p: p.proof("POST", URL, iat=int(time.time()) + 600),
        "no iat": lambda p: p.proof("POST", URL, iat=DROP),
        "iat a string": lambda p: p.proof("POST", URL, iat="now"),
        "no jti": lambda p: p.proof("POST", URL, jti=DROP),
        "no htm": lambda p: p.proof("POST", URL, htm=DROP),
        "no htu": lambda p: p.proof("POST", URL, htu=DROP),
        "typ JWT": lambda p: p.proof("POST", URL, header={"typ": "JWT"}),
        "no typ": lambda p: p.proof("POST", URL, header={"typ": DROP}),
        "no jwk": lambda p: p.proof("POST", URL, header={"jwk": DROP}),
        "a private key in jwk": lambda p: p.proof("POST", URL, header={"jwk": p.key.as_dict(private=True)}),
        "another key's jwk": lambda p: p.proof("POST", URL, header={"jwk": Prover().public_jwk}),
        "alg none": lambda p: unsigned({"typ": "dpop+jwt", "jwk": p.public_jwk}, {"jti": "a", "htm": "POST"}),
        "alg HS256": lambda p: hs256(p, "POST", URL),
        "a symmetric jwk": lambda p: p.proof("POST", URL, header={"jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        "not a JWS": lambda p: "not.a.jws",
        "garbage": lambda p: "%%%",
        "oversized": lambda p: p.proof("POST", URL, padding="x" * 5000),
        "two proofs": lambda p: p.proof("POST", URL) + ", " + p.proof("POST", URL),
    }


@pytest.mark.parametrize("case", sorted(_bad_proofs()))
def test_a_bad_proof_is_invalid_dpop_proof_and_issues_nothing(
    client: FlaskClient, service: RegisteredClient, store: Store, case: str
) -> None:
    proof = _bad_proofs()[case](Prover())
    _refused(_credentials(client, service, proof))


def test_htu_is_compared_after_normalisation_and_without_query(client: FlaskClient, service: RegisteredClient) -> None:
    prover = Prover()
    for url in ("HTTP://127.0.0.1:8000/oauth/token", "http://127.0.0.1:8000/oauth/token?x=1#f"):
        assert _credentials(client, service, prover.proof("POST", url)).status_code == 200


def test_an_rs256_proof_with_a_key_under_2048_bits_is_refused(client: FlaskClient, service: RegisteredClient) -> None:
    import warnings

    from joserfc.errors import SecurityWarning
    from joserfc.jwk import RSAKey

    prover = Prover("RS256")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc warns, and signs all the same
        prover.key = RSAKey.generate_key(1024)
        prover.public_jwk = prover.key.as_dict(private=False)
        proof = prover.proof("POST", URL)
    assert "2048" in _refused(_credentials(client, service, proof))


def test_authorization_code_and_refresh_bind_and_a_public_clients_refresh_token_stays_bound(
    client: FlaskClient, store: Store, user: Any, service: RegisteredClient
) -> None:
    public = register_client(store, public=True)
    prover = Prover()
    verifier, challenge = pkce_pair()
    code = get_code(client, public, challenge)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": public.client_id,
    }
    first = _post(client, data, prover.proof("POST", URL))
    assert first.status_code == 200 and first.json is not None and first.json["token_type"] == "DPoP"
    assert _introspect(client, service, first.json["access_token"])["cnf"] == {"jkt": prover.jkt}

    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": first.json["refresh_token"],
        "client_id": public.client_id,
    }
    # without a proof, or with another key: refused, and the refresh token still works afterwards
    assert "bound to a DPoP key" in _refused(_post(client, refresh, None))
    assert "another DPoP key" in _refused(_post(client, refresh, Prover().proof("POST", URL)), "invalid_grant")
    second = _post(client, refresh, prover.proof("POST", URL))
    assert second.status_code == 200, second.get_data(as_text=True)
    assert second.json is not None and second.json["token_type"] == "DPoP"
    assert _introspect(client, service, second.json["access_token"])["cnf"] == {"jkt": prover.jkt}
    again = {**refresh, "refresh_token": second.json["refresh_token"]}
    _refused(_post(client, again, None))


def test_a_confidential_clients_refresh_token_is_bound_to_its_authentication_not_the_key(
    client: FlaskClient, web_client: RegisteredClient, user: Any, service: RegisteredClient
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    first = _post(client, data, Prover().proof("POST", URL), **web_client.basic)
    assert first.json is not None and first.json["token_type"] == "DPoP"
    refresh = {"grant_type": "refresh_token", "refresh_token": first.json["refresh_token"]}
    other = Prover()
    second = _post(client, refresh, other.proof("POST", URL), **web_client.basic)
    assert second.status_code == 200 and second.json is not None
    assert _introspect(client, service, second.json["access_token"])["cnf"] == {"jkt": other.jkt}
    third = _post(client, {**refresh, "refresh_token": second.json["refresh_token"]}, None, **web_client.basic)
    assert third.status_code == 200 and third.json is not None and third.json["token_type"] == "Bearer"


def test_dpop_jkt_binds_the_code_to_that_key(
    client: FlaskClient, web_client: RegisteredClient, user: Any, service: RegisteredClient
) -> None:
    prover = Prover()
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge, dpop_jkt=prover.jkt)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    _refused(_post(client, data, None, **web_client.basic))
    _refused(_post(client, data, Prover().proof("POST", URL), **web_client.basic), "invalid_grant")
    # refused before the code was spent: the right key still redeems it
    response = _post(client, data, prover.proof("POST", URL), **web_client.basic)
    assert response.status_code == 200 and response.json is not None
    assert _introspect(client, service, response.json["access_token"])["cnf"] == {"jkt": prover.jkt}


def test_a_dpop_jkt_that_is_no_thumbprint_is_sent_back_as_invalid_request(
    client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    from urllib.parse import parse_qs, urlencode, urlsplit

    from tests.conftest import authorize_params, login

    login(client)
    _, challenge = pkce_pair()
    response = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge, dpop_jkt="short")))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and "dpop_jkt" in query["error_description"][0]


def test_a_client_that_requires_dpop_gets_nothing_without_a_proof(client: FlaskClient, store: Store) -> None:
    strict = register_client(
        store, name="Strict", redirect_uris=(), grant_types=("client_credentials",), scope="api", require_dpop=True
    )
    assert "must send a DPoP proof" in _refused(_credentials(client, strict, None))
    assert _credentials(client, strict, Prover().proof("POST", URL)).status_code == 200


def test_the_metadata_lists_the_proof_algorithms(client: FlaskClient) -> None:
    document = client.get("/.well-known/oauth-authorization-server").json
    assert document is not None
    assert {"ES256", "RS256"} <= set(document["dpop_signing_alg_values_supported"])
    assert not {"none", "HS256"} & set(document["dpop_signing_alg_values_supported"])


def test_server_nonces_are_demanded_handed_out_and_shared_by_processes(
    store: Store, sqlite_url: str, service: RegisteredClient
) -> None:
    one = app_for(store, sqlite_url, TESSERA_DPOP_NONCE="on").test_client()
    other = app_for(store, sqlite_url, TESSERA_DPOP_NONCE="on").test_client()  # another process, the same key
    prover = Prover()
    first = _credentials(one, service, prover.proof("POST", URL))
    _refused(first, "use_dpop_nonce")
    nonce = first.headers["DPoP-Nonce"]
    _refused(_credentials(one, service, prover.proof("POST", URL, nonce="made-up")), "use_dpop_nonce")
    second = _credentials(other, service, prover.proof("POST", URL, nonce=nonce))
    assert second.status_code == 200, second.get_data(as_text=True)
    assert second.headers["DPoP-Nonce"]
    # a request without DPoP is not asked for a nonce
    assert _credentials(one, service, None).status_code == 200


def test_nonces_rotate_and_the_previous_one_is_still_accepted(
    store: Store, sqlite_url: str, service: RegisteredClient, clock: MovableClock
) -> None:
    from tessera.app import create_app
    from tests.conftest import settings_for

    app = create_app(settings_for(sqlite_url, TESSERA_DPOP_NONCE="on"), store=store, clock=clock)
    client = app.test_client()
    prover = Prover()
    nonce = _credentials(client, service, prover.proof("POST", URL)).headers["DPoP-Nonce"]
    clock.advance(300)
    response = _credentials(client, service, prover.proof("POST", URL, nonce=nonce, iat=int(clock())))
    assert response.status_code == 200
    assert response.headers["DPoP-Nonce"] != nonce
    clock.advance(300)
    _refused(_credentials(client, service, prover.proof("POST", URL, nonce=nonce, iat=int(clock()))), "use_dpop_nonce")


def test_a_proof_replayed_against_another_process_is_refused_through_redis(
    store: Store, sqlite_url: str, service: RegisteredClient, redis_url: str, redis_prefix: str
) -> None:
    env = {"TESSERA_REDIS_URL": redis_url, "TESSERA_REDIS_PREFIX": redis_prefix}
    one, other = (app_for(store, sqlite_url, **env).test_client() for _ in range(2))
    proof = Prover().proof("POST", URL)
    assert _credentials(one, service, proof).status_code == 200
    _refused(_credentials(other, service, proof))
