"""More ways a DPoP proof at the token endpoint can be wrong (RFC 9449 §4.3): each is 400 ``invalid_dpop_proof``
with one line saying which rule, and no token."""

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jws

from tests.conftest import RegisteredClient
from tests.dpop_keys import Prover
from tests.server.test_dpop import URL, _credentials, _refused


def _signed(prover: Prover, payload: bytes) -> str:
    protected = {"typ": "dpop+jwt", "alg": prover.alg, "jwk": prover.public_jwk}
    return jws.serialize_compact(protected, payload, prover.key, algorithms=[prover.alg])


def _cases() -> dict[str, tuple[Any, str]]:
    return {
        "htu with a port out of range": (lambda p: p.proof("POST", "http://127.0.0.1:99999/oauth/token"), "'htu'"),
        "htu not http": (lambda p: p.proof("POST", "ftp://127.0.0.1:8000/oauth/token"), "'htu'"),
        "htu with a user": (lambda p: p.proof("POST", "http://me@127.0.0.1:8000/oauth/token"), "'htu'"),
        "htu on an IPv6 host": (lambda p: p.proof("POST", "http://[::1]:8000/oauth/token"), "'htu'"),
        "htu with escapes": (lambda p: p.proof("POST", "http://127.0.0.1:8000/oauth/%74oken"), "'htu'"),
        "an OKP jwk": (
            lambda p: p.proof("POST", URL, header={"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}}),
            "EC or RSA public key",
        ),
        "an EC jwk off the curve": (
            lambda p: p.proof("POST", URL, header={"jwk": {**p.public_jwk, "x": p.public_jwk["y"]}}),
            "not a valid public key",
        ),
        "a signature that is not base64url": (lambda p: p.proof("POST", URL)[:-8] + "!!!!!!!!", "does not verify"),
        "a payload that is not JSON": (lambda p: _signed(p, b"not json"), "not JSON"),
        "a payload that is a JSON array": (lambda p: _signed(p, json.dumps([URL]).encode()), "not a JSON object"),
        "a jti too long": (lambda p: p.proof("POST", URL, jti="j" * 257), "no 'jti'"),
        "a nonce that is a number": (lambda p: p.proof("POST", URL, nonce=5), "'nonce' is not a string"),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_each_broken_rule_is_named(client: FlaskClient, service: RegisteredClient, case: str) -> None:
    make, words = _cases()[case]
    description = _refused(_credentials(client, service, make(Prover())))
    assert words in description, description


def test_a_known_key_under_another_header_is_still_checked(client: FlaskClient, service: RegisteredClient) -> None:
    prover = Prover()
    assert _credentials(client, service, prover.proof("POST", URL)).status_code == 200
    # the same key, a header that differs (a kid): the key is known, the proof is checked all the same
    assert _credentials(client, service, prover.proof("POST", URL, header={"kid": "k1"})).status_code == 200
    _refused(_credentials(client, service, prover.proof("POST", URL, header={"kid": "k2"}, htm="GET")))
