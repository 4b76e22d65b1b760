"""Deleting what can no longer be used: ``tessera tokens purge``, and ``tessera serve --purge-interval``.

:func:`purge` deletes, table by table and in batches that each are a short transaction of their own
(:mod:`tessera.store.purge`): token rows that are revoked or expired, unless a refresh token of their family is
still live (a rotated-out refresh token must still be found, so that its reuse revokes the family); authorization
codes and device authorizations a day after they expired; ended and expired sign-in sessions; initial access
tokens that expired or have no use left; clients registered over HTTP (or stored from a client ID metadata
document) that were never used. It runs only while it
holds the purge lock: on PostgreSQL, one purge at a time across every node, and a second one skips.

:class:`Purger` runs it every ``interval`` seconds on a thread of ``tessera serve``'s main process, off the
request path; every node may run one, the lock lets one of them work at a time.
"""

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from tessera.config import Settings
from tessera.store import Budget, Storage

__all__ = ["PurgeReport", "Purger", "purge"]

log = logging.getLogger("tessera.purge")


@dataclasses.dataclass(frozen=True)
class PurgeReport:
    """What one purge did: ``ran`` is False when another purger held the lock; ``finished`` is False when it
    stopped at its deadline (or was stopped) before the end; ``counts`` are the rows deleted, per table."""

    ran: bool
    finished: bool = False
    counts: tuple[tuple[str, int], ...] = ()
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


def purge(store: Storage, settings: Settings, budget: Budget, now: int | None = None) -> PurgeReport:
    """Delete every kind of dead row within ``budget``, holding the purge lock; see the module's docstring."""
    started = time.monotonic()
    at = int(time.time()) if now is None else now
    steps: tuple[tuple[str, Callable[[], int]], ...] = (
        ("tokens", lambda: store.tokens.purge(at, budget)),
        ("authorization codes", lambda: store.tokens.purge_codes(at, budget)),
        ("device authorizations", lambda: store.devices.purge(at, budget)),
        (
            "sessions",
            lambda: store.sessions.purge(
                at, idle_timeout=settings.session_idle_timeout, max_age=settings.session_max_age, budget=budget
            ),
        ),
        ("initial access tokens", lambda: store.registrations.purge_initial(at)),
        ("unused registrations", lambda: store.registrations.purge_unused(at - settings.registration_unused_ttl)),
    )
    counts: list[tuple[str, int]] = []
    with store.purge_lock() as mine:
        if not mine:
            return PurgeReport(ran=False)
        for name, step in steps:
            if budget.spent():
                break
            counts.append((name, step()))
    return PurgeReport(True, not budget.stopped, tuple(counts), time.monotonic() - started)


class Purger:
    """Runs :func:`purge` every ``interval`` seconds on a daemon thread, from :meth:`start` until :meth:`stop`,
    which interrupts a purge between two batches. Each run is logged (``tessera.purge``); one that fails (the
    database is away) is logged and the next is tried an interval later."""

    def __init__(self, store: Storage, settings: Settings, interval: float, *, batch_size: int = 1000) -> None:
        self._store = store
        self._settings = settings
        self._interval = interval
        self._batch_size = batch_size
        self._stop = threading.Event()
        self._budget: Budget | None = None
        self._thread: threading.Thread | None = None
        #: the last run's report (None before the first, or when it failed)
        self.last: PurgeReport | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tessera-purge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        budget = self._budget
        if budget is not None:
            budget.stopped = True  # the purge ends after the batch it is in
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def run_once(self) -> PurgeReport | None:
        self._budget = Budget(self._batch_size, stopped=self._stop.is_set(), pause=self._settings.purge_pause)
        try:
            self.last = report = purge(self._store, self._settings, self._budget)
        except Exception:
            self.last = None
            log.exception("the purge failed; the next one is in %s s", self._interval)
            return None
        finally:
            self._budget = None
        if not report.ran:
            log.info("purge skipped: another process is purging this database")
        else:
            log.info(
                "purged %d row(s) in %.1f s%s: %s",
                report.total,
                report.seconds,
                "" if report.finished else " (stopped before the end)",
                ", ".join(f"{n} {name}" for name, n in report.counts),
            )
        return report

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()
