"""``Front``: what every request meets first, whichever HTTP server read it.

A request for a machine route (:class:`Machine` in the request map, :mod:`tessera.app.routes`) is answered here
by its handler, with no web framework in between; any other request goes to the pages (the Flask app). Both
kinds get the same access line (:func:`log_request`), and a machine route's failures become JSON here:

- a request refused before any endpoint sees it (:class:`~tessera.server.request.Refused`): ``invalid_request``;
- an OAuth error: Authlib's status, body and headers;
- anything else: :func:`tessera.server.errors.failure` (503 ``temporarily_unavailable`` while the database is
  away, otherwise 500 ``server_error``, the detail logged and never sent).

Every JSON answer of a machine route carries ``Cache-Control: no-store`` unless its handler says otherwise.
"""

import dataclasses
import enum
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from authlib.oauth2 import OAuth2Error

from tessera.server.errors import JSON_NO_STORE, error_body, failure
from tessera.server.handlers import Handler, Machine
from tessera.server.request import HttpRequest, Refused

__all__ = ["Answer", "Front", "MachineRoute", "Runs", "json_answer", "log_request", "status_line"]

_access_log = logging.getLogger("tessera.access")
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def status_line(status: int) -> str:
    return _STATUS_LINES.get(status, f"{status} Error")


def log_request(method: str, path: str, status: int, started: float, client_id: str | None) -> None:
    """The one access line per request, machine route or page alike; never a token, a secret or a query."""
    if _access_log.isEnabledFor(logging.INFO):
        _access_log.info(
            "request method=%s path=%s status=%d duration_ms=%.2f client_id=%s",
            method,
            path,
            status,
            (time.perf_counter() - started) * 1000,
            client_id or "-",
        )


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


class Front:
    """The machine routes of the request map, and the pages behind them."""

    def __init__(self, machine: Machine, routes: Iterable[MachineRoute], pages: Callable[..., Iterable[bytes]]) -> None:
        self.machine = machine
        self.routes = {route.path: route for route in routes}
        #: the pages, as a WSGI application (the Flask app)
        self.pages = pages

    def route(self, path: str) -> MachineRoute | None:
        return self.routes.get(path)

    def answer(self, route: MachineRoute, request: HttpRequest) -> Answer:
        """Run ``route``'s handler on ``request``; never raises."""
        if request.method == "OPTIONS":
            return Answer(200, [("Allow", route.allow)], b"")
        head = request.method == "HEAD" and "GET" in route.methods
        if request.method not in route.methods and not head:
            refused = Refused(405, "The method is not allowed for the requested URL.", [("Allow", route.allow)])
            return json_answer(refused.status, error_body("invalid_request", refused.description), refused.headers)
        try:
            status, body, headers = route.handler(self.machine, request)
        except Refused as refused:
            status, body, headers = refused.status, error_body("invalid_request", refused.description), refused.headers
        except OAuth2Error as error:
            status, body, headers = error()
        except Exception as exc:
            failed = failure(exc, request.method, request.path)
            status, body, headers = failed.status, error_body(failed.error, failed.description), list(failed.headers)
        answer = json_answer(status, body, headers)
        return Answer(answer.status, answer.headers, b"") if head else answer


def json_answer(status: int, body: Any, headers: Sequence[tuple[str, str]]) -> Answer:
    """``body`` (a dict, as JSON; or bytes as they are) with its length, and ``no-store`` unless ``headers`` say
    otherwise."""
    data: bytes = json.dumps(body, separators=(",", ":")).encode() if isinstance(body, dict) else (body or b"")
    names = {name.lower() for name, _ in headers}
    extra = [h for h in JSON_NO_STORE if h[0].lower() not in names] if data else []
    return Answer(status, [*headers, *extra, ("Content-Length", str(len(data)))], data)
