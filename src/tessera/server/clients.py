"""OAuth clients as Authlib sees them, the authentication methods they may use, and the short-lived cache that
keeps client rows off the hot path.

Client secrets are 256-bit random strings minted by the server, stored as SHA-256 and compared in constant
time; a slow KDF would buy nothing for them and cost every ``client_credentials`` call.

A secret rotated with a grace period (``tessera clients rotate-secret --grace``) leaves the previous one working
beside the new one until a set time. That time is compared with the clock at every check, not when the row was
read, so a cached client stops taking its previous secret at that time, whatever the cache holds. A secret
that matches neither is checked once more against the row as it is now: the rotation may have happened in
another process (the CLI) less than the cache's few seconds ago, and the new secret must work at once for a
rotation to mean no outage. A refused secret costs one indexed read, as an unknown client id always did (and,
while the database is away, is answered 503 like any request that needs it, rather than 401).
"""

import threading
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

from tessera.server.loopback import without_port
from tessera.store import ClientRecord
from tessera.tokens import digest, digests_equal

__all__ = [
    "ANY_METHOD",
    "CONFIDENTIAL_METHODS",
    "NONE",
    "PRIVATE_KEY_JWT",
    "SECRET_METHODS",
    "ClientCache",
    "Documents",
    "OAuthClient",
    "is_document_url",
]

#: how confidential clients authenticate with a secret (RFC 6749 §2.3.1); the first is what registration reports
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
#: how a client authenticates with its own key (RFC 7523 §2.2; tessera.server.client_keys)
PRIVATE_KEY_JWT = "private_key_jwt"
#: how confidential clients authenticate, one method per client: a secret, or a key
CONFIDENTIAL_METHODS = (*SECRET_METHODS, PRIVATE_KEY_JWT)
#: how public clients "authenticate": they send their client_id and nothing else (RFC 7591 §2)
NONE = "none"
ANY_METHOD = (*CONFIDENTIAL_METHODS, NONE)


def is_document_url(client_id: str) -> bool:
    """Whether ``client_id`` names a client ID metadata document (:mod:`tessera.server.client_documents`): an
    ``https://`` (or, in development, ``http://``) URL. Ids the server mints never look like one."""
    return client_id.startswith(("https://", "http://"))


class Documents(Protocol):
    """The clients client ID metadata documents describe (:class:`tessera.server.client_documents.ClientDocuments`)."""

    def record(self, url: str) -> ClientRecord: ...

    def forget(self, url: str | None) -> None: ...


#: the digest compared when a client has no previous secret, so that every check compares twice
_NO_DIGEST = "0" * 64


class OAuthClient(ClientMixin):
    """A registered client. Public clients authenticate with ``none`` and nothing else; confidential clients
    never with ``none``, at any endpoint. ``clock`` says when a previous secret stops working; ``reread`` gives
    the row as it is now (the cache's), for a secret that the record held here does not know."""

    __slots__ = ("_clock", "_loopback", "_reread", "record")

    def __init__(
        self,
        record: ClientRecord,
        *,
        clock: Callable[[], float] = time.time,
        reread: Callable[[], ClientRecord | None] | None = None,
    ) -> None:
        self.record = record
        # the registered loopback redirect URIs without their ports, which a request may replace (RFC 8252 §7.3)
        self._loopback = frozenset(filter(None, map(without_port, record.redirect_uris)))
        self._clock = clock
        self._reread = reread

    @property
    def client_id(self) -> str:
        return self.record.client_id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def document_host(self) -> str | None:
        """For a client described by a client ID metadata document, the host (and port) it was fetched from: what
        the server vouches for, which pages show before the name the document gives itself; else ``None``."""
        return urlsplit(self.record.client_id).netloc if is_document_url(self.record.client_id) else None

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 9700 §2.1: no default; the client must always name its redirect URI
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scope narrowed to what the client is registered for; all of it when none is asked for;
        ``None`` (``invalid_scope``) when nothing requested is allowed."""
        registered = self.record.scope.split()
        if not scope:
            return " ".join(registered)
        allowed = set(registered)
        granted = [s for s in dict.fromkeys(scope.split()) if s in allowed]
        return " ".join(granted) if granted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # exact string match, RFC 9700 §4.1.3: no prefix, case folding or normalisation; only a loopback URI's port
        # may differ (tessera.server.loopback), looked at only when the exact match failed and the client has one
        if redirect_uri in self.record.redirect_uris:
            return True
        return bool(self._loopback) and without_port(redirect_uri) in self._loopback

    def check_client_secret(self, client_secret: str) -> bool:
        given = digest(client_secret)
        if self._accepts(self.record, given):
            return True
        fresh = self._reread() if self._reread is not None else None
        return fresh is not None and fresh != self.record and self._accepts(fresh, given)

    def _accepts(self, record: ClientRecord, given: str) -> bool:
        # both digests compared every time, in constant time: how long a check takes says nothing of which matched
        current = digests_equal(record.secret_digest or _NO_DIGEST, given) and record.secret_digest is not None
        previous = digests_equal(record.previous_secret_digest or _NO_DIGEST, given)
        still = record.previous_secret_expires_at is not None and self._clock() < record.previous_secret_expires_at
        return current or (previous and record.previous_secret_digest is not None and still)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.public:
            return method == NONE
        if self.record.auth_method == PRIVATE_KEY_JWT:  # a key, never a secret (it has none)
            return method == PRIVATE_KEY_JWT
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.record.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.record.grant_types


class ClientCache:
    """Clients by id for a few seconds, so the token and introspection endpoints query no client row.

    A change made in this process takes effect at once (storage tells :meth:`forget`), and so does one made by
    another process when Redis carries the change events (:mod:`tessera.server.changes`); without them, within
    ``ttl`` seconds. Unknown ids are not cached, so a new client works at once.

    A ``client_id`` that is a URL is no registered client: ``documents`` says what its client ID metadata document
    describes (and keeps it, for as long as the document allows); with no ``documents`` (the feature off), there
    is no such client, whatever the table holds.
    """

    def __init__(
        self,
        load: Callable[[str], ClientRecord | None],
        ttl: float,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.time,
        documents: Documents | None = None,
    ) -> None:
        self._load = load
        self._documents = documents
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, OAuthClient]] = {}
        self._lock = threading.Lock()

    def get(self, client_id: str) -> OAuthClient | None:
        if is_document_url(client_id):
            if self._documents is None:
                return None
            return OAuthClient(self._documents.record(client_id), clock=self._clock)
        now = time.monotonic()
        hit = self._entries.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = self._load(client_id)
        if record is None:
            self.forget(client_id)
            return None
        client = OAuthClient(record, clock=self._clock, reread=lambda: self._reread(client_id))
        if self._ttl > 0:
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[client_id] = (now + self._ttl, client)
        return client

    def _reread(self, client_id: str) -> ClientRecord | None:
        """The row as it is now, which replaces the cached one."""
        self.forget(client_id)
        client = self.get(client_id)
        return None if client is None else client.record

    def forget(self, client_id: str | None) -> None:
        """Drop the cached copy of ``client_id`` (it changed), or of every client (``None``)."""
        with self._lock:
            if client_id is None:
                self._entries.clear()
            else:
                self._entries.pop(client_id, None)
        if self._documents is not None:
            self._documents.forget(client_id)
