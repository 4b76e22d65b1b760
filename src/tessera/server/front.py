"""``Front``: what every request meets first, whichever HTTP server read it.

A request for a machine route (:class:`Machine` in the request map, :mod:`tessera.app.routes`) is answered here
by its handler, with no web framework in between; any other request goes to the pages (the Flask app). Both
kinds get the same access line (:attr:`Front.access`), and a machine route's failures become JSON here:

- a request refused before any endpoint sees it (:class:`~tessera.server.request.Refused`): ``invalid_request``;
- an OAuth error: Authlib's status, body and headers;
- anything else: :func:`tessera.server.errors.failure` (503 ``temporarily_unavailable`` while the database is
  away, otherwise 500 ``server_error``, the detail logged and never sent).

Every JSON answer of a machine route carries ``Cache-Control: no-store`` unless its handler says otherwise.
Every response at all, machine route or page, refused early or answered, carries :attr:`Front.headers` (HSTS in
production) and ``X-Request-Id`` (:mod:`tessera.server.requestid`): the WSGI and RSGI faces add them where they
send the response. While a handler or a page runs, its request is :func:`tessera.server.requestid.current`.

What runs beside the requests in each process (the access log's writer, the metrics' flusher, the audit trail's
writer) is in :attr:`Front.lifecycle`: the RSGI face starts it when the worker starts and closes it when it stops.
"""

import dataclasses
import enum
import json
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any, Protocol

from authlib.oauth2 import OAuth2Error

from tessera.server import requestid
from tessera.server.access import AccessLog
from tessera.server.errors import JSON_NO_STORE, error_body, failure
from tessera.server.handlers import Handler, Machine
from tessera.server.request import HttpRequest, Refused

__all__ = [
    "Answer",
    "Background",
    "Front",
    "MachineRoute",
    "Runs",
    "json_answer",
    "refused_answer",
    "status_line",
]

_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
# what json.dumps(body, separators=(",", ":")) writes, without making an encoder for every answer
_encode = json.JSONEncoder(separators=(",", ":")).encode
_JSON_TYPES = (dict, list)


def status_line(status: int) -> str:
    return _STATUS_LINES.get(status, f"{status} Error")


class Runs(enum.Enum):
    """Where ``tessera serve`` runs a machine route's handler (the WSGI adapter runs everything in the thread
    that called it)."""

    #: on the event loop that reads requests: handlers that never wait for anything but a quick local read
    LOOP = "loop"
    #: on one of the worker threads, like the pages: handlers that write (and wait for a commit) or may block
    THREAD = "thread"


@dataclasses.dataclass(frozen=True)
class MachineRoute:
    """A path answered by a handler of :mod:`tessera.server.handlers`, before and without the web framework.

    ``advertised_as`` names the endpoint in the server's metadata (``token_endpoint``), if it is one."""

    path: str
    methods: tuple[str, ...]
    handler: Handler
    runs: Runs
    advertised_as: str | None = None

    @property
    def allow(self) -> str:
        return ", ".join(["OPTIONS", *self.methods, *(["HEAD"] if "GET" in self.methods else [])])


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Background(Protocol):
    """Something that runs beside the requests of a worker: started before the first, closed after the last."""

    def start(self) -> None: ...

    def close(self) -> None: ...


class Front:
    """The machine routes of the request map, and the pages behind them."""

    def __init__(
        self,
        machine: Machine,
        routes: Iterable[MachineRoute],
        pages: Callable[..., Iterable[bytes]],
        access: AccessLog | None = None,
        headers: Sequence[tuple[str, str]] = (),
        background: Sequence[Background] = (),
    ) -> None:
        self.machine = machine
        self.routes = {route.path: route for route in routes}
        self._trusted_proxies = machine.server.context.settings.trusted_proxies
        #: the pages, as a WSGI application (the Flask app)
        self.pages = pages
        #: the one access line per request; the adapters call it
        self.access = access or AccessLog()
        #: headers every response carries; the adapters add them
        self.headers = list(headers)
        #: the access log and whatever else runs beside the requests (:class:`Background`)
        self.lifecycle: list[Background] = [self.access, *background]

    def start(self) -> None:
        for part in self.lifecycle:
            part.start()

    def close(self) -> None:
        for part in reversed(self.lifecycle):
            part.close()

    def page(
        self, environ: dict[str, Any], start_response: Callable[..., Any], info: requestid.RequestInfo
    ) -> Iterable[bytes]:
        """Run the pages' WSGI application with ``info`` as the current request."""
        entered = requestid.entered(info)
        try:
            return self.pages(environ, start_response)
        finally:
            requestid.left(entered)

    def route(self, path: str) -> MachineRoute | None:
        return self.routes.get(path)

    def answer(self, route: MachineRoute, request: HttpRequest) -> Answer:
        """Run ``route``'s handler on ``request``; never raises."""
        if request.method == "OPTIONS":
            return Answer(200, [("Allow", route.allow)], b"")
        head = request.method == "HEAD" and "GET" in route.methods
        if request.method not in route.methods and not head:
            return refused_answer(
                Refused(405, "The method is not allowed for the requested URL.", [("Allow", route.allow)])
            )
        address = request.client_address(self._trusted_proxies)  # as the pages see it: audit events name it
        entered = requestid.entered(requestid.RequestInfo(request.request_id, address))
        try:
            status, body, headers = route.handler(self.machine, request)
        except Refused as refused:
            return refused_answer(refused)
        except OAuth2Error as error:
            status, body, headers = error()
        except Exception as exc:
            failed = failure(exc, request.method, request.path)
            status, body, headers = failed.status, error_body(failed.error, failed.description), list(failed.headers)
        finally:
            requestid.left(entered)
        answer = json_answer(status, body, headers)
        return Answer(answer.status, answer.headers, b"") if head else answer


def refused_answer(refused: Refused) -> Answer:
    """A request refused before any endpoint saw it: ``invalid_request`` (RFC 6749 §5.2) with its status."""
    return json_answer(refused.status, error_body("invalid_request", refused.description), refused.headers)


def json_answer(status: int, body: Any, headers: Sequence[tuple[str, str]]) -> Answer:
    """``body`` (a dict or a list, as JSON; or bytes as they are) with its length, and ``no-store`` unless
    ``headers`` say otherwise."""
    data: bytes = _encode(body).encode() if isinstance(body, _JSON_TYPES) else (body or b"")
    names = {name.lower() for name, _ in headers}
    extra = [h for h in JSON_NO_STORE if h[0].lower() not in names] if data else []
    return Answer(status, [*headers, *extra, ("Content-Length", str(len(data)))], data)
