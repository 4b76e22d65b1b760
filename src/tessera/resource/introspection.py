"""The introspection token source: ask the authorization server about each token, RFC 7662.

    >>> source = IntrospectionSource("https://auth.example.com", client_id="billing-api", client_secret="tsr_cs_...")
    ... # doctest: +SKIP

The resource server is a client registered with ``tessera clients create ... --introspect`` and authenticates
with ``client_secret_basic`` (RFC 6749 §2.3.1: id and secret form-encoded, then Base64). The introspection
endpoint is discovered from the issuer's metadata (RFC 8414, whose ``issuer`` must match, §3.3) on first use, or
given as ``endpoint=``. Connections are kept alive between lookups: one per thread, made with the standard
library's :mod:`http.client` (a lookup then costs the API about a third of the CPU that :class:`httpx.Client`'s
request and response models take, which were most of an uncached call), with httpx's TLS settings (its CA bundle,
``SSL_CERT_FILE``, ``SSL_CERT_DIR``), and no proxy, as before. With a ``transport`` (tests), lookups go through
:class:`httpx.Client` and it; the metadata request always does.

It fails closed. A connection error, a timeout (``timeout`` seconds, 2 by default), an HTTP status other than
200, an answer that is not the JSON RFC 7662 §2.2 describes, or one missing ``exp``, ``client_id``, ``sub`` or
``scope``: each raises :class:`~tessera.resource.errors.ServerUnavailable` (HTTP 503), never a pass. So does a
401 from the server (wrong client credentials), which is a configuration error that retrying will not fix, but
which must not let requests through either. Expiry is checked locally as well, from ``exp``.

The token's audience is read from ``aud``, which RFC 7662 §2.2 allows as a string or an array of strings; an
answer without it is a token with no audience, and any other value (a number, ``null``, an array holding anything
but strings) makes the answer malformed, and so a 503: guessing what it meant could let a token through to an API
it was not issued for.

The key a DPoP-bound token is bound to is read from ``cnf.jkt`` (RFC 9449 §6.2); a ``cnf`` that is not an object,
or whose ``jkt`` is not a string, makes the answer malformed (503) for the same reason.
"""

import base64
import http.client
import json
import logging
import os
import threading
from typing import Any, TypeGuard
from urllib.parse import quote, urlencode, urlsplit

import httpx

from tessera.resource.core import AccessToken
from tessera.resource.errors import ServerUnavailable

__all__ = ["IntrospectionSource"]

log = logging.getLogger("tessera.resource")

_METADATA_PATH = "/.well-known/oauth-authorization-server"


def _basic(client_id: str, client_secret: str) -> str:
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _thumbprint(body: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether ``cnf`` is well formed, and ``cnf.jkt`` (``None`` when the token is not bound)."""
    if "cnf" not in body:
        return True, None
    cnf = body["cnf"]
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return isinstance(jkt, str), jkt if isinstance(jkt, str) else None


def _audience(body: dict[str, Any]) -> tuple[str, ...] | None:
    """``aud`` as a tuple: empty when absent; ``None`` when it is neither a string nor an array of strings."""
    if "aud" not in body:
        return ()
    aud = body["aud"]
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and all(isinstance(uri, str) for uri in aud):
        return tuple(aud)
    return None


class _RequestFailed(Exception):
    """A request got no HTTP answer; the message names how, as httpx's exception names do."""


class _Closed(_RequestFailed):
    """The connection was closed before an answer came (the server may have closed it while it was idle)."""


class _Connections:
    """Kept-alive HTTP/1.1 connections to one URL, one per thread (and per process: a connection made before a
    fork is left to the parent), for ``POST`` requests."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._connect_timeout = min(timeout, 1.0)
        self._tls = httpx.create_ssl_context() if self._https else None
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The status and body of the answer; :class:`_RequestFailed` without one. A kept-alive connection that
        the server has closed meanwhile is replaced, and the request sent once more on the new one."""
        kept: tuple[int, http.client.HTTPConnection] | None = getattr(self._local, "connection", None)
        if kept is not None and kept[0] == os.getpid():
            try:
                return self._exchange(kept[1], body, headers)
            except _Closed:
                pass  # closed by the server while idle (or just then): once more, on a new connection
        try:
            return self._exchange(self._connect(), body, headers)
        except _Closed as exc:
            raise _RequestFailed(str(exc)) from None

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout)
        try:
            connection.connect()
        except TimeoutError:
            raise _RequestFailed("ConnectTimeout") from None
        except OSError:
            raise _RequestFailed("ConnectError") from None
        assert connection.sock is not None
        connection.sock.settimeout(self._timeout)
        self._local.connection = (os.getpid(), connection)
        with self._lock:
            self._open.add(connection)
        return connection

    def _exchange(
        self, connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        try:
            connection.request("POST", self._target, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        except TimeoutError:
            self._drop(connection)
            raise _RequestFailed("ReadTimeout") from None
        except (ConnectionError, http.client.BadStatusLine) as exc:
            self._drop(connection)
            raise _Closed(type(exc).__name__) from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop(connection)
            raise _RequestFailed(type(exc).__name__) from None
        if response.will_close:
            self._drop(connection)
        return response.status, content

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        self._local.connection = None
        connection.close()
        with self._lock:
            self._open.discard(connection)

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()


class IntrospectionSource:
    """A :class:`~tessera.resource.core.TokenSource` that asks the authorization server (RFC 7662).

    ``transport`` replaces the network, e.g. ``httpx.WSGITransport(app=...)`` in tests.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        endpoint: str | None = None,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._endpoint = endpoint
        self._authorization = _basic(client_id, client_secret)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
            transport=transport or httpx.HTTPTransport(retries=1),
            headers={"Accept": "application/json"},
        )
        self._timeout = timeout
        self._discovery = threading.Lock()
        self._failing = False
        self._connections: _Connections | None = None
        self._direct = transport is None  # lookups over the standard library's connections (see the module)
        self._headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }

    @property
    def endpoint(self) -> str:
        """The introspection endpoint, discovered from the metadata on first use."""
        if self._endpoint is None:
            with self._discovery:
                if self._endpoint is None:
                    self._endpoint = self._discover()
        return self._endpoint

    def lookup(self, token: str, token_digest: str) -> AccessToken | None:
        body = urlencode({"token": token, "token_type_hint": "access_token"}).encode("ascii")
        try:
            status, content = self._post(body)
        except _RequestFailed as exc:
            raise self._unavailable(f"introspection request failed: {exc}") from exc
        if status != 200:
            raise self._unavailable(f"introspection answered HTTP {status}")
        found = self._read_answer(self._json(content, "introspection"), token_digest)
        if self._failing:
            log.info("introspection: the authorization server answers again")
            self._failing = False
        return found

    def _post(self, body: bytes) -> tuple[int, bytes]:
        endpoint = self.endpoint
        if self._direct and self._connections is None:
            with self._discovery:
                if self._connections is None:
                    self._connections = _Connections(endpoint, self._timeout)
        if self._connections is not None:
            return self._connections.post(body, self._headers)
        try:
            response = self._http.post(endpoint, content=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise _RequestFailed(type(exc).__name__) from exc
        return response.status_code, response.content

    def close(self) -> None:
        """Close the kept-alive connections."""
        if self._connections is not None:
            self._connections.close()
        self._http.close()

    def _discover(self) -> str:
        try:
            response = self._http.get(self.issuer + _METADATA_PATH)
        except httpx.HTTPError as exc:
            raise self._unavailable(f"metadata request failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise self._unavailable(f"metadata answered HTTP {response.status_code}")
        metadata = self._json(response.content, "the metadata")
        if not isinstance(metadata, dict) or metadata.get("issuer") != self.issuer:
            raise self._unavailable("metadata does not name this issuer (RFC 8414 §3.3)")
        endpoint = metadata.get("introspection_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise self._unavailable("metadata has no introspection_endpoint")
        return endpoint

    def _json(self, content: bytes, what: str) -> Any:
        try:
            return json.loads(content)
        except ValueError:
            raise self._unavailable(f"{what} did not answer JSON") from None

    def _read_answer(self, body: Any, token_digest: str) -> AccessToken | None:
        if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
            raise self._unavailable("introspection answer has no boolean 'active' (RFC 7662 §2.2)")
        if not body["active"]:
            return None
        exp, client_id, sub, scope = body.get("exp"), body.get("client_id"), body.get("sub"), body.get("scope")
        username = body.get("username")
        if not (
            _is_int(exp)
            and isinstance(client_id, str)
            and isinstance(sub, str)
            and isinstance(scope, str)
            and (username is None or isinstance(username, str))
        ):
            raise self._unavailable("introspection answer lacks exp, client_id, sub or scope")
        audience = _audience(body)
        if audience is None:
            raise self._unavailable("introspection answer has an 'aud' that is neither a string nor strings")
        well_formed, jkt = _thumbprint(body)
        if not well_formed:
            raise self._unavailable("introspection answer has a 'cnf' without a string 'jkt'")
        return AccessToken(sub, username, client_id, scope, exp, token_digest, audience, jkt)

    def _unavailable(self, detail: str) -> ServerUnavailable:
        # warn once per outage, not once per request
        if not self._failing:
            log.warning("introspection: %s; answering 503 until it is back", detail)
        self._failing = True
        return ServerUnavailable(detail)
