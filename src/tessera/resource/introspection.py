"""The introspection token source: ask the authorization server about each token, RFC 7662.

    >>> source = IntrospectionSource("https://auth.example.com", client_id="billing-api", client_secret="tsr_cs_...")
    ... # doctest: +SKIP

The resource server is a client registered with ``tessera clients create ... --introspect`` and authenticates
with ``client_secret_basic`` (RFC 6749 §2.3.1: id and secret form-encoded, then Base64). The introspection
endpoint is discovered from the issuer's metadata (RFC 8414, whose ``issuer`` must match, §3.3) on first use, or
given as ``endpoint=``. One :class:`httpx.Client` is reused, so connections are kept alive between lookups.

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
import logging
import threading
from typing import Any, TypeGuard
from urllib.parse import quote

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
        self._discovery = threading.Lock()
        self._failing = False

    @property
    def endpoint(self) -> str:
        """The introspection endpoint, discovered from the metadata on first use."""
        if self._endpoint is None:
            with self._discovery:
                if self._endpoint is None:
                    self._endpoint = self._discover()
        return self._endpoint

    def lookup(self, token: str, token_digest: str) -> AccessToken | None:
        try:
            response = self._http.post(
                self.endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"Authorization": self._authorization},
            )
        except httpx.HTTPError as exc:
            raise self._unavailable(f"introspection request failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise self._unavailable(f"introspection answered HTTP {response.status_code}")
        found = self._read_answer(self._json(response), token_digest)
        if self._failing:
            log.info("introspection: the authorization server answers again")
            self._failing = False
        return found

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._http.close()

    def _discover(self) -> str:
        try:
            response = self._http.get(self.issuer + _METADATA_PATH)
        except httpx.HTTPError as exc:
            raise self._unavailable(f"metadata request failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise self._unavailable(f"metadata answered HTTP {response.status_code}")
        metadata = self._json(response)
        if not isinstance(metadata, dict) or metadata.get("issuer") != self.issuer:
            raise self._unavailable("metadata does not name this issuer (RFC 8414 §3.3)")
        endpoint = metadata.get("introspection_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise self._unavailable("metadata has no introspection_endpoint")
        return endpoint

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._unavailable(f"{response.request.url.path} did not answer JSON") from None

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
