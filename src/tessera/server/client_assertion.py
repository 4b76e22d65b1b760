"""The checks of a ``private_key_jwt`` client assertion (RFC 7523 §2.2, §3; OpenID Connect Core §9) on Authlib's
:class:`~authlib.oauth2.rfc7523.JWTBearerClientAssertion` and joserfc, with Tessera's rules (listed in
:mod:`tessera.server.client_keys`). Imported by the first assertion a client sends
(:class:`tessera.server.client_keys.PrivateKeyJWT`), with joserfc and ``cryptography``.
"""

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import Claims

from tessera.dpop import ALGORITHMS, LocalReplayCache, RedisReplayCache
from tessera.server.client_keys import JWKS_TTL, MAX_LIFETIME, PRIVATE_KEY_JWT, REFETCH_AFTER, JwksError

__all__ = ["ClientAssertion"]


@dataclasses.dataclass
class _Fetched:
    keys: KeySet
    fetched_at: float


class _ClientKeys(KeySet):
    """A client's keys, and which client they are (so that an unknown ``kid`` can fetch them again)."""

    client_id: str = ""
    jwks_uri: str | None = None


class ClientAssertion(JWTBearerClientAssertion):
    """Authlib's assertion checks, with Tessera's rules (see :mod:`tessera.server.client_keys`). ``audiences`` are
    the accepted ``aud`` values; ``fetch`` fetches a ``jwks_uri``; ``replay`` remembers the assertions' ``jti``."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(
        self,
        audiences: list[str],
        *,
        fetch: Callable[[str], dict[str, Any]],
        replay: LocalReplayCache | RedisReplayCache,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self._audiences = audiences
        self._fetch = fetch
        self._replay = replay
        self._clock = clock
        self._fetched: dict[str, _Fetched] = {}
        self._lock = threading.Lock()

    def __call__(self, query_client: Callable[[str], Any], request: Any) -> Any:
        try:
            return super().__call__(query_client, request)
        except InvalidClientError as exc:  # RFC 6749 §5.2: a client that failed to authenticate gets a 401
            raise InvalidClientError(status_code=401, description=exc.description) from None

    def get_audiences(self) -> list[str]:
        return self._audiences

    def verify_claims(self, claims: Claims) -> None:
        exp = claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool) and exp > self._clock() + MAX_LIFETIME + 30:
            raise InvalidClientError(description="The assertion's 'exp' is more than an hour ahead.")
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise InvalidClientError(description="The assertion has no 'jti'.")
        super().verify_claims(claims)

    def validate_jti(self, claims: Claims, jti: str) -> bool:
        key = f"pkj:{claims['sub']}:{jti}"
        return self._replay.first_use_of(key, MAX_LIFETIME + 60)

    def resolve_client_public_key(self, client: Any) -> KeySet:
        record = client.record
        if record.jwks is not None:
            keys = _ClientKeys.import_key_set(record.jwks)
        else:
            keys = self._from_uri(record.client_id, record.jwks_uri, refetch=False)
        keys.client_id, keys.jwks_uri = record.client_id, record.jwks_uri
        return keys

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Claims:
        header = self.extract_assertion(assertion)[0]
        if header.get("alg") not in ALGORITHMS:
            raise InvalidClientError(
                description="The assertion's 'alg' must be ES256 or RS256 (or another of its kin)."
            )
        keys = resolve_key
        kid = header.get("kid")
        if isinstance(keys, _ClientKeys) and keys.jwks_uri and kid and not any(k.kid == kid for k in keys.keys):
            keys = self._from_uri(keys.client_id, keys.jwks_uri, refetch=True)  # the client may have rotated
        try:
            token = jwt.decode(assertion, keys, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(
                description="The assertion's signature does not verify with the client's keys."
            ) from exc
        self.verify_claims(token.claims)
        return token.claims

    def _from_uri(self, client_id: str, uri: str | None, *, refetch: bool) -> _ClientKeys:
        if uri is None:
            raise InvalidClientError(description="The client has no keys registered.")
        now = self._clock()
        with self._lock:
            known = self._fetched.get(client_id)
        fresh = known is not None and now - known.fetched_at < JWKS_TTL
        if known is not None and (fresh and not refetch or refetch and now - known.fetched_at < REFETCH_AFTER):
            return _ClientKeys(list(known.keys.keys))
        try:
            keys = _ClientKeys.import_key_set(self._fetch(uri))  # type: ignore[arg-type]
        except JwksError as exc:
            if known is not None:  # keep using what was fetched last rather than lock the client out
                return _ClientKeys(list(known.keys.keys))
            raise InvalidClientError(description=f"The client's keys cannot be fetched: {exc}.") from None
        with self._lock:
            self._fetched[client_id] = _Fetched(keys, now)
        return keys
