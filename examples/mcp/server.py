"""An MCP server (the official ``mcp`` SDK, streamable HTTP) that accepts only Tessera's tokens issued for it.

Two tools: ``whoami`` needs the scope ``mcp``, as every request does; ``list_invoices`` needs ``billing:read``
too. Any MCP client that follows the MCP authorization spec finds Tessera by itself: its first request gets a 401
naming this server's protected-resource metadata (RFC 9728), which names Tessera and both scopes; it registers
itself there (RFC 7591), signs the user in with PKCE and ``resource`` set to this server's URL (RFC 8707), and
calls the tools. A call to ``list_invoices`` with a token that lacks ``billing:read`` is answered 403
``insufficient_scope`` with the scopes it needs, so the client can ask for them (a step-up). The README's
"Protecting an MCP server" runs it; in short::

    pip install -e '.[mcp]'
    export TESSERA_ISSUER=http://127.0.0.1:8000 MCP_CLIENT_ID=... MCP_CLIENT_SECRET=...   # an introspecting client
    export MCP_RESOURCE=http://127.0.0.1:8001/mcp        # this server's URL: the audience of its tokens
    export TESSERA_REDIS_URL=redis://127.0.0.1:6379/0    # optional: revocations reach the cache at once
    uvicorn --factory examples.mcp.server:from_environment --port 8001

How the pieces fit:

* The SDK's own auth does the 401s: :class:`TesseraTokenVerifier` is its ``TokenVerifier``, built on
  ``tessera.resource`` (introspection, a cache, the audience check), and ``AuthSettings`` makes every request need
  ``mcp`` and puts ``resource_metadata`` in the challenge.
* :class:`Guard`, around the SDK's app, does what the SDK cannot: it serves the toolkit's metadata document, which
  lists every scope the tools use (the SDK's would list only the scopes *every* request needs, so a client that
  registers itself would never be allowed ``billing:read``, and could not step up), and it refuses a
  ``tools/call`` whose tool needs a scope the token lacks with 403 and the toolkit's challenge (the SDK checks
  scopes per endpoint, not per tool), and a source that cannot answer with 503 (a ``TokenVerifier`` can only
  say yes or no).
"""

import functools
import json
import os
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken as MCPAccessToken
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from pydantic import AnyHttpUrl
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.resource import (
    AccessToken,
    IntrospectionSource,
    InvalidToken,
    ResourceMetadata,
    RevocationSubscriber,
    TokenCache,
    TokenError,
    TokenValidator,
)

__all__ = ["SCOPE", "TOOL_SCOPES", "Guard", "TesseraTokenVerifier", "create_app", "from_environment"]

#: what every request needs
SCOPE = "mcp"
#: what a tool needs besides SCOPE
TOOL_SCOPES: Mapping[str, tuple[str, ...]] = {"list_invoices": ("billing:read",)}


async def _validate(validator: TokenValidator, authorization: str, scopes: Iterable[str]) -> AccessToken:
    """The toolkit's answer: a cached one on the event loop, a miss (network I/O) in a worker thread."""
    found = validator.validate_cached(authorization, scopes)
    if found is None:
        found = await anyio.to_thread.run_sync(functools.partial(validator.validate, authorization, scopes))
    return found


class TesseraTokenVerifier:
    """The SDK's ``TokenVerifier`` on ``tessera.resource``: a token that is active, issued for this server (the
    validator's ``audience``) and grants :data:`SCOPE` becomes the SDK's ``AccessToken``; any other, ``None`` (the
    SDK answers 401)."""

    def __init__(self, validator: TokenValidator) -> None:
        self.validator = validator

    async def verify_token(self, token: str) -> MCPAccessToken | None:
        try:
            found = await _validate(self.validator, f"Bearer {token}", ())
        except TokenError:
            return None
        return MCPAccessToken(
            token=token,
            client_id=found.client_id,
            scopes=sorted(found.scopes),
            expires_at=found.expires_at,
            resource=self.validator.audience,
            subject=found.subject,
        )


def _tool_calls(body: bytes) -> list[str]:
    """The names of the tools a JSON-RPC message (or batch) calls; none when it is not JSON-RPC at all (the SDK
    answers that)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    messages = parsed if isinstance(parsed, list) else [parsed]
    names = []
    for message in messages:
        if isinstance(message, dict) and message.get("method") == "tools/call":
            params = message.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if isinstance(name, str):
                names.append(name)
    return names


class Guard:
    """ASGI around the SDK's app: serves ``metadata`` and checks each request's token for :data:`SCOPE` and the
    scopes of the tools it calls (``tool_scopes``). A token that is not good at all goes on to the SDK, whose 401
    the MCP client expects; a missing scope is 403 ``insufficient_scope`` naming the scopes needed; a token source
    that cannot answer is 503. ``subscriber`` runs while the app serves (its lifespan)."""

    def __init__(
        self,
        app: ASGIApp,
        validator: TokenValidator,
        metadata: ResourceMetadata,
        *,
        path: str,
        tool_scopes: Mapping[str, Iterable[str]] = TOOL_SCOPES,
        subscriber: AbstractContextManager[object] | None = None,
        max_body: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
    ) -> None:
        metadata.check_audience(validator.audience)
        self.app = app
        self.validator = validator
        self.metadata = metadata
        self.path = path
        self.tool_scopes = {name: frozenset(scopes) for name, scopes in tool_scopes.items()}
        self.subscriber = subscriber if subscriber is not None else nullcontext()
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            with self.subscriber:
                await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.metadata.paths and scope["method"] == "GET":
            await _respond(send, 200, dict(self.metadata.headers), self.metadata.body)
            return
        authorization = _header(scope, b"authorization")
        if scope["path"] != self.path or authorization is None:
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        required = {SCOPE}
        if scope["method"] == "POST":
            body, received = await _read_body(receive, self.max_body)
            for name in _tool_calls(body) if body is not None else ():
                required |= self.tool_scopes.get(name, frozenset())
        try:
            await _validate(self.validator, authorization, frozenset(required))
        except InvalidToken:
            pass  # the SDK answers 401 with its challenge
        except TokenError as exc:
            headers = exc.headers(self.validator.realm, scopes=required, resource_metadata=self.metadata.url)
            await _respond(send, exc.status_code, {**headers, "Content-Type": "application/json"},
                           json.dumps(exc.body()).encode())  # fmt: skip
            return
        await self.app(scope, _replay(received, receive), send)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value for key, value in scope["headers"] if key.lower() == name]
    # several Authorization headers are one request with several tokens: the validator refuses a comma-joined value
    return b", ".join(values).decode("latin-1") if values else None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, list[Message]]:
    """The request's body (``None`` if larger than ``limit``: the SDK refuses it) and the messages read."""
    received: list[Message] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return None, received
        size += len(message.get("body", b""))
        if size > limit:
            return None, received
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in received), received


def _replay(received: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives what was read first, then the rest."""
    pending = list(received)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _respond(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def create_app(
    validator: TokenValidator,
    metadata: ResourceMetadata,
    subscriber: RevocationSubscriber | None = None,
) -> Guard:
    """The MCP server, its two tools, behind the SDK's auth and the :class:`Guard`. ``metadata.resource`` is the
    server's URL; the MCP endpoint is its path."""
    resource = AnyHttpUrl(metadata.resource)
    server: MCPServer[Any] = MCPServer(
        "Tessera example",
        token_verifier=TesseraTokenVerifier(validator),
        auth=AuthSettings(
            issuer_url=AnyHttpUrl(metadata.authorization_servers[0]),
            resource_server_url=resource,
            required_scopes=[SCOPE],
            # the verifier checks the audience itself (the validator's audience=), by RFC 8707's rules
            validate_token_resource=False,
        ),
    )

    @server.tool()
    def whoami() -> dict[str, str | None]:
        """Who the token was issued to."""
        token = get_access_token()
        assert token is not None  # the SDK lets no request without one reach a tool
        return {"subject": token.subject, "client_id": token.client_id, "scope": " ".join(token.scopes)}

    @server.tool()
    def list_invoices() -> list[dict[str, str]]:
        """The user's invoices (needs billing:read)."""
        return [{"number": "2026-0001", "total": "120.00 EUR"}, {"number": "2026-0002", "total": "75.50 EUR"}]

    path = resource.path or "/"
    # the SDK's 401s name the metadata URL it derives (RFC 9728 §3.1); the Guard serves the document there
    assert str(build_resource_metadata_url(resource)) == metadata.url, (build_resource_metadata_url(resource), metadata)
    app = server.streamable_http_app(streamable_http_path=path, host=resource.host or "127.0.0.1")
    return Guard(app, validator, metadata, path=path, subscriber=subscriber)


def from_environment() -> Guard:
    """The app, configured from ``TESSERA_ISSUER``, ``MCP_CLIENT_ID`` and ``MCP_CLIENT_SECRET`` (a client that may
    introspect), ``MCP_RESOURCE`` (this server's URL, ``http://127.0.0.1:8001/mcp`` unless set) and, optionally,
    ``TESSERA_REDIS_URL`` (and ``TESSERA_REVOCATION_CHANNEL`` if the server uses another channel)."""
    issuer = os.environ["TESSERA_ISSUER"]
    resource = os.environ.get("MCP_RESOURCE", "http://127.0.0.1:8001/mcp")
    source = IntrospectionSource(issuer, os.environ["MCP_CLIENT_ID"], os.environ["MCP_CLIENT_SECRET"])
    cache = TokenCache(source, ttl=60)
    subscriber = None
    if redis_url := os.environ.get("TESSERA_REDIS_URL"):
        channel = os.environ.get("TESSERA_REVOCATION_CHANNEL", "tessera:revoked")
        subscriber = RevocationSubscriber(redis_url, cache, channel=channel)
    metadata = ResourceMetadata(resource, [issuer], [SCOPE, *sorted({s for v in TOOL_SCOPES.values() for s in v})])
    validator = TokenValidator(cache, realm="mcp", audience=resource)
    return create_app(validator, metadata, subscriber)
