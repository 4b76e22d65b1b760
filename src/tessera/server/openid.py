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
builds and signs the ID token with joserfc; :mod:`tessera.server.id_tokens` says where the claims and keys come
from. One extension object is made per grant object (so per request): it remembers the key it chose, so the
``kid`` in the header is always the key that signed.

The extensions registered here are stand-ins that import :mod:`tessera.server.id_tokens` (Authlib's OpenID Connect
modules, joserfc and ``cryptography``: about 10 MiB in each process) the first time an ID token may be issued: by
the first authorization-code grant, or by the first refresh of a grant whose scope has ``openid``.
"""

from typing import TYPE_CHECKING, Any, cast

from authlib.oauth2.rfc6749.grants import BaseGrant

from tessera.server.authorization import TesseraServer

if TYPE_CHECKING:
    from tessera.server.id_tokens import CodeIdTokens, RefreshIdTokens

__all__ = ["OpenIDCodeExtension", "OpenIDRefreshExtension"]


class OpenIDCodeExtension:
    """Registered with the authorization-code grant: ID tokens for ``openid`` codes (OpenID Connect Core §3.1)."""

    _extension: "type[CodeIdTokens] | None" = None

    def __call__(self, grant: BaseGrant) -> None:
        if self._extension is None:
            from tessera.server.id_tokens import CodeIdTokens

            self._extension = CodeIdTokens
        self._extension(cast(TesseraServer, grant.server).context)(grant)


class OpenIDRefreshExtension:
    """Registered with the refresh-token grant: a fresh ID token when an ``openid`` grant is refreshed (§12.2).
    A refresh whose scope has no ``openid`` (Authlib's ``is_openid_scope``) is left alone without importing
    anything."""

    _extension: "type[RefreshIdTokens] | None" = None

    def __call__(self, grant: BaseGrant) -> None:
        grant.register_hook("after_create_token_response", self._process_token)

    def _process_token(self, grant: BaseGrant, response: tuple[int, dict[str, Any], Any]) -> None:
        scope = response[1].get("scope")
        if not isinstance(scope, str) or "openid" not in scope.split():
            return
        if self._extension is None:
            from tessera.server.id_tokens import RefreshIdTokens

            self._extension = RefreshIdTokens
        self._extension(cast(TesseraServer, grant.server).context).process_token(grant, response)
