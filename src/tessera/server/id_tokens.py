"""The ID token (OpenID Connect Core §2, §3.1.3.6, §12.2): Authlib's OpenID Connect extensions told where the keys,
the claims and the lifetime come from (:mod:`tessera.server.openid` says what is issued when). This module, and with
it Authlib's OpenID Connect modules, joserfc and ``cryptography``, is imported by the first grant that may issue an
ID token: a server that only ever issues client-credentials tokens never loads them.
"""

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from joserfc.jwk import Key

from tessera.server.context import ServerContext
from tessera.server.keys import DEFAULT_ALG, SigningKey
from tessera.store import UserRecord

__all__ = ["CodeIdTokens", "RefreshIdTokens", "claims_for"]


def claims_for(user: UserRecord, scope: str) -> UserInfo:
    """The user's claims that ``scope`` releases (OpenID Connect Core §5.4): ``sub`` always. Tessera sends no
    mail, so no address is verified: ``email_verified`` is false."""
    info = UserInfo(sub=user.subject, preferred_username=user.username, email_verified=False)
    if user.name:
        info["name"] = user.name
    if user.email:
        info["email"] = user.email
    else:
        del info["email_verified"]
    return info.filter(scope)


class _Signing:
    """What the code and refresh extensions share: keys, claims and lifetime from the server's context."""

    context: ServerContext
    _key: SigningKey | None = None

    def _signing_key(self, client: Any) -> SigningKey:
        if self._key is None:
            self._key = self.context.keys.signing_key(self.get_client_algorithm(client))
        return self._key

    def get_client_algorithm(self, client: Any) -> str:
        return str(client.record.id_token_alg or DEFAULT_ALG)

    def resolve_client_private_key(self, client: Any) -> Key:
        return self._signing_key(client).key

    def get_encode_header(self, client: Any) -> dict[str, Any]:
        key = self._signing_key(client)
        return {"alg": key.alg, "kid": key.kid, "typ": "JWT"}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        now = self.context.now()
        settings = self.context.settings
        return {"iss": settings.issuer, "aud": client.client_id, "iat": now, "exp": now + settings.id_token_ttl}

    def generate_user_info(self, user: UserRecord, scope: str) -> UserInfo:
        return claims_for(user, scope)


class CodeIdTokens(_Signing, OpenIDCode):
    def __init__(self, context: ServerContext) -> None:
        super().__init__(require_nonce=False)
        self.context = context

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self.context.store.tokens.nonce_used(str(request.payload.client_id), nonce)


class RefreshIdTokens(_Signing, OpenIDToken):
    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]:
        claims = super().get_compatible_claims(request)
        auth_time = request.refresh_token.record.auth_time
        if auth_time is not None:
            claims["auth_time"] = auth_time
        return claims
