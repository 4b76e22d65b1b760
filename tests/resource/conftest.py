"""Fixtures for the resource toolkit: a scripted token source, and tokens as the validator sees them."""

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from flask import Flask
from waitress.server import create_server

from tessera.app import create_app
from tessera.resource import AccessToken, IntrospectionSource, ServerUnavailable
from tessera.store import Store
from tessera.tokens import TokenKind, digest, mint
from tests.conftest import ISSUER, RegisteredClient, settings_for
from tests.tcp_proxy import TcpProxy


def access_token(
    token: str,
    *,
    scope: str = "api",
    expires_in: int = 3600,
    username: str | None = "alice",
    audience: tuple[str, ...] = (),
    jkt: str | None = None,
) -> AccessToken:
    return AccessToken(
        subject="1" if username else "svc",
        username=username,
        client_id="svc",
        scope=scope,
        expires_at=int(time.time()) + expires_in,
        digest=digest(token),
        audience=audience,
        jkt=jkt,
    )


class ScriptedSource:
    """A token source that answers from a dict and counts its calls; ``down`` makes it raise 503."""

    def __init__(self) -> None:
        self.answers: dict[str, AccessToken] = {}
        self.calls = 0
        self.down = False
        self.before_answer: Callable[[], object] | None = None
        self._lock = threading.Lock()

    def add(self, **kwargs: object) -> tuple[str, AccessToken]:
        token = mint(TokenKind.ACCESS)
        found = access_token(token, **kwargs)  # type: ignore[arg-type]
        self.answers[found.digest] = found
        return token, found

    def lookup(self, token: str, token_digest: str) -> AccessToken | None:
        with self._lock:
            self.calls += 1
        if self.before_answer is not None:
            self.before_answer()
        if self.down:
            raise ServerUnavailable("scripted outage")
        return self.answers.get(token_digest)


@pytest.fixture
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture
def introspection(app: Flask, service: RegisteredClient) -> Iterator[IntrospectionSource]:
    """An introspection source talking to the real app in-process, endpoint discovered from its metadata."""
    assert service.secret is not None
    source = IntrospectionSource(ISSUER, service.client_id, service.secret, transport=httpx.WSGITransport(app=app))
    yield source
    source.close()


class LiveServer:
    """A WSGI app on a real loopback socket (waitress, which keeps connections alive as production servers do),
    in a thread; records each request's client port, so a test can tell whether connections are reused."""

    def __init__(self) -> None:
        self.app: Any = None
        self.client_ports: list[int] = []
        self._server = create_server(self._dispatch, host="127.0.0.1", port=0, threads=4, asyncore_loop_timeout=0.05)
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.client_ports.append(int(environ["REMOTE_PORT"]))
        result: Iterable[bytes] = self.app(environ, start_response)
        return result

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        # waitress has no stop(): close every channel from inside its loop thread, which then ends the loop
        server = self._server

        def close_everything() -> None:
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.handle_close()
            server.close()  # the listening socket and the trigger

        server.trigger.pull_trigger(close_everything)
        self._thread.join(5)
        server.task_dispatcher.shutdown()


@pytest.fixture
def live_auth(sqlite_url: str, store: Store) -> Iterator[LiveServer]:
    """The authorization server over a socket, its issuer being its own address."""
    server = LiveServer()
    server.app = create_app(settings_for(sqlite_url, TESSERA_ISSUER=server.url), store=store)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A cuttable proxy in front of the machine's Redis, and the Redis URL that goes through it."""
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.port or 6379)
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    yield proxy, urlunsplit((parts.scheme, f"{netloc}127.0.0.1:{proxy.port}", parts.path, parts.query, ""))
    proxy.close()
