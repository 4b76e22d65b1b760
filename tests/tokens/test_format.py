"""The token format's shape checks: every character of body and checksum must be base62."""

import pytest

from tessera.tokens import MalformedToken, TokenKind, mint, parse


@pytest.mark.parametrize("bad", ["-", "_", "é", "٣", " ", "+", "/", "="])
def test_a_non_base62_character_is_refused_before_the_checksum(bad: str) -> None:
    token = mint(TokenKind.ACCESS)
    for position in (7, 30, len(token) - 1):
        with pytest.raises(MalformedToken, match="not a Tessera token"):
            parse(token[:position] + bad + token[position + 1 :], TokenKind.ACCESS)


def test_minted_tokens_parse_as_their_kind() -> None:
    for kind in TokenKind:
        assert parse(mint(kind), kind) is kind
