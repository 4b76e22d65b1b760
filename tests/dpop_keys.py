"""A DPoP client's side for the tests: a key pair and proofs made with it (joserfc), with any claim or header
changed or left out, so that each rule of RFC 9449 §4.3 can be broken on purpose."""

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

_DROP = object()
#: pass as a claim or header value to leave it out of the proof
DROP: Any = _DROP


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Prover:
    """One key, and proofs signed with it. ``alg`` ``ES256`` (P-256) or ``RS256`` (2048-bit RSA)."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key: ECKey | RSAKey = ECKey.generate_key("P-256") if alg.startswith("ES") else RSAKey.generate_key(2048)
        self.public_jwk = self.key.as_dict(private=False)
        self.jkt = self.key.thumbprint()

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        header: dict[str, Any] | None = None,
        sign_with: Any = None,
        **claims: Any,
    ) -> str:
        """A proof for ``method`` ``url``; ``claims`` and ``header`` override (``DROP`` removes) what it holds."""
        payload: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if access_token is not None:
            payload["ath"] = _b64(hashlib.sha256(access_token.encode()).digest())
        payload.update(claims)
        protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        protected.update(header or {})
        payload = {k: v for k, v in payload.items() if v is not _DROP}
        protected = {k: v for k, v in protected.items() if v is not _DROP}
        key = sign_with if sign_with is not None else self.key
        algorithms = [protected["alg"]] if "alg" in protected else None
        return jws.serialize_compact(protected, json.dumps(payload).encode(), key, algorithms=algorithms)


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWS with ``alg: none`` (no signature), made by hand: joserfc rightly refuses to make one."""
    head = _b64(json.dumps({**header, "alg": "none"}).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}."


def hs256(prover: Prover, method: str, url: str) -> str:
    """A proof MACed with a shared key (HS256), which no proof may use."""
    secret = OctKey.generate_key(256)
    return prover.proof(method, url, header={"alg": "HS256"}, sign_with=secret)
