"""Tessera's token format: mint, parse, checksum and digest. Pure and stdlib-only.

>>> from tessera.tokens import TokenKind, mint, parse
>>> token = mint(TokenKind.ACCESS)
>>> parse(token, TokenKind.ACCESS) is TokenKind.ACCESS
True
"""

from tessera.tokens.format import TOKEN_LENGTH, MalformedToken, TokenKind, mint, parse
from tessera.tokens.hashing import digest, digests_equal, random_id

__all__ = [
    "TOKEN_LENGTH",
    "MalformedToken",
    "TokenKind",
    "digest",
    "digests_equal",
    "mint",
    "parse",
    "random_id",
]
