"""Authlib's authorization server, wired to Tessera's storage, token format and rules.

What Tessera adds on top of Authlib, and why:

* tokens are ``tsr_at_``/``tsr_rt_`` strings (:mod:`tessera.tokens`), their lifetime from settings (Authlib's
  default is ten days);
* a client that sends credentials two ways at once, or a secret in the query string, is refused
  (RFC 6749 §2.3: one method per request; credentials never in the URI);
* every revocation goes through :meth:`AuthorizationServer.revoke_grant` and friends, which hand the revoked
  digests to ``on_revoke`` so resource-server caches can drop them.
"""

import base64
from collections.abc import Callable, Iterable
from typing import Any, cast

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc9207 import IssuerParameter

from tessera.config import Settings
from tessera.ratelimit import RateLimits
from tessera.server.clients import ClientCache, OAuthClient
from tessera.server.errors import SlowDownError
from tessera.server.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from tessera.server.introspection import IntrospectionEndpoint
from tessera.server.revocation import RevocationEndpoint
from tessera.store import Store
from tessera.tokens import TokenKind, mint

__all__ = ["AuthorizationServer", "RevocationListener"]

#: called with the access-token digests that were just revoked
RevocationListener = Callable[[list[str]], None]


class _Issuer(IssuerParameter):
    def __init__(self, issuer: str) -> None:
        self._issuer = issuer

    def get_issuer(self) -> str:
        return self._issuer


class AuthorizationServer(_FlaskAuthorizationServer):
    """One per app; holds the store, the settings and the client cache."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        on_revoke: Iterable[RevocationListener] = (),
        rate_limits: RateLimits | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.rate_limits = rate_limits or RateLimits(settings)
        self.clients = ClientCache(store.client, ttl=settings.client_cache_ttl)
        self.revocation_listeners = list(on_revoke)
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.introspection = IntrospectionEndpoint(self)
        self.revocation = RevocationEndpoint(self)
        self.register_endpoint(self.introspection)
        self.register_endpoint(self.revocation)
        self.issuer_parameter = _Issuer(settings.issuer)
        self.register_extension(self.issuer_parameter)

    # storage hooks Authlib calls

    def query_client(self, client_id: str) -> OAuthClient | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
            return None
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:  # pragma: no cover - grants store tokens
        raise RuntimeError("tokens are stored by the grants themselves")

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        if granted is None:
            raise InvalidScopeError()
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": mint(TokenKind.ACCESS),
            "expires_in": expires_in or self.settings.access_token_ttl,
            "scope": granted,
        }
        if include_refresh_token:
            token["refresh_token"] = mint(TokenKind.REFRESH)
        return token

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> OAuthClient:
        _check_credentials_shape(request)
        # Authlib returns the client our query_client gave it, and that only ever returns an OAuthClient
        client = cast(OAuthClient, super().authenticate_client(request, methods, endpoint))
        named = request.form.get("client_id")
        if named and named != client.client_id:  # HTTP Basic for one client, client_id of another in the body
            raise InvalidRequestError("The client_id in the body is not the client that authenticated.")
        # counted once the client is known to be who it says, so nobody can spend another client's budget
        verdict = self.rate_limits.client_request(endpoint, client.client_id)
        if not verdict.allowed:
            raise SlowDownError(verdict.retry_after)
        return client

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        # Authlib's Flask signals are not used; skipping them saves work on every request
        return None

    # revocation, in one place so every path tells the listeners

    def revoke_grant(self, grant_id: str) -> list[str]:
        return self.notify_revoked(self.store.revoke_grant(grant_id))

    def notify_revoked(self, digests: list[str]) -> list[str]:
        if digests:
            for listener in self.revocation_listeners:
                listener(digests)
        return digests


def _check_credentials_shape(request: Any) -> None:
    """What Authlib does not check before it authenticates a client:

    * one authentication method per request (RFC 6749 §2.3): ``Basic`` and a ``client_secret`` in the body are
      ``invalid_request`` (credentials in the URL are refused before this, for every machine endpoint);
    * a ``Basic`` header that is not base64 of UTF-8 is ``invalid_client`` with a 401 (RFC 6749 §2.3.1,
      RFC 7617 §2): Authlib would decode it unguarded and fail with a server error.
    """
    parts = request.headers.get("Authorization", "").split(None, 1)
    if not parts or parts[0].lower() != "basic":
        return
    if "client_secret" in request.form:
        raise InvalidRequestError("Use one client authentication method per request.")
    try:
        if len(parts) != 2:
            raise ValueError("no credentials after 'Basic'")
        base64.b64decode(parts[1], validate=True).decode("utf-8")
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise InvalidClientError(
            status_code=401, description="The Authorization header does not hold valid Basic credentials."
        ) from exc
