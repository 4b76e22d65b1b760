"""The grants Tessera offers, on Authlib: authorization code with S256 PKCE, refresh with rotation, and
client credentials. Authlib runs the protocol; these classes say where things are stored and make the
one-time steps atomic.

* A code is redeemed and its tokens stored in one transaction guarded by ``used_at IS NULL`` (RFC 6749
  §4.1.2): a second redemption, or the loser of a race, gets ``invalid_grant`` and revokes what the code
  produced.
* A refresh token rotates on every use (RFC 9700 §4.14.2); presenting a used one revokes the whole family.
* A device code (RFC 8628 §3.4) answers ``authorization_pending``, ``slow_down``, ``expired_token`` or
  ``access_denied`` until it has been approved, then one token response, atomically as a code is redeemed: of
  any number of polls racing on it, one gets the token and the others ``invalid_grant``. A poll costs one
  indexed read (and, while pending, a look at when the device last polled, kept beside the rate limits).

Both are checked against the authenticated client first: only the client a code or refresh token was issued to
can set off its revocation. Another client presenting it gets ``invalid_grant`` and revokes nothing, or any
client holding someone else's used token could end that user's live session with the owning client.

Every grant takes a DPoP proof (RFC 9449 §5) when the request carries one (:mod:`tessera.server.dpop` checks it):
the access token is then bound to the proof's key (``token_type: DPoP``, the key's thumbprint stored with it),
and so is a public client's refresh token, which then refreshes only with a proof by the same key (§5, a
confidential client's refresh token is bound to its authentication instead). A client registered with
``--require-dpop`` gets nothing without a proof; a code bound with ``dpop_jkt`` (§10) is redeemed only with a
proof by that key.

Every grant reaches the server's context as ``self.context`` (see :class:`_Grant`). Each counts what it issued
(``tessera_tokens_issued_total``) and writes the audit event (``token.issued``, ``token.refreshed``,
``refresh.reuse_detected``, ``code.replay_detected``) where it happens: after the token is stored, or when the
reuse is found.

Resources (RFC 8707, :mod:`tessera.server.resources`): ``resource`` at the authorization endpoint (repeatable)
says which registered APIs the authorization covers; the code, and every token pair of the grant, keep them. At the
token endpoint one ``resource`` narrows the access token to one of them (for client credentials: to any
registered resource); without one, the access token is for all of them. Either way its scope is narrowed to what
its resources take, while the refresh token keeps the grant's scope and resources for the next refresh. A resource
that is not registered, or not covered by the grant, is ``invalid_target``. No resource, no audience, and no
extra read: the token endpoint's hot path is as it was.
"""

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any, cast

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceCodeGrant as _DeviceCodeGrant

from tessera.dpop import Proof, is_thumbprint
from tessera.errors import NotFound
from tessera.server.audit import Event
from tessera.server.authorization import TesseraServer
from tessera.server.clients import ANY_METHOD, CONFIDENTIAL_METHODS, OAuthClient
from tessera.server.context import ServerContext
from tessera.server.dpop import InvalidDPoPProofError
from tessera.server.errors import InvalidTargetError
from tessera.server.openid import OpenIDCodeExtension, OpenIDRefreshExtension
from tessera.server.resources import narrowed, normal_uri, targets
from tessera.store import CodeRecord, DeviceRecord, NewToken, RefreshRecord, ResourceRecord, UserRecord
from tessera.tokens import MalformedToken, TokenKind, digest, mint, parse, random_id

__all__ = [
    "GRANTS",
    "GRANT_TYPES",
    "Approval",
    "AuthorizationCodeGrant",
    "ClientCredentialsGrant",
    "DEVICE_POLL_INTERVAL",
    "DPoPCodeBinding",
    "DeviceCodeGrant",
    "RefreshTokenGrant",
    "S256CodeChallenge",
]


@dataclasses.dataclass(frozen=True)
class Approval:
    """What a person allowed on the consent page: the ``grant_user`` the pages hand to Authlib, which gives it
    to :meth:`AuthorizationCodeGrant.save_authorization_code` as ``request.user``."""

    user: UserRecord
    scope: str
    #: when the person last signed in (their session's), for the ID token's ``auth_time``
    auth_time: int | None = None
    #: the resources (RFC 8707) the person allowed the client to reach
    resources: tuple[ResourceRecord, ...] = ()


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


class DPoPCodeBinding:
    """``dpop_jkt`` at the authorization endpoint (RFC 9449 §10): the code is bound to the key with that
    thumbprint. A value that cannot be a SHA-256 thumbprint is ``invalid_request``, sent to the redirect URI."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate_dpop_jkt)

    def validate_dpop_jkt(self, grant: Any, redirect_uri: object) -> None:
        jkt = grant.request.payload.data.get("dpop_jkt")
        if jkt is not None and not is_thumbprint(jkt):
            raise InvalidRequestError("'dpop_jkt' must be the base64url SHA-256 thumbprint of a key (RFC 7638).")


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

    # what Authlib's OpenID Connect extension reads (authlib.oidc.core.AuthorizationCodeMixin)

    def get_nonce(self) -> str | None:
        return self.record.nonce

    def get_auth_time(self) -> int | None:
        return self.record.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


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


class _Grant(BaseGrant, TokenEndpointMixin):
    """What every Tessera grant shares: the typed way to its server's context, and how tokens are stored."""

    server: TesseraServer
    request: Any
    #: the request's DPoP proof, once :meth:`validate_token_request` has checked it
    proof: Proof | None = None

    @property
    def context(self) -> ServerContext:
        return self.server.context

    def _issued(self, event: Event, token: dict[str, Any], user: UserRecord | None) -> None:
        """Count the issuance and audit it: the grant type and the scope, never the token."""
        context, client_id, grant_type = self.context, self.request.client.client_id, self.GRANT_TYPE or ""
        context.metrics.token_issued(grant_type)
        detail = {"grant_type": grant_type, "scope": token.get("scope", "")}
        context.audit.emit(event, client_id=client_id, user=None if user is None else user.username, detail=detail)

    def _replayed(self, event: Event, client_id: str, grant_id: str, user_id: int | None, reason: str) -> None:
        """A one-time credential presented again: revoke its family, count and audit it."""
        context = self.context
        revoked = context.revocations.revoke_grant(grant_id)
        user = None if user_id is None else context.store.users.by_id(user_id)
        if event is Event.REFRESH_REUSE_DETECTED:
            context.metrics.refresh_reuse()
        context.audit.emit(
            event,
            outcome="failure",
            client_id=client_id,
            user=None if user is None else user.username,
            reason=reason,
            detail={"revoked": len(revoked)},
        )

    def validate_token_request(self) -> None:
        """Authlib's checks (the client first), then the DPoP proof, if any, then what it must bind to."""
        super().validate_token_request()
        request = self.request
        self.proof = self.context.dpop.proof(
            request.headers.get("DPoP"), method=request.method, url=request.uri, now=self.context.clock()
        )
        if self.proof is None and request.client.record.require_dpop:
            raise InvalidDPoPProofError("This client must send a DPoP proof with every token request.")
        self.validate_binding(self.proof)

    def validate_binding(self, proof: Proof | None) -> None:
        """Refuse a proof (or its absence) that the code or refresh token presented is bound against."""

    def _bound_to(self, jkt: str | None, proof: Proof | None, what: str) -> None:
        if jkt is None:
            return
        if proof is None:
            raise InvalidDPoPProofError(f"This {what} is bound to a DPoP key: send a proof made with it.")
        if proof.jkt != jkt:
            raise InvalidGrantError(f"This {what} is bound to another DPoP key.")

    def _active_user(self, user_id: int | None) -> UserRecord | None:
        user = None if user_id is None else self.context.store.users.by_id(user_id)
        return None if user is None or user.disabled else user

    def _target(self, covered: tuple[str, ...] | None) -> tuple[ResourceRecord, ...]:
        """The access token's audience: the ``resource`` the request names, which must be one of ``covered`` (any
        registered resource if ``covered`` is None), else every resource of ``covered``; each still registered."""
        asked = self.request.payload.data.get("resource")
        if asked is None:
            uris: tuple[str, ...] = covered or ()
        elif covered is None or normal_uri(asked) in covered:
            uris = (asked,)
        else:
            raise InvalidTargetError("The requested resource is not covered by this grant.")
        return targets(uris, self.context.store.resources)

    def _scope_for(self, scope: str | None, audience: tuple[ResourceRecord, ...]) -> tuple[str, str]:
        """The grant's scope (``scope`` as the client may have it) and the access token's (narrowed to what its
        ``audience`` takes); ``invalid_scope`` if nothing is left of either."""
        full = self.request.client.get_allowed_scope(scope)
        if full is None:
            raise InvalidScopeError("None of the requested scopes is allowed for this client.")
        scope = narrowed(full, audience)
        if not scope:
            raise InvalidScopeError("None of the granted scopes is for the requested resource.")
        return full, scope

    def _new_token(
        self,
        token: dict[str, Any],
        user_id: int | None,
        grant_id: str,
        *,
        auth_time: int | None = None,
        audience: tuple[ResourceRecord, ...] = (),
        resources: tuple[str, ...] = (),
        grant_scope: str | None = None,
    ) -> NewToken:
        now = self.context.now()
        refresh = token.get("refresh_token")
        scope = token.get("scope", "")
        if self.proof is not None:
            token["token_type"] = "DPoP"  # RFC 9449 §5: the access token is bound to the proof's key
        return NewToken(
            access_digest=digest(token["access_token"]),
            refresh_digest=digest(refresh) if refresh else None,
            client_id=self.request.client.client_id,
            user_id=user_id,
            scope=scope,
            grant_id=grant_id,
            issued_at=now,
            expires_at=now + int(token["expires_in"]),
            refresh_expires_at=now + self.context.settings.refresh_token_ttl if refresh else None,
            dpop_jkt=None if self.proof is None else self.proof.jkt,
            auth_time=auth_time,
            audience=" ".join(r.uri for r in audience) or None,
            resources=" ".join(resources) or None,
            grant_scope=grant_scope if grant_scope != scope else None,
        )

    def _continue_grant(
        self, user: Any, record: CodeRecord | RefreshRecord, scope: str, *, include_refresh_token: bool
    ) -> tuple[dict[str, Any], NewToken]:
        """The tokens a code or a refresh token of ``record``'s grant gives ``user`` for ``scope``: for the
        resources the grant covers (narrowed by a ``resource`` of this request), with the grant's ``auth_time``."""
        covered = tuple((record.resources or "").split())
        audience = self._target(covered)
        full, narrowed_scope = self._scope_for(scope, audience)
        token = self.generate_token(user=user, scope=narrowed_scope, include_refresh_token=include_refresh_token)
        new = self._new_token(
            token,
            user.id,
            record.grant_id,
            auth_time=record.auth_time,
            audience=audience,
            resources=covered,
            grant_scope=full,
        )
        return token, new

    @contextlib.contextmanager
    def _client_must_exist(self) -> Iterator[None]:
        """The client was deleted after this process cached it: forget it and refuse, as any unknown client."""
        try:
            yield
        except NotFound:
            self.context.clients.forget(self.request.client.client_id)
            raise InvalidClientError(status_code=401, description="The client does not exist on this server.") from None


class AuthorizationCodeGrant(_Grant, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(ANY_METHOD)

    #: the resources the request names (RFC 8707), once :meth:`validate_authorization_request` has run
    resources: tuple[ResourceRecord, ...] = ()

    def generate_authorization_code(self) -> str:
        return mint(TokenKind.CODE)

    def validate_authorization_request(self) -> str:
        """Authlib's checks, then the ``resource`` parameters: each registered, the scope narrowed to what they
        take (so the consent page asks for no more than the token may carry). An error goes to the client."""
        redirect_uri: str = super().validate_authorization_request()
        try:
            self.resources = targets(self.request.payload.datalist.get("resource", []), self.context.store.resources)
            scope = narrowed(self.request.scope or "", self.resources)
            if not scope:
                raise InvalidScopeError("None of the requested scopes is for the requested resources.")
            self.request.scope = scope
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            error.state = self.request.payload.state
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        approval: Approval = request.user
        data = request.payload.data
        self.context.store.tokens.save_code(
            CodeRecord(
                digest=digest(code),
                client_id=request.client.client_id,
                user_id=approval.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=approval.scope,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                grant_id=random_id(),
                expires_at=self.context.now() + self.context.settings.code_ttl,
                dpop_jkt=data.get("dpop_jkt"),
                nonce=data.get("nonce") or None,
                auth_time=approval.auth_time,
                resources=" ".join(r.uri for r in approval.resources) or None,
            )
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> _Code | None:
        try:
            parse(code, TokenKind.CODE)
        except MalformedToken:
            return None
        record = self.context.store.tokens.code(digest(code))
        if record is None or record.client_id != client.client_id:
            return None
        if record.used_at is not None:  # replay: RFC 6749 §4.1.2
            self._replayed(
                Event.CODE_REPLAY_DETECTED, client.client_id, record.grant_id, record.user_id, "code already used"
            )
            return None
        if record.expires_at <= self.context.clock():
            return None
        return _Code(record)

    def validate_binding(self, proof: Proof | None) -> None:
        self._bound_to(self.request.authorization_code.record.dpop_jkt, proof, "code")

    def authenticate_user(self, authorization_code: _Code) -> UserRecord | None:
        return self._active_user(authorization_code.record.user_id)

    @hooked  # runs "after_create_token_response": the OpenID Connect extension adds the ID token there
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: _Code = self.request.authorization_code
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("The user of this code is no longer active.")
        self.request.user = user
        client: OAuthClient = self.request.client
        token, new = self._continue_grant(
            user, code.record, code.record.scope, include_refresh_token=client.check_grant_type("refresh_token")
        )
        with self._client_must_exist():
            redeemed = self.context.store.tokens.redeem_code(code.record.digest, new)
        if not redeemed:
            self._replayed(
                Event.CODE_REPLAY_DETECTED, client.client_id, code.record.grant_id, user.id, "code used concurrently"
            )
            raise InvalidGrantError("The code has already been used.")
        self._issued(Event.TOKEN_ISSUED, token, user)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(_Grant, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(ANY_METHOD)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _Refresh | None:
        try:
            parse(refresh_token, TokenKind.REFRESH)
        except MalformedToken:
            return None
        token_digest = digest(refresh_token)
        record = self.context.store.tokens.refresh(token_digest)
        # another client's token is simply not valid here: checked before reuse, so that no client can revoke
        # a grant it does not hold by presenting a used token it got hold of (as query_authorization_code does)
        if record is None or record.client_id != self.request.client.client_id:
            return None
        if record.refresh_used_at is not None:  # reuse: RFC 9700 §4.14.2
            self._replayed(
                Event.REFRESH_REUSE_DETECTED,
                record.client_id,
                record.grant_id,
                record.user_id,
                "refresh token already used",
            )
            return None
        if record.revoked_at is not None or (record.refresh_expires_at or 0) <= self.context.clock():
            return None
        return _Refresh(token_digest, record)

    def validate_binding(self, proof: Proof | None) -> None:
        # a public client's refresh token is bound to the key (RFC 9449 §5); a confidential client's to its
        # authentication, so it may refresh with another key or none and get a token bound to what it sent
        if self.request.client.record.public:
            self._bound_to(self.request.refresh_token.record.dpop_jkt, proof, "refresh token")

    def authenticate_user(self, refresh_token: _Refresh) -> UserRecord | None:
        return self._active_user(refresh_token.record.user_id)

    @hooked
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        old: _Refresh = self.request.refresh_token
        user = self.authenticate_user(old)
        if user is None:
            raise InvalidGrantError("The user of this token is no longer active.")
        self.request.user = user
        token, new = self._continue_grant(
            user,
            old.record,
            self.request.payload.scope or old.record.scope,
            include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN,
        )
        with self._client_must_exist():
            retired = self.context.store.tokens.rotate_refresh(old.digest, new)
        if retired is None:
            reason = "refresh token used concurrently"
            self._replayed(Event.REFRESH_REUSE_DETECTED, old.record.client_id, old.record.grant_id, user.id, reason)
            raise InvalidGrantError("The refresh token has already been used.")
        self.context.revocations.announce([retired])  # the old access token dies with its refresh token
        self._issued(Event.TOKEN_REFRESHED, token, user)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class ClientCredentialsGrant(_Grant, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError("None of the requested scopes is allowed for this client.")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        audience = self._target(None)
        _, scope = self._scope_for(self.request.payload.scope, audience)
        token = self.generate_token(scope=scope, include_refresh_token=False)
        new = self._new_token(token, None, random_id(), audience=audience, resources=tuple(r.uri for r in audience))
        with self._client_must_exist():
            self.context.store.tokens.insert(new)
        self._issued(Event.TOKEN_ISSUED, token, None)
        return 200, token, self.TOKEN_RESPONSE_HEADER


#: seconds a device waits between polls (RFC 8628 §3.2's default), until told ``slow_down``
DEVICE_POLL_INTERVAL = 5


class _Device:
    """A stored device authorization as Authlib's DeviceCredentialMixin expects it."""

    __slots__ = ("now", "record")

    def __init__(self, record: DeviceRecord, now: int) -> None:
        self.record = record
        self.now = now

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_scope(self) -> str:
        return self.record.scope

    def get_user_code(self) -> str:
        # Authlib hands this to query_user_grant, which reads the decision from the record already in hand
        return self.record.user_code_digest

    def is_expired(self) -> bool:
        return self.record.expires_at <= self.now


class DeviceCodeGrant(_Grant, _DeviceCodeGrant):
    """RFC 8628 §3.4, §3.5: the device polls with its device code. The code is bound to its client: another
    client's, an unknown, malformed or used one is ``invalid_grant`` (and revokes nothing: a device that polls
    once more after its token is no thief)."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(ANY_METHOD)
    #: the device authorization this poll is about (Authlib asks for its decision by user code)
    _polled: _Device

    def authenticate_token_endpoint_client(self) -> OAuthClient:
        # the server's query_client only ever returns an OAuthClient
        client = cast(OAuthClient, super().authenticate_token_endpoint_client())
        self.request.client = client  # query_device_credential checks the code against it
        return client

    def query_device_credential(self, device_code: str) -> _Device:
        try:
            parse(device_code, TokenKind.DEVICE)
        except MalformedToken:
            raise InvalidGrantError("The device code is not valid.") from None
        record = self.context.store.devices.get(digest(device_code))
        if record is None or record.client_id != self.request.client.client_id:
            raise InvalidGrantError("The device code is not valid.")
        if record.used_at is not None:
            raise InvalidGrantError("The device code has already been used.")
        return _Device(record, self.context.now())

    def query_user_grant(self, user_code: str) -> tuple[UserRecord | None, bool] | None:
        record = self._polled.record
        if record.denied_at is not None:
            return None, False
        if record.approved_at is None:
            return None
        user = self._active_user(record.user_id)
        if user is None:
            raise InvalidGrantError("The user who approved this device is no longer active.")
        return user, True

    def should_slow_down(self, credential: _Device) -> bool:
        record = credential.record
        # remembered while the code lives, and an interval's worth beyond: a late poll still has its pace
        ttl = max(1, record.expires_at - credential.now) + DEVICE_POLL_INTERVAL
        return bool(
            self.context.rate_limits.device_poll(record.digest[:32], DEVICE_POLL_INTERVAL, self.context.clock(), ttl)
        )

    def validate_device_credential(self, credential: _Device) -> Any:
        self._polled = credential
        return super().validate_device_credential(credential)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        device: _Device = self.request.credential
        user: UserRecord = self.request.user
        client: OAuthClient = self.request.client
        token = self.generate_token(
            user=user, scope=device.record.scope, include_refresh_token=client.check_grant_type("refresh_token")
        )
        with self._client_must_exist():
            redeemed = self.context.store.devices.redeem(
                device.record.digest, self._new_token(token, user.id, device.record.grant_id)
            )
        if not redeemed:
            raise InvalidGrantError("The device code has already been used.")
        self._issued(Event.TOKEN_ISSUED, token, user)
        return 200, token, self.TOKEN_RESPONSE_HEADER


#: every grant the server offers, with its extensions, in the order they are registered
GRANTS: tuple[tuple[type[BaseGrant], list[Any]], ...] = (
    (AuthorizationCodeGrant, [S256CodeChallenge(required=True), DPoPCodeBinding(), OpenIDCodeExtension()]),
    (RefreshTokenGrant, [OpenIDRefreshExtension()]),
    (ClientCredentialsGrant, []),
    (DeviceCodeGrant, []),
)
#: the grant types a client may be registered for
GRANT_TYPES = tuple(grant.GRANT_TYPE for grant, _ in GRANTS if grant.GRANT_TYPE)
