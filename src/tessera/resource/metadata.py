"""Protected-resource metadata (RFC 9728): how a client that knows only an API's URL finds who issues its tokens.

    metadata = ResourceMetadata(
        resource="https://api.example/mcp",
        authorization_servers=["https://auth.example"],
        scopes_supported=["mcp"],
    )
    metadata.url    # 'https://api.example/.well-known/oauth-protected-resource/mcp'
    metadata.paths  # ('/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource')

An MCP client, or any client that follows RFC 9728, calls the API, gets a 401 whose ``WWW-Authenticate`` names
``resource_metadata`` (§5.1), reads that document, and goes to one of its ``authorization_servers`` for a token,
asking for it with ``resource`` set to the API's identifier (RFC 8707). The adapters serve the document
(``tessera.resource.flask``: ``init_app``; ``tessera.resource.fastapi``: ``metadata_router()``) and put its URL
in their challenges; this module holds only the value, built and checked once, with no web framework.

Decisions:

* The document is served at the path-suffixed URL of §3.1 (the resource's path after
  ``/.well-known/oauth-protected-resource``), which is the one that names this resource, **and** at the bare
  well-known path, which clients that do not build the suffixed form ask first (the MCP specification tells them
  to try both). An app that protects two resources serves the bare path for the first one only.
* ``resource`` is served as it was given, since a client must find in it the identifier it used (§3.3); it must be
  an ``http`` or ``https`` URL (RFC 9728 wants ``https``; ``http`` is for development on one machine) without a
  user, a query or a fragment, and with a path the frameworks can route as it is written (no percent-encoding).
* ``bearer_methods_supported`` is ``["header"]``: the toolkit reads tokens from the ``Authorization`` header only.
* ``Cache-Control: public, max-age=300``, as the authorization server's own metadata: a client need not fetch it
  on every 401, and a changed document reaches every client within five minutes.
* A validator with an ``audience`` must name the same resource (the adapters check it, when both are given):
  otherwise the document would send clients for tokens this API refuses.
"""

import dataclasses
import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from tessera.resource.errors import check_scopes
from tessera.resource.uris import normal_resource

__all__ = ["WELL_KNOWN_PATH", "ResourceMetadata"]

#: RFC 9728 §3: where the document lives, before the resource's path
WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"

# what a path may hold to be routed as written: RFC 3986 pchar and "/", without percent-encodings
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")


def _url(name: str, value: object, *, path_allowed: bool = True) -> str:
    """``value`` if it is an absolute http(s) URL with a host and no user, query or fragment; else ``ValueError``."""
    if not isinstance(value, str) or any(c in '"\\' or not "!" <= c <= "~" for c in value):
        raise ValueError(f"{name} must be a URL in printable ASCII without spaces, quotes or backslashes: {value!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http:// or https:// URL, not {value!r}")
    if "@" in parts.netloc or "?" in value or "#" in value:
        raise ValueError(f"{name} must not have a user, a query or a fragment: {value!r}")
    if not _PATH.fullmatch(parts.path):
        raise ValueError(f"{name} must have a path of plain characters (no percent-encoding): {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class ResourceMetadata:
    """An API's protected-resource metadata (RFC 9728 §2), checked when made: ``ValueError`` says what is wrong.

    ``resource`` is the API's identifier, the URL clients call it by and the audience its tokens are issued for;
    ``authorization_servers`` the issuers whose tokens it accepts; ``scopes_supported`` the scopes it uses (left
    out of the document when empty). ``url`` is where the document is served, ``paths`` the paths an adapter
    routes to it, ``body`` and ``headers`` the response.
    """

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()
    url: str = dataclasses.field(init=False, repr=False)
    paths: tuple[str, ...] = dataclasses.field(init=False, repr=False)
    body: bytes = dataclasses.field(init=False, repr=False)
    headers: dict[str, str] = dataclasses.field(init=False, repr=False, compare=False)

    def __init__(
        self, resource: str, authorization_servers: Iterable[str], scopes_supported: Iterable[str] = ()
    ) -> None:
        resource = _url("resource", resource)
        if isinstance(authorization_servers, str):
            raise ValueError("authorization_servers is a list of issuer URLs: put the one issuer in a list")
        servers = tuple(_url("each of authorization_servers", issuer) for issuer in authorization_servers)
        if not servers:
            raise ValueError("authorization_servers must name at least one issuer")
        if isinstance(scopes_supported, str):
            raise ValueError("scopes_supported is a list of scope names")
        scopes = tuple(dict.fromkeys(scopes_supported))
        check_scopes(scopes)
        parts = urlsplit(resource)
        # §3.1: a terminating "/" after the host is removed, any other path goes after the well-known path
        suffix = "" if parts.path in ("", "/") else parts.path
        document: dict[str, object] = {"resource": resource, "authorization_servers": list(servers)}
        if scopes:
            document["scopes_supported"] = list(scopes)
        document["bearer_methods_supported"] = ["header"]
        values = {
            "resource": resource,
            "authorization_servers": servers,
            "scopes_supported": scopes,
            "url": f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_PATH}{suffix}",
            "paths": tuple(dict.fromkeys((WELL_KNOWN_PATH + suffix, WELL_KNOWN_PATH))),
            "body": json.dumps(document, separators=(",", ":")).encode(),
            "headers": {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"},
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def check_audience(self, audience: str | None) -> None:
        """Raise ``ValueError`` if a validator's ``audience`` names another resource than this document."""
        if audience is not None and normal_resource(audience) != normal_resource(self.resource):
            raise ValueError(
                f"the validator's audience {audience!r} is not the metadata's resource {self.resource!r}: clients "
                "would get tokens for the one that this API refuses"
            )
