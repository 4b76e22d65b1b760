"""Values that storage hands out and takes in: frozen, typed, and holding digests, never tokens."""

import dataclasses

__all__ = [
    "ActiveToken",
    "ClientRecord",
    "CodeRecord",
    "NewToken",
    "RefreshRecord",
    "ResourceRecord",
    "ScopeRecord",
    "SessionRecord",
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
    #: the resources the person allowed (space-separated URIs), or None
    resources: str | None = None


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
    #: space-separated resource URIs the token is restricted to (RFC 8707), or None
    audience: str | None = None

    @property
    def subject(self) -> str:
        """Introspection's ``sub``: the user's id, or the client's id for a client-credentials token."""
        return self.client_id if self.user_id is None else str(self.user_id)


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
    #: every resource the grant covers (space-separated URIs), or None
    resources: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TokenRef:
    """Enough of a stored token to decide whether a client may revoke it."""

    client_id: str
    grant_id: str


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
