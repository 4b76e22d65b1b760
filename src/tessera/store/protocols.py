"""What each caller needs from storage, as small :class:`~typing.Protocol`\\ s. Callers depend on these, never on
the SQL behind them (:class:`~tessera.store.Store` implements them all):

=================  ===========================================================================================
protocol           used by
=================  ===========================================================================================
:class:`TokenReader`  the resource toolkit's :class:`~tessera.resource.LocalSource`: one read, nothing else
:class:`Tokens`    the grants and the introspection and revocation endpoints; the CLI's revocations and purge
:class:`Clients`   the client cache, client registration, the CLI
:class:`Users`     sign-in, the grants (is the user still active?), account creation, the CLI
:class:`Consents`  the consent page
:class:`Scopes`    the declared scopes: registration, the consent page, the metadata, the CLI
:class:`Resources` the protected resources (RFC 8707): the grants, the consent page, the CLI
:class:`Sessions`  the pages' sign-in sessions; ``tessera tokens purge``
:class:`AuditEvents`  the audit trail's writer; ``tessera audit``
:class:`DeviceAuthorizations`  the device grant (RFC 8628): its endpoint, grant and verification page
:class:`SigningKeys`  the ID-token signing keys (:mod:`tessera.server.keys`), ``tessera keys``
=================  ===========================================================================================

Every method takes and returns digests, never tokens. Methods that revoke return the access-token digests they
revoked, so that callers can tell resource-server caches.
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from tessera.store.purge import Budget
from tessera.store.records import (
    ActiveToken,
    AllowedApp,
    AuditRecord,
    AuditRow,
    ClientRecord,
    CodeRecord,
    DeviceRecord,
    InitialAccessToken,
    NewToken,
    RefreshRecord,
    RegistrationRecord,
    ResourceRecord,
    ScopeRecord,
    SessionRecord,
    SigningKeyRecord,
    TokenRef,
    UserRecord,
)

__all__ = [
    "AuditEvents",
    "Clients",
    "Consents",
    "DeviceAuthorizations",
    "Registrations",
    "Resources",
    "Scopes",
    "Sessions",
    "SigningKeys",
    "Storage",
    "TokenReader",
    "Tokens",
    "Users",
]


class TokenReader(Protocol):
    def active(self, access_digest: str, now: int | None = None) -> ActiveToken | None:
        """The unrevoked, unexpired access token with that digest."""


class Tokens(TokenReader, Protocol):
    def insert(self, token: NewToken) -> None:
        """Store a new token (pair). Raises :class:`~tessera.errors.NotFound` if its client or user is gone."""

    def save_code(self, code: CodeRecord) -> None: ...

    def code(self, code_digest: str) -> CodeRecord | None: ...

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a stored code of the client was issued for a request with this ``nonce``."""

    def redeem_code(self, code_digest: str, token: NewToken) -> bool:
        """Mark the code used and store ``token`` atomically; False (nothing stored) if it was used already."""

    def refresh(self, refresh_digest: str) -> RefreshRecord | None: ...

    def rotate_refresh(self, refresh_digest: str, token: NewToken) -> str | None:
        """Retire the pair and store ``token`` atomically; the retired access digest, or None if already used."""

    def ref(self, token_digest: str, *, refresh: bool) -> TokenRef | None: ...

    def revoke_grant(self, grant_id: str) -> list[str]: ...

    def revoke_for_user(self, username: str) -> list[str]: ...

    def revoke_for_client(self, client_id: str) -> list[str]: ...

    def purge(self, now: int | None = None, budget: Budget | None = None) -> int:
        """Delete, in batches within ``budget``, token rows no longer needed; how many."""

    def purge_codes(self, now: int | None = None, budget: Budget | None = None) -> int:
        """Delete, in batches within ``budget``, authorization codes that expired a day ago; how many."""


class Clients(Protocol):
    def get(self, client_id: str) -> ClientRecord | None: ...

    def all(self) -> list[ClientRecord]: ...

    def create(self, client: ClientRecord) -> None:
        """Raises :class:`~tessera.errors.AlreadyExists` for a taken id."""

    def update(self, client: ClientRecord) -> None:
        """Replace the client's metadata (not its id, secret or creation time)."""

    def set_secret(self, client_id: str, secret_digest: str, *, keep_previous_until: int | None = None) -> None:
        """Give the client a new secret. With ``keep_previous_until`` (Unix seconds) the secret it replaces is
        kept beside it until then; without, only the new one is kept. Raises :class:`~tessera.errors.NotFound`."""

    def delete(self, client_id: str) -> list[str]:
        """Delete the client with its tokens, codes and consents; the revoked access digests."""


class Users(Protocol):
    def create(
        self, username: str, password_hash: str, *, email: str | None = None, name: str | None = None
    ) -> UserRecord:
        """A new user, with a new random ``subject``. Raises :class:`~tessera.errors.AlreadyExists`."""

    def update_profile(self, username: str, **changes: str | None) -> UserRecord:
        """Set ``email`` and/or ``name``; the user as they now are. Raises :class:`~tessera.errors.NotFound`."""

    def by_name(self, username: str) -> UserRecord | None: ...

    def by_id(self, user_id: int) -> UserRecord | None: ...

    def all(self) -> list[UserRecord]: ...

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Store a new hash of the same password (a rehash): nothing else changes."""

    def change_password(self, username: str, password_hash: str) -> list[str]:
        """Set a new password's hash, end every session of the user and revoke every token of theirs, in one
        transaction; the revoked access digests. Raises :class:`~tessera.errors.NotFound` for an unknown user."""

    def rename(self, username: str, new_username: str) -> None:
        """Give the user ``username`` the name ``new_username`` (already checked); NotFound or AlreadyExists."""

    def disable(self, username: str) -> list[str]:
        """Disable the user, end every session and revoke every token of theirs, in one transaction; the revoked
        access digests."""

    def enable(self, username: str) -> None:
        """Let a disabled user sign in again; what disabling ended stays ended. Raises NotFound."""

    def delete(self, username: str) -> list[str]:
        """Delete the user with their sessions, tokens, codes and consents, in one transaction; the access
        digests of the tokens that were still live. Raises :class:`~tessera.errors.NotFound`."""


class Consents(Protocol):
    def get(self, user_id: int, client_id: str) -> str | None:
        """The scope the user has granted the client, if any."""

    def save(self, user_id: int, client_id: str, scopes: Sequence[str], resources: Sequence[str] = ()) -> None:
        """Add ``scopes`` (and ``resources``) to what the user granted the client."""

    def resources(self, user_id: int, client_id: str) -> str | None:
        """The resources (space-separated URIs) the user has allowed the client to reach, if any."""

    def allowed(self, user_id: int) -> list[AllowedApp]:
        """Every client the user has allowed (the account page)."""

    def withdraw(self, user_id: int, client_id: str) -> list[str] | None:
        """Forget the consent and revoke the client's tokens and codes for the user, in one transaction; the revoked
        access digests, or ``None`` when there was no consent."""


class Scopes(Protocol):
    def all(self) -> list[ScopeRecord]:
        """Every declared scope, by name."""

    def names(self) -> list[str]:
        """Every declared scope's name, sorted: one small read."""

    def described(self, names: Collection[str]) -> dict[str, str]:
        """The description of each of ``names`` that is declared, in one read."""

    def get(self, name: str) -> ScopeRecord | None: ...

    def create(self, scope: ScopeRecord) -> None:
        """Raises :class:`~tessera.errors.AlreadyExists` for a declared name."""

    def update(self, name: str, *, description: str | None = None, default: bool | None = None) -> ScopeRecord:
        """Change what is given (``None`` keeps it); the scope as it now is. NotFound for an unknown name."""

    def delete(self, name: str, check: Callable[[Mapping[str, tuple[str, ...]]], None]) -> list[str]:
        """In one transaction: call ``check`` with the clients holding the scope (id -> every scope it holds),
        which raises to change nothing; remove the scope from those clients and from every remembered consent;
        delete it. The ids of the clients changed. NotFound for an unknown name."""


class Resources(Protocol):
    def all(self) -> list[ResourceRecord]:
        """Every registered resource, by URI."""

    def find(self, uris: Collection[str]) -> dict[str, ResourceRecord]:
        """Those of ``uris`` that are registered, by URI, in one read."""

    def create(self, resource: ResourceRecord) -> None:
        """Raises :class:`~tessera.errors.AlreadyExists` for a registered URI."""

    def delete(self, uri: str) -> None:
        """Raises :class:`~tessera.errors.NotFound` for an unknown URI."""


class Registrations(Protocol):
    """Clients registered over HTTP (RFC 7591, RFC 7592) and the initial access tokens that allow it."""

    def create_initial(self, token: InitialAccessToken) -> None: ...

    def initial_usable(self, digest: str, now: int) -> bool:
        """Whether the initial access token with that digest exists, has a use left and has not expired."""

    def register(
        self, client: ClientRecord, registration: RegistrationRecord, *, initial: str | None, now: int
    ) -> None:
        """Store both in one transaction, spending one use of the initial access token ``initial`` (a digest);
        :class:`PermissionError`, and nothing stored, if it has none left."""

    def by_token(self, token_digest: str) -> RegistrationRecord | None: ...

    def by_client(self, client_id: str) -> RegistrationRecord | None: ...

    def update(self, client: ClientRecord, method: str) -> None:
        """Replace the client's metadata (as :meth:`Clients.update`) and its registered authentication method, in
        one transaction. Raises :class:`~tessera.errors.NotFound`."""

    def purge_unused(self, registered_before: int) -> int:
        """Delete clients registered over HTTP before then that have no token, code or consent; how many."""

    def purge_initial(self, now: int) -> int:
        """Delete initial access tokens that expired or have no use left; how many."""


class Sessions(Protocol):
    def start(self, session: SessionRecord) -> None:
        """Store a new session. Raises :class:`~tessera.errors.NotFound` if its user is gone."""

    def find(self, digest: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session with that digest and its user, in one indexed read, whatever its state."""

    def seen(self, digest: str, now: int) -> None:
        """Move the session's "last seen" to ``now`` (unless it was ended)."""

    def delete(self, digest: str) -> None:
        """Forget the session (signing out); nothing happens if there is none."""

    def purge(self, now: int, *, idle_timeout: int, max_age: int, budget: Budget | None = None) -> int:
        """Delete ended sessions and those past either lifetime, in batches within ``budget``; how many."""


class AuditEvents(Protocol):
    def add(self, rows: Sequence[AuditRow]) -> None:
        """Store ``rows``, all or none, in one transaction."""

    def list(
        self, *, user: str | None = None, client_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """The newest ``limit`` events matching every filter given, newest first."""

    def purge(self, before: float) -> int:
        """Delete events older than ``before`` (Unix seconds); how many."""


class DeviceAuthorizations(Protocol):
    def create(self, device: DeviceRecord) -> None:
        """Raises :class:`~tessera.errors.AlreadyExists` if the user code is taken, NotFound if the client is gone."""

    def get(self, device_digest: str) -> DeviceRecord | None:
        """By the device code's digest, whatever its state: one indexed read."""

    def by_user_code(self, user_code_digest: str) -> DeviceRecord | None: ...

    def decide(self, device_digest: str, user_id: int, *, scope: str | None, now: int) -> bool:
        """Approve with ``scope``, or deny with ``None``, a pending and unexpired one; False if it is not."""

    def redeem(self, device_digest: str, token: NewToken) -> bool:
        """Mark the approved device code used and store ``token`` atomically; False if it was used already."""

    def purge(self, now: int | None = None, budget: Budget | None = None) -> int:
        """Delete, in batches within ``budget``, those that expired a day ago; how many."""


class SigningKeys(Protocol):
    def all(self) -> list[SigningKeyRecord]:
        """Every key, oldest first."""

    def version(self) -> tuple[tuple[str, str], ...]:
        """(kid, state) of every key: changes whenever a key is added, retired or dropped."""

    def add(self, key: SigningKeyRecord, *, retire_others: bool) -> None:
        """Store a key; with ``retire_others`` retire the other active keys of its algorithm, atomically."""

    def purge_retired(self, before: int) -> int:
        """Delete keys retired before ``before``; how many."""


class Storage(Protocol):
    """All of it, as the server's context holds it."""

    @property
    def tokens(self) -> Tokens: ...

    @property
    def clients(self) -> Clients: ...

    @property
    def users(self) -> Users: ...

    @property
    def consents(self) -> Consents: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def scopes(self) -> Scopes: ...

    @property
    def audit(self) -> AuditEvents: ...

    @property
    def devices(self) -> DeviceAuthorizations: ...

    @property
    def signing_keys(self) -> SigningKeys: ...

    @property
    def resources(self) -> Resources: ...

    @property
    def registrations(self) -> Registrations: ...

    def ping(self) -> None:
        """Raise :class:`~tessera.errors.StoreUnavailable` unless the database answers."""

    def purge_lock(self) -> AbstractContextManager[bool]:
        """Whether this process may purge now (see :func:`tessera.store.purge.purge_lock`): held until the block
        ends; False while another process, on any node, purges the same database."""
