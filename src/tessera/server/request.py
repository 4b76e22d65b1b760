"""Requests to the machine endpoints, independent of the HTTP server that read them.

The WSGI adapter (:mod:`tessera.server.wsgi`, tests and embedding) and the RSGI adapter (:mod:`tessera.server.rsgi`,
``tessera serve``) both read the request line, the headers and the whole body, and hand an :class:`HttpRequest`
to :class:`~tessera.server.front.Front`. For the OAuth endpoints, :meth:`HttpRequest.oauth` turns it into the
framework-neutral request Authlib's endpoints and grants take, exactly as Authlib's Flask integration builds one
from Flask's request, after the checks Flask used to make:

POST only (405 with ``Allow``), ``application/x-www-form-urlencoded`` only, nothing in the query string
(RFC 6749 §3.2: credentials in URLs end up in logs), no repeated parameter (RFC 6749 §3.2), a body of at most
:data:`MAX_BODY` bytes (413) that is UTF-8, and no control character in any parameter's name or value
(:mod:`tessera.server.characters`).
"""

import dataclasses
import functools
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from authlib.common.security import is_secure_transport
from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from tessera.server.characters import has_control

__all__ = ["MAX_BODY", "HttpRequest", "MachineRequest", "Refused", "Reply", "declared_length"]

#: the largest request body accepted, in bytes (RFC 6749 requests are a few hundred; sign-in forms less)
MAX_BODY = 64 * 1024

#: what a handler answers: status, a JSON-able dict (or bytes), and headers
Reply = tuple[int, Any, list[tuple[str, str]]]

_FORM = "application/x-www-form-urlencoded"


class Refused(Exception):
    """A request refused before any endpoint sees it: answered ``invalid_request`` with ``status``."""

    def __init__(self, status: int, description: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or []


def declared_length(value: str | None) -> int | None:
    """The ``Content-Length`` a request declares, or None; :class:`Refused` if it is not a number or too big."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):  # int() takes "-1", "+5", "1_0", "٢٩"
        raise Refused(400, "The Content-Length header is not a number.")
    length = int(value)
    if length > MAX_BODY:
        raise Refused(413, "The request body is too large.")
    return length


class MachineRequest(OAuth2Request):
    """Authlib's request, from the headers and the parsed form; the query string is always empty.

    It sets what ``OAuth2Request.__init__`` sets (a test compares the two) without calling it: that method checks
    the URI's transport on every request (``InsecureTransportError``, a URL split and an IP address parsed, 8 µs),
    and the URI is always the issuer's URL of a machine path, so its verdict is kept per URI
    (:func:`_check_transport`)."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], form: dict[str, str]) -> None:
        _check_transport(uri)
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self._form = form
        self.payload = BasicOAuth2Payload(form)
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


def _check_transport(uri: str) -> None:
    """Authlib's ``InsecureTransportError.check``: refused unless over https, to a loopback address, or with
    ``AUTHLIB_INSECURE_TRANSPORT`` set (read on every call, as Authlib reads it)."""
    if not os.getenv("AUTHLIB_INSECURE_TRANSPORT") and not _secure(uri):
        raise InsecureTransportError()


@functools.lru_cache(maxsize=64)
def _secure(uri: str) -> bool:
    # called only while AUTHLIB_INSECURE_TRANSPORT is unset, so a function of the URI alone
    return bool(is_secure_transport(uri))


@dataclasses.dataclass(slots=True)
class HttpRequest:
    """One request as read off the wire: header names in lower case, the whole body."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    remote_addr: str | None = None
    #: this request's id (:mod:`tessera.server.requestid`), also in the response's ``X-Request-Id``
    request_id: str = ""
    _oauth: MachineRequest | None = dataclasses.field(default=None, repr=False)

    def oauth(self, issuer: str) -> MachineRequest:
        """This request as Authlib's; :class:`Refused` unless it is a form POST without a query string."""
        if self._oauth is None:
            if self.method != "POST":
                raise Refused(405, "The method is not allowed for the requested URL.", [("Allow", "OPTIONS, POST")])
            if self.headers.get("content-type", "").split(";", 1)[0].strip().lower() != _FORM:
                raise Refused(400, "The body must be application/x-www-form-urlencoded (RFC 6749 §3.2).")
            if self.query:
                raise Refused(400, "Send parameters in the request body, not in the URL.")
            headers = {"Content-Type": _FORM}
            authorization = self.headers.get("authorization")
            if authorization is not None:
                headers["Authorization"] = authorization
            proof = self.headers.get("dpop")
            if proof is not None:  # RFC 9449: checked by the grants (tessera.server.dpop)
                headers["DPoP"] = proof
            # the endpoint's URL as the issuer names it, never as a Host header claims it
            self._oauth = MachineRequest(self.method, issuer + self.path, headers, _form(self.body))
        return self._oauth

    def client_address(self, trusted_proxies: int) -> str | None:
        """The client's address as the pages see it behind ``trusted_proxies`` proxies (``TESSERA_TRUSTED_PROXIES``,
        as werkzeug's ``ProxyFix(x_for=n)``: ``X-Forwarded-For``'s n-th entry from the right, the address the
        outermost trusted proxy saw); without them, or with fewer entries, the peer's, so that a client cannot
        pick its own address when no proxy is trusted."""
        if trusted_proxies:
            forwarded = [v.strip() for v in self.headers.get("x-forwarded-for", "").split(",") if v.strip()]
            if len(forwarded) >= trusted_proxies:
                return forwarded[-trusted_proxies]
        return self.remote_addr

    @property
    def client_id(self) -> str | None:
        """The client that authenticated, once an endpoint has authenticated one."""
        client = None if self._oauth is None else self._oauth.client
        return None if client is None else client.client_id


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise Refused(400, "The request body is not UTF-8.") from None
    pairs = parse_qsl(text, keep_blank_values=True, errors="replace")
    if not has_control("".join(name + value for name, value in pairs)):  # one search; which one, only if any
        form = dict(pairs)
        if len(form) == len(pairs):
            return form
    form = {}
    for name, value in pairs:
        if has_control(name):
            raise Refused(400, "A parameter's name holds a control character.")
        if name in form:
            raise Refused(400, f"Parameter '{name}' is repeated.")
        if has_control(value):
            raise Refused(400, f"Parameter '{name}' holds a control character.")
        form[name] = value
    return form
