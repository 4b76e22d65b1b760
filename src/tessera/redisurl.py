"""``TESSERA_REDIS_URL``: one Redis, or a master found through Redis Sentinel, for every Redis user of Tessera
(the event publisher, the stream followers of server processes and resource servers, the rate limits, the DPoP
replay cache).

    >>> check("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0")
    >>> check("redis+sentinel://10.0.0.1:26379")
    Traceback (most recent call last):
      ...
    ValueError: a redis+sentinel:// URL names the master after the hosts: redis+sentinel://host:26379,host:26379/mymaster

The forms are redis-py's own (``redis://``, ``rediss://``, ``unix://``) and, for Sentinel, the one the ``limits``
package reads, with a database number after the master's name as in a ``redis://`` URL::

    redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/service_name[/db][?sentinel_password=...]

The credentials authenticate to Redis (the master Sentinel names); the sentinels themselves are asked without
a password unless ``sentinel_password`` is given. A connection asks the sentinels where the master is each time
it opens, so after a failover the next connection reaches the new master; a connection still open to the old
one is closed by Sentinel when it reconfigures it (or answers ``READONLY``, which redis-py turns into a
connection error), and whoever held it reconnects.

Only the standard library at import; redis is imported when a client is made.
"""

import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    import redis

__all__ = ["SCHEMES", "SentinelURL", "check", "client", "parse_sentinel"]

SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://")
_SENTINEL_PORT = 26379


@dataclasses.dataclass(frozen=True)
class SentinelURL:
    """A ``redis+sentinel://`` URL, taken apart."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)
    sentinel_password: str | None = dataclasses.field(default=None, repr=False)

    @property
    def hosts(self) -> str:
        """``host:port,host:port``, as in the URL (for a URL without credentials, such as ``limits`` reads)."""
        return ",".join(f"{host}:{port}" for host, port in self.sentinels)


def parse_sentinel(url: str) -> SentinelURL | None:
    """The parts of a ``redis+sentinel://`` URL, ``None`` for any other scheme; ``ValueError`` (a one-line
    message that never repeats the URL, which may hold a password) if it is malformed."""
    scheme, sep, rest = url.partition("://")
    if scheme != "redis+sentinel" or not sep:
        return None
    netloc, _, tail = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    if not at:
        hosts = netloc
    sentinels: list[tuple[str, int]] = []
    for address in hosts.split(","):
        host, colon, port = address.strip().rpartition(":")
        if not colon:
            host, port = address.strip(), str(_SENTINEL_PORT)
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in " /?#"):
            raise ValueError("a redis+sentinel:// URL lists sentinels as host:port separated by commas")
        sentinels.append((host.strip("[]"), int(port)))
    path = urlsplit("x://h/" + tail)
    parts = [unquote(p) for p in path.path.strip("/").split("/") if p]
    if not parts:
        raise ValueError(
            "a redis+sentinel:// URL names the master after the hosts: redis+sentinel://host:26379,host:26379/mymaster"
        )
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("a redis+sentinel:// URL's path is /service_name or /service_name/db (a number)")
    query = parse_qs(path.query, keep_blank_values=True)
    unknown = set(query) - {"sentinel_password"}
    if unknown:
        raise ValueError(f"a redis+sentinel:// URL takes only sentinel_password in its query, not {sorted(unknown)}")
    username, _, password = credentials.partition(":")
    return SentinelURL(
        tuple(sentinels),
        parts[0],
        int(parts[1]) if len(parts) == 2 else 0,
        unquote(username) or None,
        unquote(password) or None,
        query["sentinel_password"][-1] if "sentinel_password" in query else None,
    )


def check(url: str) -> None:
    """Raise ``ValueError`` with a one-line message unless ``url`` is a Redis URL Tessera can use."""
    if not url.startswith(SCHEMES):
        raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
    parse_sentinel(url)


def client(url: str, **options: Any) -> "redis.Redis":
    """A :class:`redis.Redis` for ``url``: ``options`` are its connection options (timeouts, ``retry``). For a
    Sentinel URL, the client of the master the sentinels name, found again on every new connection; the
    sentinels are asked with the same socket timeouts."""
    import redis
    from redis.sentinel import Sentinel

    sentinel = parse_sentinel(url)
    if sentinel is None:
        return redis.Redis.from_url(url, **options)
    asking = {k: v for k, v in options.items() if k.startswith("socket_")}
    if sentinel.sentinel_password is not None:
        asking["password"] = sentinel.sentinel_password
    manager = Sentinel(list(sentinel.sentinels), sentinel_kwargs=asking)  # type: ignore[no-untyped-call]
    master: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call]
        sentinel.service_name, db=sentinel.db, username=sentinel.username, password=sentinel.password, **options
    )
    return master
