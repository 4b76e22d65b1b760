"""IntrospectionSource against the real authorization server (in-process and over a socket), and every way
an answer can go wrong, each of which must fail closed."""

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tessera.resource import IntrospectionSource, InvalidToken, ServerUnavailable, TokenValidator
from tessera.store import Store
from tessera.tokens import TokenKind, digest, mint
from tests.conftest import (
    INTROSPECT,
    ISSUER,
    REVOKE,
    RegisteredClient,
    client_credentials_token,
    exchange,
    get_code,
    pkce_pair,
    register_client,
    unused_port,
)
from tests.document_server import DocumentServer, tls_pair
from tests.resource.conftest import LiveServer

ENDPOINT = ISSUER + INTROSPECT


def _lookup(source: IntrospectionSource, token: str) -> Any:
    return source.lookup(token, digest(token))


def test_an_active_client_token(
    introspection: IntrospectionSource, client: FlaskClient, service: RegisteredClient
) -> None:
    token = client_credentials_token(client, service)
    found = _lookup(introspection, token)
    assert found.client_id == service.client_id and found.subject == service.client_id
    assert found.username is None and found.scope == "api" and found.digest == digest(token)
    assert 3590 < found.expires_at - time.time() <= 3600
    assert introspection.endpoint == ENDPOINT  # discovered from the metadata


def test_an_active_users_token(
    introspection: IntrospectionSource, client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    verifier, challenge = pkce_pair()
    token = exchange(client, web_client, get_code(client, web_client, challenge), verifier).json["access_token"]
    found = _lookup(introspection, token)
    assert (found.username, found.subject, found.client_id) == ("alice", user.subject, web_client.client_id)
    assert found.scopes == {"api", "restricted"}


def test_unknown_and_revoked_tokens_are_not_active(
    introspection: IntrospectionSource, client: FlaskClient, service: RegisteredClient
) -> None:
    assert _lookup(introspection, mint(TokenKind.ACCESS)) is None
    token = client_credentials_token(client, service)
    assert client.post(REVOKE, data={"token": token}, headers=service.basic).status_code == 200
    assert _lookup(introspection, token) is None


def test_wrong_credentials_fail_closed(app: Flask, client: FlaskClient, service: RegisteredClient) -> None:
    token = client_credentials_token(client, service)
    source = IntrospectionSource(ISSUER, service.client_id, "tsr_cs_wrong", transport=httpx.WSGITransport(app=app))
    with closing(source), pytest.raises(ServerUnavailable) as caught:
        _lookup(source, token)
    assert "HTTP 401" in caught.value.detail


def test_a_resource_server_without_introspect_rights_sees_only_its_own_tokens(
    app: Flask, client: FlaskClient, store: Store, service: RegisteredClient
) -> None:
    other = register_client(store, name="Other", redirect_uris=(), grant_types=("client_credentials",), scope="api")
    assert other.secret is not None
    source = IntrospectionSource(ISSUER, other.client_id, other.secret, transport=httpx.WSGITransport(app=app))
    with closing(source):
        assert _lookup(source, client_credentials_token(client, service)) is None
        assert _lookup(source, client_credentials_token(client, other)) is not None


# every failure mode, through a scripted transport


def _scripted(
    introspect: Callable[[httpx.Request], httpx.Response], metadata: dict[str, Any] | None = None
) -> tuple[IntrospectionSource, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=metadata or {"issuer": ISSUER, "introspection_endpoint": ENDPOINT})
        return introspect(request)

    return IntrospectionSource(ISSUER, "api:1", "s3cret/+", transport=httpx.MockTransport(handler)), seen


def _answer(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


def test_the_request_is_rfc7662_with_client_secret_basic() -> None:
    token = mint(TokenKind.ACCESS)
    source, seen = _scripted(_answer({"active": False}))
    with closing(source):
        assert _lookup(source, token) is None
    request = seen[-1]
    assert request.method == "POST" and str(request.url) == ENDPOINT
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(request.content.decode())) == {"token": token, "token_type_hint": "access_token"}
    scheme, _, credentials = request.headers["Authorization"].partition(" ")
    # RFC 6749 §2.3.1: form-encode id and secret before Base64
    assert scheme == "Basic" and base64.b64decode(credentials).decode() == "api%3A1:s3cret%2F%2B"


def test_a_given_endpoint_needs_no_discovery() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"active": False})

    source = IntrospectionSource(
        ISSUER, "c", "s", endpoint="http://127.0.0.1:9/introspect", transport=httpx.MockTransport(handler)
    )
    with closing(source):
        _lookup(source, mint(TokenKind.ACCESS))
        _lookup(source, mint(TokenKind.ACCESS))
    assert [r.url.path for r in seen] == ["/introspect", "/introspect"]


def test_metadata_is_fetched_once() -> None:
    source, seen = _scripted(_answer({"active": False}))
    with closing(source):
        for _ in range(3):
            _lookup(source, mint(TokenKind.ACCESS))
    assert [r.url.path for r in seen].count("/.well-known/oauth-authorization-server") == 1


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


_GOOD = {"active": True, "exp": 2**40, "client_id": "c", "sub": "c", "scope": "api"}


@pytest.mark.parametrize(
    "introspect",
    [
        pytest.param(_answer({"error": "server_error"}, 500), id="500"),
        pytest.param(_answer("Bad gateway", 502), id="502"),
        pytest.param(_answer({"error": "invalid_client"}, 401), id="401"),
        pytest.param(_answer({"active": True}, 302), id="redirect"),
        pytest.param(lambda r: httpx.Response(200, text="<html>maintenance</html>"), id="not-json"),
        pytest.param(_answer([_GOOD]), id="a-list"),
        pytest.param(_answer({}), id="no-active"),
        pytest.param(_answer({"active": "true"}), id="active-not-boolean"),
        pytest.param(_answer({**_GOOD, "exp": None}), id="no-exp"),
        pytest.param(_answer({**_GOOD, "exp": "2099"}), id="exp-a-string"),
        pytest.param(_answer({**_GOOD, "exp": True}), id="exp-a-boolean"),
        pytest.param(_answer({k: v for k, v in _GOOD.items() if k != "sub"}), id="no-sub"),
        pytest.param(_answer({k: v for k, v in _GOOD.items() if k != "client_id"}), id="no-client_id"),
        pytest.param(_answer({**_GOOD, "scope": ["api"]}), id="scope-a-list"),
        pytest.param(_answer({**_GOOD, "username": 7}), id="username-not-a-string"),
        pytest.param(_raise(httpx.ConnectError("refused")), id="connect-error"),
        pytest.param(_raise(httpx.ReadTimeout("slow")), id="timeout"),
        pytest.param(_raise(httpx.RemoteProtocolError("closed")), id="protocol-error"),
    ],
)
def test_anything_but_a_proper_answer_fails_closed(introspect: Callable[[httpx.Request], httpx.Response]) -> None:
    source, _ = _scripted(introspect)
    token = mint(TokenKind.ACCESS)
    with closing(source), pytest.raises(ServerUnavailable) as caught:
        TokenValidator(source).validate(f"Bearer {token}")
    assert caught.value.status_code == 503
    assert token not in caught.value.detail


@pytest.mark.parametrize(
    "metadata",
    [
        {"issuer": "http://evil.example", "introspection_endpoint": ENDPOINT},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "introspection_endpoint": "ftp://x"},
    ],
)
def test_bad_metadata_fails_closed(metadata: dict[str, Any]) -> None:
    source, seen = _scripted(_answer(_GOOD), metadata)
    with closing(source), pytest.raises(ServerUnavailable) as caught:
        _lookup(source, mint(TokenKind.ACCESS))
    assert "metadata" in caught.value.detail
    assert all(r.url.path != "/oauth/introspect" for r in seen)


def test_expiry_is_checked_locally() -> None:
    source, _ = _scripted(_answer({**_GOOD, "exp": int(time.time()) - 1}))
    with closing(source), pytest.raises(InvalidToken):
        TokenValidator(source).validate(f"Bearer {mint(TokenKind.ACCESS)}")


def test_an_outage_is_logged_once_and_the_recovery_too(caplog: pytest.LogCaptureFixture) -> None:
    state = {"down": True}

    def introspect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503) if state["down"] else httpx.Response(200, json={"active": False})

    source, _ = _scripted(introspect)
    with closing(source), caplog.at_level(logging.INFO, logger="tessera.resource"):
        for _ in range(3):
            with pytest.raises(ServerUnavailable):
                _lookup(source, mint(TokenKind.ACCESS))
        state["down"] = False
        assert _lookup(source, mint(TokenKind.ACCESS)) is None
    assert caplog.text.count("HTTP 503") == 1 and caplog.text.count("answers again") == 1


# over a real socket


def test_over_a_socket_with_one_kept_alive_connection(live_auth: LiveServer, service: RegisteredClient) -> None:
    assert service.secret is not None
    with httpx.Client(base_url=live_auth.url) as http:
        response = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(service.client_id, service.secret)
        )
        token = response.json()["access_token"]
    live_auth.client_ports.clear()
    source = IntrospectionSource(live_auth.url, service.client_id, service.secret)
    with closing(source):
        for _ in range(3):
            assert _lookup(source, token).client_id == service.client_id
        assert _lookup(source, mint(TokenKind.ACCESS)) is None
    assert len(live_auth.client_ports) == 5  # the metadata, then four introspections
    assert len(set(live_auth.client_ports[1:])) == 1  # the introspections on one kept-alive connection


def test_each_thread_keeps_its_own_connection(live_auth: LiveServer, service: RegisteredClient) -> None:
    assert service.secret is not None
    token = httpx.post(
        live_auth.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(service.client_id, service.secret),
    ).json()["access_token"]
    source = IntrospectionSource(live_auth.url, service.client_id, service.secret, endpoint=live_auth.url + INTROSPECT)
    live_auth.client_ports.clear()
    with closing(source), ThreadPoolExecutor(4) as pool:
        barrier = threading.Barrier(4)

        def three_lookups(_: int) -> list[str]:
            barrier.wait()  # all four threads at once, so none can reuse another's connection
            return [_lookup(source, token).client_id for _ in range(3)]

        answers = list(pool.map(three_lookups, range(4)))
    assert answers == [[service.client_id] * 3] * 4
    assert len(live_auth.client_ports) == 12 and len(set(live_auth.client_ports)) == 4


class _OneAnswerPerConnection(threading.Thread):
    """An HTTP server that answers each connection's first request (keep-alive, as far as the client can tell)
    and then closes it, as a server does with an idle connection; counts the connections."""

    def __init__(self, answer: bytes) -> None:
        super().__init__(daemon=True)
        self.answer = answer
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
                )
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(self.answer)}\r\n\r\n".encode()
                    + self.answer
                )
                time.sleep(0.05)  # the client has read the answer and keeps the connection; then it is closed


def test_a_kept_connection_the_server_closed_is_replaced_and_the_lookup_answered() -> None:
    server = _OneAnswerPerConnection(json.dumps(_GOOD).encode())
    server.start()
    source = IntrospectionSource(server.url, "c", "s", endpoint=server.url + "/introspect")
    try:
        with closing(source):
            for _ in range(3):
                assert _lookup(source, mint(TokenKind.ACCESS)).client_id == _GOOD["client_id"]
                time.sleep(0.1)  # closed by the server by now
    finally:
        server.sock.close()
    assert server.connections == 3


def test_nothing_listening_is_503_at_once() -> None:
    source = IntrospectionSource(f"http://127.0.0.1:{unused_port()}", "c", "s")
    started = time.monotonic()
    with closing(source), pytest.raises(ServerUnavailable) as caught:
        _lookup(source, mint(TokenKind.ACCESS))
    assert "ConnectError" in caught.value.detail
    assert time.monotonic() - started < 2


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_never_answers_is_503_after_the_timeout(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    source = IntrospectionSource(url, "c", "s", endpoint=url + "/introspect", timeout=0.3)
    started = time.monotonic()
    with closing(source), pytest.raises(ServerUnavailable) as caught:
        _lookup(source, mint(TokenKind.ACCESS))
    assert "ReadTimeout" in caught.value.detail
    assert 0.3 <= time.monotonic() - started < 2


def test_the_answer_body_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    source, _ = _scripted(_answer({"active": True, "secret_stuff": "x" * 10}))
    with closing(source), caplog.at_level(logging.DEBUG, logger="tessera.resource"), pytest.raises(ServerUnavailable):
        _lookup(source, mint(TokenKind.ACCESS))
    assert "secret_stuff" not in caplog.text and json.dumps(_GOOD) not in caplog.text


def test_over_https_the_certificate_is_checked_with_httpx_trust_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_tls, _, ca_pem = tls_pair("127.0.0.1")
    server = DocumentServer(server_tls)
    try:
        endpoint = server.serve_json("/introspect", _GOOD)
        untrusted = IntrospectionSource(server.origin, "c", "s", endpoint=endpoint)
        with closing(untrusted), pytest.raises(ServerUnavailable) as caught:
            _lookup(untrusted, mint(TokenKind.ACCESS))
        assert "ConnectError" in caught.value.detail
        assert "/introspect" not in server.fetches  # nothing sent before the certificate was checked

        (tmp_path / "ca.pem").write_bytes(ca_pem)
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # as httpx reads it
        trusted = IntrospectionSource(server.origin, "c", "s", endpoint=endpoint)
        with closing(trusted):
            assert _lookup(trusted, mint(TokenKind.ACCESS)).client_id == "c"
        assert server.fetches["/introspect"] == 1
    finally:
        server.stop()
