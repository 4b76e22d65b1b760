"""An MCP client on the official ``mcp`` SDK, unmodified, that needs nothing from you but a sign-in: it finds
Tessera from the MCP server's 401, registers itself, opens your browser at Tessera's sign-in page, receives the
answer on a loopback port of the moment (RFC 8252 §7.3), and calls both tools of ``examples.mcp.server``::

    python -m examples.mcp.client http://127.0.0.1:8001/mcp

Its registration and tokens live in memory: each run registers again (Tessera deletes registrations that were
never used, see the README's "Client registration").
"""

import asyncio
import sys
import webbrowser
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

__all__ = ["LoopbackCallback", "MemoryStorage", "call_tools", "main"]

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n%s\n"


class MemoryStorage:
    """The SDK's ``TokenStorage``, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class LoopbackCallback:
    """Where the browser brings the authorization response: ``http://127.0.0.1:<port>/callback``, the port the
    system gave, which Tessera accepts for a redirect URI registered on 127.0.0.1 (RFC 8252 §7.3)."""

    def __init__(self, server: asyncio.Server) -> None:
        self._server = server
        self._answers: asyncio.Queue[dict[str, list[str]]] = asyncio.Queue()
        self.redirect_uri = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/callback"

    @classmethod
    async def open(cls) -> "LoopbackCallback":
        callback = cls(await asyncio.start_server(lambda r, w: callback._answer(r, w), "127.0.0.1", 0))
        return callback

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = (await reader.readline()).decode("latin-1").split(" ")
        target = urlsplit(parts[1]) if len(parts) == 3 else None
        query = parse_qs(target.query) if target is not None and target.path == "/callback" else {}
        if "code" in query or "error" in query:  # else a favicon, a probe: not the answer
            self._answers.put_nowait(query)
        text = "Signed in: you can close this tab." if "code" in query else "Not signed in." if query else ""
        writer.write(_ANSWER % text.encode())
        await writer.drain()
        writer.close()

    async def wait(self) -> AuthorizationCodeResult:
        """The SDK's ``callback_handler``: the next request to ``/callback`` that carries a code or an error."""
        query = await self._answers.get()
        if "code" not in query:
            raise RuntimeError(f"the authorization server answered {query['error'][0]}")
        state, iss = query.get("state", [None])[0], query.get("iss", [None])[0]
        return AuthorizationCodeResult(code=query["code"][0], state=state, iss=iss)

    async def aclose(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def _open_browser(url: str) -> None:
    print(f"Sign in at {url}", file=sys.stderr)
    webbrowser.open(url)


async def call_tools(url: str, open_browser: Callable[[str], Awaitable[None]] = _open_browser) -> dict[str, Any]:
    """Connect to the MCP server at ``url``, signing in as needed (``open_browser`` shows the sign-in page), and
    call both tools: their structured answers by name."""
    callback = await LoopbackCallback.open()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="Tessera example MCP client",
            redirect_uris=[AnyUrl(callback.redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",  # a public client: PKCE, no secret to keep
        ),
        storage=MemoryStorage(),
        redirect_handler=open_browser,
        callback_handler=callback.wait,
    )
    try:
        async with (
            httpx2.AsyncClient(auth=provider) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            answers = {}
            for tool in ("whoami", "list_invoices"):
                result = await client.call_tool(tool, {})
                answers[tool] = result.structured_content
            return answers
    finally:
        await callback.aclose()


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8001/mcp"
    for tool, answer in anyio.run(call_tools, url).items():
        print(f"{tool}: {answer}")


if __name__ == "__main__":
    main()
