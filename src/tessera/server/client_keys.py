"""Clients that authenticate with their own keys: ``private_key_jwt`` (RFC 7523 §2.2, OpenID Connect Core §9), on
Authlib's :class:`~authlib.oauth2.rfc7523.JWTBearerClientAssertion` (:mod:`tessera.server.client_assertion`, imported
with joserfc and ``cryptography`` by the first assertion a client sends: a server whose clients authenticate with
secrets never loads them).

The client signs a short JWT (the assertion) with a private key only it holds; the server checks it against the
public keys the client registered, as a JWKS (``tessera clients create --jwks-file``) or at a URL
(``--jwks-uri``). What Tessera adds to Authlib's checks:

* ``alg`` is one of :data:`ALGORITHMS` (never ``none``, never an HMAC: a public key is no shared secret);
* ``exp`` is at most an hour ahead (:data:`MAX_LIFETIME`), so that a remembered ``jti`` can be forgotten after it;
* a ``jti`` is required and accepted once per client: in Redis when ``TESSERA_REDIS_URL`` is set (every process
  refuses an assertion another one took), in the process otherwise or while Redis is away;
* ``aud`` is the issuer, or the token endpoint's URL (RFC 7523 §3 asks for the authorization server; OpenID
  Connect Core §9 for the token endpoint);
* every refusal is 401 ``invalid_client`` with one line saying why;
* a ``jwks_uri`` is fetched with bounds (:class:`JwksFetcher`, :mod:`tessera.server.fetch`), kept for
  :data:`JWKS_TTL` seconds, and fetched again when an assertion names a ``kid`` it does not hold, at most once a
  minute per client (:data:`REFETCH_AFTER`).
"""

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tessera.config import is_loopback
from tessera.dpop import ALGORITHMS, LocalReplayCache, RedisReplayCache
from tessera.server.fetch import BoundedFetcher, FetchError, Resolve, resolve

if TYPE_CHECKING:
    import httpx

    from tessera.server.client_assertion import ClientAssertion

__all__ = [
    "ALGORITHMS",
    "ASSERTION_TYPE",
    "JWKS_TTL",
    "MAX_JWKS",
    "MAX_LIFETIME",
    "PRIVATE_KEY_JWT",
    "REFETCH_AFTER",
    "JwksError",
    "JwksFetcher",
    "PrivateKeyJWT",
    "check_jwks",
    "check_jwks_uri",
]

#: the name of the method, in registrations and the metadata
PRIVATE_KEY_JWT = "private_key_jwt"
#: the longest an assertion may be valid for, in seconds
MAX_LIFETIME = 3600
#: how long a fetched key set is used before it is fetched again, in seconds
JWKS_TTL = 300
#: an unknown ``kid`` fetches the set again, but not sooner than this after the last fetch, in seconds
REFETCH_AFTER = 60
#: the largest key set accepted, in bytes, from a file or a URL
MAX_JWKS = 64 * 1024
#: ``client_assertion_type`` of a JWT assertion (RFC 7523 §2.2)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_MAX_KEYS = 20
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class JwksError(ValueError):
    """A key set that cannot be used: one line saying why."""


def check_jwks(value: object) -> dict[str, Any]:
    """``value`` if it is a JWKS of 1 to 20 public EC or RSA keys (RFC 7517 §5); :class:`JwksError` if not."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        raise JwksError('a JWKS is a JSON object with a non-empty "keys" array')
    if len(value["keys"]) > _MAX_KEYS:
        raise JwksError(f"a JWKS may hold at most {_MAX_KEYS} keys")
    for key in value["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("EC", "RSA"):
            raise JwksError("every key must be an EC or RSA public key")
        if _PRIVATE_MEMBERS & key.keys():
            raise JwksError("the JWKS holds a private key: register the public keys only")
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        KeySet.import_key_set(value)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise JwksError(f"the JWKS holds a key that cannot be read ({type(exc).__name__})") from None
    return value


def check_jwks_uri(uri: str, *, production: bool) -> str:
    """``uri`` if the server may fetch it: ``https://``, or ``http://`` on a loopback address outside production."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise JwksError("the jwks_uri is not a URL") from None
    if parts.fragment or parts.username is not None or not parts.hostname:
        raise JwksError("the jwks_uri must be an absolute URL without a user or fragment")
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http" and not production and is_loopback(parts.hostname):
        return uri
    raise JwksError("the jwks_uri must be https:// (http:// only on loopback, in development)")


class JwksFetcher:
    """Fetches a client's key set with :class:`~tessera.server.fetch.BoundedFetcher`: at most :data:`MAX_JWKS`
    bytes, within ``timeout`` seconds, no redirect; in production, never from a private, loopback or link-local
    address, and the connection goes to the address that was checked. ``transport`` and ``resolve`` replace the
    network in tests."""

    def __init__(
        self,
        *,
        production: bool,
        timeout: float = 2.0,
        transport: "httpx.BaseTransport | None" = None,
        resolve: Resolve = resolve,
    ) -> None:
        self._production = production
        self._fetcher = BoundedFetcher(refuse_private=production, timeout=timeout, transport=transport, resolve=resolve)

    def __call__(self, uri: str) -> dict[str, Any]:
        check_jwks_uri(uri, production=self._production)
        try:
            body = self._fetcher.get(uri, max_bytes=MAX_JWKS, what="the jwks_uri").body
        except FetchError as exc:
            raise JwksError(str(exc)) from None
        try:
            return check_jwks(json.loads(body))
        except ValueError as exc:
            raise JwksError(f"the jwks_uri did not answer a usable JWKS: {exc}") from None

    def close(self) -> None:
        self._fetcher.close()


class PrivateKeyJWT:
    """The ``private_key_jwt`` client authentication method, as Authlib calls it: ``(query_client, request)`` in,
    the client out, or ``None`` when the request carries no JWT assertion. The checks are
    :class:`~tessera.server.client_assertion.ClientAssertion`'s, made (and joserfc imported) with the first
    assertion. ``audiences`` are the accepted ``aud`` values; ``fetch`` fetches a ``jwks_uri``; ``replay``
    remembers the assertions' ``jti`` values."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(
        self,
        audiences: list[str],
        *,
        fetch: Callable[[str], dict[str, Any]],
        replay: LocalReplayCache | RedisReplayCache,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._audiences = audiences
        self._fetch = fetch
        self._replay = replay
        self._clock = clock
        self._made: ClientAssertion | None = None
        self._lock = threading.Lock()

    def __call__(self, query_client: Callable[[str], Any], request: Any) -> Any:
        # Authlib asks every method the endpoint allows, in turn: a request without an assertion is not this one's
        if request.form.get("client_assertion_type") != ASSERTION_TYPE or not request.form.get("client_assertion"):
            return None
        return self._checks()(query_client, request)

    def _checks(self) -> "ClientAssertion":
        with self._lock:
            if self._made is None:
                from tessera.server.client_assertion import ClientAssertion

                self._made = ClientAssertion(self._audiences, fetch=self._fetch, replay=self._replay, clock=self._clock)
            return self._made
