"""The RSGI face that ``tessera serve`` runs, driven in process: an RSGI server's scope and protocol objects are
stood in for by small fakes, so every branch (bodies on the loop, the deadline, the worker threads, the pages, the
queued access line) is exercised here; ``test_serve.py`` runs the real granian."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from granian._granian import RSGIProtocolClosed as ProtocolClosed

from tessera.app import Built, build
from tessera.config import Settings
from tessera.server.request import MAX_BODY
from tessera.server.rsgi import RsgiFront
from tessera.store import Store
from tests.conftest import INTROSPECT, TOKEN, RegisteredClient

FORM = "application/x-www-form-urlencoded"


class Headers:
    """What an RSGI server's headers offer: ``get`` and ``items`` (names in lower case, repeats kept)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = [(name.lower(), value) for name, value in pairs]

    def get(self, name: str, default: Any = None) -> Any:
        return next((value for key, value in self._pairs if key == name), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


@dataclass
class Scope:
    method: str
    path: str
    headers: Headers
    query_string: str = ""
    client: str = "192.0.2.7:51000"
    server: str = "127.0.0.1:8000"
    scheme: str = "http"
    http_version: str = "1.1"


@dataclass
class Proto:
    """The request body (whole, in chunks, or arriving after ``delay`` seconds; ``cut_off``: the client went away
    before the end) and what was answered. Chunks end as granian ends them (see ``rsgi._read``)."""

    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    delay: float = 0.0
    cut_off: bool = False
    answer: tuple[int, list[tuple[str, str]], bytes] | None = None

    async def __call__(self) -> bytes:
        await asyncio.sleep(self.delay)
        if self.cut_off:
            raise ProtocolClosed("RSGI transport is closed")
        return self.body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await asyncio.sleep(self.delay)
            yield chunk
        # the end of the body; a stream that broke off yields an empty chunk for the failure first
        for end in [b"", b""] if self.cut_off else [b""]:
            yield end

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answer = (status, headers, body)

    @property
    def status(self) -> int:
        assert self.answer is not None, "nothing was answered"
        return self.answer[0]

    @property
    def headers(self) -> dict[str, str]:
        assert self.answer is not None
        return {name.lower(): value for name, value in self.answer[1]}

    def json(self) -> Any:
        assert self.answer is not None
        return json.loads(self.answer[2])


@pytest.fixture
def built(settings: Settings, store: Store) -> Built:
    return build(settings, store=store)


def _form(path: str, data: str, *, auth: dict[str, str] | None = None) -> tuple[Scope, Proto]:
    body = data.encode()
    pairs = [("content-type", FORM), ("content-length", str(len(body)))]
    pairs += [(name, value) for name, value in (auth or {}).items()]
    return Scope("POST", path, Headers(pairs)), Proto(body=body)


def _serve(front: RsgiFront, *requests: tuple[Scope, Proto]) -> None:
    """Start the front as an RSGI server would, answer the requests concurrently, stop it."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        front.__rsgi_init__(loop)
        try:
            await asyncio.gather(*(front.__rsgi__(scope, proto) for scope, proto in requests))
        finally:
            front.__rsgi_del__(loop)

    asyncio.run(main())


def _token(front: RsgiFront, service: RegisteredClient) -> str:
    scope, proto = _form(TOKEN, "grant_type=client_credentials", auth=service.basic)
    _serve(front, (scope, proto))
    assert proto.status == 200, proto.json()
    return str(proto.json()["access_token"])


def test_the_token_endpoint_runs_on_a_worker_thread_and_introspection_on_the_loop(
    built: Built, service: RegisteredClient
) -> None:
    front = built.rsgi(threads=2)
    token = _token(front, service)
    scope, proto = _form(INTROSPECT, f"token={token}", auth=service.basic)
    _serve(front, (scope, proto))
    assert proto.status == 200 and proto.headers["cache-control"] == "no-store"
    assert proto.json()["active"] is True and proto.json()["client_id"] == service.client_id


def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed(
    built: Built, service: RegisteredClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tessera.server.rsgi._SWEEP_PERIOD", 0.05)
    front = RsgiFront(built.front, threads=1, body_timeout=0.2)
    slow_scope, slow = _form(TOKEN, "grant_type=client_credentials", auth=service.basic)
    slow.delay = 5
    quick_scope, quick = Scope("GET", "/healthz", Headers([])), Proto()
    _serve(front, (slow_scope, slow), (quick_scope, quick))
    assert slow.status == 408 and slow.headers["connection"] == "close"
    assert slow.json() == {"error": "invalid_request", "error_description": "The request body did not arrive in time."}
    assert quick.status == 200 and quick.json() == {"status": "ok"}  # answered while the slow body was awaited


def test_a_slow_body_within_the_deadline_is_read_and_answered(built: Built, service: RegisteredClient) -> None:
    front = RsgiFront(built.front, threads=1, body_timeout=5)
    scope, proto = _form(TOKEN, "grant_type=client_credentials", auth=service.basic)
    proto.delay = 0.3
    _serve(front, (scope, proto))
    assert proto.status == 200 and proto.json()["access_token"].startswith("tsr_at_")


def test_a_declared_body_over_the_limit_is_413_without_reading_it(built: Built) -> None:
    front = built.rsgi(threads=1)
    scope = Scope("POST", TOKEN, Headers([("content-type", FORM), ("content-length", str(MAX_BODY + 1))]))
    proto = Proto(delay=60)  # reading it would take a minute
    _serve(front, (scope, proto))
    assert proto.status == 413 and proto.json()["error"] == "invalid_request"


def test_a_chunked_body_is_read_to_its_end_and_over_the_limit_is_413(built: Built, service: RegisteredClient) -> None:
    front = built.rsgi(threads=1)
    pairs = [("content-type", FORM), ("transfer-encoding", "chunked"), *service.basic.items()]
    small = Proto(chunks=[b"grant_type=", b"client_credentials"])
    large = Proto(chunks=[b"x" * 40_000, b"y" * 40_000])
    _serve(front, (Scope("POST", TOKEN, Headers(pairs)), small), (Scope("POST", TOKEN, Headers(pairs)), large))
    assert small.status == 200 and small.json()["token_type"] == "Bearer"
    assert large.status == 413


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_that_ends_before_it_is_complete_is_400_and_never_handled(
    built: Built, service: RegisteredClient, framing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued: list[object] = []
    monkeypatch.setattr(built.store.tokens, "insert", issued.append)
    front = built.rsgi(threads=1)
    form = b"grant_type=client_credentials"  # a whole request by itself, were it taken as the whole body
    if framing == "content-length":
        pairs = [("content-type", FORM), ("content-length", str(len(form) + 20)), *service.basic.items()]
        proto = Proto(body=form, cut_off=True)
    else:
        pairs = [("content-type", FORM), ("transfer-encoding", "chunked"), *service.basic.items()]
        proto = Proto(chunks=[form], cut_off=True)
    _serve(front, (Scope("POST", TOKEN, Headers(pairs)), proto))
    assert proto.status == 400 and proto.headers["connection"] == "close"
    assert proto.json() == {
        "error": "invalid_request",
        "error_description": "The request body ended before it was complete.",
    }
    assert issued == []


def test_a_content_length_that_is_not_a_number_is_400(built: Built) -> None:
    front = built.rsgi(threads=1)
    scope, proto = Scope("POST", TOKEN, Headers([("content-type", FORM), ("content-length", "-1")])), Proto()
    _serve(front, (scope, proto))
    assert proto.status == 400
    assert proto.json()["error_description"] == "The Content-Length header is not a number."


def test_pages_run_in_flask_with_the_request_as_sent(built: Built) -> None:
    front = built.rsgi(threads=2)
    page, page_proto = Scope("GET", "/login", Headers([("accept", "text/html")]), query_string="next=/x"), Proto()
    missing, missing_proto = Scope("GET", "/nowhere", Headers([("accept", "application/json")])), Proto()
    _serve(front, (page, page_proto), (missing, missing_proto))
    assert page_proto.status == 200 and page_proto.headers["x-frame-options"] == "DENY"
    assert page_proto.answer is not None and b'name="next" value="/x"' in page_proto.answer[2]
    assert "tessera_session=" in page_proto.headers["set-cookie"]
    assert missing_proto.status == 404 and missing_proto.json() == {"error": "Not Found"}


def test_a_signed_in_session_cookie_reaches_the_pages(built: Built, user: Any) -> None:
    """Cookies and form bodies cross the RSGI face unchanged: sign in, then the session cookie is honoured."""
    front = built.rsgi(threads=1)
    first = Proto()
    _serve(front, (Scope("GET", "/login", Headers([])), first))
    assert first.answer is not None
    cookie = first.headers["set-cookie"].split(";", 1)[0]
    html = first.answer[2].decode()
    csrf = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    body = f"username=alice&password=correct+horse&csrf_token={csrf}&next=/".encode()
    pairs = [("content-type", FORM), ("content-length", str(len(body))), ("cookie", cookie)]
    signed_in = Proto(body=body)
    _serve(front, (Scope("POST", "/login", Headers(pairs)), signed_in))
    assert signed_in.status == 303, signed_in.answer
    session = signed_in.headers["set-cookie"].split(";", 1)[0]
    home = Proto()
    _serve(front, (Scope("GET", "/", Headers([("cookie", "other=1"), ("cookie", session)])), home))
    assert home.status == 200 and home.answer is not None and b"alice" in home.answer[2]


def test_every_request_gets_one_access_line_written_by_the_time_the_worker_stops(
    built: Built, service: RegisteredClient, caplog: pytest.LogCaptureFixture
) -> None:
    front = built.rsgi(threads=2)
    token = _token(front, service)
    requests = [_form(INTROSPECT, f"token={token}", auth=service.basic) for _ in range(20)]
    requests.append((Scope("GET", "/login", Headers([])), Proto()))
    with caplog.at_level(logging.INFO, logger="tessera.access"):
        _serve(front, *requests)
    lines = [r.getMessage() for r in caplog.records if r.name == "tessera.access"]
    assert len(lines) == 21
    assert sum(f"path={INTROSPECT} status=200" in line and service.client_id in line for line in lines) == 20
    assert sum("method=GET path=/login status=200" in line for line in lines) == 1
    assert token not in caplog.text


def test_a_failure_in_a_threaded_handler_is_a_json_500(
    built: Built, service: RegisteredClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(built.store.tokens, "insert", broken)
    front = built.rsgi(threads=1)
    scope, proto = _form(TOKEN, "grant_type=client_credentials", auth=service.basic)
    _serve(front, (scope, proto))
    assert proto.status == 500
    assert proto.json() == {"error": "server_error", "error_description": "An unexpected error occurred."}


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    import threading

    before = {t.name for t in threading.enumerate()}
    yield
    left = {t.name for t in threading.enumerate()} - before
    assert not {name for name in left if name.startswith("tessera-")}, left
