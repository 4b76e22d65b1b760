"""Memory of the resource toolkit's cache when full: ``python -m bench.resource_cache_memory [ENTRIES]``.

Fills a :class:`~tessera.resource.TokenCache` with ENTRIES distinct tokens (default 100,000: what a busy API's
cache holds) through its public ``lookup`` and prints what the cache holds as traced by :mod:`tracemalloc`, and
that one more token than ``max_entries`` keeps it at its bound.
"""

import sys
import time
import tracemalloc

from tessera.resource import AccessToken, TokenCache
from tessera.tokens import TokenKind, digest, mint


class _Source:
    """Answers every token as active with fresh strings of realistic sizes, as parsing an introspection answer
    would produce: no string object is shared between entries, and every token has a user of its own (the worst
    case); the client and the scope are the same value for all, as they would be for one API's callers."""

    def lookup(self, token: str, token_digest: str) -> AccessToken:
        n = token[7:15]
        return AccessToken(
            subject="".join(("user-", n)),
            username="".join(("alice-", n)),
            client_id="".join(("P1foPhdNeWQWsh", "VXO3QQ12")),  # equal for every token, but a new object
            scope=" ".join(("api", "restricted")),
            expires_at=int(time.time()) + 3600,
            digest=token_digest,
        )


def main(entries: int) -> None:
    tokens = [mint(TokenKind.ACCESS) for _ in range(entries + 1)]
    digests = [digest(t) for t in tokens]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    cache = TokenCache(_Source(), ttl=300, max_entries=entries)
    for token, token_digest in zip(tokens[:entries], digests[:entries], strict=True):
        cache.lookup(token, token_digest)
    held = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    cache.lookup(tokens[-1], digests[-1])
    print(f"entries cached: {len(cache):,} (bound {entries:,}); after one more: {len(cache):,}")
    print(f"memory held by the cache: {held / 2**20:.1f} MiB ({held / entries:.0f} bytes per entry)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
