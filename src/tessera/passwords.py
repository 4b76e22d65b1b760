"""User passwords: argon2id through argon2-cffi, with its current recommended parameters.

``verify`` costs the same whether or not the user exists, so timing does not tell which usernames exist.
argon2-cffi is imported by the first password hashed or checked: a server process that signs nobody in (a
machine-to-machine deployment) never loads it.
"""

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = ["hash_password", "needs_rehash", "verify_password"]


@functools.cache
def _hasher() -> "PasswordHasher":
    from argon2 import PasswordHasher

    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _hasher().hash("tessera: no such user")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; with ``password_hash=None`` (no such user) spends the same time and fails."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
