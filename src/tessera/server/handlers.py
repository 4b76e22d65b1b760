"""The handlers of the machine endpoints: each takes the :class:`Machine` and an
:class:`~tessera.server.request.HttpRequest` and answers a :data:`~tessera.server.request.Reply`. No web
framework: :class:`~tessera.server.front.Front` calls them, and the request map (:mod:`tessera.app.routes`)
says which path each one serves.

The OAuth endpoints are Authlib's (grants, RFC 7662, RFC 7009, RFC 8628, RFC 7591 and RFC 7592), given Authlib's
framework-neutral request; the documents (metadata, OpenAPI) are built once and served as bytes.
"""

import dataclasses
import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from tessera.errors import StoreError
from tessera.ratelimit import address_key
from tessera.server.authorization import TesseraServer
from tessera.server.leaks import LeakJudge, parse_report
from tessera.server.metadata import Metadata
from tessera.server.registration import REGISTER_PATH
from tessera.server.request import MAX_BODY, HttpRequest, Reply
from tessera.server.userinfo import userinfo as _userinfo

__all__ = [
    "Handler",
    "Machine",
    "device_authorization",
    "healthz",
    "introspect",
    "jwks",
    "leak_report",
    "metadata",
    "openapi",
    "openid_configuration",
    "readyz",
    "register",
    "revoke",
    "token",
    "userinfo",
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
    status, body, headers = grant.create_token_response()
    nonce = server.context.dpop.nonce(server.context.clock())
    if nonce is not None:  # RFC 9449 §8.2: the nonce to use next
        return status, body, [*headers, ("DPoP-Nonce", nonce)]
    return status, body, headers


def introspect(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 7662 (:mod:`tessera.server.introspection`)."""
    return _endpoint(machine, "introspection", request)


def revoke(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 7009 (:mod:`tessera.server.revocation`)."""
    return _endpoint(machine, "revocation", request)


def _endpoint(machine: Machine, name: str, request: HttpRequest) -> Reply:
    server = machine.server
    return server.endpoints[name](request.oauth(server.context.settings.issuer))


_NO_STORE = ("Cache-Control", "no-store")


def _error(status: int, error: str, description: str, *extra: tuple[str, str]) -> Reply:
    return status, {"error": error, "error_description": description}, [_JSON, _NO_STORE, *extra]


def leak_report(machine: Machine, request: HttpRequest) -> Reply:
    """A report of leaked tokens in GitHub's secret scanning partner format (:mod:`tessera.server.leaks`):
    rate limited per address, then the signature over the raw body, then the JSON; nothing is revoked unless all
    three pass."""
    context = machine.server.context
    if request.method != "POST":
        return _error(405, "invalid_request", "Use POST.", ("Allow", "OPTIONS, POST"))
    address = request.client_address(context.settings.trusted_proxies)
    verdict = context.rate_limits.client_request("leak_report", address_key(address))
    if not verdict.allowed:
        return _error(429, "slow_down", "Too many reports; try again later.", ("Retry-After", str(verdict.retry_after)))
    if len(request.body) > MAX_BODY:
        return _error(413, "invalid_request", f"A report is at most {MAX_BODY} bytes.")
    keys = context.leak_keys
    identifier = request.headers.get("github-public-key-identifier")
    signature = request.headers.get("github-public-key-signature")
    if keys is None or not keys.verify(identifier, signature, request.body):
        return _error(401, "invalid_client", "The report's signature is missing or does not verify.")
    try:
        reported = parse_report(request.body)
    except ValueError as exc:
        return _error(400, "invalid_request", str(exc))
    judge = LeakJudge(context.store.tokens, context.revocations.revoke_grant, now=context.now, audit=context.audit)
    return 200, [v.as_json() for v in judge.judge(reported, via="leak_report_endpoint")], [_JSON, _NO_STORE]


def device_authorization(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 8628 §3.1 (:mod:`tessera.server.device`)."""
    return _endpoint(machine, "device_authorization", request)


def register(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 7591 and RFC 7592 (:mod:`tessera.server.dynamic`); in the request map unless TESSERA_REGISTRATION=off.
    Authlib's modules for them take joserfc and ``cryptography``: imported by the first registration request."""
    from tessera.server import dynamic

    return dynamic.answer(machine.server, request)


def metadata(machine: Machine, request: HttpRequest) -> Reply:
    """RFC 8414 §3 (:mod:`tessera.server.metadata`)."""
    return 200, machine.metadata.body(), [_JSON, _CACHEABLE]


def openid_configuration(machine: Machine, request: HttpRequest) -> Reply:
    """OpenID Connect Discovery 1.0 §4: the RFC 8414 document and what an OpenID Provider adds."""
    return 200, machine.metadata.body(openid=True), [_JSON, _CACHEABLE]


def jwks(machine: Machine, request: HttpRequest) -> Reply:
    """The public signing keys (RFC 7517 §5; :mod:`tessera.server.keys`). Cacheable for a few minutes: a client
    that meets an unknown ``kid`` fetches them again, and a retired key stays listed for an ID token's lifetime."""
    return 200, machine.server.context.keys.jwks(), [_JSON, _CACHEABLE]


def userinfo(machine: Machine, request: HttpRequest) -> Reply:
    """OpenID Connect Core §5.3 (:mod:`tessera.server.userinfo`)."""
    return _userinfo(machine.server.context, request)


@functools.cache
def _openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resources.files("tessera.server").joinpath("openapi.json").read_text("utf-8"))
    return document


@functools.cache
def _openapi_for(issuer: str, registration: bool) -> bytes:
    document = _openapi()
    paths = {p: ops for p, ops in document["paths"].items() if registration or p != REGISTER_PATH}
    return json.dumps({**document, "paths": paths, "servers": [{"url": issuer}]}).encode()


def openapi(machine: Machine, request: HttpRequest) -> Reply:
    """The OpenAPI 3.1 document of the machine endpoints, with this server as its server URL; registration only
    when it is on (``TESSERA_REGISTRATION``), as in the metadata."""
    settings = machine.server.context.settings
    return 200, _openapi_for(settings.issuer, settings.registration != "off"), [_JSON, _CACHEABLE]


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
