"""ID tokens (OpenID Connect Core §2, §3.1.3.6, §12.2) on Authlib's OpenID Connect code-grant extension.

Access and refresh tokens stay opaque; the ID token is the only JWT, an identity assertion for the client:

* ``iss`` (the issuer), ``sub`` (the user's random subject, the same that introspection answers), ``aud`` (the
  client_id), ``exp`` (``TESSERA_ID_TOKEN_TTL`` after ``iat``), ``iat``, ``auth_time`` (when the person signed in,
  from their session), ``nonce`` (the authorization request's, echoed exactly, only when it sent one), ``at_hash``;
  ``preferred_username`` and ``name`` with scope ``profile``, ``email`` and ``email_verified`` with ``email``.
* signed with the client's algorithm, ``RS256`` unless it was registered with ``--id-token-alg ES256``, by the
  process's current key of that algorithm (:mod:`tessera.server.keys`), whose ``kid`` is in the header.
* issued by the code grant when the granted scope has ``openid``, and again by a refresh of such a grant (with the
  original ``auth_time``); never by client credentials.

Authlib's :class:`~authlib.oidc.core.grants.OpenIDCode` checks the authorization request (a ``nonce`` seen before
for the client is a replay: ``invalid_request``; ``prompt=none`` without a session is ``login_required``) and
builds and signs the ID token with joserfc; this module says where the claims and keys come from. One extension
object is made per grant object (so per request): it remembers the key it chose, so the ``kid`` in the header is
always the key that signed.
"""

from typing import Any, cast

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.grants import BaseGrant
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from joserfc.jwk import Key

from tessera.server.authorization import TesseraServer
from tessera.server.context import ServerContext
from tessera.server.keys import DEFAULT_ALG, SigningKey
from tessera.store import UserRecord

__all__ = ["OpenIDCodeExtension", "OpenIDRefreshExtension", "claims_for"]


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


class _CodeIdTokens(_Signing, OpenIDCode):
    def __init__(self, context: ServerContext) -> None:
        super().__init__(require_nonce=False)
        self.context = context

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self.context.store.tokens.nonce_used(str(request.payload.client_id), nonce)


class _RefreshIdTokens(_Signing, OpenIDToken):
    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]:
        claims = super().get_compatible_claims(request)
        auth_time = request.refresh_token.record.auth_time
        if auth_time is not None:
            claims["auth_time"] = auth_time
        return claims


class OpenIDCodeExtension:
    """Registered with the authorization-code grant: ID tokens for ``openid`` codes (OpenID Connect Core §3.1)."""

    def __call__(self, grant: BaseGrant) -> None:
        _CodeIdTokens(cast(TesseraServer, grant.server).context)(grant)


class OpenIDRefreshExtension:
    """Registered with the refresh-token grant: a fresh ID token when an ``openid`` grant is refreshed (§12.2)."""

    def __call__(self, grant: BaseGrant) -> None:
        _RefreshIdTokens(cast(TesseraServer, grant.server).context)(grant)
