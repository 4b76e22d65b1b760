"""The framework-free validator: an ``Authorization`` header and the scopes a resource needs in, an
:class:`AccessToken` or a :class:`~tessera.resource.errors.TokenError` out.

    >>> validator = TokenValidator(TokenCache(LocalSource.from_url("sqlite:///tessera.db")))  # doctest: +SKIP
    >>> validator.validate("Bearer tsr_at_...", ("api",))                                      # doctest: +SKIP
    AccessToken(subject='q3Jx0v7Tb5rR1n2LwQyV4A', username='alice', client_id='...', scope='api', ...)

The order is the cost order: header syntax and the token's checksum first (garbage is refused with no I/O
and never reaches the cache or the source), then the digest, then the source (usually a
:class:`~tessera.resource.cache.TokenCache` in front of a local or an introspection source), then expiry,
checked here as well whatever the source said, then the audience, then the scopes, every one of which must be
granted.

With ``audience="https://api.example/"`` the validator accepts only tokens issued for that resource (RFC 8707): one
whose ``aud`` does not contain it, or that has none, is refused with 401 ``invalid_token``, so a token obtained for
another API cannot be replayed here (audience confusion). Audiences are compared exactly, as strings, but for an
empty path (:mod:`tessera.resource.uris`). The check is a lookup in the token's audience tuple, which a cached
entry keeps; it is made on every validation, cached or not, so validators of different audiences may share a cache.

DPoP (RFC 9449 §7): ``Authorization: DPoP <token>`` with a ``DPoP`` proof header is accepted when the proof is
good for this request (the adapters pass its method and URL; :func:`tessera.dpop.check_proof` checks ``htm``,
``htu``, ``iat``, the signature and ``ath``, the hash of this token) and its key is the one the token is bound to
(``cnf.jkt``), and its ``jti`` was not seen before (``replay``: this process's memory by default, a
:class:`~tessera.dpop.RedisReplayCache` to share it between every process of an API). A token bound to a key is
refused as a bearer token (a stolen DPoP token is worth nothing without the key), and so is a token that is not
bound when sent as DPoP. With ``require_dpop=True`` bearer tokens are refused altogether. The proof is checked
before the token is looked up, with no I/O, and its ``jti`` recorded last, once everything else passed. Refusals
that concern DPoP carry a ``DPoP`` challenge with the accepted algorithms.
"""

import dataclasses
import enum
import time
from collections.abc import Callable, Iterable
from typing import Final, Literal, Protocol, runtime_checkable

from tessera.dpop import (
    ALGORITHMS,
    BOUND,
    BindingError,
    LocalReplayCache,
    Proof,
    ProofError,
    ReplayCache,
    check_binding,
    presented_proof,
)
from tessera.resource.errors import (
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    MissingToken,
    TokenError,
    check_realm,
)
from tessera.resource.uris import check_audience, normal_resource
from tessera.tokens import MalformedToken, TokenKind, digest, parse

__all__ = ["MISS", "AccessToken", "TokenSource", "TokenValidator"]

_UNUSABLE = "The access token is invalid, expired or revoked."
# told apart from the above (see InvalidToken): the token is good, only not for this API
_ELSEWHERE = "The access token was not issued for this resource."
_BEARER_REFUSED = "This resource requires DPoP: send the token with the DPoP scheme and a proof."
_SCOPES: dict[str, tuple[str, frozenset[str]]] = {}
_CLIENT_IDS: dict[str, str] = {}
_AUDIENCES: dict[tuple[str, ...], tuple[str, ...]] = {}
_SHARED_MAX = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class AccessToken:
    """A validated access token, as a view sees it. It holds the token's digest, never the token.

    ``subject`` is the user's subject (a random identifier that is never reassigned, the ``sub`` of the user's ID
    tokens) for a user's token and the client's id for a client-credentials token (the
    ``sub`` of introspection); ``username`` is ``None`` for the latter. ``scope`` is the granted scope string;
    ``scopes`` the same as a set. ``audience`` holds the resources the token was issued for (``aud``, RFC 8707),
    each with ``/`` for an empty path (:func:`~tessera.resource.uris.normal_resource`); empty when it has none.
    ``jkt`` is the thumbprint of the DPoP key the token is bound to (``cnf.jkt``, RFC 9449 §6), or ``None``.
    """

    subject: str
    username: str | None
    client_id: str
    scope: str
    expires_at: int
    digest: str = dataclasses.field(repr=False)
    audience: tuple[str, ...] = ()
    jkt: str | None = None
    scopes: frozenset[str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A cache holds many tokens but few distinct clients and scopes: share one string and one set per value
        # (bench/resource_cache_memory.py: 622 -> 420 bytes per entry at 100,000 cached tokens)
        scope = _SCOPES.get(self.scope)
        if scope is None:
            scope = (self.scope, frozenset(self.scope.split()))
            if len(_SCOPES) < _SHARED_MAX:
                _SCOPES[self.scope] = scope
        object.__setattr__(self, "scope", scope[0])
        object.__setattr__(self, "scopes", scope[1])
        if len(_CLIENT_IDS) < _SHARED_MAX or self.client_id in _CLIENT_IDS:
            object.__setattr__(self, "client_id", _CLIENT_IDS.setdefault(self.client_id, self.client_id))
        if self.audience:
            # normalised once, when the token is read, so that the check on each validation compares strings only
            raw = (self.audience,) if isinstance(self.audience, str) else tuple(self.audience)
            audience = _AUDIENCES.get(raw)
            if audience is None:
                audience = tuple(normal_resource(uri) for uri in raw)
                if len(_AUDIENCES) < _SHARED_MAX:
                    _AUDIENCES[raw] = audience
            object.__setattr__(self, "audience", audience)


class TokenSource(Protocol):
    """Where the validator learns what a token is worth: :class:`~tessera.resource.local.LocalSource`,
    :class:`~tessera.resource.introspection.IntrospectionSource`, or a
    :class:`~tessera.resource.cache.TokenCache` in front of either.

    ``lookup`` gets a token that passed the checksum and its digest, and returns the active token or ``None``
    (unknown, expired, revoked). It raises :class:`~tessera.resource.errors.ServerUnavailable` when it cannot
    tell; it must never guess.
    """

    def lookup(self, token: str, token_digest: str) -> AccessToken | None: ...


class _Miss(enum.Enum):
    MISS = "miss"


#: what a cache answers when it does not know a token (``None`` is its cached "not active")
MISS: Final = _Miss.MISS


@runtime_checkable
class _Cached(Protocol):
    def cached(self, token_digest: str) -> AccessToken | None | Literal[_Miss.MISS]: ...


class TokenValidator:
    """Validates bearer tokens against a :class:`TokenSource`. Thread-safe; build one per process.

    ``realm`` goes into every ``WWW-Authenticate`` challenge; ``audience``, the URI of this API, makes it accept
    only tokens issued for it (see the module's docstring); ``require_dpop`` refuses bearer tokens; ``replay``
    remembers DPoP proofs (this process's memory unless given); ``clock`` (seconds since the epoch) is for tests.
    """

    def __init__(
        self,
        source: TokenSource,
        *,
        realm: str | None = None,
        audience: str | None = None,
        require_dpop: bool = False,
        replay: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.realm = check_realm(realm)
        self.audience = None if audience is None else check_audience(audience)
        self._audience = None if audience is None else normal_resource(audience)
        self.require_dpop = require_dpop
        self.replay: ReplayCache = LocalReplayCache() if replay is None else replay
        #: what a DPoP challenge lists as ``algs``
        self.dpop_algs = " ".join(ALGORITHMS)
        # a proof's jti is checked on the event loop only where that costs no I/O
        self._replay_in_memory = isinstance(self.replay, LocalReplayCache)
        self._clock = clock
        self._cached = source if isinstance(source, _Cached) else None

    def validate(
        self,
        authorization: str | None,
        scopes: Iterable[str] = (),
        *,
        dpop: str | None = None,
        method: str = "GET",
        url: str | None = None,
    ) -> AccessToken:
        """The token in ``authorization`` (the header's value) if it is active and grants every scope in ``scopes``.

        ``dpop`` is the request's ``DPoP`` header, ``method`` and ``url`` the request's, which a DPoP proof must
        name (the adapters pass all three).

        Raises :class:`~tessera.resource.errors.InvalidToken` (401, also for a token of another audience), its subclass
        :class:`~tessera.resource.errors.MissingToken` when there is no token at all,
        :class:`~tessera.resource.errors.InvalidDPoPProof` (401) for a DPoP proof that does not hold,
        :class:`~tessera.resource.errors.InsufficientScope` (403), or
        :class:`~tessera.resource.errors.ServerUnavailable` (503) when the source cannot answer.
        """
        scheme_is_dpop = False
        try:
            scheme_is_dpop, token, token_digest = self._read(authorization)
            proof = self._proof(scheme_is_dpop, token, dpop, method, url)
            return self._check(self.source.lookup(token, token_digest), scopes, proof)
        except TokenError as exc:
            raise self._challenged(exc, scheme_is_dpop) from None

    def validate_cached(
        self,
        authorization: str | None,
        scopes: Iterable[str] = (),
        *,
        dpop: str | None = None,
        method: str = "GET",
        url: str | None = None,
    ) -> AccessToken | None:
        """Like :meth:`validate` but never does I/O: ``None`` means the answer needs the source (or, for a DPoP
        proof, a replay cache that is not in memory).

        For async adapters: a cache hit is answered on the event loop, and only a miss goes to a thread.
        """
        scheme_is_dpop = False
        try:
            scheme_is_dpop, token, token_digest = self._read(authorization)
            if self._cached is None or (scheme_is_dpop and not self._replay_in_memory):
                return None
            hit = self._cached.cached(token_digest)
            if hit is MISS:
                return None
            return self._check(hit, scopes, self._proof(scheme_is_dpop, token, dpop, method, url))
        except TokenError as exc:
            raise self._challenged(exc, scheme_is_dpop) from None

    def _challenged(self, exc: TokenError, scheme_is_dpop: bool) -> TokenError:
        """``exc`` with a DPoP challenge when the refusal concerns DPoP."""
        if scheme_is_dpop or self.require_dpop or isinstance(exc, InvalidDPoPProof) or exc.description == BOUND:
            exc.dpop_algs = self.dpop_algs
        return exc

    def _proof(self, scheme_is_dpop: bool, token: str, dpop: str | None, method: str, url: str | None) -> Proof | None:
        """The request's DPoP proof, checked for this request and this token, or ``None`` for a bearer token."""
        if not scheme_is_dpop:
            if self.require_dpop:
                raise InvalidToken(_BEARER_REFUSED)
            return None
        if url is None:
            raise InvalidDPoPProof("This API cannot check DPoP proofs: its adapter gives no request URL.")
        try:
            return presented_proof(dpop, method=method, url=url, now=self._clock(), access_token=token)
        except ProofError as exc:
            raise InvalidDPoPProof(str(exc)) from None

    def _read(self, authorization: str | None) -> tuple[bool, str, str]:
        """Whether the scheme is DPoP, the token and its digest, from the header's value; RFC 6750 §2.1
        ``Bearer 1*SP b64token``, or RFC 9449 §7.1 ``DPoP 1*SP b64token``."""
        if not authorization:
            raise MissingToken()
        scheme, _, credentials = authorization.strip().partition(" ")
        lowered = scheme.lower()
        if lowered not in ("bearer", "dpop"):
            raise InvalidToken("The Authorization header must use the Bearer scheme or DPoP.")
        token = credentials.strip()
        if not token:
            raise InvalidToken("The Authorization header has no token.")
        if " " in token or "," in token or "\t" in token:
            # several Authorization headers arrive comma-joined; a request must carry exactly one token
            raise InvalidToken("The request carries more than one token.")
        try:
            parse(token, TokenKind.ACCESS)
        except MalformedToken:
            raise InvalidToken(_UNUSABLE, "token failed the format or checksum check") from None
        return lowered == "dpop", token, digest(token)

    def _check(self, found: AccessToken | None, scopes: Iterable[str], proof: Proof | None = None) -> AccessToken:
        if found is None or found.expires_at <= self._clock():
            raise InvalidToken(_UNUSABLE)
        try:
            check_binding(found.jkt, proof)
        except BindingError as exc:
            raise InvalidToken(str(exc)) from None
        if self._audience is not None and self._audience not in found.audience:
            raise InvalidToken(_ELSEWHERE, f"the token's audience does not include {self._audience}")
        required = scopes if isinstance(scopes, frozenset) else frozenset(scopes)
        if not required <= found.scopes:
            raise InsufficientScope(required)
        if proof is not None and not self.replay.first_use(proof):
            raise InvalidDPoPProof("This DPoP proof was already used.")
        return found
