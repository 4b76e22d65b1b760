"""Values that storage hands out and takes in: frozen, typed, and holding digests, never tokens."""

import dataclasses

__all__ = ["ActiveToken", "ClientRecord", "CodeRecord", "NewToken", "RefreshRecord", "TokenRef", "UserRecord"]


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


@dataclasses.dataclass(frozen=True, slots=True)
class ActiveToken:
    """An unrevoked, unexpired access token as introspection and local validation see it."""

    client_id: str
    user_id: int | None
    username: str | None
    scope: str
    issued_at: int
    expires_at: int

    @property
    def subject(self) -> str:
        """Introspection's ``sub``: the user's id, or the client's id for a client-credentials token."""
        return self.client_id if self.user_id is None else str(self.user_id)


@dataclasses.dataclass(frozen=True, slots=True)
class RefreshRecord:
    client_id: str
    user_id: int | None
    scope: str
    grant_id: str
    refresh_expires_at: int
    refresh_used_at: int | None
    revoked_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class TokenRef:
    """Enough of a stored token to decide whether a client may revoke it."""

    client_id: str
    grant_id: str
