"""Device authorizations, RFC 8628: created by the device authorization endpoint, found by the verification page
by user code, decided once by a person, redeemed once by the device.

Every step that may happen only once is one conditional statement: a decision is
``UPDATE ... WHERE approved_at IS NULL AND denied_at IS NULL AND expires_at > now``, and redeeming is
``UPDATE ... WHERE used_at IS NULL AND approved_at IS NOT NULL`` followed by the token's ``INSERT`` in the same
transaction, so that however many polls race on one approved device code, exactly one gets a token, on SQLite and
on PostgreSQL. A poll reads its row by the primary key in one statement (prebuilt: the token endpoint is hot).
"""

import dataclasses
import time

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from tessera.errors import AlreadyExists, NotFound
from tessera.store.database import Database
from tessera.store.models import device_authorizations as _devices
from tessera.store.purge import Budget, delete_in_batches
from tessera.store.records import DeviceRecord, NewToken
from tessera.store.tokens import INSERT_TOKEN, token_values

__all__ = ["DEVICE_STATEMENTS", "DeviceTable"]

_COLUMNS = tuple(f.name for f in dataclasses.fields(DeviceRecord))
_BY_DIGEST = select(*(_devices.c[name] for name in _COLUMNS)).where(_devices.c.digest == bindparam("digest"))
_CLAIM = (
    update(_devices)
    .where(
        _devices.c.digest == bindparam("digest"),
        _devices.c.used_at.is_(None),
        _devices.c.approved_at.is_not(None),
    )
    .values(used_at=bindparam("at"))
)
#: what :class:`~tessera.store.database.Database` prebuilds: the poll's read and the redemption's claim
DEVICE_STATEMENTS = (_BY_DIGEST, _CLAIM)


class DeviceTable:
    """:class:`~tessera.store.protocols.DeviceAuthorizations` over the ``device_authorizations`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, device: DeviceRecord) -> None:
        """Store a new device authorization. :class:`~tessera.errors.AlreadyExists` if its user code is taken
        (the caller draws another), :class:`~tessera.errors.NotFound` if its client is gone."""
        try:
            with self._db.write() as conn:
                conn.execute(insert(_devices).values(dataclasses.asdict(device)))
        except IntegrityError:
            if self.by_user_code(device.user_code_digest) is not None:
                raise AlreadyExists("that user code is taken") from None
            raise NotFound("the client of this device authorization no longer exists") from None

    def get(self, device_digest: str) -> DeviceRecord | None:
        """The device authorization with that device code's digest, whatever its state: one indexed read."""
        with self._db.hot() as run:
            row = run(_BY_DIGEST, {"digest": device_digest}).fetchone()
        return None if row is None else DeviceRecord(*row)

    def by_user_code(self, user_code_digest: str) -> DeviceRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(*(_devices.c[name] for name in _COLUMNS)).where(_devices.c.user_code_digest == user_code_digest)
            ).one_or_none()
        return None if row is None else DeviceRecord(*row)

    def decide(self, device_digest: str, user_id: int, *, scope: str | None, now: int) -> bool:
        """Approve (``scope``: what was granted) or deny (``scope`` ``None``) a pending, unexpired device
        authorization, as ``user_id``. False, changing nothing, if it was decided already or has expired."""
        changes: dict[str, object] = {"user_id": user_id}
        if scope is None:
            changes["denied_at"] = now
        else:
            changes.update(approved_at=now, scope=scope)
        with self._db.write() as conn:
            done = conn.execute(
                update(_devices)
                .where(
                    _devices.c.digest == device_digest,
                    _devices.c.approved_at.is_(None),
                    _devices.c.denied_at.is_(None),
                    _devices.c.expires_at > now,
                )
                .values(changes)
            )
        return done.rowcount == 1

    def redeem(self, device_digest: str, token: NewToken) -> bool:
        """Mark the approved device code used and store ``token``, in one transaction; False (nothing stored)
        if it was used already."""
        try:
            with self._db.hot(transaction=True) as run:
                if run(_CLAIM, {"digest": device_digest, "at": token.issued_at}).rowcount != 1:
                    return False
                run(INSERT_TOKEN, token_values(token))
        except IntegrityError:
            raise NotFound("the client or user of this token no longer exists") from None
        return True

    def purge(self, now: int | None = None, budget: Budget | None = None) -> int:
        """Delete device authorizations that expired more than a day ago (until then a late poll is told
        ``expired_token``), in batches; how many."""
        cutoff = (int(time.time()) if now is None else now) - 86_400
        return delete_in_batches(self._db, _devices, lambda d: d.c.expires_at <= cutoff, budget or Budget())
