"""Accounts of people who sign in: every rule for a username and a password, in one place. The CLI
(``tessera users``), the demo and the tests call :func:`create_user` and :func:`set_password`; sign-in calls
:func:`normalise_username`.

A username is stored in one normal form, as PRECIS's UsernameCaseMapped profile asks (RFC 8265 §3.3): NFKC,
which folds width and compatibility forms (``ａｌｉｃｅ`` is ``alice``), then Unicode case folding, then NFKC
again (folding can undo a composition). Sign-in normalises what is typed the same way, so ``Alice`` signs in as
``alice``, and two accounts that differ only by case or width cannot both exist: the second is the first. The
rate limit on failed sign-ins counts the normalised name too, so ``ALICE`` and ``alice`` share one budget.

The rules, on the normal form: 1 to :data:`MAX_USERNAME` characters, no leading or trailing space and never two in
a row; no control, formatting (the bidirectional overrides among them), invisible, private-use or unassigned
character, and no space but U+0020; letters from one script only (:mod:`tessera.server.scripts`), so that
``pаypal`` with a Cyrillic ``а`` cannot pass for ``paypal``. A refusal says which rule, and names a refused
character by its code point, never raw: the message goes to a terminal.

Passwords must not be empty; they are stored as argon2id hashes (:mod:`tessera.passwords`), never in clear.

A new password signs the person out everywhere: whoever knew the old one may hold a session or tokens obtained
with it, so :func:`set_password` ends every session of the user and revokes every token issued for them, access
tokens included (they are revoked at once, which is what opaque tokens are for; their apps ask the person to sign
in again).
"""

import unicodedata

from tessera.errors import InvalidAccount
from tessera.passwords import hash_password
from tessera.server.scripts import mixed_scripts
from tessera.store import UserRecord, Users

__all__ = ["MAX_USERNAME", "check_password", "check_username", "create_user", "normalise_username", "set_password"]

MAX_USERNAME = 150

#: control, formatting (U+200B..U+200F, U+202A..U+202E, U+2066..U+2069, ...), surrogates, private use,
#: unassigned, and the line and paragraph separators
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: invisible characters that are letters or marks rather than formatting (Unicode's Default_Ignorable_Code_Point
#: outside the categories above): the combining grapheme joiner, the Hangul fillers, the Khmer inherent vowels,
#: the Mongolian free variation selectors and the variation selectors
_INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0]
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)


def normalise_username(typed: str) -> str:
    """The one form a username is stored and looked up in: NFKC, case folded, NFKC again. Never refuses."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", typed).casefold())


def _refused_character(name: str) -> str | None:
    for char in name:
        if unicodedata.category(char) in _REFUSED_CATEGORIES or ord(char) in _INVISIBLE:
            return f"U+{ord(char):04X}"
        if char.isspace() and char != " ":
            return f"U+{ord(char):04X}"
    return None


def check_username(username: str) -> str:
    """The normal form of ``username`` if it may be registered; :class:`~tessera.errors.InvalidAccount`
    naming the rule otherwise."""
    name = normalise_username(username)
    if not name.strip() or len(name) > MAX_USERNAME or name != name.strip():
        raise InvalidAccount(f"the username must be 1 to {MAX_USERNAME} characters, without leading or trailing spaces")
    refused = _refused_character(name)
    if refused:
        raise InvalidAccount(
            f"the username must not contain control, formatting or invisible characters, nor spaces other than "
            f"U+0020 (it contains {refused})"
        )
    if "  " in name:
        raise InvalidAccount("the username must not contain two spaces in a row")
    mixed = mixed_scripts(name)
    if mixed:
        raise InvalidAccount(
            f"the username mixes {mixed[0]} and {mixed[1]} letters: write it in one script, so that it cannot "
            "pass for another name"
        )
    return name


def check_password(password: str) -> str:
    """``password`` if it may be set; :class:`~tessera.errors.InvalidAccount` otherwise."""
    if not password:
        raise InvalidAccount("the password must not be empty")
    return password


def create_user(users: Users, username: str, password: str) -> UserRecord:
    """Check the username and the password and store the user under the username's normal form, with the
    password's argon2id hash."""
    name = check_username(username)
    check_password(password)
    return users.create(name, hash_password(password))


def set_password(users: Users, username: str, password: str) -> list[str]:
    """Give ``username`` a new password (the same rule as at creation), end their sessions and revoke their
    tokens, in one transaction; the revoked access-token digests, for the caller to announce.
    :class:`~tessera.errors.NotFound` for an unknown user."""
    check_password(password)
    return users.change_password(username, hash_password(password))
