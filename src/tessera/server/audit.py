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
:meth:`AuditTrail.emit` queues the event as a tuple (under a microsecond, no I/O); a writer thread makes each
queued event's row and log line from it, logs the lines and inserts the rows, many to one statement, every
:data:`WRITE_INTERVAL` seconds. The lines go through :func:`tessera.logs.log_fields`: when nothing but the stderr
handler of ``tessera serve`` would see them (no handler or filter added on ``tessera.audit``, the loggers above
it or that handler), the batch's lines are written to stderr in one ``write``, byte for byte what the handler
would have written, without making a log record; otherwise each event is one record through ``logging``, so
whatever was added sees every one. The request never waits for the audit trail and
never fails because of it. The price: an event reaches the table a fraction of a second after the response, and
a worker killed with ``SIGKILL`` loses what it had queued or was writing (at most :data:`WRITE_INTERVAL` seconds
of events, rows and lines; a graceful stop writes everything). When a batch cannot be written
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
from collections.abc import Callable, Mapping
from typing import Literal

from tessera.logs import Fields, iso_time, json_string, log_fields
from tessera.server import requestid
from tessera.server.periodic import Periodic
from tessera.store import AuditEvents, AuditRecord, AuditRow

__all__ = ["WRITER_THREAD", "WRITE_INTERVAL", "AuditTrail", "Event", "Outcome", "as_json"]

log = logging.getLogger("tessera.audit")
_warn = logging.getLogger("tessera.server.audit")

#: seconds between two batches written by the writer thread
WRITE_INTERVAL = 0.2
#: the writer thread's name
WRITER_THREAD = "tessera-audit"

Outcome = Literal["success", "failure"]

# what emit queues: time, event, outcome, client_id, user, address, request_id, reason, detail's items (a tuple,
# which is also the key its JSON text is kept under)
_Items = tuple[tuple[str, object], ...]
_Queued = tuple[float, str, str, str | None, str | None, str | None, str | None, str | None, _Items | None]


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
    KEY_ROTATED = "key.rotated"


def as_json(event: AuditRecord) -> dict[str, object]:
    """The event's fields as the log line and ``tessera audit list --json`` show them."""
    return {
        "time": iso_time(event.at),
        "event": event.event,
        "outcome": event.outcome,
        "client_id": event.client_id,
        "user": event.user,
        "address": event.address,
        "request_id": event.request_id,
        "reason": event.reason,
        "detail": event.detail,
    }


_detail_encoder = json.JSONEncoder(separators=(",", ":")).encode  # made once: json.dumps(separators=) makes one a call
_details: dict[_Items, str] = {}  # detail's JSON by its items: a few kinds recur endlessly


def _detail_json(items: _Items) -> str:
    """The JSON text of the ``detail`` whose items are ``items``, when :data:`_details` does not have it yet. One
    whose values are all strings (a grant type and a scope, ``via``) is kept there, so that the next is looked up
    (the encoder costs several times the look-up); only those, so that a key made of other values (``True``
    equals ``1``) never finds another's text."""
    encoded = _detail_encoder(dict(items))
    if all(type(value) is str for _, value in items):
        if len(_details) >= 1024:  # many distinct scopes: start again rather than grow
            _details.clear()
        _details[items] = encoded
    return encoded


class _Quoted(dict[str | None, str]):
    """Strings as JSON text (``None`` as ``null``), each encoded once: an event's names, its client, user and
    address recur from one event to the next, and the look-up costs a fraction of :func:`json_string`'s call.
    Started again rather than grown past 4096."""

    def __missing__(self, value: str) -> str:
        if len(self) >= 4096:
            self.clear()
            self[None] = "null"
        text = self[value] = json_string(value)
        return text


_quoted = _Quoted({None: "null"})


class AuditTrail:
    """Emits audit events to the ``tessera.audit`` logger and to ``store`` (``None``: the logger only)."""

    def __init__(self, store: AuditEvents | None, *, enabled: bool = True) -> None:
        self._store = store
        self.enabled = enabled
        self._queue: collections.deque[_Queued] = collections.deque()
        self._writer = Periodic(self._write_queued, WRITER_THREAD)
        self._write_lock = threading.Lock()
        self._put: Callable[[_Queued], None] = self._write_now  # the queue's append once started

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
        raises; queued (:meth:`start`), never waits for the database either.

        What the request pays is a tuple on a queue; the writer makes the log line and the row from it."""
        if not self.enabled:
            return
        info = requestid.current()
        queued: _Queued = (
            time.time(),
            event._value_,  # what .value returns, without the property's call
            outcome,
            client_id,
            user,
            None if info is None else info.address,
            None if info is None else info.request_id,
            reason,
            tuple(detail.items()) if detail else None,  # a copy, as the caller's dict may change after
        )
        self._put(queued)

    def _write_now(self, queued: _Queued) -> None:
        with self._write_lock:
            self._write([queued])

    def start(self) -> None:
        """Queue events from now on, for a writer thread to write every :data:`WRITE_INTERVAL` seconds."""
        if self.enabled:
            self._put = self._queue.append
            self._writer.start(WRITE_INTERVAL)

    def close(self) -> None:
        """Stop queueing and write every event still queued (a worker that stops gracefully loses nothing)."""
        self._put = self._write_now
        self._writer.stop()
        self.flush()

    def flush(self) -> None:
        """Write every queued event now, in this thread."""
        queue = self._queue
        with self._write_lock:
            batch: list[_Queued] = []
            while queue:
                batch.append(queue.popleft())
            self._write(batch)

    def _write_queued(self) -> None:
        if self._queue:
            self.flush()

    def _write(self, queued: list[_Queued]) -> None:
        if not queued:
            return
        # the row, with ``detail`` as JSON text, and the log line's fields made from it: the two carry the same
        # fields. One loop, every value encoded inline (a function call per value was a fifth of the line's cost),
        # the values that recur (event, client, user, address) looked up (json_string's call cost as much again).
        logged = log.isEnabledFor(logging.INFO)
        rows: list[AuditRow] = []
        lines: list[Fields] = []
        details, quoted, add_row, add_line, text = _details, _quoted, rows.append, lines.append, json_string
        for at, event, outcome, client_id, user, address, request_id, reason, items in queued:
            detail: str | None = None
            if items is not None:
                try:
                    detail = details[items]
                except (KeyError, TypeError):  # TypeError: a value that cannot be a key (a list)
                    detail = _detail_json(items)
            add_row((at, event, outcome, client_id, user, address, request_id, reason, detail))
            if logged:
                add_line((at, (
                    f'"event":{quoted[event]},"outcome":{quoted[outcome]},"client_id":{quoted[client_id]},'
                    f'"user":{quoted[user]},"address":{quoted[address]},'
                    f'"request_id":{"null" if request_id is None else text(request_id)},'  # one per request
                    f'"reason":{quoted[reason]},"detail":{"null" if detail is None else detail}'
                )))  # fmt: skip
        if logged:
            log_fields(log, logging.INFO, lines)
        if self._store is None:
            return
        try:
            self._store.add(rows)
        except Exception as exc:  # the trail never fails the server: the events are on the log
            _warn.warning(
                "could not write %d audit event(s) to the database (%s); they are on the tessera.audit log only",
                len(rows),
                type(exc).__name__,
            )
