"""TokenValidator: header syntax, checksum before any I/O, expiry, scopes (all of them)."""

import dataclasses
import time

import pytest

from tessera.resource import (
    AccessToken,
    InsufficientScope,
    InvalidToken,
    MissingToken,
    ServerUnavailable,
    TokenCache,
    TokenValidator,
)
from tessera.tokens import TokenKind, digest, mint
from tests.conftest import random_free_id
from tests.resource.conftest import ScriptedSource


def _flip_last(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_a_good_token_gives_its_access_token(source: ScriptedSource) -> None:
    token, expected = source.add(scope="api read")
    found = TokenValidator(source).validate(f"Bearer {token}", ("api",))
    assert found == expected
    assert found.scopes == frozenset({"api", "read"}) and found.digest == digest(token)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_scheme_is_case_insensitive(source: ScriptedSource, scheme: str) -> None:
    token, _ = source.add()
    assert TokenValidator(source).validate(f"{scheme}  {token} ").client_id == "svc"


@pytest.mark.parametrize("header", [None, ""])
def test_no_header_is_missing_token(source: ScriptedSource, header: str | None) -> None:
    with pytest.raises(MissingToken):
        TokenValidator(source).validate(header)
    assert source.calls == 0


def _bad_headers() -> list[tuple[str, str]]:
    token = mint(TokenKind.ACCESS)
    return [
        ("Bearer", "no token"),
        ("Bearer   ", "no token"),
        (f"Basic {token}", "Bearer scheme"),
        (f"Token {token}", "Bearer scheme"),
        (token, "Bearer scheme"),
        (f"Bearer {token} {token}", "more than one token"),
        (f"Bearer {token}, Bearer {token}", "more than one token"),
        (f"Bearer {token},", "more than one token"),
        (f"Bearer {_flip_last(token)}", "invalid, expired or revoked"),  # checksum
        (f"Bearer {token[:-2]}", "invalid, expired or revoked"),  # truncated
        (f"Bearer {mint(TokenKind.REFRESH)}", "invalid, expired or revoked"),  # not an access token
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "invalid, expired or revoked"),  # a JWT is not ours
    ]


@pytest.mark.parametrize(("header", "message"), _bad_headers(), ids=random_free_id)
def test_garbage_is_refused_without_any_lookup(source: ScriptedSource, header: str, message: str) -> None:
    cache = TokenCache(source, ttl=60)
    with pytest.raises(InvalidToken) as caught:
        TokenValidator(cache).validate(header, ("api",))
    assert not isinstance(caught.value, MissingToken)
    assert message in caught.value.description
    assert source.calls == 0 and len(cache) == 0  # no I/O, and nothing reached the cache
    assert "tsr_" not in caught.value.description + caught.value.detail  # never echoes the token


def test_unknown_token_is_invalid(source: ScriptedSource) -> None:
    with pytest.raises(InvalidToken):
        TokenValidator(source).validate(f"Bearer {mint(TokenKind.ACCESS)}")
    assert source.calls == 1


def test_expiry_is_checked_whatever_the_source_says(source: ScriptedSource) -> None:
    token, _ = source.add(expires_in=-1)
    with pytest.raises(InvalidToken):
        TokenValidator(source).validate(f"Bearer {token}")
    token, _ = source.add(expires_in=100)
    later = TokenValidator(source, clock=lambda: time.time() + 101)
    with pytest.raises(InvalidToken):
        later.validate(f"Bearer {token}")


def test_every_required_scope_must_be_granted(source: ScriptedSource) -> None:
    token, _ = source.add(scope="api read")
    validator = TokenValidator(source)
    header = f"Bearer {token}"
    assert validator.validate(header, ("api", "read")).scope == "api read"
    assert validator.validate(header, ()).scope == "api read"
    with pytest.raises(InsufficientScope) as caught:
        validator.validate(header, ("api", "write"))
    assert caught.value.required == frozenset({"api", "write"})
    assert 'scope="api write"' in caught.value.www_authenticate()


def test_scope_names_match_exactly(source: ScriptedSource) -> None:
    token, _ = source.add(scope="api:read")
    with pytest.raises(InsufficientScope):
        TokenValidator(source).validate(f"Bearer {token}", ("api",))


def test_server_unavailable_passes_through(source: ScriptedSource) -> None:
    token, _ = source.add()
    source.down = True
    with pytest.raises(ServerUnavailable):
        TokenValidator(source).validate(f"Bearer {token}")


def test_validate_cached_answers_only_from_the_cache(source: ScriptedSource) -> None:
    token, expected = source.add(scope="api")
    cache = TokenCache(source, ttl=60)
    validator = TokenValidator(cache)
    header = f"Bearer {token}"
    assert validator.validate_cached(header, ("api",)) is None  # a miss: needs the source
    assert source.calls == 0
    validator.validate(header, ("api",))
    assert validator.validate_cached(header, ("api",)) == expected
    with pytest.raises(InsufficientScope):
        validator.validate_cached(header, ("admin",))
    unknown = f"Bearer {mint(TokenKind.ACCESS)}"
    with pytest.raises(InvalidToken):
        validator.validate(unknown)
    with pytest.raises(InvalidToken):  # the cached "not active"
        validator.validate_cached(unknown)
    with pytest.raises(InvalidToken):
        validator.validate_cached("Basic x")
    assert source.calls == 2


def test_validate_cached_without_a_cache_always_needs_the_source(source: ScriptedSource) -> None:
    token, _ = source.add()
    assert TokenValidator(source).validate_cached(f"Bearer {token}") is None
    assert source.calls == 0


def test_access_token_is_frozen_and_its_repr_hides_the_digest(source: ScriptedSource) -> None:
    _, found = source.add()
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.scope = "admin"  # type: ignore[misc]
    assert found.digest not in repr(found) and found.digest[:8] not in repr(found)
    assert AccessToken("1", None, "c", "b a", 1, "d").scopes == frozenset({"a", "b"})


def test_a_realm_that_cannot_be_quoted_is_refused_at_start(source: ScriptedSource) -> None:
    with pytest.raises(ValueError):
        TokenValidator(source, realm='bad"realm')


def test_access_tokens_share_equal_scopes_and_client_ids() -> None:
    """Memory at 100,000 cached tokens: equal values are held once, and each token still reads its own."""

    def make(client_id: str, scope: str) -> AccessToken:
        return AccessToken("1", None, client_id, scope, 0, digest="d" * 64)

    first, second = make("".join(("cli", "ent")), " ".join(("api", "restricted"))), make("client", "api restricted")
    assert first.scopes is second.scopes and first.scopes == {"api", "restricted"}
    assert first.scope is second.scope and first.client_id is second.client_id
    # a client id that equals some scope string does not borrow that scope's set
    odd = make("api restricted", "admin")
    assert odd.client_id == "api restricted" and odd.scopes == {"admin"} and odd.scope == "admin"
