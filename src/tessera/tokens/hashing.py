"""Digests of tokens and secrets: what storage sees instead of the value.

A slow KDF buys nothing for 256-bit random values and would cost every ``client_credentials`` call, so
SHA-256 is the right tool here; user passwords, which are chosen by people, use argon2id elsewhere.
"""

import hashlib
import hmac
import secrets

__all__ = ["digest", "digests_equal", "random_id"]


def digest(value: str) -> str:
    """SHA-256 of ``value`` as 64 hex characters."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def random_id(nbytes: int = 16) -> str:
    """A random identifier (client ids, grant ids): ``nbytes`` random bytes as lowercase hex.

    Not ``token_urlsafe``: an id starting with ``-`` would read as an option on the command line
    (``tessera clients delete -Wx...``), and ``_`` or ``-`` at either end is easy to lose when copying.
    """
    return secrets.token_hex(nbytes)
