"""Token revocation, RFC 7009, on Authlib's endpoint.

Revoking either token of a grant revokes the whole family (§2.1: revoking a refresh token SHOULD also
invalidate the access tokens of the same grant; we do it for access tokens too, so nothing of a revoked
authorization lives on). An unknown or malformed token answers 200 (§2.2); another client's token is never
touched and answers 200 as well, so the endpoint does not reveal which tokens exist.
"""

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from tessera.server.audit import Event
from tessera.server.authorization import TesseraServer
from tessera.server.clients import ANY_METHOD, OAuthClient
from tessera.server.errors import check_token_params
from tessera.store import TokenRef
from tessera.tokens import MalformedToken, TokenKind, digest, parse

__all__ = ["RevocationEndpoint"]


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(ANY_METHOD)

    server: TesseraServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRef | None:
        try:
            kind = parse(token_string)
        except MalformedToken:
            return None
        if kind not in (TokenKind.ACCESS, TokenKind.REFRESH):
            return None
        return self.server.context.store.tokens.ref(digest(token_string), refresh=kind is TokenKind.REFRESH)

    def check_params(self, request: Any, client: OAuthClient) -> None:
        check_token_params(request.form)

    def authenticate_token(self, request: Any, client: OAuthClient) -> TokenRef | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is None or token.client_id != client.client_id:
            return None
        return token

    def revoke_token(self, token: TokenRef, request: Any) -> None:
        context = self.server.context
        revoked = context.revocations.revoke_grant(token.grant_id)
        if revoked:
            detail = {"via": "revocation_endpoint", "revoked": len(revoked)}
            context.audit.emit(Event.TOKEN_REVOKED, client_id=token.client_id, user=token.username, detail=detail)
