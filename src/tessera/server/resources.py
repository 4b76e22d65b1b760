"""Protected resources and audiences (RFC 8707): every rule for a resource, and what a request may ask for.

The operator registers the APIs tokens may be restricted to (``tessera resources create``); the CLI, the demo and
the tests call :func:`create_resource`. A client then sends ``resource=URI`` at the authorization endpoint
(repeatable: one authorization may cover several APIs) and at the token endpoint (once per request, to narrow the
token to one of them), and the access token carries that audience: introspection answers it as ``aud``, and a
resource server that checks its audience refuses a token issued for another (audience confusion, RFC 9700 §2.3).

The rules for registering one:

- the URI is an absolute ``http(s)`` URI with a host and no fragment (RFC 8707 §2), written in the characters of
  RFC 3986 §2 with no user part; with ``production``, ``https://`` unless its host is a loopback address. An empty
  path is written ``/`` (RFC 3986 §6.2.3, as the toolkit compares them); nothing else is normalised, since
  resource servers compare their audience as a string;
- the name, shown on the consent page, is 1 to :data:`MAX_NAME` printable characters; the URI by default;
- a scope, if given, is one or more declared scopes: a token for the resource carries at most those.

What a request may ask for (:func:`targets`): registered resources only; anything else is ``invalid_target``.
A token's scope is narrowed to the scopes its resources take (:func:`narrowed`): with several resources, to
those any of them takes; a resource registered without a scope takes any.
"""

import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from tessera.config import is_loopback
from tessera.errors import InvalidResource
from tessera.server.errors import InvalidTargetError
from tessera.server.scopes import Catalogue, is_scope_token
from tessera.store import ResourceRecord, Resources

__all__ = [
    "MAX_NAME",
    "MAX_RESOURCES",
    "create_resource",
    "describe",
    "narrowed",
    "normal_uri",
    "targets",
]

MAX_NAME = 200
#: the most resources one authorization request may name
MAX_RESOURCES = 10
_MAX_URI = 2000
# RFC 3986 §2 without "#": unreserved, reserved, and '%' for a percent-encoding
_URI = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]+")
_EMPTY_PATH = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*)((?:\?.*)?)", re.DOTALL)


def normal_uri(uri: str) -> str:
    """``uri`` with ``/`` for an empty path, the form resources are stored and compared in.

    >>> normal_uri("https://api.example"), normal_uri("https://api.example/mcp")
    ('https://api.example/', 'https://api.example/mcp')
    """
    match = _EMPTY_PATH.fullmatch(uri)
    return uri if match is None else f"{match[1]}/{match[2]}"


def check_uri(uri: str, *, production: bool) -> str:
    """``uri`` in its stored form if it may name a resource, else :class:`~tessera.errors.InvalidResource`."""
    if not uri or len(uri) > _MAX_URI or not _URI.fullmatch(uri):
        raise InvalidResource(
            f"resource {uri[:100]!r} must be an absolute URI of at most {_MAX_URI} characters, without a fragment "
            "(https://api.example/)"
        )
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise InvalidResource(f"resource {uri!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidResource(f"resource {uri!r} must be an absolute http(s) URI with a host")
    if "@" in parts.netloc:
        raise InvalidResource(f"resource {uri!r} must not name a user before the host (no '@' there)")
    if production and parts.scheme == "http" and not is_loopback(host):
        raise InvalidResource(f"resource {uri!r} must be https:// in production (http:// only for loopback hosts)")
    return normal_uri(uri)


def create_resource(
    resources: Resources,
    uri: str,
    *,
    name: str | None = None,
    scope: str | None = None,
    scopes: Catalogue,
    production: bool = False,
    clock: Callable[[], float] = time.time,
) -> ResourceRecord:
    """Check and register a resource; ``scopes`` are the declared ones."""
    stored = check_uri(uri, production=production)
    shown = (stored if name is None else name).strip()
    if not shown or len(shown) > MAX_NAME or not shown.isprintable():
        raise InvalidResource(f"the name must be 1 to {MAX_NAME} printable characters")
    names: list[str] | None = None
    if scope is not None:
        names = list(dict.fromkeys(scope.split()))
        if not names or not all(is_scope_token(s) for s in names):
            raise InvalidResource("the scope must be one or more space-separated scope names")
        undeclared = [s for s in names if s not in scopes.declared]
        if undeclared:
            raise InvalidResource(
                f"scope {undeclared[0]!r} is not declared on this server: declare it first (tessera scopes create)"
            )
    record = ResourceRecord(
        uri=stored, name=shown, scope=None if names is None else " ".join(names), created_at=int(clock())
    )
    resources.create(record)
    return record


def describe(record: ResourceRecord) -> dict[str, Any]:
    """A resource as ``tessera resources list --json`` prints it."""
    return {"uri": record.uri, "name": record.name, "scope": record.scope, "created_at": record.created_at}


def targets(requested: Sequence[str], resources: Resources) -> tuple[ResourceRecord, ...]:
    """The registered resources ``requested`` names, in the order asked, repeats dropped; ``invalid_target``
    for one that is empty, malformed or not registered (RFC 8707 §2)."""
    if not requested:
        return ()
    if len(requested) > MAX_RESOURCES:
        raise InvalidTargetError(f"At most {MAX_RESOURCES} resources may be requested at once.")
    uris = list(dict.fromkeys(normal_uri(uri) for uri in requested))
    found = resources.find(uris)
    unknown = next((uri for uri in uris if uri not in found), None)
    if unknown is not None:
        raise InvalidTargetError("The requested resource is not known to this server.")
    return tuple(found[uri] for uri in uris)


def narrowed(scope: str, resources: Iterable[ResourceRecord]) -> str:
    """``scope`` narrowed to what the ``resources`` take: the scopes any of them was registered with, or all
    of ``scope`` if one was registered without. No resources, no narrowing."""
    allowed: set[str] = set()
    for resource in resources:
        if resource.scope is None:
            return scope
        allowed.update(resource.scope.split())
    if not allowed:
        return scope
    return " ".join(s for s in scope.split() if s in allowed)
