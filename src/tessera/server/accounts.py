"""Accounts of people who sign in: every rule for a username and a password, in one place. The CLI
(``tessera users``), the demo and the tests call :func:`create_user` and :func:`set_password`.

The rules: a username of 1 to 150 characters without leading or trailing spaces; a password that is not empty.
Passwords are stored as argon2id hashes (:mod:`tessera.passwords`), never in clear.

A new password signs the person out everywhere: whoever knew the old one may hold a session or tokens obtained
with it, so :func:`set_password` ends every session of the user and revokes every token issued for them, access
tokens included (they are revoked at once, which is what opaque tokens are for; their apps ask the person to sign
in again).
"""

from tessera.errors import InvalidAccount
from tessera.passwords import hash_password
from tessera.store import UserRecord, Users

__all__ = ["MAX_USERNAME", "check_password", "check_username", "create_user", "set_password"]

MAX_USERNAME = 150


def check_username(username: str) -> str:
    """``username`` if it may be registered; :class:`~tessera.errors.InvalidAccount` otherwise."""
    if not username.strip() or len(username) > MAX_USERNAME or username != username.strip():
        raise InvalidAccount(f"the username must be 1 to {MAX_USERNAME} characters, without leading or trailing spaces")
    return username


def check_password(password: str) -> str:
    """``password`` if it may be set; :class:`~tessera.errors.InvalidAccount` otherwise."""
    if not password:
        raise InvalidAccount("the password must not be empty")
    return password


def create_user(users: Users, username: str, password: str) -> UserRecord:
    """Check the username and the password and store the user, with the password's argon2id hash."""
    check_username(username)
    check_password(password)
    return users.create(username, hash_password(password))


def set_password(users: Users, username: str, password: str) -> list[str]:
    """Give ``username`` a new password (the same rule as at creation), end their sessions and revoke their
    tokens, in one transaction; the revoked access-token digests, for the caller to announce.
    :class:`~tessera.errors.NotFound` for an unknown user."""
    check_password(password)
    return users.change_password(username, hash_password(password))
