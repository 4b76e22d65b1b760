"""The endpoints machines call (token, introspection, revocation) as a thin WSGI adapter in front of Flask.

These are the hot paths: every client pays for the token endpoint and every API call for introspection. Flask's
request machinery (request and app contexts, URL map, session, hooks, ``Response``) cost more than the OAuth work
itself: a trivial Flask endpoint takes about 130 µs of CPU per request here, an introspection about 550 µs in all,
the same introspection through this adapter about 220 µs (``bench/run.sh inproc``, SQLite). The protocol is still
Authlib's, unchanged: its endpoints and grants take a framework-neutral :class:`OAuth2Request`, which this module
builds straight from the WSGI environ, exactly as its Flask integration builds one from Flask's request.
Everything else (pages, ``/authorize``, metadata, health checks) is served by the Flask app behind it.

What Flask did for these paths and this module now does, covered by ``tests/server/test_bad_input.py`` and
``test_machine.py``:
POST only (405 with ``Allow``), ``application/x-www-form-urlencoded`` only, nothing in the query string
(RFC 6749 §3.2, credentials in URLs end up in logs), no repeated parameter (RFC 6749 §3.2), a 64 KiB body limit
(413), OAuth errors as JSON with ``no-store``, a 503 ``temporarily_unavailable`` when the database is away, and
one access line per request.
"""

import json
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from tessera.errors import StoreError, StoreUnavailable
from tessera.server.authorization import AuthorizationServer

__all__ = ["DATABASE_AWAY", "MAX_BODY", "MachineEndpoints", "log_request"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_Reply = tuple[int, Any, list[tuple[str, str]]]

#: what a client is told while the database cannot be reached (503 ``temporarily_unavailable``)
DATABASE_AWAY = "The server cannot reach its database; try again shortly."
#: the largest request body accepted, in bytes (RFC 6749 requests are a few hundred)
MAX_BODY = 64 * 1024

_access_log = logging.getLogger("tessera.access")
_log = logging.getLogger("tessera")

_FORM = "application/x-www-form-urlencoded"
_JSON_NO_STORE = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def log_request(method: str, path: str, status: int, started: float, client_id: str | None) -> None:
    """The one access line per request, for this adapter and the Flask app alike; never a token or secret."""
    if _access_log.isEnabledFor(logging.INFO):
        _access_log.info(
            "request method=%s path=%s status=%d duration_ms=%.2f client_id=%s",
            method,
            path,
            status,
            (time.perf_counter() - started) * 1000,
            client_id or "-",
        )


class MachineRequest(OAuth2Request):
    """Authlib's request, from the WSGI environ and the parsed form; the query string is always empty."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], form: dict[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class _Refused(Exception):
    """A request refused before Authlib sees it."""

    def __init__(self, status: int, description: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or []


class MachineEndpoints:
    """WSGI middleware: answers the token, introspection and revocation paths, hands every other request to
    ``pages`` (the Flask app)."""

    def __init__(self, server: AuthorizationServer, paths: dict[str, str], pages: WSGIApp) -> None:
        self.server = server
        self.pages = pages
        self.routes: dict[str, Callable[[MachineRequest], _Reply]] = {
            paths["token"]: self._token,
            paths["introspection"]: server.introspection,
            paths["revocation"]: server.revocation,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        handler = self.routes.get(path)
        if handler is None:
            return self.pages(environ, start_response)
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":  # what Flask answered for a POST-only route
            log_request(method, path, 200, started, None)
            return _respond(start_response, 200, b"", [("Allow", "OPTIONS, POST")])
        request: MachineRequest | None = None
        try:
            request = _request(environ, method, path)
            status, body, headers = handler(request)
        except _Refused as refused:
            status, body, headers = refused.status, _error("invalid_request", refused.description), refused.headers
        except OAuth2Error as error:
            status, body, headers = error(self.server.get_error_uri(request, error))
        except StoreUnavailable as exc:
            _log.warning("storage error on %s %s: %s", method, path, exc)
            status, body, headers = 503, _error("temporarily_unavailable", DATABASE_AWAY), [("Retry-After", "1")]
        except StoreError as exc:
            _log.warning("storage error on %s %s: %s", method, path, exc)
            status, body, headers = 500, _error("server_error", "The server is not set up correctly."), []
        except Exception:
            _log.exception("unexpected error on %s %s", method, path)
            status, body, headers = 500, _error("server_error", "An unexpected error occurred."), []
        client = request.client if request is not None else None
        log_request(method, path, status, started, client.client_id if client is not None else None)
        return _respond(start_response, status, body, headers)

    def _token(self, request: MachineRequest) -> _Reply:
        # what Authlib's create_token_response does, minus turning the result into a framework response
        grant = self.server.get_token_grant(request)
        grant.validate_token_request()
        return grant.create_token_response()


def _request(environ: dict[str, Any], method: str, path: str) -> MachineRequest:
    if method != "POST":
        raise _Refused(405, "The method is not allowed for the requested URL.", [("Allow", "OPTIONS, POST")])
    if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != _FORM:
        raise _Refused(400, "The body must be application/x-www-form-urlencoded (RFC 6749 §3.2).")
    if environ.get("QUERY_STRING"):
        raise _Refused(400, "Send parameters in the request body, not in the URL.")
    form: dict[str, str] = {}
    for name, value in parse_qsl(_body(environ), keep_blank_values=True, errors="replace"):
        if name in form:
            raise _Refused(400, f"Parameter '{name}' is repeated.")
        form[name] = value
    headers = {"Content-Type": _FORM}
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization is not None:
        headers["Authorization"] = authorization
    return MachineRequest(method, _url(environ, path), headers, form)


def _body(environ: dict[str, Any]) -> str:
    """The body as text, at most :data:`MAX_BODY` bytes: a longer one is 413, whether or not it says its length;
    one that says no length and that the server does not terminate is read as empty (as Werkzeug does)."""
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH", "").strip()
    if declared and not (declared.isascii() and declared.isdigit()):  # int() takes "-1", "+5", "1_0", "٢٩"
        raise _Refused(400, "The Content-Length header is not a number.")
    if declared and int(declared) > MAX_BODY:
        raise _Refused(413, "The request body is too large.")
    if declared:
        data = stream.read(int(declared))
    elif environ.get("wsgi.input_terminated"):
        data = stream.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise _Refused(413, "The request body is too large.")
    else:
        data = b""
    try:
        return data.decode()  # type: ignore[no-any-return]
    except UnicodeDecodeError:
        raise _Refused(400, "The request body is not UTF-8.") from None


def _url(environ: dict[str, Any], path: str) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{path}"


def _error(error: str, description: str) -> dict[str, str]:
    return {"error": error, "error_description": description}


def _respond(start_response: StartResponse, status: int, body: Any, headers: list[tuple[str, str]]) -> list[bytes]:
    data = json.dumps(body, separators=(",", ":")).encode() if isinstance(body, dict) else (body or b"")
    names = {name.lower() for name, _ in headers}
    extra = [h for h in _JSON_NO_STORE if h[0].lower() not in names] if data else []
    start_response(
        _STATUS_LINES.get(status, f"{status} Error"),
        [*headers, *extra, ("Content-Length", str(len(data)))],
    )
    return [data]
