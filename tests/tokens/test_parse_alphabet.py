"""parse() accepts only base62 in a token's body and check, whatever the checksum says."""

import string

from hypothesis import given
from hypothesis import strategies as st

from tessera.tokens import MalformedToken, TokenKind, mint, parse
from tessera.tokens.format import _check

_BASE62 = set(string.ascii_letters + string.digits)
_HEAD = len("tsr_at_")


@given(
    position=st.integers(min_value=_HEAD, max_value=_HEAD + 42),
    char=st.characters(exclude_characters=_BASE62),
)
def test_a_foreign_character_is_refused_even_with_a_matching_checksum(position: int, char: str) -> None:
    token = mint(TokenKind.ACCESS)
    forged = token[:position] + char + token[position + 1 : -6]
    # a checksum that matches, so only the alphabet check stands in the way (CRC32 is over ASCII only)
    forged += _check(forged) if char.isascii() else token[-6:]
    try:
        parse(forged, TokenKind.ACCESS)
    except MalformedToken:
        return
    raise AssertionError(f"accepted {char!r} at {position}")


@given(st.sampled_from(sorted(_BASE62)))
def test_every_base62_character_is_accepted(char: str) -> None:
    token = mint(TokenKind.ACCESS)
    body = token[:_HEAD] + char + token[_HEAD + 1 : -6]
    assert parse(body + _check(body), TokenKind.ACCESS) is TokenKind.ACCESS
