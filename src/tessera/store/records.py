"""Values that storage hands out and takes in: frozen, typed, and holding digests, never tokens."""

import dataclasses

__all__ = [
    "ActiveToken",
    "ClientRecord",
    "CodeRecord",
    "NewToken",
    "RefreshRecord",
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
    #: the ID token's signing algorithm (``ES256``), or ``None`` for the default, ``RS256``
    id_token_alg: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ScopeRecord:
    """A scope the operator declared: what the consent page says of it, and whether a client registered without
    a scope gets it."""

    name: str
    description: str
    default: bool
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
    #: the authorization request's ``nonce`` (OpenID Connect), and when the person signed in
    nonce: str | None = None
    auth_time: int | None = None


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
    #: when the person signed in (for the ID token of a refresh); ``None`` without a person
    auth_time: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ActiveToken:
    """An unrevoked, unexpired access token as introspection and local validation see it."""

    client_id: str
    user_id: int | None
    username: str | None
    scope: str
    issued_at: int
    expires_at: int
    user_subject: str | None = None

    @property
    def subject(self) -> str:
        """Introspection's ``sub``: the user's subject (the ID token's ``sub``), or the client's id for a
        client-credentials token."""
        if self.user_id is None:
            return self.client_id
        return self.user_subject or ""


@dataclasses.dataclass(frozen=True, slots=True)
class RefreshRecord:
    client_id: str
    user_id: int | None
    scope: str
    grant_id: str
    refresh_expires_at: int
    refresh_used_at: int | None
    revoked_at: int | None
    auth_time: int | None = None


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
