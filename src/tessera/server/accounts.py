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

Passwords follow NIST SP 800-63B rev. 4, §3.1.1.2 (passwords chosen by people), in
:func:`check_password`:

- 8 to 1024 characters, counted as code points after NFC (an ``é`` typed as ``e`` and a combining accent is one
  character, as it is to the person typing it). No composition rules (no "a digit and a symbol"): they make
  passwords harder to remember, not to guess.
- Not a value people commonly choose or an attacker would try first. Compared case-insensitively (NFKC, case
  folded, as usernames are), refused are: the username, or a password that contains it (for usernames of at
  least 3 characters: a shorter one would refuse every password with those letters in it); the word ``tessera``,
  the name of the service; a group of up to 4 characters repeated (``aaaaaaaa``, ``abababab``, ``abcabcab``);
  a run along a common sequence or keyboard row, either way (``12345678``, ``abcdefgh``, ``qwertyui``,
  ``87654321``); a password on the built-in list of the most common ones (``common_passwords.txt`` beside this
  module, a few hundred written for Tessera), alone or with digits and symbols around it (``Password2024!``);
  and, if the operator set ``TESSERA_PASSWORD_BLOCKLIST``, a password on their list (:class:`PasswordPolicy`).

A refusal says which rule in one line and never repeats the password: the message goes to a terminal and may
reach a log. Passwords are stored as argon2id hashes (:mod:`tessera.passwords`), never in clear, as typed: the
normal forms above are for comparing only, so that sign-in need not change.

The demo creates its user ``demo`` with the password ``demo`` (the contract of ``tessera demo``) with
``policy=None``, which only refuses an empty password; nothing else passes ``None``.

A new password signs the person out everywhere: whoever knew the old one may hold a session or tokens obtained
with it, so :func:`set_password` ends every session of the user and revokes every token issued for them, access
tokens included (they are revoked at once, which is what opaque tokens are for; their apps ask the person to sign
in again).
"""

import dataclasses
import functools
import importlib.resources
import re
import unicodedata
from pathlib import Path

from tessera.errors import ConfigError, InvalidAccount
from tessera.passwords import hash_password
from tessera.server.scripts import mixed_scripts
from tessera.store import UserRecord, Users

__all__ = [
    "MAX_PASSWORD",
    "MAX_USERNAME",
    "MIN_PASSWORD",
    "PasswordPolicy",
    "check_email",
    "check_name",
    "check_password",
    "check_username",
    "create_user",
    "normalise_username",
    "set_password",
    "update_profile",
]

MAX_USERNAME = 150
MAX_EMAIL = 254
MAX_NAME = 200
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

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


@dataclasses.dataclass(frozen=True)
class PasswordPolicy:
    """What the operator adds to the built-in rules: ``blocklist``, passwords refused besides the built-in list,
    case folded. :meth:`from_file` reads ``TESSERA_PASSWORD_BLOCKLIST``."""

    blocklist: frozenset[str] = frozenset()

    @classmethod
    def from_file(cls, path: Path | None) -> "PasswordPolicy":
        """The policy with the list at ``path`` (none: the built-in rules only); :class:`~tessera.errors.ConfigError`
        if it cannot be read. Read once per process: only the commands that set a password ask for it."""
        return cls() if path is None else cls(_read_blocklist(path))


#: the built-in rules alone
BUILT_IN = PasswordPolicy()

#: runs along these, or along them backwards, are obvious: digits (0 after 9 too), the alphabet, the rows and
#: columns of QWERTY keyboards and the first rows of AZERTY and QWERTZ ones
_SEQUENCES = (
    "01234567890",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "azertyuiop",
    "qwertzuiop",
    "!@#$%^&*()",
)
#: the longest group of characters whose repetition counts as obvious (``abcdabcd``)
_REPEATED_GROUP = 4
#: what people put around a common password to pass composition rules: digits, symbols, spaces
_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_SERVICE = "tessera"
#: usernames shorter than this are compared whole, never looked for inside a password
_USERNAME_INSIDE = 3


def check_password(password: str, username: str | None = None, *, policy: PasswordPolicy = BUILT_IN) -> str:
    """``password`` if it may be set for ``username`` (its stored name; ``None`` when there is none yet);
    :class:`~tessera.errors.InvalidAccount` naming the rule otherwise, without the password."""
    if not password:
        raise InvalidAccount("the password must not be empty")
    length = len(unicodedata.normalize("NFC", password))
    if length < MIN_PASSWORD:
        raise InvalidAccount(f"the password must be at least {MIN_PASSWORD} characters long")
    if length > MAX_PASSWORD:
        raise InvalidAccount(f"the password must be at most {MAX_PASSWORD} characters long")
    folded = normalise_username(password)  # the same folding as names: NFKC, case folded
    if username:
        name = normalise_username(username)
        if folded == name or (len(name) >= _USERNAME_INSIDE and name in folded):
            raise InvalidAccount("the password must not contain the username")
    if _SERVICE in folded:
        raise InvalidAccount(f"the password must not contain the name of the service ({_SERVICE!r})")
    if _repeats(folded):
        raise InvalidAccount("the password must not be a few characters repeated (like aaaaaaaa or abababab)")
    if any(folded in sequence or folded[::-1] in sequence for sequence in _SEQUENCES):
        raise InvalidAccount("the password must not be an obvious sequence (like 12345678, abcdefgh or qwertyui)")
    stem = _DECORATION.sub("", folded)
    if folded in _common() or stem in _common():
        raise InvalidAccount("the password is one of the most common passwords (give or take digits or symbols)")
    if folded in policy.blocklist:
        raise InvalidAccount("the password is on this server's list of refused passwords (TESSERA_PASSWORD_BLOCKLIST)")
    return password


# an address as people type it (RFC 5321 §4.1.2, §4.5.3.1): a local part of printable ASCII without spaces, one @,
# a domain of dot-separated labels of letters, digits and hyphens (a non-ASCII domain in its xn-- form)
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def check_email(email: str) -> str:
    """``email`` if it may be a user's address (the ``email`` claim); :class:`~tessera.errors.InvalidAccount`
    otherwise. Only its shape is checked: Tessera sends no mail, so ``email_verified`` is always false."""
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email) or ".." in email or email.startswith("."):
        raise InvalidAccount(
            "the e-mail address must look like name@example.com (ASCII, no spaces, a domain with a dot, "
            f"at most {MAX_EMAIL} characters)"
        )
    return email


def check_name(name: str) -> str:
    """``name`` (NFC) if it may be a user's full name (the ``name`` claim); InvalidAccount otherwise."""
    name = unicodedata.normalize("NFC", name)
    if not name.strip() or len(name) > MAX_NAME or name != name.strip():
        raise InvalidAccount(f"the name must be 1 to {MAX_NAME} characters, without leading or trailing spaces")
    refused = _refused_character(name)
    if refused:
        raise InvalidAccount(
            f"the name must not contain control, formatting or invisible characters (it contains {refused})"
        )
    return name


def create_user(
    users: Users,
    username: str,
    password: str,
    *,
    policy: PasswordPolicy | None = BUILT_IN,
    email: str | None = None,
    name: str | None = None,
) -> UserRecord:
    """Check the username, the password, and the e-mail address and name if given, and store the user under the
    username's normal form, with the password's argon2id hash and a new random subject. ``policy=None`` refuses
    only an empty password: the demo's user, and nobody else."""
    username = check_username(username)
    email = None if email is None else check_email(email)
    name = None if name is None else check_name(name)
    if policy is None:
        if not password:
            raise InvalidAccount("the password must not be empty")
    else:
        check_password(password, username, policy=policy)
    return users.create(username, hash_password(password), email=email, name=name)


def update_profile(users: Users, username: str, *, email: str | None = None, name: str | None = None) -> UserRecord:
    """Set a user's e-mail address and/or name (the empty string clears one; ``None`` leaves it)."""
    changes: dict[str, str | None] = {}
    if email is not None:
        changes["email"] = check_email(email) if email else None
    if name is not None:
        changes["name"] = check_name(name) if name else None
    if not changes:
        raise InvalidAccount("nothing to update: give --email or --name")
    return users.update_profile(username, **changes)


def set_password(users: Users, username: str, password: str, *, policy: PasswordPolicy = BUILT_IN) -> list[str]:
    """Give ``username`` a new password (the same rules as at creation), end their sessions and revoke their
    tokens, in one transaction; the revoked access-token digests, for the caller to announce.
    :class:`~tessera.errors.NotFound` for an unknown user."""
    check_password(password, username, policy=policy)
    return users.change_password(username, hash_password(password))


def _repeats(text: str) -> bool:
    """One group of a few characters, at least twice, the last time perhaps cut short (``abcabcab``)."""
    for size in range(1, _REPEATED_GROUP + 1):
        whole, rest = divmod(len(text), size)
        if whole >= 2 and text == text[:size] * whole + text[:rest]:
            return True
    return False


@functools.cache
def _common() -> frozenset[str]:
    text = importlib.resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(normalise_username(line) for line in text.splitlines() if line)


@functools.cache
def _read_blocklist(path: Path) -> frozenset[str]:
    """The operator's list, one password per line, folded as passwords are compared. Bytes that are not UTF-8
    (lists collected from breaches have some) are kept as they are: such a line never matches, since a password
    that is not UTF-8 is refused anyway, but it does not stop the rest of the list from being read."""
    try:
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline=None) as lines:
            return frozenset(normalise_username(line.rstrip("\n")) for line in lines if line.strip("\n"))
    except OSError as exc:
        raise ConfigError(f"TESSERA_PASSWORD_BLOCKLIST: cannot read {path}: {exc.strerror or exc}") from None
