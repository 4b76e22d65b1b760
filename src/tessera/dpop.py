"""DPoP proofs (RFC 9449 §4): what the token endpoint and the resource toolkit both check, on joserfc (the header,
the key, its thumbprint) and ``cryptography`` (the signature).

    >>> proof = check_proof(header_value, method="POST", url="https://auth.example/oauth/token", now=time.time())
    ... # doctest: +SKIP
    >>> proof.jkt, proof.jti                                                                      # doctest: +SKIP

:func:`check_proof` verifies one ``DPoP`` header value and returns the :class:`Proof` (the key's RFC 7638
thumbprint, ``jti``, ``iat``, ``nonce``), or raises :class:`ProofError` saying why not, in one line safe for the
client. What it checks, in order (RFC 9449 §4.3): at most :data:`MAX_PROOF` bytes; a compact JWS with
``typ: dpop+jwt``, an ``alg`` from :data:`ALGORITHMS` (never ``none`` or a MAC), a ``jwk`` that is a public EC or
RSA key; the signature with that key; ``htm`` the request's method; ``htu`` the request's URL, both compared
after the normalisation of RFC 3986 §6.2.2 and §6.2.3 with query and fragment left out; ``iat`` within
:data:`MAX_AGE` seconds in the past and :data:`LEEWAY` in the future; a ``jti``; ``ath`` when an access token is
presented with the proof. Whether a ``jti`` was seen before is the caller's :class:`ReplayCache`, asked once the
proof is otherwise good, so that a proof refused for another reason does not use its ``jti`` up.

A client sends the same header (its key) with every proof: the header's checks, the key's import and thumbprint
and the signature's parameters are made once per distinct header and kept (see ``_header``), so that a later
proof costs the signature check and a few microseconds more.

At a protected resource (RFC 9449 §7), :func:`presented_proof` checks the proof sent with an access token and
:func:`check_binding` the token's key against the proof's; the resource toolkit
(:class:`tessera.resource.TokenValidator`) and the server's own protected endpoint (userinfo) both use them.

Shared by :mod:`tessera.server` and :mod:`tessera.resource`, and imports neither (an import-linter contract).
"""

import base64
import binascii
import collections
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # imported by the first proof's header (see _header): a server that sees none never loads them
    from joserfc import jws
    from joserfc.jwa import JWSAlgModel
    from joserfc.jwk import ECKey, RSAKey

__all__ = [
    "ALGORITHMS",
    "BOUND",
    "LEEWAY",
    "MAX_AGE",
    "MAX_PROOF",
    "LocalReplayCache",
    "Proof",
    "ProofError",
    "RedisReplayCache",
    "ReplayCache",
    "BindingError",
    "access_token_hash",
    "check_binding",
    "check_proof",
    "is_thumbprint",
    "normal_htu",
    "presented_proof",
]

log = logging.getLogger("tessera.dpop")

#: the signature algorithms a proof may use: asymmetric only, so that only the key's holder can sign
ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512")
#: the longest ``DPoP`` header accepted, in bytes: a proof with an RSA-4096 key is under 2 KiB
MAX_PROOF = 4096
#: how old a proof's ``iat`` may be, in seconds; its ``jti`` is remembered this long plus :data:`LEEWAY`
MAX_AGE = 300
#: how far in the future a proof's ``iat`` may be (the client's clock may be ahead), in seconds
LEEWAY = 60


_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: distinct proof headers (so keys) kept checked and imported, least recently used forgotten first
_CACHED_HEADERS = 1024
#: base64url characters of a 2048-bit modulus (NIST SP 800-131A: shorter RSA keys are not to be used)
_RSA_MIN_N = 342
_DEFAULT_PORTS = {"http": 80, "https": 443}
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# base64url to base64 for binascii; '+', '/' and '=' become '!', which binascii's strict mode refuses
_TO_BASE64 = bytes.maketrans(b"-_+/=", b"+/!!!")
# the last character of an unpadded segment must leave no stray bits (as joserfc's urlsafe_b64decode)
_CANONICAL_ENDINGS = ("AEIMQUYcgkosw048", "AQgw")


class ProofError(ValueError):
    """A ``DPoP`` proof that is refused: the token endpoint answers 400 ``invalid_dpop_proof``, a resource 401
    (RFC 9449 §5, §7.1). The message is one line, safe for the client; it never holds the proof."""


@dataclass(frozen=True, slots=True)
class Proof:
    """A verified proof: the RFC 7638 SHA-256 thumbprint of its key (``jkt``), its ``jti`` and ``iat``, and the
    ``nonce`` it carried, if any."""

    jkt: str
    jti: str
    iat: float
    nonce: str | None

    @property
    def replay_key(self) -> str:
        """What a replay cache remembers: the ``jti`` is unique per key (RFC 9449 §11.1)."""
        return hashlib.sha256(f"{self.jkt}.{self.jti}".encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2)."""
    return _b64(hashlib.sha256(access_token.encode("ascii")).digest())


def is_thumbprint(value: object) -> bool:
    """Whether ``value`` can be a base64url SHA-256 JWK thumbprint (43 characters), as ``dpop_jkt`` must be."""
    return isinstance(value, str) and len(value) == 43 and set(value) <= _B64URL


@functools.lru_cache(maxsize=4096)
def normal_htu(url: str) -> str | None:
    """``url`` normalised as RFC 9449 §4.3 compares ``htu``: scheme and host in lower case, a default port left out,
    an empty path as ``/``, percent-escapes in upper case; no query or fragment. ``None`` if it is no http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = _upper_escapes(parts.path) or "/"
    return urlunsplit((scheme, host, path, "", ""))


def _upper_escapes(path: str) -> str:
    if "%" not in path:
        return path
    pieces = path.split("%")
    return pieces[0] + "".join("%" + p[:2].upper() + p[2:] for p in pieces[1:])


def check_proof(
    value: str | None,
    *,
    method: str,
    url: str,
    now: float,
    access_token: str | None = None,
    algorithms: frozenset[str] | None = None,
) -> Proof:
    """The proof in ``value`` (a ``DPoP`` header) for a ``method`` request to ``url``; :class:`ProofError` if it
    is not one. With ``access_token``, the proof must carry its hash (``ath``). ``algorithms`` narrows
    :data:`ALGORITHMS`. Nonces are the caller's: it compares :attr:`Proof.nonce` with its own."""
    if not value:
        raise ProofError("A DPoP proof is required.")
    if len(value) > MAX_PROOF:
        raise ProofError("The DPoP proof is too large.")
    if not value.isascii() or value.count(".") != 2:
        raise ProofError("The DPoP proof is not a compact JWS.")
    signing_input, _, signature_segment = value.rpartition(".")
    header_segment, _, payload_segment = signing_input.partition(".")
    header = _header(header_segment)
    if header.alg not in (ALGORITHMS if algorithms is None else algorithms):
        raise ProofError("The DPoP proof's 'alg' is not supported: use ES256 or RS256.")
    try:
        signature = _b64decode(signature_segment)
    except ValueError:
        signature = b""
    if not header.verify(signing_input.encode("ascii"), signature):
        raise ProofError("The DPoP proof's signature does not verify with its 'jwk'.")
    try:
        claims = json.loads(_b64decode(payload_segment).decode("utf-8"))
    except ValueError:
        raise ProofError("The DPoP proof's payload is not JSON.") from None
    if not isinstance(claims, dict):
        raise ProofError("The DPoP proof's payload is not a JSON object.")
    return _claims(claims, header.jkt, method=method, url=url, now=now, access_token=access_token)


#: why a token bound to a key is refused as a bearer token (RFC 9449 §7.2)
BOUND = "The access token is bound to a DPoP key: send it with the DPoP scheme and a proof."
_NOT_BOUND = "The access token is not bound to this DPoP proof's key."


class BindingError(ValueError):
    """An access token presented with the wrong proof for its binding: a bound token as a bearer token, or an
    unbound one or one bound to another key with a proof. A resource answers 401 ``invalid_token`` (RFC 9449 §7.2)."""


def presented_proof(value: str | None, *, method: str, url: str, now: float, access_token: str) -> Proof:
    """The proof sent with ``access_token`` in an ``Authorization: DPoP`` request to a protected resource
    (RFC 9449 §7.1): exactly one, for this request, carrying the token's hash; :class:`ProofError` if not. Whether
    its ``jti`` is new is asked last, once the token was found good (:meth:`ReplayCache.first_use`)."""
    if value is not None and "," in value:  # several DPoP headers arrive comma-joined
        raise ProofError("Send exactly one DPoP proof.")
    return check_proof(value, method=method, url=url, now=now, access_token=access_token)


def check_binding(jkt: str | None, proof: Proof | None) -> None:
    """:class:`BindingError` unless a token bound to ``jkt`` (``None``: not bound) may be used with ``proof``
    (``None``: sent as a bearer token): a bound token only with a proof made with its key, an unbound one only
    without a proof."""
    if proof is None:
        if jkt is not None:  # a stolen DPoP token is worth nothing without the key
            raise BindingError(BOUND)
    elif jkt != proof.jkt:
        raise BindingError(_NOT_BOUND)


def _b64decode(segment: str) -> bytes:
    """An unpadded base64url segment's bytes, as strictly as joserfc's ``urlsafe_b64decode`` reads one, in C;
    ``ValueError`` if it is not one."""
    pad = -len(segment) % 4
    if pad == 3 or (pad and segment[-1] not in _CANONICAL_ENDINGS[pad - 1]):
        raise ValueError("not base64url")
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_BASE64) + b"=" * pad, strict_mode=True)


@dataclass(frozen=True, slots=True)
class _Header:
    alg: str
    #: the signature check with the header's key: signing input and signature in, whether it verifies out
    verify: Callable[[bytes, bytes], bool]
    jkt: str


@functools.lru_cache(maxsize=_CACHED_HEADERS)
def _header(segment: str) -> _Header:
    """A proof's header, checked, its key imported and its thumbprint computed once per distinct header: a client
    sends the same one (its key) every time, so what follows its first proof costs a look-up and the signature
    check alone. The cache is keyed by the header's exact text, which holds the key, so a proof can only ever be
    checked with the key it carries. What is checked is what ``jws.extract_compact`` and ``validate_compact``
    check besides the signature, and DPoP's own rules (RFC 9449 §4.3). A header that fails is not kept."""
    try:
        header = json.loads(_b64decode(segment).decode("utf-8"))
    except ValueError as exc:
        raise ProofError("The DPoP proof is not a compact JWS.") from exc
    if not isinstance(header, dict):
        raise ProofError("The DPoP proof is not a compact JWS.")
    if header.get("typ") != "dpop+jwt":
        raise ProofError("The DPoP proof's 'typ' must be 'dpop+jwt'.")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise ProofError("The DPoP proof's 'alg' is not supported: use ES256 or RS256.")
    from joserfc.errors import JoseError

    key, jkt = _key(header.get("jwk"))
    try:
        registry = _registry()
        registry.check_header(header)
        algorithm = registry.get_alg(alg)
        algorithm.check_key(key)
    except (JoseError, ValueError, TypeError) as exc:
        raise ProofError("The DPoP proof's header is not acceptable.") from exc
    return _Header(alg, _verifier(algorithm, key), jkt)


@functools.cache
def _registry() -> "jws.JWSRegistry":
    """What checks a header's parameters and names the algorithms; the whole proof is bounded by MAX_PROOF
    beforehand. Made with the first proof: joserfc and ``cryptography`` weigh about 10 MiB in every process."""
    from joserfc import jws

    return jws.JWSRegistry(algorithms=list(ALGORITHMS))


def _key(jwk: object) -> "tuple[ECKey | RSAKey, str]":
    """The public key in a proof's header, imported, and its RFC 7638 thumbprint."""
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey, RSAKey

    if not isinstance(jwk, dict):
        raise ProofError("The DPoP proof has no 'jwk' header.")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise ProofError("The DPoP proof's 'jwk' holds a private key.")
    key_types: dict[str, type[ECKey] | type[RSAKey]] = {"EC": ECKey, "RSA": RSAKey}
    key_type = key_types.get(str(jwk.get("kty")))
    if key_type is None:
        raise ProofError("The DPoP proof's 'jwk' must be an EC or RSA public key.")
    if key_type is RSAKey and len(str(jwk.get("n", ""))) < _RSA_MIN_N:
        raise ProofError("The DPoP proof's RSA key is shorter than 2048 bits.")
    try:
        key = key_type.import_key(jwk)
        thumbprint = key.thumbprint()
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ProofError("The DPoP proof's 'jwk' is not a valid public key.") from exc
    if key.is_private:
        raise ProofError("The DPoP proof's 'jwk' holds a private key.")
    return key, thumbprint


def _verifier(algorithm: "JWSAlgModel", key: "ECKey | RSAKey") -> Callable[[bytes, bytes], bool]:
    """What joserfc's ``algorithm.verify(message, signature, key)`` does, with everything that does not depend on
    the message made once: the ``cryptography`` key object, the hash and padding (joserfc's own, from the
    algorithm object), the size of an ECDSA signature's halves. The signature is checked by ``cryptography``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from joserfc.jwa import ESAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

    public = key.get_op_key("verify")
    if isinstance(algorithm, ESAlgorithm) and isinstance(public, ec.EllipticCurvePublicKey):
        size = (public.curve.key_size + 7) // 8
        ecdsa = ec.ECDSA(algorithm.hash_alg())
        verify_ec = public.verify

        def verify(message: bytes, signature: bytes) -> bool:
            # JWS carries r and s as two big-endian halves (RFC 7518 §3.4); cryptography takes DER
            if len(signature) != 2 * size:
                return False
            r, s = int.from_bytes(signature[:size]), int.from_bytes(signature[size:])
            try:
                verify_ec(encode_dss_signature(r, s), message, ecdsa)
            except InvalidSignature:
                return False
            return True

        return verify
    if isinstance(algorithm, RSAAlgorithm | RSAPSSAlgorithm) and isinstance(public, rsa.RSAPublicKey):
        rsa_padding, rsa_hash = algorithm.padding, algorithm.hash_alg()
        verify_rsa = public.verify

        def verify(message: bytes, signature: bytes) -> bool:
            try:
                verify_rsa(signature, message, rsa_padding, rsa_hash)
            except InvalidSignature:
                return False
            return True

        return verify
    raise ProofError("The DPoP proof's header is not acceptable.")


def _claims(claims: dict[str, Any], jkt: str, *, method: str, url: str, now: float, access_token: str | None) -> Proof:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise ProofError("The DPoP proof has no 'jti'.")
    if claims.get("htm") != method:
        raise ProofError("The DPoP proof's 'htm' is not this request's method.")
    htu = claims.get("htu")
    # the same text is the same URL (a client usually sends the URL as the API builds it); else both normalised
    if not isinstance(htu, str) or (htu != url and normal_htu(htu) != normal_htu(url)):
        raise ProofError("The DPoP proof's 'htu' is not this request's URL.")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise ProofError("The DPoP proof has no 'iat'.")
    if iat < now - MAX_AGE or iat > now + LEEWAY:
        raise ProofError("The DPoP proof's 'iat' is too far from the server's time.")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise ProofError("The DPoP proof's 'ath' is not the hash of the access token.")
    nonce = claims.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or not nonce.isascii()):
        raise ProofError("The DPoP proof's 'nonce' is not a string.")
    return Proof(jkt=jkt, jti=jti, iat=float(iat), nonce=nonce)


class ReplayCache(Protocol):
    """Remembers the proofs it was shown for :data:`MAX_AGE` + :data:`LEEWAY` seconds."""

    def first_use(self, proof: Proof) -> bool:
        """True the first time ``proof``'s key and ``jti`` are seen, False ever after (within the window)."""


class LocalReplayCache:
    """This process's memory: enough for one process, and the fallback while Redis is away.

    Bounded: at ``max_entries`` (a million: more than three thousand proofs a second for the whole window) the
    oldest entry is forgotten first, and a warning logged once. A forgotten proof could then be replayed within
    its window, so the cache also moves a horizon: a proof whose ``iat`` is no later than the time the last
    forgotten entry was first seen, plus :data:`LEEWAY`, is refused (any proof accepted then had an ``iat`` no
    later than that). Fresh proofs keep working unless a minute's proofs no longer fit in the cache, which one
    process cannot check (each costs a signature check); past that, the cache fails closed.
    """

    def __init__(
        self,
        max_entries: int = 1_000_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._max = max_entries
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._warned = False
        #: when the oldest entry expires: until then there is nothing to drop
        self._next_expiry = float("inf")
        #: proofs with an ``iat`` up to this (Unix seconds) are refused: they may have been forgotten
        self._horizon = float("-inf")

    def first_use(self, proof: Proof) -> bool:
        return not self.may_have_forgotten(proof) and self.first_use_of(proof.replay_key)

    def may_have_forgotten(self, proof: Proof) -> bool:
        """Whether ``proof`` is as old as one this cache had to forget, full, before its window ended."""
        return proof.iat <= self._horizon

    def first_use_of(self, key: str, ttl: float = MAX_AGE + LEEWAY) -> bool:
        now = self._clock()
        with self._lock:
            seen = self._seen
            if now >= self._next_expiry:  # until the oldest entry expires there is nothing to drop
                while seen:  # every entry lives as long, so the oldest is first: drop the expired ones off the front
                    oldest, until = next(iter(seen.items()))
                    if until > now:
                        break
                    del seen[oldest]
                self._next_expiry = next(iter(seen.values())) if seen else float("inf")
            if key in seen:
                return False
            if len(seen) >= self._max:
                _, until = seen.popitem(last=False)
                # when that entry was first seen, on the wall clock proofs' iat is read on
                seen_at = self._wall_clock() - (now - (until - ttl))
                self._horizon = max(self._horizon, seen_at + LEEWAY)
                if not self._warned:
                    log.warning(
                        "the DPoP replay cache is full: the oldest proofs are forgotten, and proofs as old as they "
                        "are refused"
                    )
                    self._warned = True
            until = now + ttl
            seen[key] = until
            self._next_expiry = min(self._next_expiry, until)
            return True


class RedisReplayCache:
    """Shared by every process that uses the same Redis (``SET key NX EX``), so a proof replayed against another
    process is refused too. While Redis does not answer, this process's :class:`LocalReplayCache` stands in (said
    once in the log), and Redis is tried again :data:`RETRY` seconds later."""

    RETRY = 5.0

    def __init__(self, redis_url: str, *, prefix: str = "tessera", timeout: float = 0.25) -> None:
        import redis  # the toolkit's dependency too; imported here so that the module costs nothing without it

        from tessera.redisurl import client

        self._redis = client(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._prefix = f"{prefix}:dpop:"
        self.local = LocalReplayCache()
        self._away_until = 0.0

    def first_use(self, proof: Proof) -> bool:
        return not self.local.may_have_forgotten(proof) and self.first_use_of(proof.replay_key)

    def first_use_of(self, key: str, ttl: int = MAX_AGE + LEEWAY) -> bool:
        now = time.monotonic()
        if now >= self._away_until:
            try:
                first = bool(self._redis.set(self._prefix + key, b"1", nx=True, ex=ttl))
            except self._errors as exc:
                if self._away_until == 0.0:
                    log.warning("DPoP replay cache: Redis does not answer (%s); using this process's memory", exc)
                self._away_until = now + self.RETRY
            else:
                if self._away_until:
                    log.info("DPoP replay cache: Redis answers again")
                    self._away_until = 0.0
                # a proof this process saw while Redis was away is refused even if Redis never heard of it
                return first and self.local.first_use_of(key, ttl)
        return self.local.first_use_of(key, ttl)

    def close(self) -> None:
        self._redis.close()
