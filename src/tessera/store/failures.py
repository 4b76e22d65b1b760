"""Driver failures as Tessera's errors, in one place for every way the store runs SQL."""

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tessera.errors import StoreError, StoreUnavailable, ValueRefused
from tessera.store.db import MissingDatabaseFile

__all__ = ["NO_SCHEMA", "translated"]

NO_SCHEMA = "the database has no Tessera schema: run `tessera db upgrade`"


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn driver failures into Tessera's errors; integrity errors pass through to the caller.

    Losing the database shows up in several ways, all :class:`StoreUnavailable` (HTTP 503): a refused or
    timed-out connection when the pool opens one (``OperationalError``), a connection reset in the middle of
    a statement or at ``COMMIT`` (``OperationalError``; SQLAlchemy then invalidates the pool, so later
    requests reconnect by themselves), a statement on a connection the driver already knows is closed
    (``InterfaceError``), any other driver error SQLAlchemy recognises as a disconnect, and a pool that had
    no connection free in time (``sqlalchemy.exc.TimeoutError``), and a SQLite file that is not there
    (:class:`~tessera.store.db.MissingDatabaseFile`, whose message says to run ``tessera db upgrade``). The
    transaction is rolled back in every case, so nothing half-written stays behind.

    A value the database refuses (``DataError``: PostgreSQL cannot store a NUL in text) is
    :class:`ValueRefused`: the input was at fault, and it is answered 400, not 500.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        if isinstance(exc.orig, MissingDatabaseFile):
            raise StoreUnavailable(str(exc.orig)) from exc
        text = str(exc.orig).lower()
        if "no such table" in text or "does not exist" in text and "relation" in text:
            raise StoreError(NO_SCHEMA) from exc
        raise StoreUnavailable("the database is unavailable") from exc
    except ProgrammingError as exc:
        # PostgreSQL reports a missing table as a programming error: SQLSTATE 42P01 undefined_table
        if getattr(exc.orig, "sqlstate", None) == "42P01":
            raise StoreError(NO_SCHEMA) from exc
        if exc.connection_invalidated:  # SQLite: "Cannot operate on a closed database."
            raise StoreUnavailable("the database connection was lost") from exc
        raise
    except PoolTimeout as exc:
        raise StoreUnavailable("no database connection was free in time") from exc
    except DataError as exc:
        # the kind of error only: the driver's message may quote the value, and values may be anything sent
        sqlstate = getattr(exc.orig, "sqlstate", None)
        kind = type(exc.orig).__name__ + (f", SQLSTATE {sqlstate}" if sqlstate else "")
        raise ValueRefused(f"the database refused a value ({kind})") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable("the database connection was lost") from exc
        raise
