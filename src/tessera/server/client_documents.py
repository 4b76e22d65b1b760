"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; the MCP authorization spec of
2025-11-25 names them): a client whose ``client_id`` is an ``https://`` URL, where it publishes its own metadata
as JSON. Nobody registers it: the server fetches the document when the client comes, and the client is what the
document says, within the policy for clients registered over HTTP.

On with ``TESSERA_CLIENT_ID_METADATA=on`` (the metadata then says ``client_id_metadata_document_supported``).
The rules:

- the URL: ``https://``, with a path other than ``/``, no ``.`` or ``..`` segment, no user, query or fragment, at
  most :data:`MAX_URL` characters; outside production also ``http://`` on ``127.0.0.1``, ``[::1]`` or
  ``localhost``, so a client can be tried on one machine;
- the fetch (:mod:`tessera.server.fetch`): at most :data:`MAX_DOCUMENT` bytes (5 KiB, as the draft suggests),
  within 3 seconds, no redirect followed, ``application/json``; in production the host must resolve to public
  addresses only, and the connection goes to the address that was checked;
- the document: a JSON object whose ``client_id`` is the URL, character for character; no ``client_secret``;
  ``token_endpoint_auth_method`` ``none`` (or absent): the client is public and must use PKCE; then the policy of
  registration over HTTP (:func:`tessera.server.dynamic.check_metadata`): ``redirect_uris`` required,
  ``https://``, loopback ``http://`` (any port, RFC 8252 §7.3) or a private-use scheme; grant types
  ``authorization_code`` and ``refresh_token``; scopes within ``TESSERA_REGISTRATION_SCOPES`` (others dropped);
  ``client_name`` shown on the consent page only beside the document's host, which is what the server vouches for;
  ``logo_uri`` and the other URLs are never fetched or shown.

The client is kept as a row in ``clients`` whose ``client_id`` is the URL, created when the document is first
fetched and updated when a fetch finds it changed (each written to the audit trail as ``client.registered`` or
``client.updated`` ``via`` ``metadata document``), so that tokens, consents, ``/account``, the audit trail and
``tessera tokens revoke --client URL`` treat it as any other client. The row is never trusted on its own: with
the feature off, or with no usable document, the client does not exist.

The document is kept in the process for as long as its ``Cache-Control: max-age`` says, within
:data:`MIN_TTL` (a minute) and :data:`MAX_TTL` (a day); ``no-store``, ``no-cache`` or no ``max-age``: a minute.
When it is due to be fetched again and that fetch fails, the client is refused, even with a copy in hand: the
document is the client's registration, and one that cannot be read now is not vouched for (the client's host is
down, so is the client). A change to the row in another process (a ``tessera clients delete``) drops the copy.

Each fetch costs a worker thread up to 3 seconds, and anyone can name a URL, so fetches are bounded twice: a
document that could not be used is remembered as such for :data:`FAILED_TTL` seconds (the same URL named again
meanwhile is refused without a fetch), and each client address may make a process fetch documents it does not
hold at most ``TESSERA_CLIENT_DOCUMENT_LIMIT`` times (``30/minute;300/hour``; shared through Redis when
configured). Fetching again a document that is due is not counted: the client is known.

A document that cannot be used is a :class:`ClientDocumentError` (``invalid_client``): an error page at the
authorization endpoint, never a redirect (429 with ``Retry-After`` when the address is over its limit); 401 at the
token endpoint.
"""

import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidClientError

from tessera.config import Settings, is_loopback
from tessera.errors import AlreadyExists, InvalidClientMetadata, InvalidRedirectUri, NotFound
from tessera.ratelimit import RateLimits
from tessera.server import requestid
from tessera.server.audit import AuditTrail, Event
from tessera.server.clients import NONE
from tessera.server.fetch import BoundedFetcher, FetchError
from tessera.server.registration import (
    ClientChanges,
    ClientMetadata,
    check_redirect_uri,
    register_client,
    update_client,
)
from tessera.server.scopes import catalogue
from tessera.store import ClientRecord, Clients, Scopes

__all__ = [
    "FAILED_TTL",
    "MAX_DOCUMENT",
    "MAX_TTL",
    "MAX_URL",
    "MIN_TTL",
    "ClientDocumentError",
    "ClientDocuments",
    "cache_ttl",
    "check_document_url",
]

#: the largest document accepted, in bytes
MAX_DOCUMENT = 5 * 1024
#: the longest client_id URL accepted (the clients table's column)
MAX_URL = 255
#: how long a fetched document is used, at least and at most, whatever its Cache-Control says (seconds)
MIN_TTL = 60
MAX_TTL = 86_400
#: documents kept per process
MAX_ENTRIES = 1000
#: how long a document that could not be used is refused without being fetched again (seconds)
FAILED_TTL = 30
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:[,=]|$)", re.IGNORECASE)


class ClientDocumentError(InvalidClientError):
    """A ``client_id`` URL whose document cannot be used: the client is refused (``invalid_client``).
    ``reason`` is in the server's own words, never the document's, and is what the error page shows;
    ``description`` may add what the document said, for the client's developer."""

    status_code = 401

    def __init__(self, reason: str, detail: str | None = None, *, retry_after: int | None = None) -> None:
        self.reason = reason
        self.detail = detail
        #: set when the client address fetched too many documents: seconds until it may try again
        self.retry_after = retry_after
        text = f"The client's metadata document cannot be used: {reason}" + (f" ({detail})" if detail else "")
        from tessera.server.dynamic import safe_description

        super().__init__(description=safe_description(text.rstrip(".") + "."), status_code=401)


def check_document_url(url: str, *, production: bool) -> None:
    """Raise :class:`ClientDocumentError` unless ``url`` may name a client ID metadata document (see the module)."""
    if len(url) > MAX_URL:
        raise ClientDocumentError(f"its URL is longer than {MAX_URL} characters")
    try:
        check_redirect_uri(url, production=production)  # the same parser-agreement rules as a redirect URI
        parts = urlsplit(url)
    except (InvalidRedirectUri, ValueError):
        raise ClientDocumentError("the client_id is not a URL this server reads") from None
    host = parts.hostname or ""
    if parts.scheme != "https" and (production or not is_loopback(host)):
        raise ClientDocumentError("its URL must be https:// (http:// only on loopback, in development)")
    if parts.query or "?" in url:
        raise ClientDocumentError("its URL must have no query")
    segments = parts.path.split("/")[1:]
    if not parts.path.startswith("/") or parts.path == "/" or any(s in (".", "..") for s in segments):
        raise ClientDocumentError("its URL must have a path, other than '/', without '.' or '..' segments")


def cache_ttl(cache_control: str) -> int:
    """How long a document is kept (see the module), from its ``Cache-Control`` header.

    >>> cache_ttl("public, max-age=3600"), cache_ttl("max-age=5"), cache_ttl("no-store"), cache_ttl("")
    (3600, 60, 60, 60)
    """
    if _NO_STORE.search(cache_control):
        return MIN_TTL
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return MIN_TTL
    return max(MIN_TTL, min(MAX_TTL, int(match.group(1))))


_V = TypeVar("_V")


def _bounded(entries: dict[str, _V], url: str, value: _V, live: Callable[[_V], bool]) -> dict[str, _V]:
    """``entries`` with ``url`` set to ``value``, never more than :data:`MAX_ENTRIES` of them: when full, the entries
    no longer ``live`` go first, then the oldest."""
    if url not in entries and len(entries) >= MAX_ENTRIES:
        entries = {k: v for k, v in entries.items() if live(v)}
        while len(entries) >= MAX_ENTRIES:
            del entries[next(iter(entries))]
    entries[url] = value
    return entries


@dataclasses.dataclass(frozen=True)
class _Kept:
    record: ClientRecord
    #: what the document said, to store again if the row went (a ``tessera clients delete`` elsewhere)
    wanted: ClientMetadata
    #: until when the document is used, and until when the row is taken to be there without a read
    until: float
    checked_until: float


class ClientDocuments:
    """The clients that client ID metadata documents describe, fetched, checked, stored and kept (see the
    module). :meth:`record` is what the client cache (:class:`tessera.server.clients.ClientCache`) asks for a
    ``client_id`` that is a URL."""

    def __init__(
        self,
        settings: Settings,
        *,
        clients: Clients,
        scopes: Scopes,
        fetcher: BoundedFetcher | None = None,
        clock: Callable[[], float] = time.time,
        audit: AuditTrail | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self._settings = settings
        self._rate_limits = rate_limits
        self._audit = audit or AuditTrail.off()
        self._clients = clients
        self._scopes = scopes
        self._fetcher = fetcher or BoundedFetcher(refuse_private=settings.production)
        self._clock = clock
        self._kept: dict[str, _Kept] = {}
        #: documents that could not be used: until when, and why
        self._failed: dict[str, tuple[float, ClientDocumentError]] = {}
        self._lock = threading.Lock()

    def record(self, url: str) -> ClientRecord:
        """The client ``url`` names, as its document says now; :class:`ClientDocumentError` if there is none."""
        now = self._clock()
        kept = self._kept.get(url)
        if kept is not None and kept.until > now:
            if kept.checked_until > now:
                return kept.record
            # the row may have gone or changed in another process: read it, as the client cache would
            record = self._store(url, kept.wanted)
            self._keep(url, _Kept(record, kept.wanted, kept.until, now + self._settings.client_cache_ttl))
            return record
        check_document_url(url, production=self._settings.production)
        failed = self._failed.get(url)
        if failed is not None and failed[0] > now:
            raise ClientDocumentError(failed[1].reason, failed[1].detail)  # a new one: no traceback piling up
        if kept is None:
            self._count_fetch()
        try:
            wanted, ttl = self._fetch(url)
        except ClientDocumentError as exc:
            self._remember_failure(url, now + FAILED_TTL, exc)
            raise
        record = self._store(url, wanted)
        self._keep(url, _Kept(record, wanted, now + ttl, now + self._settings.client_cache_ttl))
        return record

    def _keep(self, url: str, kept: _Kept) -> None:
        now = self._clock()
        with self._lock:
            self._kept = _bounded(self._kept, url, kept, lambda entry: entry.until > now)

    def _count_fetch(self) -> None:
        """Count a fetch of a document this process does not hold against the requesting address's limit."""
        if self._rate_limits is None:
            return
        info = requestid.current()
        verdict = self._rate_limits.client_document_fetch(None if info is None else info.address)
        if not verdict.allowed:
            raise ClientDocumentError(
                f"this address has asked for too many new metadata documents; try again in {verdict.retry_after} "
                "seconds",
                retry_after=verdict.retry_after,
            )

    def _remember_failure(self, url: str, until: float, error: ClientDocumentError) -> None:
        now = self._clock()
        with self._lock:
            self._failed = _bounded(self._failed, url, (until, error), lambda entry: entry[0] > now)

    def forget(self, url: str | None) -> None:
        """Drop the kept copy of ``url`` (its row changed), or of every document (``None``)."""
        with self._lock:
            if url is None:
                self._kept.clear()
            else:
                self._kept.pop(url, None)

    def _fetch(self, url: str) -> tuple[ClientMetadata, int]:
        """The client the document describes, as the policy lets it be stored, and how long to keep it."""
        try:
            fetched = self._fetcher.get(url, max_bytes=MAX_DOCUMENT, what="the document")
        except FetchError as exc:
            raise ClientDocumentError("it could not be fetched", str(exc)) from None
        if fetched.content_type != "application/json":
            raise ClientDocumentError("it is not served as application/json")
        try:
            document = json.loads(fetched.body)
        except (ValueError, RecursionError):
            raise ClientDocumentError("it is not JSON") from None
        if not isinstance(document, dict):
            raise ClientDocumentError("it is not a JSON object")
        if document.get("client_id") != url:
            raise ClientDocumentError("its client_id is not the URL it was fetched from")
        if "client_secret" in document or "client_secret_expires_at" in document:
            raise ClientDocumentError("it holds a client secret, which a metadata document must not")
        method = document.get("token_endpoint_auth_method", NONE)
        if method != NONE:
            raise ClientDocumentError("its token_endpoint_auth_method must be 'none' (a public client with PKCE)")
        # an unnamed client is named after the host the server fetched it from, which is what it vouches for
        unnamed = {"client_name": urlsplit(url).netloc}
        try:
            from tessera.server.dynamic import check_metadata  # with Authlib's RFC 7591 module, at the first

            metadata = check_metadata(self._settings, self._scopes, {**unnamed, **document})
        except OAuth2Error as exc:
            raise ClientDocumentError("it breaks this server's policy for clients", exc.description) from None
        wanted = ClientMetadata(
            name=metadata["client_name"],
            redirect_uris=tuple(metadata["redirect_uris"]),
            grant_types=tuple(metadata["grant_types"]),
            scope=metadata["scope"],
            public=True,
        )
        return wanted, cache_ttl(fetched.cache_control)

    def _store(self, url: str, wanted: ClientMetadata) -> ClientRecord:
        """The client's row, created or brought up to date with ``wanted``."""
        production = self._settings.production
        try:
            current = self._clients.get(url)
            if current is None:
                try:
                    scopes = catalogue(self._scopes)
                    record = register_client(
                        self._clients, wanted, scopes=scopes, production=production, client_id=url, clock=self._clock
                    ).record
                    detail = {"via": "metadata document", "name": record.name, "method": NONE}
                    self._audit.emit(Event.CLIENT_REGISTERED, client_id=url, detail=detail)
                    return record
                except AlreadyExists:  # another request stored it first: bring that row up to date
                    current = self._clients.get(url)
                    if current is None:
                        raise NotFound(url) from None
            if not current.public:
                raise ClientDocumentError("a confidential client of this server has that client_id")
            if _same(current, wanted):
                return current
            changes = ClientChanges(
                name=wanted.name, redirect_uris=wanted.redirect_uris, grant_types=wanted.grant_types, scope=wanted.scope
            )
            record = update_client(self._clients, url, changes, scopes=catalogue(self._scopes), production=production)
            self._audit.emit(Event.CLIENT_UPDATED, client_id=url, detail={"via": "metadata document"})
            return record
        except (InvalidClientMetadata, NotFound) as exc:
            raise ClientDocumentError("it breaks this server's policy for clients", str(exc)) from None


def _same(record: ClientRecord, wanted: ClientMetadata) -> bool:
    return (record.name, record.redirect_uris, record.grant_types, record.scope) == (
        wanted.name,
        wanted.redirect_uris,
        wanted.grant_types,
        wanted.scope,
    )
