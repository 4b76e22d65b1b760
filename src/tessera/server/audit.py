"""The audit trail: who did what, when, from where. One emitter, :class:`AuditTrail` (``context.audit`` in the
server, :func:`tessera.cli.base.audit_of` in the CLI), called where the thing happens: the grants, the sign-in,
consent and account pages, the revocation paths and the CLI.

Each event is one JSON line on the ``tessera.audit`` logger and one row in ``audit_events``, with the same fields::

    {"time": "2026-12-02T01:02:03.456Z", "event": "token.issued", "outcome": "success", "client_id": "Zx3...",
     "user": "alice", "address": "127.0.0.1", "request_id": "5f1c9a0e3b7d-2a", "reason": null,
     "detail": {"grant_type": "authorization_code", "scope": "api"}}

Never a token, a code, a secret or a password: the callers pass names, ids and scopes, and ``detail`` holds only
short facts (a grant type, a scope, how many tokens were revoked).

**Adding a kind of event** is one line in :class:`Event`, then ``audit.emit(Event.NEW_KIND, ...)`` where it
happens.

**Why the row is not written in the request's own transaction.** The token endpoint is a hot path: one
``INSERT`` per issuance, designed and measured so. Writing the event in the same transaction would add a
statement to every issuance and make the issuance fail whenever the audit row does (a full disk for the audit
table, a lock). So under ``tessera serve`` (:meth:`AuditTrail.start`, called when a worker starts)
:meth:`AuditTrail.emit` builds the event (a few microseconds, no I/O) and queues it; a writer thread logs the
queued events and inserts them, many rows to one statement, every :data:`WRITE_INTERVAL` seconds. The request
never waits for the audit trail and never fails because of it. The price: an event reaches the table a fraction
of a second after the response, and a worker killed with ``SIGKILL`` loses what it had queued (at most
:data:`WRITE_INTERVAL` seconds of events; a graceful stop writes everything). When a batch cannot be written
(the database is away), the events are still on the log, and a warning says how many rows are missing.

Anywhere else (the commands, the tests, ``tessera demo``, the app under another WSGI server) each event is
written at once, in the thread that emits it, after the work it records; a failure to write it is logged and
swallowed there too.
"""

import collections
import enum
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Literal

from tessera.server import requestid
from tessera.server.periodic import Periodic
from tessera.store import AuditEvents, AuditRecord

__all__ = ["WRITE_INTERVAL", "AuditTrail", "Event", "Outcome", "as_json"]

log = logging.getLogger("tessera.audit")
_warn = logging.getLogger("tessera.server.audit")

#: seconds between two batches written by the writer thread
WRITE_INTERVAL = 0.2

Outcome = Literal["success", "failure"]


class Event(enum.StrEnum):
    """Every kind of audit event, by its dotted name. One line adds a kind."""

    SIGN_IN_SUCCEEDED = "user.sign_in.succeeded"
    SIGN_IN_FAILED = "user.sign_in.failed"
    SIGNED_OUT = "user.signed_out"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_DENIED = "consent.denied"
    CONSENT_REVOKED = "consent.revoked"
    TOKEN_ISSUED = "token.issued"
    TOKEN_REFRESHED = "token.refreshed"
    TOKEN_REVOKED = "token.revoked"
    REFRESH_REUSE_DETECTED = "refresh.reuse_detected"
    CODE_REPLAY_DETECTED = "code.replay_detected"
    TOKEN_LEAK_REPORTED = "token.leak_reported"
    CLIENT_CREATED = "client.created"
    CLIENT_REGISTERED = "client.registered"
    CLIENT_UPDATED = "client.updated"
    CLIENT_DELETED = "client.deleted"
    CLIENT_SECRET_ROTATED = "client.secret_rotated"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_DELETED = "user.deleted"
    USER_PASSWORD_CHANGED = "user.password_changed"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def as_json(event: AuditRecord) -> dict[str, object]:
    """The event's fields as the log line and ``tessera audit list --json`` show them."""
    return {
        "time": _iso(event.at),
        "event": event.event,
        "outcome": event.outcome,
        "client_id": event.client_id,
        "user": event.user,
        "address": event.address,
        "request_id": event.request_id,
        "reason": event.reason,
        "detail": event.detail,
    }


class AuditTrail:
    """Emits audit events to the ``tessera.audit`` logger and to ``store`` (``None``: the logger only)."""

    def __init__(self, store: AuditEvents | None, *, enabled: bool = True) -> None:
        self._store = store
        self.enabled = enabled
        self._queue: collections.deque[AuditRecord] = collections.deque()
        self._writer = Periodic(self._write_queued, "tessera-audit")
        self._write_lock = threading.Lock()

    @classmethod
    def off(cls) -> "AuditTrail":
        return cls(None, enabled=False)

    def emit(
        self,
        event: Event,
        *,
        outcome: Outcome = "success",
        client_id: str | None = None,
        user: str | None = None,
        reason: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        """Record ``event``; the request's id and address come from the request being answered, if any. Never
        raises; queued (:meth:`start`), never waits for the database either."""
        if not self.enabled:
            return
        info = requestid.current()
        record = AuditRecord(
            at=time.time(),
            event=event.value,
            outcome=outcome,
            client_id=client_id,
            user=user,
            address=None if info is None else info.address,
            request_id=None if info is None else info.request_id,
            reason=reason,
            detail=dict(detail) if detail else None,
        )
        if self._writer.running:
            self._queue.append(record)
        else:
            with self._write_lock:
                self._write([record])

    def start(self) -> None:
        """Queue events from now on, for a writer thread to write every :data:`WRITE_INTERVAL` seconds."""
        if self.enabled:
            self._writer.start(WRITE_INTERVAL)

    def close(self) -> None:
        """Stop queueing and write every event still queued (a worker that stops gracefully loses nothing)."""
        self._writer.stop()
        self.flush()

    def flush(self) -> None:
        """Write every queued event now, in this thread."""
        queue = self._queue
        with self._write_lock:
            batch: list[AuditRecord] = []
            while queue:
                batch.append(queue.popleft())
            self._write(batch)

    def _write_queued(self) -> None:
        if self._queue:
            self.flush()

    def _write(self, batch: list[AuditRecord]) -> None:
        if not batch:
            return
        if log.isEnabledFor(logging.INFO):
            for record in batch:
                fields = as_json(record)
                line = json.dumps(fields, separators=(",", ":"))
                # made and handled directly: Logger.info would look up its caller's frame, and makeRecord check
                # every key of ``extra`` against the record's attributes
                entry = logging.LogRecord(log.name, logging.INFO, __file__, 0, "%s", (line,), None)
                entry.tessera = fields
                entry.created, entry.msecs = record.at, (record.at % 1) * 1000
                log.handle(entry)
        if self._store is None:
            return
        try:
            self._store.add(batch)
        except Exception as exc:  # the trail never fails the server: the events are on the log
            _warn.warning(
                "could not write %d audit event(s) to the database (%s); they are on the tessera.audit log only",
                len(batch),
                type(exc).__name__,
            )
