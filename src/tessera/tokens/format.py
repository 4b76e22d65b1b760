"""The opaque token format: ``tsr_<kind>_<body><check>``.

* ``kind`` routes a lookup to the right table and keeps kinds apart: ``at`` access, ``rt`` refresh,
  ``ac`` authorization code, ``dc`` device code (RFC 8628), ``cs`` client secret, ``ia`` initial access token and
  ``ra`` registration access token (client registration, RFC 7591 and RFC 7592).
* ``body`` is 32 bytes from :mod:`secrets` in base62, always 43 characters (256 bits; RFC 6749 §10.10 asks
  for far less).
* ``check`` is the CRC32 of everything before it in base62, always 6 characters, as GitHub's tokens do.
  CRC32 catches every single-character change (any burst of up to 32 bits), so a mistyped, truncated or
  made-up string is rejected with no I/O at all; it is no defence against forgery, which the 256-bit body is.
"""

import enum
import secrets
import zlib

__all__ = ["TOKEN_LENGTH", "MalformedToken", "TokenKind", "mint", "parse"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PREFIX = "tsr_"
_BODY_BYTES = 32
_BODY_LEN = 43  # ceil(256 / log2(62))
_CHECK_LEN = 6  # 62**6 > 2**32
_HEAD_LEN = len(_PREFIX) + 3  # "tsr_" + kind + "_"
TOKEN_LENGTH = _HEAD_LEN + _BODY_LEN + _CHECK_LEN


class TokenKind(enum.StrEnum):
    ACCESS = "at"
    REFRESH = "rt"
    CODE = "ac"
    DEVICE = "dc"
    CLIENT_SECRET = "cs"
    INITIAL_ACCESS = "ia"
    REGISTRATION_ACCESS = "ra"


_KINDS = {k.value: k for k in TokenKind}


class MalformedToken(ValueError):
    """The string is not a Tessera token of the expected kind; safe to say so to the caller."""


# every two-character base62 string, by value: two digits per divmod and table look-up instead of one
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_PAIR_BASE = len(_PAIRS)  # 62**2; 62**6 > 2**32, so the checksum's leading pair's index is always in range


def _base62(number: int, width: int) -> str:
    """The lowest ``width`` base62 digits of ``number``, most significant first."""
    out = []
    for _ in range(width // 2):
        number, rem = divmod(number, _PAIR_BASE)
        out.append(_PAIRS[rem])
    if width % 2:
        out.append(_ALPHABET[number % 62])
    return "".join(reversed(out))


def _check(head_and_body: str) -> str:
    high, low = divmod(zlib.crc32(head_and_body.encode("ascii")), _PAIR_BASE)
    high, middle = divmod(high, _PAIR_BASE)
    return _PAIRS[high] + _PAIRS[middle] + _PAIRS[low]


def mint(kind: TokenKind) -> str:
    """A new random token of ``kind``."""
    body = _base62(int.from_bytes(secrets.token_bytes(_BODY_BYTES), "big"), _BODY_LEN)
    head = f"{_PREFIX}{kind.value}_{body}"
    return head + _check(head)


def parse(value: str, expected: TokenKind | None = None) -> TokenKind:
    """Check the shape and checksum of ``value`` and return its kind; raise :class:`MalformedToken` if not.

    With ``expected``, a token of another kind is refused here, before any lookup.
    """
    if len(value) != TOKEN_LENGTH or not value.startswith(_PREFIX) or value[_HEAD_LEN - 1] != "_":
        raise MalformedToken("not a Tessera token")
    kind = _KINDS.get(value[len(_PREFIX) : _HEAD_LEN - 1])
    if kind is None:
        raise MalformedToken("unknown token kind")
    if expected is not None and kind is not expected:
        raise MalformedToken(f"expected a {expected.name.lower()} token")
    tail = value[_HEAD_LEN:]
    # base62 is exactly the ASCII letters and digits; two C-level checks, ten times faster than a per-character loop
    if not (tail.isascii() and tail.isalnum()):
        raise MalformedToken("not a Tessera token")
    if not secrets.compare_digest(_check(value[:-_CHECK_LEN]), value[-_CHECK_LEN:]):
        raise MalformedToken("token checksum does not match")
    return kind
