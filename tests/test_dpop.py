"""The proof check's own machinery (:mod:`tessera.dpop`): headers checked once and kept, keyed by their text, so
that a kept key never verifies a proof made with another; the signature checked with ``cryptography`` for each
algorithm; base64url read as strictly as joserfc reads it."""

import base64
import json
import time

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from tessera import dpop
from tessera.dpop import Proof, ProofError, check_proof
from tests.dpop_keys import Prover

URL = "https://api.example/data"


def _check(proof: str) -> Proof:
    return check_proof(proof, method="GET", url=URL, now=time.time())


def _refused(proof: str) -> str:
    with pytest.raises(ProofError) as caught:
        _check(proof)
    return str(caught.value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
def test_each_algorithm_verifies_its_own_signature_and_nothing_else(alg: str) -> None:
    prover = Prover(alg)
    assert _check(prover.proof("GET", URL)).jkt == prover.jkt
    assert _check(prover.proof("GET", URL)).jkt == prover.jkt  # the header is now kept: same answer
    head, payload, signature = prover.proof("GET", URL).split(".")
    tampered = _b64(json.dumps({**json.loads(base64.urlsafe_b64decode(payload + "==")), "htm": "GET!"}).encode())
    assert "signature does not verify" in _refused(f"{head}.{tampered}.{signature}")
    assert "signature does not verify" in _refused(f"{head}.{payload}.{signature[:-4]}")


def test_a_kept_header_never_lets_another_key_verify() -> None:
    """A thief copies a client's header (its key, already checked and kept) onto claims signed with their own key."""
    client, thief = Prover(), Prover()
    assert _check(client.proof("GET", URL)).jkt == client.jkt
    assert _check(thief.proof("GET", URL)).jkt == thief.jkt
    client_head = client.proof("GET", URL).split(".")[0]
    claims = json.dumps({"jti": "j-1", "htm": "GET", "htu": URL, "iat": int(time.time())}).encode()
    signed_by_thief = jws.serialize_compact(
        json.loads(base64.urlsafe_b64decode(client_head + "==")), claims, thief.key, algorithms=["ES256"]
    )
    assert signed_by_thief.split(".")[0] == client_head
    assert "signature does not verify" in _refused(signed_by_thief)
    # and the other way round: the thief's kept header with the client's signature
    thief_head = thief.proof("GET", URL).split(".")[0]
    _, payload, signature = client.proof("GET", URL).split(".")
    assert "signature does not verify" in _refused(f"{thief_head}.{payload}.{signature}")


def test_the_kept_headers_are_bounded_and_a_forgotten_one_is_checked_again() -> None:
    first = Prover()
    assert _check(first.proof("GET", URL)).jkt == first.jkt
    for _ in range(dpop._CACHED_HEADERS):
        key = ECKey.generate_key("P-256")
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
        claims = json.dumps({"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time())}).encode()
        _check(jws.serialize_compact(header, claims, key))
    assert dpop._header.cache_info().currsize <= dpop._CACHED_HEADERS
    assert _check(first.proof("GET", URL)).jkt == first.jkt
    assert "signature does not verify" in _refused(first.proof("GET", URL, header={"jwk": Prover().public_jwk}))


def test_a_header_that_fails_is_not_kept() -> None:
    prover = Prover()
    bad = prover.proof("GET", URL, header={"typ": "JWT"})
    before = dpop._header.cache_info().currsize
    assert "'typ'" in _refused(bad)
    assert "'typ'" in _refused(bad)
    assert dpop._header.cache_info().currsize == before


def test_base64url_is_read_strictly() -> None:
    prover = Prover()
    head, payload, signature = prover.proof("GET", URL).split(".")
    assert len(signature) % 4 == 2  # 64 bytes: the last character carries 2 stray bits, which must be zero
    stray = signature[:-1] + chr(ord(signature[-1]) + 1) if signature[-1] != "w" else signature[:-1] + "x"
    for bad in (
        f"{head}.{payload}.{stray}",
        f"{head}.{payload}.{signature}==",
        f"{head}.{payload}.{signature[:10]}+{signature[11:]}",
        f"{head}.{payload}.{signature[:10]}/{signature[11:]}",
        f"{head}.{payload}.{signature[:-1]}",
    ):
        assert "signature does not verify" in _refused(bad)
    assert "not a compact JWS" in _refused(f"{head}=.{payload}.{signature}")


def test_the_replay_cache_refuses_a_jti_for_its_whole_window_and_forgets_it_after() -> None:
    now = [1000.0]
    cache = dpop.LocalReplayCache(clock=lambda: now[0])
    assert cache.first_use_of("a")
    now[0] += 100
    assert cache.first_use_of("b")
    assert not cache.first_use_of("a") and not cache.first_use_of("b")
    now[0] = 1000.0 + dpop.MAX_AGE + dpop.LEEWAY  # "a"'s window is over, "b"'s is not
    assert cache.first_use_of("a")
    assert not cache.first_use_of("b")
    now[0] += 100  # and now "b"'s is over, while "a" was seen again 100 s ago
    assert cache.first_use_of("b")
    assert not cache.first_use_of("a")


def test_a_full_replay_cache_forgets_the_oldest_first() -> None:
    now = [1000.0]
    cache = dpop.LocalReplayCache(max_entries=2, clock=lambda: now[0])
    assert cache.first_use_of("a") and cache.first_use_of("b") and cache.first_use_of("c")
    assert not cache.first_use_of("b") and not cache.first_use_of("c")
    assert cache.first_use_of("a")  # forgotten to make room for "c"


def test_a_full_replay_cache_refuses_proofs_as_old_as_those_it_forgot() -> None:
    """A proof pushed out of a full cache before its window ended cannot be replayed: every proof as old as it is
    refused from then on, while fresh ones still work."""
    now = [5000.0]  # the wall clock and the cache's clock, here the same
    cache = dpop.LocalReplayCache(max_entries=2, clock=lambda: now[0], wall_clock=lambda: now[0])

    def proof(jti: str, iat: float) -> dpop.Proof:
        return dpop.Proof(jkt="k" * 43, jti=jti, iat=iat, nonce=None)

    first = proof("first", 5000.0)
    assert cache.first_use(first)
    now[0] = 5100.0
    assert cache.first_use(proof("second", 5100.0))
    assert cache.first_use(proof("third", 5100.0))  # "first" is forgotten to make room
    assert not cache.first_use(first)  # yet its replay is refused: it is as old as what was forgotten
    assert not cache.first_use(proof("unseen but as old", 5000.0 + dpop.LEEWAY))
    assert cache.first_use(proof("fresh", 5100.0))
