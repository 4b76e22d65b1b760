"""Values that storage hands out and takes in: frozen, typed, and holding digests, never tokens."""

import dataclasses
from typing import Any

__all__ = [
    "ActiveToken",
    "AllowedApp",
    "AuditRecord",
    "AuditRow",
    "ClientRecord",
    "CodeRecord",
    "DeviceRecord",
    "NewToken",
    "RefreshRecord",
    "ResourceRecord",
    "ScopeRecord",
    "SessionRecord",
    "SigningKeyRecord",
    "TokenRef",
    "UserRecord",
]


@dataclasses.dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    disabled: bool
    created_at: int
    #: OpenID Connect's ``sub``: random, unique, never reassigned; the same in introspection
    subject: str = ""
    email: str | None = None
    name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    secret_digest: str | None
    name: str
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    scope: str
    public: bool
    may_introspect: bool
    created_at: int
    #: the secret before the last rotation with a grace period, and until when (Unix seconds) it still works
    previous_secret_digest: str | None = None
    previous_secret_expires_at: int | None = None
    #: every token request must carry a DPoP proof (RFC 9449)
    require_dpop: bool = False
    #: ``private_key_jwt`` for a client that authenticates with its key (None: a secret, or none if public)
    auth_method: str | None = None
    #: the client's public keys (a JWKS), or where to fetch them, for ``private_key_jwt``
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    #: the ID token's signing algorithm (``ES256``), or ``None`` for the default, ``RS256``
    id_token_alg: str | None = None
    #: where the end-session endpoint may send people after sign-out (RP-Initiated Logout 1.0 §3.1)
    post_logout_redirect_uris: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ScopeRecord:
    """A scope the operator declared: what the consent page says of it, and whether a client registered without
    a scope gets it."""

    name: str
    description: str
    default: bool
    created_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceRecord:
    """A protected resource (an API) the operator registered (RFC 8707): tokens may be restricted to it. ``scope``
    is what such a token may carry at most (space-separated), ``None`` for whatever the client holds."""

    uri: str
    name: str
    scope: str | None
    created_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class CodeRecord:
    digest: str
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    grant_id: str
    expires_at: int
    used_at: int | None = None
    #: the DPoP key thumbprint the code is bound to (``dpop_jkt`` at the authorization endpoint)
    dpop_jkt: str | None = None

    #: the authorization request's ``nonce`` (OpenID Connect), and when the person signed in
    nonce: str | None = None
    auth_time: int | None = None

    #: the resources the person allowed (space-separated URIs), or None
    resources: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A device authorization (RFC 8628 §3.2): ``digest`` is the SHA-256 of the device code, ``user_code_digest``
    that of the user code in its normal form (eight letters, no dash). ``scope`` is what the device asked for,
    narrowed to the client's scope, and once approved what the person granted. Each of ``approved_at``,
    ``denied_at`` and ``used_at`` is set at most once; ``user_id`` is who approved or denied."""

    digest: str
    user_code_digest: str
    client_id: str
    scope: str
    grant_id: str
    created_at: int
    expires_at: int
    user_id: int | None = None
    approved_at: int | None = None
    denied_at: int | None = None
    used_at: int | None = None

    @property
    def pending(self) -> bool:
        """Nobody has approved or denied it yet."""
        return self.approved_at is None and self.denied_at is None


@dataclasses.dataclass(frozen=True, slots=True)
class NewToken:
    """A token pair about to be stored."""

    access_digest: str
    refresh_digest: str | None
    client_id: str
    user_id: int | None
    scope: str
    grant_id: str
    issued_at: int
    expires_at: int
    refresh_expires_at: int | None
    #: the thumbprint of the DPoP key the pair is bound to (RFC 9449), or None for a bearer token
    dpop_jkt: str | None = None
    #: when the person signed in (for the ID token of a refresh); ``None`` without a person
    auth_time: int | None = None
    #: the access token's audience, space-separated resource URIs (RFC 8707); None: no audience
    audience: str | None = None
    #: every resource the grant covers, which a refresh may ask for again
    resources: str | None = None
    #: the scope the refresh token keeps when ``scope`` was narrowed to the audience; None: ``scope``
    grant_scope: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ActiveToken:
    """An unrevoked, unexpired access token as introspection and local validation see it."""

    client_id: str
    user_id: int | None
    username: str | None
    scope: str
    issued_at: int
    expires_at: int
    #: the thumbprint of the DPoP key the token is bound to (introspection's ``cnf.jkt``), or None
    jkt: str | None = None
    user_subject: str | None = None
    #: space-separated resource URIs the token is restricted to (RFC 8707), or None
    audience: str | None = None

    @property
    def subject(self) -> str:
        """Introspection's ``sub``: the user's subject (the ID token's ``sub``), or the client's id for a
        client-credentials token."""
        if self.user_id is None:
            return self.client_id
        return self.user_subject or ""


@dataclasses.dataclass(frozen=True, slots=True)
class RefreshRecord:
    """A refresh token's row; ``scope`` is what the refresh token carries (the grant's scope)."""

    client_id: str
    user_id: int | None
    scope: str
    grant_id: str
    refresh_expires_at: int
    refresh_used_at: int | None
    revoked_at: int | None
    #: the thumbprint of the DPoP key the pair was bound to, or None
    dpop_jkt: str | None = None
    auth_time: int | None = None
    #: every resource the grant covers (space-separated URIs), or None
    resources: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TokenRef:
    """Enough of a stored token to decide whether a client may revoke it, and whose it is (for the audit trail)."""

    client_id: str
    grant_id: str
    username: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRecord:
    """A person's sign-in to the pages. ``digest`` is the SHA-256 of the secret in their cookie; ``sid`` is a
    public identifier of the session, never the secret. Times are Unix seconds: ``created_at`` starts the
    absolute lifetime, ``auth_time`` is when the person last proved who they are (signing in), ``last_seen``
    when a page last saw the session (written at most once a minute), ``ended_at`` when it was ended for them
    (their account disabled, their password changed)."""

    digest: str
    sid: str
    user_id: int
    created_at: int
    auth_time: int
    last_seen: int
    ended_at: int | None = None

    def usable(self, now: int, *, idle_timeout: int, max_age: int) -> bool:
        """Not ended, seen less than ``idle_timeout`` seconds ago, signed in less than ``max_age`` seconds ago.
        :meth:`~tessera.store.sessions.SessionTable.purge` deletes exactly the sessions this refuses."""
        return self.ended_at is None and now < self.last_seen + idle_timeout and now < self.created_at + max_age


@dataclasses.dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit event, as the ``tessera.audit`` logger writes it and the ``audit_events`` table keeps it.

    ``at``: Unix seconds; ``event``: a dotted name (``token.issued``); ``outcome``: ``success`` or ``failure``;
    ``user``: a username; ``address``: the client's IP address; ``reason``: why it failed; ``detail``: a few
    more facts (a grant type, a scope, how many tokens), never a token, secret or password."""

    at: float
    event: str
    outcome: str
    client_id: str | None = None
    user: str | None = None
    address: str | None = None
    request_id: str | None = None
    reason: str | None = None
    detail: dict[str, object] | None = None


#: One audit event as :meth:`~tessera.store.protocols.AuditEvents.add` takes it, in the table's column order: ``at``,
#: ``event``, ``outcome``, ``client_id``, ``user``, ``address``, ``request_id``, ``reason``, and ``detail`` as JSON
#: text. A tuple, not an :class:`AuditRecord`: the writer makes one per event, and the JSON of ``detail`` is made
#: once, for the log line and the row.
AuditRow = tuple[float, str, str, str | None, str | None, str | None, str | None, str | None, str | None]


@dataclasses.dataclass(frozen=True, slots=True)
class AllowedApp:
    """A client a person has allowed, as their account page shows it. Times are Unix seconds."""

    client_id: str
    name: str
    scope: str
    granted_at: int
    #: when a token was last issued to the client for the person (``None``: none on record)
    last_used: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """An ID-token signing key as stored: ``public_jwk`` in clear, the private JWK only encrypted
    (:mod:`tessera.server.keys`). ``state`` is ``active`` or ``retired``; times are Unix seconds."""

    kid: str
    alg: str
    state: str
    created_at: int
    retired_at: int | None
    public_jwk: dict[str, object]
    encrypted_private_key: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class RegistrationRecord:
    """A client registered over HTTP: the digest of its registration access token and the authentication
    method it registered with (``none``, ``client_secret_basic`` or ``client_secret_post``)."""

    client_id: str
    token_digest: str
    token_endpoint_auth_method: str
    created_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class InitialAccessToken:
    """An initial access token, by digest: ``uses_left`` ``None`` for any number, ``expires_at`` ``None`` for
    never."""

    digest: str
    uses_left: int | None
    expires_at: int | None
    created_at: int
