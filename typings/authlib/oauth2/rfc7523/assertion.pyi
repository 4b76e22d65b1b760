from typing import Any

from joserfc.jwk import Key, KeySet

# A joserfc key or key set, or a JWK or JWK set as a dict (strings and bytes still work, deprecated).
_Key = Key | KeySet | dict[str, Any]

# A signed JWT with iss, aud, sub, iat, exp (iat + expires_in, 3600 by default) and a random jti; the algorithm is
# alg= or header["alg"].
def sign_jwt_bearer_assertion(
    key: _Key,
    issuer: str,
    audience: str | list[str],
    subject: str | None = None,
    issued_at: int | None = None,
    expires_at: int | None = None,
    claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    **kwargs: Any,
) -> str: ...

# A client assertion (RFC 7523 §2.2): iss and sub are client_id, aud the token endpoint.
def client_secret_jwt_sign(
    client_secret: _Key,
    client_id: str,
    token_endpoint: str,
    alg: str = "HS256",
    claims: dict[str, Any] | None = None,
    **kwargs: Any,
) -> str: ...
def private_key_jwt_sign(
    private_key: _Key,
    client_id: str,
    token_endpoint: str,
    alg: str = "RS256",
    claims: dict[str, Any] | None = None,
    **kwargs: Any,
) -> str: ...
