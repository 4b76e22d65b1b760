"""DPoP at the token endpoint (RFC 9449 §5, §8): proofs, server nonces, and the errors they answer.

Authlib has no DPoP; the proof itself is checked by :func:`tessera.dpop.check_proof` (joserfc), shared with the
resource toolkit. What the server adds:

* the proof is for this endpoint's URL as the issuer names it, never as a ``Host`` header claims it;
* each proof is accepted once: its key and ``jti`` go into a replay cache, in Redis when ``TESSERA_REDIS_URL``
  is set (every process refuses a proof another one took) and in the process otherwise, or while Redis is away;
* with ``TESSERA_DPOP_NONCE=on``, a proof must carry a nonce this server made (§8): ``use_dpop_nonce`` and a
  ``DPoP-Nonce`` header otherwise. A nonce is the time window it was made in and an HMAC of it under
  ``TESSERA_SECRET_KEY``, so every process of a deployment makes and accepts the same ones with nothing
  shared but the key; it changes every :data:`NONCE_WINDOW` seconds and the previous one is still accepted.
  Every answer of the token endpoint carries the current nonce.

The grants (:mod:`tessera.server.grants`) decide what a proof binds: see :class:`DPoP.proof`. The server's
protected endpoint (:mod:`tessera.server.userinfo`) checks the proofs sent with access tokens as the resource
toolkit does, with the same replay cache and nonces.
"""

import hashlib
import hmac

from authlib.oauth2 import OAuth2Error

from tessera.config import Settings
from tessera.dpop import ALGORITHMS, LocalReplayCache, Proof, ProofError, RedisReplayCache, check_proof

__all__ = ["NONCE_WINDOW", "DPoP", "InvalidDPoPProofError", "Nonces", "UseDPoPNonceError"]

#: how long a server nonce is the current one, in seconds; the one before it is accepted as well
NONCE_WINDOW = 300


class InvalidDPoPProofError(OAuth2Error):
    """RFC 9449 §5 ``invalid_dpop_proof`` (HTTP 400): the ``DPoP`` proof is missing where it is required,
    malformed, badly signed, for another request, stale, or already used."""

    error = "invalid_dpop_proof"
    status_code = 400

    def __init__(self, description: str, nonce: str | None = None) -> None:
        super().__init__(description)
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers = list(super().get_headers())
        if self.nonce is not None:
            headers.append(("DPoP-Nonce", self.nonce))
        return headers


class UseDPoPNonceError(InvalidDPoPProofError):
    """RFC 9449 §8 ``use_dpop_nonce`` (HTTP 400): send the proof again with the nonce in ``DPoP-Nonce``."""

    error = "use_dpop_nonce"


class Nonces:
    """Server nonces that every process holding the same key makes and accepts alike (see the module)."""

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"tessera dpop nonce\0" + key).digest()

    def _mac(self, window: int) -> str:
        return hmac.new(self._key, str(window).encode(), hashlib.sha256).hexdigest()[:32]

    def current(self, now: float) -> str:
        window = int(now // NONCE_WINDOW)
        return f"{window:x}.{self._mac(window)}"

    def accepts(self, nonce: str | None, now: float) -> bool:
        if not nonce:
            return False
        window_hex, _, mac = nonce.partition(".")
        try:
            window = int(window_hex, 16)
        except ValueError:
            return False
        if window not in (int(now // NONCE_WINDOW), int(now // NONCE_WINDOW) - 1) or len(window_hex) > 16:
            return False
        return hmac.compare_digest(mac, self._mac(window))


class DPoP:
    """The token endpoint's DPoP: one per process, on the :class:`~tessera.server.context.ServerContext`."""

    #: what the metadata lists as ``dpop_signing_alg_values_supported``
    ALGORITHMS = ALGORITHMS

    def __init__(self, replay: LocalReplayCache | RedisReplayCache, nonces: Nonces | None = None) -> None:
        #: the proofs seen; client assertions' ``jti`` values are remembered here too (tessera.server.client_keys)
        self.replay = replay
        self.nonces = nonces

    @classmethod
    def from_settings(cls, settings: Settings) -> "DPoP":
        replay: LocalReplayCache | RedisReplayCache
        if settings.redis_url:
            replay = RedisReplayCache(settings.redis_url, prefix=settings.redis_prefix)
        else:
            replay = LocalReplayCache()
        nonces = Nonces(str(settings.secret_key).encode()) if settings.dpop_nonce else None
        return cls(replay, nonces)

    def nonce(self, now: float) -> str | None:
        """The nonce to hand out now, or ``None`` when nonces are off."""
        return None if self.nonces is None else self.nonces.current(now)

    def accepts_nonce(self, proof: Proof, now: float) -> bool:
        """Whether ``proof`` carries a nonce of this server's, or nonces are off (RFC 9449 §8, §9)."""
        return self.nonces is None or self.nonces.accepts(proof.nonce, now)

    def proof(self, header: str | None, *, method: str, url: str, now: float) -> Proof | None:
        """The proof in ``header`` (the request's ``DPoP`` header) if there is one and it is good; ``None`` if
        there is none (and nonces are off); :class:`InvalidDPoPProofError` or :class:`UseDPoPNonceError` else."""
        nonce = self.nonce(now)
        if header is None:
            return None
        if "," in header:
            raise InvalidDPoPProofError("Send exactly one DPoP proof.", nonce)
        try:
            proof = check_proof(header, method=method, url=url, now=now)
        except ProofError as exc:
            raise InvalidDPoPProofError(str(exc), nonce) from None
        if not self.accepts_nonce(proof, now):
            raise UseDPoPNonceError("Send the DPoP proof again with the server's nonce from DPoP-Nonce.", nonce)
        if not self.replay.first_use(proof):
            raise InvalidDPoPProofError("This DPoP proof was already used.", nonce)
        return proof
