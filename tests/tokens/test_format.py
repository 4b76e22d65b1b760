"""Properties of the opaque token format (``tessera.tokens``): shape, checksum, kinds and digests."""

import hashlib
import string
from typing import Any
from unittest import mock

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from tessera.store import Store
from tessera.tokens import TOKEN_LENGTH, MalformedToken, TokenKind, digest, digests_equal, mint, parse
from tests.conftest import TOKEN, RegisteredClient, exchange, get_code, pkce_pair

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

kinds = st.sampled_from(list(TokenKind))


def _minted(kind: TokenKind, body: bytes) -> str:
    """``mint(kind)`` with ``body`` as its random bytes: Hypothesis must draw every bit a test case depends on, or
    it cannot replay (and shrink) a case it found."""
    with mock.patch("tessera.tokens.format.secrets.token_bytes", return_value=body):
        return mint(kind)


tokens = st.builds(_minted, kinds, st.binary(min_size=32, max_size=32))
# any character at all, including other base62 characters, "_", non-ASCII and surrogate-free Unicode
any_char = st.characters(codec="utf-8")


def test_length_is_prefix_plus_43_body_plus_6_check() -> None:
    assert TOKEN_LENGTH == len("tsr_at_") + 43 + 6


@given(kind=kinds)
def test_mint_then_parse_round_trips(kind: TokenKind) -> None:
    token = mint(kind)
    assert parse(token) is kind
    assert parse(token, kind) is kind


@given(kind=kinds)
def test_every_token_has_fixed_length_prefix_and_base62_tail(kind: TokenKind) -> None:
    token = mint(kind)
    assert len(token) == TOKEN_LENGTH
    assert token.startswith(f"tsr_{kind.value}_")
    assert set(token[len("tsr_xx_") :]) <= set(BASE62)


def test_mint_is_random() -> None:
    minted = {mint(TokenKind.ACCESS) for _ in range(200)}
    assert len(minted) == 200


@given(token=tokens, data=st.data())
def test_any_single_changed_character_is_refused(token: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(any_char.filter(lambda c: c != token[position]), label="replacement")
    changed = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(MalformedToken):
        parse(changed)


@given(token=tokens, data=st.data())
def test_any_single_changed_base62_character_is_refused(token: str, data: st.DataObject) -> None:
    """The hard case for a checksum: the result still looks like a token, only the CRC can tell."""
    position = data.draw(st.integers(len("tsr_xx_"), len(token) - 1), label="position")
    replacement = data.draw(st.sampled_from(BASE62).filter(lambda c: c != token[position]), label="replacement")
    changed = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(MalformedToken):
        parse(changed)


@pytest.mark.parametrize("kind", list(TokenKind))
def test_every_single_substitution_from_the_token_alphabet_is_refused(kind: TokenKind) -> None:
    """Exhaustive over one token per kind: every position, every base62 character and ``_``."""
    token = mint(kind)
    for position, original in enumerate(token):
        for replacement in BASE62 + "_":
            if replacement == original:
                continue
            changed = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(MalformedToken):
                parse(changed)


@given(token=tokens, data=st.data())
def test_any_dropped_character_is_refused(token: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    with pytest.raises(MalformedToken):
        parse(token[:position] + token[position + 1 :])


@given(token=tokens, data=st.data())
def test_any_added_character_is_refused(token: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(token)), label="position")
    added = data.draw(any_char, label="added")
    with pytest.raises(MalformedToken):
        parse(token[:position] + added + token[position:])


@given(value=st.text(max_size=120) | tokens.map(lambda t: t[:7] + "\u00e9" + t[8:]))
def test_parse_raises_only_malformed_token(value: str) -> None:
    """Whatever a caller sends, ``parse`` says "malformed" and nothing else (no UnicodeError, no IndexError)."""
    with pytest.raises(MalformedToken):
        parse(value)


@given(token=tokens, data=st.data())
def test_truncated_or_padded_tokens_are_refused(token: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(token) - 1), label="cut")
    with pytest.raises(MalformedToken):
        parse(token[:cut])
    with pytest.raises(MalformedToken):
        parse(token + token[:cut] + "x")


@given(kind=kinds, other=kinds)
def test_kinds_cannot_be_confused(kind: TokenKind, other: TokenKind) -> None:
    token = mint(kind)
    if kind is other:
        assert parse(token, other) is kind
    else:
        with pytest.raises(MalformedToken):
            parse(token, other)


def test_relabelled_kind_fails_the_checksum() -> None:
    """Changing ``at`` to ``rt`` yields a string with a valid-looking prefix; the checksum covers the kind."""
    access = mint(TokenKind.ACCESS)
    relabelled = access.replace("tsr_at_", "tsr_rt_", 1)
    with pytest.raises(MalformedToken):
        parse(relabelled)
    with pytest.raises(MalformedToken):
        parse(relabelled, TokenKind.REFRESH)


def test_access_token_as_refresh_token_is_invalid_grant_without_a_lookup(
    client: FlaskClient, store: Store, web_client: RegisteredClient, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier, challenge = pkce_pair()
    issued = exchange(client, web_client, get_code(client, web_client, challenge), verifier)
    assert issued.status_code == 200, issued.json
    access = issued.json["access_token"]
    assert parse(access) is TokenKind.ACCESS

    def present_as_refresh_token() -> Any:
        return client.post(
            TOKEN, data={"grant_type": "refresh_token", "refresh_token": access}, headers=web_client.basic
        )

    # the client row is cached after the first call: from then on the request needs no SQL at all
    warm_up = present_as_refresh_token()
    assert warm_up.status_code == 400 and warm_up.json["error"] == "invalid_grant"

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def no_lookup(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the store was asked about a token of the wrong kind")

    monkeypatch.setattr(store.tokens, "refresh", no_lookup)
    monkeypatch.setattr(store.tokens, "active", no_lookup)
    monkeypatch.setattr(store.tokens, "ref", no_lookup)
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        response = present_as_refresh_token()
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    assert statements == []

    # and the access token was not revoked or otherwise touched by the attempt
    monkeypatch.undo()
    assert store.tokens.active(digest(access)) is not None


@given(value=st.text())
def test_digest_is_sha256_as_64_lowercase_hex(value: str) -> None:
    result = digest(value)
    assert len(result) == 64
    assert set(result) <= set("0123456789abcdef")
    assert result == hashlib.sha256(value.encode("utf-8")).hexdigest()


@given(token=tokens)
def test_digest_is_stable_and_differs_from_the_token(token: str) -> None:
    assert digest(token) == digest(token)
    assert token not in digest(token)


def test_digest_known_value() -> None:
    assert digest("tsr") == hashlib.sha256(b"tsr").hexdigest()
    assert digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@given(a=tokens, b=tokens)
def test_digests_equal_matches_equality(a: str, b: str) -> None:
    assert digests_equal(digest(a), digest(a))
    assert digests_equal(digest(a), digest(b)) is (a == b)


@given(token=tokens, data=st.data())
def test_digests_equal_refuses_any_change(token: str, data: st.DataObject) -> None:
    d = digest(token)
    position = data.draw(st.integers(0, 63), label="position")
    # a fixed-size choice: a filter here would reject a varying number of draws, as the token (minted outside
    # Hypothesis) differs on each replay, and Hypothesis would stop with FlakyStrategyDefinition
    replacement = data.draw(st.sampled_from([c for c in "0123456789abcdef" if c != d[position]]))
    assert not digests_equal(d, d[:position] + replacement + d[position + 1 :])
    assert not digests_equal(d, d[:-1])
    assert not digests_equal(d, "")


@given(a=st.text(), b=st.text())
def test_digests_equal_never_raises_on_odd_input(a: str, b: str) -> None:
    assert digests_equal(a, b) in (True, False)


def test_random_ids_are_safe_on_a_command_line() -> None:
    """A client id starting with '-' read as an option to `tessera clients delete` (seen in CI)."""
    from tessera.tokens import random_id

    ids = {random_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)
