"""The handlers of the machine endpoints: each takes the :class:`Machine` and an
:class:`~tessera.server.request.HttpRequest` and answers a :data:`~tessera.server.request.Reply`. No web
framework: :class:`~tessera.server.front.Front` calls them, and the request map (:mod:`tessera.app.routes`)
says which path each one serves.

The OAuth endpoints are Authlib's (grants, RFC 7662, RFC 7009, RFC 7591 and RFC 7592), given Authlib's
framework-neutral request; the documents (metadata, OpenAPI) are built once and served as bytes.
"""

import dataclasses
import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from tessera.errors import StoreError
from tessera.server import dynamic
from tessera.server.authorization import TesseraServer
from tessera.server.metadata import Metadata
from tessera.server.request import HttpRequest, Reply

__all__ = [
    "Handler",
    "Machine",
    "healthz",
    "introspect",
    "metadata",
    "openapi",
    "readyz",
    "register",
    "revoke",
    "token",
]


@dataclasses.dataclass(frozen=True)
class Machine:
    """What the handlers use besides the request: the OAuth server (and through it the context) and the
    metadata document."""

    server: TesseraServer
    metadata: Metadata


Handler = Callable[[Machine, HttpRequest], Reply]

_JSON = ("Content-Type", "application/json")
_CACHEABLE = ("Cache-Control", "public, max-age=300")


def token(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 6749 §3.2: what Authlib's ``create_token_response`` does, minus making a framework response."""
    server = machine.server
    grant = server.get_token_grant(request.oauth(server.context.settings.issuer))
    grant.validate_token_request()
    return grant.create_token_response()


def introspect(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 7662 (:mod:`tessera.server.introspection`)."""
    return _endpoint(machine, "introspection", request)


def revoke(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 7009 (:mod:`tessera.server.revocation`)."""
    return _endpoint(machine, "revocation", request)


def _endpoint(machine: Machine, name: str, request: HttpRequest) -> Reply:
    server = machine.server
    return server.endpoints[name](request.oauth(server.context.settings.issuer))


def register(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 7591 and RFC 7592 (:mod:`tessera.server.dynamic`); in the request map unless TESSERA_REGISTRATION=off."""
    return dynamic.answer(machine.server, request)


def metadata(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 8414 §3 (:mod:`tessera.server.metadata`)."""
    return 200, machine.metadata.body(), [_JSON, _CACHEABLE]


@functools.cache
def _openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resources.files("tessera.server").joinpath("openapi.json").read_text("utf-8"))
    return document


@functools.cache
def _openapi_for(issuer: str) -> bytes:
    return json.dumps({**_openapi(), "servers": [{"url": issuer}]}).encode()


def openapi(machine: Machine, request: HttpRequest) -> Reply:
    """The OpenAPI 3.1 document of the machine endpoints, with this server as its server URL."""
    return 200, _openapi_for(machine.server.context.settings.issuer), [_JSON, _CACHEABLE]


def healthz(machine: Machine, request: HttpRequest) -> Reply:
    """Liveness: the process answers. Touches nothing else, so it answers while the database is away."""
    return 200, {"status": "ok"}, [("Cache-Control", "no-store")]


def readyz(machine: Machine, request: HttpRequest) -> Reply:
    """Readiness: the database answers."""
    try:
        machine.server.context.store.ping()
    except StoreError:
        return 503, {"status": "unavailable", "detail": "database unreachable"}, [("Cache-Control", "no-store")]
    return 200, {"status": "ok"}, [("Cache-Control", "no-store")]
