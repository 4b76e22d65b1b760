"""Changes made elsewhere, heard at once: every server process drops its cached copy of a client, a user or a
signing key as soon as any process (another node, the CLI) changes it.

    >>> changes = Changes()
    >>> changes.on("client", context.clients.forget)            # doctest: +SKIP
    >>> changes.follow(settings)                                 # doctest: +SKIP

Storage tells the process that made a change (:meth:`tessera.store.Store.listen`); with ``TESSERA_REDIS_URL`` it
is also published on the changes stream (:mod:`tessera.events`), which a thread of every server process reads
(:class:`tessera.streams.StreamFollower`) and hands to the handlers registered here. A handler is called with the
id of what changed, or with ``None`` for "everything" when events may have been missed (the reader started, or
fell behind the stream's retention).

Without Redis, or while it is away, other processes see a change when their cached copy expires: the client cache
keeps a row :attr:`tessera.config.Settings.client_cache_ttl` seconds (5).

A new kind of cached thing (signing keys) is one name in :data:`tessera.events.CHANGE_KINDS` and one
``changes.on(kind, forget)`` where its cache is built.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from tessera.config import Settings
from tessera.events import CHANGE_KINDS, Changed, MalformedEvent, changes_stream, decode_entry

if TYPE_CHECKING:
    from tessera.streams import StreamFollower

__all__ = ["Changes", "Forget"]

log = logging.getLogger("tessera.events")

#: drop the cached copy of this id, or of everything (``None``)
Forget = Callable[[str | None], None]


class Changes:
    """The handlers of each kind of change, and the thread that hears changes made by other processes."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Forget]] = {kind: [] for kind in CHANGE_KINDS}
        self._follower: StreamFollower | None = None

    def on(self, kind: str, forget: Forget) -> None:
        """Call ``forget(id)`` when ``kind`` ``id`` changes anywhere (``forget(None)``: forget them all)."""
        if kind not in self._handlers:
            raise ValueError(f"unknown change kind {kind!r}: add it to tessera.events.CHANGE_KINDS")
        self._handlers[kind].append(forget)

    def __call__(self, kind: str, id: str | None) -> None:
        """A change, heard from storage in this process or from the stream."""
        for forget in self._handlers.get(kind, ()):
            forget(id)

    def forget_everything(self, why: str = "") -> None:
        for kind in self._handlers:
            self(kind, None)

    def follow(self, settings: Settings) -> None:
        """Start the thread that reads the changes stream (``TESSERA_REDIS_URL`` must be set)."""
        if settings.redis_url is None:
            raise ValueError("following changes needs TESSERA_REDIS_URL")
        from tessera.streams import StreamFollower  # imports redis: only a server with Redis pays for it

        follower = StreamFollower(
            settings.redis_url,
            changes_stream(settings.redis_prefix),
            apply=self._apply,
            reset=self.forget_everything,
            logger=log,
            name="tessera-changes",
        )
        follower.start()
        self._follower = follower

    def stop(self) -> None:
        follower = self._follower
        if follower is not None:
            follower.stop()
            self._follower = None

    @property
    def following(self) -> bool:
        """Whether changes made by other processes are being heard right now."""
        return self._follower is not None and self._follower.connected

    def _apply(self, entries: list[tuple[str, dict[bytes, bytes]]]) -> None:
        for entry_id, fields in entries:
            try:
                event = decode_entry(fields)
            except MalformedEvent as exc:
                log.warning("changes: ignored entry %s: %s", entry_id, exc)
                continue
            if isinstance(event, Changed):
                self(event.kind, event.id)
