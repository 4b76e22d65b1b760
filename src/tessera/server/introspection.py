"""Token introspection, RFC 7662, on Authlib's endpoint.

The hot path: checksum (no I/O for garbage), then one indexed query by digest; the caller comes from the
client cache. A client registered with ``--introspect`` may introspect any token, any other client only its
own; everything else, including an empty or malformed token, answers ``{"active": false}`` (§2.2).
Refresh tokens are not introspectable here: resource servers only ever see access tokens. A token issued for
resources (RFC 8707) answers ``aud``: read with the token, in the same query.
"""

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from tessera.server.authorization import TesseraServer
from tessera.server.clients import CONFIDENTIAL_METHODS, OAuthClient
from tessera.server.errors import check_token_params
from tessera.store import ActiveToken
from tessera.tokens import MalformedToken, TokenKind, digest, parse

__all__ = ["IntrospectionEndpoint"]


class _Introspected:
    __slots__ = ("record",)

    def __init__(self, record: ActiveToken) -> None:
        self.record = record

    def is_expired(self) -> bool:
        return False  # the query only returns unexpired tokens

    def is_revoked(self) -> bool:
        return False  # the query only returns unrevoked tokens


class IntrospectionEndpoint(_IntrospectionEndpoint):
    # confidential clients only: introspection always needs a client secret or key
    CLIENT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)

    server: TesseraServer

    def check_params(self, request: Any, client: OAuthClient) -> None:
        check_token_params(request.form)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Introspected | None:
        try:
            parse(token_string, TokenKind.ACCESS)
        except MalformedToken:
            return None
        context = self.server.context
        record = context.store.tokens.active(digest(token_string), context.now())
        return None if record is None else _Introspected(record)

    def create_introspection_payload(self, token: _Introspected | None) -> dict[str, Any]:
        payload = super().create_introspection_payload(token)
        self.server.context.metrics.introspected(payload["active"] is True)
        return payload

    def check_permission(self, token: _Introspected, client: OAuthClient, request: Any) -> bool:
        return client.record.may_introspect or token.record.client_id == client.client_id

    def introspect_token(self, token: _Introspected) -> dict[str, Any]:
        r = token.record
        body: dict[str, Any] = {
            "active": True,
            "scope": r.scope,
            "client_id": r.client_id,
            "token_type": "Bearer" if r.jkt is None else "DPoP",
            "exp": r.expires_at,
            "iat": r.issued_at,
            "sub": r.subject,
            "iss": self.server.context.settings.issuer,
        }
        if r.username is not None:
            body["username"] = r.username
        if r.jkt is not None:
            body["cnf"] = {"jkt": r.jkt}  # RFC 9449 §6.2: the key the token is bound to
        if r.audience:
            # RFC 7662 §2.2: a string for one resource, an array for several (RFC 8707)
            audience = r.audience.split()
            body["aud"] = audience[0] if len(audience) == 1 else audience
        return body
