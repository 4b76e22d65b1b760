"""The official MCP Python SDK's client, unmodified, against the example MCP server (examples/mcp/server.py) in a
process of its own and Tessera on a loopback port, with no client registered by hand: it finds Tessera from the
MCP server's 401, registers itself (RFC 7591, ``TESSERA_REGISTRATION=open``) or names its client ID metadata
document (``TESSERA_CLIENT_ID_METADATA=on``, served on https://127.0.0.1), signs alice in with PKCE and
``resource`` (the sign-in and consent pages driven with form posts, as a person would), calls both tools, steps up
when a scope was not granted, refreshes, and is refused once ``tessera tokens revoke`` ran. An MCP server with
audience checks refuses a token issued for another resource."""

import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import anyio
import httpx
import pytest
from click.testing import CliRunner

from tessera.cli import main
from tessera.store import Store
from tests.conftest import LiveServer, RegisteredClient, app_for, csrf_from, register_client, unused_port
from tests.demo.process import tessera_command

pytest.importorskip("mcp", reason="the mcp extra is not installed (pip install -e '.[mcp]')")

import httpx2  # noqa: E402  (the SDK's HTTP client, installed with it)
from mcp import Client  # noqa: E402
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
from pydantic import AnyUrl  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ACCESS_TOKEN_TTL = 8  # seconds: short, so that the client must refresh during the test


def _cli(database_url: str, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"TESSERA_DATABASE_URL": database_url})
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


@dataclass
class World:
    tessera: LiveServer
    mcp_url: str
    database_url: str
    cli_env: dict[str, str]  # what the CLI needs besides the database: Redis, when the servers use it
    subject: str  # alice's
    document: str = ""  # the URL of the client ID metadata document the client uses, if any


class McpServer:
    """``uvicorn --factory examples.mcp.server:from_environment`` on ``port``, as the README runs it."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "examples.mcp.server:from_environment",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
        )  # fmt: skip
        self.log = log
        metadata = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the MCP server stopped:\n{log.read_text()}")
            try:
                if httpx.get(metadata, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"the MCP server did not answer in 30 s:\n{log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _start(
    store: Store,
    sqlite_url: str,
    tmp_path: Path,
    alice: Any,
    redis: dict[str, str],
    mcp_redis: dict[str, str],
    tessera_env: dict[str, str] | None = None,
) -> Iterator[World]:
    """Tessera (registration open, short access tokens), the resource and scopes declared with the CLI, and the
    example MCP server with an introspecting client of its own."""
    from werkzeug.serving import make_server

    port, mcp_port = unused_port(), unused_port()
    base_url, mcp_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{mcp_port}/mcp"
    settings = {
        "TESSERA_ISSUER": base_url,
        "TESSERA_REGISTRATION": "open",
        "TESSERA_REGISTRATION_SCOPES": "mcp billing:read",
        "TESSERA_ACCESS_TOKEN_TTL": str(ACCESS_TOKEN_TTL),
    }
    app = app_for(store, sqlite_url, **{**settings, **redis, **(tessera_env or {})})  # fmt: skip
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mcp_server = None
    try:
        _cli(sqlite_url, "scopes", "create", "mcp", "--description", "Use the example MCP server")
        _cli(sqlite_url, "scopes", "create", "billing:read", "--description", "Read your invoices")
        _cli(sqlite_url, "resources", "create", mcp_url, "--name", "Example MCP server", "--scope", "mcp billing:read")
        introspector = register_client(store, name="MCP server", redirect_uris=(), grant_types=("client_credentials",),
                                       scope="api", introspect=True)  # fmt: skip
        assert introspector.secret is not None
        env = {"TESSERA_ISSUER": base_url, "MCP_CLIENT_ID": introspector.client_id,
               "MCP_CLIENT_SECRET": introspector.secret, "MCP_RESOURCE": mcp_url,
               "TESSERA_REDIS_URL": "", **mcp_redis}  # fmt: skip
        mcp_server = McpServer(mcp_port, env, tmp_path / "mcp-server.log")
        yield World(LiveServer(base_url, store, app), mcp_url, sqlite_url, redis, alice.subject)
    finally:
        if mcp_server is not None:
            mcp_server.stop()
        server.shutdown()
        thread.join()


@pytest.fixture
def world(store: Store, sqlite_url: str, tmp_path: Path, user: Any) -> Iterator[World]:
    yield from _start(store, sqlite_url, tmp_path, user, {}, {})


@pytest.fixture
def world_with_redis(
    store: Store, sqlite_url: str, tmp_path: Path, user: Any, redis_url: str, redis_prefix: str, revocation_channel: str
) -> Iterator[World]:
    redis = {"TESSERA_REDIS_URL": redis_url, "TESSERA_REDIS_PREFIX": redis_prefix,
             "TESSERA_REVOCATION_CHANNEL": revocation_channel}  # fmt: skip
    mcp_redis = {"TESSERA_REDIS_URL": redis_url, "TESSERA_REVOCATION_CHANNEL": revocation_channel}
    yield from _start(store, sqlite_url, tmp_path, user, redis, mcp_redis)


class MemoryStorage:
    """The SDK's ``TokenStorage``, in memory; it keeps every token pair it was given."""

    def __init__(self) -> None:
        self.tokens: list[OAuthToken] = []
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens[-1] if self.tokens else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class Person:
    """alice at her browser: the SDK's ``redirect_handler`` and ``callback_handler``. She signs in, and on the
    consent page allows the scopes in ``grant`` (all those asked for when ``None``); with ``present=False`` she is
    not there, and the flow fails as it would time out for a person who never answers."""

    base_url: str
    grant: set[str] | None = None
    present: bool = True
    follow: bool = False  # the browser goes on to the redirect URI, where the client listens
    asked: list[dict[str, list[str]]] = field(default_factory=list)
    _callback: str | None = None
    _browser: httpx.AsyncClient | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        query = parse_qs(urlsplit(authorization_url).query)
        self.asked.append(query)
        if not self.present:
            raise RuntimeError("nobody is at the browser to sign in")
        if self._browser is None:  # one browser, its cookies kept: she signs in once
            self._browser = httpx.AsyncClient(base_url=self.base_url, follow_redirects=False)
        browser = self._browser
        page = await browser.get(authorization_url)
        if page.status_code == 302 and "/login" in page.headers["Location"]:
            form = await browser.get(urljoin(self.base_url, page.headers["Location"]))
            next_url = re.search(r'name="next" value="([^"]*)"', form.text)
            assert next_url is not None, form.text
            signed_in = await browser.post(
                "/login",
                data={"username": "alice", "password": "correct horse", "csrf_token": csrf_from(form.text),
                      "next": next_url.group(1).replace("&amp;", "&")},
            )  # fmt: skip
            assert signed_in.status_code == 303, signed_in.text
            page = await browser.get(signed_in.headers["Location"])
        assert page.status_code == 200, (page.status_code, page.text)
        assert "Example MCP server" in page.text  # the consent page names the resource
        asked = re.findall(r'name="grant_scope" value="([^"]+)"', page.text)
        chosen = [s for s in asked if self.grant is None or s in self.grant]
        answered = await browser.post(
            str(page.url), data={"csrf_token": csrf_from(page.text), "decision": "allow", "grant_scope": chosen}
        )
        assert answered.status_code == 303, answered.text
        self._callback = answered.headers["Location"]
        if self.follow:
            assert (await browser.get(self._callback)).text == "Signed in: you can close this tab.\n"

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self._callback is not None
        query = parse_qs(urlsplit(self._callback).query)
        self._callback = None
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.aclose()


@dataclass
class Seen:
    """Every response the SDK's HTTP client received, auth flow included: method, URL, status, challenge."""

    responses: list[tuple[str, str, int, str]] = field(default_factory=list)

    async def hook(self, response: httpx2.Response) -> None:
        request = response.request
        body = request.content.decode() if request.method == "POST" and "/oauth/" in str(request.url) else ""
        challenge = response.headers.get("WWW-Authenticate", "")
        self.responses.append((request.method, str(request.url).split("?")[0], response.status_code,
                               challenge or body))  # fmt: skip

    def at(self, url: str) -> list[tuple[int, str]]:
        return [(status, extra) for _, seen_url, status, extra in self.responses if seen_url == url]


def _provider(world: World, person: Person, storage: MemoryStorage) -> OAuthClientProvider:
    """The SDK's provider as an MCP client makes it: with ``world.document``, that is its client_id (a client ID
    metadata document), else it registers itself."""
    return OAuthClientProvider(
        server_url=world.mcp_url,
        # a command-line MCP client: public, PKCE, its callback on a loopback port of the moment (RFC 8252 §7.3)
        client_metadata=OAuthClientMetadata(
            client_name="MCP test client",
            redirect_uris=[AnyUrl(f"http://127.0.0.1:{unused_port()}/callback")],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
        client_metadata_url=world.document or None,
    )


def _revoke(world: World, client_id: str) -> str:
    done = subprocess.run(
        [tessera_command(), "tokens", "revoke", "--client", client_id],
        env={**os.environ, "TESSERA_DATABASE_URL": world.database_url, **world.cli_env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _nobody_there(group: BaseExceptionGroup[BaseException]) -> bool:
    return group.subgroup(lambda e: isinstance(e, RuntimeError) and "nobody is at the browser" in str(e)) is not None


async def _sign_in_call_refresh_revoke(world: World) -> None:
    person, storage, seen = Person(world.tessera.base_url), MemoryStorage(), Seen()
    metadata_url = world.mcp_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    issuer = world.tessera.base_url
    async with httpx2.AsyncClient(
        auth=_provider(world, person, storage), event_hooks={"response": [seen.hook]}
    ) as http:
        try:
            async with Client(streamable_http_client(world.mcp_url, http_client=http), cache=None) as client:
                whoami = await client.call_tool("whoami", {})
                invoices = await client.call_tool("list_invoices", {})

                # discovery from the 401, registration, one sign-in with PKCE and resource, both tools
                first = seen.at(world.mcp_url)[0]
                assert first[0] == 401 and f'resource_metadata="{metadata_url}"' in first[1]
                assert seen.at(metadata_url)[0][0] == 200
                registrations = [status for status, _ in seen.at(f"{issuer}/oauth/register")]
                assert storage.client_info is not None
                client_id = storage.client_info.client_id
                if world.document:  # no registration: the document's URL is the client_id
                    assert registrations == [] and client_id == world.document
                else:
                    assert registrations == [201]
                assert len(person.asked) == 1
                asked = person.asked[0]
                assert asked["resource"] == [world.mcp_url] and asked["code_challenge_method"] == ["S256"]
                assert asked["scope"] == ["mcp billing:read"] and asked["client_id"] == [client_id]
                assert not whoami.is_error and not invoices.is_error, (whoami, invoices)
                assert whoami.structured_content == {
                    "subject": world.subject,
                    "client_id": client_id,
                    "scope": "billing:read mcp",
                }
                assert invoices.structured_content is not None
                assert [i["number"] for i in invoices.structured_content["result"]] == ["2026-0001", "2026-0002"]

                # the access token expires: the client refreshes it for the same resource, and nobody is asked
                # (counted from here: on a slow machine the first token may already have expired once)
                def refreshes() -> list[str]:
                    return [body for _, body in seen.at(f"{issuer}/oauth/token") if "grant_type=refresh_token" in body]

                before, held = len(refreshes()), len(storage.tokens)
                await anyio.sleep(ACCESS_TOKEN_TTL + 1)
                again = await client.call_tool("whoami", {})
                assert not again.is_error, again
                assert len(refreshes()) == before + 1 and f"resource={quote(world.mcp_url, safe='')}" in refreshes()[-1]
                assert (
                    len(storage.tokens) == held + 1
                    and storage.tokens[-1].access_token != storage.tokens[-2].access_token
                )
                assert len(person.asked) == 1

                # tessera tokens revoke: the next call is refused (401), and the client can only ask alice again
                # (one pair is live: each refresh revoked the pair it replaced)
                assert _revoke(world, client_id).startswith("Revoked 1 token pair ")
                # the revocation travels to the MCP server's cache over Redis (tens of milliseconds at p99, measured
                # in bench/): give it a second on a loaded machine rather than race it
                await anyio.sleep(1.0)
                answered = len(seen.at(world.mcp_url))
                person.present = False
                await client.call_tool("whoami", {})
                pytest.fail("a call went through after tessera tokens revoke")
        except BaseExceptionGroup as group:
            if not _nobody_there(group):
                raise
    # the call with the revoked token is refused as such; what the SDK sends after it (a refresh that fails, a request
    # without a token that starts sign-in again) may differ from run to run
    status, challenge = seen.at(world.mcp_url)[answered]
    assert status == 401 and 'error="invalid_token"' in challenge
    assert len(person.asked) == 2
    await person.close()


@pytest.mark.redis
def test_the_mcp_sdk_registers_itself_calls_both_tools_refreshes_and_is_refused_after_revoke(
    world_with_redis: World,
) -> None:
    anyio.run(_sign_in_call_refresh_revoke, world_with_redis)


@pytest.fixture
def world_with_document(
    store: Store,
    sqlite_url: str,
    tmp_path: Path,
    user: Any,
    redis_url: str,
    redis_prefix: str,
    revocation_channel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """The same, registration off and client ID metadata documents on: the client's document is served over
    https on 127.0.0.1 (the SDK takes no other), with a certificate of a test CA that Tessera trusts through
    SSL_CERT_FILE."""
    from tests.document_server import DocumentServer, tls_pair

    server_tls, _, ca_pem = tls_pair("127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    documents = DocumentServer(tls=server_tls)
    url = documents.url("/mcp-client.json")
    documents.serve_json("/mcp-client.json", {
        "client_id": url, "client_name": "MCP test client", "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })  # fmt: skip
    redis = {"TESSERA_REDIS_URL": redis_url, "TESSERA_REDIS_PREFIX": redis_prefix,
             "TESSERA_REVOCATION_CHANNEL": revocation_channel}  # fmt: skip
    mcp_redis = {"TESSERA_REDIS_URL": redis_url, "TESSERA_REVOCATION_CHANNEL": revocation_channel}
    documents_on = {"TESSERA_REGISTRATION": "off", "TESSERA_CLIENT_ID_METADATA": "on"}
    try:
        for world in _start(store, sqlite_url, tmp_path, user, redis, mcp_redis, documents_on):
            yield dataclasses.replace(world, document=url)
    finally:
        documents.stop()


@pytest.mark.redis
def test_the_mcp_sdk_with_a_client_id_metadata_document_calls_both_tools_refreshes_and_is_refused_after_revoke(
    world_with_document: World,
) -> None:
    """The second way to need no registration by hand: the SDK's client_metadata_url, which Tessera fetches."""
    anyio.run(_sign_in_call_refresh_revoke, world_with_document)


async def _step_up(world: World) -> None:
    person, storage, seen = Person(world.tessera.base_url, grant={"mcp"}), MemoryStorage(), Seen()
    async with (
        httpx2.AsyncClient(auth=_provider(world, person, storage), event_hooks={"response": [seen.hook]}) as http,
        Client(streamable_http_client(world.mcp_url, http_client=http), cache=None) as client,
    ):
        whoami = await client.call_tool("whoami", {})
        assert not whoami.is_error and whoami.structured_content is not None
        assert whoami.structured_content["scope"] == "mcp"

        # alice did not allow billing:read: the tool is refused with 403, the client asks her for it, she declines
        with pytest.raises(MCPError):
            await client.call_tool("list_invoices", {})
        refusals = [extra for status, extra in seen.at(world.mcp_url) if status == 403]
        assert len(refusals) == 2  # before and after asking again
        assert 'error="insufficient_scope"' in refusals[0] and 'scope="billing:read mcp"' in refusals[0]
        assert len(person.asked) == 2 and person.asked[1]["scope"] == ["mcp billing:read"]

        # the next time she allows it: the client steps up and the tool answers
        person.grant = None
        invoices = await client.call_tool("list_invoices", {})
        assert not invoices.is_error, invoices
        assert len(person.asked) == 3 and storage.tokens[-1].scope == "mcp billing:read"
        assert len([status for status, _ in seen.at(world.mcp_url) if status == 403]) == 3
    await person.close()


def test_a_tool_that_needs_a_scope_not_granted_is_refused_with_403_until_the_client_steps_up(world: World) -> None:
    anyio.run(_step_up, world)


def _initialize(world: World, token: str) -> httpx.Response:
    return httpx.post(
        world.mcp_url,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}},
    )  # fmt: skip


def test_the_mcp_server_refuses_a_token_issued_for_another_resource(world: World) -> None:
    """Audience confusion: a token good at Tessera but issued for another API (RFC 8707) gets 401 here."""
    other = "http://127.0.0.1:9/notes"
    _cli(world.database_url, "resources", "create", other, "--name", "Notes", "--scope", "mcp")
    caller: RegisteredClient = register_client(world.tessera.store, name="Caller", redirect_uris=(),
                                               grant_types=("client_credentials",), scope="mcp")  # fmt: skip

    def token(resource: str) -> str:
        form = {"grant_type": "client_credentials", "scope": "mcp", "resource": resource}
        answer = httpx.post(f"{world.tessera.base_url}/oauth/token", headers=caller.basic, data=form)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    elsewhere = _initialize(world, token(other))
    assert elsewhere.status_code == 401 and 'error="invalid_token"' in elsewhere.headers["WWW-Authenticate"]
    assert "resource_metadata=" in elsewhere.headers["WWW-Authenticate"]
    assert elsewhere.json()["error_description"] == "The access token was not issued for this resource."
    here = _initialize(world, token(world.mcp_url))
    assert here.status_code == 200, here.text


def test_the_example_client_signs_in_on_a_loopback_port_and_calls_both_tools(world: World) -> None:
    """examples/mcp/client.py, as the README runs it, the browser it opens played by alice."""
    from examples.mcp import client

    person = Person(world.tessera.base_url, follow=True)

    async def run() -> dict[str, Any]:
        async with anyio.create_task_group() as browser:

            async def open_browser(url: str) -> None:  # as webbrowser.open: the browser goes on by itself
                browser.start_soon(person.redirect_handler, url)

            answers = await client.call_tools(world.mcp_url, open_browser)
        return answers

    answers = anyio.run(run)
    assert answers["whoami"] is not None and answers["whoami"]["subject"] == world.subject
    assert answers["list_invoices"] is not None and len(answers["list_invoices"]["result"]) == 2
    asked = person.asked[0]
    assert asked["redirect_uri"][0].startswith("http://127.0.0.1:") and asked["resource"] == [world.mcp_url]
    anyio.run(person.close)
