"""Deleting dead rows in bounded batches, and one purge at a time across every node.

A purge of millions of rows in one ``DELETE`` holds its row locks, and on SQLite the database's only write lock,
until it commits: every token request waits behind it. :func:`delete_in_batches` walks the table in the order
of its primary key instead, ``size`` keys at a time, and deletes the dead rows of each window in its own short
transaction::

    window  = the next `size` keys after the last window (read from the primary-key index)
    DELETE FROM t WHERE key IN (SELECT key FROM t WHERE key in window AND dead FOR UPDATE SKIP LOCKED)

So each statement looks at no more than ``size`` rows however many are dead, and the whole walk reads the table
once. On PostgreSQL a row that a request is updating at that moment is skipped rather than waited for (``SKIP
LOCKED``); it is dead on the next run. On SQLite (which ignores ``FOR UPDATE``) each batch is one ``BEGIN
IMMEDIATE`` transaction, so requests that write wait at most one batch. A purge stopped at any point (its time is
up, the process is killed) has deleted whole batches only, and the next one carries on: nothing it deletes can
come back to life.

:func:`purge_lock` lets one purger at a time run against a PostgreSQL database: a session-level advisory lock
(``pg_try_advisory_lock``) on a connection of its own, held for the whole run and released at its end, or by the
server when the process dies. A purger that does not get it skips its turn. SQLite lives on one host and takes
one writer at a time, so purgers there need no lock: two at once only share the work.
"""

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator

from sqlalchemy import Column, ColumnElement, Engine, FromClause, Table, delete, select, text

from tessera.store.database import Database
from tessera.store.failures import translated

__all__ = ["PURGE_LOCK_KEY", "Budget", "delete_in_batches", "purge_lock"]

#: the advisory lock's key (a bigint: ``SELECT pg_try_advisory_lock(...)``); 'tspurge1' in ASCII
PURGE_LOCK_KEY = 0x7473_7075_7267_6531


@dataclasses.dataclass
class Budget:
    """How a purge may spend its time: ``batch_size`` rows looked at per transaction, an optional ``deadline``
    (``time.monotonic()``) after which no new batch starts, and a ``pause`` in seconds after each batch, which
    leaves the database's CPU to requests for that long. ``stopped`` says it ran out."""

    batch_size: int = 1000
    deadline: float | None = None
    stopped: bool = False
    pause: float = 0.0

    @classmethod
    def for_seconds(cls, batch_size: int, seconds: float | None, pause: float = 0.0) -> "Budget":
        return cls(batch_size, None if seconds is None else time.monotonic() + seconds, pause=pause)

    def spent(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped = True
        return self.stopped


#: the dead rows' condition, over the alias of the table that the batch's subquery reads
Dead = Callable[[FromClause], ColumnElement[bool]]


def delete_in_batches(db: Database, table: Table, dead: Dead, budget: Budget) -> int:
    """Delete the rows of ``table`` for which ``dead`` holds, a window of ``budget.batch_size`` primary keys per
    transaction, until the end of the table or the budget's deadline; how many were deleted."""
    (key,) = table.primary_key.columns
    doomed = table.alias("doomed")
    doomed_key: Column[object] = doomed.c[key.name]
    removed = 0
    after: object = None
    while not budget.spent():
        window = select(doomed_key).order_by(doomed_key).offset(budget.batch_size - 1).limit(1)
        if after is not None:
            window = window.where(doomed_key > after)
        with db.read() as conn:
            end = conn.execute(window).scalar_one_or_none()
        rows = select(doomed_key).where(dead(doomed)).with_for_update(skip_locked=True)
        if after is not None:
            rows = rows.where(doomed_key > after)
        if end is not None:
            rows = rows.where(doomed_key <= end)
        with db.write() as conn:
            removed += conn.execute(delete(table).where(key.in_(rows))).rowcount
        if end is None:
            break
        after = end
        if budget.pause:
            time.sleep(budget.pause)
    return removed


@contextlib.contextmanager
def purge_lock(engine: Engine) -> Iterator[bool]:
    """Whether this process may purge now: on PostgreSQL, whether it took the purge's advisory lock (held until
    the block ends); on SQLite, always."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with translated(), engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        taken = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": PURGE_LOCK_KEY}).scalar_one())
        try:
            yield taken
        finally:
            if taken:
                # if the connection broke meanwhile, the server has released the lock with the session
                with contextlib.suppress(Exception):
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PURGE_LOCK_KEY})
