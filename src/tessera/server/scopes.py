"""Scopes the operator declares: every rule for a scope, in one place. The CLI (``tessera scopes``), the demo and
the tests call :func:`create_scope`, :func:`update_scope` and :func:`delete_scope`; client registration reads
the :class:`Catalogue`.

A client may hold only declared scopes (:mod:`tessera.server.registration` refuses others), the consent page
describes each scope from its declaration, and the metadata lists exactly the declared scopes. A client
registered without a scope gets those marked default.

The rules:

- a name is a scope token of RFC 6749 §3.3 (printable ASCII but space, ``"`` and ``\\``), of 1 to
  :data:`MAX_NAME` characters; names are case-sensitive, as the RFC says;
- a description, which the consent page shows to people, is 1 to :data:`MAX_DESCRIPTION` printable characters
  (no control, formatting or bidirectional-override character: it goes to terminals too), surrounding spaces
  dropped. Scopes declared by the migration from what clients held may have none: the consent page then shows
  the name alone, and ``tessera scopes list`` says so;
- a scope that clients hold is not deleted unless asked to (``force``), and then it is removed from them in the
  same transaction; never when it is the only scope of a client, which would be left able to get nothing.
  Deleting a scope also removes it from every remembered consent, so that a scope declared again later under the
  same name is asked for again. Tokens already issued keep it until they expire (at most
  ``TESSERA_ACCESS_TOKEN_TTL``): a refresh or a code issues only what the client still holds.

A rule broken raises :class:`~tessera.errors.InvalidScope` (or :class:`~tessera.errors.ScopeInUse`) with a
message that says what to change.
"""

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping

from tessera.errors import InvalidScope, ScopeInUse
from tessera.store import ScopeRecord, Scopes

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "Catalogue",
    "catalogue",
    "check_description",
    "check_name",
    "create_scope",
    "delete_scope",
    "describe",
    "is_scope_token",
    "update_scope",
]

MAX_NAME = 128
MAX_DESCRIPTION = 200
#: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_CHARACTERS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}
#: clients named in a refusal; the rest are counted
_NAMED = 3


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """What client registration needs of the declared scopes: which exist, and which a client gets by default
    (sorted by name)."""

    declared: frozenset[str]
    defaults: tuple[str, ...]

    @classmethod
    def of(cls, scopes: Iterable[ScopeRecord]) -> "Catalogue":
        records = sorted(scopes, key=lambda s: s.name)
        return cls(frozenset(s.name for s in records), tuple(s.name for s in records if s.default))


def catalogue(scopes: Scopes) -> Catalogue:
    """The declared scopes as they are now, in one read."""
    return Catalogue.of(scopes.all())


def is_scope_token(name: str) -> bool:
    """Whether ``name`` has only the characters RFC 6749 §3.3 allows in a scope (and at least one)."""
    return bool(name) and set(name) <= _SCOPE_CHARACTERS


def check_name(name: str) -> str:
    """``name`` if a scope may be declared with it; :class:`~tessera.errors.InvalidScope` otherwise."""
    if not is_scope_token(name) or len(name) > MAX_NAME:
        raise InvalidScope(
            f"a scope name must be 1 to {MAX_NAME} printable ASCII characters without spaces, '\"' or '\\' "
            "(RFC 6749 §3.3)"
        )
    return name


def check_description(description: str) -> str:
    """The description without surrounding spaces, if it may be shown; :class:`~tessera.errors.InvalidScope`
    otherwise."""
    text = description.strip()
    if not text or len(text) > MAX_DESCRIPTION or not text.isprintable():
        raise InvalidScope(
            f"a scope's description must be 1 to {MAX_DESCRIPTION} printable characters "
            "(no control or formatting characters)"
        )
    return text


def create_scope(
    scopes: Scopes, name: str, description: str, *, default: bool = False, clock: Callable[[], float] = time.time
) -> ScopeRecord:
    """Declare a scope; :class:`~tessera.errors.AlreadyExists` if it is declared already."""
    record = ScopeRecord(check_name(name), check_description(description), default, int(clock()))
    scopes.create(record)
    return record


def update_scope(
    scopes: Scopes, name: str, *, description: str | None = None, default: bool | None = None
) -> ScopeRecord:
    """Change a scope's description or whether it is granted by default (``None`` keeps either); its name never
    changes (tokens and consents hold it). NotFound for an undeclared name."""
    if description is None and default is None:
        raise InvalidScope("nothing to change: give a new description, or whether the scope is granted by default")
    checked = None if description is None else check_description(description)
    return scopes.update(name, description=checked, default=default)


def delete_scope(scopes: Scopes, name: str, *, force: bool = False) -> list[str]:
    """Delete a scope no client holds, or, with ``force``, remove it from the clients that hold it too, in one
    transaction; the ids of the clients it was removed from. :class:`~tessera.errors.ScopeInUse` changes
    nothing."""

    def check(holders: Mapping[str, tuple[str, ...]]) -> None:
        if not holders:
            return
        if not force:
            their = "its" if len(holders) == 1 else "their"
            raise ScopeInUse(
                f"scope {name!r} is held by {_clients(len(holders))}: change {their} scope first "
                "(tessera clients update CLIENT_ID --scope ...), or delete it with --force"
            )
        alone = [client_id for client_id, held in holders.items() if held == (name,)]
        if alone:
            named = ", ".join(alone[:_NAMED]) + (f" and {len(alone) - _NAMED} more" if len(alone) > _NAMED else "")
            them = "it" if len(alone) == 1 else "them"
            raise ScopeInUse(
                f"scope {name!r} is the only scope of {_clients(len(alone))} ({named}): give {them} another scope "
                f"first, or delete {them}"
            )

    return scopes.delete(name, check)


def describe(record: ScopeRecord) -> dict[str, object]:
    """A scope as ``tessera scopes list --json`` shows it."""
    return {
        "name": record.name,
        "description": record.description,
        "default": record.default,
        "created_at": record.created_at,
    }


def _clients(count: int) -> str:
    return "1 client" if count == 1 else f"{count} clients"
