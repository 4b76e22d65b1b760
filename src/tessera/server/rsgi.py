"""The RSGI face of :class:`~tessera.server.front.Front`, for ``tessera serve`` (granian's native interface).

Why not WSGI under granian, as before: a WSGI server hands a request to one of the worker's few threads as soon
as its headers have arrived, and the application then reads the body in that thread. A client that declares a
body and sends it a byte a second holds the thread for as long as it likes; a handful of them held every
thread of the default server, and ``/healthz``, the token endpoint and introspection stopped answering.

Here the body is read first, on the worker's event loop, where waiting costs a coroutine and no thread: at most
:data:`~tessera.server.request.MAX_BODY` bytes (413 beyond), within ``body_timeout`` seconds (408, and the
connection closed, after that). A body that ends before it is complete (the client closed, or half-closed, its
side too early) is 400 and never handled (how it is told apart from a whole one: :func:`_read`). Only a complete
request is handed on:

- a machine route that runs on the loop (:attr:`~tessera.server.front.Runs.LOOP`: introspection, the documents,
  ``/healthz``) is answered right there, with no thread switch;
- any other machine route, and every page, runs on one of ``threads`` worker threads, reached through a plain
  queue (``run_in_executor`` cost 10-15 % of an issuance more, measured).

What this costs, measured against the WSGI interface (``bench/``): granian's RSGI dispatch takes about 20 µs
more per request than its WSGI one. Two things pay for it: the access line is queued for a writer thread instead
of written in the request (:class:`~tessera.server.access.AccessLog`), and the body deadline is a sweep of the
pending reads once a second rather than a timer armed per request (``asyncio.timeout`` cost 8 µs a request).

Slow headers are the HTTP server's business (granian's header read timeout, set by ``tessera serve``).
"""

import asyncio
import io
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

# what granian.rsgi offers as ProtocolClosed (imported from where it is declared, for the type checker)
from granian._granian import RSGIProtocolClosed as ProtocolClosed

from tessera.server import requestid
from tessera.server.errors import error_body
from tessera.server.front import Answer, Front, Runs, json_answer, refused_answer
from tessera.server.request import MAX_BODY, HttpRequest, Refused, declared_length

__all__ = ["RsgiFront"]

#: how often the pending body reads are checked against their deadline, in seconds
_SWEEP_PERIOD = 1.0

_TIMED_OUT = json_answer(
    408, error_body("invalid_request", "The request body did not arrive in time."), [("Connection", "close")]
)


class _Workers:
    """``size`` daemon threads running calls handed to them from the event loop, one at a time each."""

    def __init__(self, size: int) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop] | None]
        self._queue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"tessera-{i}", daemon=True) for i in range(size)]
        for thread in self._threads:
            thread.start()

    def run(self, call: Callable[[], Any]) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((call, future, loop))
        return future

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            call, future, loop = item
            try:
                result = call()
            except BaseException as exc:  # handed to the awaiting coroutine, which decides
                loop.call_soon_threadsafe(_fail, future, exc)
            else:
                loop.call_soon_threadsafe(_done, future, result)


def _done(future: "asyncio.Future[Any]", result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: "asyncio.Future[Any]", exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class _Deadlines:
    """The body reads under way and when each must end; once a second, those that overran are cancelled."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._period = _SWEEP_PERIOD
        self.pending: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self._sweep_handle = loop.call_later(self._period, self._sweep)

    def watch(self, task: asyncio.Task[Any]) -> None:
        self.pending[task] = self._loop.time() + self._timeout

    def _sweep(self) -> None:
        now = self._loop.time()
        for task, deadline in list(self.pending.items()):
            if deadline <= now:
                del self.pending[task]
                self.expired.add(task)
                task.cancel()
        self._sweep_handle = self._loop.call_later(self._period, self._sweep)

    def stop(self) -> None:
        self._sweep_handle.cancel()


class RsgiFront:
    """An RSGI application (``__rsgi__``) serving ``front``: bodies read on the loop, then answered."""

    def __init__(self, front: Front, *, threads: int, body_timeout: float) -> None:
        self.front = front
        self.body_timeout = body_timeout
        self._threads = threads
        self._workers: _Workers | None = None
        self._deadlines: _Deadlines | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._workers = _Workers(self._threads)
        self._deadlines = _Deadlines(loop, self.body_timeout)
        self.front.start()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._deadlines is not None:
            self._deadlines.stop()
        if self._workers is not None:
            self._workers.stop()
        self.front.close()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        started = time.perf_counter()
        method, path = scope.method, scope.path
        rid = requestid.request_id(scope.headers.get("x-request-id"))
        client_id: str | None = None
        try:
            body = await self._body(scope.headers, proto)
        except Refused as refused:
            answer = refused_answer(refused)
        except _TimedOut:
            answer = _TIMED_OUT
        else:
            route = self.front.route(path)
            if route is None:
                answer = await self._in_thread(lambda: _page(self.front, scope, body, rid))
            else:
                request = HttpRequest(
                    method=method,
                    path=path,
                    query=scope.query_string,
                    headers=_headers(scope.headers),
                    body=body,
                    remote_addr=_address(scope.client),
                    request_id=rid,
                )
                if route.runs is Runs.LOOP:
                    answer = self.front.answer(route, request)
                else:
                    answer = await self._in_thread(lambda: self.front.answer(route, request))
                client_id = request.client_id
        self.front.access(method, path, answer.status, started, client_id, rid)
        headers = [*answer.headers, *self.front.headers, (requestid.HEADER, rid)]
        proto.response_bytes(answer.status, headers, answer.body)

    async def _body(self, headers: Any, proto: Any) -> bytes:
        length = declared_length(headers.get("content-length"))
        chunked = length is None and "chunked" in headers.get("transfer-encoding", "").lower()
        # HTTP/1.1 frames every body one way or the other (``tessera serve`` speaks no HTTP/2, where neither is needed)
        if not length and not chunked:
            return b""
        deadlines = self._deadlines
        task = asyncio.current_task()
        if deadlines is None or task is None:  # an RSGI server that never called __rsgi_init__
            return await _read(proto, chunked)
        deadlines.watch(task)
        try:
            return await _read(proto, chunked)
        except asyncio.CancelledError:
            if task not in deadlines.expired:
                raise
            deadlines.expired.discard(task)
            task.uncancel()
            raise _TimedOut() from None
        finally:
            deadlines.pending.pop(task, None)

    def _in_thread(self, call: Callable[[], Answer]) -> "asyncio.Future[Answer]":
        if self._workers is None:  # an RSGI server that never called __rsgi_init__
            self._workers = _Workers(self._threads)
        return self._workers.run(call)


class _TimedOut(Exception):
    """The body did not arrive within the deadline."""


async def _read(proto: Any, chunked: bool) -> bytes:
    """The whole body; :class:`Refused` 400 if it ended before it was complete, 413 past :data:`MAX_BODY`.

    A body with a ``Content-Length`` that stops short fails the read (``ProtocolClosed``). A chunked one does not:
    granian hands out each chunk and then one empty chunk for the end, but a stream that broke off (the client
    closed, or half-closed, before the last chunk) is handed out as an empty chunk for the failure and then the
    one for the end. So an empty chunk with anything after it means the body did not arrive whole; trailers,
    which no form sends, look the same and are refused with it."""
    try:
        if not chunked:
            data: bytes = await proto()
            return data
        chunks: list[bytes] = []
        size = 0
        ended = False
        async for chunk in proto:
            if ended:
                raise _incomplete()
            ended = not chunk
            size += len(chunk)
            if size > MAX_BODY:
                raise Refused(413, "The request body is too large.")
            chunks.append(chunk)
        return b"".join(chunks)
    except ProtocolClosed:
        raise _incomplete() from None


def _incomplete() -> Refused:
    # the client may still be waiting for the answer (it only half-closed); the connection cannot be used again
    return Refused(400, "The request body ended before it was complete.", [("Connection", "close")])


def _headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _address(client: str) -> str:
    host = client.rsplit(":", 1)[0] if ":" in client else client
    return host.removeprefix("[").removesuffix("]")


def _page(front: Front, scope: Any, body: bytes, rid: str) -> Answer:
    """Run the pages' WSGI application on a complete request (in a worker thread)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scope.path,
        "QUERY_STRING": scope.query_string,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": _address(scope.client),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    environ["SERVER_NAME"], _, environ["SERVER_PORT"] = scope.server.rpartition(":")
    for name, value in scope.headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            separator = "; " if name == "cookie" else ", "
            environ[key] = f"{environ[key]}{separator}{value}" if key in environ else value
    status = 500
    headers: list[tuple[str, str]] = []

    def start_response(status_text: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        nonlocal status, headers
        status, headers = int(status_text.split(" ", 1)[0]), response_headers

    result = front.page(environ, start_response, requestid.RequestInfo(rid, environ["REMOTE_ADDR"]))
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Answer(status, headers, data)
