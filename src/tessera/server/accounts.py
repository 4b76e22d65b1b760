"""Accounts of people who sign in: every rule for a username and a password, in one place. The CLI
(``tessera users``), the demo and the tests call :func:`create_user`.

The rules: a username of 1 to 150 characters without leading or trailing spaces; a password that is not empty.
Passwords are stored as argon2id hashes (:mod:`tessera.passwords`), never in clear.
"""

from tessera.errors import InvalidAccount
from tessera.passwords import hash_password
from tessera.store import UserRecord, Users

__all__ = ["MAX_USERNAME", "check_username", "create_user"]

MAX_USERNAME = 150


def check_username(username: str) -> str:
    """``username`` if it may be registered; :class:`~tessera.errors.InvalidAccount` otherwise."""
    if not username.strip() or len(username) > MAX_USERNAME or username != username.strip():
        raise InvalidAccount(f"the username must be 1 to {MAX_USERNAME} characters, without leading or trailing spaces")
    return username


def create_user(users: Users, username: str, password: str) -> UserRecord:
    """Check the username and the password and store the user, with the password's argon2id hash."""
    check_username(username)
    if not password:
        raise InvalidAccount("the password must not be empty")
    return users.create(username, hash_password(password))
