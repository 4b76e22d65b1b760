"""The WSGI face of :class:`~tessera.server.front.Front`: what the tests, the demo and any WSGI server use.

A machine route's request is read here (the whole body, at most :data:`~tessera.server.request.MAX_BODY`
bytes: a longer one is 413, whether or not it says its length; one that says no length and that the server
does not terminate is read as empty, as Werkzeug does) and answered by the front; any other request goes to
the pages. Either way one access line is written.

A WSGI server reads the body in the thread that runs the application, so a client that sends its body slowly
holds that thread; ``tessera serve`` uses :mod:`tessera.server.rsgi` instead, which reads bodies before a
thread is taken.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any

from tessera.server import requestid
from tessera.server.front import Front, refused_answer, status_line
from tessera.server.request import MAX_BODY, HttpRequest, Refused, declared_length

__all__ = ["WsgiFront"]

StartResponse = Callable[..., Any]


class WsgiFront:
    """A WSGI application: ``front``'s machine routes, and its pages for everything else."""

    def __init__(self, front: Front) -> None:
        self.front = front

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        rid = requestid.request_id(environ.get("HTTP_X_REQUEST_ID"))
        route = self.front.route(path)
        if route is None:
            return self._page(environ, start_response, method, path, started, rid)
        request: HttpRequest | None = None
        try:
            request = _request(environ, method, path, rid)
        except Refused as refused:
            answer = refused_answer(refused)
        else:
            answer = self.front.answer(route, request)
        client_id = None if request is None else request.client_id
        self.front.access(method, path, answer.status, started, client_id, rid)
        start_response(status_line(answer.status), [*answer.headers, *self.front.headers, (requestid.HEADER, rid)])
        return [answer.body]

    def _page(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        method: str,
        path: str,
        started: float,
        rid: str,
    ) -> Iterable[bytes]:
        status = 500

        def recording(status_text: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            status = int(status_text.split(" ", 1)[0])
            return start_response(status_text, [*headers, *self.front.headers, (requestid.HEADER, rid)], exc_info)

        info = requestid.RequestInfo(rid, environ.get("REMOTE_ADDR"))
        try:
            return self.front.page(environ, recording, info)
        finally:
            self.front.access(method, path, status, started, None, rid)


def _request(environ: dict[str, Any], method: str, path: str, rid: str) -> HttpRequest:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = environ["CONTENT_TYPE"]
    length = declared_length(environ.get("CONTENT_LENGTH"))
    stream = environ["wsgi.input"]
    if length is not None:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise Refused(413, "The request body is too large.")
    else:
        body = b""
    return HttpRequest(
        method=method,
        path=path,
        query=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=body,
        remote_addr=environ.get("REMOTE_ADDR"),
        request_id=rid,
    )
