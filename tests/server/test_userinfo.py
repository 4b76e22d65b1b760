"""DPoP at the userinfo endpoint (RFC 9449 §7): a DPoP-bound access token is accepted with the ``DPoP`` scheme and a
proof for this request, and refused as a bearer token, with a proof of another key, a replayed, stale or foreign
proof, or without the server's nonce when nonces are on. Bearer tokens keep working."""

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.store import Store
from tests.conftest import (
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

USERINFO = "/oauth/userinfo"
URL = ISSUER + USERINFO
SCOPE = "openid profile"


@pytest.fixture
def rp(store: Store) -> RegisteredClient:
    return register_client(store, name="Relying party", scope=f"{SCOPE} api")


def _tokens(client: FlaskClient, rp: RegisteredClient, prover: Prover | None, scope: str = SCOPE) -> dict[str, Any]:
    """A code redeemed with a proof of ``prover``'s key (a DPoP-bound token), or without one (a bearer token)."""
    verifier, challenge = pkce_pair()
    code = get_code(client, rp, challenge, scope=scope)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    headers = dict(rp.basic)
    if prover is not None:
        headers["DPoP"] = prover.proof("POST", ISSUER + TOKEN)
    response = client.post(TOKEN, data=data, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert body["token_type"] == ("Bearer" if prover is None else "DPoP")
    return body


def _dpop(client: FlaskClient, token: str, proof: str | None, method: str = "GET") -> TestResponse:
    headers = {"Authorization": f"DPoP {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return client.open(USERINFO, method=method, headers=headers)


def _refused(response: TestResponse, error: str) -> str:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == error
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'DPoP realm="userinfo", error="{error}"'), challenge
    assert 'algs="ES256' in challenge and "HS256" not in challenge
    return str(response.get_json()["error_description"])


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_bound_token_with_its_proof_gets_the_claims(
    client: FlaskClient, rp: RegisteredClient, user: Any, alg: str
) -> None:
    prover = Prover(alg)
    token = _tokens(client, rp, prover)["access_token"]
    for method in ("GET", "POST"):
        response = _dpop(client, token, prover.proof(method, URL, access_token=token), method)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["preferred_username"] == user.username
        assert response.headers["Cache-Control"] == "no-store" and "DPoP-Nonce" not in response.headers


def test_a_bound_token_sent_as_bearer_is_refused(client: FlaskClient, rp: RegisteredClient, user: Any) -> None:
    token = _tokens(client, rp, Prover())["access_token"]
    assert "bound to a DPoP key" in _refused(
        client.get(USERINFO, headers={"Authorization": f"Bearer {token}"}), "invalid_token"
    )
    # nor in the form body, which is a bearer token's way (RFC 6750 §2.2)
    assert "bound to a DPoP key" in _refused(client.post(USERINFO, data={"access_token": token}), "invalid_token")


def test_a_proof_of_another_key_or_an_unbound_token_with_a_proof_is_refused(
    client: FlaskClient, rp: RegisteredClient, user: Any
) -> None:
    prover, thief = Prover(), Prover()
    token = _tokens(client, rp, prover)["access_token"]
    assert "not bound to this DPoP proof's key" in _refused(
        _dpop(client, token, thief.proof("GET", URL, access_token=token)), "invalid_token"
    )
    bearer = _tokens(client, rp, None)["access_token"]
    _refused(_dpop(client, bearer, prover.proof("GET", URL, access_token=bearer)), "invalid_token")
    # the bearer token itself still works as one
    assert client.get(USERINFO, headers={"Authorization": f"Bearer {bearer}"}).status_code == 200


def test_a_proof_is_accepted_once(client: FlaskClient, rp: RegisteredClient, user: Any) -> None:
    prover = Prover()
    token = _tokens(client, rp, prover)["access_token"]
    proof = prover.proof("GET", URL, access_token=token)
    assert _dpop(client, token, proof).status_code == 200
    assert "already used" in _refused(_dpop(client, token, proof), "invalid_dpop_proof")


def _bad_proofs(prover: Prover, token: str) -> dict[str, Any]:
    return {
        "missing": None,
        "two proofs": prover.proof("GET", URL, access_token=token) + "," + prover.proof("GET", URL, access_token=token),
        "no ath": prover.proof("GET", URL),
        "ath of another token": prover.proof("GET", URL, access_token="tsr_at_another"),
        "wrong htm": prover.proof("POST", URL, access_token=token),
        "wrong htu": prover.proof("GET", ISSUER + TOKEN, access_token=token),
        "htu of another host": prover.proof("GET", "http://evil.example" + USERINFO, access_token=token),
        "stale iat": prover.proof("GET", URL, access_token=token, iat=1_000_000_000),
        "no jti": prover.proof("GET", URL, access_token=token, jti=DROP),
        "wrong typ": prover.proof("GET", URL, access_token=token, header={"typ": "JWT"}),
        "alg none": unsigned({"typ": "dpop+jwt", "jwk": prover.public_jwk}, {"htm": "GET", "htu": URL}),
        "HS256": hs256(prover, "GET", URL),
        "private key in jwk": prover.proof(
            "GET", URL, access_token=token, header={"jwk": prover.key.as_dict(private=True)}
        ),
        "oversized": "a" * 5000 + ".b.c",
        "garbage": "not-a-jws",
    }


def test_a_bad_proof_is_refused_and_does_not_use_the_token_up(
    client: FlaskClient, rp: RegisteredClient, user: Any
) -> None:
    prover = Prover()
    token = _tokens(client, rp, prover)["access_token"]
    for name, proof in _bad_proofs(prover, token).items():
        response = _dpop(client, token, proof)
        assert response.status_code == 401, name
        description = _refused(response, "invalid_dpop_proof")
        assert "\n" not in description, name
    assert _dpop(client, token, prover.proof("GET", URL, access_token=token)).status_code == 200


def test_dpop_refusals_of_the_token_itself(
    client: FlaskClient, rp: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    prover = Prover()
    api_only = _tokens(client, rp, prover, scope="api")["access_token"]
    forbidden = _dpop(client, api_only, prover.proof("GET", URL, access_token=api_only))
    assert forbidden.status_code == 403 and forbidden.get_json()["error"] == "insufficient_scope"
    assert forbidden.headers["WWW-Authenticate"].startswith("DPoP ")
    _refused(_dpop(client, "tsr_at_nope", prover.proof("GET", URL, access_token="tsr_at_nope")), "invalid_token")
    token = _tokens(client, rp, prover)["access_token"]
    client.post("/oauth/revoke", data={"token": token}, headers=rp.basic)
    _refused(_dpop(client, token, prover.proof("GET", URL, access_token=token)), "invalid_token")


def test_no_token_is_challenged_with_both_schemes(client: FlaskClient) -> None:
    response = client.get(USERINFO)
    assert response.status_code == 401
    challenges = response.headers.getlist("WWW-Authenticate")
    assert challenges[0] == 'Bearer realm="userinfo"'
    assert challenges[1].startswith('DPoP realm="userinfo", algs="ES256') and "error=" not in challenges[1]


def test_server_nonces_are_demanded_at_userinfo_too(
    store: Store, sqlite_url: str, rp: RegisteredClient, user: Any
) -> None:
    client = app_for(store, sqlite_url, TESSERA_DPOP_NONCE="on").test_client()
    prover = Prover()
    verifier, challenge = pkce_pair()
    code = get_code(client, rp, challenge, scope=SCOPE)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    first = client.post(TOKEN, data=data, headers={**rp.basic, "DPoP": prover.proof("POST", ISSUER + TOKEN)})
    assert first.status_code == 400 and first.get_json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    proof = prover.proof("POST", ISSUER + TOKEN, nonce=nonce)
    token = client.post(TOKEN, data=data, headers={**rp.basic, "DPoP": proof}).get_json()["access_token"]

    without = _dpop(client, token, prover.proof("GET", URL, access_token=token))
    _refused(without, "use_dpop_nonce")
    assert without.headers["DPoP-Nonce"] == nonce
    _refused(_dpop(client, token, prover.proof("GET", URL, access_token=token, nonce="made-up")), "use_dpop_nonce")
    answer = _dpop(client, token, prover.proof("GET", URL, access_token=token, nonce=without.headers["DPoP-Nonce"]))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["DPoP-Nonce"] == nonce


def test_the_replay_cache_is_the_token_endpoints(
    store: Store, sqlite_url: str, rp: RegisteredClient, user: Any, redis_url: str
) -> None:
    """With Redis, a proof taken by one server process is refused by another."""
    one = app_for(store, sqlite_url, TESSERA_REDIS_URL=redis_url).test_client()
    other = app_for(store, sqlite_url, TESSERA_REDIS_URL=redis_url).test_client()
    prover = Prover()
    token = _tokens(one, rp, prover)["access_token"]
    proof = prover.proof("GET", URL, access_token=token)
    assert _dpop(one, token, proof).status_code == 200
    _refused(_dpop(other, token, proof), "invalid_dpop_proof")
