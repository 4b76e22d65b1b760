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

* :class:`Guard`, around the SDK's app, checks every request to the MCP endpoint with ``tessera.resource`` before
  the SDK sees it (introspection, a cache, the audience check on this server's URL, revocation events): the token
  must grant :data:`SCOPE` and the scopes of the tools the request calls (the SDK checks scopes per endpoint, not
  per tool). Refusals are the toolkit's: 401 with ``resource_metadata`` (RFC 9728 §5.1), 403
  ``insufficient_scope`` with the scopes needed, 503 while the token source cannot answer (a ``TokenVerifier`` can
  only say yes or no, and a no is a 401 that sends the client to sign in again). It serves the toolkit's metadata
  document, which lists every scope the tools use: the SDK's lists only the scopes *every* request needs, and a
  client registers the scopes it reads there, so it could never be granted ``billing:read``.
* The SDK's own auth stays on behind it: :class:`TesseraTokenVerifier`, its ``TokenVerifier`` on the same
  validator (a cache hit by then), gives the tools the token (``get_access_token()``) and binds each MCP session
  to the token's client and user.
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
    InsufficientScope,
    IntrospectionSource,
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


async def _validate(validator: TokenValidator, authorization: str | None, scopes: Iterable[str]) -> AccessToken:
    """The toolkit's answer: a cached one on the event loop, a miss (network I/O) in a worker thread."""
    found = validator.validate_cached(authorization, scopes)
    if found is None:
        found = await anyio.to_thread.run_sync(functools.partial(validator.validate, authorization, scopes))
    return found


class TesseraTokenVerifier:
    """The SDK's ``TokenVerifier`` on ``tessera.resource``: a token that is active and issued for this server (the
    validator's ``audience``) becomes the SDK's ``AccessToken``; any other, ``None`` (the SDK answers 401)."""

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
    """ASGI around the SDK's app: serves ``metadata``, and lets a request to the MCP endpoint (``path``) through
    only with a token that grants :data:`SCOPE` and the scopes of the tools it calls (``tool_scopes``), answering
    any other as the toolkit does (see the module's docstring). ``subscriber`` runs while the app serves."""

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
        if scope["type"] != "http" or scope["path"] != self.path:
            if scope["type"] == "http" and scope["path"] in self.metadata.paths and scope["method"] == "GET":
                await _respond(send, 200, self.metadata.headers, self.metadata.body)
            else:
                await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        received: list[Message] = []
        required = {SCOPE}
        if authorization is not None and scope["method"] == "POST":
            body, received = await _read_body(receive, self.max_body)
            if body is None:
                refusal = {"error": "invalid_request", "error_description": "The request body is too large."}
                await _respond(send, 413, {"Content-Type": "application/json"}, json.dumps(refusal).encode())
                return
            for name in _tool_calls(body):
                required |= self.tool_scopes.get(name, frozenset())
        try:
            await _validate(self.validator, authorization, frozenset(required))
        except TokenError as exc:
            # a 401 names no scope: a client then asks for those the metadata lists, the second tool's included
            scopes = required if isinstance(exc, InsufficientScope) else ()
            headers = exc.headers(self.validator.realm, scopes=scopes, resource_metadata=self.metadata.url)
            answer = json.dumps(exc.body()).encode()
            await _respond(send, exc.status_code, {**headers, "Content-Type": "application/json"}, answer)
            return
        await self.app(scope, _replay(received, receive), send)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value for key, value in scope["headers"] if key.lower() == name]
    # several Authorization headers are one request with several tokens, which the validator refuses comma-joined
    # (the SDK would read the first alone)
    return b", ".join(values).decode("latin-1") if values else None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, list[Message]]:
    """The request's body (``None`` if larger than ``limit``, the SDK's own limit) and the messages read."""
    received: list[Message] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":  # gone: the app hears it too
            return b"", received
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


async def _respond(send: Send, status: int, headers: Mapping[str, str], body: bytes) -> None:
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
    if str(build_resource_metadata_url(resource)) != metadata.url:  # the SDK's 401s (behind the Guard) name its own
        raise ValueError(f"the SDK would name another metadata URL than {metadata.url} for {metadata.resource}")
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
