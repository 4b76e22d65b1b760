"""The grants Tessera offers, on Authlib: authorization code with S256 PKCE, refresh with rotation, and
client credentials. Authlib runs the protocol; these classes say where things are stored and make the
one-time steps atomic.

* A code is redeemed and its tokens stored in one transaction guarded by ``used_at IS NULL`` (RFC 6749
  §4.1.2): a second redemption, or the loser of a race, gets ``invalid_grant`` and revokes what the code
  produced.
* A refresh token rotates on every use (RFC 9700 §4.14.2); presenting a used one revokes the whole family.
"""

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge

from tessera.errors import NotFound
from tessera.server.clients import OAuthClient
from tessera.store import CodeRecord, NewToken, RefreshRecord, UserRecord
from tessera.tokens import MalformedToken, TokenKind, digest, mint, parse, random_id

if TYPE_CHECKING:
    from tessera.server.authorization import AuthorizationServer

__all__ = [
    "AuthorizationCodeGrant",
    "ClientCredentialsGrant",
    "RefreshTokenGrant",
    "S256CodeChallenge",
]

_SECRET_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class S256CodeChallenge(CodeChallenge):
    """PKCE with ``S256`` only (RFC 9700 §2.1.1). Public clients must send a challenge, and that is checked
    at the authorization endpoint already, before anyone is asked to sign in."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    # Authlib passes this hook the result of the step it follows (None), not a redirect URI
    def validate_code_challenge(self, grant: Any, redirect_uri: object) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        client: OAuthClient = grant.request.client
        if client.record.public and not challenge:
            raise InvalidRequestError("Public clients must use PKCE: 'code_challenge' is missing.")
        if challenge and method != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)


class _Code:
    """A stored authorization code as Authlib's AuthorizationCodeMixin expects it."""

    __slots__ = ("record",)

    def __init__(self, record: CodeRecord) -> None:
        self.record = record

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope

    @property
    def code_challenge(self) -> str | None:
        return self.record.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.record.code_challenge_method


class _Refresh:
    """A stored refresh token as Authlib's TokenMixin expects it."""

    __slots__ = ("digest", "record")

    def __init__(self, token_digest: str, record: RefreshRecord) -> None:
        self.digest = token_digest
        self.record = record

    def check_client(self, client: OAuthClient) -> bool:
        return self.record.client_id == client.client_id

    def get_scope(self) -> str:
        return self.record.scope


@contextlib.contextmanager
def _client_must_exist(grant: Any) -> Iterator[None]:
    """The client was deleted after this process cached it: forget it and refuse, as for any unknown client."""
    try:
        yield
    except NotFound:
        _server(grant).clients.forget(grant.request.client.client_id)
        raise InvalidClientError(status_code=401, description="The client does not exist on this server.") from None


def _server(grant: Any) -> "AuthorizationServer":
    return grant.server  # type: ignore[no-any-return]


def _new_token(grant: Any, token: dict[str, Any], user_id: int | None, grant_id: str) -> NewToken:
    server = _server(grant)
    now = int(time.time())
    refresh = token.get("refresh_token")
    return NewToken(
        access_digest=digest(token["access_token"]),
        refresh_digest=digest(refresh) if refresh else None,
        client_id=grant.request.client.client_id,
        user_id=user_id,
        scope=token.get("scope", ""),
        grant_id=grant_id,
        issued_at=now,
        expires_at=now + int(token["expires_in"]),
        refresh_expires_at=now + server.settings.refresh_token_ttl if refresh else None,
    )


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _SECRET_METHODS

    def generate_authorization_code(self) -> str:
        return mint(TokenKind.CODE)

    def save_authorization_code(self, code: str, request: Any) -> None:
        server = _server(self)
        data = request.payload.data
        server.store.save_code(
            CodeRecord(
                digest=digest(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri,
                # what the person ticked on the consent page, else the (narrowed) requested scope
                scope=getattr(request, "consented_scope", None) or request.scope,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                grant_id=random_id(),
                expires_at=int(time.time()) + server.settings.code_ttl,
            )
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> _Code | None:
        try:
            parse(code, TokenKind.CODE)
        except MalformedToken:
            return None
        server = _server(self)
        record = server.store.code(digest(code))
        if record is None or record.client_id != client.client_id:
            return None
        if record.used_at is not None:
            server.revoke_grant(record.grant_id)  # replay: RFC 6749 §4.1.2
            return None
        if record.expires_at <= time.time():
            return None
        return _Code(record)

    def authenticate_user(self, authorization_code: _Code) -> UserRecord | None:
        user = _server(self).store.user_by_id(authorization_code.record.user_id)
        return None if user is None or user.disabled else user

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: _Code = self.request.authorization_code
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("The user of this code is no longer active.")
        self.request.user = user
        client: OAuthClient = self.request.client
        token = self.generate_token(
            user=user, scope=code.record.scope, include_refresh_token=client.check_grant_type("refresh_token")
        )
        server = _server(self)
        with _client_must_exist(self):
            redeemed = server.store.redeem_code(
                code.record.digest, _new_token(self, token, user.id, code.record.grant_id)
            )
        if not redeemed:
            server.revoke_grant(code.record.grant_id)
            raise InvalidGrantError("The code has already been used.")
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _SECRET_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _Refresh | None:
        try:
            parse(refresh_token, TokenKind.REFRESH)
        except MalformedToken:
            return None
        server = _server(self)
        token_digest = digest(refresh_token)
        record = server.store.refresh_token(token_digest)
        if record is None:
            return None
        if record.refresh_used_at is not None:
            server.revoke_grant(record.grant_id)  # reuse: RFC 9700 §4.14.2
            return None
        if record.revoked_at is not None or (record.refresh_expires_at or 0) <= time.time():
            return None
        return _Refresh(token_digest, record)

    def authenticate_user(self, refresh_token: _Refresh) -> UserRecord | None:
        user_id = refresh_token.record.user_id
        user = None if user_id is None else _server(self).store.user_by_id(user_id)
        return None if user is None or user.disabled else user

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        old: _Refresh = self.request.refresh_token
        user = self.authenticate_user(old)
        if user is None:
            raise InvalidGrantError("The user of this token is no longer active.")
        self.request.user = user
        token = self.issue_token(user, old)
        server = _server(self)
        with _client_must_exist(self):
            retired = server.store.rotate_refresh(old.digest, _new_token(self, token, user.id, old.record.grant_id))
        if retired is None:
            server.revoke_grant(old.record.grant_id)
            raise InvalidGrantError("The refresh token has already been used.")
        server.notify_revoked([retired])  # the old access token dies with its refresh token
        return 200, token, self.TOKEN_RESPONSE_HEADER


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError("None of the requested scopes is allowed for this client.")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.payload.scope, include_refresh_token=False)
        with _client_must_exist(self):
            _server(self).store.insert_token(_new_token(self, token, None, random_id()))
        return 200, token, self.TOKEN_RESPONSE_HEADER
