"""DPoP in the resource toolkit (RFC 9449 §7): ``Authorization: DPoP`` with a proof for this request, this token
and the token's key; bound tokens refused as bearer tokens; the replay cache in process and through Redis; the
``DPoP`` challenge; both adapters, over scripted and real sources."""

import time
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from flask.testing import FlaskClient

from tessera.dpop import RedisReplayCache
from tessera.resource import (
    AccessToken,
    InsufficientScope,
    IntrospectionSource,
    InvalidDPoPProof,
    InvalidToken,
    LocalSource,
    MissingToken,
    TokenCache,
    TokenValidator,
)
from tessera.resource.fastapi import ResourceProtector as FastAPIProtector
from tessera.resource.flask import ResourceProtector, current_token
from tessera.store import Store
from tests.conftest import ISSUER, TOKEN, RegisteredClient
from tests.dpop_keys import DROP, Prover, hs256, unsigned
from tests.resource.conftest import ScriptedSource
from tests.resource.test_fastapi import ASGIClient

URL = "https://api.example/data"


@pytest.fixture
def prover() -> Prover:
    return Prover()


def _validator(source: Any, **options: Any) -> TokenValidator:
    return TokenValidator(TokenCache(source, ttl=60), realm="api", **options)


def _dpop(validator: TokenValidator, token: str, proof: str | None, scopes: tuple[str, ...] = ("api",)) -> AccessToken:
    return validator.validate(f"DPoP {token}", scopes, dpop=proof, method="GET", url=URL)


def test_a_bound_token_with_a_good_proof_is_accepted_from_the_source_and_from_the_cache(
    source: ScriptedSource, prover: Prover
) -> None:
    token, expected = source.add(jkt=prover.jkt)
    validator = _validator(source)
    assert _dpop(validator, token, prover.proof("GET", URL, access_token=token)) == expected
    cached = validator.validate_cached(
        f"DPoP {token}", ("api",), dpop=prover.proof("GET", URL, access_token=token), method="GET", url=URL
    )
    assert cached == expected and source.calls == 1


def _refusals(prover: Prover, token: str) -> dict[str, str | None]:
    return {
        "no proof": None,
        "another method": prover.proof("POST", URL, access_token=token),
        "another URL": prover.proof("GET", "https://api.example/other", access_token=token),
        "another host": prover.proof("GET", "https://evil.example/data", access_token=token),
        "no ath": prover.proof("GET", URL),
        "ath of another token": prover.proof("GET", URL, access_token=token[:-1] + "x"),
        "stale iat": prover.proof("GET", URL, access_token=token, iat=int(time.time()) - 301),
        "iat in the future": prover.proof("GET", URL, access_token=token, iat=int(time.time()) + 120),
        "no jti": prover.proof("GET", URL, access_token=token, jti=DROP),
        "typ JWT": prover.proof("GET", URL, access_token=token, header={"typ": "JWT"}),
        "alg none": unsigned({"typ": "dpop+jwt", "jwk": prover.public_jwk}, {"htm": "GET", "htu": URL}),
        "alg HS256": hs256(prover, "GET", URL),
        "a private key in jwk": prover.proof(
            "GET", URL, access_token=token, header={"jwk": prover.key.as_dict(private=True)}
        ),
        "oversized": prover.proof("GET", URL, access_token=token, padding="x" * 5000),
        "two proofs": prover.proof("GET", URL, access_token=token) + "," + prover.proof("GET", URL),
    }


@pytest.mark.parametrize(
    "case",
    sorted(_refusals(Prover(), "tsr_at_x")),
)
def test_a_proof_that_does_not_hold_is_401_invalid_dpop_proof_with_a_dpop_challenge(
    source: ScriptedSource, prover: Prover, case: str
) -> None:
    token, _ = source.add(jkt=prover.jkt)
    validator = _validator(source)
    with pytest.raises(InvalidDPoPProof) as caught:
        _dpop(validator, token, _refusals(prover, token)[case])
    error = caught.value
    assert error.status_code == 401 and error.error == "invalid_dpop_proof"
    challenge = error.www_authenticate(validator.realm)
    assert challenge.startswith('DPoP realm="api", error="invalid_dpop_proof"')
    assert 'algs="ES256' in challenge and "RS256" in challenge
    assert source.calls == 0  # the proof is checked before the token is looked up


def test_a_proof_by_another_key_than_the_tokens_is_invalid_token(source: ScriptedSource, prover: Prover) -> None:
    token, _ = source.add(jkt=prover.jkt)
    with pytest.raises(InvalidToken) as caught:
        _dpop(_validator(source), token, Prover().proof("GET", URL, access_token=token))
    assert caught.value.error == "invalid_token" and caught.value.dpop_algs is not None
    assert "not bound to this DPoP proof's key" in caught.value.description


def test_a_bound_token_sent_as_bearer_is_refused_with_a_dpop_challenge(source: ScriptedSource, prover: Prover) -> None:
    token, _ = source.add(jkt=prover.jkt)
    validator = _validator(source)
    for _ in range(2):  # from the source, then from the cache
        with pytest.raises(InvalidToken) as caught:
            validator.validate(f"Bearer {token}", ("api",))
        assert caught.value.www_authenticate(validator.realm).startswith('DPoP realm="api", error="invalid_token"')


def test_a_bearer_token_sent_as_dpop_is_refused(source: ScriptedSource, prover: Prover) -> None:
    token, _ = source.add()
    with pytest.raises(InvalidToken) as caught:
        _dpop(_validator(source), token, prover.proof("GET", URL, access_token=token))
    assert "not bound" in caught.value.description


def test_a_proof_is_accepted_once_and_a_refused_one_is_not_used_up(source: ScriptedSource, prover: Prover) -> None:
    token, _ = source.add(jkt=prover.jkt, scope="api")
    validator = _validator(source)
    proof = prover.proof("GET", URL, access_token=token)
    with pytest.raises(InsufficientScope):  # refused for its scope: the proof's jti is not recorded
        _dpop(validator, token, proof, ("api", "admin"))
    _dpop(validator, token, proof)
    with pytest.raises(InvalidDPoPProof) as caught:
        _dpop(validator, token, proof)
    assert "already used" in caught.value.description


def test_bearer_tokens_are_still_accepted_unless_the_validator_requires_dpop(
    source: ScriptedSource, prover: Prover
) -> None:
    token, _ = source.add()
    assert _validator(source).validate(f"Bearer {token}", ("api",)).client_id == "svc"
    strict = _validator(source, require_dpop=True)
    with pytest.raises(InvalidToken) as caught:
        strict.validate(f"Bearer {token}", ("api",))
    assert caught.value.www_authenticate().startswith('DPoP error="invalid_token"')
    with pytest.raises(MissingToken) as missing:
        strict.validate(None)
    assert missing.value.www_authenticate("api") == f'DPoP realm="api", algs="{strict.dpop_algs}"'
    bound, _ = source.add(jkt=prover.jkt)
    assert _dpop(strict, bound, prover.proof("GET", URL, access_token=bound)).jkt == prover.jkt


def test_a_proof_replayed_against_another_process_is_refused_through_redis(
    source: ScriptedSource, prover: Prover, redis_url: str, redis_prefix: str
) -> None:
    token, _ = source.add(jkt=prover.jkt)
    one = _validator(source, replay=RedisReplayCache(redis_url, prefix=redis_prefix))
    other = _validator(source, replay=RedisReplayCache(redis_url, prefix=redis_prefix))
    proof = prover.proof("GET", URL, access_token=token)
    _dpop(one, token, proof)
    with pytest.raises(InvalidDPoPProof):
        _dpop(other, token, proof)
    # with a shared replay cache, a cache hit is not answered without I/O: it goes to a thread
    assert other.validate_cached(f"DPoP {token}", (), dpop=proof, method="GET", url=URL) is None


def test_redis_away_falls_back_to_the_process(source: ScriptedSource, prover: Prover) -> None:
    from tests.conftest import unused_port

    token, _ = source.add(jkt=prover.jkt)
    validator = _validator(source, replay=RedisReplayCache(f"redis://127.0.0.1:{unused_port()}/0", timeout=0.1))
    proof = prover.proof("GET", URL, access_token=token)
    _dpop(validator, token, proof)
    with pytest.raises(InvalidDPoPProof):
        _dpop(validator, token, proof)


# the adapters, with tokens the real server bound


def _bound_token(client: FlaskClient, service: RegisteredClient, prover: Prover) -> str:
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "api"},
        headers={**service.basic, "DPoP": prover.proof("POST", ISSUER + TOKEN)},
    )
    assert response.status_code == 200 and response.json is not None and response.json["token_type"] == "DPoP"
    token: str = response.json["access_token"]
    return token


def _flask_api(validator: TokenValidator) -> FlaskClient:
    api = Flask("api")
    protect = ResourceProtector(validator)

    @api.get("/data")
    @protect("api")
    def data() -> dict[str, Any]:
        return {"client_id": current_token.client_id, "jkt": current_token.jkt}

    return api.test_client()


def test_flask_checks_the_proof_against_its_own_method_and_url(
    client: FlaskClient, service: RegisteredClient, store: Store, prover: Prover
) -> None:
    token = _bound_token(client, service, prover)
    api = _flask_api(TokenValidator(TokenCache(LocalSource(store.tokens)), realm="api"))
    url = "http://localhost/data"
    response = api.get(
        "/data?x=1", headers={"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", url, access_token=token)}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"client_id": service.client_id, "jkt": prover.jkt}
    downgrade = api.get("/data", headers={"Authorization": f"Bearer {token}"})
    assert downgrade.status_code == 401
    assert downgrade.headers["WWW-Authenticate"].startswith('DPoP realm="api", error="invalid_token"')
    wrong_url = api.get(
        "/data",
        headers={"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", URL, access_token=token)},
    )
    assert wrong_url.status_code == 401 and wrong_url.json is not None
    assert wrong_url.json["error"] == "invalid_dpop_proof" and "'htu'" in wrong_url.json["error_description"]
    assert 'algs="' in wrong_url.headers["WWW-Authenticate"]


def test_flask_compares_htu_with_the_path_as_the_client_encoded_it(source: ScriptedSource, prover: Prover) -> None:
    token, _ = source.add(jkt=prover.jkt)
    api = Flask("api")

    @api.get("/café/a b")
    @ResourceProtector(_validator(source))("api")
    def data() -> str:
        return "ok"

    url = "http://localhost/caf%C3%A9/a%20b"
    headers = {"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", url, access_token=token)}
    response = api.test_client().get("/caf%C3%A9/a%20b?q=1", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_flask_checks_each_request_against_its_own_host_and_path(source: ScriptedSource, prover: Prover) -> None:
    """The URL a proof must name is worked out per request (and kept per host and path): a proof made for one host
    or path of the API is refused on another, however many requests came before."""
    token, _ = source.add(jkt=prover.jkt)
    api = Flask("api")
    protect = ResourceProtector(_validator(source))

    @api.get("/a")
    @api.get("/b")
    @protect("api")
    def data() -> str:
        return "ok"

    client = api.test_client()

    def call(host: str, path: str, htu: str) -> int:
        proof = prover.proof("GET", htu, access_token=token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "Host": host}
        return client.get(path, headers=headers).status_code

    for _ in range(2):
        assert call("one.example", "/a", "http://one.example/a") == 200
        assert call("two.example", "/a", "http://two.example/a") == 200
        assert call("two.example", "/a", "http://one.example/a") == 401
        assert call("one.example", "/b", "http://one.example/a") == 401
        assert call("one.example", "/b", "http://ONE.example:80/b") == 200


def test_fastapi_checks_the_proof_against_its_own_method_and_url(
    client: FlaskClient, service: RegisteredClient, introspection: IntrospectionSource, prover: Prover
) -> None:
    token = _bound_token(client, service, prover)
    require_token = FastAPIProtector(TokenValidator(TokenCache(introspection), realm="api"))
    app = FastAPI()

    @app.get("/data")
    def data(found: AccessToken = Depends(require_token("api"))) -> dict[str, Any]:  # noqa: B008
        return {"jkt": found.jkt}

    api = ASGIClient(app)
    url = "http://api.test/data"
    for _ in range(2):  # from introspection (cnf.jkt), then from the cache on the event loop
        proof = prover.proof("GET", url, access_token=token)
        response = api.get("/data?q=1", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        assert response.status_code == 200, response.text
        assert response.json() == {"jkt": prover.jkt}
    replayed = api.get("/data", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert replayed.status_code == 401 and "already used" in replayed.json()["detail"]
    assert replayed.headers["WWW-Authenticate"].startswith('DPoP realm="api", error="invalid_dpop_proof"')
    downgrade = api.get("/data", headers={"Authorization": f"Bearer {token}"})
    assert downgrade.status_code == 401 and downgrade.headers["WWW-Authenticate"].startswith("DPoP ")


def test_introspection_with_a_malformed_cnf_is_503(prover: Prover) -> None:
    import httpx

    from tessera.resource import ServerUnavailable
    from tessera.tokens import TokenKind, mint

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"active": True, "exp": int(time.time()) + 60, "client_id": "c", "sub": "c", "scope": "api", "cnf": 1},
        )

    source = IntrospectionSource(
        ISSUER, "rs", "secret", endpoint=ISSUER + "/oauth/introspect", transport=httpx.MockTransport(answer)
    )
    with pytest.raises(ServerUnavailable):
        TokenValidator(source).validate(f"Bearer {mint(TokenKind.ACCESS)}")
